"""The local USD-M venue's user-data stream, read by the real ccxt.pro ``binanceusdm`` client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest

from quantkit.testing.futures import LocalFuturesExchange, OrderRequest
from tests.testing.clients import loaded
from tests.testing.futures.usdm_clients import KEY, SECRET, pro_usdm

pytestmark = pytest.mark.anyio

BTC = "BTC/USDT:USDT"
DEADLINE = 20  # seconds; a loaded machine may be slow, a broken stream never answers


@pytest.fixture
async def exchange() -> AsyncIterator[LocalFuturesExchange]:
    accounts = {KEY: (SECRET, {"USDT": 10_000})}
    async with LocalFuturesExchange(end="2024-01-02", accounts=accounts) as ex:
        ex.trading.move(BTC, last=40_000, mark=40_000)
        yield ex


@pytest.fixture
async def client(exchange: LocalFuturesExchange) -> AsyncIterator[Any]:
    async with loaded(pro_usdm(exchange)) as client:
        yield client


async def subscribed(exchange: LocalFuturesExchange, client: Any, *waits: str) -> None:
    """Wait until the user-data socket is open and ccxt waits for each of ``waits``.

    ccxt resolves only the watches registered when a message arrives, so a test acts once
    the server holds the socket and the client's futures for these message hashes (prefixes)
    exist: synchronised on state, not on time.
    """

    def ready() -> bool:
        if exchange.trading.user_stream.connections == 0:
            return False
        futures = [
            k for url, c in client.clients.items() if "/private/ws" in url for k in c.futures
        ]
        return all(any(k.startswith(w) for k in futures) for w in waits)

    with anyio.fail_after(DEADLINE):
        while not ready():
            await anyio.sleep(0.01)


async def test_orders_and_trades_are_pushed(client: Any, exchange: LocalFuturesExchange) -> None:
    async with anyio.create_task_group() as tasks:
        orders: list[tuple[str, str, float, float | None]] = []  # snapshots: ccxt updates in place

        async def watch() -> None:
            while not any(o[1] == "closed" for o in orders):
                seen = await client.watch_orders(BTC)
                orders.extend((o["id"], o["status"], o["filled"], o["average"]) for o in seen)

        tasks.start_soon(watch)
        await subscribed(exchange, client, "orders:")
        placed = await client.create_order(BTC, "limit", "buy", 0.1, 39_000)
        exchange.trading.move(BTC, last=38_900)
        with anyio.fail_after(DEADLINE):
            while not any(o[1] == "closed" for o in orders):
                await anyio.sleep(0.01)
    mine = [o for o in orders if o[0] == placed["id"]]
    assert mine[0][:3] == (placed["id"], "open", 0)
    assert mine[-1] == (placed["id"], "closed", 0.1, 39_000)
    [trade] = await client.fetch_my_trades(BTC)
    assert trade["fee"]["cost"] == 0.78  # 3,900 x 0.02 % maker


async def test_my_trades_positions_and_balance_are_pushed(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    trades: list[Any] = []
    positions: list[Any] = []
    balances: list[Any] = []

    async def watch_trades() -> None:
        trades.extend(await client.watch_my_trades(BTC))

    async def watch_positions() -> None:
        while not positions:  # the first answer is the (empty) snapshot ccxt fetches itself
            positions.extend(await client.watch_positions([BTC]))

    async def watch_balance() -> None:
        balances.append(await client.watch_balance())

    async with anyio.create_task_group() as tasks:
        for watcher in (watch_trades, watch_positions, watch_balance):
            tasks.start_soon(watcher)
        await subscribed(exchange, client, "myTrades:", "linear:balance", "linear:positions")
        await client.create_order(BTC, "market", "sell", 0.5)
        with anyio.fail_after(DEADLINE):
            while not (trades and positions and balances):
                await anyio.sleep(0.01)
    assert [(t["side"], t["amount"], t["price"], t["fee"]["cost"]) for t in trades] == [
        ("sell", 0.5, 40_000, 10)
    ]
    assert (positions[0]["side"], positions[0]["contracts"], positions[0]["entryPrice"]) == (
        "short",
        0.5,
        40_000,
    )
    assert positions[0]["marginMode"] == "cross"
    assert balances[0]["USDT"]["total"] == 9_990  # wallet after the 10 USDT taker fee


async def test_funding_and_liquidation_reach_the_stream(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    await client.set_leverage(20, BTC)
    await client.set_margin_mode("isolated", BTC)
    await client.create_order(BTC, "market", "buy", 1)  # isolated wallet 2,000
    orders: list[Any] = []
    positions: list[Any] = []

    def liquidated() -> bool:
        return any(o["clientOrderId"].startswith("autoclose-") and o["filled"] for o in orders)

    async def watch_orders() -> None:
        while not liquidated():  # (Binance pushes the autoclose- order as NEW first)
            orders.extend(await client.watch_orders(BTC))

    async def watch_positions() -> None:
        while True:
            positions.extend(await client.watch_positions([BTC]))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch_orders)
        tasks.start_soon(watch_positions)
        await subscribed(exchange, client, "orders:", "linear:positions")
        exchange.trading.settle_funding(BTC, "0.001")  # pays 40 out of the isolated wallet
        exchange.trading.move(BTC, mark=37_000)  # 1,960 + (37,000 - 40,000) < maintenance
        with anyio.fail_after(DEADLINE):
            while not liquidated():
                await anyio.sleep(0.01)
        tasks.cancel_scope.cancel()
    liquidation = next(
        o for o in orders if o["clientOrderId"].startswith("autoclose-") and o["filled"]
    )
    # at its liquidation price, (1,960 - 40,000) / (0.004 - 1) by hand; the 0.4 % margin left
    # there is below the 1.25 % clearance fee, so the isolated wallet is lost whole
    assert (liquidation["side"], liquidation["filled"], liquidation["average"]) == (
        "sell",
        1,
        38_192.77108434,
    )
    assert liquidation["info"]["o"] == "LIQUIDATION" and liquidation["info"]["x"] == "CALCULATED"
    reasons = [p["info"] for p in positions]
    assert any(p["pa"] == "0" for p in reasons)  # the position pushed as closed
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] == 10_000 - 20 - 2_000  # fee, then the isolated margin


def _listen_key(url: str, method: str, api_key: str = KEY) -> tuple[int, Any]:
    request = urllib.request.Request(
        url + "/fapi/v1/listenKey", method=method, headers={"X-MBX-APIKEY": api_key}
    )
    try:
        with urllib.request.urlopen(request) as answer:  # loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_listen_keys_follow_binance_s_rules(exchange: LocalFuturesExchange) -> None:
    url = exchange.url
    status, first = await anyio.to_thread.run_sync(_listen_key, url, "POST")
    assert status == 200
    _, again = await anyio.to_thread.run_sync(_listen_key, url, "POST")
    assert again == first  # a valid key is returned again, not replaced
    assert (await anyio.to_thread.run_sync(_listen_key, url, "PUT"))[0] == 200
    assert (await anyio.to_thread.run_sync(_listen_key, url, "DELETE")) == (200, {})
    assert await anyio.to_thread.run_sync(_listen_key, url, "PUT") == (
        400,
        {"code": -1125, "msg": "This listenKey does not exist."},
    )
    assert (await anyio.to_thread.run_sync(_listen_key, url, "POST", "nobody"))[1]["code"] == -2015
    _, second = await anyio.to_thread.run_sync(_listen_key, url, "POST")
    assert second != first
    exchange.server_clock.jump(61 * 60_000)  # a key lives 60 minutes from its last renewal
    assert (await anyio.to_thread.run_sync(_listen_key, url, "PUT"))[1]["code"] == -1125
    _, third = await anyio.to_thread.run_sync(_listen_key, url, "POST")
    assert third not in (first, second)


async def test_a_lapsed_listen_key_ends_its_socket(exchange: LocalFuturesExchange) -> None:
    _, key = await anyio.to_thread.run_sync(_listen_key, exchange.url, "POST")
    async with aiohttp.ClientSession() as session:
        url = f"ws://127.0.0.1:{exchange.port}/private/ws?listenKey={key['listenKey']}"
        async with session.ws_connect(url) as socket:
            with anyio.fail_after(DEADLINE):
                while exchange.trading.user_stream.connections == 0:
                    await anyio.sleep(0.01)
            exchange.server_clock.jump(60 * 60_000 + 1)  # unrenewed for an hour
            order = OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.01"))
            exchange.trading.accounts.place(KEY, order, now=exchange.server_clock.now_ms())
            with anyio.fail_after(DEADLINE):
                message = await socket.receive_json()
                closing = await socket.receive()
    assert (message["e"], message["listenKey"]) == ("listenKeyExpired", key["listenKey"])
    assert closing.type == aiohttp.WSMsgType.CLOSE


async def test_events_made_in_another_thread_reach_a_threaded_server_s_socket() -> None:
    accounts = {KEY: (SECRET, {"USDT": 10_000})}
    with LocalFuturesExchange(end="2024-01-02", accounts=accounts) as exchange:  # own thread
        await anyio.to_thread.run_sync(lambda: exchange.trading.move(BTC, last=40_000, mark=40_000))
        client = pro_usdm(exchange)
        try:
            await client.load_markets()
            seen: list[tuple[str, str]] = []

            async def watch() -> None:
                while "closed" not in {s for _, s in seen}:
                    seen.extend((o["id"], o["status"]) for o in await client.watch_orders(BTC))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch)
                await subscribed(exchange, client, "orders:")
                placed = await client.create_order(BTC, "limit", "sell", 0.01, 40_500)
                # the price moves in a worker thread, neither the server's nor this loop's
                await anyio.to_thread.run_sync(lambda: exchange.trading.move(BTC, last=40_600))
                with anyio.fail_after(DEADLINE):
                    while "closed" not in {s for _, s in seen}:
                        await anyio.sleep(0.01)
        finally:
            await client.close()
    assert seen[0] == (placed["id"], "open") and seen[-1] == (placed["id"], "closed")


async def test_a_socket_with_an_unknown_listen_key_is_refused(
    exchange: LocalFuturesExchange,
) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"ws://127.0.0.1:{exchange.port}/private/ws?listenKey=never-issued"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
    assert refused.value.status == 400
    assert exchange.trading.user_stream.connections == 0
