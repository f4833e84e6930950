"""Bracket entries that fill in parts, live: protection follows each part, never exceeds holdings.

A LiveBroker (the real ccxt client) trades against a LocalExchange whose resting orders fill in
three parts (`PartialFills`). Figures by hand: a limit buy of 0.03 BTC at 39,000 fills 0.01 BTC
per part; the venue keeps its 0.1 % fee in BTC, so each part brings 0.01 x 0.999 = 0.00999 BTC,
exactly on the 0.00001 step: each part's protection is 0.00999 BTC.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

import quantkit as qk
from quantkit.brokers.journal import replay
from quantkit.domain.bars import Bar
from quantkit.domain.order import OrderStatus, OrderType
from quantkit.testing import LocalExchange, PartialFills
from tests.brokers.test_live_brackets import local_with, until
from tests.brokers.test_live_broker import KEY, broker_for, started, venue_for

pytestmark = pytest.mark.anyio

SYM = "BTC/USDT"
QUIET = (40_000.0, 40_010.0, 39_990.0, 40_000.0)
PART = Decimal("0.00999")


def partial_local() -> LocalExchange:
    local = local_with([QUIET] * 3)
    local.accounts.partial_fills = PartialFills(parts=3)
    return local


def entry_request(*, take_profit: float | None = 42_000.0) -> qk.OrderRequest:
    return qk.OrderRequest(
        SYM, qk.Side.BUY, OrderType.LIMIT, amount=0.03, limit_price=39_000.0,
        stop_loss=37_000.0, take_profit=take_profit,
    )  # fmt: skip


def btc(local: LocalExchange) -> tuple[Decimal, Decimal]:
    return local.accounts.balances(KEY).get("BTC", (Decimal(0), Decimal(0)))


def protected(local: LocalExchange) -> Decimal:
    """What the working OCO lists of the account would sell (each list's amount once)."""
    lists = local.accounts.order_lists.open_lists(KEY)
    return sum((m.above.left for m in lists), Decimal(0))


def rest_guard(broker: qk.LiveBroker) -> float:
    """The amount of the stop the broker holds for a partly filled take-profit (0 if none)."""
    held = broker.brackets.held.get(SYM, [])
    return sum(b.amount for b in held if b.entry_id.endswith("-rest"))


async def market_entry(broker: qk.LiveBroker, local: LocalExchange) -> qk.Order:
    """A market buy of 0.03 (filled whole) whose OCO (stop 37,000, target 42,000) is working."""
    request = qk.OrderRequest(
        SYM, qk.Side.BUY, amount=0.03, stop_loss=37_000.0, take_profit=42_000.0
    )
    entry = broker.submit(request, "qk-test-000001", 40_000.0)
    lists = local.accounts.order_lists.lists
    await until(lambda: len(lists) == 1, "the entry's list is on the venue")
    return entry


def assert_booked_once(local: LocalExchange, journal: Path) -> None:
    state = replay(journal)
    venue_trades = sorted(str(f.trade_id) for o in local.accounts.orders(KEY) for f in o.fills)
    assert sorted(state.trade_ids) == venue_trades
    assert len(state.fills) == len(venue_trades)


async def test_each_part_of_an_entry_gets_its_own_oco_and_the_stops_sell_exactly_what_is_held(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = broker.submit(entry_request(), "qk-test-000001", 40_000.0)
            await until(lambda: entry.status is OrderStatus.OPEN, "entry resting")
            lists = local.accounts.order_lists.lists
            for part, price in enumerate((39_000, 38_990, 39_000), start=1):
                local.set_price(SYM, price)  # one more part of the entry fills
                assert protected(local) <= sum(btc(local))  # never more than held
                await until(lambda p=part: len(lists) == p, f"part {part} protected")
                assert protected(local) == sum(btc(local)) == part * PART  # all of it
                assert btc(local) == (Decimal(0), part * PART)  # locked by the lists
            assert (entry.status, entry.filled) == (OrderStatus.FILLED, 0.03)
            cid = entry.client_id
            ids = [f"{cid}-tp", f"{cid}-2-tp", f"{cid}-3-tp"]
            legs = [broker.sync.orders[i] for i in ids] + [
                broker.sync.orders[i[:-2] + "sl"] for i in ids
            ]
            await until(lambda: all(o.status is OrderStatus.OPEN for o in legs), "legs acked")
            assert [o.amount for o in legs] == [0.00999] * 6

            local.set_price(SYM, 36_900)  # through every stop: each list sells its part
            await until(lambda: not any(o.is_active for o in legs), "every list ended")
            assert [o.status for o in legs] == [OrderStatus.EXPIRED] * 3 + [OrderStatus.FILLED] * 3
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert broker.portfolio.position(SYM).is_flat
            assert btc(local) == (Decimal(0), Decimal(0))
            # 10,000 - 0.03 x 39,000 + 3 x (0.00999 x 36,900 = 368.631, less 0.1 %: 0.368631)
            usdt = sum(local.accounts.balances(KEY)["USDT"])
            assert usdt == Decimal("9934.787107")
            assert broker.portfolio.balance == pytest.approx(9_934.787107, abs=1e-9)
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)
    fills = [f for f in replay(journal).fills if f.client_id == cid]
    assert [(f.amount, f.fee, f.fee_currency) for f in fills] == [(0.01, 0.00001, "BTC")] * 3


async def test_an_entry_canceled_after_one_part_keeps_that_part_protected_and_no_more(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = broker.submit(entry_request(), "qk-test-000001", 40_000.0)
            await until(lambda: entry.status is OrderStatus.OPEN, "entry resting")
            lists = local.accounts.order_lists.lists
            local.set_price(SYM, 39_000)
            await until(lambda: len(lists) == 1, "the first part protected")
            broker.cancel(entry)
            await until(lambda: not entry.is_active, "entry canceled")
            assert (entry.status, entry.filled) == (OrderStatus.CANCELED, 0.01)
            local.set_price(SYM, 38_900)  # a canceled entry fills no more
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert len(lists) == 1 and protected(local) == sum(btc(local)) == PART
            assert broker.portfolio.position(SYM).amount == pytest.approx(0.00999, abs=1e-12)
            # 10,000 - 0.01 x 39,000 = 9,610: the 780 locked for the rest is free again
            assert local.accounts.balances(KEY)["USDT"] == (Decimal(9610), Decimal(0))
            assert broker.portfolio.balance == pytest.approx(9_610.0, abs=1e-9)
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)


async def test_a_held_bracket_grows_with_each_part_and_a_restart_restores_the_total(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = broker.submit(entry_request(take_profit=None), "qk-test-000001", 40_000.0)
            await until(lambda: entry.status is OrderStatus.OPEN, "entry resting")

            def held() -> float:
                (bracket,) = broker.brackets.held.get(SYM, [None])  # type: ignore[list-item]
                return 0.0 if bracket is None else bracket.amount

            for part, price in enumerate((39_000, 38_990, 39_000), start=1):
                local.set_price(SYM, price)
                await until(lambda p=part: held() == pytest.approx(p * 0.00999), f"part {part}")
                assert held() <= float(sum(btc(local))) + 1e-12
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
        records = [json.loads(line) for line in journal.read_text().splitlines()]
        amounts = [r["data"]["amount"] for r in records if r["kind"] == "bracket"]
        assert amounts == pytest.approx([0.00999, 0.01998, 0.02997])

        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            (restored,) = broker.brackets.held[SYM]
            assert restored.amount == pytest.approx(0.02997, abs=1e-12)
            assert restored.levels.stop_loss == 37_000.0
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)


async def test_a_take_profit_leg_filling_in_parts_is_booked_part_by_part_and_its_stop_expires(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = await market_entry(broker, local)
            tp, sl = (broker.sync.orders[f"{entry.client_id}-{r}"] for r in ("tp", "sl"))
            await until(lambda: tp.status is OrderStatus.OPEN, "legs acknowledged")
            assert tp.amount == 0.02997  # 0.03 less the 0.1 % fee kept in BTC

            local.set_price(SYM, 42_000)  # the take-profit's first part: 0.02997 / 3 = 0.00999
            await until(lambda: tp.filled == pytest.approx(0.00999), "first part booked")
            await until(lambda: not sl.is_active, "the stop expired")
            assert (tp.status, sl.status) == (OrderStatus.PARTIALLY_FILLED, OrderStatus.EXPIRED)
            # the venue's stop is gone: the broker holds one for the 0.01998 not sold yet
            await until(lambda: rest_guard(broker) == pytest.approx(0.01998), "rest guarded")
            local.set_price(SYM, 42_010)
            await until(lambda: rest_guard(broker) == pytest.approx(0.00999), "guard resized")
            local.set_price(SYM, 42_000)
            await until(lambda: not tp.is_active, "the take-profit filled")
            await until(lambda: rest_guard(broker) == 0.0, "guard dropped with the leg")
            assert (tp.status, tp.filled, tp.average_price) == (
                OrderStatus.FILLED, pytest.approx(0.02997), 42_000.0,
            )  # fmt: skip
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert broker.portfolio.position(SYM).is_flat
            # sells of 0.00999 at 42,000 = 419.58 each, fee 0.1 % in USDT = 0.41958 each
            usdt = sum(local.accounts.balances(KEY)["USDT"])
            assert usdt == Decimal("10000") - Decimal("0.03") * 40_000 + 3 * Decimal("419.16042")
            assert broker.portfolio.balance == pytest.approx(float(usdt), abs=1e-9)
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)
    tp_fills = [f for f in replay(journal).fills if f.client_id == tp.client_id]
    assert [(f.amount, f.fee, f.fee_currency) for f in tp_fills] == [
        (0.00999, pytest.approx(0.41958), "USDT")
    ] * 3


async def test_the_held_stop_of_a_partly_filled_take_profit_cancels_the_leg_and_sells_the_rest(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = await market_entry(broker, local)
            tp = broker.sync.orders[f"{entry.client_id}-tp"]
            await until(lambda: tp.status is OrderStatus.OPEN, "legs acknowledged")
            local.set_price(SYM, 42_000)  # one part of the take-profit: 0.00999
            await until(lambda: rest_guard(broker) == pytest.approx(0.01998), "rest guarded")
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")

            local.set_price(SYM, 36_500)  # a crash below the stop the venue expired
            now = time.time_ns()
            bar = Bar(SYM, now - 60_000_000_000, now, 41_000.0, 41_000.0, 36_400.0, 36_500.0, 1.0)
            broker.on_bar_closed(bar)  # the held stop triggers: the leg is canceled first
            exit_id = f"{entry.client_id}-rest-sl"
            await until(lambda: exit_id in broker.sync.orders, "exit submitted")
            out = broker.sync.orders[exit_id]
            await until(lambda: not out.is_active, "exit done")
            assert tp.status is OrderStatus.CANCELED and tp.filled == pytest.approx(0.00999)
            assert (out.status, out.filled, out.average_price) == (
                OrderStatus.FILLED, pytest.approx(0.01998), 36_500.0,
            )  # fmt: skip
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            assert broker.portfolio.position(SYM).is_flat
            assert sum(btc(local)) == 0
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)


async def test_a_rest_stop_is_restored_after_a_restart_and_dropped_if_its_leg_ended_meanwhile(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    async with partial_local() as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            entry = await market_entry(broker, local)
            local.set_price(SYM, 42_000)  # first part of the take-profit
            await until(lambda: rest_guard(broker) == pytest.approx(0.01998), "rest guarded")
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()

        # restart 1: the leg still works: its rest stop comes back from the journal
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            assert rest_guard(broker) == pytest.approx(0.01998)
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()

        local.accounts.partial_fills = None  # while the broker is down the leg fills its
        local.set_price(SYM, 42_010)  # rest in one trade: no part re-journals the rest stop
        # restart 2: the trade is booked once and the stale rest stop is dropped
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, journal), tasks, local)
            tp = broker.sync.orders[f"{entry.client_id}-tp"]
            assert tp.status is OrderStatus.FILLED and tp.filled == pytest.approx(0.02997)
            assert rest_guard(broker) == 0.0
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
    assert_booked_once(local, journal)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    rest_id = f"{entry.client_id}-rest"
    done = [r for r in records if r["kind"] == "bracket_done" and r["data"]["client_id"] == rest_id]
    assert len(done) == 1
