"""Order requests are validated on creation; the status machine refuses illegal changes."""

from __future__ import annotations

import math

import pytest

from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from quantkit.errors import InvalidTransitionError, OrderError

S = "BTC/USDT"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of amount= and cost="),
        ({"amount": 1.0, "cost": 5.0}, "exactly one"),
        ({"amount": 0.0}, "amount must be a finite number > 0"),
        ({"amount": -1.0}, "amount must be a finite number > 0"),
        ({"amount": math.nan}, "amount must be a finite number > 0"),
        ({"amount": math.inf}, "amount must be a finite number > 0"),
        ({"amount": "1"}, "amount must be a number"),
        ({"amount": True}, "amount must be a number"),
        ({"cost": -5.0}, "cost must be"),
        ({"amount": 1.0, "type": OrderType.LIMIT}, "needs a limit price"),
        ({"amount": 1.0, "type": OrderType.STOP}, "needs a stop price"),
        ({"amount": 1.0, "type": OrderType.STOP_LIMIT, "stop_price": 1.0}, "needs a limit price"),
        ({"amount": 1.0, "limit_price": 1.0}, "takes no limit price"),
        ({"amount": 1.0, "stop_price": 1.0}, "takes no stop price"),
        ({"cost": 1.0, "type": OrderType.LIMIT, "limit_price": 1.0}, "only for market"),
        ({"amount": 1.0, "type": OrderType.LIMIT, "limit_price": -2.0}, "limit_price must be"),
        ({"amount": 1.0, "post_only": True}, "post_only applies to limit"),
        (
            {
                "amount": 1.0,
                "type": OrderType.LIMIT,
                "limit_price": 1.0,
                "post_only": True,
                "time_in_force": TimeInForce.IOC,
            },
            "must be GTC",
        ),
        ({"amount": 1.0, "stop_loss": 1.0, "stop_loss_pct": 0.1}, "not both"),
        ({"amount": 1.0, "take_profit": 1.0, "take_profit_pct": 0.1}, "not both"),
        ({"amount": 1.0, "stop_loss_pct": 1.0}, "below 1"),
        ({"amount": 1.0, "stop_loss_pct": 0.1, "reduce_only": True}, "cannot carry a bracket"),
        ({"amount": 1.0, "type": "market"}, "type must be an OrderType"),
    ],
)
def test_malformed_requests_raise_order_error(kwargs: dict[str, object], message: str) -> None:
    if kwargs.get("type") == "market":
        kwargs = {**kwargs, "stop_loss_pct": 0.1}
    with pytest.raises(OrderError, match=message):
        OrderRequest(S, Side.BUY, **kwargs)  # type: ignore[arg-type]


def test_side_must_be_a_side() -> None:
    with pytest.raises(OrderError, match="side must be"):
        OrderRequest(S, "buy", amount=1.0)  # type: ignore[arg-type]


def test_derived_fields() -> None:
    buy = OrderRequest(S, Side.BUY, amount=1.0, take_profit_pct=0.1)
    sell = OrderRequest(S, Side.SELL, amount=1.0)
    assert (buy.sign, sell.sign) == (1, -1)
    assert buy.has_bracket and not sell.has_bracket
    assert Side.BUY.sign == 1 and Side.SELL.sign == -1


def test_status_machine_happy_path_and_history() -> None:
    order = Order("a", OrderRequest(S, Side.BUY, amount=2.0), created_at=1)
    order.transition(OrderStatus.OPEN, 2)
    order.record_fill(10.0, 0.5, 0.1, 3)
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.remaining == 1.5
    order.record_fill(20.0, 1.5, 0.2, 4)
    assert order.status is OrderStatus.FILLED
    assert order.average_price == pytest.approx((5 + 30) / 2)
    assert order.fee == pytest.approx(0.3)
    assert [s for _, s in order.history] == [
        OrderStatus.NEW,
        OrderStatus.OPEN,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert not order.is_active and order.symbol == S and order.side is Side.BUY


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], OrderStatus.FILLED),
        ([], OrderStatus.CANCELED),
        ([OrderStatus.OPEN, OrderStatus.FILLED], OrderStatus.CANCELED),
        ([OrderStatus.REJECTED], OrderStatus.OPEN),
        ([OrderStatus.OPEN, OrderStatus.CANCELED], OrderStatus.OPEN),
        ([OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED], OrderStatus.REJECTED),
        ([OrderStatus.OPEN, OrderStatus.EXPIRED], OrderStatus.FILLED),
    ],
)
def test_illegal_transitions_are_refused(path: list[OrderStatus], illegal: OrderStatus) -> None:
    order = Order("a", OrderRequest(S, Side.BUY, amount=1.0), created_at=0)
    for status in path:
        order.transition(status, 1)
    with pytest.raises(InvalidTransitionError, match="cannot go from"):
        order.transition(illegal, 2)


def test_overfill_and_unsized_fill_are_refused() -> None:
    order = Order("a", OrderRequest(S, Side.BUY, amount=1.0), created_at=0)
    order.transition(OrderStatus.OPEN, 1)
    with pytest.raises(OrderError, match="exceeds"):
        order.record_fill(1.0, 1.5, 0.0, 2)
    unsized = Order("b", OrderRequest(S, Side.BUY, cost=10.0), created_at=0)
    unsized.transition(OrderStatus.OPEN, 1)
    assert unsized.remaining == 0.0
    with pytest.raises(OrderError, match="before the order was sized"):
        unsized.record_fill(1.0, 1.0, 0.0, 2)
