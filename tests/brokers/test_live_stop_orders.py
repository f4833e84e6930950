"""Standalone stop orders (``stop=``) through a LiveBroker against the local exchange.

Binance spot takes them as its own stop types: a stop-market as ``STOP_LOSS``, a stop-limit as
``STOP_LOSS_LIMIT`` (ccxt sends ``stopPrice``). The venue holds them; the price path of each
published candle triggers them (the local exchange walks open, then the low and the high in the
candle's order, then the close). Fees: Binance's 0.1 % taker/maker, in the asset received.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

import quantkit as qk
from quantkit.brokers.journal import replay
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.domain.order import OrderStatus
from quantkit.testing import LocalExchange
from quantkit.testing.market_data import DEFAULT_MARKETS
from tests.brokers.test_live_brackets import WARMUP, candles, local_with, until
from tests.brokers.test_live_broker import KEY, SECRET, broker_for, started, venue_for

pytestmark = pytest.mark.anyio

QUIET = (40_000.0, 40_010.0, 39_990.0, 40_000.0)
UP = (40_000.0, 40_600.0, 39_990.0, 40_550.0)  # path: 40,000, 39,990, 40,600, 40,550


async def place_then_publish(
    local: LocalExchange, path: Path, request: qk.OrderRequest, candles: int
) -> qk.Order:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, path), tasks, local)
        order = broker.submit(request, "qk-test-000001", 40_000.0)
        await until(lambda: bool(local.accounts.orders(KEY)), "the stop reached the venue")
        assert order.status in (OrderStatus.NEW, OrderStatus.OPEN)  # held by the venue
        for _ in range(candles):
            local.publish()
        await until(lambda: order.status is OrderStatus.FILLED, "the stop filled")
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    return order


async def test_a_stop_market_buy_rests_on_binance_as_stop_loss_and_fills_where_triggered(
    tmp_path: Path,
) -> None:
    async with local_with([UP, QUIET]) as local:
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.BUY, qk.OrderType.STOP, amount=0.1, stop_price=40_500.0
        )
        order = await place_then_publish(local, tmp_path / "j.jsonl", request, 1)
        (sent,) = local.accounts.orders(KEY)
        assert (sent.client_id, sent.type) == ("qk-test-000001", "STOP_LOSS")
        assert sent.stop_price == 40_500
        assert [r.method for r in local.requests("/api/v3/order")].count("POST") == 1
        # the path jumps 39,990 -> 40,600: the stop triggers at 40,600, a market buy fills there
        assert (order.filled, order.average_price) == (0.1, 40_600.0)
        (fill,) = sent.fills
        assert (fill.commission, fill.commission_asset) == (Decimal("0.0001"), "BTC")
        assert not fill.maker
        usdt, btc = local.accounts.balances(KEY)["USDT"], local.accounts.balances(KEY)["BTC"]
        assert (usdt[0], btc[0]) == (5_940, Decimal("0.0999"))  # 10,000 - 4,060; 0.1 - 0.0001
    state = replay(tmp_path / "j.jsonl")  # journaled exactly as sent
    journaled = state.orders["qk-test-000001"]
    assert (journaled.request.type, journaled.request.stop_price) == (qk.OrderType.STOP, 40_500.0)
    assert journaled.status is OrderStatus.FILLED


async def test_a_stop_limit_buy_triggered_past_its_limit_waits_and_fills_at_its_limit(
    tmp_path: Path,
) -> None:
    async with local_with([UP, QUIET]) as local:
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.BUY, qk.OrderType.STOP_LIMIT, amount=0.1,
            stop_price=40_500.0, limit_price=40_550.0,
        )  # fmt: skip
        order = await place_then_publish(local, tmp_path / "j.jsonl", request, 1)
        (sent,) = local.accounts.orders(KEY)
        assert (sent.type, sent.stop_price, sent.price) == ("STOP_LOSS_LIMIT", 40_500, 40_550)
        # triggered at 40,600 (above its 40,550 limit: it rests), filled at the close, 40,550,
        # at its limit, as maker; 0.1 % of 0.1 BTC = 0.0001 BTC
        assert (order.filled, order.average_price) == (0.1, 40_550.0)
        (fill,) = sent.fills
        assert (fill.price, fill.commission, fill.maker) == (40_550, Decimal("0.0001"), True)
        assert local.accounts.balances(KEY)["USDT"] == (5_945, 0)  # 10,000 - 4,055


async def test_a_stop_whose_answer_is_lost_is_never_resent_and_is_found_resting(
    tmp_path: Path,
) -> None:
    safety = LiveSafety(unknown_deadline=60.0, startup_deadline=60.0, shutdown_deadline=60.0)
    async with local_with([UP, QUIET]) as local:
        local.faults.unknown_outcome("/api/v3/order", method="POST", execute_after=None)
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.BUY, qk.OrderType.STOP, amount=0.1, stop_price=40_500.0
        )
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            made = broker_for(venue, tmp_path / "j.jsonl", safety=safety)
            broker = await started(made, tasks, local)
            order = broker.submit(request, "qk-test-000001", 40_000.0)

            def lookups() -> int:
                return sum(r.method == "GET" for r in local.requests("/api/v3/order"))

            await until(lambda: lookups() >= 1, "the broker looked the stop up (-2013)")
            assert local.accounts.orders(KEY) == []  # -1007: not placed yet
            assert await local.aexecute_pending() == 1  # the venue places it now
            await until(lambda: order.status is OrderStatus.OPEN, "found resting on the venue")
            local.publish()
            await until(lambda: order.status is OrderStatus.FILLED, "the stop filled")
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
        posts = [r for r in local.requests("/api/v3/order") if r.method == "POST"]
        assert len(posts) == 1  # never sent again while it could still execute
        (sent,) = local.accounts.orders(KEY)
        assert (sent.type, sent.fills[0].price) == ("STOP_LOSS", 40_600)
        assert (order.filled, order.average_price) == (0.1, 40_600.0)


async def test_a_stop_the_market_does_not_take_is_rejected_once_with_the_reason(
    tmp_path: Path,
) -> None:
    # A market whose exchangeInfo lists no STOP_LOSS: the broker does not hold standalone
    # stops itself yet, so the order ends REJECTED with one clear reason, never sent.
    start = (int(time.time()) // 60 - WARMUP) * 60
    btc = dataclasses.replace(DEFAULT_MARKETS[0], order_types=("LIMIT", "MARKET"))
    rows = [QUIET] * (WARMUP + 2)
    async with LocalExchange(
        [btc], live=True, warmup=WARMUP, candles={"BTC/USDT": candles(rows, start)},
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + len(rows) * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
    ) as local:  # fmt: skip
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.BUY, qk.OrderType.STOP, amount=0.1, stop_price=40_500.0
        )
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
            order = broker.submit(request, "qk-test-000001", 40_000.0)
            await until(lambda: order.status is not OrderStatus.NEW, "the refusal settled")
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
        assert order.status is OrderStatus.REJECTED
        assert order.reason == (
            "binance: stop (createStopMarketOrder) orders are not supported by this venue"
        )
        assert local.requests("/api/v3/order") == []
    assert replay(tmp_path / "j.jsonl").orders["qk-test-000001"].status is OrderStatus.REJECTED


async def test_a_stop_the_price_already_reached_is_refused_by_the_venue_once(
    tmp_path: Path,
) -> None:
    # A buy stop at 39,500 with the price at 40,000: Binance refuses it (-2010); the simulator
    # would fill it at the next open (fill rule R5), so this is a stated mode difference.
    async with local_with([QUIET, QUIET]) as local:
        request = qk.OrderRequest(
            "BTC/USDT", qk.Side.BUY, qk.OrderType.STOP, amount=0.1, stop_price=39_500.0
        )
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
            order = broker.submit(request, "qk-test-000001", 40_000.0)
            await until(lambda: order.status is not OrderStatus.NEW, "the refusal settled")
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
        assert order.status is OrderStatus.REJECTED
        assert "Stop price would trigger immediately." in order.reason
        assert [r.method for r in local.requests("/api/v3/order")] == ["POST"]  # sent once
        assert local.accounts.orders(KEY) == []
        assert local.accounts.balances(KEY)["USDT"] == (10_000, 0)  # nothing held
