"""CcxtPerpetualExchange: the real ccxt binanceusdm client against the local futures exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.errors import ConfigError, ExchangeError
from quantkit.exchanges.perpetuals import CcxtPerpetualExchange
from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import BTC, KEY, futures_exchange, perp_venue

pytestmark = pytest.mark.anyio


@pytest.fixture
def local() -> Iterator[LocalFuturesExchange]:
    with futures_exchange(price=40_000) as exchange:
        yield exchange


@pytest.fixture
async def venue(local: LocalFuturesExchange) -> AsyncIterator[CcxtPerpetualExchange]:
    async with perp_venue(local) as exchange:
        yield exchange


def market_order(side: Side, amount: float, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(BTC, side, OrderType.MARKET, amount, reduce_only=reduce_only)


async def test_markets_carry_the_venue_brackets(
    venue: CcxtPerpetualExchange, local: LocalFuturesExchange
) -> None:
    markets = await venue.markets()
    spec = markets[BTC].perpetual
    assert spec is not None and spec.settle == "USDT" and not spec.inverse
    venue_market = next(m for m in local.markets if m.symbol == BTC)
    first = venue_market.brackets[0]
    assert spec.max_leverage == float(first.initial_leverage)
    assert spec.brackets[0].maintenance_rate == float(first.maint_margin_ratio)


async def test_leverage_above_the_bracket_maximum_is_refused_before_sending(
    venue: CcxtPerpetualExchange, local: LocalFuturesExchange
) -> None:
    markets = await venue.markets()
    top = markets[BTC].perpetual.max_leverage  # type: ignore[union-attr]
    local.log.clear()
    with pytest.raises(ConfigError, match=rf"leverage of {BTC} must be from 1 to {top:g}"):
        await venue.set_leverage(BTC, top + 1)
    with pytest.raises(ConfigError, match="whole number"):
        await venue.set_leverage(BTC, 2.5)
    assert local.requests("/fapi/v1/leverage") == []
    assert await venue.set_leverage(BTC, 7) == 7.0
    assert len(local.requests("/fapi/v1/leverage")) == 1


async def test_margin_mode_set_twice_is_no_error(
    venue: CcxtPerpetualExchange, local: LocalFuturesExchange
) -> None:
    assert await venue.set_margin_mode(BTC, "isolated") == "isolated"
    assert await venue.set_margin_mode(BTC, "isolated") == "isolated"  # -4046 is success
    order = await venue.create_order(market_order(Side.SELL, 0.1), "mm-1")
    assert order.filled == pytest.approx(0.1)
    positions = await venue.positions([BTC])
    assert positions[BTC].margin_mode == "isolated"
    with pytest.raises(ExchangeError):  # -4048: a position is open
        await venue.set_margin_mode(BTC, "cross")
    with pytest.raises(ConfigError, match="'isolated' or 'cross'"):
        await venue.set_margin_mode(BTC, "portfolio")


async def test_hedge_mode_is_refused(
    venue: CcxtPerpetualExchange, local: LocalFuturesExchange
) -> None:
    await venue.check_one_way()  # one-way: fine
    local.trading.accounts.set_dual_side(KEY, True)  # switched on elsewhere (the web UI)
    with pytest.raises(ConfigError, match="hedge mode"):
        await venue.check_one_way()


async def test_a_short_position_as_position_risk_reports_it(
    venue: CcxtPerpetualExchange, local: LocalFuturesExchange
) -> None:
    await venue.set_leverage(BTC, 5)
    await venue.create_order(market_order(Side.SELL, 0.1), "short-1")
    local.trading.move(BTC, last=39_000, mark=39_000)
    position = (await venue.positions([BTC]))[BTC]
    assert position.amount == pytest.approx(-0.1)
    assert position.entry_price == pytest.approx(40_000)
    assert position.mark_price == pytest.approx(39_000)
    assert position.unrealized_pnl == pytest.approx(0.1 * (40_000 - 39_000))
    assert position.liquidation_price > 40_000  # a short is liquidated above its entry
    # wallet: 10,000 minus the taker fee 0.05 % of 4,000 (no unrealised P&L in it)
    assert await venue.wallet_balance("USDT") == pytest.approx(10_000 - 2.0)
    await venue.create_order(market_order(Side.BUY, 0.1, reduce_only=True), "exit-1")
    flat = (await venue.positions([BTC])).get(BTC)
    assert flat is None or flat.amount == 0
    # bought back at 39,000: +100 realised, two taker fees (2.0 and 1.95)
    assert await venue.wallet_balance("USDT") == pytest.approx(10_000 + 100 - 2.0 - 1.95)


async def test_reduce_only_exits_never_flip(venue: CcxtPerpetualExchange) -> None:
    await venue.create_order(market_order(Side.SELL, 0.1), "short-2")
    # reduce-only: cut to the short it closes (Binance's rule), never flipped into a long
    exit_order = await venue.create_order(market_order(Side.BUY, 0.3, reduce_only=True), "exit-2")
    assert exit_order.filled == pytest.approx(0.1)
    flat = (await venue.positions([BTC])).get(BTC)
    assert flat is None or flat.amount == 0
    with pytest.raises(ExchangeError):  # -2022: nothing left to reduce
        await venue.create_order(market_order(Side.BUY, 0.1, reduce_only=True), "exit-3")
    # without reduce-only a buy larger than the short flips it into a long
    await venue.create_order(market_order(Side.SELL, 0.1), "short-4")
    await venue.create_order(market_order(Side.BUY, 0.3), "flip-4")
    assert (await venue.positions([BTC]))[BTC].amount == pytest.approx(0.2)


async def test_funding_history_signs_by_hand(
    venue: CcxtPerpetualExchange, local: LocalFuturesExchange
) -> None:
    await venue.create_order(market_order(Side.SELL, 0.1), "short-3")
    local.trading.move(BTC, mark=41_000)
    local.trading.settle_funding(BTC, "0.0001")
    payments = await venue.funding_payments(BTC)
    # a short receives a positive rate: 0.1 x 41,000 x 0.0001 = 0.41
    assert [(p.symbol, p.currency) for p in payments] == [(BTC, "USDT")]
    assert payments[0].amount == pytest.approx(0.41)
    assert await venue.wallet_balance("USDT") == pytest.approx(10_000 - 2.0 + 0.41)
