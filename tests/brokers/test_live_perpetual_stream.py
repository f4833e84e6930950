"""PerpetualLiveBroker books funding and liquidations from the user-data stream, each once.

Real ccxt.pro ``binanceusdm`` against the local futures exchange. Each payment or forced close
must be booked exactly once whether it arrives by the stream, by the account check's poll, by
both in either order, or while the process was down. The position is opened on the venue
before the broker starts (the broker takes it from ``positionRisk``), so no fill of the run
pokes a poll round: what the broker books before an explicit check came from the stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from quantkit.brokers.journal import Journal
from quantkit.brokers.live_perpetual import PerpetualLiveBroker
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.exchanges.perpetuals import CcxtPerpetualExchange
from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    _Clock,
    _no_bars,
    market,
    perp_broker,
    perp_venue,
    started,
    until,
)

pytestmark = pytest.mark.anyio

DEADLINE = 30.0  # seconds; a loaded machine is slow, a broken stream never books


def venue_wallet(local: LocalFuturesExchange) -> float:
    return float(local.trading.accounts.account(KEY).wallet)


def journal(path: Path, *kinds: str) -> list[dict[str, Any]]:
    with Journal(path, run_id="reader") as reader:
        return [dict(r.data) for r in reader.records() if r.kind in kinds]


async def opened(venue: CcxtPerpetualExchange, side: Side, mode: str, leverage: int) -> None:
    """Open 0.1 BTC on the venue before the broker starts (taker fee 0.05 % of 4,000: 2)."""
    await venue.set_margin_mode(BTC, mode)
    await venue.set_leverage(BTC, leverage)
    await venue.create_order(market(side, 0.1), "before-the-run-1")


async def streaming(
    local: LocalFuturesExchange,
    venue: CcxtPerpetualExchange,
    path: Path,
    tasks: Any,
    **kwargs: Any,
) -> Any:
    """A started broker on the stream, once it is subscribed (`wait_subscribed`)."""
    broker = perp_broker(venue, path, watch_trades=True, poll_interval=3600, **kwargs)
    await started(broker, tasks)
    await wait_subscribed(local, venue)
    return broker


async def wait_subscribed(
    local: LocalFuturesExchange, venue: CcxtPerpetualExchange, *, after: int = 0
) -> None:
    """Until the venue holds a socket (opened after the first ``after``) and ccxt waits.

    ccxt resolves only the watches registered when a message arrives: the test acts once the
    socket is open and the three futures exist (state, with a deadline; not a guessed time).
    """
    client = venue._client  # the ccxt client the broker's venue drives

    def ready() -> bool:
        stream = local.trading.user_stream
        if stream.connections == 0 or stream.accepted <= after:
            return False
        futures = [k for u, c in client.clients.items() if "/private/ws" in u for k in c.futures]
        wanted = ("linear:balance", "orders", "myTrades")
        return all(any(k.startswith(w) for k in futures) for w in wanted)

    with anyio.fail_after(DEADLINE):
        while not ready():
            await anyio.sleep(0.01)


async def booked(broker: PerpetualLiveBroker, count: int) -> None:
    await until(broker, lambda: broker.funding_ledger.pushes >= count, DEADLINE)


async def test_pushed_funding_is_booked_at_once_and_the_poll_only_confirms_it(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.SELL, "cross", 5)
        broker = await streaming(local, venue, path, tasks, leverage=5)
        cash = broker.portfolio.balance
        income_reads = len(local.requests("/fapi/v1/income"))
        local.trading.move(BTC, mark=41_000)
        local.trading.settle_funding(BTC, "0.0001")  # the short receives 0.1 x 41,000 x 0.0001
        await booked(broker, 1)
        assert len(local.requests("/fapi/v1/income")) == income_reads  # no poll: the stream
        assert [p.amount for p in broker.futures.funding] == pytest.approx([-0.41])
        assert broker.portfolio.balance == pytest.approx(cash + 0.41)
        await broker.reconciler.check_account()
        await broker.reconciler.check_account()  # the income entry confirms, books nothing
        assert [p.amount for p in broker.futures.funding] == pytest.approx([-0.41])
        assert broker.futures.wallet_balance() == pytest.approx(venue_wallet(local))
        assert venue_wallet(local) == pytest.approx(10_000 - 2.0 + 0.41)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    [funding] = journal(path, "funding")
    assert (funding["amount"], funding["source"], funding["funding_id"]) == (0.41, "stream", "")
    [confirmed] = journal(path, "funding_confirmed")
    assert confirmed["funding_id"] and confirmed["amount"] == 0.41


async def test_isolated_funding_pushed_with_its_position_comes_out_of_its_margin(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.BUY, "isolated", 10)  # isolated wallet 400
        broker = await streaming(local, venue, path, tasks, leverage=10, margin_mode="isolated")
        local.trading.settle_funding(BTC, "0.0005")  # the long pays 0.1 x 40,000 x 0.0005 = 2
        await booked(broker, 1)
        assert [p.amount for p in broker.futures.funding] == pytest.approx([2.0])
        assert broker.futures.isolated_extra[BTC] == pytest.approx(-2.0)
        await broker.reconciler.check_account()
        await broker.reconciler.check_account()
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 2.0 - 2.0)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert [(f["amount"], f["source"]) for f in journal(path, "funding")] == [(-2.0, "stream")]


async def test_funding_the_poll_books_first_is_not_booked_again_when_the_push_arrives(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.SELL, "cross", 5)
        broker = await streaming(local, venue, path, tasks, leverage=5)
        local.trading.user_stream.hold()  # a slow network: the poll learns first
        local.trading.settle_funding(BTC, "-0.0002")  # the short pays 0.1 x 40,000 x 0.0002
        await broker.reconciler.check_account()
        assert [p.amount for p in broker.futures.funding] == pytest.approx([0.8])
        local.trading.user_stream.release()
        await booked(broker, 1)  # the push is read ...
        assert [p.amount for p in broker.futures.funding] == pytest.approx([0.8])  # ... once
        await broker.reconciler.check_account()
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 2.0 - 0.8)
        assert broker.futures.wallet_balance() == pytest.approx(venue_wallet(local))
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert [(f["amount"], f["source"]) for f in journal(path, "funding")] == [(-0.8, "poll")]
    assert journal(path, "funding_confirmed") == []


async def test_funding_lost_on_the_stream_is_booked_by_the_poll_once(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.SELL, "cross", 5)
        broker = await streaming(local, venue, path, tasks, leverage=5)
        local.trading.user_stream.mute()  # pushed into the void
        local.trading.settle_funding(BTC, "0.0001")  # +0.4 received
        local.trading.user_stream.mute(False)
        local.trading.settle_funding(BTC, "0.0003")  # +1.2 received, pushed
        await booked(broker, 1)
        assert [p.amount for p in broker.futures.funding] == pytest.approx([-1.2])
        await broker.reconciler.check_account()
        await broker.reconciler.check_account()
        assert sorted(p.amount for p in broker.futures.funding) == pytest.approx([-1.2, -0.4])
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 2.0 + 0.4 + 1.2)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    rows = sorted((f["amount"], f["source"]) for f in journal(path, "funding"))
    assert rows == [(0.4, "poll"), (1.2, "stream")]


async def test_pushed_funding_is_not_booked_again_after_a_restart(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.BUY, "cross", 5)
        broker = await streaming(local, venue, path, tasks, leverage=5)
        local.trading.settle_funding(BTC, "0.0001")  # the long pays 0.4
        await booked(broker, 1)
        tasks.cancel_scope.cancel()  # gone before any check confirmed it (a crash: no shutdown)
    broker._close_failed_start(broker.sync)  # what the process's end releases: queues, journal
    local.trading.settle_funding(BTC, "0.0002")  # while it is down: the long pays 0.8
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=5), tasks)
        await again.reconciler.check_account()
        # the pushed 0.4 is confirmed by its income entry; the 0.8 paid meanwhile is listed
        assert [p.amount for p in again.futures.funding] == pytest.approx([0.8])
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 2.0 - 0.4 - 0.8)
        assert again.divergences == []
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    rows = [(f["amount"], f["source"]) for f in journal(path, "funding")]
    assert rows == [(-0.4, "stream"), (-0.8, "restart")]
    assert len(journal(path, "funding_confirmed")) == 1


async def test_a_liquidation_pushed_by_the_venue_is_booked_at_once_without_a_lookup(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.BUY, "isolated", 20)  # isolated wallet 200
        broker = await streaming(local, venue, path, tasks, leverage=20, margin_mode="isolated")
        lookups = len(local.requests("/fapi/v1/order"))
        local.trading.move(BTC, last=37_000, mark=37_000)  # past the liquidation price
        await until(broker, lambda: broker.futures.liquidations == 1, DEADLINE)
        assert len(local.requests("/fapi/v1/order")) == lookups  # from the stream: no lookup
        assert broker.portfolio.position(BTC).amount == 0
        for _ in range(2):
            await broker.reconciler.check_account()
        assert broker.futures.liquidations == 1  # the poll's trade list adds nothing
        # isolated 20x: closed at the liquidation price, the margin left there taken as the
        # clearance fee (pushed as INSURANCE_CLEAR, booked from income): the 200 is lost
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 2.0 - 200)
        assert venue_wallet(local) == pytest.approx(10_000 - 2.0 - 200)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=20, margin_mode="isolated"), tasks)
        await again.reconciler.check_account()
        assert again.futures.liquidations == 0 and again.divergences == []
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    [forced] = journal(path, "liquidation")
    assert str(forced["client_id"]).startswith("autoclose-")
    # the liquidation price (200 - 4,000) / (0.1 x (0.004 - 1)) = 38,152.61044177 by hand
    assert (forced["amount"], forced["price"], forced["side"]) == (0.1, 38_152.61044177, "sell")
    [cleared] = journal(path, "insurance_clear")  # once, though pushed and listed
    assert cleared["amount"] == pytest.approx(-(200 + 0.1 * (38_152.61044177 - 40_000)))


async def test_a_dropped_stream_reconnects_and_the_poll_books_what_it_missed(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.SELL, "cross", 5)
        broker = await streaming(local, venue, path, tasks, leverage=5)
        local.trading.user_stream.mute()  # the next push is lost with the connection
        local.trading.settle_funding(BTC, "0.0001")  # +0.4 received, not pushed
        local.trading.user_stream.mute(False)
        before = local.trading.user_stream.accepted
        local.trading.user_stream.drop()
        await wait_subscribed(local, venue, after=before)  # the broker reconnected by itself
        local.trading.settle_funding(BTC, "0.0002")  # +0.8 received, pushed on the new socket
        await booked(broker, 1)
        assert [p.amount for p in broker.futures.funding] == pytest.approx([-0.8])
        await broker.reconciler.check_account()
        await broker.reconciler.check_account()
        assert sorted(p.amount for p in broker.futures.funding) == pytest.approx([-0.8, -0.4])
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 2.0 + 0.4 + 0.8)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    rows = sorted((f["amount"], f["source"]) for f in journal(path, "funding"))
    assert rows == [(0.4, "poll"), (0.8, "stream")]


async def test_cross_funding_pushed_without_a_symbol_goes_to_the_poll_when_two_are_held(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    eth = "ETH/USDT:USDT"
    local.trading.move(eth, last=2_000, mark=2_000)
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.SELL, "cross", 5)
        await venue.set_margin_mode(eth, "cross")
        await venue.set_leverage(eth, 5)
        await venue.create_order(OrderRequest(eth, Side.BUY, OrderType.MARKET, 1.0), "eth-1")
        broker = perp_broker(venue, path, watch_trades=True, poll_interval=3600, leverage=5)
        bars = {s: _no_bars(s) for s in (BTC, eth)}
        broker.prepare(bars, _Clock())
        await broker.astart(tasks)
        await wait_subscribed(local, venue)
        local.trading.settle_funding(BTC, "0.0001")  # BTC's short receives 0.4: which symbol?
        await booked(broker, 1)  # read, left to the income history (a poll is asked for)
        await broker.reconciler.check_account()
        await broker.reconciler.check_account()
        assert [(p.symbol, p.amount) for p in broker.futures.funding] == [
            (BTC, pytest.approx(-0.4))
        ]
        # fees 0.05 % of 4,000 and of 2,000 = 3.0; then the 0.4 received
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 3.0 + 0.4)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert [(f["amount"], f["source"]) for f in journal(path, "funding")] == [(0.4, "poll")]


async def test_a_cross_liquidation_pushed_is_booked_once_and_its_clearance_from_income(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.BUY, "cross", 20)
        await venue.create_order(market(Side.BUY, 3.9), "before-the-run-2")  # 4 BTC long
        broker = await streaming(local, venue, path, tasks, leverage=20)
        lookups = len(local.requests("/fapi/v1/order"))
        local.trading.move(BTC, last=37_000, mark=37_000)  # past the cross liquidation price
        await until(broker, lambda: broker.futures.liquidations == 1, DEADLINE)
        assert len(local.requests("/fapi/v1/order")) == lookups  # from the stream
        for _ in range(2):  # (the pushed INSURANCE_CLEAR asked for a poll round too)
            await broker.reconciler.check_account()
        assert broker.futures.liquidations == 1
        assert broker.portfolio.position(BTC).amount == 0
        assert venue_wallet(local) == 0  # the cross wallet cleared to zero
        assert broker.futures.wallet_balance() == pytest.approx(0.0, abs=1e-6)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert len(journal(path, "liquidation")) == 1
    [cleared] = journal(path, "insurance_clear")
    # fees 0.05 % of 160,000 = 80; closed at the liquidation price 37,695.9798995 (by hand:
    # (9,920 + 50 - 160,000) / (4 x (0.005 - 1))): what was left is cleared
    assert cleared["amount"] == pytest.approx(-(9_920 + 4 * (37_695.9798995 - 40_000)))


async def test_funding_paid_hours_into_a_long_outage_is_journaled_once_on_restart(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    # the journal holds no order (the position was opened before it): the restart reads the
    # income history from the latest payment it journaled, not from a minute ago
    path = tmp_path / "j.jsonl"
    hour = 3_600_000
    now = local.trading.now_ms()
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.BUY, "cross", 5)
        broker = await streaming(local, venue, path, tasks, leverage=5)
        local.trading.settle_funding(BTC, "0.0001", at=now - 3 * hour)  # pays 0.4, pushed
        await booked(broker, 1)
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    local.trading.settle_funding(BTC, "0.0003", at=now - 2 * hour)  # down: pays 1.2
    local.trading.settle_funding(BTC, "0.0002", at=now - hour)  # down: pays 0.8
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=5), tasks)
        await again.reconciler.check_account()
        await again.reconciler.check_account()
        assert [p.amount for p in again.futures.funding] == pytest.approx([1.2, 0.8])
        assert again.futures.wallet_balance() == pytest.approx(10_000 - 2.0 - 0.4 - 1.2 - 0.8)
        assert again.divergences == []
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    rows = [(f["amount"], f["source"]) for f in journal(path, "funding")]
    assert rows == [(-0.4, "stream"), (-1.2, "restart"), (-0.8, "restart")]


async def test_a_liquidation_the_poll_found_first_is_not_booked_again_when_pushed(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        await opened(venue, Side.SELL, "isolated", 20)  # isolated wallet 200
        broker = await streaming(local, venue, path, tasks, leverage=20, margin_mode="isolated")
        local.trading.user_stream.hold()  # a slow network: the account check learns first
        local.trading.move(BTC, last=43_000, mark=43_000)  # the short is liquidated
        with anyio.fail_after(DEADLINE):
            while broker.futures.liquidations == 0:  # looked up, then booked, by the checks
                await broker.reconciler.check_account()
        local.trading.user_stream.release()
        await until(broker, lambda: broker.forced_pushes >= 1, DEADLINE)  # the push is read ...
        assert broker.futures.liquidations == 1  # ... and books nothing
        await broker.reconciler.check_account()
        assert broker.portfolio.position(BTC).amount == 0
        assert broker.futures.wallet_balance() == pytest.approx(10_000 - 2.0 - 200)
        assert broker.futures.wallet_balance() == pytest.approx(venue_wallet(local))
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert len(journal(path, "liquidation")) == 1
