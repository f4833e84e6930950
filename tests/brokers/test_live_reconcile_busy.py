"""Balance reconciliation under load: no false divergence, real ones still found (issue 11 item 2).

A busy account (hundreds of market orders in flight, fills streaming in, balance checks every few
milliseconds) must never report a divergence: every check either compares a snapshot with a
portfolio that booked every trade in it, or waits for the next round. A change made outside
quantkit must still be reported with both figures. The local exchange's own book is the oracle.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.brokers.venue import TradingVenue
from quantkit.domain.order import Order, OrderRequest, OrderStatus, Side
from quantkit.domain.venue import VenueTrade
from quantkit.exchanges import CcxtExchange
from quantkit.testing import LocalExchange
from tests.brokers.test_live_broker import (
    FAST_RETRY,
    KEY,
    SECRET,
    WARMUP,
    broker_for,
    started,
    venue_for,
)

pytestmark = pytest.mark.anyio

SYM = "BTC/USDT"
BUSY = LiveSafety(
    reconcile_interval=0.005, unknown_deadline=1.0, startup_deadline=60.0, shutdown_deadline=60.0
)
ORDERS = 640  # more than one page (500) of the venue's trades within a minute
AMOUNT = 0.001


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    start = (int(time.time()) // 60 - WARMUP) * 60
    exchange = LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 80 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 1_000_000.0, "BTC": 1.0})},
        seed="busy-reconcile",
    )
    async with exchange:
        yield exchange


def venue_totals(local: LocalExchange) -> dict[str, float]:
    return {a: float(free + locked) for a, (free, locked) in local.accounts.balances(KEY).items()}


async def busy_trading(broker: LiveBroker, count: int, first: int = 1) -> list[Order]:
    """Submit ``count`` market orders in bursts of eight, never waiting for one to settle."""
    orders: list[Order] = []
    with anyio.fail_after(240):
        for number in range(first, first + count):
            side = Side.BUY if number % 2 else Side.SELL
            request = OrderRequest(SYM, side, amount=AMOUNT)
            orders.append(broker.submit(request, f"qk-busy-{number:06d}", 40_000.0))
            if number % 8 == 0:
                await broker.events_ready()  # the venue answered something meanwhile
        while any(o.is_active for o in orders):
            await broker.events_ready()
    return orders


async def settled(broker: LiveBroker) -> None:
    """Wait until a balance check found the account settled (one poll after the last fill)."""
    with anyio.fail_after(60):
        broker.sync.poke()
        while broker.sync.balances_behind:
            await anyio.sleep(0.005)


async def test_a_busy_account_reports_no_divergence_and_ends_equal_to_the_venue(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = broker_for(venue, tmp_path / "j.jsonl", safety=BUSY, poll_interval=0.005)
        await started(broker, tasks, local)
        orders = await busy_trading(broker, ORDERS)
        await settled(broker)
        found = list(broker.divergences)
        halted = broker.halted
        portfolio = broker.portfolio
        cash, held = portfolio.cash["USDT"], portfolio.position(SYM).amount
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert [d.detail for d in found] == []
    assert halted == ""
    assert [o.status for o in orders] == [OrderStatus.FILLED] * ORDERS  # nothing halted
    on_venue = venue_totals(local)
    assert cash == pytest.approx(on_venue["USDT"], rel=1e-12)
    assert held == pytest.approx(on_venue["BTC"], rel=1e-12)
    assert len(local.accounts.trades(KEY, "BTCUSDT")) == ORDERS


async def test_a_balance_changed_outside_during_busy_trading_is_reported_with_both_figures(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = broker_for(venue, tmp_path / "j.jsonl", safety=BUSY, poll_interval=0.005)
        await started(broker, tasks, local)
        await busy_trading(broker, 40)
        await settled(broker)
        assert broker.divergences == []
        # 250 USDT leave the account (a withdrawal, another client), orders keep flowing
        totals = venue_totals(local)
        usdt, btc = Decimal(str(totals["USDT"])), Decimal(str(totals["BTC"]))
        local.accounts.add_account(KEY, SECRET, {"USDT": usdt - 250, "BTC": btc})
        later = await busy_trading(broker, 40, first=41)
        with anyio.fail_after(60):
            while not broker.divergences:
                await anyio.sleep(0.005)  # (the periodic check emits no event)
        halted = broker.halted
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    (gap,) = broker.divergences
    assert (gap.kind, gap.subject) == ("balance", "USDT")
    assert gap.venue - gap.local == pytest.approx(-250, abs=1e-6)  # both figures of one moment
    assert f"{gap.venue:.10g}" in gap.detail and f"{gap.local:.10g}" in gap.detail
    assert halted.startswith("new entries halted")
    assert {o.status for o in later} <= {OrderStatus.FILLED, OrderStatus.REJECTED}
    assert any(o.status is OrderStatus.FILLED for o in later if o.side is Side.SELL)  # exits go


class LateTradeList:
    """The real client, but the venue's trade list shows new trades only after a few reads.

    Binance keeps balances and the trade list in separate services; an execution can reach the
    balances before ``myTrades`` shows it. Everything else goes to the real ccxt client.
    """

    def __init__(self, venue: CcxtExchange, reads: int) -> None:
        self._venue = venue
        self._reads = reads
        self.hidden = 0
        self.shown = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)

    async def my_trades(self, symbol: str, since_ms: int | None = None) -> list[VenueTrade]:
        trades = await self._venue.my_trades(symbol, since_ms)
        if trades and self.hidden < self._reads:
            self.hidden += 1
            return []
        if trades:
            self.shown.set()
        return trades


async def test_fills_the_trade_list_shows_late_are_no_divergence(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as real, anyio.create_task_group() as tasks:
        venue = LateTradeList(real, reads=25)
        broker = LiveBroker(
            cast(TradingVenue, venue),
            journal=tmp_path / "j.jsonl",
            run_id="run-1",
            confirm_live=True,
            retry=FAST_RETRY,
            poll_interval=0.005,
            watch_trades=False,  # (the trade stream would show the trade at once)
            safety=BUSY,
        )
        await started(broker, tasks, local)
        order = broker.submit(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-late-000001", 4e4)
        with anyio.fail_after(60):
            while order.is_active:
                await broker.events_ready()
        await settled(broker)
        found, cash = list(broker.divergences), broker.portfolio.cash["USDT"]
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert venue.hidden == 25 and venue.shown.is_set()  # the balances ran ahead 25 reads long
    assert [d.detail for d in found] == []
    assert order.status is OrderStatus.FILLED
    assert cash == pytest.approx(venue_totals(local)["USDT"], rel=1e-12)
