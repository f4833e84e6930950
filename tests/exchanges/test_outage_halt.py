"""A venue unreachable for longer than ``unreachable_after`` halts new entries, exits go on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from quantkit.brokers.live import LiveBroker
from quantkit.data.fetch import RetryPolicy
from quantkit.domain.bars import BarSeries
from quantkit.domain.order import Order, OrderRequest, OrderStatus, Side
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.testing import LocalExchange
from quantkit.testing.faults import LOOKUP_PATHS

pytestmark = pytest.mark.anyio

KEY, SECRET = "halt-key-19", "halt-secret-c3"


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    start = (int(time.time()) // 60 - 30) * 60
    exchange = LocalExchange(
        live=True,
        warmup=30,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 80 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000.0})},
    )
    async with exchange:
        yield exchange


class _Clock:
    now = 0


def _empty() -> BarSeries:
    none, times = np.empty(0), np.empty(0, dtype=np.int64)
    return BarSeries("BTC/USDT", 60_000_000_000, times, times, none, none, none, none, none)


async def until(condition: Any) -> None:
    with anyio.fail_after(60):
        while not condition():
            await anyio.sleep(0.01)


async def ended(broker: LiveBroker, order: Order) -> Order:
    with anyio.fail_after(60):
        while order.is_active:
            await broker.events_ready()
    return order


def buy_or_sell(side: Side, amount: float = 0.01) -> OrderRequest:
    return OrderRequest("BTC/USDT", side, amount=amount)


async def test_new_entries_halt_while_the_venue_is_unreachable(
    local: LocalExchange, tmp_path: Path
) -> None:
    keys = Credentials(exchange="binance", api_key=KEY, secret=SECRET)
    venue = CcxtExchange(
        "binance", credentials=keys, api_url=local.url, rate_limit=False, unreachable_after=0.05
    )
    broker = LiveBroker(
        venue,
        journal=tmp_path / "journal.jsonl",
        run_id="halt-1",
        confirm_live=True,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, jitter=0.0),
        poll_interval=0.02,
        watch_trades=False,
    )
    async with venue, anyio.create_task_group() as tasks:
        broker.prepare({"BTC/USDT": _empty()}, _Clock())
        await broker.astart(tasks)
        first = await ended(broker, broker.submit(buy_or_sell(Side.BUY), "qk-halt-1", 40_000.0))
        assert first.status is OrderStatus.FILLED
        held = (await venue.balances())["BTC"].free  # 0.01 less the fee taken in BTC

        # Every signed lookup (the broker's polls) fails for a minute: the venue is "down".
        local.faults.fail(LOOKUP_PATHS, status=503, method="GET", for_seconds=60)
        await until(lambda: venue.halt_reason)
        entry = broker.submit(buy_or_sell(Side.BUY), "qk-halt-2", 40_000.0)
        exit_ = broker.submit(buy_or_sell(Side.SELL, held), "qk-halt-3", 40_000.0)
        assert entry.status is OrderStatus.REJECTED
        assert entry.reason.startswith("binance unreachable for ")
        assert "no new entries until it answers again" in entry.reason
        assert exit_.status is not OrderStatus.REJECTED  # closing a position stays allowed

        local.faults.clear()  # the venue answers again: the next poll clears the halt
        await until(lambda: not venue.halt_reason)
        assert broker.halted == ""
        again = await ended(broker, broker.submit(buy_or_sell(Side.BUY), "qk-halt-4", 40_000.0))
        assert again.status is OrderStatus.FILLED
        assert (await ended(broker, exit_)).status is OrderStatus.FILLED
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    placed = sorted(o.client_id for o in local.accounts.orders(KEY))
    assert placed == ["qk-halt-1", "qk-halt-3", "qk-halt-4"]  # the halted entry never left
