"""Property tests of the simulated exchange: accounting, fills in range, no early fills."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from quantkit.domain.order import OrderRequest, OrderStatus
from quantkit.sim.fees import FlatFees
from quantkit.sim.rules import FillRules
from quantkit.sim.slippage import FixedBps
from tests.builders import make_exchange
from tests.strategies import Row, bar_rows, order_requests

SYM = "BTC/USDT"


def _run(
    rows: list[Row],
    plan: list[list[OrderRequest]],
    rules: FillRules,
    allow_short: bool = False,
    leverage: float = 1.0,
):  # type: ignore[no-untyped-def]
    ex = make_exchange(cash=5_000.0, rules=rules, allow_short=allow_short, leverage=leverage)
    placed_at: dict[str, int] = {}
    equity_ok: list[bool] = []
    for i, row in enumerate(rows):
        o, h, low, c, v = row
        if i > 0:
            ex.process_bar(SYM, i, o, h, low, c, v)
            pf = ex.portfolio
            expected = pf.balance + pf.position(SYM).amount * c
            equity_ok.append(math.isclose(pf.equity(), expected, rel_tol=1e-12, abs_tol=1e-9))
        for request in plan[i] if i < len(plan) else []:
            order = ex.submit(request, now=i, reference_price=c)
            placed_at[order.client_id] = i
    return ex, placed_at, equity_ok


rules_strategy = st.builds(
    FillRules,
    fees=st.builds(
        FlatFees,
        maker=st.floats(0.0, 0.005),
        taker=st.floats(0.0, 0.005),
        per_order=st.floats(0.0, 2.0),
    ),
    slippage=st.builds(FixedBps, st.floats(0.0, 50.0)),
    participation=st.one_of(st.none(), st.floats(0.05, 1.0)),
    intrabar=st.sampled_from(["adverse", "favorable", "nearest"]),
)


@given(
    rows=bar_rows(),
    plan=st.lists(st.lists(order_requests(), max_size=3), max_size=30),
    rules=rules_strategy,
    margin=st.sampled_from([(False, 1.0), (True, 1.0), (True, 3.0)]),
)
def test_fills_are_in_range_after_placement_and_books_balance(
    rows: list[Row], plan: list[list[OrderRequest]], rules: FillRules, margin: tuple[bool, float]
) -> None:
    ex, placed_at, equity_ok = _run(rows, plan, rules, *margin)
    assert all(equity_ok)  # equity == cash + position x close at every bar
    cash = 5_000.0
    position = 0.0
    fees = 0.0
    per_order: dict[str, float] = {}
    for fill in ex.fills:
        _, h, low, _, _ = rows[fill.timestamp]
        assert low <= fill.price <= h  # R16: never outside the fill bar
        parent = fill.client_id.removesuffix("-sl").removesuffix("-tp")
        if parent in placed_at:
            assert fill.timestamp > placed_at[parent]  # R1: never in the placement bar
        else:  # the simulator's own forced close of a margin account at zero equity
            assert ex.liquidation is not None
            assert fill.client_id.startswith(f"{ex.id_prefix}-liquidation-")
            assert fill.fee == 0.0
        assert fill.fee >= 0.0  # non-negative rates: never a negative fee
        assert fill.amount > 0.0
        cash -= fill.signed_amount * fill.price + fill.fee
        position += fill.signed_amount
        fees += fill.fee
        per_order[fill.client_id] = per_order.get(fill.client_id, 0.0) + fill.amount
    pf = ex.portfolio
    assert math.isclose(pf.balance, cash, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(pf.position(SYM).amount, position, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(pf.fees_paid, fees, rel_tol=1e-9, abs_tol=1e-9)
    if not margin[0]:
        assert pf.position(SYM).amount >= -1e-9  # no shorting means never short
    if margin == (False, 1.0):
        assert pf.balance >= -1e-6  # a cash account never borrows
    for order in ex.orders.values():
        filled = per_order.get(order.client_id, 0.0)
        assert math.isclose(order.filled, filled, rel_tol=1e-9, abs_tol=1e-12)
        if order.status is OrderStatus.FILLED:
            assert order.amount is not None
            assert math.isclose(order.filled, order.amount, rel_tol=1e-9)
        if order.status is OrderStatus.REJECTED:
            assert order.filled == 0.0 and order.reason


@given(
    rows=bar_rows(min_size=3), plan=st.lists(st.lists(order_requests(), max_size=2), max_size=10)
)
def test_fee_is_rate_times_notional_plus_fixed_once(
    rows: list[Row], plan: list[list[OrderRequest]]
) -> None:
    fees = FlatFees(maker=0.0002, taker=0.0007, per_order=0.5)
    ex, _, _ = _run(rows, plan, FillRules(fees=fees))
    seen: set[str] = set()
    for fill in ex.fills:
        rate = 0.0002 if fill.is_maker else 0.0007
        fixed = 0.0 if fill.client_id in seen else 0.5
        seen.add(fill.client_id)
        assert math.isclose(fill.fee, rate * fill.price * fill.amount + fixed, rel_tol=1e-12)
