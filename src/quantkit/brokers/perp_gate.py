"""Which bars of a held perpetual the backtest must process, and which it may skip.

A spot account's bars are matched only while orders work. A perpetual position needs more:
funding at its timestamps, and liquidation when the mark crosses its liquidation price. Most
bars have neither, and `PerpetualBarGate` tells the engine so, which keeps a held perpetual
about as cheap to backtest as spot. A bar is processed when orders or trailing stops work on
the symbol, when a funding timestamp falls in it, when its mark range reaches the cached
liquidation price, or whenever that price may have moved (cross margin with other positions,
or the account changed since it was computed). A skipped bar still moves the symbol's mark
(``portfolio.last_price``) to its mark close, as processing it would.

The backtest's single-symbol loop (`quantkit.engine.step.Step.run`) does not ask the gate at
every bar: the gate offers the book's own containers as ``parts`` and a per-bar schedule
``due`` (a bytearray: 1 marks a bar to process). After each processed bar the broker calls
`PerpetualBarGate.plan`, which marks the next bar that must be processed (the next funding
bar, the first bar whose mark range reaches the liquidation price, or the next bar when that
price is not known); the bars between cost the loop one index, no Python call. There the
mark of a skipped bar reaches ``portfolio.last_price`` at the next processed bar (the
strategy's and risk policies' view of the account is marked at the current bar's mark in any
case, and the engine leaves the account at the last bar's mark:
`quantkit.engine.perp_context.PerpetualRunContext`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from quantkit.sim.perpetual import PerpetualExchange
from quantkit.strategy.series import native_view

if TYPE_CHECKING:
    import numpy.typing as npt

    from quantkit.brokers.base import Clock
    from quantkit.domain.bars import BarSeries
    from quantkit.domain.funding import FundingRates

__all__ = ["PerpetualBarGate", "funding_bars"]


def funding_bars(series: BarSeries, rates: FundingRates | None) -> npt.NDArray[np.bool_]:
    """For each bar, whether a funding timestamp falls in ``(previous open, this open]``.

    Args:
        series: The symbol's bars.
        rates: Its funding rates (``None``: none).

    Returns:
        One flag per bar (the first bar's is False: nothing is held before it).
    """
    opens = series.open_time
    if rates is None or len(opens) == 0:
        return np.zeros(len(opens), dtype=bool)
    if rates.constant_rate is not None:
        slot = opens // rates.interval_ns
    else:
        slot = np.searchsorted(np.asarray(rates.times, dtype=np.int64), opens, side="right")
    due = np.zeros(len(opens), dtype=bool)
    due[1:] = slot[1:] > slot[:-1]
    return due


class PerpetualBarGate:
    """A live container: non-empty while ``symbol``'s current bar must be processed.

    After a processed bar it opens a window of bars to skip: up to the next funding bar, the
    first bar whose mark range reaches the cached liquidation price, or `WINDOW` bars, and
    only while no fill or funding payment has changed the account since (any change closes
    the window).

    Args:
        exchange: The perpetual exchange.
        symbol: A perpetual symbol.
        clock: The engine's clock (its ``now`` is the current bar's close time).
        close_time: The symbol's bar close times.
        marks: Mark low, high and close of each bar.
        due: `funding_bars` of the symbol.
    """

    WINDOW = 512
    """Most bars one window looks ahead."""

    __slots__ = (
        "_book",
        "_clock",
        "_close",
        "_exchange",
        "_fills",
        "_funding",
        "_futures",
        "_high",
        "_i",
        "_low",
        "_n",
        "_next_due",
        "_seen",
        "_stop",
        "_symbol",
        "_times",
        "due",
        "parts",
    )

    def __init__(
        self,
        exchange: PerpetualExchange,
        symbol: str,
        clock: Clock,
        close_time: Sequence[int],
        marks: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]],
        due: npt.NDArray[np.bool_],
    ) -> None:
        self._exchange = exchange
        self._futures = exchange.futures
        self._symbol = symbol
        self._book = exchange.books[symbol]
        self._fills = exchange.fills  # the same list all run long: every fill lands in it
        self._funding = exchange.futures.funding  # likewise every funding payment
        self._clock = clock
        self._times = close_time
        self._n = len(close_time)
        self._low, self._high, close = marks
        self._close = native_view(close)
        # for each bar, the index of the next funding bar at or after it (len: none)
        flagged = np.flatnonzero(due)
        self._next_due = np.append(flagged, len(due))[np.searchsorted(flagged, np.arange(len(due)))]
        self._i = -1
        self._stop = -1
        self._seen = -1
        self.parts = (self._book.working, self._book.trails)
        """The book's working orders and trailing stops (`quantkit.engine.step.working_parts`)."""
        self.due = bytearray(self._n)
        """Per bar, 1 where `plan` found the bar must be processed (never cleared)."""

    def plan(self, i: int) -> None:
        """After bar ``i`` was processed: mark in ``due`` the next bar that must be.

        Flat: none (the position opens only through an order, whose bars are processed).
        Otherwise the next funding bar or the first whose mark range reaches the cached
        liquidation price, whichever comes first; the next bar when the price is not cached.
        A mark is never removed, so a stale one only processes a bar more (always correct).

        Args:
            i: The processed bar.
        """
        start = i + 1
        if start >= self._n:
            return
        pos = self._futures.positions.get(self._symbol)
        if pos is None or not pos.amount:
            return
        price = self._exchange.cached_liquidation_price(self._symbol)
        if price is None:
            self.due[start] = 1
            return
        end = int(self._next_due[start])
        if pos.amount > 0:
            reached = np.flatnonzero(self._low[start:end] <= price)
        else:
            reached = np.flatnonzero(self._high[start:end] >= price)
        stop = start + int(reached[0]) if reached.size else end
        if stop < self._n:
            self.due[stop] = 1

    def __len__(self) -> int:
        book = self._book
        if book.working or book.trails:
            return 1
        i = self._i + 1
        if (  # the common case: the next bar, inside an open window, nothing changed
            i < self._stop
            and self._times[i] == self._clock.now
            and len(self._fills) + len(self._funding) == self._seen
        ):
            self._i = i
            self._futures.last_price[self._symbol] = self._close[i]
            return 0
        # the positions dict is read each time: intrabar paths replace it
        pos = self._futures.positions.get(self._symbol)
        if pos is None or not pos.amount:
            return 0  # flat: nothing to fund or liquidate
        return self._decide(pos.amount)

    def _decide(self, amount: float) -> int:
        """`__len__` outside an open window: find the bar, then open a window or process it."""
        now, i, times = self._clock.now, self._i + 1, self._times
        if i >= self._n or times[i] != now:
            i = bisect.bisect_left(times, now)
        self._i = i
        if not self._open(i, amount):
            return 1
        self._futures.last_price[self._symbol] = self._close[i]
        return 0

    def _open(self, i: int, amount: float) -> bool:
        """Open a window of bars to skip from ``i``; False if bar ``i`` must be processed."""
        self._stop = -1
        price = self._exchange.cached_liquidation_price(self._symbol)
        if price is None or i >= len(self._next_due):
            return False
        end = min(int(self._next_due[i]), i + self.WINDOW)
        if amount > 0:
            reached = np.flatnonzero(self._low[i:end] <= price)
        else:
            reached = np.flatnonzero(self._high[i:end] >= price)
        self._stop = i + int(reached[0]) if reached.size else end
        self._seen = len(self._fills) + len(self._funding)  # both only grow
        return i < self._stop
