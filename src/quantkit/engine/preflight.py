"""Checks before a backtest's first bar: is any trade possible at all?

A backtest whose warm-up swallows the whole data, or whose indicator needs more bars than
there are, runs to the end without a single chance to trade and reports flat statistics that
look like a result. Both are refused instead, naming the numbers:

* ``warmup`` must leave at least one bar to trade in the longest tradable series;
* every indicator of a tradable symbol must have a value (not NaN) on at least one bar after
  the warm-up; one that never does (``SMA(timeperiod=500)`` on 300 bars) is a `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._timestamps import format_ns
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.domain.bars import BarSeries
    from quantkit.strategy.indicators import Indicator

__all__ = ["check_indicators", "check_warmup"]


def check_warmup(history: Mapping[str, BarSeries], warmup: int) -> None:
    """Refuse a warm-up that leaves no bar to trade.

    Args:
        history: The tradable series.
        warmup: Leading bars that are history only.

    Raises:
        ConfigError: If every series has ``warmup`` bars or fewer.
    """
    if not history or warmup == 0:
        return
    symbol, longest = max(history.items(), key=lambda item: len(item[1].open_time))
    bars = len(longest.open_time)
    if warmup >= bars:
        times = longest.open_time
        span = f", {format_ns(int(times[0]))} to {format_ns(int(times[-1]))}" if bars else ""
        raise ConfigError(
            f"warmup ({warmup} bars) leaves no bar to trade: the data has {bars} bars "
            f"({symbol}{span}); lower warmup or load more data"
        )


def check_indicators(
    indicators: Iterable[tuple[str, Indicator]], tradable: Iterable[str], warmup: int
) -> None:
    """Refuse an indicator of a tradable symbol that has no value on any bar after warm-up.

    Args:
        indicators: ``(symbol, indicator)`` pairs, as the strategy declared them.
        tradable: The symbols the strategy trades (informative series are not checked).
        warmup: Leading bars that are history only.

    Raises:
        ConfigError: Naming the indicator, its symbol and the number of bars.
    """
    traded = set(tradable)
    for symbol, indicator in indicators:
        if symbol not in traded:
            continue
        values = np.asarray(indicator._array, dtype=np.float64)
        after = values[warmup:]
        if after.size and bool(np.isnan(after).all()):
            raise ConfigError(
                f"indicator {indicator.name} of {symbol} has no value on any of the "
                f"{values.size} bars{f' (warmup {warmup})' if warmup else ''}: its period is "
                "longer than the data, so no trade based on it is possible; load more data or "
                "shorten the period"
            )
