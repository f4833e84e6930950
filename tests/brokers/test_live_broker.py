"""LiveBroker and LiveEngine against the local exchange, through the real ccxt client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest

from quantkit import Strategy
from quantkit.brokers.breaker import CircuitBreaker
from quantkit.brokers.journal import Journal, client_order_id, replay
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.data.fetch import RetryPolicy
from quantkit.data.live import LiveBarStream
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.engine.live import LiveEngine, LiveSummary
from quantkit.errors import ConfigError
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.strategy.data import SymbolData
from quantkit.testing import LOCAL_CCXT_OPTIONS, Commission, LocalExchange

pytestmark = pytest.mark.anyio

KEY, SECRET = "live-key", "live-secret"
WARMUP = 30
MINUTE_S = 60
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)
# Unknown outcomes resolve within a second here (60 s by default), and nothing waits long.
# start and shutdown deadlines only bound a hang here (a busy machine is slow); tests that need
# them to expire set their own
FAST_SAFETY = LiveSafety(unknown_deadline=1.0, startup_deadline=60.0, shutdown_deadline=60.0)


def local_exchange(bars: int = 80, usdt: float = 10_000.0) -> LocalExchange:
    start = (int(time.time()) // MINUTE_S - WARMUP) * MINUTE_S
    return LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + bars * MINUTE_S, UTC),
        accounts={KEY: (SECRET, {"USDT": usdt})},
        seed="live-broker",
    )


def venue_for(local: LocalExchange, *, timeout: float = 10.0) -> CcxtExchange:
    return CcxtExchange(
        "binance",
        credentials=Credentials(exchange="binance", api_key=KEY, secret=SECRET),
        api_url=local.url,
        options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
        timeout=timeout,
    )


def broker_for(venue: CcxtExchange, path: Path, **kwargs: Any) -> LiveBroker:
    return LiveBroker(
        venue,
        journal=path,
        run_id=kwargs.pop("run_id", "run-1"),
        confirm_live=kwargs.pop("confirm_live", True),
        retry=FAST_RETRY,
        poll_interval=kwargs.pop("poll_interval", 0.05),
        safety=kwargs.pop("safety", FAST_SAFETY),
        **kwargs,
    )


class Alternate(Strategy):
    """Buys 0.01 BTC on one bar, sells it on the next; reports each bar it handled."""

    persistent: ClassVar[tuple[str, ...]] = ("bars",)
    amount: float = 0.01

    def on_start(self) -> None:
        self.bars = 0
        self.handled = anyio.Event()
        self.orders: list[Order] = []

    def on_bar(self, bar: SymbolData) -> None:
        self.bars += 1
        side = self.buy if self.bars % 2 else self.sell
        self.orders.append(side(amount=self.amount))
        self.handled.set()


async def drive(
    local: LocalExchange, engine: LiveEngine, strategy: Alternate, bars: int
) -> LiveSummary:
    """Run the engine while publishing one bar each time the strategy handled the last one."""
    summary: list[LiveSummary] = []

    async def run() -> None:
        summary.append(await engine.arun())

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        for _ in range(bars):
            with anyio.fail_after(60):
                while not hasattr(strategy, "handled"):
                    await anyio.sleep(0.01)
                strategy.handled = anyio.Event()
                local.publish()
                await strategy.handled.wait()
    return summary[0]


def stream_for(venue: CcxtExchange) -> LiveBarStream:
    return LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02)


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


def exchange_orders(local: LocalExchange) -> list[Any]:
    return local.accounts.orders(KEY)


async def test_live_run_places_each_order_once_and_matches_the_account(
    local: LocalExchange, tmp_path: Path
) -> None:
    # A fee-free account: Alternate sells exactly what it bought, which Binance's default fee
    # (0.1 %, charged in the BTC received) would leave short by 0.00001 BTC and so refuse.
    local.accounts.set_commission(KEY, Commission(maker=Decimal(0), taker=Decimal(0)))
    venue = venue_for(local)
    strategy = Alternate()
    broker = broker_for(venue, tmp_path / "journal.jsonl")
    engine = LiveEngine(
        stream=stream_for(venue),
        strategy=strategy,
        broker=broker,
        warmup=WARMUP,
        max_bars=6,
        handle_signals=False,
        run_id="run-1",
    )
    async with venue:
        summary = await drive(local, engine, strategy, 6)
    assert (summary.bars, summary.orders, summary.fills, summary.rejected) == (6, 6, 6, 0)
    placed = exchange_orders(local)
    assert sorted(o.client_id for o in placed) == sorted(o.client_id for o in strategy.orders)
    assert [o.client_id for o in strategy.orders] == [
        client_order_id("run-1", n) for n in range(1, 7)
    ]
    assert all(o.status == "FILLED" for o in placed)
    state = replay(tmp_path / "journal.jsonl")
    assert state.in_doubt == frozenset()
    assert {o.status for o in state.orders.values()} == {OrderStatus.FILLED}
    assert len(state.fills) == 6
    assert state.state["strategy"] == {"bars": 6}
    balances = local.accounts.balances(KEY)
    assert broker.portfolio.balance == pytest.approx(float(sum(balances["USDT"])))
    held = float(sum(balances.get("BTC", (0, 0))))
    assert broker.portfolio.position("BTC/USDT").amount == pytest.approx(held)
    assert str(SECRET) not in (tmp_path / "journal.jsonl").read_text()


async def submit_one(
    broker: LiveBroker, amount: float = 0.01, client_id: str = "qk-test-000001"
) -> Order:
    """Submit a market buy outside an engine and wait for it to end."""
    order = broker.submit(OrderRequest("BTC/USDT", Side.BUY, amount=amount), client_id, 40_000.0)
    with anyio.fail_after(60):
        while order.is_active:
            await broker.events_ready()
    return order


class _Clock:
    now = 0


async def started(broker: LiveBroker, tasks: Any, local: LocalExchange) -> LiveBroker:
    from quantkit.domain.bars import BarSeries

    history: dict[str, BarSeries] = {"BTC/USDT": _empty_series()}
    broker.prepare(history, _Clock())
    await broker.astart(tasks)
    return broker


def _empty_series() -> Any:
    import numpy as np

    from quantkit.domain.bars import BarSeries

    empty = np.empty(0)
    times = np.empty(0, dtype=np.int64)
    return BarSeries("BTC/USDT", 60_000_000_000, times, times, empty, empty, empty, empty, empty)


async def test_an_order_whose_answer_was_lost_is_found_by_client_id_not_placed_again(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
        local.faults.accept_then_fail("/api/v3/order", status=503)
        order = await submit_one(broker)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert order.status is OrderStatus.FILLED
    placed = [o for o in exchange_orders(local) if o.client_id == order.client_id]
    assert len(placed) == 1
    posts = [r for r in local.requests("/api/v3/order") if r.method == "POST"]
    assert len(posts) == 1


async def test_rate_limited_order_is_retried_after_the_wait_and_placed_once(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
        local.faults.rate_limit("/api/v3/order", times=2, retry_after=0.01)
        order = await submit_one(broker)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert order.status is OrderStatus.FILLED
    posts = [r for r in local.requests("/api/v3/order") if r.method == "POST"]
    assert len(posts) == 3
    assert len([o for o in exchange_orders(local) if o.client_id == order.client_id]) == 1


async def test_permanent_refusals_become_rejected_orders_and_local_checks_match_the_backtest(
    local: LocalExchange, tmp_path: Path
) -> None:
    from quantkit.brokers.backtest import BacktestBroker

    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
        broke = await submit_one(broker, amount=5.0, client_id="qk-test-000001")  # > 10k USDT
        market = broker.market("BTC/USDT")
        tiny = broker.submit(
            OrderRequest("BTC/USDT", Side.BUY, amount=market.min_amount / 10),
            "qk-test-000002",
            40_000.0,
        )
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert broke.status is OrderStatus.REJECTED
    assert "insufficient" in broke.reason
    assert tiny.status is OrderStatus.REJECTED
    backtest = BacktestBroker(cash=10_000, markets={"BTC/USDT": market})
    backtest.prepare({"BTC/USDT": _empty_series()}, _Clock())
    same = backtest.submit(
        OrderRequest("BTC/USDT", Side.BUY, amount=market.min_amount / 10), "x", 40_000.0
    )
    assert tiny.reason == same.reason  # the same words as the backtest broker
    assert [o.client_id for o in exchange_orders(local)] == []
    state = replay(tmp_path / "j.jsonl")
    assert {o.status for o in state.orders.values()} == {OrderStatus.REJECTED}


async def test_an_order_whose_lookups_keep_failing_stays_unknown_and_is_never_sent_again(
    local: LocalExchange, tmp_path: Path
) -> None:
    breaker = CircuitBreaker(failures=1, reset_after=3600.0)
    safety = LiveSafety(unknown_deadline=0.3, shutdown_deadline=0.5)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(
            broker_for(venue, tmp_path / "j.jsonl", breaker=breaker, safety=safety), tasks, local
        )
        local.faults.fail("/api/v3/order", status=500, times=10_000)  # also every lookup
        first = broker.submit(
            OrderRequest("BTC/USDT", Side.BUY, amount=0.01), "qk-test-000001", 40_000.0
        )
        sent = time.monotonic()
        with anyio.fail_after(60):  # lookups go on well past the deadline: failures prove nothing
            while not [
                r
                for r in local.requests("/api/v3/order")
                if r.method == "GET" and r.time > sent + 3 * safety.unknown_deadline
            ]:
                await anyio.sleep(0.02)
        assert first.status is OrderStatus.NEW
        assert broker.unknown_orders() == [first]
        second = broker.submit(
            OrderRequest("BTC/USDT", Side.BUY, amount=0.01), "qk-test-000002", 40_000.0
        )
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    posts = [r for r in local.requests("/api/v3/order") if r.method == "POST"]
    assert len(posts) == 1  # never sent again
    assert second.status is OrderStatus.REJECTED
    assert second.reason.startswith("circuit breaker open")
    assert first.status is OrderStatus.NEW
    assert broker.left_on_venue == ("qk-test-000001",)  # named: it may be on the venue
    assert replay(tmp_path / "j.jsonl").in_doubt == frozenset({"qk-test-000001"})


async def test_live_trading_needs_the_confirmation_flag(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = broker_for(venue, tmp_path / "j.jsonl", confirm_live=False)
        with pytest.raises(ConfigError, match="confirm_live=True"):
            await started(broker, tasks, local)
        tasks.cancel_scope.cancel()
    assert not (tmp_path / "j.jsonl").exists()


async def test_restart_adopts_orders_the_venue_has_and_drops_those_it_never_got(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    reached, lost = client_order_id("run-1", 1), client_order_id("run-1", 2)
    request = OrderRequest("BTC/USDT", Side.BUY, amount=0.01)
    with Journal(path, run_id="run-1") as journal:  # the process died right after sending
        journal.intent(request, reached)
        journal.intent(request, lost)
    now_ms = int(time.time() * 1000)
    from decimal import Decimal

    local.accounts.place(
        KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), client_id=reached, now=now_ms
    )
    # the deadline counts from the intent: 5 s leave a slow start on a busy machine room
    safety = LiveSafety(unknown_deadline=5.0, startup_deadline=60.0, shutdown_deadline=60.0)
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, path, safety=safety), tasks, local)
        orders = {o.client_id: o for o in broker.sync.orders.values()}
        resume = broker.resume_state()
        assert orders[lost].status is OrderStatus.NEW  # unknown until the deadline has passed
        with anyio.fail_after(60):
            while orders[lost].status is OrderStatus.NEW:
                await broker.events_ready()
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert orders[reached].status is OrderStatus.FILLED
    assert orders[lost].status is OrderStatus.REJECTED
    assert orders[lost].reason.startswith("never placed")
    assert not [r for r in local.requests("/api/v3/order") if r.method == "POST"]
    assert resume["seq"] == 2  # the next order of the run is number 3
    state = replay(path)
    assert len(state.fills) == 1 and state.fills[0].client_id == reached
    assert broker.portfolio.position("BTC/USDT").amount == pytest.approx(
        float(sum(local.accounts.balances(KEY)["BTC"]))
    )
    # A second restart books nothing twice.
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        again = await started(broker_for(venue, path), tasks, local)
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert len(replay(path).fills) == 1


async def test_fills_arrive_over_the_websocket_and_a_dropped_stream_is_reconciled(
    local: LocalExchange, tmp_path: Path
) -> None:
    from decimal import Decimal

    price = float(local.accounts.price("BTC/USDT"))
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        # Polling every hour: only the websocket (or a reconnect's poll) can report fills.
        broker = await started(
            broker_for(venue, tmp_path / "j.jsonl", poll_interval=3600.0, watch_timeout=3600.0),
            tasks,
            local,
        )
        with anyio.fail_after(60):  # wait until the trade stream is subscribed
            while not local.ws_api.user_streams():
                await anyio.sleep(0.01)
        far = OrderRequest(
            "BTC/USDT", Side.BUY, type=OrderType.LIMIT, amount=0.01, limit_price=price * 0.5
        )
        bid = broker.submit(
            OrderRequest(
                "BTC/USDT", Side.BUY, type=OrderType.LIMIT, amount=0.01, limit_price=price * 0.999
            ),
            "qk-test-000001",
            price,
        )
        with anyio.fail_after(60):
            while bid.status is OrderStatus.NEW:
                await broker.events_ready()
        local.accounts.set_price(
            "BTC/USDT", Decimal(str(price * 0.99)), now=int(time.time() * 1000)
        )
        with anyio.fail_after(60):
            while bid.is_active:
                await broker.events_ready()
        assert bid.status is OrderStatus.FILLED
        # A fill while the stream is down reaches the broker through the reconnect's poll.
        low = broker.submit(far, "qk-test-000002", price)
        with anyio.fail_after(60):
            while low.status is OrderStatus.NEW:
                await broker.events_ready()
        local.mute_websockets(True)
        local.accounts.set_price("BTC/USDT", Decimal(str(price * 0.4)), now=int(time.time() * 1000))
        local.mute_websockets(False)
        local.drop_websockets()
        with anyio.fail_after(60):
            while low.is_active:
                await broker.events_ready()
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert low.status is OrderStatus.FILLED
    assert len(replay(tmp_path / "j.jsonl").fills) == 2
