"""Columnar bar series: the form in which market data reaches the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["Bar", "BarSeries"]


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed OHLCV bar.

    Attributes:
        symbol: Market symbol, e.g. ``"BTC/USDT"``.
        open_time: Bar open time, nanoseconds since the Unix epoch (UTC).
        close_time: Bar close time, nanoseconds since the Unix epoch (UTC).
        open: First traded price.
        high: Highest traded price.
        low: Lowest traded price.
        close: Last traded price.
        volume: Traded volume in base currency.
    """

    symbol: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """Validated, time-ordered bars of one symbol, held as numpy columns.

    All arrays have the same length. Times are int64 nanoseconds since the Unix epoch (UTC);
    ``close_time[i] == open_time[i] + timeframe``. Instances are produced by data feeds after
    validation; the arrays must not be modified afterwards.

    Attributes:
        symbol: Market symbol.
        timeframe: Bar length in nanoseconds.
        open_time: Open time of each bar.
        close_time: Close time of each bar (when it becomes visible to a strategy).
        open: Open prices.
        high: High prices.
        low: Low prices.
        close: Close prices.
        volume: Volumes in base currency.
    """

    symbol: str
    timeframe: int
    open_time: IntArray
    close_time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.close)

    def bar(self, index: int) -> Bar:
        """Return bar ``index`` as a `Bar` value.

        Args:
            index: Position of the bar (negative counts from the end).

        Returns:
            The bar.
        """
        return Bar(
            self.symbol,
            int(self.open_time[index]),
            int(self.close_time[index]),
            float(self.open[index]),
            float(self.high[index]),
            float(self.low[index]),
            float(self.close[index]),
            float(self.volume[index]),
        )

    def head(self, count: int) -> BarSeries:
        """Return the first ``count`` bars as a new series (views, no copies).

        Args:
            count: Number of bars to keep.

        Returns:
            The truncated series.
        """
        return BarSeries(
            self.symbol,
            self.timeframe,
            self.open_time[:count],
            self.close_time[:count],
            self.open[:count],
            self.high[:count],
            self.low[:count],
            self.close[:count],
            self.volume[:count],
        )
