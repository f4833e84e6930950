"""CcxtExchange as a TradingVenue: the real ccxt client against the local exchange's account."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import ccxt
import pytest
from pydantic import SecretStr

from quantkit.brokers.venue import TradingVenue
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from quantkit.domain.venue import VenueBalance
from quantkit.errors import (
    ConfigError,
    DataError,
    ExchangeError,
    RateLimitedError,
    RequestTimeoutError,
    TransientError,
    VenueUnavailableError,
)
from quantkit.exchanges import CcxtExchange
from quantkit.exchanges.errors import translate
from quantkit.exchanges.orders import (
    order_arguments,
    parse_balances,
    parse_my_trades,
    parse_order,
    parse_order_status,
)
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

pytestmark = pytest.mark.anyio

KEY, SECRET = "key-4f1c9a", "secret-77d2e0b5"
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))


def adapter(local: LocalExchange, *, keys: Credentials = KEYS, **kwargs: Any) -> CcxtExchange:
    """The adapter as the live broker builds it, pointed at the local exchange."""
    settings: dict[str, Any] = {"rate_limit": False, **kwargs}
    return CcxtExchange(
        "binance", credentials=keys, api_url=local.url, options=LOCAL_CCXT_OPTIONS, **settings
    )


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    """A fresh exchange: one account with 10,000 USDT and 1 ETH; BTC at 40,000."""
    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000, "ETH": 1})}
    )
    async with exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


@pytest.fixture
async def venue(local: LocalExchange) -> AsyncIterator[CcxtExchange]:
    async with adapter(local) as exchange:
        yield exchange


def assert_no_secret(exc: BaseException) -> None:
    """Neither the error nor anything it was raised from quotes the keys."""
    seen: BaseException | None = exc
    while seen is not None:
        for text in (str(seen), repr(seen)):
            assert SECRET not in text
            assert KEY not in text
        seen = seen.__cause__ or seen.__context__


def buy(amount: float | None = 0.1, **kwargs: Any) -> OrderRequest:
    return OrderRequest(symbol="BTC/USDT", side=Side.BUY, amount=amount, **kwargs)


# ------------------------------------------------------------------------------ building


def test_it_is_a_trading_venue_and_hides_its_keys() -> None:
    venue: TradingVenue = CcxtExchange("binance", credentials=KEYS, api_url="http://[::1]:9")
    text = repr(venue)
    assert text == (
        "CcxtExchange('binance', api_url='http://[::1]:9', rate_limit=True, credentials=<hidden>)"
    )
    assert SECRET not in text
    assert KEY not in text
    assert not any(SECRET in repr(value) for value in vars(venue).values() if value is not None)


def test_keys_for_another_exchange_are_refused() -> None:
    kraken_keys = Credentials(exchange="kraken", api_key=SecretStr(KEY), secret=SecretStr(SECRET))
    with pytest.raises(ConfigError, match="keys for one exchange are never sent to another") as e:
        CcxtExchange("binance", credentials=kraken_keys)
    assert_no_secret(e.value)


@pytest.mark.parametrize("url", ["https://api.binance.example", "http://10.0.0.5:8080"])
def test_keys_with_a_non_loopback_api_url_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="only a local test exchange") as caught:
        CcxtExchange("binance", credentials=KEYS, api_url=url)
    assert_no_secret(caught.value)
    CcxtExchange("binance", api_url=url)  # public data may come from anywhere


@pytest.mark.parametrize("url", ["http://localhost:9", "http://[::1]:9", "http://127.0.0.1:9"])
def test_keys_with_a_loopback_api_url_are_accepted(url: str) -> None:
    assert CcxtExchange("binance", credentials=KEYS, api_url=url).id == "binance"


def test_sandbox_switches_to_the_test_network_before_the_url_rewrite() -> None:
    venue = CcxtExchange("binance", sandbox=True)
    assert venue.api_urls["public"].startswith("https://testnet.binance.vision/")
    assert venue.api_urls["ws"]["spot"] == "wss://stream.testnet.binance.vision/ws"
    assert repr(venue) == "CcxtExchange('binance', rate_limit=True, sandbox=True)"
    local = CcxtExchange("binance", sandbox=True, api_url="http://127.0.0.1:9")
    assert local.api_urls["public"] == "http://127.0.0.1:9/api/v3"
    assert local.api_urls["ws"]["spot"] == "ws://127.0.0.1:9/ws"


def test_a_venue_without_a_sandbox_is_named() -> None:
    with pytest.raises(ConfigError, match="'kraken' has no sandbox"):
        CcxtExchange("kraken", sandbox=True)


def test_venues_ccxt_pro_lacks_still_work_over_rest() -> None:
    venue = CcxtExchange("bit2c", api_url="http://127.0.0.1:9")  # no ccxt.pro class in 4.5
    assert venue.id == "bit2c"
    assert "ws" not in venue.api_urls
    assert all(url.startswith("http://127.0.0.1:9") for url in venue.api_urls.values())


def test_a_passphrase_goes_to_the_client_and_nowhere_else() -> None:
    keys = Credentials(
        exchange="okx",
        api_key=SecretStr(KEY),
        secret=SecretStr(SECRET),
        password=SecretStr("pass-phrase-9"),
    )
    venue = CcxtExchange("okx", credentials=keys)
    assert venue._client.password == "pass-phrase-9"  # handed to ccxt, which signs with it
    assert "pass-phrase-9" not in repr(venue)
    assert not any("pass-phrase-9" in repr(v) for k, v in vars(venue).items() if k != "_client")


# ------------------------------------------------------------------------------ orders


async def test_a_market_buy_fills_and_echoes_the_client_id(venue: CcxtExchange) -> None:
    order = await venue.create_order(buy(), "qk-market-1")
    assert (order.client_id, order.symbol, order.side, order.type) == (
        "qk-market-1",
        "BTC/USDT",
        Side.BUY,
        OrderType.MARKET,
    )
    assert (order.status, order.amount, order.filled, order.average) == (
        OrderStatus.FILLED,
        0.1,
        0.1,
        40_000,
    )
    assert math.isnan(order.price)
    assert order.exchange_id
    assert abs(order.timestamp / 1e9 - time.time()) < 60
    balances = await venue.balances()
    assert balances["USDT"] == VenueBalance("USDT", 6_000, 0)
    assert balances["BTC"].total == 0.0999  # less the 0.1 % fee, charged in BTC


async def test_a_market_buy_by_cost(venue: CcxtExchange) -> None:
    order = await venue.create_order(buy(None, cost=2_000), "qk-cost")
    assert (order.status, order.filled, order.average) == (OrderStatus.FILLED, 0.05, 40_000)


async def test_a_limit_order_rests_fills_when_the_price_crosses_and_trades_carry_fees(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    placed = await venue.create_order(buy(type=OrderType.LIMIT, limit_price=39_000), "qk-limit-1")
    assert (placed.status, placed.price, placed.filled) == (OrderStatus.OPEN, 39_000, 0)
    assert math.isnan(placed.average)
    for symbol in ("BTC/USDT", None):
        assert [o.client_id for o in await venue.open_orders(symbol)] == ["qk-limit-1"]
    assert (await venue.balances())["USDT"] == VenueBalance("USDT", 6_100, 3_900)

    local.set_price("BTC/USDT", 38_500)
    filled = await venue.fetch_order("qk-limit-1", "BTC/USDT")
    assert filled is not None
    assert (filled.status, filled.filled, filled.average) == (OrderStatus.FILLED, 0.1, 39_000)
    assert filled.exchange_id == placed.exchange_id
    assert await venue.open_orders() == []

    (trade,) = await venue.my_trades("BTC/USDT", since_ms=int(time.time() * 1000) - 60_000)
    assert (trade.exchange_order_id, trade.side, trade.price, trade.amount) == (
        placed.exchange_id,
        Side.BUY,
        39_000,
        0.1,
    )
    # Binance's 0.1 % maker fee, charged in the asset received: 0.1 x 0.001 BTC.
    assert (trade.fee, trade.fee_currency, trade.is_maker) == (0.0001, "BTC", True)
    assert trade.trade_id
    assert await venue.my_trades("BTC/USDT", since_ms=int(time.time() * 1000) + 60_000) == []


async def test_an_ioc_limit_that_cannot_fill_expires(venue: CcxtExchange) -> None:
    order = await venue.create_order(
        buy(type=OrderType.LIMIT, limit_price=30_000, time_in_force=TimeInForce.IOC), "qk-ioc"
    )
    assert order.status is OrderStatus.EXPIRED


async def test_cancel_by_client_id_then_cancel_again(venue: CcxtExchange) -> None:
    await venue.create_order(buy(type=OrderType.LIMIT, limit_price=39_000), "qk-cancel")
    canceled = await venue.cancel_order("qk-cancel", "BTC/USDT")
    assert (canceled.client_id, canceled.status) == ("qk-cancel", OrderStatus.CANCELED)
    assert await venue.open_orders("BTC/USDT") == []
    assert (await venue.balances())["USDT"].free == 10_000
    with pytest.raises(ExchangeError) as caught:
        await venue.cancel_order("qk-cancel", "BTC/USDT")
    assert caught.value.reason == "order_not_found"
    assert str(caught.value).startswith(
        "binance: cancel of order 'qk-cancel' (BTC/USDT) refused: order not found: "
    )
    assert_no_secret(caught.value)


async def test_an_unknown_client_id_is_none(venue: CcxtExchange) -> None:
    assert await venue.fetch_order("qk-never-sent", "BTC/USDT") is None


async def test_insufficient_funds_is_a_permanent_refusal(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError) as caught:
        await venue.create_order(buy(1.0), "qk-too-big")
    assert not isinstance(caught.value, TransientError)
    assert caught.value.reason == "insufficient_funds"
    assert str(caught.value).startswith(
        "binance: order 'qk-too-big' (buy BTC/USDT) refused: insufficient funds: "
    )
    assert isinstance(caught.value.__cause__, ccxt.InsufficientFunds)
    assert_no_secret(caught.value)


async def test_an_order_the_venue_refuses_for_its_terms(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError) as caught:  # below LOT_SIZE's minimum
        await venue.create_order(buy(0.000001), "qk-tiny")
    assert caught.value.reason in ("invalid_order", "bad_request")
    assert_no_secret(caught.value)


async def test_a_stop_limit_goes_to_the_venue_as_its_stop_type(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    request = buy(type=OrderType.STOP_LIMIT, stop_price=41_000, limit_price=41_500)
    placed = await venue.create_order(request, "qk-stop")
    assert (placed.status, placed.type, placed.price) == (
        OrderStatus.OPEN, OrderType.STOP_LIMIT, 41_500,
    )  # fmt: skip
    assert [r.method for r in local.requests("/api/v3/order")] == ["POST"]
    (sent,) = local.accounts.orders(KEY)
    assert (sent.type, sent.stop_price, sent.price) == ("STOP_LOSS_LIMIT", 41_000, 41_500)


async def test_a_stop_market_goes_to_binance_spot_as_stop_loss(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    # ccxt's has-table says no createStopMarketOrder for Binance, but its features state
    # triggerPrice for spot and it sends a market order with triggerPrice as STOP_LOSS.
    placed = await venue.create_order(buy(type=OrderType.STOP, stop_price=41_000), "qk-stop")
    assert (placed.status, placed.type) == (OrderStatus.OPEN, OrderType.STOP)
    (sent,) = local.accounts.orders(KEY)
    assert (sent.type, sent.stop_price, sent.price) == ("STOP_LOSS", 41_000, 0)


async def test_a_stop_market_is_refused_before_sending_where_the_market_lacks_it(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.markets()
    info = venue._client.markets["BTC/USDT"]["info"]
    info["orderTypes"] = [t for t in info["orderTypes"] if t != "STOP_LOSS"]
    with pytest.raises(ExchangeError, match=r"stop \(createStopMarketOrder\) orders are not") as e:
        await venue.create_order(buy(type=OrderType.STOP, stop_price=41_000), "qk-stop")
    assert e.value.reason == "not_supported"
    assert local.requests("/api/v3/order") == []


async def test_an_unknown_symbol_is_refused_before_sending(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError, match="unknown symbol 'BTC/USDC'") as caught:
        await venue.create_order(OrderRequest("BTC/USDC", Side.BUY, amount=1.0), "qk-x")
    assert caught.value.reason == "bad_symbol"


async def test_all_open_orders_need_the_feature(venue: CcxtExchange) -> None:
    await venue.markets()
    venue._client.has = {**venue._client.has, "fetchOpenOrders": False}
    with pytest.raises(ExchangeError, match="does not offer fetchOpenOrders"):
        await venue.open_orders()


# ---------------------------------------------------------------- failures and unknowns


@pytest.mark.parametrize(
    ("seconds", "timeout", "expected"),
    [(0.0, 10.0, VenueUnavailableError), (5.0, 0.3, RequestTimeoutError)],
)
async def test_an_order_whose_answer_is_lost_exists_when_looked_up(
    local: LocalExchange, seconds: float, timeout: float, expected: type[TransientError]
) -> None:
    async with adapter(local, timeout=timeout) as venue:
        await venue.markets()
        local.faults.accept_then_fail("/api/v3/order", status=503, seconds=seconds)
        with pytest.raises(expected) as caught:
            await venue.create_order(buy(), "qk-lost")
        assert_no_secret(caught.value)
        found = await venue.fetch_order("qk-lost", "BTC/USDT")
    assert found is not None
    assert (found.client_id, found.status, found.filled) == ("qk-lost", OrderStatus.FILLED, 0.1)


async def test_a_429_is_rate_limited_with_the_venues_retry_after(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.markets()
    local.faults.rate_limit("/api/v3/account", retry_after=2)
    with pytest.raises(RateLimitedError) as caught:
        await venue.balances()
    assert caught.value.retry_after == 2.0
    assert_no_secret(caught.value)


async def test_a_wrong_secret_is_an_authentication_refusal(local: LocalExchange) -> None:
    wrong = Credentials(
        exchange="binance", api_key=SecretStr(KEY), secret=SecretStr("not-" + SECRET)
    )
    async with adapter(local, keys=wrong) as venue:
        with pytest.raises(ExchangeError) as caught:
            await venue.balances()
        with pytest.raises(ExchangeError) as on_order:
            await venue.create_order(buy(), "qk-auth")
        with pytest.raises(ExchangeError) as on_lookup:  # not "no such order": re-raised
            await venue.fetch_order("qk-auth", "BTC/USDT")
    assert caught.value.reason == on_order.value.reason == "authentication"
    assert on_lookup.value.reason == "authentication"
    assert "refused: authentication failed: AuthenticationError" in str(on_order.value)
    for exc in (caught.value, on_order.value):
        assert_no_secret(exc)
        assert "not-" + SECRET not in str(exc)


def test_keys_a_venue_echoes_are_masked_in_the_error_and_its_cause() -> None:
    original = ccxt.AuthenticationError(f"binance GET https://x/api?apikey={KEY} 401")
    mapped = translate(original, exchange="binance", secrets=(KEY, SECRET, None))
    assert isinstance(mapped, ExchangeError)
    assert str(mapped) == ("binance: AuthenticationError: GET https://x/api?apikey=********** 401")
    assert KEY not in str(original)


# -------------------------------------------------------------------------- rate limits


def _cost(client: Any, name: str, params: dict[str, Any]) -> float:
    """The weight ccxt's own limiter charges for one call of an implicit endpoint."""
    entry = next(vars(k)[name] for k in type(client).__mro__ if name in vars(k))
    return float(
        client.calculate_rate_limiter_cost(
            entry.api, entry.method, entry.path, params, entry.config
        )
    )


async def test_concurrent_tasks_share_ccxts_one_limiter_and_quantkit_adds_none(
    local: LocalExchange,
) -> None:
    async with adapter(local, rate_limit=True) as venue:
        await venue.markets()  # exchangeInfo, before the limiter is watched
        client = venue._client
        klines = _cost(client, "public_get_klines", {"limit": 5})
        order = _cost(client, "private_post_order", {})
        local.log.clear()
        # Watch ccxt's one limiter: every request must pass it exactly once, charged its weight.
        # Only lower bounds on time are checked: load can delay a request, never hurry it.
        limiter = client.throttle
        passed: list[float] = []

        async def watched(cost: float | None = None) -> None:
            await limiter(cost)
            passed.append(float(cost if cost is not None else 1))

        client.throttle = watched

        async def candles() -> None:
            for _ in range(4):
                await venue.fetch_ohlcv("BTC/USDT", "1m", 1704067200000, 5)

        async def orders() -> None:
            for n in range(4):
                await venue.create_order(buy(0.001), f"qk-rate-{n}")

        started = time.monotonic()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(candles)
            tasks.start_soon(orders)
        elapsed = time.monotonic() - started

    paths = [r.path for r in local.requests()]
    assert sorted(paths) == ["/api/v3/klines"] * 4 + ["/api/v3/order"] * 4
    # one pass through the shared limiter per request (quantkit adds no limiter of its own and
    # sends nothing around it), each charged the endpoint's weight, the two tasks interleaved
    assert sorted(passed) == sorted([klines] * 4 + [order] * 4)
    assert len(set(passed[:4])) == 2 or len(set(passed[4:])) == 2  # the two tasks interleaved
    # one bucket for both tasks: together they waited at least (nearly) the weight of every
    # request but the last, as one task alone would have
    seconds_per_unit = client.rateLimit / 1000
    assert elapsed >= 0.9 * sum(passed[:-1]) * seconds_per_unit


# ------------------------------------------------------------------------- websockets


async def test_watch_ohlcv_receives_each_published_candle() -> None:
    local = LocalExchange(live=True, warmup=10, end="2024-01-01 00:30")
    async with local, local.ccxt_exchange() as venue:
        with anyio.fail_after(60):
            (forming,) = await venue.watch_ohlcv("BTC/USDT", "1m")  # sent on subscribing
            local.publish()
            closed = await venue.watch_ohlcv("BTC/USDT", "1m")
        candles = local.candles("BTC/USDT")
    open_ms = candles.index[10].value // 1_000_000
    assert forming[0] == closed[-1][0] == open_ms
    assert closed[-1] == (open_ms, *candles.iloc[10].tolist())
    assert all(type(value) is float for value in closed[-1][1:])


async def test_websocket_candles_need_the_feature_and_a_timeframe(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError, match="timeframe '2m' is not offered"):
        await venue.watch_ohlcv("BTC/USDT", "2m")
    await venue.markets()
    venue._client.has = {**venue._client.has, "watchOHLCV": False}
    with pytest.raises(ExchangeError, match="does not offer watchOHLCV") as caught:
        await venue.watch_ohlcv("BTC/USDT", "1m")
    assert caught.value.reason == "not_supported"


# --------------------------------------------------------------------- request building


BINANCE_HAS = {
    "createStopMarketOrder": False,
    "createStopLimitOrder": True,
    "createMarketBuyOrderWithCost": True,
}
SPOT = {"type": "spot", "spot": True}
SWAP = {"type": "swap", "spot": False, "linear": True}
FEATURES = {
    "spot": {"createOrder": {"timeInForce": {"IOC": True, "FOK": False, "PO": True}}},
    "swap": {"linear": {"createOrder": {"timeInForce": {"PO": False}}}, "inverse": None},
}


def arguments(request: OrderRequest, market: dict[str, Any] = SPOT) -> Any:
    return order_arguments(
        request, "qk-1", market=market, has=BINANCE_HAS, features=FEATURES, exchange="x"
    )


def test_request_building_maps_types_and_unified_params() -> None:
    limit = arguments(buy(type=OrderType.LIMIT, limit_price=1.0, post_only=True))
    assert (limit.type, limit.side, limit.amount, limit.price, limit.cost) == (
        "limit",
        "buy",
        0.1,
        1.0,
        None,
    )
    assert limit.params == {"clientOrderId": "qk-1", "postOnly": True}
    stop = arguments(buy(type=OrderType.STOP_LIMIT, limit_price=2.0, stop_price=1.9))
    assert (stop.type, stop.params["triggerPrice"]) == ("limit", 1.9)
    ioc = arguments(buy(type=OrderType.LIMIT, limit_price=1.0, time_in_force=TimeInForce.IOC))
    assert ioc.params["timeInForce"] == "IOC"
    market_ioc = arguments(buy(time_in_force=TimeInForce.IOC))  # market orders take no TIF
    assert (market_ioc.type, market_ioc.price, market_ioc.params) == (
        "market",
        None,
        {"clientOrderId": "qk-1"},
    )
    by_cost = arguments(buy(None, cost=100.0))
    assert (by_cost.amount, by_cost.cost) == (None, 100.0)


def test_reduce_only_is_sent_for_derivatives_and_left_out_on_spot() -> None:
    assert "reduceOnly" not in arguments(buy(reduce_only=True)).params
    assert arguments(buy(reduce_only=True), SWAP).params["reduceOnly"] is True


@pytest.mark.parametrize(
    ("request_", "market", "message"),
    [
        (buy(type=OrderType.STOP, stop_price=1.0), SPOT, "stop .createStopMarketOrder."),
        (
            buy(type=OrderType.LIMIT, limit_price=1.0, time_in_force=TimeInForce.FOK),
            SPOT,
            "time-in-force FOK",
        ),
        (buy(type=OrderType.LIMIT, limit_price=1.0, post_only=True), SWAP, "post-only"),
        (
            OrderRequest("BTC/USDT", Side.SELL, cost=10.0),
            SPOT,
            "market sell by cost .createMarketSellOrderWithCost.",
        ),
    ],
)
def test_what_ccxt_says_the_venue_cannot_do_is_refused(
    request_: OrderRequest, market: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExchangeError, match=f"x: {message} orders are not supported") as caught:
        arguments(request_, market)
    assert caught.value.reason == "not_supported"


# ----------------------------------------------------------------------------- parsing


def raw_order(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "7",
        "clientOrderId": None,
        "symbol": "BTC/USDT",
        "side": "sell",
        "type": "limit",
        "amount": 2.0,
        "price": 10.0,
        "status": "open",
        "filled": 0.0,
        "average": None,
        "cost": None,
        "timestamp": 1_000,
    }
    return base | fields


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("open", 0.0, OrderStatus.OPEN),
        (None, 0.0, OrderStatus.OPEN),
        ("open", 0.5, OrderStatus.PARTIALLY_FILLED),
        ("closed", 2.0, OrderStatus.FILLED),
        ("canceled", 0.5, OrderStatus.CANCELED),
        ("expired", 0.0, OrderStatus.EXPIRED),
        ("rejected", 0.0, OrderStatus.REJECTED),
    ],
)
def test_statuses_map_to_quantkits(
    status: str | None, filled: float, expected: OrderStatus
) -> None:
    order = parse_order(raw_order(status=status, filled=filled), exchange="x", client_id="c")
    assert (order.status, order.filled, order.client_id) == (expected, filled, "c")
    assert parse_order_status(status, filled) is expected


def test_a_partly_filled_canceled_order_keeps_its_fill_and_derives_its_average() -> None:
    order = parse_order(
        raw_order(status="canceled", filled=0.5, cost=6.0, lastTradeTimestamp=2_000),
        exchange="x",
    )
    assert (order.status, order.filled, order.average, order.timestamp) == (
        OrderStatus.CANCELED,
        0.5,
        12.0,
        2_000_000_000,
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "market", "price": None}, OrderType.MARKET),
        ({"type": "LIMIT_MAKER"}, OrderType.LIMIT),
        ({"type": "stop_loss_limit"}, OrderType.STOP_LIMIT),
        ({"type": "stop_loss", "price": 0}, OrderType.STOP),
        ({"type": "market", "triggerPrice": 9.0, "price": None}, OrderType.STOP),
        ({"type": None, "price": None}, OrderType.MARKET),
    ],
)
def test_venue_order_types_map_to_quantkits(fields: dict[str, Any], expected: OrderType) -> None:
    order = parse_order(raw_order(**fields), exchange="x")
    assert order.type is expected
    assert math.isnan(order.price) == (expected in (OrderType.MARKET, OrderType.STOP))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "expected an order structure, got list"),
        (raw_order(status="weird"), "unknown order status 'weird'"),
        (raw_order(side="up"), "side 'up' is neither buy nor sell"),
        (raw_order(id=None), "the order has no id or no symbol"),
        (raw_order(filled="lots"), "filled 'lots' is not a number"),
    ],
)
def test_a_malformed_order_is_a_data_error(raw: object, problem: str) -> None:
    with pytest.raises(DataError, match=f"^x order 'c': {problem}"):
        parse_order(raw, exchange="x", client_id="c")


def raw_trade(**fields: Any) -> dict[str, Any]:
    base = {
        "id": 1,
        "order": 7,
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": "10",
        "amount": 1.5,
        "timestamp": 5,
        "takerOrMaker": "taker",
        "fee": {"cost": 0.1, "currency": "USDT"},
    }
    return base | fields


def test_trades_sum_their_fees_and_come_oldest_first() -> None:
    trades = parse_my_trades(
        [
            raw_trade(id=2, timestamp=9, fees=[{"cost": 0.2, "currency": "BNB"}] * 2),
            raw_trade(fee=None, clientOrderId="qk-9", takerOrMaker="maker"),
            raw_trade(id=3, timestamp=7, fee={"cost": None, "currency": None}),
            raw_trade(
                id=4,
                timestamp=8,
                fees=[{"cost": 1, "currency": "USDT"}, {"cost": 2, "currency": "X"}],
            ),
        ],
        exchange="x",
        symbol="BTC/USDT",
    )
    assert [(t.trade_id, t.fee, t.fee_currency) for t in trades] == [
        ("1", 0.0, ""),
        ("3", 0.0, ""),
        ("4", 1.0, "USDT"),
        ("2", 0.4, "BNB"),
    ]
    assert (trades[0].client_id, trades[0].is_maker, trades[0].timestamp) == ("qk-9", True, 5e6)
    assert (trades[0].price, trades[0].exchange_order_id) == (10.0, "7")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({}, "^x BTC/USDT account trades: expected a list of trades, got dict"),
        (["t"], "row 0: trade 't' is not a mapping"),
        ([raw_trade(order=None)], "row 0: the trade has no id or no order id"),
        ([raw_trade(price=None)], "row 0: price None is not a number"),
    ],
)
def test_malformed_trades_are_data_errors(raw: object, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        parse_my_trades(raw, exchange="x", symbol="BTC/USDT")


def test_balances_leave_zero_totals_out_and_fill_in_free() -> None:
    raw = {
        "free": {"USDT": 5.0, "BTC": 0.0, "ETH": None},
        "used": {"USDT": 1.0, "ETH": 0.5},
        "total": {"USDT": 6.0, "BTC": 0.0, "ETH": 2.0, "XRP": None},
    }
    assert parse_balances(raw, exchange="x") == {
        "USDT": VenueBalance("USDT", 5.0, 1.0),
        "ETH": VenueBalance("ETH", 1.5, 0.5),
    }
    assert parse_balances({"total": {"A": 3}}, exchange="x") == {"A": VenueBalance("A", 3, 0)}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [([], "expected ccxt's balance structure"), ({"free": {"A": "x"}}, "A free 'x' is not a")],
)
def test_malformed_balances_are_data_errors(raw: object, problem: str) -> None:
    with pytest.raises(DataError, match=f"^x balances: {problem}"):
        parse_balances(raw, exchange="x")
