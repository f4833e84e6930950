"""Orders whose outcome is unknown: never sent twice, resolved from the venue (issue 11 item 1).

Each rule is provoked by a fault of the local exchange (real ccxt client, real HTTP) and checked
against the exchange's own book: orders per client id, trades booked, balances.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import replay
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.testing import LocalExchange
from tests.brokers.test_live_broker import (
    KEY,
    broker_for,
    exchange_orders,
    local_exchange,
    started,
    venue_for,
)

pytestmark = pytest.mark.anyio

SYM = "BTC/USDT"
ORDER = "/api/v3/order"
REPLACE = "/api/v3/order/cancelReplace"
TIMEOUT_1007 = json.dumps(
    {
        "code": -1007,
        "msg": "Timeout waiting for response from backend server. Send status unknown; "
        "execution status unknown.",
    }
)
BUSY_1008 = json.dumps(
    {
        "code": -1008,
        "msg": "Server is currently overloaded with other requests. Please try again in a few "
        "minutes.",
    }
)


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


async def until(broker: LiveBroker, done: Callable[[], bool], timeout: float = 60.0) -> None:
    with anyio.fail_after(timeout):
        while not done():
            await broker.events_ready()


async def lookups_of(local: LocalExchange, client_id: str, count: int) -> None:
    """Wait until the venue answered ``count`` lookups of ``client_id``."""
    with anyio.fail_after(60):
        while len(lookups(local, client_id)) < count:
            await anyio.sleep(0.01)


def lookups(local: LocalExchange, client_id: str) -> list[float]:
    return [
        r.time
        for r in local.requests(ORDER)
        if r.method == "GET" and r.query.get("origClientOrderId") == client_id
    ]


def posts(local: LocalExchange) -> list[float]:
    return [r.time for r in local.requests(ORDER) if r.method == "POST"]


def per_client_id(local: LocalExchange) -> Counter[str]:
    return Counter(o.client_id for o in exchange_orders(local))


def now_ms() -> int:
    return int(time.time() * 1000)


def market_buy(amount: float = 0.01) -> OrderRequest:
    return OrderRequest(SYM, Side.BUY, amount=amount)


async def test_an_order_executed_seconds_after_a_1007_is_adopted_and_never_sent_twice(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    price = float(local.accounts.price(SYM))
    safety = LiveSafety(unknown_deadline=30.0, shutdown_deadline=60.0)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, path, safety=safety), tasks, local)
        local.faults.fail(ORDER, status=503, body=TIMEOUT_1007)
        late = broker.submit(market_buy(), "qk-test-000001", price)
        await lookups_of(local, late.client_id, 2)  # "-2013 Order does not exist" so far
        assert late.status is OrderStatus.NEW
        assert broker.unknown_orders() == [late]
        # one stuck order holds nothing up: the next one goes out and fills meanwhile
        other = broker.submit(market_buy(), "qk-test-000002", price)
        await until(broker, lambda: other.status is OrderStatus.FILLED)
        assert late.status is OrderStatus.NEW
        # the matching engine executes the first order now, long after the -1007
        local.accounts.place(
            KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), client_id=late.client_id, now=now_ms()
        )
        await until(broker, lambda: late.status is OrderStatus.FILLED)
        assert broker.unknown_orders() == []
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert per_client_id(local) == {"qk-test-000001": 1, "qk-test-000002": 1}
    assert len(posts(local)) == 2  # the order in doubt was never sent again
    state = replay(path)
    venue_trades = sorted(str(f.trade_id) for o in exchange_orders(local) for f in o.fills)
    assert sorted(state.trade_ids) == venue_trades  # each venue trade booked exactly once
    assert {o.status for o in state.orders.values()} == {OrderStatus.FILLED}
    balances = local.accounts.balances(KEY)
    assert broker.portfolio.balance == pytest.approx(float(sum(balances["USDT"])))
    assert broker.portfolio.position(SYM).amount == pytest.approx(float(sum(balances["BTC"])))
    assert broker.divergences == []


async def test_an_order_the_venue_never_executed_is_rejected_only_after_the_deadline(
    local: LocalExchange, tmp_path: Path
) -> None:
    # the first lookup follows the in-doubt answer at once; 3 s leave it room on a busy machine
    safety = LiveSafety(unknown_deadline=3.0, shutdown_deadline=60.0)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local)
        local.faults.fail(ORDER, status=503, body=TIMEOUT_1007)
        lost = broker.submit(market_buy(), "qk-test-000001", 40_000.0)
        await until(broker, lambda: lost.status is not OrderStatus.NEW)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert lost.status is OrderStatus.REJECTED
    assert lost.reason.startswith("never placed: the venue did not know it")
    (sent,) = posts(local)
    asked = lookups(local, lost.client_id)
    assert asked[0] - sent < safety.unknown_deadline  # "does not exist" then did not count
    assert asked[-1] - sent >= safety.unknown_deadline  # the answer that did came after it
    assert exchange_orders(local) == []
    assert replay(tmp_path / "j.jsonl").orders[lost.client_id].status is OrderStatus.REJECTED


async def test_a_cancel_of_an_order_in_doubt_is_sent_once_the_order_is_found(
    local: LocalExchange, tmp_path: Path
) -> None:
    price = float(local.accounts.price(SYM))
    limit = round(price * 0.5, 2)
    safety = LiveSafety(unknown_deadline=30.0, shutdown_deadline=60.0)
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.01, limit_price=limit)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local)
        local.faults.fail(ORDER, status=503, body=TIMEOUT_1007)
        order = broker.submit(request, "qk-test-000001", price)
        await lookups_of(local, order.client_id, 1)
        broker.cancel(order)  # the strategy gives up on it while it is unknown
        assert order.status is OrderStatus.NEW
        local.accounts.place(
            KEY,
            "BTCUSDT",
            "BUY",
            "LIMIT",
            Decimal("0.01"),
            Decimal(str(limit)),
            client_id=order.client_id,
            now=now_ms(),
        )
        await until(broker, lambda: order.status is OrderStatus.CANCELED)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    (on_venue,) = exchange_orders(local)
    assert (on_venue.client_id, on_venue.status) == ("qk-test-000001", "CANCELED")
    assert len(posts(local)) == 1
    assert float(local.accounts.balances(KEY)["USDT"][1]) == 0.0  # nothing left locked


async def test_overloaded_1008_is_retried_with_backoff_and_placed_once(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
        local.faults.fail(ORDER, status=503, body=BUSY_1008, times=2)
        order = broker.submit(market_buy(), "qk-test-000001", 40_000.0)
        await until(broker, lambda: not order.is_active)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert order.status is OrderStatus.FILLED
    assert len(posts(local)) == 3  # -1008: not acted on, so sending again is safe
    assert lookups(local, order.client_id) == []  # and nothing was in doubt
    assert per_client_id(local) == {"qk-test-000001": 1}


async def resting_buy(broker: LiveBroker, local: LocalExchange, client_id: str) -> Order:
    price = broker.market(SYM).round_price(float(local.accounts.price(SYM)) * 0.9)
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.01, limit_price=price)
    order = broker.submit(request, client_id, price)
    await until(broker, lambda: order.status is not OrderStatus.NEW)
    assert order.status is OrderStatus.OPEN
    return order


@pytest.mark.parametrize(
    ("code", "canceled"),
    [(-2021, True), (-2022, False)],
    ids=["cancel-done-new-failed", "both-failed"],
)
async def test_cancel_replace_half_success_leaves_a_consistent_state(
    local: LocalExchange, tmp_path: Path, code: int, canceled: bool
) -> None:
    safety = LiveSafety(unknown_deadline=0.5, shutdown_deadline=60.0)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local)
        old = await resting_buy(broker, local, "qk-test-000001")
        if canceled:  # the venue's half that succeeded: the old order is canceled
            (venue_order,) = exchange_orders(local)
            local.accounts.cancel(KEY, venue_order, now=now_ms())
        local.faults.fail(REPLACE, status=400, body=json.dumps({"code": code, "msg": "failed"}))
        price = old.request.limit_price or 0.0
        request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.02, limit_price=price)
        new = broker.amend(old, request, "qk-test-000002", price)
        await until(broker, lambda: new.status is not OrderStatus.NEW)
        await until(broker, lambda: old.is_active is not canceled)
        local_open = [o.client_id for o in broker.open_orders()]
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert new.status is OrderStatus.REJECTED
    on_venue = {o.client_id: o.status for o in exchange_orders(local)}
    assert on_venue == {"qk-test-000001": "CANCELED" if canceled else "NEW"}
    assert local_open == ([] if canceled else ["qk-test-000001"])
    assert old.status is (OrderStatus.CANCELED if canceled else OrderStatus.OPEN)
    assert len(local.requests(REPLACE)) == 1  # never sent again
    free, locked = local.accounts.balances(KEY)["USDT"]
    assert broker.portfolio.balance == pytest.approx(float(free + locked))


async def test_lookups_failing_past_the_deadline_never_count_as_does_not_exist(
    local: LocalExchange, tmp_path: Path
) -> None:
    safety = LiveSafety(unknown_deadline=0.2, shutdown_deadline=3.0)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local)
        local.faults.fail(ORDER, status=503, body=TIMEOUT_1007)  # the order's answer
        local.faults.fail(ORDER, status=503, times=40)  # then every lookup, for a while
        order = broker.submit(market_buy(), "qk-test-000001", 40_000.0)
        await lookups_of(local, order.client_id, 15)
        failing = lookups(local, order.client_id)
        assert failing[-1] - failing[0] > safety.unknown_deadline  # well past the deadline
        assert order.status is OrderStatus.NEW  # failures prove nothing
        local.accounts.place(
            KEY,
            "BTCUSDT",
            "BUY",
            "MARKET",
            Decimal("0.01"),
            client_id=order.client_id,
            now=now_ms(),
        )
        await until(broker, lambda: order.status is OrderStatus.FILLED)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert per_client_id(local) == {"qk-test-000001": 1}
    assert len(posts(local)) == 1
    assert len(replay(tmp_path / "j.jsonl").fills) == 1


async def test_the_trade_stream_resolves_an_order_whose_lookups_keep_failing(
    local: LocalExchange, tmp_path: Path
) -> None:
    safety = LiveSafety(unknown_deadline=30.0, shutdown_deadline=3.0)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(
            broker_for(venue, tmp_path / "j.jsonl", safety=safety, poll_interval=3600.0),
            tasks,
            local,
        )
        with anyio.fail_after(60):  # the account's trade stream is subscribed
            while not local.ws_api.user_streams():
                await anyio.sleep(0.01)
        local.faults.fail(ORDER, status=503, method="GET", for_seconds=60.0)  # no lookup works
        local.faults.unknown_outcome(ORDER, method="POST", execute_after=0.3)
        order = broker.submit(market_buy(), "qk-test-000001", 40_000.0)
        await until(broker, lambda: order.status is OrderStatus.FILLED)
        assert broker.unknown_orders() == []
        local.faults.clear()
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert all(r.fault for r in local.requests(ORDER) if r.method == "GET")  # lookups all failed
    assert per_client_id(local) == {"qk-test-000001": 1}
    state = replay(tmp_path / "j.jsonl")
    assert state.orders["qk-test-000001"].exchange_id  # acknowledged from the trade
    assert len(state.fills) == 1
