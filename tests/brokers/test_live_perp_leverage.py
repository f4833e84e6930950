"""PerpetualLiveBroker changes leverage with a position open: real ccxt, local USD-M venue."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import Journal
from quantkit.domain.order import OrderStatus, Side
from quantkit.errors import ExchangeError
from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    market,
    perp_broker,
    perp_venue,
    started,
    until,
)

pytestmark = pytest.mark.anyio
LEVERAGE = "/fapi/v1/leverage"


def leverage_posts(local: LocalFuturesExchange) -> int:
    return sum(1 for r in local.requests(LEVERAGE) if r.method == "POST")


def venue_position(local: LocalFuturesExchange) -> object:
    return local.trading.accounts.account(KEY).position("BTCUSDT")


async def test_isolated_raise_is_sent_journaled_and_kept_lowering_is_refused_before_sending(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=5, margin_mode="isolated"), tasks)
        long = broker.submit(market(Side.BUY, 0.1), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        position = venue_position(local)
        assert position.isolated_wallet == 800  # type: ignore[attr-defined]  # 4,000 / 5
        sent = leverage_posts(local)
        assert await broker.aset_leverage(BTC, 10) == 10
        assert leverage_posts(local) == sent + 1
        assert position.leverage == 10  # type: ignore[attr-defined]
        assert position.isolated_wallet == 800  # type: ignore[attr-defined]  # unchanged
        assert broker.futures.leverage[BTC] == 10
        assert broker.futures.isolated_wallet(BTC) == pytest.approx(800.0)
        # lowering an isolated position's leverage: Binance -4161, refused before sending
        with pytest.raises(ExchangeError, match="-4161") as caught:
            await broker.aset_leverage(BTC, 5)
        assert caught.value.reason == "leverage_refused"
        assert leverage_posts(local) == sent + 1
        assert broker.futures.leverage[BTC] == 10 and position.leverage == 10  # type: ignore[attr-defined]
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    with Journal(path, run_id="reader") as journal:
        changes = [r.data for r in journal.records() if r.kind.startswith("leverage")]
    assert changes == [{"symbol": BTC, "leverage": 10.0, "previous": 5.0}]
    # a restart configured with 5x keeps the run's 10x (5x would be -4161 on the venue)
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        again = await started(perp_broker(venue, path, leverage=5, margin_mode="isolated"), tasks)
        assert again.futures.leverage[BTC] == 10 and position.leverage == 10  # type: ignore[attr-defined]
        await again.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()


async def test_cross_lowering_beyond_the_available_margin_is_refused_as_the_venue_refuses(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(perp_broker(venue, path, leverage=20), tasks)  # cross margin
        long = broker.submit(market(Side.BUY, 2.0), "perp-run-000001", 40_000)
        await until(broker, lambda: long.status is OrderStatus.FILLED)
        await broker.reconciler.check_account()
        sent = leverage_posts(local)
        # to 2x: 80,000 / 2 - 80,000 / 20 = 36,000 more initial margin; about 6,000 available
        with pytest.raises(ExchangeError, match="-2028"):
            await broker.aset_leverage(BTC, 2)
        assert leverage_posts(local) == sent
        with pytest.raises(ExchangeError):  # the venue says the same when asked directly
            await venue.set_leverage(BTC, 2)
        assert leverage_posts(local) == sent + 1
        # to 125x: 80,000 of notional is in the second bracket (100x at most): -2027
        with pytest.raises(ExchangeError, match="-2027"):
            await broker.aset_leverage(BTC, 125)
        assert leverage_posts(local) == sent + 1
        with pytest.raises(ExchangeError, match="maximum allowable position"):
            await venue.set_leverage(BTC, 125)  # the venue's own refusal
        # to 10x: 8,000 - 4,000 = 4,000 more, which the account has
        assert await broker.aset_leverage(BTC, 10) == 10
        assert venue_position(local).leverage == 10  # type: ignore[attr-defined]
        assert broker.futures.available_margin() == pytest.approx(
            float(local.trading.accounts.account(KEY).wallet) - 8_000
        )
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
