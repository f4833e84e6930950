"""Risk inside a run: decisions reach the orders table and the risk events; a halt holds."""

from __future__ import annotations

import pandas as pd
import pytest

from quantkit.domain.order import OrderRequest, OrderStatus
from quantkit.risk.limits import MaxPositionSize
from quantkit.risk.policy import Decision, RiskChain, RiskContext, RiskPolicy
from quantkit.strategy.data import SymbolData

from .helpers import HOUR, SYMBOL, T0, Scripted, make_series, run_engine

ROWS = [
    (100.0, 101.0, 99.0, 100.0, 10.0),
    (102.0, 104.0, 101.0, 103.0, 10.0),
    (105.0, 106.0, 103.0, 104.0, 10.0),
    (104.5, 108.0, 102.0, 107.0, 10.0),
    (110.0, 112.0, 109.0, 111.0, 10.0),
    (111.0, 113.0, 110.0, 112.0, 10.0),
]
CLOSE_TIME = [T0 + (k + 1) * HOUR for k in range(len(ROWS))]


def utc(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")


class HaltOnSecondEntry(RiskPolicy):
    """Approves reductions and the first entry; halts on the second entry."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float, float, bool]] = []

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        price = context.price(request.symbol)
        held = context.portfolio.position(request.symbol).amount
        self.seen.append((context.now, price, held, request.reduce_only))
        entries = sum(1 for *_, reduce_only in self.seen if not reduce_only)
        if request.reduce_only or entries == 1:
            return Decision.approve(request, self.name)
        return Decision.halt(self.name, "second entry")


def test_max_position_size_in_a_run() -> None:
    strategy = Scripted(
        {
            0: lambda s: s.buy(amount=1.0),
            1: lambda s: s.buy(amount=1.0),  # holds 1 after the open of bar 1: resized to 0.5
            2: lambda s: s.buy(amount=1.0),  # holds 1.5: refused
            3: lambda s: s.close(),
        }
    )
    result = run_engine(strategy, make_series(ROWS), MaxPositionSize(max_amount=1.5))
    orders = result.orders
    assert orders["status"].tolist() == ["filled", "filled", "rejected", "filled"]
    assert orders["amount"].tolist() == [1.0, 0.5, 1.0, 1.5]
    assert orders["reduce_only"].tolist() == [False, False, False, True]
    reason = orders.loc[2, "reason"]
    assert (
        reason
        == "risk: MaxPositionSize: position in BTC/USDT is at its cap 1.5; order of 1 refused"
    )
    refused = strategy.returned[2]
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == reason
    assert result.fills["amount"].tolist() == [1.0, 0.5, 1.5]
    assert result.fills["price"].tolist() == [102.0, 105.0, 110.0]

    events = result.risk_events
    assert events["client_id"].tolist() == orders["client_id"].tolist()
    assert events["action"].tolist() == ["approve", "resize", "reject", "approve"]
    assert set(events["policy"]) == {"MaxPositionSize"}
    assert events["symbol"].tolist() == [SYMBOL] * 4
    assert events["time"].tolist() == [utc(t) for t in CLOSE_TIME[:4]]
    assert events.loc[1, "reason"] == "resized from 1 to 0.5 to stay within 1.5"
    assert events.loc[2, "reason"] == "position in BTC/USDT is at its cap 1.5; order of 1 refused"


def test_a_risk_rejection_reaches_on_order_on_the_same_bar() -> None:
    strategy = Scripted({0: lambda s: s.buy(amount=1.0), 1: lambda s: s.buy(amount=1.0)})
    run_engine(strategy, make_series(ROWS), MaxPositionSize(max_amount=1.0))
    assert strategy.events == [
        ("qk-000001", "open", 0),
        ("qk-000001", "filled", 1),
        ("qk-000002", "rejected", 1),
    ]


def test_a_risk_chain_in_a_run() -> None:
    chain = RiskChain([MaxPositionSize(max_amount=3.0), MaxPositionSize(max_notional=205.0)])
    strategy = Scripted({0: lambda s: s.buy(amount=5.0)})
    result = run_engine(strategy, make_series(ROWS), chain)
    # 5 -> 3 (max_amount) -> 2.05 (205 / the close 100)
    assert result.orders.loc[0, "amount"] == pytest.approx(2.05)
    assert result.risk_events["action"].tolist() == ["resize"]
    assert result.fills["amount"].tolist() == [pytest.approx(2.05)]


def test_a_halt_stops_every_later_entry_but_not_reductions() -> None:
    policy = HaltOnSecondEntry()
    strategy = Scripted(
        {
            0: lambda s: s.buy(amount=2.0),
            1: lambda s: s.buy(amount=1.0),  # halts
            2: lambda s: s.buy(amount=1.0),  # refused without asking the policy
            3: lambda s: s.sell(amount=1.0, reduce_only=True),  # still allowed
            4: lambda s: s.buy(amount=1.0, limit=200.0),
            5: lambda s: s.close(),
        }
    )
    result = run_engine(strategy, make_series(ROWS), policy)
    orders = result.orders
    assert orders["status"].tolist() == [
        "filled",
        "rejected",
        "rejected",
        "filled",
        "rejected",
        "open",  # placed on the last bar
    ]
    assert orders.loc[1, "reason"] == "risk: HaltOnSecondEntry: second entry"
    halted = "risk: trading halted (HaltOnSecondEntry: second entry)"
    assert orders.loc[2, "reason"] == halted
    assert orders.loc[4, "reason"] == halted
    # The policy was asked at bars 0, 1, 3 and 5 only, with the bar's close as price.
    assert policy.seen == [
        (CLOSE_TIME[0], 100.0, 0.0, False),
        (CLOSE_TIME[1], 103.0, 2.0, False),
        (CLOSE_TIME[3], 107.0, 2.0, True),
        (CLOSE_TIME[5], 112.0, 1.0, True),
    ]
    events = result.risk_events
    assert events["action"].tolist() == ["approve", "halt", "approve", "approve"]
    assert events["client_id"].tolist() == orders.loc[[0, 1, 3, 5], "client_id"].tolist()
    assert result.positions.loc[SYMBOL, "amount"] == 1.0


def test_without_risk_there_are_no_risk_events() -> None:
    result = run_engine(Scripted({0: lambda s: s.buy(amount=1.0)}), make_series(ROWS), None)
    assert result.risk_events.empty
    assert list(result.risk_events.columns) == [
        "time",
        "client_id",
        "symbol",
        "policy",
        "action",
        "reason",
    ]


class BuysOnStart(Scripted):
    def on_start(self) -> None:
        self.buy(amount=50.0)

    def on_bar(self, bar: SymbolData) -> None:
        pass


def test_max_notional_holds_for_orders_placed_before_the_first_bar() -> None:
    result = run_engine(BuysOnStart({}), make_series(ROWS), MaxPositionSize(max_notional=1_000.0))
    held = result.positions.loc[SYMBOL, "amount"]
    assert held * ROWS[0][0] <= 1_000.0
