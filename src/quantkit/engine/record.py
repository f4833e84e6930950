"""What a run leaves behind for its Result: plain Python and numpy, no pandas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from quantkit.algos.parent import ParentOrder
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.order import Order
from quantkit.domain.portfolio import Portfolio
from quantkit.engine.context import RiskEvent, RunContext
from quantkit.strategy.indicators import Indicator

__all__ = ["RunRecord", "RunRecorder"]

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]
    BoolArray = npt.NDArray[np.bool_]


@dataclass(slots=True)
class RunRecord:
    """Raw outputs of one run.

    Attributes:
        strategy: The strategy's repr.
        history: Bars by tradable symbol.
        informative: Bars of informative series (higher timeframes), by key.
        times: Close time of each timeline step.
        initial_cash: Starting cash.
        portfolio: The account at the end.
        orders: Every order seen, by client id, in first-seen order.
        fills: Every fill, in order.
        fill_steps: Timeline step of each fill.
        snapshot_steps: Timeline step of each snapshot: one after each step that had fills.
        snapshot_cash: Cash at each snapshot.
        position_rows: Snapshot index of each recorded position (flat columns: no per-fill
            containers for the garbage collector to track).
        position_columns: Symbol (its index in ``history``) of each recorded position.
        position_amounts: The symbol's position at that snapshot; a later entry of the same
            snapshot and symbol replaces an earlier one.
        risk_events: Every risk decision.
        ambiguous_orders: Orders whose fills rested on an intrabar assumption.
        indicators: ``(symbol, indicator)`` for each indicator the strategy declared.
        orders_before_stop: Client order ids numbered up to this were placed before
            ``on_stop`` (what a truncated run can compare).
        parents: The run's parent orders (their children are in ``orders``).
    """

    strategy: str
    history: dict[str, BarSeries]
    times: np.ndarray[tuple[int], np.dtype[np.int64]]
    initial_cash: float
    portfolio: Portfolio
    informative: dict[str, BarSeries] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    fill_steps: list[int] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)
    snapshot_cash: list[float] = field(default_factory=list)
    position_rows: list[int] = field(default_factory=list)
    position_columns: list[int] = field(default_factory=list)
    position_amounts: list[float] = field(default_factory=list)
    risk_events: list[RiskEvent] = field(default_factory=list)
    ambiguous_orders: frozenset[str] = frozenset()
    indicators: tuple[tuple[str, Indicator], ...] = ()
    orders_before_stop: int = 0
    parents: list[ParentOrder] = field(default_factory=list)

    def _steps_and_positions(self) -> tuple[IntArray, FloatArray]:
        """Row of the position matrix at each step, and the matrix.

        Row ``k + 1`` of the matrix holds every symbol's position after snapshot ``k``; row 0 is
        all zeros (before any fill). A step's row is that of the latest snapshot at or before it.
        """
        count = len(self.snapshot_steps)
        held = np.zeros((count + 1, len(self.history)))
        rows = np.asarray(self.position_rows, dtype=np.int64)
        columns = np.asarray(self.position_columns, dtype=np.int64)
        amounts = np.asarray(self.position_amounts, dtype=np.float64)
        snapshots = np.arange(count)
        for j in range(len(self.history)):
            mine = columns == j
            row, amount = rows[mine], amounts[mine]
            if not row.size:
                continue
            last = np.append(row[1:] != row[:-1], True)  # the last entry of each snapshot wins
            row, amount = row[last], amount[last]
            latest = np.searchsorted(row, snapshots, side="right") - 1  # carried forward
            held[1:, j] = np.where(latest >= 0, amount[np.maximum(latest, 0)], 0.0)
        return _latest_rows(self.snapshot_steps, len(self.times)), held

    def equity_and_exposure(self) -> tuple[FloatArray, BoolArray]:
        """Equity at the close of each timeline step, and whether a position was open then.

        Equity is cash plus every position marked at its symbol's latest close (a perpetual's
        mark close when the run had a mark series; a contract market's value there,
        `FuturesPortfolio.values`), with funding booked since the latest snapshot. It is in
        the account currency: the settle coin of a coin-margined account.

        Returns:
            Two arrays with one value per step.
        """
        row, held = self._steps_and_positions()
        cash = np.concatenate(([self.initial_cash], np.asarray(self.snapshot_cash, np.float64)))
        equity = cash[row]
        timeline = self.times
        marks = self.portfolio.mark_close if isinstance(self.portfolio, FuturesPortfolio) else {}
        if isinstance(self.portfolio, FuturesPortfolio):
            equity = equity - _funding_since_snapshot(self, row)
        for j, (symbol, series) in enumerate(self.history.items()):
            amounts = held[:, j][row]
            if not amounts.any():
                continue
            closes = marks.get(symbol, series.close)
            if isinstance(self.portfolio, FuturesPortfolio):  # a contract's value, not its price
                closes = self.portfolio.values(symbol, closes)
            if len(series) == len(timeline) and np.array_equal(series.close_time, timeline):
                price = closes
            else:
                bar = np.searchsorted(series.close_time, timeline, side="right") - 1
                price = np.where(bar >= 0, closes[np.maximum(bar, 0)], 0.0)
            # equity + amounts * price, in place: no step-long temporaries
            equity += np.multiply(amounts, price, out=amounts)
        exposed = (held != 0.0).any(axis=1)[row]
        return equity, exposed


def _funding_since_snapshot(record: RunRecord, row: IntArray) -> FloatArray:
    """Funding paid at each step since the snapshot its cash comes from.

    Funding moves cash without a fill, so no snapshot records it by itself.
    """
    portfolio = record.portfolio
    steps = len(record.times)
    paid = np.zeros(steps)
    if isinstance(portfolio, FuturesPortfolio) and portfolio.funding:
        booked = np.array([p.booked_at for p in portfolio.funding], dtype=np.int64)
        amounts = np.array([p.amount for p in portfolio.funding], dtype=np.float64)
        at = np.minimum(np.searchsorted(record.times, booked, side="right"), steps - 1)
        np.add.at(paid, at, amounts)
    total = np.cumsum(paid)
    snapped = np.asarray(record.snapshot_steps, dtype=np.int64)
    at_snapshot = np.concatenate(([0.0], total[snapped] if snapped.size else []))
    return total - at_snapshot[row]


def _latest_rows(snapshot_steps: list[int], steps: int) -> IntArray:
    """For each step, 1 + the index of the latest snapshot at or before it (0: none yet)."""
    marks = np.asarray(snapshot_steps, dtype=np.int64)
    if marks.size and (marks[0] < 0 or marks[-1] >= steps or np.any(np.diff(marks) <= 0)):
        return np.searchsorted(marks, np.arange(steps), side="right")  # not a strict climb
    counts = np.zeros(steps, dtype=np.int64)
    counts[marks] = 1
    return np.cumsum(counts, out=counts)


class RunRecorder:
    """What a backtest keeps of the events a step delivers: orders, fills and position snapshots.

    Each fill is kept with the timeline step it was delivered in; after each batch with fills,
    cash and the positions of the symbols that filled are recorded (one snapshot per step).

    Args:
        record: Where to keep them (its ``orders``, ``fills`` and snapshot lists grow in place).
        context: The run's context: its timeline gives the step, its broker the account.
        columns: Index of each tradable symbol in ``record.history``.
    """

    __slots__ = (
        "_add_fill",
        "_add_step",
        "_fills",
        "_orders",
        "_seen",
        "_timeline",
        "columns",
        "context",
        "record",
    )

    def __init__(self, record: RunRecord, context: RunContext, columns: dict[str, int]) -> None:
        self.record = record
        self.context = context
        self.columns = columns
        self._orders = record.orders
        self._fills = record.fills
        self._add_fill = record.fills.append
        self._add_step = record.fill_steps.append
        self._timeline = context.timeline
        self._seen = len(record.fills)  # fills already in a snapshot

    def fill(self, fill: Fill) -> None:
        """Keep a fill with its step."""
        self._add_fill(fill)
        self._add_step(self._timeline.i)

    def order(self, order: Order) -> None:
        """Keep an order the first time it is seen (later updates change the same object)."""
        self._orders.setdefault(order.client_id, order)

    def take(self, events: list[Order | Fill]) -> None:
        """Keep a whole batch of events and empty ``events``: `fill`, `order`, `delivered` in one.

        What a step's delivery does when no hook takes the events (one call per batch instead
        of one per event); the record is the same.

        Args:
            events: The broker's pending events, in order; cleared once kept.
        """
        orders = self._orders
        step = self._timeline.i
        symbols: list[str] = []  # of the fills, first seen first (as `delivered` lists them)
        for event in events:
            if isinstance(event, Fill):
                self._add_fill(event)
                self._add_step(step)
                if event.symbol not in symbols:
                    symbols.append(event.symbol)
            else:
                orders.setdefault(event.client_id, event)
        events.clear()
        if symbols:  # `delivered`, knowing the symbols
            self._seen = len(self._fills)
            self._snapshot(step, symbols)

    def delivered(self) -> None:
        """After a batch: snapshot cash and the positions of the symbols that filled in it."""
        fills = self._fills
        seen = self._seen
        if len(fills) == seen:
            return
        self._seen = len(fills)
        fresh = fills[seen:]
        symbols = [fresh[0].symbol]  # first seen first, as they filled
        for fill in fresh:
            if fill.symbol not in symbols:
                symbols.append(fill.symbol)
        self._snapshot(self._timeline.i, symbols)

    def _snapshot(self, step: int, symbols: list[str]) -> None:
        """Record cash and the positions of ``symbols`` after ``step``'s fills."""
        record = self.record
        portfolio = self.context.broker.portfolio
        balance = portfolio.cash.get(portfolio.currency, 0.0)  # portfolio.balance
        positions = portfolio.positions
        steps = record.snapshot_steps
        if steps and steps[-1] == step:
            record.snapshot_cash[-1] = balance
        else:
            steps.append(step)
            record.snapshot_cash.append(balance)
        row = len(steps) - 1
        columns = self.columns
        for symbol in symbols:
            record.position_rows.append(row)
            record.position_columns.append(columns[symbol])
            position = positions.get(symbol) or portfolio.position(symbol)
            record.position_amounts.append(position.amount)
