"""LocalExchange's signed endpoints, driven by the real ccxt async ``binance`` client."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base import errors as ccxt_errors

from quantkit.errors import ConfigError
from quantkit.testing import LocalAccounts, LocalExchange, LocalVenue
from tests.testing.clients import KEY, SECRET, free, make_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[LocalExchange]:
    """A fresh server with one account holding 10,000 USDT and 1 ETH; BTC at 40,000."""
    accounts = {KEY: (SECRET, {"USDT": 10_000, "ETH": 1})}
    with LocalExchange(start="2024-01-01", end="2024-01-02", accounts=accounts) as exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


# ------------------------------------------------------------------------------ trading


async def test_fetch_balance(client: Any) -> None:
    balance = await client.fetch_balance()
    assert free(balance, "USDT") == 10_000
    assert free(balance, "ETH") == 1
    assert balance["USDT"]["used"] == 0


async def test_market_buy_and_sell_move_balances_and_return_fills(client: Any) -> None:
    order = await client.create_order("BTC/USDT", "market", "buy", 0.1)
    assert order["status"] == "closed"
    assert (order["filled"], order["average"], order["cost"]) == (0.1, 40_000, 4_000)
    assert [(t["price"], t["amount"]) for t in order["trades"]] == [(40_000, 0.1)]
    assert order["clientOrderId"]  # ccxt's own newClientOrderId, echoed back
    # Binance's 0.1 % taker fee, charged in the asset received: 0.1 x 0.001 = 0.0001 BTC.
    assert [(t["fee"]["cost"], t["fee"]["currency"]) for t in order["trades"]] == [(0.0001, "BTC")]
    balance = await client.fetch_balance()
    assert (free(balance, "USDT"), free(balance, "BTC")) == (6_000, 0.0999)

    sold = await client.create_order("BTC/USDT", "market", "sell", 0.05)
    assert (sold["status"], sold["side"], sold["cost"]) == ("closed", "sell", 2_000)
    assert [(t["fee"]["cost"], t["fee"]["currency"]) for t in sold["trades"]] == [(2, "USDT")]
    balance = await client.fetch_balance()
    assert (free(balance, "USDT"), free(balance, "BTC")) == (7_998, 0.0499)


async def test_limit_order_rests_then_is_canceled(client: Any) -> None:
    order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 39_000)
    assert order["status"] == "open"
    balance = await client.fetch_balance()
    assert (free(balance, "USDT"), balance["USDT"]["used"]) == (6_100, 3_900)
    opened = await client.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in opened] == [order["id"]]
    assert [o["id"] for o in await client.fetch_open_orders()] == [order["id"]]

    canceled = await client.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert await client.fetch_open_orders("BTC/USDT") == []
    assert (await client.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
    assert free(await client.fetch_balance(), "USDT") == 10_000


async def test_limit_orders_fill_when_the_price_moves_through_them(
    server: LocalExchange, client: Any
) -> None:
    buy = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 39_000)
    sell = await client.create_order("ETH/USDT", "limit", "sell", 0.5, 2_500)
    server.set_price("BTC/USDT", 39_500)  # not far enough
    assert (await client.fetch_order(buy["id"], "BTC/USDT"))["status"] == "open"
    server.set_price("BTC/USDT", 38_000)
    server.set_price("ETH/USDT", "2600")
    filled = await client.fetch_order(buy["id"], "BTC/USDT")
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.1, 39_000)
    assert (await client.fetch_order(sell["id"], "ETH/USDT"))["status"] == "closed"
    balance = await client.fetch_balance()
    assert free(balance, "USDT") == 10_000 - 3_900 + 1_250 - 1.25  # maker fee in USDT
    assert (free(balance, "BTC"), free(balance, "ETH")) == (0.0999, 0.5)
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["price"], t["takerOrMaker"]) for t in trades] == [
        (buy["id"], 39_000, "maker")
    ]


async def test_marketable_limit_fills_at_once_and_ioc_expires(client: Any) -> None:
    taker = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 41_000)
    assert (taker["status"], taker["average"]) == ("closed", 40_000)  # at the better price
    ioc = await client.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 30_000, {"timeInForce": "IOC"}
    )
    assert ioc["status"] == "expired"
    assert free(await client.fetch_balance(), "USDT") == 10_000 - 400


async def test_fetch_order_by_id_and_by_client_id_and_my_trades(client: Any) -> None:
    placed = await client.create_order(
        "BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "mine-1"}
    )
    assert placed["clientOrderId"] == "mine-1"
    by_id = await client.fetch_order(placed["id"], "BTC/USDT")
    by_client = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "mine-1"})
    assert by_id["id"] == by_client["id"] == placed["id"]
    assert by_client["clientOrderId"] == "mine-1"
    await client.create_order("BTC/USDT", "market", "sell", 0.005)
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["side"], t["amount"], t["cost"]) for t in trades] == [
        ("buy", 0.01, 400),
        ("sell", 0.005, 200),
    ]
    assert trades[0]["order"] == placed["id"]
    assert await client.fetch_my_trades("ETH/USDT") == []


# ------------------------------------------------------------------------------- errors


async def test_wrong_secret_is_an_authentication_error(server: LocalExchange) -> None:
    client = make_client(server, secret="not-the-secret")
    try:
        with pytest.raises(ccxt_errors.AuthenticationError):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_insufficient_balance(client: Any) -> None:
    with pytest.raises(ccxt_errors.InsufficientFunds):
        await client.create_order("BTC/USDT", "market", "buy", 1)
    with pytest.raises(ccxt_errors.InsufficientFunds):
        await client.create_order("ETH/USDT", "limit", "sell", 2, 3_000)


async def test_unknown_orders_are_not_found(client: Any) -> None:
    with pytest.raises(ccxt_errors.OrderNotFound):
        await client.cancel_order("999", "BTC/USDT")
    with pytest.raises(ccxt_errors.OrderNotFound):
        await client.fetch_order("999", "BTC/USDT")
    filled = await client.create_order("BTC/USDT", "market", "buy", 0.01)
    with pytest.raises(ccxt_errors.OrderNotFound):  # no longer open
        await client.cancel_order(filled["id"], "BTC/USDT")


async def test_stale_timestamp_is_an_invalid_nonce(client: Any) -> None:
    client.options["timeDifference"] = 60_000  # ccxt's nonce: now - timeDifference
    with pytest.raises(ccxt_errors.InvalidNonce):
        await client.fetch_balance()


async def test_rate_limit_fault_on_new_order(server: LocalExchange, client: Any) -> None:
    server.faults.rate_limit("/api/v3/order")
    with pytest.raises(ccxt_errors.DDoSProtection):  # RateLimitExceeded is a subclass
        await client.create_order("BTC/USDT", "market", "buy", 0.01)
    assert await client.fetch_open_orders() == []
    assert free(await client.fetch_balance(), "USDT") == 10_000  # nothing happened


async def test_server_error_fault_on_account(server: LocalExchange, client: Any) -> None:
    server.faults.fail("/api/v3/account", status=503)
    with pytest.raises(ccxt_errors.ExchangeNotAvailable):
        await client.fetch_balance()


async def test_accepted_order_whose_answer_is_lost(server: LocalExchange, client: Any) -> None:
    server.faults.accept_then_fail("/api/v3/order", status=503)
    with pytest.raises(ccxt_errors.ExchangeNotAvailable):
        await client.create_order(
            "BTC/USDT", "limit", "buy", 0.01, 39_000, {"newClientOrderId": "lost-1"}
        )
    assert [r.fault for r in server.requests("/api/v3/order")] == ["accept then 503"]
    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lost-1"})
    assert found["status"] == "open"  # the order was placed all the same


async def test_accepted_order_answered_after_the_client_timeout(server: LocalExchange) -> None:
    server.faults.accept_then_fail("/api/v3/order", seconds=30)
    client = make_client(server)
    client.timeout = 300  # ms
    try:
        await client.load_markets()
        with pytest.raises(ccxt_errors.RequestTimeout):
            await client.create_order("BTC/USDT", "market", "buy", 0.01)
        assert free(await client.fetch_balance(), "BTC") == 0.00999  # less the 0.1 % fee
    finally:
        await client.close()


# ------------------------------------------------------------------- raw signed requests


def signed(
    local: LocalExchange,
    method: str,
    path: str,
    params: str,
    *,
    key: str | None = KEY,
    secret: str = SECRET,
    in_body: bool = False,
    timestamp: str | None = None,
) -> tuple[int, Any]:
    """Send a signed request by hand; return the status and the decoded JSON."""
    stamp = f"timestamp={int(time.time() * 1000) if timestamp is None else timestamp}"
    total = f"{params}&{stamp}" if params else stamp
    signature = hmac.new(secret.encode(), total.encode(), hashlib.sha256).hexdigest()
    total += f"&signature={signature}"
    url = local.url + path + ("" if in_body else "?" + total)
    data = total.encode() if in_body else None
    request = urllib.request.Request(url, data=data, method=method)
    if key is not None:
        request.add_header("X-MBX-APIKEY", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def code(answer: tuple[int, Any]) -> int:
    return int(answer[1]["code"])


def test_signature_and_key_checks(server: LocalExchange) -> None:
    assert signed(server, "GET", "/api/v3/account", "")[0] == 200
    assert signed(server, "GET", "/api/v3/account", "", key=None) == (
        401,
        {"code": -2014, "msg": "API-key format invalid."},
    )
    assert code(signed(server, "GET", "/api/v3/account", "", key="nobody")) == -2015
    assert code(signed(server, "GET", "/api/v3/account", "", secret="wrong")) == -1022
    no_signature = urllib.request.Request(
        server.url + "/api/v3/account?timestamp=1", headers={"X-MBX-APIKEY": KEY}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(no_signature, timeout=10)
    assert json.loads(caught.value.read())["code"] == -1022
    assert code(signed(server, "GET", "/api/v3/account", "recvWindow=70000")) == -1131
    assert code(signed(server, "GET", "/api/v3/account", "", timestamp="x")) == -1100
    assert code(signed(server, "GET", "/api/v3/account", "", timestamp="")) == -1102
    future = str(int(time.time() * 1000) + 5_000)
    assert code(signed(server, "GET", "/api/v3/account", "", timestamp=future)) == -1021


def test_order_parameter_checks(server: LocalExchange) -> None:
    def order(params: str) -> tuple[int, Any]:
        return signed(server, "POST", "/api/v3/order", params, in_body=True)

    assert code(order("side=BUY&type=MARKET&quantity=1")) == -1102
    assert code(order("symbol=XXXUSDT&side=BUY&type=MARKET&quantity=1")) == -1121
    assert code(order("symbol=BTCUSDT&side=UP&type=MARKET&quantity=1")) == -1100
    assert code(order("symbol=BTCUSDT&side=BUY&type=STOP&quantity=1")) == -1116
    assert code(order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=1")) == -1115
    assert code(order("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1")) == -1102
    assert code(order("symbol=BTCUSDT&side=BUY&type=MARKET")) == -1102
    assert code(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=abc")) == -1100
    assert code(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=NaN")) == -1100
    assert code(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000001")) == -1013
    assert code(order("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=-1")) == -1013
    status, ack = order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newOrderRespType=ACK")
    assert status == 200 and "fills" not in ack and "status" not in ack
    status, result = order(
        "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100&newOrderRespType=RESULT"
    )
    assert (status, result["origQty"], "fills" in result) == (200, "0.0025", False)
    query = "symbol=BTCUSDT"
    assert code(signed(server, "GET", "/api/v3/order", query)) == -1102
    assert code(signed(server, "GET", "/api/v3/myTrades", query + "&limit=0")) == -1130
    status, trades = signed(
        server, "GET", "/api/v3/myTrades", query + "&fromId=2&orderId=2&startTime=0&endTime=1"
    )
    assert (status, trades) == (200, [])


# ------------------------------------------------------------------------- the book alone


def test_accounts_validate_their_input() -> None:
    venue = LocalVenue(start="2024-01-01", end="2024-01-02")
    with pytest.raises(ConfigError, match="non-empty"):
        LocalAccounts(venue, {"": ("s", {})})
    with pytest.raises(ConfigError, match="negative"):
        LocalAccounts(venue, {"k": ("s", {"USDT": -1})})
    book = LocalAccounts(venue, {"k": ("s", {"USDT": 100, "BTC": Decimal(1)})})
    assert book.secret("k") == "s" and book.secret("x") is None
    last_close = float(venue.candles(venue.market("BTC/USDT"), "1m").close[-1])
    assert book.price("BTC/USDT") == Decimal(str(last_close))
    with pytest.raises(ConfigError, match="price"):
        book.set_price("BTC/USDT", 0)
    with pytest.raises(ConfigError, match="quantity"):
        book.place("k", "BTCUSDT", "BUY", "MARKET", Decimal(0), now=0)
    order = book.place("k", "ETHBTC", "BUY", "LIMIT", Decimal(1), Decimal("0.0001"), now=0)
    assert order.client_id == "quantkit-1" and order.is_open
    with pytest.raises(KeyError):
        book.cancel("other", order, now=0)
    assert book.find("k", "ETHBTC", client_id="nope") is None


def test_accept_then_fail_validates_its_input() -> None:
    plan = LocalExchange().faults
    with pytest.raises(ConfigError, match="status"):
        plan.accept_then_fail(status=200)
    with pytest.raises(ConfigError, match="seconds"):
        plan.accept_then_fail(seconds=-1)
    plan.accept_then_fail(status=504, times=2)
    assert plan.pending == 2
    fault = plan.take("/api/v3/order")
    assert fault is not None and fault.describe() == "accept then 504"


async def test_my_trades_without_a_start_are_the_most_recent_page(client: Any) -> None:
    # Binance: with fromId (or startTime) the page starts there; otherwise the latest trades.
    for _ in range(5):
        await client.create_order("BTC/USDT", "market", "buy", 0.01)
    every = await client.fetch_my_trades("BTC/USDT")
    latest = await client.fetch_my_trades("BTC/USDT", None, 2)
    oldest = await client.fetch_my_trades("BTC/USDT", every[0]["timestamp"], 2)
    assert len(every) == 5
    assert [t["id"] for t in latest] == [t["id"] for t in every[-2:]]
    assert [t["id"] for t in oldest] == [t["id"] for t in every[:2]]
