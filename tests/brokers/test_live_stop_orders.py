"""Standalone stop orders (``stop=``) through a LiveBroker against the local exchange.

Binance spot has no stop-market order ccxt can send (ccxt's binance class states
``createStopMarketOrder`` unsupported on spot), and the local exchange serves MARKET and LIMIT
orders only. A stop the venue cannot take ends REJECTED with one clear reason, is never sent
twice, is journaled as refused, and never stays NEW. (Protective stops do work live: ``sl=`` /
``trail_pct=`` brackets, venue OCO or held by the broker; see test_live_brackets.py and
test_live_trailing.py.)
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import quantkit as qk
from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus
from quantkit.testing import LocalExchange
from tests.brokers.test_live_brackets import local_with, until
from tests.brokers.test_live_broker import KEY, broker_for, started, venue_for

pytestmark = pytest.mark.anyio

QUIET = (40_000.0, 40_010.0, 39_990.0, 40_000.0)


async def submit_and_settle(local: LocalExchange, path: Path, request: qk.OrderRequest) -> qk.Order:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, path), tasks, local)
        order = broker.submit(request, "qk-test-000001", 40_000.0)
        await until(lambda: order.status is not OrderStatus.NEW, "the order's outcome settled")
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    return order


async def test_a_stop_market_order_is_refused_before_it_reaches_binance_spot(
    tmp_path: Path,
) -> None:
    async with local_with([QUIET] * 3) as local:
        local.publish()
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.SELL, qk.OrderType.STOP, amount=0.1, stop_price=39_000.0
        )
        order = await submit_and_settle(local, tmp_path / "j.jsonl", request)
        assert order.status is OrderStatus.REJECTED
        assert order.reason == (
            "binance: stop (createStopMarketOrder) orders are not supported by this venue"
        )
        assert local.requests("/api/v3/order") == []  # refused before anything was sent
        assert local.accounts.orders(KEY) == []
    state = replay(tmp_path / "j.jsonl")  # journaled as sent-and-refused, not left pending
    assert state.orders["qk-test-000001"].status is OrderStatus.REJECTED


async def test_a_stop_limit_order_reaches_the_venue_once_and_carries_its_refusal(
    tmp_path: Path,
) -> None:
    # The local exchange lists STOP_LOSS_LIMIT among its order types but serves MARKET and LIMIT
    # only: it answers -1116 "Invalid orderType.", as Binance does for a type it does not take.
    async with local_with([QUIET] * 3) as local:
        local.publish()
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.SELL, qk.OrderType.STOP_LIMIT, amount=0.1,
            stop_price=39_000.0, limit_price=38_900.0,
        )  # fmt: skip
        order = await submit_and_settle(local, tmp_path / "j.jsonl", request)
        assert order.status is OrderStatus.REJECTED
        assert order.reason == 'binance: BadRequest: {"code": -1116, "msg": "Invalid orderType."}'
        (sent,) = local.requests("/api/v3/order")
        assert sent.method == "POST"  # sent once, never again after a definite refusal
        assert local.accounts.orders(KEY) == []
