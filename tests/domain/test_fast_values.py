"""The hot path's values: built fast, still frozen, still checked (issue #13)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re

import numpy as np
import pytest

from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.errors import InvalidTransitionError, OrderError


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class TaggedRequest(OrderRequest):
    """A user's subclass: other slots, so it is built through the slots' setters."""

    note: str = ""


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class TaggedFill(Fill):
    """A user's subclass of Fill."""

    note: str = ""


def _request() -> OrderRequest:
    return OrderRequest("BTC/USDT", Side.SELL, OrderType.LIMIT, amount=0.5, limit_price=101.5)


def _fill(kind: type[Fill] = Fill) -> Fill:
    return kind("qk-000001", "BTC/USDT", Side.BUY, 100.0, 0.25, 0.025, "USDT", 7, True)


def test_request_is_an_order_request_and_frozen() -> None:
    request = _request()
    assert type(request) is OrderRequest
    assert (request.symbol, request.side, request.type) == ("BTC/USDT", Side.SELL, OrderType.LIMIT)
    assert (request.amount, request.cost, request.limit_price) == (0.5, None, 101.5)
    assert (request.sign, request.has_bracket, request.tag) == (-1, False, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.amount = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.sign = 1  # type: ignore[misc]


def test_request_equality_copies_and_replace() -> None:
    request = _request()
    assert request == _request()
    assert hash(request) == hash(_request())
    assert pickle.loads(pickle.dumps(request)) == request
    assert copy.deepcopy(request) == request
    moved = dataclasses.replace(request, limit_price=99.0)
    assert type(moved) is OrderRequest
    assert (moved.limit_price, moved.sign, request.limit_price) == (99.0, -1, 101.5)


def test_request_subclass_gets_every_field() -> None:
    request = TaggedRequest("ETH/USDT", Side.BUY, OrderType.MARKET, cost=50.0, stop_loss_pct=0.1)
    assert type(request) is TaggedRequest
    assert (request.symbol, request.cost, request.stop_loss_pct) == ("ETH/USDT", 50.0, 0.1)
    assert (request.sign, request.has_bracket) == (1, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.cost = 1.0  # type: ignore[misc]


def test_numpy_amounts_become_floats_and_bad_ones_are_refused() -> None:
    request = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, amount=np.float64(0.75))
    assert request.amount.__class__ is float
    assert request.amount == 0.75
    with pytest.raises(OrderError, match="order on BTC/USDT: cost must be a finite number > 0"):
        OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, cost=-3.0)
    refused = re.escape("order on BTC/USDT: side must be Side.BUY or Side.SELL")
    with pytest.raises(OrderError, match=refused):
        OrderRequest("BTC/USDT", "buy", OrderType.MARKET, amount=1.0)  # type: ignore[arg-type]


def test_fill_is_a_fill_and_frozen() -> None:
    fill = _fill()
    assert type(fill) is Fill
    assert (fill.price, fill.amount, fill.fee, fill.timestamp) == (100.0, 0.25, 0.025, 7)
    assert (fill.is_maker, fill.ambiguous, fill.signed_amount) == (True, False, 0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fill.price = 1.0  # type: ignore[misc]
    assert fill == _fill()
    assert pickle.loads(pickle.dumps(fill)) == fill
    flagged = dataclasses.replace(fill, ambiguous=True)
    assert type(flagged) is Fill
    assert flagged.ambiguous and not fill.ambiguous


def test_fill_subclass_gets_every_field() -> None:
    fill = _fill(TaggedFill)
    assert type(fill) is TaggedFill
    assert (fill.client_id, fill.fee_currency, fill.is_maker) == ("qk-000001", "USDT", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fill.amount = 1.0  # type: ignore[misc]


def test_record_fill_refused_in_a_final_status_changes_nothing() -> None:
    order = Order("qk-000001", _request(), 1)
    order.transition(OrderStatus.OPEN, 2)
    order.transition(OrderStatus.CANCELED, 3, "canceled by the strategy")
    with pytest.raises(InvalidTransitionError, match="cannot go from canceled to filled"):
        order.record_fill(101.5, 0.5, 0.05, 4)
    assert (order.filled, order.average_price, order.fee) == (0.0, 0.0, 0.0)
    assert order.history == [
        (1, OrderStatus.NEW),
        (2, OrderStatus.OPEN),
        (3, OrderStatus.CANCELED),
    ]


def test_record_fill_totals_and_history() -> None:
    order = Order("qk-000001", _request(), 1)
    order.transition(OrderStatus.OPEN, 2)
    order.record_fill(101.0, 0.2, 0.02, 3)
    order.record_fill(102.5, 0.3, 0.03, 4)
    assert order.status is OrderStatus.FILLED
    assert order.filled == pytest.approx(0.5)
    assert order.average_price == pytest.approx((101.0 * 0.2 + 102.5 * 0.3) / 0.5)
    assert order.fee == pytest.approx(0.05)
    assert order.updated_at == 4
    assert order.history[-2:] == [(3, OrderStatus.PARTIALLY_FILLED), (4, OrderStatus.FILLED)]
