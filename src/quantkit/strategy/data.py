"""What a strategy sees of one symbol: its bars up to the current one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quantkit.domain.bars import BarSeries
from quantkit.strategy.series import Cursor, SeriesView

if TYPE_CHECKING:
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]

__all__ = ["SymbolData"]


class SymbolData:
    """The closed bars of one symbol up to the current bar.

    One object per symbol lives for the whole run; the engine moves its cursor. It is what
    ``on_bar`` receives.

    Attributes:
        symbol: Market symbol.
        timeframe: Bar length in ns.
        open: Open prices.
        high: High prices.
        low: Low prices.
        close: Close prices.
        volume: Volumes.
        cursor: Index of the current bar (``-1`` before the first).
    """

    __slots__ = (
        "_close_time",
        "_open_time",
        "_series",
        "_time_buffers",
        "close",
        "cursor",
        "high",
        "low",
        "open",
        "symbol",
        "timeframe",
        "volume",
    )

    def __init__(self, series: BarSeries) -> None:
        cursor = Cursor()
        self.cursor = cursor
        self._series = series
        self.symbol = series.symbol
        self.timeframe = series.timeframe
        self.open = SeriesView("open", series.open, cursor)
        self.high = SeriesView("high", series.high, cursor)
        self.low = SeriesView("low", series.low, cursor)
        self.close = SeriesView("close", series.close, cursor)
        self.volume = SeriesView("volume", series.volume, cursor)
        self._close_time = series.close_time
        self._open_time = series.open_time
        self._time_buffers: tuple[IntArray, IntArray] | None = None

    @property
    def index(self) -> int:
        """Index of the current bar (``-1`` before the first bar)."""
        return self.cursor.i

    @property
    def time(self) -> int:
        """Close time of the current bar, ns since the epoch (``-1`` before the first bar)."""
        i = self.cursor.i
        return int(self._close_time[i]) if i >= 0 else -1

    @property
    def open_time(self) -> int:
        """Open time of the current bar, ns since the epoch (``-1`` before the first bar)."""
        i = self.cursor.i
        return int(self._open_time[i]) if i >= 0 else -1

    @property
    def price(self) -> float:
        """The latest close, ``nan`` before the first bar."""
        return self.close[-1] if self.cursor.i >= 0 else float("nan")

    def __len__(self) -> int:
        return self.cursor.i + 1

    def _append_bar(
        self, open_time: int, open_: float, high: float, low: float, close: float, volume: float
    ) -> None:
        """Add one closed bar at the end (live runs) and make it the current bar.

        Args:
            open_time: Open time, ns since the epoch.
            open_: Open price.
            high: High price.
            low: Low price.
            close: Close price.
            volume: Volume.
        """
        row = np.empty(1)
        for view, value in (
            (self.open, open_),
            (self.high, high),
            (self.low, low),
            (self.close, close),
            (self.volume, volume),
        ):
            row[0] = value
            view._append(row)
        have = len(self._open_time)
        buffers = self._time_buffers
        if buffers is None or have + 1 > len(buffers[0]):
            size = max(2 * (have + 1), 64)
            grown = (np.empty(size, np.int64), np.empty(size, np.int64))
            grown[0][:have] = self._open_time
            grown[1][:have] = self._close_time
            buffers = grown
            self._time_buffers = buffers
        buffers[0][have] = open_time
        buffers[1][have] = open_time + self.timeframe
        self._open_time = buffers[0][: have + 1]
        self._close_time = buffers[1][: have + 1]
        self.cursor.i = have

    def __repr__(self) -> str:
        return f"<SymbolData {self.symbol} bars={len(self)}>"
