"""The local exchange's user-data stream: Binance's websocket API, spoken by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest

from quantkit.testing import LocalExchange
from quantkit.testing.accounts import LocalAccounts, LocalFill, LocalOrder
from quantkit.testing.venue import LocalVenue
from quantkit.testing.ws_api import BinanceWebsocketApi

pytestmark = pytest.mark.anyio

KEY, SECRET = "user-key", "user-secret"
SUBSCRIBE = "userDataStream.subscribe.signature"


def signed(secret: str = SECRET, **extra: Any) -> dict[str, Any]:
    """ws-api parameters signed the Binance way: HMAC of the sorted key=value pairs."""
    params: dict[str, Any] = {"apiKey": KEY, "timestamp": int(time.time() * 1000), **extra}
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return params


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000})}
    )
    async with exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


@asynccontextmanager
async def connect(local: LocalExchange) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    url = f"ws://127.0.0.1:{local.port}/ws-api/v3"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        yield socket


async def receive(socket: aiohttp.ClientWebSocketResponse) -> Any:
    with anyio.fail_after(60):
        return json.loads(await socket.receive_str())


async def call(socket: aiohttp.ClientWebSocketResponse, method: str, params: Any = None) -> Any:
    message: dict[str, Any] = {"id": method, "method": method}
    if params is not None:
        message["params"] = params
    await socket.send_str(json.dumps(message))
    return await receive(socket)


async def subscribe(socket: aiohttp.ClientWebSocketResponse) -> int:
    answer = await call(socket, SUBSCRIBE, signed())
    assert answer["status"] == 200, answer
    subscription: int = answer["result"]["subscriptionId"]
    return subscription


async def test_an_order_is_reported_when_placed_and_when_it_trades(local: LocalExchange) -> None:
    async with connect(local) as socket:
        assert await subscribe(socket) == 0
        assert local.ws_api.user_streams() == [KEY]
        order = local.accounts.place(
            KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), client_id="c-1", now=1234
        )
        placed, traded = await receive(socket), await receive(socket)
    assert placed["subscriptionId"] == traded["subscriptionId"] == 0
    new, trade = placed["event"], traded["event"]
    assert (new["e"], new["x"], new["X"], new["t"], new["z"]) == (
        "executionReport", "NEW", "NEW", -1, "0",
    )  # fmt: skip
    fill = order.fills[0]
    assert trade == trade | {
        "s": "BTCUSDT", "c": "c-1", "S": "BUY", "o": "MARKET", "q": "0.01", "x": "TRADE",
        "X": "FILLED", "i": order.order_id, "l": "0.01", "z": "0.01", "L": "40000",
        "n": "0.00001", "N": "BTC", "T": 1234, "t": fill.trade_id, "m": False, "Z": "400",
        "Y": "400", "w": False,
    }  # fmt: skip


async def test_cancels_and_expiries_are_reported_and_resting_fills_are_maker(
    local: LocalExchange,
) -> None:
    book = local.accounts
    async with connect(local) as socket:
        await subscribe(socket)
        rest = book.place(KEY, "BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal(39_000), now=1)
        book.cancel(KEY, rest, now=2)
        ioc = book.place(
            KEY, "BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal(39_000),
            time_in_force="IOC", now=3,
        )  # fmt: skip
        maker = book.place(KEY, "BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal(39_500), now=4)
        book.set_price("BTC/USDT", 39_400, now=5)
        events = [(await receive(socket))["event"] for _ in range(6)]
    seen = [(e["i"], e["x"], e["X"], e["m"], e["T"]) for e in events]
    assert seen == [
        (rest.order_id, "NEW", "NEW", False, 1),
        (rest.order_id, "CANCELED", "CANCELED", False, 2),
        (ioc.order_id, "NEW", "NEW", False, 3),
        (ioc.order_id, "EXPIRED", "EXPIRED", False, 3),
        (maker.order_id, "NEW", "NEW", False, 4),
        (maker.order_id, "TRADE", "FILLED", True, 5),
    ]
    assert events[1]["C"] == rest.client_id and events[0]["C"] == ""
    assert (events[5]["L"], events[5]["N"], events[5]["p"]) == ("39500", "BTC", "39500")


async def test_only_the_account_s_own_orders_are_pushed(local: LocalExchange) -> None:
    local.accounts.add_account("other", "other-secret", {"USDT": 1000})
    async with connect(local) as socket:
        await subscribe(socket)
        local.accounts.place("other", "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=1)
        mine = local.accounts.place(KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=2)
        assert (await receive(socket))["event"]["i"] == mine.order_id


async def test_session_requests_and_unsubscribing(local: LocalExchange) -> None:
    async with connect(local) as socket:
        assert (await call(socket, "ping"))["result"] == {}
        assert await subscribe(socket) == 0
        assert await subscribe(socket) == 1
        listed = await call(socket, "session.subscriptions")
        assert listed["result"] == [{"subscriptionId": 0}, {"subscriptionId": 1}]
        assert (await call(socket, "userDataStream.unsubscribe", {"subscriptionId": 0}))[
            "result"
        ] == {}
        assert local.ws_api.user_streams() == [KEY]
        assert (await call(socket, "userDataStream.unsubscribe"))["result"] == {}
        assert local.ws_api.user_streams() == []
        again = await call(socket, "userDataStream.unsubscribe", {"subscriptionId": 1})
        assert again["error"]["code"] == -2035
        local.accounts.place(KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=1)
        assert (await call(socket, "ping"))["id"] == "ping"  # nothing was pushed before it


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        (lambda: signed(secret="wrong"), -1022, 400),
        (lambda: {**signed(), "apiKey": "nobody"}, -2015, 401),
        (lambda: {"timestamp": 1}, -1102, 400),
        (lambda: "not an object", -1102, 400),
    ],
)
async def test_bad_subscriptions_are_refused_binance_style(
    local: LocalExchange, params: Any, code: int, status: int
) -> None:
    async with connect(local) as socket:
        answer = await call(socket, SUBSCRIBE, params())
    assert answer["status"] == status
    assert answer["error"]["code"] == code
    assert answer["id"] == SUBSCRIBE


async def test_stale_signatures_bad_json_and_unknown_methods_are_refused(
    local: LocalExchange,
) -> None:
    stale = signed(timestamp=int(time.time() * 1000) - 60_000, recvWindow=5000)
    async with connect(local) as socket:
        assert (await call(socket, SUBSCRIBE, stale))["error"]["code"] == -1021
        assert (await call(socket, "order.place", {}))["error"]["code"] == -1020
        await socket.send_str("{not json")
        assert (await receive(socket))["error"]["code"] == -1102
        await socket.send_str("[1, 2]")
        assert (await receive(socket)) == {
            "id": None,
            "status": 400,
            "error": {"code": -1102, "msg": "Malformed request: expected a JSON object."},
        }


async def test_without_accounts_every_subscription_is_refused() -> None:
    api = BinanceWebsocketApi(LocalVenue(start="2024-01-01", end="2024-01-02"))
    with pytest.raises(Exception, match="Invalid API-key") as caught:
        api._verify_signature(signed())
    assert getattr(caught.value, "code", None) == -2015


async def test_muted_streams_push_nothing_and_dropped_ones_close(local: LocalExchange) -> None:
    async with connect(local) as socket:
        await subscribe(socket)
        local.mute_websockets()
        local.accounts.place(KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=1)
        local.mute_websockets(False)
        assert (await call(socket, "ping"))["id"] == "ping"  # the muted events are lost
        local.drop_websockets()
        with anyio.fail_after(60):
            closing = await socket.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with anyio.fail_after(60):
        while local.ws_api.connections:
            await anyio.sleep(0.01)
    assert local.ws_api.user_streams() == []


def test_fills_made_in_another_thread_reach_the_threaded_server_s_subscribers() -> None:
    async def listen(local: LocalExchange, ready: anyio.Event) -> list[Any]:
        async with connect(local) as socket:
            await subscribe(socket)
            ready.set()
            return [(await receive(socket))["event"]["x"] for _ in range(2)]

    async def main(local: LocalExchange) -> list[Any]:
        ready = anyio.Event()
        events: list[Any] = []

        async def run() -> None:
            events.extend(await listen(local, ready))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run)
            await ready.wait()
            await anyio.to_thread.run_sync(
                lambda: local.accounts.place(
                    KEY, "BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal(39_000), now=1
                )
            )
            await anyio.to_thread.run_sync(lambda: local.set_price("BTC/USDT", 38_000))
        return events

    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000})}
    )
    with exchange as local:
        local.set_price("BTC/USDT", 40_000)
        assert anyio.run(main, local) == ["NEW", "TRADE"]


def test_listeners_hear_every_change_until_removed() -> None:
    venue = LocalVenue(start="2024-01-01", end="2024-01-02")
    book = LocalAccounts(venue, {KEY: (SECRET, {"USDT": 1000})})
    heard: list[tuple[str, str, bool]] = []

    def listener(api_key: str, order: LocalOrder, fill: LocalFill | None) -> None:
        heard.append((api_key, order.status, fill is not None))

    book.add_listener(listener)
    book.set_price("BTC/USDT", 10_000)
    book.place(KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=0)
    book.remove_listener(listener)
    book.remove_listener(listener)  # unknown now: ignored
    book.place(KEY, "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), now=0)
    assert heard == [(KEY, "NEW", False), (KEY, "FILLED", True)]
