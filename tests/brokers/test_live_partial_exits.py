"""Held brackets of entries that fill in parts, live: every exit has a fresh, unique client id.

A LiveBroker (the real ccxt client) trades against a LocalExchange whose resting orders fill in
three parts (`PartialFills`). A limit buy of 0.03 BTC at 39,000 brings 0.01 x 0.999 = 0.00999
BTC per part (the 0.1 % fee is kept in BTC). The bracket has a stop only, so the broker holds
it. When a closed bar reaches the stop between two parts, the exit sells what is held; the next
part is protected again, and its exit must NOT reuse the first exit's client id: Binance accepts
a ``newClientOrderId`` again once the order that had it is filled, so a reused id would be a
second real order under the same name (and the broker's book would overwrite the first one).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

import quantkit as qk
from quantkit.brokers.live_held import HeldBracket
from quantkit.domain.bars import Bar
from quantkit.domain.order import OrderStatus, OrderType
from quantkit.testing import LocalExchange
from tests.brokers.test_live_brackets import until
from tests.brokers.test_live_broker import KEY, broker_for, started, venue_for
from tests.brokers.test_live_partial_fills import SYM, assert_booked_once, btc, partial_local

pytestmark = pytest.mark.anyio


def crash_bar(close: float) -> Bar:
    """A closed bar whose low (36,900) is below the 37,000 stop."""
    now = time.time_ns()
    return Bar(SYM, now - 60_000_000_000, now, 39_000.0, 39_000.0, 36_900.0, close, 1.0)


def held_amount(broker: qk.LiveBroker) -> float:
    return sum(b.amount for b in broker.brackets.held.get(SYM, []))


def records(journal: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


async def sell_one_part(
    broker: qk.LiveBroker, local: LocalExchange, entry: qk.Order, part: int, price: float
) -> qk.Order:
    """Fill the entry's next part, fire the held stop with a closed bar; the exit it sent."""
    local.set_price(SYM, price)  # one more part of the entry fills
    await until(lambda: entry.filled == pytest.approx(part * 0.01), f"part {part} booked")
    await until(lambda: held_amount(broker) == pytest.approx(0.00999), f"part {part} held")
    before = set(broker.sync.orders)
    broker.on_bar_closed(crash_bar(price))  # the stop fires: sells this part
    (new_id,) = set(broker.sync.orders) - before  # one exit, under a new id
    out = broker.sync.orders[new_id]
    await until(lambda: not out.is_active, "exit done")
    assert (out.status, out.filled) == (OrderStatus.FILLED, pytest.approx(0.00999))
    assert held_amount(broker) == 0.0
    await until(lambda: not broker.sync.balances_behind, "balances refreshed")
    assert broker.portfolio.position(SYM).is_flat
    assert btc(local) == (Decimal(0), Decimal(0))
    return out


def venue_sells(local: LocalExchange) -> list[str]:
    return sorted(o.client_id for o in local.accounts.orders(KEY) if o.side == "SELL")


async def test_a_part_arriving_after_the_held_stop_fired_gets_its_own_exit_id_and_one_exit(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    request = qk.OrderRequest(
        SYM, qk.Side.BUY, OrderType.LIMIT, amount=0.03, limit_price=39_000.0, stop_loss=37_000.0
    )
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = broker.submit(request, "qk-test-000001", 40_000.0)
            cid = entry.client_id
            await until(lambda: entry.status is OrderStatus.OPEN, "entry resting")
            first = await sell_one_part(broker, local, entry, 1, 39_000)
            second = await sell_one_part(broker, local, entry, 2, 38_990)
            assert first.client_id == f"{cid}-sl" and second.client_id != first.client_id
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()

        # a restart while the entry still works: both sold parts stay sold, nothing is held
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert broker.brackets.held.get(SYM, []) == []
            entry = broker.sync.orders[cid]
            assert (entry.status, entry.filled) == (OrderStatus.PARTIALLY_FILLED, 0.02)
            third = await sell_one_part(broker, local, entry, 3, 39_000)
            assert entry.status is OrderStatus.FILLED
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
        ids = [first.client_id, second.client_id, third.client_id]
        assert len(set(ids)) == 3, ids  # unique across the restart too
        assert all(i.startswith(cid) and i.endswith("-sl") for i in ids)
        assert venue_sells(local) == sorted(ids)  # three venue orders, three distinct ids

        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            assert broker.brackets.held.get(SYM, []) == []
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
        assert venue_sells(local) == sorted(ids)
    assert_booked_once(local, journal)
    intents = Counter(
        r["data"]["client_id"]  # type: ignore[index]
        for r in records(journal)
        if r["kind"] == "intent"
    )
    assert all(n == 1 for n in intents.values()), intents
    assert sorted(i for i in intents if i.endswith("-sl")) == sorted(ids)


def bar(high: float, low: float, close: float) -> Bar:
    now = time.time_ns()
    return Bar(SYM, now - 60_000_000_000, now, close, high, low, close, 1.0)


def the_held(broker: qk.LiveBroker) -> HeldBracket:
    (held,) = broker.brackets.held[SYM]
    return held


def trail_of(broker: qk.LiveBroker) -> tuple[float, float] | None:
    trail = the_held(broker).trail
    return None if trail is None else (trail.extreme, trail.level)


async def trailing_part_one(broker: qk.LiveBroker, local: LocalExchange) -> str:
    """A limit buy of 0.03 at 39,000 with a 5 % trail, its first part (0.00999) held; its id."""
    request = qk.OrderRequest(
        SYM, qk.Side.BUY, OrderType.LIMIT, amount=0.03, limit_price=39_000.0, trail_pct=0.05
    )
    entry = broker.submit(request, "qk-test-000001", 40_000.0)
    await until(lambda: entry.status is OrderStatus.OPEN, "entry resting")
    local.set_price(SYM, 39_000)  # part 1
    await until(lambda: held_amount(broker) == pytest.approx(0.00999), "part 1 held")
    return entry.client_id


async def test_a_trailing_stop_grows_with_each_part_keeps_its_level_and_sells_what_is_held(
    tmp_path: Path,
) -> None:
    """5 % trail: extreme 41,000 -> level 38,950; extreme 42,000 -> 39,900 (on the 0.01 tick)."""
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            cid = await trailing_part_one(broker, local)
            assert trail_of(broker) is None  # starts at the first close
            broker.on_bar_closed(bar(41_000, 39_000, 40_500))
            assert trail_of(broker) == (41_000, 38_950)
            broker.on_bar_closed(bar(42_000, 40_000, 41_000))
            assert trail_of(broker) == (42_000, 39_900)
            local.set_price(SYM, 38_990)  # part 2: the bracket grows, the level stays
            await until(lambda: held_amount(broker) == pytest.approx(0.01998), "part 2 held")
            assert trail_of(broker) == (42_000, 39_900)
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()

        # a restart restores the grown bracket WITH its level (the last record is the grown one)
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            assert the_held(broker).amount == pytest.approx(0.01998, abs=1e-12)
            assert trail_of(broker) == (42_000, 39_900)
            broker.on_bar_closed(bar(41_500, 40_000, 41_000))  # a lower high: no loosening
            assert trail_of(broker) == (42_000, 39_900)
            entry = broker.sync.orders[cid]
            local.set_price(SYM, 39_000)  # part 3
            await until(lambda: held_amount(broker) == pytest.approx(0.02997), "part 3 held")
            assert trail_of(broker) == (42_000, 39_900)
            assert entry.status is OrderStatus.FILLED
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert btc(local) == (Decimal("0.02997"), Decimal(0))

            broker.on_bar_closed(bar(40_000, 39_800, 39_000))  # below 39,900: the stop fires
            out = broker.sync.orders[f"{cid}-trail"]
            await until(lambda: not out.is_active, "exit done")
            assert (out.status, out.filled, out.average_price) == (
                OrderStatus.FILLED, pytest.approx(0.02997, abs=1e-12), 39_000.0,
            )  # fmt: skip
            assert out.request.amount == pytest.approx(0.02997, abs=1e-12)  # exactly what is held
            assert broker.brackets.held.get(SYM, []) == []
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert broker.portfolio.position(SYM).is_flat
            assert btc(local) == (Decimal(0), Decimal(0))
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)
    assert venue_sells(local) == [f"{cid}-trail"]


async def test_a_part_arriving_after_the_trailing_stop_fired_starts_from_the_fired_level(
    tmp_path: Path,
) -> None:
    """Level 39,900 (extreme 42,000) fires on part 1; part 2 is held at 39,900, not afresh."""
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            cid = await trailing_part_one(broker, local)
            broker.on_bar_closed(bar(42_000, 40_000, 41_000))
            assert trail_of(broker) == (42_000, 39_900)
            broker.on_bar_closed(bar(40_000, 39_800, 39_000))  # fires: sells part 1
            first = broker.sync.orders[f"{cid}-trail"]
            await until(lambda: not first.is_active, "first exit done")
            assert first.filled == pytest.approx(0.00999)
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()

        # after a restart (the fired level comes from the journal) part 2 arrives
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            assert broker.brackets.held.get(SYM, []) == []
            local.set_price(SYM, 38_990)  # part 2
            await until(lambda: held_amount(broker) == pytest.approx(0.00999), "part 2 held")
            assert trail_of(broker) == (42_000, 39_900)  # the fired level, not a fresh one
            broker.on_bar_closed(bar(40_000, 39_850, 39_000))  # fresh it would start here
            second = broker.sync.orders[f"{cid}-x2-trail"]
            await until(lambda: not second.is_active, "second exit done")
            assert (second.status, second.filled) == (OrderStatus.FILLED, pytest.approx(0.00999))
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert broker.portfolio.position(SYM).is_flat
            assert btc(local) == (Decimal(0), Decimal(0))
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)
    assert venue_sells(local) == sorted([f"{cid}-trail", f"{cid}-x2-trail"])
