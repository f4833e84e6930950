"""The hot path's shortcuts give what the general code gives (issue 13).

Each shortcut taken for speed or memory is checked against the plain computation it replaces:
hand-computed values, or the slow path of the same function on the same input.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantkit import Engine, Strategy, sample_feed
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.engine.trade_table import TradeColumns
from quantkit.engine.trades import Trade
from quantkit.metrics.benchmark import alpha_beta, information_ratio
from quantkit.strategy.data import SymbolData

_REQUEST = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, amount=2.0)


def test_order_starts_with_its_creation_in_history() -> None:
    order = Order("qk-000001", _REQUEST, 7)
    assert (order.status, order.amount, order.updated_at) == (OrderStatus.NEW, 2.0, 7)
    assert order.history == [(7, OrderStatus.NEW)]
    assert (order.filled, order.average_price, order.fee, order.reason, order.parent_id) == (
        0.0,
        0.0,
        0.0,
        "",
        "",
    )


def test_order_keyword_fields_as_the_dataclass_took_them() -> None:
    cost = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, cost=100.0)
    earlier: list[tuple[int, OrderStatus]] = [(1, OrderStatus.NEW)]
    order = Order("c", cost, 5, OrderStatus.OPEN, parent_id="p", amount=0.5, history=earlier)
    assert order.amount == 0.5  # given: not the request's (None for a cost order)
    assert order.updated_at == 5  # always the creation time
    assert order.history is earlier
    assert earlier == [(1, OrderStatus.NEW), (5, OrderStatus.OPEN)]
    assert Order("d", cost, 3).amount is None  # a cost order is sized at its fill


def test_two_orders_never_share_a_history() -> None:
    first, second = Order("a", _REQUEST, 1), Order("b", _REQUEST, 1)
    first.transition(OrderStatus.OPEN, 2)
    assert second.history == [(1, OrderStatus.NEW)]


def _trade(direction: str, entry: tuple[float, float], exit_: tuple[float, float], fees: float):  # type: ignore[no-untyped-def]
    trade = Trade("BTC/USDT", direction, 0)
    trade.entry_value, trade.entry_amount = entry
    trade.exit_value, trade.exit_amount = exit_
    trade.fees = fees
    return trade


def test_trade_figures_are_the_properties_bit_for_bit() -> None:
    trades = [
        _trade("long", (200.0, 2.0), (230.0, 2.0), 0.43),  # by hand: pnl 30 - 0.43 = 29.57
        _trade("short", (300.0, 3.0), (270.0, 3.0), 0.57),  # 30 - 0.57 = 29.43
        _trade("long", (100.0, 1.0), (0.0, 0.0), 0.1),  # still open: no exit yet
        _trade("long", (0.0, 0.0), (5.0, 1.0), 0.0),  # dust carried without a price
        _trade("long", (1.0 / 3.0, 0.7), (0.1 + 0.2, 0.7), 1e-9),  # float noise kept as is
    ]
    figures = TradeColumns.of(trades).figures()
    assert figures["pnl"][0] == pytest.approx(29.57, abs=1e-12)
    assert figures["pnl"][1] == pytest.approx(29.43, abs=1e-12)
    assert figures["return_pct"][0] == pytest.approx(100 * 29.57 / 200.0, abs=1e-12)
    for k, trade in enumerate(trades):
        for name, value in (
            ("entry_price", trade.entry_price),
            ("exit_price", trade.exit_price),
            ("pnl", trade.pnl),
            ("return_pct", trade.return_pct),
        ):
            got = float(figures[name][k])
            assert got == value or (math.isnan(got) and math.isnan(value)), (k, name)


def test_trade_figures_of_no_trades_are_empty() -> None:
    assert all(len(column) == 0 for column in TradeColumns.of([]).figures().values())


def _returns(values: list[float], start: int = 0) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values) + start, freq="1h", tz="UTC")
    return pd.Series(values, index=index[start:])


def test_alpha_beta_on_one_timeline_equals_the_aligned_path_and_leaves_inputs_alone() -> None:
    rng = np.random.default_rng(5)
    strategy = _returns(list(rng.normal(0.001, 0.01, 500)))
    benchmark = _returns(list(rng.normal(0.0005, 0.012, 500)))
    kept = (strategy.to_numpy().copy(), benchmark.to_numpy().copy())
    same = alpha_beta(strategy, benchmark, periods_per_year=8760)
    # The same data with one extra benchmark row in front takes the intersection path.
    longer = pd.concat(
        [_returns([0.0]).set_axis([strategy.index[0] - pd.Timedelta("1h")]), benchmark]
    )
    aligned = alpha_beta(strategy, longer, periods_per_year=8760)
    assert same == aligned
    assert np.array_equal(strategy.to_numpy(), kept[0])
    assert np.array_equal(benchmark.to_numpy(), kept[1])
    ir_same = information_ratio(strategy, benchmark, periods_per_year=8760)
    assert ir_same == information_ratio(strategy, longer, periods_per_year=8760)


def test_beta_of_a_scaled_benchmark_by_hand() -> None:
    benchmark = _returns([0.01, -0.02, 0.03, 0.0, -0.01])
    strategy = benchmark * 2.0  # beta 2, intercept 0: alpha 0
    alpha, beta = alpha_beta(strategy, benchmark, periods_per_year=252)
    assert beta == pytest.approx(2.0, rel=1e-12)
    assert alpha == pytest.approx(0.0, abs=1e-12)


class _TightBrackets(Strategy):
    """Enters every 5 bars with a stop-loss and take-profit close enough to share a bar."""

    def on_bar(self, bar: SymbolData) -> None:
        if bar.index % 5 == 0 and self.position().is_flat:
            self.buy(amount=0.01, sl_pct=0.002, tp_pct=0.002)


def test_tables_are_built_on_first_read_and_agree_with_the_statistics() -> None:
    result = Engine(feed=sample_feed(), strategy=_TightBrackets()).run()
    assert "orders" not in vars(result) and "fills" not in vars(result)
    fills = result.fills
    assert result.fills is fills  # built once
    flagged = int(fills["ambiguous"].sum())
    assert flagged > 0  # the workload does produce ambiguous fills
    assert result.stats["Ambiguous fills"] == flagged
    assert len(result.orders) == len(result._record.orders)
    assert list(result.risk_events.columns) == [
        "time",
        "client_id",
        "symbol",
        "policy",
        "action",
        "reason",
    ]
