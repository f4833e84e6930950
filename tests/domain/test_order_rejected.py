"""`Order.rejected`: the one way to build an order refused at once."""

from __future__ import annotations

from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side


def test_a_rejected_order_records_new_then_rejected_at_one_time() -> None:
    request = OrderRequest("BTC/USDT", Side.SELL, OrderType.LIMIT, amount=0.5, limit_price=101.0)
    refused = Order.rejected("run-000007", request, 1_700, "risk: max_position_size: too large")
    assert refused.client_id == "run-000007" and refused.request is request
    assert refused.status is OrderStatus.REJECTED and not refused.is_active
    assert refused.reason == "risk: max_position_size: too large"
    assert (refused.created_at, refused.updated_at) == (1_700, 1_700)
    assert refused.history == [(1_700, OrderStatus.NEW), (1_700, OrderStatus.REJECTED)]
    assert (refused.filled, refused.amount, refused.remaining) == (0.0, 0.5, 0.5)
