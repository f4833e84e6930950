"""MaxPositionSize: approve, resize to reach the cap exactly, or reject; reductions always pass.

The latest price is 100 unless a case says otherwise; every expected size is worked out by hand.
"""

from __future__ import annotations

import math

import pytest

from quantkit.domain.market import Market
from quantkit.domain.order import OrderType
from quantkit.errors import ConfigError
from quantkit.risk.limits import MaxPositionSize
from quantkit.risk.policy import RiskAction

from .helpers import SYMBOL, FakeContext, request

APPROVE, RESIZE, REJECT = RiskAction.APPROVE, RiskAction.RESIZE, RiskAction.REJECT


@pytest.mark.parametrize(
    ("held", "side", "amount", "action", "sent"),
    [
        (0.0, "buy", 2.0, APPROVE, 2.0),
        (0.0, "buy", 3.0, APPROVE, 3.0),  # exactly at the cap
        (0.0, "buy", 5.0, RESIZE, 3.0),
        (2.0, "buy", 2.0, RESIZE, 1.0),
        (3.0, "buy", 1.0, REJECT, None),
        (4.0, "buy", 1.0, REJECT, None),  # already past the cap
        (2.0, "sell", 1.0, APPROVE, 1.0),  # reduces
        (2.0, "sell", 2.0, APPROVE, 2.0),  # closes
        (4.0, "sell", 4.0, APPROVE, 4.0),  # closes a position above the cap
        (2.0, "sell", 5.0, APPROVE, 5.0),  # flips to -3: at the cap
        (2.0, "sell", 6.0, RESIZE, 5.0),  # would flip to -4
        (0.0, "sell", 4.0, RESIZE, 3.0),  # a new short is capped too
        (-3.0, "sell", 1.0, REJECT, None),
        (-1.0, "buy", 5.0, RESIZE, 4.0),  # covers 1, then 3 long
    ],
)
def test_max_amount(
    held: float, side: str, amount: float, action: RiskAction, sent: float | None
) -> None:
    context = FakeContext().hold(held) if held else FakeContext()
    original = request(side, amount=amount)
    decision = MaxPositionSize(max_amount=3.0).check(original, context)
    assert decision.action is action
    assert decision.policy == "MaxPositionSize"
    if sent is None:
        assert decision.request is None
    else:
        assert decision.request is not None
        assert decision.request.amount == pytest.approx(sent, rel=1e-12)
        assert decision.request.side == original.side
    if action is APPROVE:
        assert decision.request is original


def test_a_resize_keeps_everything_but_the_amount() -> None:
    original = request("buy", amount=5.0, type=OrderType.LIMIT, limit_price=99.0, tag="entry")
    decision = MaxPositionSize(max_amount=3.0).check(original, FakeContext())
    assert decision.request is not None
    assert decision.request.amount == 3.0
    assert (decision.request.type, decision.request.limit_price, decision.request.tag) == (
        OrderType.LIMIT,
        99.0,
        "entry",
    )
    assert decision.reason == "resized from 5 to 3 to stay within 3"


def test_a_rejection_says_why() -> None:
    decision = MaxPositionSize(max_amount=3.0).check(request(amount=1.0), FakeContext().hold(3.0))
    assert decision.reason == "position in BTC/USDT is at its cap 3; order of 1 refused"


@pytest.mark.parametrize("amount", [1.0, 50.0])
def test_reduce_only_orders_always_pass(amount: float) -> None:
    original = request("sell", amount=amount, reduce_only=True)
    decision = MaxPositionSize(max_amount=3.0).check(original, FakeContext().hold(5.0))
    assert (decision.action, decision.request) == (APPROVE, original)


@pytest.mark.parametrize(
    ("held", "cost", "action", "sent_cost"),
    [
        (0.0, 200.0, APPROVE, 200.0),  # 2 at 100
        (0.0, 500.0, RESIZE, 300.0),  # 5 at 100, cap 3
        (2.0, 500.0, RESIZE, 100.0),  # room 1
        (3.0, 100.0, REJECT, None),
    ],
)
def test_cost_orders_are_sized_at_the_latest_price(
    held: float, cost: float, action: RiskAction, sent_cost: float | None
) -> None:
    context = FakeContext().hold(held) if held else FakeContext()
    decision = MaxPositionSize(max_amount=3.0).check(request(cost=cost), context)
    assert decision.action is action
    if sent_cost is not None:
        assert decision.request is not None
        assert decision.request.cost == pytest.approx(sent_cost, rel=1e-12)
        assert decision.request.amount is None


@pytest.mark.parametrize(
    ("price", "held", "amount", "action", "sent"),
    [
        (100.0, 0.0, 10.0, APPROVE, 10.0),  # 1000 / 100 = 10
        (100.0, 8.0, 5.0, RESIZE, 2.0),
        (100.0, 10.0, 1.0, REJECT, None),
        (250.0, 0.0, 5.0, RESIZE, 4.0),  # 1000 / 250 = 4
        (50.0, 15.0, 10.0, RESIZE, 5.0),  # 1000 / 50 = 20
    ],
)
def test_max_notional_is_valued_at_the_latest_price(
    price: float, held: float, amount: float, action: RiskAction, sent: float | None
) -> None:
    context = FakeContext({SYMBOL: price})
    if held:
        context.hold(held, price)
    decision = MaxPositionSize(max_notional=1_000.0).check(request(amount=amount), context)
    assert decision.action is action
    if sent is not None:
        assert decision.request is not None
        assert decision.request.amount == pytest.approx(sent, rel=1e-12)


@pytest.mark.parametrize(
    ("fields", "action", "sent"),
    [
        ({"type": OrderType.LIMIT, "limit_price": 50.0, "amount": 15.0}, APPROVE, 15.0),  # cap 20
        ({"type": OrderType.LIMIT, "limit_price": 200.0, "amount": 8.0}, RESIZE, 5.0),  # cap 5
        ({"type": OrderType.STOP, "stop_price": 125.0, "amount": 10.0}, RESIZE, 8.0),  # cap 8
    ],
)
def test_max_notional_values_priced_orders_at_their_own_price(
    fields: dict[str, object], action: RiskAction, sent: float
) -> None:
    decision = MaxPositionSize(max_notional=1_000.0).check(request(**fields), FakeContext())
    assert decision.action is action
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent, rel=1e-12)


@pytest.mark.parametrize(
    ("max_amount", "amount", "sent"),
    [(5.0, 7.0, 5.0), (20.0, 12.0, 10.0)],  # the smaller of 5 (or 20) and 1000 / 100
)
def test_both_caps_apply_the_smaller(max_amount: float, amount: float, sent: float) -> None:
    policy = MaxPositionSize(max_amount=max_amount, max_notional=1_000.0)
    decision = policy.check(request(amount=amount), FakeContext())
    assert decision.action is RESIZE
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent)


@pytest.mark.parametrize(
    ("held", "action", "sent"),
    [(2.5, RESIZE, 0.5), (2.45, RESIZE, 0.5), (2.95, REJECT, None)],  # room rounded down to 0.1
)
def test_the_resized_amount_is_rounded_down_to_the_step(
    held: float, action: RiskAction, sent: float | None
) -> None:
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=0.1)
    context = FakeContext(markets={SYMBOL: market}).hold(held)
    decision = MaxPositionSize(max_amount=3.0).check(request(amount=1.0), context)
    assert decision.action is action
    if sent is not None:
        assert decision.request is not None
        assert decision.request.amount == pytest.approx(sent)


def test_other_symbols_positions_do_not_count() -> None:
    context = FakeContext({SYMBOL: 100.0, "ETH/USDT": 10.0}).hold(3.0)
    decision = MaxPositionSize(max_amount=3.0).check(
        request(symbol="ETH/USDT", amount=2.0), context
    )
    assert decision.action is APPROVE


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_amount": 0.0},
        {"max_amount": -1.0},
        {"max_amount": math.nan},
        {"max_amount": math.inf},
        {"max_amount": True},
        {"max_notional": 0},
        {"max_amount": 1.0, "max_notional": -5.0},
    ],
)
def test_bad_settings_are_a_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="MaxPositionSize"):
        MaxPositionSize(**kwargs)


def test_repr() -> None:
    assert repr(MaxPositionSize(max_amount=2.0)) == (
        "MaxPositionSize(max_amount=2.0, max_notional=None)"
    )


@pytest.mark.parametrize(
    ("policy", "order"),
    [
        (MaxPositionSize(max_notional=1_000.0), request(amount=1_000.0)),
        (MaxPositionSize(max_amount=1.0), request(cost=1_000_000.0)),
    ],
    ids=["notional-cap", "cost-order"],
)
def test_an_order_that_cannot_be_valued_is_not_approved(
    policy: MaxPositionSize, order: object
) -> None:
    decision = policy.check(order, FakeContext(prices={}))  # type: ignore[arg-type]
    assert decision.action is not APPROVE
