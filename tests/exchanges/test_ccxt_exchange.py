"""CcxtExchange: the real ccxt client against the local exchange on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import anyio
import ccxt
import pytest

from quantkit.data.fetch import afetch_ohlcv_range
from quantkit.data.source import OhlcvSource
from quantkit.domain.market import Market
from quantkit.errors import ConfigError, ExchangeError, VenueUnavailableError
from quantkit.exchanges import CcxtExchange
from quantkit.exchanges.ccxt_exchange import DEFAULT_OHLCV_LIMIT, rewrite_api_urls
from quantkit.testing import DEFAULT_MARKETS, LOCAL_CCXT_OPTIONS, LocalExchange, LocalMarket

JAN_1 = 1704067200000


pytestmark = pytest.mark.usefixtures("clean_local")


@pytest.fixture
async def venue(local: LocalExchange) -> AsyncIterator[CcxtExchange]:
    async with local.ccxt_exchange() as exchange:
        yield exchange


# ----------------------------------------------------------------------------- building


def test_it_is_an_ohlcv_source_with_ccxts_stated_limit(local: LocalExchange) -> None:
    exchange: OhlcvSource = local.ccxt_exchange()
    assert exchange.id == "binance"
    assert exchange.ohlcv_limit == 1000
    assert {"1m", "1h", "1d", "1M"} <= set(exchange.timeframes)


def test_ccxts_rate_limiter_is_on_by_default_and_can_be_turned_off() -> None:
    assert CcxtExchange("binance").rate_limited is True
    assert CcxtExchange("binance", rate_limit=False).rate_limited is False


def test_an_unknown_exchange_id_suggests_close_ones() -> None:
    with pytest.raises(ConfigError, match="ccxt has no exchange 'binanse'; did you mean 'binance'"):
        CcxtExchange("binanse")
    with pytest.raises(ConfigError, match=r"ccxt has no exchange 'zzzz'$"):
        CcxtExchange("zzzz")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"timeout": 0}, "timeout must be a positive"), ({"ohlcv_limit": 0}, "ohlcv_limit must be")],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CcxtExchange("binance", **kwargs)  # type: ignore[arg-type]


def test_the_ohlcv_limit_can_be_set_and_defaults_when_ccxt_states_none() -> None:
    assert CcxtExchange("binance", ohlcv_limit=200).ohlcv_limit == 200
    # ccxt 4.5 states no fetchOHLCV limit for gemini
    assert CcxtExchange("gemini").ohlcv_limit == DEFAULT_OHLCV_LIMIT


def test_every_api_url_points_at_the_local_server(local: LocalExchange) -> None:
    urls = dict(local.ccxt_exchange().api_urls)
    websockets = urls.pop("ws")  # ccxt.pro's websocket URLs: ws:// of the same host
    assert len(urls) > 10
    assert all(url.startswith(local.url + "/") for url in urls.values())
    assert urls["public"] == local.url + "/api/v3"
    assert urls["fapiPublic"] == local.url + "/fapi/v1"
    ws_base = local.url.replace("http://", "ws://")
    assert websockets["spot"] == ws_base + "/ws"
    assert websockets["ws-api"]["spot"] == ws_base + "/ws-api/v3"
    assert all(url.startswith(ws_base + "/") for url in websockets.values() if isinstance(url, str))


def test_rewriting_urls_keeps_paths_nested_dicts_and_other_values() -> None:
    urls = {"rest": "https://a.example/v1/x", "ws": {"spot": "wss://s.example/ws"}, "n": None}
    assert rewrite_api_urls(urls, "http://127.0.0.1:1/") == {
        "rest": "http://127.0.0.1:1/v1/x",
        "ws": {"spot": "http://127.0.0.1:1/ws"},
        "n": None,
    }
    assert rewrite_api_urls("https://a.example", "http://h:2") == "http://h:2"


def test_repr_names_venue_and_target(local: LocalExchange) -> None:
    assert repr(CcxtExchange("kraken")) == "CcxtExchange('kraken', rate_limit=True)"
    assert repr(local.ccxt_exchange()) == (
        f"CcxtExchange('binance', api_url='{local.url}', rate_limit=False)"
    )


# ------------------------------------------------------------------------------ markets


@pytest.mark.anyio
async def test_markets_are_parsed_from_what_the_server_declares(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    markets = await venue.markets()
    assert list(markets) == [m.symbol for m in DEFAULT_MARKETS]
    for declared in DEFAULT_MARKETS:
        market = markets[declared.symbol]
        assert isinstance(market, Market)
        assert (market.base, market.quote) == (declared.base, declared.quote)
        assert market.price_increment == declared.tick_size  # ccxt's TICK_SIZE mode
        assert market.amount_increment == declared.step_size
        assert market.min_amount == declared.min_qty
        assert market.min_notional == declared.min_notional
        # exchangeInfo states no fees: ccxt's published binance spot rates apply
        assert (market.maker_fee, market.taker_fee) == (0.001, 0.001)
    assert [r.path for r in local.requests()] == ["/api/v3/exchangeInfo"]


@pytest.mark.anyio
async def test_one_market_and_an_unknown_one(venue: CcxtExchange) -> None:
    market = await venue.market("ETH/BTC")
    assert (market.price_increment, market.min_notional) == (0.00001, 0.0001)
    with pytest.raises(
        ExchangeError, match="binance: unknown symbol 'ETH/BTX'; did you mean 'ETH/BTC'"
    ):
        await venue.market("ETH/BTX")


@pytest.mark.anyio
async def test_a_malformed_market_is_skipped_with_a_warning(venue: CcxtExchange) -> None:
    await venue.markets()
    # what a venue might declare: a fee rate no Market accepts
    venue._client.markets["ETH/BTC"]["taker"] = 5.0
    with pytest.warns(UserWarning, match="skipping a malformed market: binance market 'ETH/BTC'"):
        markets = await venue.markets()
    assert list(markets) == ["BTC/USDT", "ETH/USDT"]


@pytest.mark.anyio
async def test_a_market_in_decimal_places_mode() -> None:
    markets = [LocalMarket("ADA/USDT", price=0.5, tick_size=0.0001, step_size=0.1, min_qty=0.1)]
    local = LocalExchange(markets)
    async with local, local.ccxt_exchange() as venue:
        await venue.markets()
        client = venue._client
        client.precisionMode = ccxt.DECIMAL_PLACES
        client.markets["ADA/USDT"]["precision"] = {"price": 4, "amount": 1}
        market = await venue.market("ADA/USDT")
    assert (market.price_increment, market.amount_increment) == (0.0001, 0.1)


# ------------------------------------------------------------------------------ candles


@pytest.mark.anyio
async def test_candles_are_tuples_equal_to_the_servers(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    rows = await venue.fetch_ohlcv("BTC/USDT", "4h", JAN_1, 6)
    served = local.candles("BTC/USDT", "4h").iloc[:6]
    assert [row[0] for row in rows] == [t.value // 1_000_000 for t in served.index]
    assert [row[1:] for row in rows] == [tuple(v) for v in served.to_numpy().tolist()]
    assert all(type(row[0]) is int for row in rows)
    (klines,) = local.requests("/api/v3/klines")
    assert klines.query == {
        "symbol": "BTCUSDT",
        "interval": "4h",
        "limit": "6",
        "startTime": str(JAN_1),
    }


@pytest.mark.anyio
async def test_an_unoffered_timeframe_is_refused_before_any_request(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    with pytest.raises(
        ExchangeError, match=r"timeframe '2m' is not offered \(offered: 1s, 1m, 3m, "
    ):
        await venue.fetch_ohlcv("BTC/USDT", "2m", JAN_1, 10)
    assert local.requests() == []


@pytest.mark.anyio
async def test_an_unknown_symbol_is_an_exchange_error(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError, match=r"unknown symbol 'ZZZ/QQQ'$"):
        await venue.fetch_ohlcv("ZZZ/QQQ", "1h", JAN_1, 10)


@pytest.mark.anyio
async def test_a_venue_without_the_feature_is_an_exchange_error(venue: CcxtExchange) -> None:
    await venue.markets()
    venue._client.has = {**venue._client.has, "fetchTrades": False}  # as some venues declare
    with pytest.raises(ExchangeError, match="binance: the venue does not offer fetchTrades"):
        await venue.fetch_trades("BTC/USDT", JAN_1, 10)


@pytest.mark.anyio
async def test_an_endpoint_the_server_lacks_is_a_visible_404(local: LocalExchange) -> None:
    async with local.ccxt_exchange(options={"fetchTradesMethod": "publicGetTrades"}) as venue:
        with pytest.raises(VenueUnavailableError, match="404"):
            await venue.fetch_trades("BTC/USDT", JAN_1, 10)
    assert local.requests()[-1].path == "/api/v3/trades"


# ------------------------------------------------------------------------------- trades


@pytest.mark.anyio
async def test_trades_carry_the_takers_side(local: LocalExchange, venue: CcxtExchange) -> None:
    rows = await venue.fetch_trades("ETH/USDT", JAN_1, 50)
    served = local.trades("ETH/USDT").iloc[:50]
    assert rows == list(
        zip(
            [t.value // 1_000_000 for t in served.index],
            served["price"],
            served["amount"],
            served["side"],
            strict=True,
        )
    )
    assert {side for *_, side in rows} == {"buy", "sell"}


# ---------------------------------------------------------------------------- lifecycle


def test_a_closed_exchange_reopens_and_keeps_its_markets(local: LocalExchange) -> None:
    venue = local.ccxt_exchange()

    async def twice() -> None:
        first = await venue.fetch_ohlcv("BTC/USDT", "1h", JAN_1, 2)
        await venue.aclose()
        await venue.aclose()  # closing twice is harmless
        assert await venue.fetch_ohlcv("BTC/USDT", "1h", JAN_1, 2) == first
        await venue.aclose()

    anyio.run(twice)
    anyio.run(twice)  # and in another event loop
    assert len(local.requests("/api/v3/exchangeInfo")) == 1


@pytest.mark.anyio
async def test_an_exchange_closed_before_use_opens_fresh(local: LocalExchange) -> None:
    venue = local.ccxt_exchange()
    await venue.aclose()
    assert len(await venue.markets()) == 3
    await venue.aclose()


@pytest.mark.anyio
async def test_ccxts_rate_limiter_spaces_requests_and_quantkit_adds_none(
    local: LocalExchange,
) -> None:
    venue = CcxtExchange(
        "binance", options=LOCAL_CCXT_OPTIONS, api_url=local.url, ohlcv_limit=100
    )  # rate_limit left at its default
    # Watch ccxt's one limiter instead of timing the whole download (load only adds time):
    # every request passes it exactly once and nothing else is sent or waited on around it.
    client = venue._client
    limiter = client.throttle
    passes: list[float] = []

    async def watched(cost: float | None = None) -> None:
        passes.append(float(cost if cost is not None else 1))
        await limiter(cost)

    client.throttle = watched
    async with venue:
        bars = await afetch_ohlcv_range(venue, "BTC/USDT", "1m", "2024-01-01", "2024-01-01 06:40")
    assert len(bars) == 400
    info, *pages = local.requests()
    assert (info.path, len(pages)) == ("/api/v3/exchangeInfo", 4)
    # ccxt charges exchangeInfo 4 units and klines 0.4 units of 50 ms before the next request
    assert pages[0].time - info.time >= 0.9 * 4 * 0.050
    assert all(b.time - a.time >= 0.9 * 0.4 * 0.050 for a, b in itertools.pairwise(pages))
    assert client.rateLimit == 50
    assert passes == [4.0] + [0.4] * 4  # one pass per request: no second limiter on top
