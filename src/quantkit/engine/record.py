"""What a run leaves behind for its Result: plain Python and numpy, no pandas."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order
from quantkit.domain.portfolio import Portfolio
from quantkit.engine.context import RiskEvent
from quantkit.strategy.indicators import Indicator

__all__ = ["RunRecord"]


@dataclass(slots=True)
class RunRecord:
    """Raw outputs of one run.

    Attributes:
        strategy: The strategy's repr.
        history: Bars by symbol.
        times: Close time of each timeline step.
        initial_cash: Starting cash.
        portfolio: The account at the end.
        orders: Every order seen, by client id, in first-seen order.
        fills: Every fill, in order.
        fill_steps: Timeline step of each fill.
        snapshots: ``(step, cash, {symbol: position})`` after each step that had fills.
        risk_events: Every risk decision.
        ambiguous_orders: Orders whose fills rested on an intrabar assumption.
        indicators: ``(symbol, indicator)`` for each indicator the strategy declared.
    """

    strategy: str
    history: dict[str, BarSeries]
    times: list[int]
    initial_cash: float
    portfolio: Portfolio
    orders: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    fill_steps: list[int] = field(default_factory=list)
    snapshots: list[tuple[int, float, dict[str, float]]] = field(default_factory=list)
    risk_events: list[RiskEvent] = field(default_factory=list)
    ambiguous_orders: frozenset[str] = frozenset()
    indicators: tuple[tuple[str, Indicator], ...] = ()

    def _steps_and_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Index of the latest snapshot at each step (-1: none yet) and a position matrix.

        Row ``k + 1`` of the matrix holds every symbol's position after snapshot ``k``; row 0 is
        all zeros (before any fill).
        """
        symbols = list(self.history)
        column = {symbol: j for j, symbol in enumerate(symbols)}
        held = np.zeros((len(self.snapshots) + 1, len(symbols)))
        row = np.zeros(len(symbols))
        for k, (_, _, positions) in enumerate(self.snapshots):
            for symbol, amount in positions.items():
                row[column[symbol]] = amount
            held[k + 1] = row
        snap_steps = np.fromiter((s for s, _, _ in self.snapshots), np.int64, len(self.snapshots))
        at = np.searchsorted(snap_steps, np.arange(len(self.times)), side="right") - 1
        return at, held

    def equity_array(self) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
        """Equity at the close of each timeline step: cash plus positions at the latest closes.

        Returns:
            One value per step.
        """
        at, held = self._steps_and_positions()
        cash_values = np.fromiter(
            (c for _, c, _ in self.snapshots), np.float64, len(self.snapshots)
        )
        cash = np.where(at >= 0, cash_values[np.maximum(at, 0)] if len(cash_values) else 0.0, 0.0)
        equity = np.where(at >= 0, cash, self.initial_cash)
        timeline = np.asarray(self.times, dtype=np.int64)
        for j, series in enumerate(self.history.values()):
            amounts = held[at + 1, j]
            if not amounts.any():
                continue
            if len(series) == len(timeline) and np.array_equal(series.close_time, timeline):
                price = series.close
            else:
                bar = np.searchsorted(series.close_time, timeline, side="right") - 1
                price = np.where(bar >= 0, series.close[np.maximum(bar, 0)], 0.0)
            equity = equity + amounts * price
        return equity

    def exposure_array(self) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
        """Whether any position was open at the close of each step.

        Returns:
            One flag per step.
        """
        at, held = self._steps_and_positions()
        return np.asarray((held[at + 1] != 0.0).any(axis=1), dtype=bool)
