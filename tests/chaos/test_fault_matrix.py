"""The fault matrix: every venue failure x every order endpoint, driven through a LiveBroker.

Each cell runs a `LiveBroker` (the real ccxt `CcxtExchange`) against a fresh `LocalExchange`,
plans one fault on one endpoint (create, cancel, cancelReplace, or the OCO column: placing a
bracket's venue OCO list, ``POST /api/v3/orderList/oco``, and canceling it, ``DELETE`` of a leg
or of the list), carries the operation out and waits until the broker has settled it. Then
the invariants of issue #11 must hold:

* no intent is placed more than once (venue orders per client id);
* every venue trade is booked exactly once (journal trade ids == venue trade ids);
* no order is left untracked (every venue order is in the journal, with the venue's state);
* the final portfolio equals the venue's balances.

Cells the current broker fails are ``xfail(strict=True)`` with the reason.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import replay
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.testing import LOOKUP_PATHS, LocalExchange
from tests.brokers.test_live_broker import KEY, broker_for, local_exchange, started, venue_for

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]

SYM = "BTC/USDT"
CLIENT_TIMEOUT_S = 1.0
HOLD_S = 2.5  # the server holds a "timed out" answer this long: past the client's timeout
SETTLE_S = 12.0  # a cell fails if the broker has not settled by then
LOOKUP_SPAN_S = 1.5  # "lookups fail for 30 s", shortened: the broker's backoff is the same
SAFETY = LiveSafety(unknown_deadline=4.0)
"""A "does not exist" answer proves an order never placed 4 s after its last send: past the
local exchange's longest late execution (3 s), as Binance's own delays are past ccxt's 10 s."""
_RNG = random.Random("fault-matrix")
UNKNOWN_DELAYS = {
    op: round(_RNG.uniform(0.5, 3.0), 2)
    for op in ("create", "cancel", "replace", "oco", "oco-cancel")
}
"""-1007: the request takes effect this many seconds later (0.5-3 s, fixed by a seeded RNG)."""

ENDPOINTS: dict[str, tuple[str | tuple[str, ...], str]] = {
    "create": ("/api/v3/order", "POST"),
    "cancel": ("/api/v3/order", "DELETE"),
    "replace": ("/api/v3/order/cancelReplace", "POST"),
    "oco": ("/api/v3/orderList/oco", "POST"),
    # Binance cancels the whole list when either leg is canceled (DELETE /api/v3/order) or the
    # list is (DELETE /api/v3/orderList): the fault waits on both, whichever the broker sends.
    "oco-cancel": (("/api/v3/order", "/api/v3/orderList"), "DELETE"),
}
FAULTS = [
    "500 before", "500 after", "-1007 later", "-1008", "429 retry-after", "418 retry-after",
    "timeout before", "timeout after", "drop before", "drop after", "lookups fail",
]  # fmt: skip


def plan(local: LocalExchange, fault: str, op: str) -> None:
    """Plan ``fault`` on the endpoint of ``op``."""
    path, method = ENDPOINTS[op]
    faults = local.faults
    acted = fault.endswith("after")
    times = 2 if method == "DELETE" else 1  # aiohttp re-sends a DELETE once on a drop
    if fault.startswith("500"):
        faults.server_error(path, method=method, acted=acted)
    elif fault == "-1007 later":
        faults.unknown_outcome(path, method=method, execute_after=UNKNOWN_DELAYS[op])
    elif fault == "-1008":
        faults.overloaded(path, method=method)
    elif fault.endswith("retry-after"):
        faults.fail(path, method=method, status=int(fault[:3]), retry_after=0.2)
    elif fault.startswith("timeout"):
        faults.timeout(path, method=method, acted=acted, seconds=HOLD_S)
    elif fault.startswith("drop"):
        faults.disconnect(path, method=method, acted=acted, times=times)
    else:  # the answer is lost after acting, and every lookup fails for a while
        faults.server_error(path, method=method, acted=True)
        faults.fail(LOOKUP_PATHS, method="GET", status=503, for_seconds=LOOKUP_SPAN_S)


async def until(broker: LiveBroker, done: Callable[[], bool]) -> None:
    with anyio.fail_after(SETTLE_S):
        while not done():
            await broker.events_ready()


def limit_buy(local: LocalExchange, broker: LiveBroker, amount: float = 0.01) -> OrderRequest:
    price = broker.market(SYM).round_price(float(local.accounts.price("BTCUSDT")) * 0.9)
    return OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=amount, limit_price=price)


def bracket_buy(local: LocalExchange, broker: LiveBroker) -> OrderRequest:
    """A market buy of 0.01 BTC whose bracket (SL -10 %, TP +10 %) goes out as a venue OCO."""
    market, price = broker.market(SYM), float(local.accounts.price("BTCUSDT"))
    sl, tp = market.round_price(price * 0.9), market.round_price(price * 1.1)
    return OrderRequest(SYM, Side.BUY, amount=0.01, stop_loss=sl, take_profit=tp)


def legs_of(broker: LiveBroker, entry: Order) -> list[Order]:
    """The bracket's legs the broker tracks (empty until it sends the list)."""
    ids = (f"{entry.client_id}-tp", f"{entry.client_id}-sl")
    return [broker.sync.orders[i] for i in ids if i in broker.sync.orders]


def legs_are(broker: LiveBroker, entry: Order, done: Callable[[Order], bool]) -> bool:
    legs = legs_of(broker, entry)
    return len(legs) == 2 and all(done(leg) for leg in legs)


async def operate_oco(local: LocalExchange, broker: LiveBroker, op: str, fault: str) -> list[Order]:
    """Place a bracket entry: its OCO faulted, or placed and canceled with the cancel faulted."""
    if op == "oco":
        plan(local, fault, op)
    entry = broker.submit(bracket_buy(local, broker), "qk-mx-000001", 40_000)
    if op == "oco":  # the list's outcome is settled: on the venue, or refused and held
        await until(
            broker, lambda: legs_are(broker, entry, lambda o: o.status is not OrderStatus.NEW)
        )
    else:
        await until(broker, lambda: legs_are(broker, entry, lambda o: o.status is OrderStatus.OPEN))
        plan(local, fault, op)
        broker.cancel(legs_of(broker, entry)[0])  # the venue ends the whole list
        await until(broker, lambda: legs_are(broker, entry, lambda o: not o.is_active))
    return [entry, *legs_of(broker, entry)]


async def operate(local: LocalExchange, broker: LiveBroker, op: str, fault: str) -> list[Order]:
    """Carry out ``op`` with ``fault`` planned; return the broker's orders once settled."""
    if op.startswith("oco"):
        return await operate_oco(local, broker, op, fault)
    if op == "create":
        plan(local, fault, op)
        order = broker.submit(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-mx-000001", 40_000)
        await until(broker, lambda: not order.is_active)
        return [order]
    resting = broker.submit(limit_buy(local, broker), "qk-mx-000001", 40_000)
    await until(broker, lambda: resting.status is OrderStatus.OPEN)
    plan(local, fault, op)
    if op == "cancel":
        broker.cancel(resting)
        await until(broker, lambda: not resting.is_active)
        return [resting]
    request = limit_buy(local, broker, amount=0.02)
    new = broker.amend(resting, request, "qk-mx-000002", 40_000)
    await until(
        broker,
        lambda: (
            new.status not in (OrderStatus.NEW,) and (not resting.is_active or not new.is_active)
        ),
    )
    return [resting, new]


_VENUE_STATUS = {
    "NEW": OrderStatus.OPEN,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
}


def agrees(local: LocalExchange, broker: LiveBroker) -> bool:
    """Whether the broker's orders and booked trades are what the venue has."""
    orders = broker.sync.orders
    for venue_order in local.accounts.orders(KEY):
        mine = orders.get(venue_order.client_id)
        if mine is None or mine.status is not _VENUE_STATUS[venue_order.status]:
            return False
        if any(str(f.trade_id) not in broker.sync.trade_ids for f in venue_order.fills):
            return False
    return True


async def settle(local: LocalExchange, broker: LiveBroker) -> None:
    """Wait for late (-1007) requests to land, then for the broker to agree with the venue.

    Gives up after `SETTLE_S` without failing: the invariants then say what is wrong.
    """
    with anyio.move_on_after(SETTLE_S):
        while local.pending.count or not agrees(local, broker):
            await anyio.sleep(0.05)


def check_protection(local: LocalExchange, broker: LiveBroker) -> None:
    """After an OCO placement cell: what the entry bought is protected exactly once.

    Either the venue's list holds it, or (the venue proved it never got the list, or refused
    it) the broker holds the bracket; never both, never neither. 0.01 BTC bought, less the
    0.1 % fee the venue keeps in BTC: 0.00999 BTC.
    """
    listed = sum((m.above.left for m in local.accounts.order_lists.open_lists(KEY)), Decimal(0))
    held = sum((Decimal(repr(b.amount)) for b in broker.brackets.held.get(SYM, [])), Decimal(0))
    assert (listed == 0) != (held == 0), f"protected twice or not at all: {listed=} {held=}"
    assert listed + held == Decimal("0.00999")


def check_invariants(local: LocalExchange, broker: LiveBroker, journal: Path) -> None:
    on_venue = local.accounts.orders(KEY)
    counts = Counter(o.client_id for o in on_venue)
    assert not counts or max(counts.values()) == 1, f"an intent placed twice: {counts}"
    state = replay(journal)
    assert set(counts) <= set(state.orders), "a venue order the journal does not know"
    for venue_order in on_venue:  # the journal ends where the venue is
        journaled = state.orders[venue_order.client_id].status
        expected = _VENUE_STATUS[venue_order.status]
        assert journaled is expected, f"{venue_order.client_id}: {journaled} vs {expected}"
    trades = sorted(str(f.trade_id) for o in on_venue for f in o.fills)
    assert sorted(state.trade_ids) == trades, "a venue trade never booked"
    assert len(state.fills) == len(trades), "a venue trade booked twice"
    balances = local.accounts.balances(KEY)
    usdt = float(sum(balances["USDT"]))
    btc = float(sum(balances.get("BTC", (0, 0))))
    assert broker.portfolio.balance == pytest.approx(usdt, abs=1e-9)
    assert broker.portfolio.position(SYM).amount == pytest.approx(btc, abs=1e-12)


XFAIL: dict[tuple[str, str], str] = {}
"""Cells the current LiveBroker fails, with why. Empty since the broker resolves unknown outcomes
(before that: create x -1007 later and create x lookups failing placed an intent twice, cancel x
-1008 never re-sent the cancel, cancelReplace x lookups failing left the replacement untracked)."""


def cells() -> list[object]:
    params: list[object] = []
    for op in ENDPOINTS:
        for fault in FAULTS:
            reason = XFAIL.get((fault, op))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(fault, op, marks=marks, id=f"{op}-{fault}"))
    return params


@pytest.mark.parametrize(("fault", "op"), cells())
async def test_fault_matrix_cell_keeps_the_invariants(fault: str, op: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    async with local_exchange() as local:
        async with (
            venue_for(local, timeout=CLIENT_TIMEOUT_S) as venue,
            anyio.create_task_group() as tasks,
        ):
            broker = await started(broker_for(venue, journal, safety=SAFETY), tasks, local)
            await operate(local, broker, op, fault)
            await settle(local, broker)
            if op == "oco":
                check_protection(local, broker)
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
        check_invariants(local, broker, journal)
