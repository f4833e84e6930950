"""The simulator's shortcuts give the values of the general constructors and bookings."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.fill import Fill, make_fill
from quantkit.domain.order import (
    Order,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    make_request,
    new_order,
)
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import OrderError
from tests.strategies import order_requests

prices = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False)
amounts = st.floats(min_value=1e-9, max_value=1e4, allow_nan=False)
fees = st.floats(min_value=-10.0, max_value=100.0, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(side=st.sampled_from(Side), price=prices, amount=amounts, fee=fees, maker=st.booleans())
def test_make_fill_is_the_frozen_fill_the_constructor_makes(
    side: Side, price: float, amount: float, fee: float, maker: bool
) -> None:
    made = make_fill("qk-000001", "BTC/USDT", side, price, amount, fee, "USDT", 7, maker)
    built = Fill("qk-000001", "BTC/USDT", side, price, amount, fee, "USDT", 7, maker)
    assert type(made) is Fill
    assert made == built
    assert dataclasses.astuple(made) == dataclasses.astuple(built)
    assert pickle.loads(pickle.dumps(made)) == built
    assert copy.deepcopy(made) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.price = 1.0  # type: ignore[misc]


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(st.sampled_from(Side), prices, amounts, fees), min_size=1, max_size=12)
)
def test_a_quote_fill_from_its_figures_books_what_apply_fill_books(
    steps: list[tuple[Side, float, float, float]],
) -> None:
    general = Portfolio("USDT", {"USDT": 1_000.0})
    quick = Portfolio("USDT", {"USDT": 1_000.0})
    for side, price, amount, fee in steps:
        fill = Fill("x", "BTC/USDT", side, price, amount, fee, "USDT", 0)
        general.apply_fill(fill)
        quick.apply_quote_fill("BTC/USDT", fill.signed_amount, price, fee)
        assert quick.cash == general.cash
        assert quick.fees_paid == general.fees_paid
        assert quick.last_price == general.last_price
        assert quick.positions == general.positions


def _fields(request: OrderRequest) -> list[object]:
    return [getattr(request, name) for name in OrderRequest.__slots__]


def _given_fields(request: OrderRequest) -> tuple[object, ...]:
    names = [f.name for f in dataclasses.fields(OrderRequest) if f.init]
    return tuple(getattr(request, name) for name in names)


@settings(max_examples=150, deadline=None)
@given(request=order_requests())
def test_make_request_is_the_request_the_constructor_makes(request: OrderRequest) -> None:
    made = make_request(*_given_fields(request))
    assert type(made) is OrderRequest
    assert made == request
    assert _fields(made) == _fields(request)  # the derived sign and bracket flag too
    assert pickle.loads(pickle.dumps(made)) == request
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.amount = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": None, "cost": None}, "exactly one of amount= and cost="),
        ({"amount": -1.0}, "amount must be a finite number > 0"),
        ({"amount": "1"}, "amount must be a number"),
        ({"type": OrderType.LIMIT}, "needs a limit price"),
        ({"stop_price": 5.0}, "a market order takes no stop price"),
        ({"stop_loss_pct": 1.5}, "stop_loss_pct must be below 1"),
    ],
)
def test_make_request_refuses_what_the_constructor_refuses(
    changes: dict[str, object], message: str
) -> None:
    fields = dict(
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=1.0,
        cost=None,
        limit_price=None,
        stop_price=None,
        time_in_force=TimeInForce.GTC,
        post_only=False,
        reduce_only=False,
        stop_loss=None,
        take_profit=None,
        stop_loss_pct=None,
        take_profit_pct=None,
        tag="",
        trail_pct=None,
    )
    fields.update(changes)
    with pytest.raises(OrderError, match=message) as built:
        OrderRequest(**fields)  # type: ignore[arg-type]
    with pytest.raises(OrderError) as made:
        make_request(*fields.values())  # type: ignore[arg-type]
    assert str(made.value) == str(built.value)


@settings(max_examples=100, deadline=None)
@given(request=order_requests(), at=st.integers(min_value=0, max_value=2**62))
def test_new_order_is_the_order_the_constructor_makes(request: OrderRequest, at: int) -> None:
    made = new_order("qk-000009", request, at)
    built = Order("qk-000009", request, at)
    assert [getattr(made, n) for n in Order.__slots__] == [
        getattr(built, n) for n in Order.__slots__
    ]
    assert made.history is not built.history
