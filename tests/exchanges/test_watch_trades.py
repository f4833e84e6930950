"""CcxtExchange.watch_my_trades: the real ccxt.pro client on the local exchange's user stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from quantkit.brokers.venue import TradingVenue
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.domain.venue import VenueTrade
from quantkit.errors import ExchangeError, VenueUnavailableError
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

pytestmark = pytest.mark.anyio

KEY, SECRET = "key-watch-81d2", "secret-watch-3c9f0a"
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))


def adapter(local: LocalExchange, keys: Credentials = KEYS) -> CcxtExchange:
    return CcxtExchange(
        "binance", credentials=keys, api_url=local.url, options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
    )  # fmt: skip


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    exchange = LocalExchange(
        start="2024-01-01",
        end="2024-01-01 06:00",
        live=True,
        warmup=10,
        accounts={KEY: (SECRET, {"USDT": 100_000})},
    )
    async with exchange:
        yield exchange


@pytest.fixture
async def venue(local: LocalExchange) -> AsyncIterator[CcxtExchange]:
    async with adapter(local) as exchange:
        yield exchange


async def subscribed(local: LocalExchange, count: int = 1) -> None:
    """Wait until the local exchange holds ``count`` user-data subscriptions."""
    with anyio.fail_after(60):
        while len(local.ws_api.user_streams()) < count:
            await anyio.sleep(0.005)


async def watch_while(
    venue: CcxtExchange, local: LocalExchange, act: Any, symbol: str | None = None
) -> list[VenueTrade]:
    """Start a watch, wait for its subscription, run ``act``, return what the watch got."""
    got: list[VenueTrade] = []

    async def watch() -> None:
        got.extend(await venue.watch_my_trades(symbol))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch)
            await subscribed(local)
            await act()
    return got


def buy(amount: float = 0.01, limit: float | None = None) -> OrderRequest:
    if limit is None:
        return OrderRequest(symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, amount=amount)
    return OrderRequest(
        symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT, amount=amount, limit_price=limit
    )


async def test_the_trade_of_a_market_order_arrives_as_rest_reports_it(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    async def place() -> None:
        await venue.create_order(buy(), "qk-market-1")

    streamed = await watch_while(venue, local, place)
    [rest] = await venue.my_trades("BTC/USDT")
    [trade] = streamed
    assert trade.client_id == "qk-market-1"
    assert trade == VenueTrade(**{**_fields(rest), "client_id": "qk-market-1"})
    assert trade.price == float(local.price("BTC/USDT")) and trade.amount == 0.01
    # Binance's 0.1 % taker fee in the asset received: 0.01 x 0.001 BTC, as REST reports it.
    assert (trade.fee, trade.fee_currency, trade.is_maker) == (0.00001, "BTC", False)
    assert [r.path for r in local.requests("/ws-api/v3")] == ["/ws-api/v3"]


def _fields(trade: VenueTrade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in VenueTrade.__slots__}


async def test_a_resting_limit_filled_by_a_publish_in_another_thread_arrives(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    upcoming = local.candles("BTC/USDT").iloc[local.published]
    limit = float(upcoming["low"])
    assert limit < float(local.price("BTC/USDT"))  # the order rests until the candle dips
    order = await venue.create_order(buy(limit=limit), "qk-limit-1")
    assert order.filled == 0

    async def publish() -> None:
        await anyio.to_thread.run_sync(local.publish)

    [trade] = await watch_while(venue, local, publish, symbol="BTC/USDT")
    [rest] = await venue.my_trades("BTC/USDT")
    assert _fields(trade) == {**_fields(rest), "client_id": "qk-limit-1"}
    assert (trade.price, trade.amount, trade.is_maker) == (limit, 0.01, True)
    assert trade.exchange_order_id == order.exchange_id


async def test_after_a_drop_a_new_watch_reconnects_and_gets_later_trades(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    failed: list[VenueUnavailableError] = []

    async def watch() -> None:
        with pytest.raises(VenueUnavailableError) as caught:
            await venue.watch_my_trades()
        failed.append(caught.value)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch)
            await subscribed(local)
            local.drop_websockets()
    assert "binance" in str(failed[0]) and "closed" in str(failed[0])

    async def place() -> None:
        await venue.create_order(buy(), "qk-after-drop")

    [trade] = await watch_while(venue, local, place)
    assert trade.client_id == "qk-after-drop"
    assert len(local.requests("/ws-api/v3")) == 2  # connected again
    assert local.ws_api.user_streams() == [KEY]


async def test_later_calls_return_the_trades_since_the_previous_one(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    async def place() -> None:
        await venue.create_order(buy(), "qk-1")

    await watch_while(venue, local, place)
    await venue.create_order(buy(), "qk-2")
    await venue.create_order(buy(), "qk-3")
    with anyio.fail_after(60):  # both trades are made; ccxt buffered them for the next call
        got: list[VenueTrade] = []
        while len(got) < 2:
            got += await venue.watch_my_trades()
    assert [t.client_id for t in got] == ["qk-2", "qk-3"]


async def test_bad_keys_are_an_authentication_error_that_quotes_no_secret(
    local: LocalExchange,
) -> None:
    wrong = Credentials(exchange="binance", api_key=SecretStr("nobody"), secret=SecretStr("x1"))
    async with adapter(local, wrong) as venue:
        with anyio.fail_after(60), pytest.raises(ExchangeError) as caught:
            await venue.watch_my_trades()
    assert caught.value.reason == "authentication"
    assert "nobody" not in str(caught.value) and "x1" not in str(caught.value)


async def test_an_unknown_symbol_is_refused(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError) as caught:
        await venue.watch_my_trades("BTC/USTD")
    assert caught.value.reason == "bad_symbol"


@pytest.mark.parametrize("exchange_id", ["coincheck", "bitbank"])
async def test_a_venue_without_the_websocket_refuses_before_any_request(
    local: LocalExchange, exchange_id: str
) -> None:
    async with CcxtExchange(exchange_id, api_url=local.url, rate_limit=False) as venue:
        with pytest.raises(ExchangeError) as caught:
            await venue.watch_my_trades()
    assert caught.value.reason == "not_supported"
    assert caught.value.exchange == exchange_id
    assert local.requests() == []


def test_the_adapter_is_still_a_trading_venue() -> None:
    venue: TradingVenue = CcxtExchange("binance")
    assert callable(venue.watch_my_trades)
