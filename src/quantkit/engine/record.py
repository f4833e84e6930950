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

    def equity_array(self) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
        """Equity at the close of each timeline step: cash plus positions at the latest closes.

        Returns:
            One value per step.
        """
        steps = len(self.times)
        timeline = np.asarray(self.times, dtype=np.int64)
        snap_steps = np.asarray([s for s, _, _ in self.snapshots], dtype=np.int64)
        at = np.searchsorted(snap_steps, np.arange(steps), side="right") - 1
        cash_values = np.asarray([c for _, c, _ in self.snapshots] or [0.0], dtype=np.float64)
        cash = np.where(at >= 0, cash_values[np.maximum(at, 0)], self.initial_cash)
        equity = cash.copy()
        for symbol, series in self.history.items():
            amounts = np.zeros(len(self.snapshots) + 1)
            last = 0.0
            for k, (_, _, positions) in enumerate(self.snapshots):
                last = positions.get(symbol, last)
                amounts[k + 1] = last
            held = amounts[at + 1]
            if not held.any():
                continue
            bar = np.searchsorted(series.close_time, timeline, side="right") - 1
            price = np.where(bar >= 0, series.close[np.maximum(bar, 0)], 0.0)
            equity += held * price
        return equity

    def exposure_array(self) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
        """Whether any position was open at the close of each step.

        Returns:
            One flag per step.
        """
        steps = len(self.times)
        snap_steps = np.asarray([s for s, _, _ in self.snapshots], dtype=np.int64)
        at = np.searchsorted(snap_steps, np.arange(steps), side="right") - 1
        open_after: list[bool] = []
        current: dict[str, float] = {}
        for _, _, positions in self.snapshots:
            current.update(positions)
            open_after.append(any(abs(v) > 0 for v in current.values()))
        flags = np.asarray([False, *open_after], dtype=bool)
        return flags[at + 1]
