"""CcxtExchange's derivatives data (funding rates, mark/index candles) against the local
futures exchange, through the real async ccxt ``binanceusdm`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from quantkit.errors import DataError, ExchangeError
from quantkit.exchanges import CcxtExchange
from quantkit.exchanges.derivatives import parse_funding_rates
from quantkit.testing import LocalFuturesExchange

pytestmark = pytest.mark.anyio
BTC = "BTC/USDT:USDT"
JAN_1_MS = 1_704_067_200_000


@pytest.fixture(scope="module")
def local() -> Iterator[LocalFuturesExchange]:
    with LocalFuturesExchange(end="2024-01-03", accounts={"k": ("s", {"USDT": 100})}) as exchange:
        yield exchange


@pytest.fixture
async def venue(local: LocalFuturesExchange) -> AsyncIterator[CcxtExchange]:
    async with local.ccxt_exchange() as exchange:
        yield exchange


async def test_funding_rates_with_their_mark_prices(
    venue: CcxtExchange, local: LocalFuturesExchange
) -> None:
    rows = await venue.fetch_funding_rates(BTC, JAN_1_MS, 4)
    expected = local.funding_rates(BTC).iloc[:4]
    assert [r[0] for r in rows] == [JAN_1_MS + k * 28_800_000 for k in range(4)]
    assert [r[1] for r in rows] == expected["rate"].tolist()
    assert [r[2] for r in rows] == expected["mark_price"].tolist()
    assert venue.funding_limit == 1000


@pytest.mark.parametrize("price", ["last", "mark", "index"])
async def test_candles_of_each_price(
    venue: CcxtExchange, local: LocalFuturesExchange, price: str
) -> None:
    rows = await venue.fetch_price_ohlcv(BTC, "1h", JAN_1_MS, 5, price)  # type: ignore[arg-type]
    frame = local.candles(BTC, "1h", price)  # type: ignore[arg-type]
    assert [r[4] for r in rows] == frame["close"].iloc[:5].tolist()
    assert venue.offers_price(price)  # type: ignore[arg-type]


async def test_refusals_are_quantkit_errors(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError, match="unknown symbol 'BTC/USDT'") as caught:
        await venue.fetch_funding_rates("BTC/USDT", JAN_1_MS, 4)
    assert caught.value.reason == "bad_symbol"
    with pytest.raises(ExchangeError, match="timeframe '7m' is not offered"):
        await venue.fetch_price_ohlcv(BTC, "7m", JAN_1_MS, 5, "mark")


def test_malformed_funding_answers_name_the_row() -> None:
    good = {"timestamp": 0, "fundingRate": 1e-4, "info": {}}
    assert parse_funding_rates([good], exchange="x", symbol="y") == [(0, 1e-4, None)]
    with pytest.raises(DataError, match="row 1: funding rate None is not a number"):
        parse_funding_rates([good, {"timestamp": 1, "fundingRate": None}], exchange="x", symbol="y")
    with pytest.raises(DataError, match="expected a list"):
        parse_funding_rates({"a": 1}, exchange="x", symbol="y")
    bad_mark = {"timestamp": 0, "fundingRate": 0.0, "info": {"markPrice": "abc"}}
    with pytest.raises(DataError, match="row 0: mark 'abc' is not a number"):
        parse_funding_rates([bad_mark], exchange="x", symbol="y")


def test_the_local_venues_markets_parse_into_perpetual_specs(local: LocalFuturesExchange) -> None:
    """Server (exchangeInfo, leverageBracket, fundingInfo) -> real ccxt -> quantkit's parser."""
    import ccxt

    from quantkit.exchanges.client import rewrite_api_urls
    from quantkit.exchanges.perp_markets import parse_perpetual_market

    client = ccxt.binanceusdm({**local.ccxt_options(), "apiKey": "k", "secret": "s"})
    client.urls["api"] = rewrite_api_urls(client.urls["api"], local.url)
    client.load_markets()
    tiers = client.fetch_leverage_tiers()
    intervals = client.fetch_funding_intervals()
    raw = client.markets[BTC]
    market = parse_perpetual_market(
        raw, tiers[BTC], precision_mode=client.precisionMode, exchange="binanceusdm",
        funding_interval=intervals[BTC]["interval"],
        liquidation_fee=float(raw["info"]["liquidationFee"]),
    )  # fmt: skip
    spec = market.perpetual
    assert spec is not None and not spec.inverse and spec.settle == "USDT"
    assert (spec.contract_size, spec.funding_interval_ns) == (1.0, 8 * 3_600 * 10**9)
    assert (spec.max_leverage, spec.liquidation_fee) == (125.0, 0.0125)
    assert [b.maintenance_amount for b in spec.brackets[:3]] == [0.0, 50.0, 950.0]
    # maintenance margin of 2 BTC at 50,000 (notional 100,000, bracket 2): 100,000 x 0.5 % - 50
    assert spec.maintenance(2.0, 50_000.0) == pytest.approx(450.0, abs=1e-9)
