"""PerpetualLiveBroker: unknown outcomes, restarts against positionRisk, liquidations (issue 14)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import Journal, replay
from quantkit.domain.order import OrderStatus, Side
from quantkit.errors import ReconciliationError
from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    ORDER,
    market,
    order_posts,
    perp_broker,
    perp_venue,
    started,
    until,
)

pytestmark = pytest.mark.anyio


def venue_amount(local: LocalFuturesExchange) -> float:
    position = local.trading.accounts.account(KEY).positions.get("BTCUSDT")
    return float(position.amount) if position is not None else 0.0


def venue_wallet(local: LocalFuturesExchange) -> float:
    return float(local.trading.accounts.account(KEY).wallet)


async def test_an_order_accepted_but_unanswered_is_found_never_sent_twice(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    async with perp_venue(local, timeout=2.0) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, tmp_path / "j.jsonl", leverage=5), tasks)
        local.faults.timeout(ORDER, method="POST", acted=True, seconds=6.0)
        short = broker.submit(market(Side.SELL, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: short.status is OrderStatus.FILLED)
        assert broker.portfolio.position(BTC).amount == pytest.approx(-0.1)
        assert broker.unknown_orders() == []
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert order_posts(local) == 1  # the timed-out order was looked up, never placed again
    assert venue_amount(local) == pytest.approx(-0.1)


async def test_a_crash_mid_order_then_restart_books_it_once_from_the_venue(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local, timeout=2.0) as venue:
        with anyio.CancelScope() as crash:  # the process dies with the order in doubt
            async with anyio.create_task_group() as tasks:
                broker = await started(perp_broker(venue, path, leverage=5), tasks)
                local.faults.timeout(ORDER, method="POST", acted=True, seconds=30.0)
                broker.submit(market(Side.SELL, 0.1), "perp-run-000001", 40_000)
                with anyio.fail_after(30):
                    while order_posts(local) < 1:
                        await anyio.sleep(0.01)
                crash.cancel()
        broker.sync.close()  # what the dead process held, released for the test's sake
        broker.brackets.close(started=False)
        broker.journal.close()
    assert replay(path).orders["perp-run-000001"].status is OrderStatus.NEW  # in doubt
    local.faults.clear()
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=5), tasks)
        resumed = again.sync.orders["perp-run-000001"]
        await until(again, lambda: resumed.status is OrderStatus.FILLED)
        assert again.portfolio.position(BTC).amount == pytest.approx(-0.1)
        await again.reconciler.check_account()
        assert again.divergences == []
        await again.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert order_posts(local) == 1
    state = replay(path)
    assert len(state.trade_ids) == 1 and state.orders["perp-run-000001"].filled == 0.1


async def test_restart_takes_positions_from_position_risk(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=5), tasks)
        long = broker.submit(market(Side.BUY, 0.2), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    local.trading.move(BTC, last=41_000, mark=41_500)
    local.trading.settle_funding(BTC, "0.0001")  # while it is down: the long pays 0.83
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=5), tasks)
        position = again.portfolio.position(BTC)
        assert (position.amount, position.entry_price) == (pytest.approx(0.2), 40_000)
        assert again.futures.unrealized(BTC) == pytest.approx(0.2 * 1_500)  # at the mark
        # the wallet: 10,000 less the taker fee 0.05 % of 8,000 and 0.2 x 41,500 x 0.0001
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 4.0 - 0.83)
        assert again.resume_state()["seq"] == 1
        await again.reconciler.check_account()
        # paid while it was down: listed and journaled once, its cash in the wallet taken
        assert [p.amount for p in again.futures.funding] == pytest.approx([0.83])
        assert again.futures.funding[0].position == pytest.approx(0.2)
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 4.0 - 0.83)
        local.trading.settle_funding(BTC, "0.0001")  # while it runs: booked once
        await again.reconciler.check_account()
        await again.reconciler.check_account()
        assert [p.amount for p in again.futures.funding] == pytest.approx([0.83, 0.83])
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 4.0 - 0.83 - 0.83)
        assert again.divergences == []
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        third = await started(perp_broker(venue, path, leverage=5), tasks)
        await third.reconciler.check_account()
        assert third.futures.funding == []  # both journaled: nothing booked again
        assert third.divergences == []
        await third.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    with Journal(path, run_id="reader") as journal:
        funding = [r.data for r in journal.records() if r.kind == "funding"]
    assert [(f["amount"], f["source"]) for f in funding] == [(-0.83, "restart"), (-0.83, "poll")]


async def test_a_position_the_journal_does_not_explain_is_a_divergence(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=5), tasks)
        long = broker.submit(market(Side.BUY, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        # a second client trades the same account: a short of 0.3 the journal knows nothing of
        await venue.create_order(market(Side.SELL, 0.3), "someone-else-1")
        for _ in range(3):  # looked up (not a liquidation), then reported
            await broker.reconciler.check_account()
        kinds = {(d.kind, d.subject) for d in broker.divergences}
        assert ("unknown_trade", BTC) in kinds
        position = next(d for d in broker.divergences if d.kind == "position")
        assert (position.subject, position.venue, position.local) == (BTC, -0.2, 0.1)
        assert broker.portfolio.position(BTC).amount == pytest.approx(-0.2)  # the venue's, now
        # the stranger's taker fee, 0.05 % of 0.3 x 40,000, left the wallet unexplained
        wallet = next(d for d in broker.divergences if d.kind == "balance")
        assert wallet.subject == "USDT"
        assert wallet.venue - wallet.local == pytest.approx(-6.0)
        detail = " ".join(d.detail for d in broker.divergences)
        assert "belongs to no order in this run's journal" in detail
        assert broker.halted  # new entries stop after a divergence
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    # a restart refuses to trade on: the stranger's trade is looked up, then reported
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        with pytest.raises(ReconciliationError, match=r"SELL 0.3 BTC/USDT:USDT|sell 0.3 BTC"):
            await started(perp_broker(venue, path, leverage=5), tasks)
        tasks.cancel_scope.cancel()


async def test_a_liquidation_by_the_venue_is_booked_and_reported_not_a_stranger(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=20, margin_mode="isolated"), tasks)
        long = broker.submit(market(Side.BUY, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        await broker.reconciler.check_account()
        liquidation = broker.liquidation_price(BTC)
        assert 37_000 < liquidation < 40_000
        local.trading.move(BTC, last=37_000, mark=37_000)  # the mark crosses it
        assert venue_amount(local) == 0
        with anyio.fail_after(30):
            while broker.futures.liquidations == 0:
                await broker.reconciler.check_account()
        for _ in range(2):
            await broker.reconciler.check_account()
        assert broker.portfolio.position(BTC).amount == 0
        # isolated 20x: the isolated wallet 0.1 x 40,000 / 20 = 200 is lost, plus the fee 2.0
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 200 - 2.0)
        assert venue_wallet(local) == pytest.approx(10_000 - 200 - 2.0)
        assert broker.divergences == []
        assert not broker.halted
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    # a restart knows the forced close from its journal: no stranger, nothing booked twice
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=20, margin_mode="isolated"), tasks)
        await again.reconciler.check_account()
        assert again.portfolio.position(BTC).amount == 0
        assert again.futures.liquidations == 0 and again.divergences == []
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 200 - 2.0)
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    with Journal(path, run_id="reader") as journal:
        forced = [r.data for r in journal.records() if r.kind == "liquidation"]
    assert len(forced) == 1 and str(forced[0]["client_id"]).startswith("autoclose-")
    assert forced[0]["amount"] == pytest.approx(0.1)
    # the liquidation price (200 - 4,000) / (0.1 x (0.004 - 1)) = 38,152.61044177 by hand; the
    # 0.4 % margin left there (15.26) is less than the 1.25 % clearance fee: taken whole
    assert Decimal(str(forced[0]["price"])) == Decimal("38152.61044177")
    with Journal(path, run_id="reader") as journal:
        cleared = [r.data["amount"] for r in journal.records() if r.kind == "insurance_clear"]
    assert cleared == [pytest.approx(-(200 + 0.1 * (38_152.61044177 - 40_000)))]


async def test_a_cross_liquidation_with_the_wallet_cleared_is_no_divergence(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=20), tasks)  # cross margin
        long = broker.submit(market(Side.BUY, 4.0), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        await broker.reconciler.check_account()
        assert 37_000 < broker.liquidation_price(BTC) < 40_000
        local.trading.move(BTC, last=37_000, mark=37_000)
        with anyio.fail_after(30):
            while broker.futures.liquidations == 0:
                await broker.reconciler.check_account()
        for _ in range(2):
            await broker.reconciler.check_account()
        # fee 80 (0.05 % of 160,000) leaves 9,920; closed at the liquidation price
        # (9,920 + 50 - 160,000) / (4 x (0.005 - 1)) = 37,695.97989950: -9,216.08 realised,
        # 703.92 left (0.5 % x notional - 50), less than the 1.25 % clearance fee: all cleared
        assert broker.portfolio.position(BTC).amount == 0
        assert broker.futures.wallet_balance() == pytest.approx(0.0, abs=1e-9)
        assert venue_wallet(local) == 0
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    with Journal(path, run_id="reader") as journal:
        cleared = [r.data["amount"] for r in journal.records() if r.kind == "insurance_clear"]
    assert cleared == [pytest.approx(-(9_920 + 4 * (37_695.9798995 - 40_000)))]


async def test_a_liquidation_found_by_one_check_is_settled_by_the_tracker_without_divergence(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    # production cadence: one account check notices, the tracker's polls (every 0.05 s here)
    # settle the account; the two settled checks a divergence needs must not come first
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=20, margin_mode="isolated"), tasks)
        long = broker.submit(market(Side.BUY, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        local.trading.move(BTC, last=37_000, mark=37_000)
        await broker.reconciler.check_account()
        with anyio.fail_after(30):
            while broker.futures.liquidations == 0 or broker.sync.balances_behind:
                await anyio.sleep(0.01)
        assert broker.divergences == []
        assert broker.portfolio.position(BTC).amount == 0
        assert broker.futures.wallet_balance() == pytest.approx(venue_wallet(local))
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()


async def test_a_liquidation_while_down_is_recognised_on_restart(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=20, margin_mode="isolated"), tasks)
        short = broker.submit(market(Side.SELL, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: short.status is OrderStatus.FILLED)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    local.trading.move(BTC, last=43_000, mark=43_000)  # the short is liquidated meanwhile
    assert venue_amount(local) == 0
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=20, margin_mode="isolated"), tasks)
        assert again.futures.liquidations == 1  # booked as a forced close, not a stranger
        assert again.portfolio.position(BTC).amount == 0
        # isolated 20x: the 200 of margin and the 2.0 fee are gone
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 200 - 2.0)
        await again.reconciler.check_account()
        assert again.divergences == []
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
