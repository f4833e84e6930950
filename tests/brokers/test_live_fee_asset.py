"""The live broker books a fee charged in the base asset as the venue does, at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderStatus
from quantkit.testing import LocalExchange
from tests.brokers.test_live_broker import (
    KEY,
    _Clock,
    _empty_series,
    broker_for,
    local_exchange,
    started,
    submit_one,
    venue_for,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


async def test_a_buy_s_base_fee_is_booked_as_the_venue_books_it(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue, anyio.create_task_group() as tasks:
        broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
        order = await submit_one(broker, amount=0.01)
        # booked from the trade itself, before any balance refresh
        held = broker.portfolio.position("BTC/USDT").amount
        cash = broker.portfolio.balance
        fills = [e for e in broker.events if isinstance(e, Fill)]
        await broker.ashutdown(cancel_open=False)
        tasks.cancel_scope.cancel()
    assert order.status is OrderStatus.FILLED
    (fill,) = fills
    assert (fill.fee, fill.fee_currency) == (pytest.approx(0.00001), "BTC")
    assert held == pytest.approx(0.00999)  # 0.01 less 0.1 % in BTC, as on the venue
    assert cash == pytest.approx(10_000.0 - 0.01 * fill.price)
    assert order.fee == pytest.approx(0.00001 * fill.price)
    balances = local.accounts.balances(KEY)
    assert held == pytest.approx(float(sum(balances["BTC"])), abs=1e-12)
    assert cash == pytest.approx(float(sum(balances["USDT"])), abs=1e-8)
    # the backtest with the venue's convention books the same fill the same way
    backtest = BacktestBroker(
        cash=10_000, markets={"BTC/USDT": broker.market("BTC/USDT")}, fees_charged_in="received"
    )
    backtest.prepare({"BTC/USDT": _empty_series()}, _Clock())
    assert backtest.rules.fees.charge(
        broker.market("BTC/USDT"), True, fill.price, 0.01, False, True
    ) == (pytest.approx(fill.fee), "BTC")
