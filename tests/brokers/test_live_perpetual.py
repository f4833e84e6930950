"""PerpetualLiveBroker: real ccxt binanceusdm against the local futures exchange (issue 14)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import Journal
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.errors import ConfigError
from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    market,
    order_posts,
    perp_broker,
    perp_venue,
    started,
    until,
)

pytestmark = pytest.mark.anyio


def venue_wallet(local: LocalFuturesExchange) -> float:
    return float(local.trading.accounts.account(KEY).wallet)


def records(path: Path, kind: str) -> list[dict[str, object]]:
    with Journal(path, run_id="reader") as journal:
        return [dict(r.data) for r in journal.records() if r.kind == kind]


async def test_a_short_opened_and_closed_with_hand_computed_pnl_and_fees(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, tmp_path / "j.jsonl", leverage=5), tasks)
        assert broker.futures.leverage[BTC] == 5.0
        short = broker.submit(market(Side.SELL, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: short.status is OrderStatus.FILLED)
        position = broker.portfolio.position(BTC)
        assert (position.amount, position.entry_price) == (pytest.approx(-0.1), 40_000)
        local.trading.move(BTC, last=39_000, mark=39_000)
        await broker.reconciler.check_account()
        # at the venue's mark 39,000 a short of 0.1 from 40,000 is 100 up
        assert broker.futures.unrealized(BTC) == pytest.approx(100.0)
        venue_position = (await venue.positions([BTC]))[BTC]
        assert broker.liquidation_price(BTC) == pytest.approx(venue_position.liquidation_price)
        assert broker.liquidation_price(BTC) > 40_000
        # initial margin at the mark: 0.1 x 39,000 / 5
        assert broker.futures.initial_margin(BTC) == pytest.approx(780.0)
        cover = broker.submit(market(Side.BUY, 0.1, reduce_only=True), "perp-run-000002", 39_000)
        await until(broker, lambda: cover.status is OrderStatus.FILLED)
        await broker.reconciler.check_account()
        # realised +100; taker fees 0.05 %: 2.00 on 4,000 and 1.95 on 3,900
        assert broker.portfolio.position(BTC).amount == 0
        assert broker.portfolio.position(BTC).realized_pnl == pytest.approx(100.0)
        assert broker.portfolio.fees_paid == pytest.approx(3.95)
        assert broker.futures.wallet_balance() == pytest.approx(10_000 + 100 - 3.95)
        assert venue_wallet(local) == pytest.approx(10_000 + 100 - 3.95)
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert order_posts(local) == 2


async def test_funding_received_and_paid_reaches_the_ledger_and_the_journal(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=5), tasks)
        short = broker.submit(market(Side.SELL, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: short.status is OrderStatus.FILLED)
        await broker.reconciler.check_account()
        cash = broker.portfolio.balance
        local.trading.move(BTC, mark=41_000)
        local.trading.settle_funding(BTC, "0.0001")  # a short receives 0.1 x 41,000 x 0.0001
        local.trading.settle_funding(BTC, "-0.0002")  # and pays 0.1 x 41,000 x 0.0002
        await broker.reconciler.check_account()
        await broker.reconciler.check_account()  # booked once, not twice
        assert [p.amount for p in broker.futures.funding] == pytest.approx([-0.41, 0.82])
        assert broker.futures.funding_paid == pytest.approx(0.41)
        assert broker.portfolio.balance == pytest.approx(cash + 0.41 - 0.82)
        assert broker.futures.wallet_balance() == pytest.approx(venue_wallet(local))
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert [r["amount"] for r in records(path, "funding")] == pytest.approx([0.41, -0.82])


async def test_leverage_above_the_bracket_maximum_is_refused_before_sending(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        with pytest.raises(ConfigError, match=r"leverage of BTC/USDT:USDT must be from 1 to 125"):
            await started(perp_broker(venue, tmp_path / "j.jsonl", leverage=150), tasks)
        tasks.cancel_scope.cancel()
    assert local.requests("/fapi/v1/leverage") == []
    assert order_posts(local) == 0


async def test_hedge_mode_is_refused_before_anything_is_set_or_sent(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    local.trading.accounts.set_dual_side(KEY, True)
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        with pytest.raises(ConfigError, match="hedge mode"):
            await started(perp_broker(venue, tmp_path / "j.jsonl"), tasks)
        tasks.cancel_scope.cancel()
    assert local.requests("/fapi/v1/leverage") == []
    assert local.requests("/fapi/v1/marginType") == []
    assert order_posts(local) == 0
    assert not (tmp_path / "j.jsonl").exists()


async def test_an_entry_beyond_the_available_margin_is_rejected_by_the_venue_once(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, tmp_path / "j.jsonl", leverage=5), tasks)
        # 1.3 x 40,000 / 5 = 10,400 of margin: more than the 10,000 wallet (-2019)
        too_big = broker.submit(market(Side.SELL, 1.3), "perp-run-000001", 40_000)
        await until(broker, lambda: too_big.status is OrderStatus.REJECTED)
        assert "insufficient" in too_big.reason.lower() or "margin" in too_big.reason.lower()
        # 0.3 x 40,000 / 5 = 2,400 fits
        fits = broker.submit(market(Side.SELL, 0.3), "perp-run-000002", 40_000)
        await until(broker, lambda: fits.status is OrderStatus.FILLED)
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert order_posts(local) == 2  # the refusal is final: not sent again
    assert float(local.trading.accounts.account(KEY).positions["BTCUSDT"].amount) == -0.3


async def test_a_resting_limit_is_booked_with_the_user_data_stream_on(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = perp_broker(venue, path, leverage=5, watch_trades=True, poll_interval=120)
        broker = await started(broker, tasks)
        limit = OrderRequest(BTC, Side.SELL, OrderType.LIMIT, 0.1, limit_price=40_500.0)
        resting = broker.submit(limit, "perp-run-000001", 40_000)
        await until(broker, lambda: resting.status is OrderStatus.OPEN)
        with anyio.fail_after(60):
            while not local.requests("/private/ws"):  # subscribed to the account's stream
                await anyio.sleep(0.01)
        local.trading.move(BTC, last=40_600, mark=40_600)  # the limit fills at 40,500
        await until(broker, lambda: resting.status is OrderStatus.FILLED, timeout=60)
        assert resting.average_price == 40_500
        assert broker.portfolio.position(BTC).amount == pytest.approx(-0.1)
        assert broker.portfolio.fees_paid == pytest.approx(0.0002 * 4_050)  # maker 0.02 %
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert [r.method for r in local.requests("/fapi/v1/listenKey")][:1] == ["POST"]


async def test_account_settings_are_retried_after_server_errors(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    local.faults.server_error("/fapi/v1/leverage", acted=True, status=502)  # set, answer lost
    local.faults.server_error("/fapi/v1/marginType", status=503)
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(
            perp_broker(venue, tmp_path / "j.jsonl", leverage=7, margin_mode="isolated"), tasks
        )
        assert broker.futures.leverage[BTC] == 7.0
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()
    assert len(local.requests("/fapi/v1/leverage")) == 2
    assert len(local.requests("/fapi/v1/marginType")) == 2
    settings = local.trading.accounts.account(KEY).positions["BTCUSDT"]
    assert (settings.leverage, settings.margin_type) == (7, "ISOLATED")
