"""The live broker follows the venue: balances, strangers, start and shutdown (issue 11 items 2, 4).

The local exchange's own book (balances, orders per client id) is the independent oracle.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from quantkit import Strategy
from quantkit.brokers.journal import Journal, replay
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.data.live import LiveBarStream
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.engine.live import LiveEngine, LiveSummary
from quantkit.errors import ConfigError, ExchangeError, ReconciliationError, VenueUnavailableError
from quantkit.exchanges import CcxtExchange
from quantkit.strategy.data import SymbolData
from quantkit.testing import LocalExchange
from tests.brokers.test_live_broker import (
    KEY,
    SECRET,
    WARMUP,
    broker_for,
    exchange_orders,
    local_exchange,
    started,
    venue_for,
)

pytestmark = pytest.mark.anyio

SYM = "BTC/USDT"
ORDER = "/api/v3/order"
CHECKS = LiveSafety(reconcile_interval=0.05, unknown_deadline=1.0, shutdown_deadline=60.0)


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


async def until(broker: LiveBroker, done: Callable[[], bool]) -> None:
    with anyio.fail_after(60):
        while not done():
            await broker.events_ready()


async def eventually(done: Callable[[], bool]) -> None:
    """Wait for a condition the broker's periodic check makes true (it emits no event)."""
    with anyio.fail_after(60):
        while not done():
            await anyio.sleep(0.01)


def now_ms() -> int:
    return int(time.time() * 1000)


async def filled(broker: LiveBroker, side: Side, client_id: str, amount: float = 0.01) -> Order:
    order = broker.submit(OrderRequest(SYM, side, amount=amount), client_id, 40_000.0)
    await until(broker, lambda: not order.is_active)
    return order


async def test_a_balance_changed_behind_the_brokers_back_is_a_divergence_that_halts_entries(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=CHECKS), tasks, local)
        bought = await filled(broker, Side.BUY, "qk-test-000001")
        assert bought.status is OrderStatus.FILLED
        await eventually(lambda: not broker.sync.balances_behind)
        assert broker.divergences == []  # own fills are no divergence
        usdt = local.accounts.balances(KEY)["USDT"][0]
        btc = local.accounts.balances(KEY)["BTC"][0]
        # 500 USDT leave the account (a withdrawal, another client): nothing quantkit did
        local.accounts.add_account(KEY, SECRET, {"USDT": usdt - 500, "BTC": btc})
        await eventually(lambda: bool(broker.divergences))
        entry = broker.submit(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-test-000002", 4e4)
        held = broker.market(SYM).round_amount(broker.portfolio.position(SYM).amount)
        exit_ = await filled(broker, Side.SELL, "qk-test-000003", held)  # (the fee took some)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    (gap,) = broker.divergences
    assert (gap.kind, gap.subject) == ("balance", "USDT")
    assert (gap.venue, gap.local) == (pytest.approx(float(usdt - 500)), pytest.approx(float(usdt)))
    assert "venue" in gap.detail and "portfolio" in gap.detail
    assert broker.halted.startswith("new entries halted")
    assert entry.status is OrderStatus.REJECTED and entry.reason == broker.halted
    assert exit_.status is OrderStatus.FILLED  # exits stay allowed
    assert [o.client_id for o in exchange_orders(local)] == ["qk-test-000001", "qk-test-000003"]
    free, locked = local.accounts.balances(KEY)["USDT"]
    assert broker.portfolio.balance == pytest.approx(float(free + locked))  # follows the venue


async def test_divergence_can_be_reported_without_halting(
    local: LocalExchange, tmp_path: Path
) -> None:
    safety = LiveSafety(reconcile_interval=0.05, halt_on_divergence=False)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local)
        local.accounts.add_account(KEY, SECRET, {"USDT": 9_000})
        await eventually(lambda: bool(broker.divergences))
        order = await filled(broker, Side.BUY, "qk-test-000001")
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert (broker.divergences[0].venue, broker.divergences[0].local) == (9_000, 10_000)
    assert broker.halted == ""
    assert order.status is OrderStatus.FILLED


async def test_orders_and_trades_of_another_client_are_reported_never_booked(
    local: LocalExchange, tmp_path: Path
) -> None:
    price = local.accounts.price(SYM)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=CHECKS), tasks, local)
        local.accounts.place(
            KEY,
            "BTCUSDT",
            "BUY",
            "LIMIT",
            Decimal("0.01"),
            price / 2,
            client_id="web_1",
            now=now_ms(),
        )
        other = local.accounts.place(
            KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.02"), client_id="web_2", now=now_ms()
        )
        kinds = lambda: {d.kind for d in broker.divergences}  # noqa: E731
        await eventually(lambda: {"unknown_order", "unknown_trade"} <= kinds())
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    details = {d.kind: d.detail for d in broker.divergences}
    assert "web_1" in details["unknown_order"]
    assert f"trade {other.fills[0].trade_id} " in details["unknown_trade"]
    assert not [e for e in broker.events if isinstance(e, Fill)]  # never booked as ours
    assert replay(tmp_path / "j.jsonl").fills == []
    assert {o.client_id: o.status for o in exchange_orders(local)}["web_1"] == "NEW"  # not ours
    held = float(sum(local.accounts.balances(KEY)["BTC"]))
    assert broker.portfolio.position(SYM).amount == pytest.approx(held)  # follows the venue


async def test_a_start_on_an_account_with_orders_the_journal_does_not_know_is_refused(
    local: LocalExchange, tmp_path: Path
) -> None:
    price = local.accounts.price(SYM)
    local.accounts.place(
        KEY, "BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), price / 2, client_id="web_9", now=now_ms()
    )
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = broker_for(venue, tmp_path / "j.jsonl")
        with pytest.raises(ReconciliationError, match="web_9"):
            await started(broker, tasks, local)
        tasks.cancel_scope.cancel()
    assert [o.status for o in exchange_orders(local)] == ["NEW"]  # left alone


async def test_start_retries_transient_failures_until_its_deadline(
    local: LocalExchange, tmp_path: Path
) -> None:
    local.faults.fail("/api/v3/account", status=503, times=3)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert broker.portfolio.balance == 10_000
    answers = [r.fault for r in local.requests("/api/v3/account")]
    assert answers[:4] == ["503", "503", "503", None]
    local.faults.fail("/api/v3/account", status=503, times=10_000)
    safety = LiveSafety(startup_deadline=0.3)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        again = broker_for(venue, tmp_path / "j2.jsonl", safety=safety)
        with pytest.raises(VenueUnavailableError, match="balances: still failing after"):
            await started(again, tasks, local)
        tasks.cancel_scope.cancel()


async def resting(broker: LiveBroker, local: LocalExchange, client_id: str) -> Order:
    price = broker.market(SYM).round_price(float(local.accounts.price(SYM)) * 0.9)
    request = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=0.01, limit_price=price)
    order = broker.submit(request, client_id, price)
    await until(broker, lambda: order.status is not OrderStatus.NEW)
    return order


async def test_shutdown_retries_cancels_until_every_order_is_closed(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=CHECKS), tasks, local)
        first = await resting(broker, local, "qk-test-000001")
        second = await resting(broker, local, "qk-test-000002")
        local.faults.fail(ORDER, status=503, times=4)  # the first cancels and lookups fail
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert {o.status for o in exchange_orders(local)} == {"CANCELED"}
    assert first.status is second.status is OrderStatus.CANCELED
    assert broker.left_on_venue == ()
    deletes = [r for r in local.requests(ORDER) if r.method == "DELETE"]
    assert any(r.fault == "503" for r in deletes) and len(deletes) > 2


async def test_shutdown_names_the_orders_it_could_not_cancel(
    local: LocalExchange, tmp_path: Path
) -> None:
    safety = LiveSafety(shutdown_deadline=0.5)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local)
        order = await resting(broker, local, "qk-test-000001")
        local.faults.fail(ORDER, status=503, times=100_000)
        started_at = time.monotonic()
        with anyio.fail_after(60):  # gives up after its deadline: bounds a hang only
            await broker.ashutdown(cancel_open=True)
        took = time.monotonic() - started_at
        tasks.cancel_scope.cancel()
    assert broker.left_on_venue == ("qk-test-000001",)
    assert [o.status for o in exchange_orders(local)] == ["NEW"]  # still working there
    assert order.status is OrderStatus.OPEN
    assert took >= safety.shutdown_deadline


def test_safety_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="unknown_deadline"):
        LiveSafety(unknown_deadline=0)
    with pytest.raises(ConfigError, match="balance_tolerance"):
        LiveSafety(balance_tolerance=float("nan"))


# -- through the live engine ----------------------------------------------------------------------


class RestingBid(Strategy):
    """Places one limit buy far below the market, then waits."""

    def on_start(self) -> None:
        self.handled = anyio.Event()
        self.orders: list[Order] = []

    def on_bar(self, bar: SymbolData) -> None:
        if not self.orders:
            self.orders.append(self.buy(amount=0.01, limit=round(float(bar.close[-1]) * 0.5, 2)))
        self.handled.set()


async def run_until_resting(
    local: LocalExchange, engine: LiveEngine, strategy: RestingBid, then: Callable[[], None]
) -> list[LiveSummary | BaseException]:
    """Run ``engine`` until its bid rests on the venue, call ``then``, return how it ended."""
    ended: list[LiveSummary | BaseException] = []

    async def run() -> None:
        try:
            ended.append(await engine.arun())
        except Exception as exc:
            ended.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        with anyio.fail_after(60):
            while not hasattr(strategy, "handled"):
                await anyio.sleep(0.01)
            local.publish()
            await strategy.handled.wait()
            while [o.status for o in exchange_orders(local)] != ["NEW"]:
                await anyio.sleep(0.01)
        then()
    return ended


def engine_for(
    venue: CcxtExchange, path: Path, strategy: Strategy, safety: LiveSafety
) -> LiveEngine:
    return LiveEngine(
        stream=LiveBarStream(venue, [SYM], "1m", websocket=False, poll_interval=0.02),
        strategy=strategy,
        broker=broker_for(venue, path, safety=safety),
        warmup=WARMUP,
        max_bars=1_000,
        handle_signals=False,
        run_id="run-1",
        cancel_on_shutdown=True,
    )


async def test_a_crashed_background_task_still_runs_the_shutdown(
    local: LocalExchange, tmp_path: Path
) -> None:
    strategy = RestingBid()
    bad_request = json.dumps({"code": -1100, "msg": "Illegal characters found in parameter."})
    async with venue_for(local) as venue:
        engine = engine_for(venue, tmp_path / "j.jsonl", strategy, CHECKS)
        crash = lambda: local.faults.fail("/api/v3/myTrades", status=400, body=bad_request)  # noqa: E731
        (ended,) = await run_until_resting(local, engine, strategy, crash)
    assert isinstance(ended, ExchangeError)  # the tracker's crash reaches the user as itself
    assert [o.status for o in exchange_orders(local)] == ["CANCELED"]  # the shutdown ran
    (order,) = strategy.orders
    assert order.status is OrderStatus.CANCELED
    assert replay(tmp_path / "j.jsonl").orders[order.client_id].status is OrderStatus.CANCELED


async def test_the_summary_names_the_orders_left_on_the_venue(
    local: LocalExchange, tmp_path: Path
) -> None:
    strategy = RestingBid()
    safety = LiveSafety(shutdown_deadline=0.3, reconcile_interval=60.0)
    async with venue_for(local) as venue:
        engine = engine_for(venue, tmp_path / "j.jsonl", strategy, safety)

        def stop_with_the_venue_refusing() -> None:
            local.faults.fail(ORDER, status=503, times=100_000)
            engine.request_stop("test over")

        (summary,) = await run_until_resting(local, engine, strategy, stop_with_the_venue_refusing)
    assert isinstance(summary, LiveSummary)
    (order,) = strategy.orders
    assert summary.left_on_venue == (order.client_id,)
    assert f"ORDERS LEFT ON THE VENUE: {order.client_id}" in str(summary)
    assert [o.status for o in exchange_orders(local)] == ["NEW"]  # indeed still there


async def test_a_resumed_journal_whose_orders_the_venue_does_not_know_refuses_to_start(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="run-1") as journal:  # as if from another account, or a reset venue
        journal.intent(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-test-000001")
        journal.ack("qk-test-000001", "999")
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = broker_for(venue, path)
        with pytest.raises(ReconciliationError, match="qk-test-000001 \\(venue id 999\\)"):
            await started(broker, tasks, local)
        tasks.cancel_scope.cancel()
    assert exchange_orders(local) == []  # nothing was sent
    assert Journal.verify(path).ok  # and the journal was closed cleanly
