"""The fault matrix of the local exchange against the live broker: the invariants in every cell.

Faults (``quantkit.testing.FaultPlan``, Binance's failure modes) x actions (create, cancel,
cancelReplace). In each cell, read from the local exchange's own book: no client id placed more
than once, every venue trade booked exactly once, the order's final status the venue's, and the
portfolio equal to the venue's balances.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import replay
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.testing import FaultPlan, LocalExchange
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
CLIENT_TIMEOUT = 1.0
SAFETY = LiveSafety(unknown_deadline=1.5, shutdown_deadline=5.0)

VENUE_STATUS = {
    "NEW": OrderStatus.OPEN,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
}

Plan = Callable[[FaultPlan, str], None]
"""Plans one fault for requests of an HTTP method."""

FAULTS: dict[str, Plan] = {
    "500-before": lambda f, m: f.server_error(ORDER, method=m),
    "500-after": lambda f, m: f.server_error(ORDER, method=m, acted=True),
    "timeout-before": lambda f, m: f.timeout(ORDER, method=m, seconds=3 * CLIENT_TIMEOUT),
    "timeout-after": lambda f, m: f.timeout(
        ORDER, method=m, acted=True, seconds=3 * CLIENT_TIMEOUT
    ),
    "drop-before": lambda f, m: f.disconnect(ORDER, method=m, times=2),
    "drop-after": lambda f, m: f.disconnect(ORDER, method=m, acted=True, times=2),
    "1007-executed-later": lambda f, m: f.unknown_outcome(ORDER, method=m, execute_after=0.5),
    "1007-never": lambda f, m: f.unknown_outcome(ORDER, method=m, execute_after=None),
    "1008": lambda f, m: f.overloaded(ORDER, method=m, times=2),
    "429": lambda f, m: f.rate_limit(ORDER, times=2, retry_after=0.05),
    "lookups-fail-2s": lambda f, m: (
        f.unknown_outcome(ORDER, method=m, execute_after=0.5),
        f.fail(ORDER, status=503, method="GET", for_seconds=2.0),
    ),
}


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


async def until(broker: LiveBroker, done: Callable[[], bool], timeout: float = 20.0) -> None:
    with anyio.fail_after(timeout):
        while not done():
            await broker.events_ready()


def check_invariants(local: LocalExchange, broker: LiveBroker, path: Path) -> None:
    placed = exchange_orders(local)
    counts = Counter(o.client_id for o in placed)
    assert not counts or max(counts.values()) == 1  # no client id placed twice
    state = replay(path)
    venue_trades = sorted(str(f.trade_id) for o in placed for f in o.fills)
    assert sorted(state.trade_ids) == venue_trades  # each venue trade booked exactly once
    ours = {o.client_id: o for o in broker.sync.orders.values()}
    for venue_order in placed:
        order = ours[venue_order.client_id]
        assert order.status is VENUE_STATUS[venue_order.status], order.client_id
    for client_id, order in ours.items():
        if client_id not in counts:
            assert order.status is OrderStatus.REJECTED, client_id  # never reached the venue
    balances = local.accounts.balances(KEY)
    assert broker.portfolio.balance == pytest.approx(float(sum(balances["USDT"])))
    held = float(sum(balances.get("BTC", (0, 0))))
    assert broker.portfolio.position(SYM).amount == pytest.approx(held)
    assert broker.divergences == []


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_create(local: LocalExchange, tmp_path: Path, fault: str) -> None:
    path = tmp_path / "j.jsonl"
    async with venue_for(local, timeout=CLIENT_TIMEOUT) as venue, anyio.create_task_group() as tg:
        broker = await started(broker_for(venue, path, safety=SAFETY), tg, local)
        FAULTS[fault](local.faults, "POST")
        order = broker.submit(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-test-000001", 4e4)
        await until(broker, lambda: not order.is_active)
        await broker.ashutdown(cancel_open=True)
        tg.cancel_scope.cancel()
    check_invariants(local, broker, path)
    reached = fault.endswith(("after", "later", "1008", "429", "2s"))
    assert order.status is (OrderStatus.FILLED if reached else OrderStatus.REJECTED)
    posts = [r for r in local.requests(ORDER) if r.method == "POST"]
    assert len(posts) == (3 if fault in ("1008", "429") else 1)  # only the safe ones resent


async def resting(broker: LiveBroker, local: LocalExchange, client_id: str) -> Order:
    price = broker.market(SYM).round_price(float(local.accounts.price(SYM)) * 0.9)
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.01, limit_price=price)
    order = broker.submit(request, client_id, price)
    await until(broker, lambda: order.status is not OrderStatus.NEW)
    return order


CANCEL_FAULTS = [f for f in FAULTS if not f.startswith(("1007", "lookups"))]


@pytest.mark.parametrize("fault", CANCEL_FAULTS)
async def test_cancel(local: LocalExchange, tmp_path: Path, fault: str) -> None:
    path = tmp_path / "j.jsonl"
    async with venue_for(local, timeout=CLIENT_TIMEOUT) as venue, anyio.create_task_group() as tg:
        broker = await started(broker_for(venue, path, safety=SAFETY), tg, local)
        order = await resting(broker, local, "qk-test-000001")
        FAULTS[fault](local.faults, "DELETE")
        broker.cancel(order)
        await until(broker, lambda: not order.is_active)
        await broker.ashutdown(cancel_open=True)
        tg.cancel_scope.cancel()
    check_invariants(local, broker, path)
    assert order.status is OrderStatus.CANCELED
    assert [o.status for o in exchange_orders(local)] == ["CANCELED"]


@pytest.mark.parametrize(
    "half",
    [
        {},
        {"unknown": True, "execute_after": 0.5},
        {"unknown": True, "execute_after": None},
    ],
    ids=["2021", "1007-new-placed-later", "1007-new-never"],
)
async def test_cancel_replace_half_success(
    local: LocalExchange, tmp_path: Path, half: dict[str, object]
) -> None:
    path = tmp_path / "j.jsonl"
    async with venue_for(local, timeout=CLIENT_TIMEOUT) as venue, anyio.create_task_group() as tg:
        broker = await started(broker_for(venue, path, safety=SAFETY), tg, local)
        old = await resting(broker, local, "qk-test-000001")
        local.faults.half_replace(**half)  # type: ignore[arg-type]
        price = old.request.limit_price or 0.0
        request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.02, limit_price=price)
        new = broker.amend(old, request, "qk-test-000002", price)
        await until(broker, lambda: new.status is not OrderStatus.NEW and not old.is_active)
        await broker.ashutdown(cancel_open=False)
        tg.cancel_scope.cancel()
    check_invariants(local, broker, path)
    on_venue = {o.client_id: o.status for o in exchange_orders(local)}
    assert on_venue["qk-test-000001"] == "CANCELED"
    if half.get("execute_after") is not None:
        assert (new.status, on_venue["qk-test-000002"]) == (OrderStatus.OPEN, "NEW")
    else:
        assert new.status is OrderStatus.REJECTED and "qk-test-000002" not in on_venue
    assert len(local.requests(REPLACE)) == 1  # never sent again
