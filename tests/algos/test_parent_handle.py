"""The ParentOrder handle's figures, computed by hand from its children."""

from __future__ import annotations

import math

import pytest

from quantkit.algos import ParentOrder, ParentStatus, TwapSpec
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side


def child(n: int, amount: float, filled: float, price: float, status: OrderStatus) -> Order:
    request = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, amount=amount)
    return Order(f"qk-000001-{n}", request, 0, status, filled, price if filled else 0.0)


def parent(*children: Order, side: Side = Side.BUY) -> ParentOrder:
    made = ParentOrder("qk-000001", "BTC/USDT", side, 3.0, TwapSpec(3, 3), 0, 100.0)
    made.children.extend(children)
    return made


def test_figures_of_a_parent_with_filled_partly_filled_and_working_children() -> None:
    p = parent(
        child(1, 1.0, 1.0, 101.0, OrderStatus.FILLED),
        child(2, 1.0, 0.5, 103.0, OrderStatus.PARTIALLY_FILLED),
    )
    assert p.filled == 1.5 and p.remaining == 1.5
    assert p.committed == 0.5  # the working child's unfilled half
    assert p.average_price == pytest.approx((101.0 + 0.5 * 103.0) / 1.5)
    assert p.slippage_bps == pytest.approx((p.average_price - 100.0) / 100.0 * 1e4)
    assert [c.client_id for c in p.working_children] == ["qk-000001-2"]
    assert math.isnan(p.vwap) and math.isnan(p.vwap_slippage_bps)  # no bar seen yet
    p.bar_value, p.bar_volume = 2 * 104.0, 2.0
    assert p.vwap == 104.0
    assert p.vwap_slippage_bps == pytest.approx((p.average_price - 104.0) / 104.0 * 1e4)


def test_a_sell_that_received_more_than_the_arrival_price_has_negative_slippage() -> None:
    p = parent(child(1, 1.0, 1.0, 102.0, OrderStatus.FILLED), side=Side.SELL)
    assert p.slippage_bps == pytest.approx(-200.0)


def test_a_late_fill_of_a_canceled_child_still_counts() -> None:
    # a live venue may report a fill made before the cancel after the cancel was confirmed
    canceled = child(2, 1.0, 0.0, 0.0, OrderStatus.CANCELED)
    p = parent(child(1, 1.0, 1.0, 100.0, OrderStatus.FILLED), canceled)
    assert p.filled == 1.0
    canceled.filled, canceled.average_price = 0.25, 104.0
    assert p.filled == 1.25
    assert p.average_price == pytest.approx((100.0 + 0.25 * 104.0) / 1.25)


def test_a_parent_without_fills_has_no_average_price_or_slippage() -> None:
    p = parent()
    assert p.filled == 0.0 and p.average_price == 0.0 and math.isnan(p.slippage_bps)
    assert p.status is ParentStatus.WORKING and not p.status.is_terminal
    assert "qk-000001 twap buy 3 BTC/USDT" in repr(p)
