"""Kline websockets of the local exchange: the real ccxt.pro client, the protocol, the faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio
import ccxt
import ccxt.pro
import pandas as pd
import pytest

from quantkit.errors import ConfigError
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

MINUTE = 60_000
JAN_1 = 1704067200000
WARMUP = 20


def point_at(client: Any, port: int) -> None:
    """Send every REST URL to http://127.0.0.1:PORT and every ws URL to ws://, keeping paths."""

    def rewrite(url: str, scheme: str) -> str:
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{scheme}://127.0.0.1:{port}{parts.path}{query}"

    def walk(urls: dict[str, Any], scheme: str) -> None:
        for key, value in urls.items():
            if isinstance(value, str):
                urls[key] = rewrite(value, scheme)
            elif isinstance(value, dict):
                walk(value, "ws" if key == "ws" else scheme)

    walk(client.urls["api"], "http")


@pytest.fixture
async def live() -> AsyncIterator[LocalExchange]:
    async with LocalExchange(live=True, warmup=WARMUP, end="2024-01-01 02:00") as exchange:
        yield exchange


@pytest.fixture
async def pro(live: LocalExchange) -> AsyncIterator[Any]:
    client = ccxt.pro.binance({"enableRateLimit": False, "options": dict(LOCAL_CCXT_OPTIONS)})
    point_at(client, live.port)
    try:
        yield client
    finally:
        await client.close()


async def watch_until(client: Any, time_ms: int, *, closed_before: bool = True) -> dict[int, list]:
    """Watch BTC/USDT 1m until a candle opening at time_ms arrives; return candles by time."""
    seen: dict[int, list] = {}
    with anyio.fail_after(60):
        while time_ms not in seen:
            for candle in await client.watch_ohlcv("BTC/USDT", "1m"):
                seen[candle[0]] = candle
    return seen


def row(live: LocalExchange, i: int) -> list[float]:
    bar = live.candles("BTC/USDT").iloc[i]
    time_ms = JAN_1 + i * MINUTE
    return [time_ms, bar.open, bar.high, bar.low, bar.close, bar.volume]


def forming(live: LocalExchange, i: int) -> list[float]:
    price = float(live.candles("BTC/USDT").iloc[i].open)
    return [JAN_1 + i * MINUTE, price, price, price, price, 0.0]


# ---------------------------------------------------------------------- the real client


@pytest.mark.anyio
async def test_watch_ohlcv_gets_each_published_bar_then_the_next_forming_one(
    live: LocalExchange, pro: Any
) -> None:
    first = await watch_until(pro, JAN_1 + WARMUP * MINUTE)  # sent on subscribing
    assert first[JAN_1 + WARMUP * MINUTE] == forming(live, WARMUP)
    assert live.ws_api.subscriptions() == {"btcusdt@kline_1m"}
    assert live.publish() == WARMUP + 1
    seen = await watch_until(pro, JAN_1 + (WARMUP + 1) * MINUTE)
    assert seen[JAN_1 + WARMUP * MINUTE] == row(live, WARMUP)  # the final update
    assert seen[JAN_1 + (WARMUP + 1) * MINUTE] == forming(live, WARMUP + 1)
    live.publish(2)
    seen = await watch_until(pro, JAN_1 + (WARMUP + 3) * MINUTE)
    assert seen[JAN_1 + (WARMUP + 2) * MINUTE] == row(live, WARMUP + 2)
    cached = {c[0]: c for c in pro.ohlcvs["BTC/USDT"]["1m"]}
    assert cached[JAN_1 + (WARMUP + 1) * MINUTE] == row(live, WARMUP + 1)


@pytest.mark.anyio
async def test_after_a_drop_the_client_reconnects_and_gets_later_bars(
    live: LocalExchange, pro: Any
) -> None:
    await watch_until(pro, JAN_1 + WARMUP * MINUTE)
    pending = anyio.Event()
    outcome: list[BaseException] = []

    async def watch() -> None:
        try:
            pending.set()
            await pro.watch_ohlcv("BTC/USDT", "1m")
        except ccxt.NetworkError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        await pending.wait()
        live.drop_websockets()
    assert outcome and "closed" in str(outcome[0])  # the waiting watch fails
    seen = await watch_until(pro, JAN_1 + WARMUP * MINUTE)  # a new connection
    assert live.ws_api.connections == 1
    live.publish()
    seen = await watch_until(pro, JAN_1 + (WARMUP + 1) * MINUTE)
    assert seen[JAN_1 + WARMUP * MINUTE] == row(live, WARMUP)
    assert len(live.requests("/ws/0")) == 2  # connected twice


@pytest.mark.anyio
async def test_a_muted_stream_delivers_nothing_until_unmuted(live: LocalExchange, pro: Any) -> None:
    await watch_until(pro, JAN_1 + WARMUP * MINUTE)
    live.mute_websockets(True)
    assert live.ws_api.muted
    live.publish()
    with anyio.move_on_after(0.3) as scope:
        await pro.watch_ohlcv("BTC/USDT", "1m")
    assert scope.cancelled_caught
    assert live.ws_api.connections == 1  # still open, just silent
    live.mute_websockets(False)
    live.publish()
    seen = await watch_until(pro, JAN_1 + (WARMUP + 2) * MINUTE)
    assert seen[JAN_1 + (WARMUP + 1) * MINUTE] == row(live, WARMUP + 1)
    assert JAN_1 + WARMUP * MINUTE not in seen or seen[JAN_1 + WARMUP * MINUTE][5] == 0


# --------------------------------------------------------------------------- protocol


async def receive(socket: aiohttp.ClientWebSocketResponse) -> Any:
    with anyio.fail_after(60):
        return json.loads(await socket.receive_str())


@asynccontextmanager
async def connect(port: int, path: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{port}{path}") as socket,
    ):
        yield socket


async def request(
    socket: aiohttp.ClientWebSocketResponse, method: str, *streams: str, id: int = 1
) -> Any:
    await socket.send_json({"method": method, "params": list(streams), "id": id})
    return await receive(socket)


@pytest.mark.anyio
async def test_subscribe_list_unsubscribe_and_errors(live: LocalExchange) -> None:
    async with connect(live.port, "/ws") as socket:
        answer = await request(socket, "SUBSCRIBE", "ethbtc@kline_1m", id=7)
        assert answer == {"result": None, "id": 7}
        event = await receive(socket)
        assert event["e"] == "kline" and event["s"] == "ETHBTC"
        k = event["k"]
        assert (k["t"], k["T"], k["i"], k["x"], k["v"]) == (
            JAN_1 + WARMUP * MINUTE, JAN_1 + (WARMUP + 1) * MINUTE - 1, "1m", False, "0"
        )  # fmt: skip
        assert event["E"] == JAN_1 + WARMUP * MINUTE
        await socket.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        assert await receive(socket) == {"result": ["ethbtc@kline_1m"], "id": 8}
        answer = await request(socket, "UNSUBSCRIBE", "ethbtc@kline_1m", id=9)
        assert answer == {"result": None, "id": 9}
        live.publish()  # nobody listens: nothing is pushed
        bad = [
            ("{", 3, "Invalid JSON"),
            ("[1]", 2, "JSON object"),
            (json.dumps({"method": "SUBSCRIB", "id": 1}), 2, "unknown variant"),
            (json.dumps({"method": "SUBSCRIBE", "params": "x", "id": 2}), 2, "list"),
            (json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_7m"]}), 2, "7m"),
            (json.dumps({"method": "SUBSCRIBE", "params": ["BTCUSDT@kline_1m"]}), 2, "BTC"),
            (json.dumps({"method": "SUBSCRIBE", "params": ["xyz@kline_1m"]}), 2, "xyz"),
        ]
        for text, code, words in bad:
            await socket.send_str(text)
            answer = await receive(socket)
            assert answer["error"]["code"] == code and words in answer["error"]["msg"]
        await socket.send_bytes(b"binary frames are ignored")
        await socket.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 10})
        assert await receive(socket) == {"result": [], "id": 10}


@pytest.mark.anyio
async def test_streams_in_the_url_and_the_combined_stream_wrapper(live: LocalExchange) -> None:
    base = f"ws://127.0.0.1:{live.port}"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{base}/ws/btcusdt@kline_1m") as raw:
            assert (await receive(raw))["k"]["x"] is False
        url = f"{base}/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
        async with session.ws_connect(url) as combined:
            got = {(m := await receive(combined))["stream"]: m["data"] for _ in range(2)}
            assert set(got) == {"btcusdt@kline_1m", "ethusdt@kline_1m"}
            assert got["ethusdt@kline_1m"]["s"] == "ETHUSDT"


@pytest.mark.anyio
async def test_coarser_streams_update_until_their_period_closes(live: LocalExchange) -> None:
    # 20 one-minute bars are out: the 15m bar of 00:15 holds 00:15-00:19 and the forming 00:20
    async with connect(live.port, "/stream/ws/3") as socket:
        answer = await request(socket, "SUBSCRIBE", "btcusdt@kline_15m")
        assert answer == {"result": None, "id": 1}
        now = (await receive(socket))["k"]
        assert (now["t"], now["x"]) == (JAN_1 + 15 * MINUTE, False)
        live.publish()  # 00:20 closes, 00:21 forms: still the same 15m bar
        update = (await receive(socket))["k"]
        assert (update["t"], update["x"]) == (JAN_1 + 15 * MINUTE, False)
        live.publish(9)  # through 00:29: the 00:15 bar closes on the last of them
        updates = [(await receive(socket))["k"] for _ in range(10)]
        assert [(u["t"], u["x"]) for u in updates[-2:]] == [
            (JAN_1 + 15 * MINUTE, True), (JAN_1 + 30 * MINUTE, False)
        ]  # fmt: skip
        minutes = live.candles("BTC/USDT").iloc[15:30]
        final = updates[-2]
        assert float(final["h"]) == minutes["high"].max()
        assert float(final["l"]) == minutes["low"].min()
        assert float(final["c"]) == minutes["close"].iloc[-1]
        assert float(final["v"]) == pytest.approx(minutes["volume"].sum())


@pytest.mark.anyio
async def test_the_last_bar_is_final_with_nothing_forming_after_it() -> None:
    async with LocalExchange(live=True, warmup=3, end="2024-01-01 00:05") as local:
        path = "/ws/btcusdt@kline_1m"
        async with connect(local.port, path) as socket:
            await receive(socket)
            local.publish(2)
            kinds = [(await receive(socket))["k"] for _ in range(3)]
            assert [(k["t"], k["x"]) for k in kinds] == [
                (JAN_1 + 3 * MINUTE, True), (JAN_1 + 4 * MINUTE, False), (JAN_1 + 4 * MINUTE, True)
            ]  # fmt: skip
        async with connect(local.port, path) as socket:  # all out: the current is final
            assert (await receive(socket))["k"]["x"] is True


@pytest.mark.anyio
async def test_a_timer_publishes_while_the_server_runs() -> None:
    exchange = LocalExchange(live=True, warmup=2, end="2024-01-01 00:05", publish_every=0.01)
    assert exchange.publish_every == 0.01
    async with exchange, aiohttp.ClientSession() as session:
        url = f"ws://127.0.0.1:{exchange.port}/ws/btcusdt@kline_1m"
        async with session.ws_connect(url) as socket:
            seen: list[dict[str, Any]] = []
            while not (seen and seen[-1]["t"] == JAN_1 + 4 * MINUTE and seen[-1]["x"]):
                seen.append((await receive(socket))["k"])
            assert exchange.published == 5
            # On a loaded machine the timer may publish before the socket subscribes: what was
            # seen closed is then a later run of consecutive minutes, still ending at minute 4.
            closed = [k["t"] for k in seen if k["x"]]
            first = (closed[0] - JAN_1) // MINUTE
            assert 2 <= first <= 4
            assert closed == [JAN_1 + i * MINUTE for i in range(first, 5)]
            with pytest.raises(ConfigError, match="only 0 of the data's 5"):
                exchange.publish()


def test_the_threaded_server_pushes_what_the_test_thread_publishes() -> None:
    async def listen(url: str, local: LocalExchange) -> list[Any]:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
            first = await receive(socket)
            await anyio.to_thread.run_sync(local.publish)  # from another thread than the server's
            return [first, await receive(socket), await receive(socket)]

    with LocalExchange(live=True, warmup=5, end="2024-01-01 01:00") as local:
        got = anyio.run(listen, f"ws://127.0.0.1:{local.port}/ws/ethusdt@kline_1m", local)
        assert local.published == 6
        assert [(m["k"]["t"], m["k"]["x"]) for m in got] == [
            (JAN_1 + 5 * MINUTE, False), (JAN_1 + 5 * MINUTE, True), (JAN_1 + 6 * MINUTE, False)
        ]  # fmt: skip
        local.drop_websockets()  # nothing open: harmless


@pytest.mark.anyio
async def test_not_live_subscriptions_are_answered_but_nothing_is_pushed() -> None:
    async with LocalExchange(end="2024-01-02") as local, connect(local.port, "/ws") as socket:
        assert await request(socket, "SUBSCRIBE", "btcusdt@kline_1m") == {"result": None, "id": 1}
        await socket.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        assert await receive(socket) == {"result": ["btcusdt@kline_1m"], "id": 2}  # no event
        await local.aclose()  # closes the open websocket instead of waiting for it
        with anyio.fail_after(60):
            message = await socket.receive()
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


@pytest.mark.anyio
async def test_markets_without_a_bar_at_a_step_push_nothing_for_it() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    frame = pd.DataFrame(
        {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 1.0}, index=index
    )
    candles = {"A/USDT": frame, "B/USDT": frame.drop(index[1]), "C/USDT": frame.iloc[:0]}
    local = LocalExchange([], candles=candles, live=True, warmup=1)
    async with local, connect(local.port, "/ws") as empty, connect(local.port, "/ws") as holed:
        assert await request(empty, "SUBSCRIBE", "cusdt@kline_1m") == {"result": None, "id": 1}
        assert await request(holed, "SUBSCRIBE", "busdt@kline_1m") == {"result": None, "id": 1}
        assert (await receive(holed))["k"]["t"] == JAN_1 + 2 * MINUTE  # the next bar forms
        async with connect(local.port, "/ws/busdt@kline_1m") as twin:  # a second subscriber
            await receive(twin)
            local.publish()  # 00:01: a hole for B, nothing at all for C
            local.publish()  # 00:02: B's last bar closes
            for socket in (holed, twin):
                final = (await receive(socket))["k"]
                assert (final["t"], final["x"], final["c"]) == (JAN_1 + 2 * MINUTE, True, "1.5")
        answer = await request(empty, "LIST_SUBSCRIPTIONS", id=2)
        assert answer == {"result": ["cusdt@kline_1m"], "id": 2}  # and no event before it
