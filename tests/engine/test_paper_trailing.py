"""Trailing stops in paper trading: the paper broker's simulator gives the backtest's fills."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import Strategy
from quantkit.domain.order import Order
from quantkit.strategy.data import SymbolData
from tests.builders import make_series
from tests.engine.test_live_paper import WARMUP, backtest, paper, walk
from tests.strategies import bar_series


class ReEnter(Strategy):
    """Buys 1 unit with a trailing stop (and optionally a take-profit) whenever flat."""

    trail: float = 0.02
    target: float | None = None

    def on_start(self) -> None:
        self.handles: dict[str, Order] = {}

    def on_bar(self, bar: SymbolData) -> None:
        if self.position().is_flat and not self.open_orders():
            self.buy(amount=1.0, trail_pct=self.trail, tp_pct=self.target)

    def on_order(self, order: Order) -> None:
        self.handles.setdefault(order.client_id, order)


def orders_of(handles: dict[str, Order]) -> list[tuple[str, str, str, float, float]]:
    """(id suffix after the run prefix, side, status, filled, average price) by client id.

    An order still open when the data ends is canceled by the paper run's shutdown
    (cancel-on-exit) and left open by the backtest: both count as ``canceled`` here.
    """
    return sorted(
        (cid.split("-", 1)[1], str(o.side), "canceled" if o.is_active else str(o.status),
         o.filled, o.average_price)
        for cid, o in handles.items()
    )  # fmt: skip


def both(series: Any, **params: Any) -> tuple[ReEnter, ReEnter, Any, Any]:
    back, live = ReEnter(**params), ReEnter(**params)
    result = backtest(series, back)
    summary = paper(series, live).run()
    return back, live, result, summary


def test_paper_trailing_stops_equal_the_backtests() -> None:
    back, live, result, summary = both(walk(), trail=0.015)
    stops = [cid for cid in back.handles if "-trail-" in cid]
    assert len(stops) > 20 and any(
        o.status == "filled" for cid, o in back.handles.items() if cid in stops
    )
    assert orders_of(live.handles) == orders_of(back.handles)
    assert summary.equity == pytest.approx(float(result.equity.iloc[-1]), rel=1e-12)


@settings(max_examples=10, deadline=None)
@given(bars=bar_series(min_size=60, max_size=120), trail=st.floats(0.003, 0.05))
def test_paper_equals_backtest_with_trailing_stops_for_any_bars(bars: Any, trail: float) -> None:
    series = make_series(bars.rows())
    back, live, result, summary = both(series, trail=trail, target=2 * trail)
    assert orders_of(live.handles) == orders_of(back.handles)
    assert summary.fills == len(result.fills)
    assert summary.equity == pytest.approx(float(result.equity.iloc[-1]), rel=1e-9, abs=1e-9)
    assert summary.bars == len(series) - WARMUP
    assert np.isfinite(summary.equity)
