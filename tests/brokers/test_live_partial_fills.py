"""Bracket entries that fill in parts, live: protection follows each part, never exceeds holdings.

A LiveBroker (the real ccxt client) trades against a LocalExchange whose resting orders fill in
three parts (`PartialFills`). Figures by hand: a limit buy of 0.03 BTC at 39,000 fills 0.01 BTC
per part; the venue keeps its 0.1 % fee in BTC, so each part brings 0.01 x 0.999 = 0.00999 BTC,
exactly on the 0.00001 step: each part's protection is 0.00999 BTC.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

import quantkit as qk
from quantkit.brokers.journal import replay
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
