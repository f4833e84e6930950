"""Moving-average crossover."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import numpy.typing as npt
from annotated_types import Ge, Gt, Le

from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from quantkit.strategy.indicators import Indicator
from quantkit.strategy.registry import register_strategy

__all__ = ["SmaCross", "crossover_signal"]


def crossover_signal(
    fast: npt.NDArray[np.float64], slow: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Return +1 where ``fast`` crosses above ``slow``, -1 where it crosses below, else 0.

    A cross up at bar ``i`` means ``fast <= slow`` at ``i-1`` and ``fast > slow`` at ``i`` (a cross
    down mirrors it). Only bars ``i-1`` and ``i`` are compared, so the value never depends on a
    later bar. Bars where either input (now or one bar earlier) is NaN give 0.

    Args:
        fast: The faster series.
        slow: The slower series.

    Returns:
        The signal, one value per bar.

    Examples:
        >>> crossover_signal(np.array([1.0, 3.0, 1.0]), np.array([2.0, 2.0, 2.0])).tolist()
        [0.0, 1.0, -1.0]
    """
    above = fast > slow
    below = fast < slow
    at_or_below = fast <= slow
    at_or_above = fast >= slow
    signal = np.zeros(len(fast))
    signal[1:][at_or_below[:-1] & above[1:]] = 1.0
    signal[1:][at_or_above[:-1] & below[1:]] = -1.0
    return signal


@register_strategy("sma_cross")
class SmaCross(Strategy):
    """Moving-average crossover: long while the fast SMA of the close is above the slow one.

    It buys when the fast average crosses above the slow one and closes the position when it
    crosses back below; with several symbols each is traded on its own signal. An entry
    spends ``fraction`` of the available cash (fee included) at the next bar's open.

    Attributes:
        fast: Fast SMA period (bars), >= 2.
        slow: Slow SMA period (bars), > fast.
        fraction: Fraction of cash spent on an entry, in (0, 1].
    """

    fast: Annotated[int, Ge(2)] = 10
    slow: Annotated[int, Ge(3)] = 30
    fraction: Annotated[float, Gt(0), Le(1)] = 1.0

    def validate_params(self) -> None:
        """Require ``fast < slow``."""
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")

    def on_start(self) -> None:
        """Declare the two averages and their crossover signal for every symbol."""
        import talib  # noqa: PLC0415 - TA-Lib loads only when a strategy uses it

        self.signals: dict[str, Indicator] = {}
        for symbol in self.symbols:
            data = self.datas[symbol]
            fast = self.I(talib.SMA, data.close, timeperiod=self.fast)
            slow = self.I(talib.SMA, data.close, timeperiod=self.slow)
            self.signals[symbol] = self.I(crossover_signal, fast, slow, name="cross")

    def on_bar(self, bar: SymbolData) -> None:
        """Enter on a cross up, exit on a cross down, per symbol.

        Args:
            bar: The symbol's data.
        """
        signal = self.signals[bar.symbol][-1]
        if signal > 0.0:
            if self.position(bar.symbol).is_flat:
                budget = self.cash * self.fraction
                if budget > 0.0:  # cash can sit a rounding error below zero after a sale
                    self.buy(symbol=bar.symbol, cost=budget)
        elif signal < 0.0:
            self.close(bar.symbol)
