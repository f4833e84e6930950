"""Binance's failure modes on the order endpoints and lookups, provoked through real ccxt.

Each fault is checked twice: what the client sees (the ccxt exception) and what the venue did
(whether the order exists, is open, was canceled or replaced) - before or after acting.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from ccxt.base import errors as ccxt_errors

from quantkit.testing import LOOKUP_PATHS, LocalExchange
from tests.testing.clients import KEY, SECRET, free, loaded, make_client

pytestmark = pytest.mark.anyio

CLIENT_TIMEOUT_MS = 30_000  # every answer that is not held back arrives well before this
SHORT_TIMEOUT_MS = 400  # only for the request a "timeout" fault holds back
HOLD_S = 20.0  # far past the short timeout; the server drops it when it stops


@pytest.fixture
def server() -> Iterator[LocalExchange]:
    accounts = {KEY: (SECRET, {"USDT": 10_000})}
    with LocalExchange(start="2024-01-01", end="2024-01-02", accounts=accounts) as exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


@pytest.fixture
async def client(server: LocalExchange) -> AsyncIterator[Any]:
    exchange = make_client(server)
    exchange.timeout = CLIENT_TIMEOUT_MS
    async with loaded(exchange):
        yield exchange


def body_of(error: Exception) -> dict[str, Any]:
    """The JSON body ccxt put in its exception's message (``"binance {...}"``)."""
    text = str(error)
    decoded: dict[str, Any] = json.loads(text[text.index("{") :])
    return decoded


async def status_of(client: Any, client_id: str) -> str | None:
    """The venue's status of an order looked up by client id; ``None`` if it does not exist."""
    try:
        found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": client_id})
    except ccxt_errors.OrderNotFound:
        return None
    status: str = found["status"]
    return status


async def resting(client: Any, client_id: str) -> dict[str, Any]:
    order: dict[str, Any] = await client.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 39_000, {"newClientOrderId": client_id}
    )
    return order


# ------------------------------------------------------------- faults on every order endpoint


@contextlib.contextmanager
def timing_out(client: Any, fault: str) -> Iterator[None]:
    """Give up on the faulted request quickly when the fault holds its answer back."""
    if fault.startswith("timeout"):
        client.timeout = SHORT_TIMEOUT_MS
    try:
        yield
    finally:
        client.timeout = CLIENT_TIMEOUT_MS


def plan(server: LocalExchange, fault: str, path: str, method: str) -> None:
    acted = fault.endswith("after")
    if fault.startswith("500"):
        server.faults.server_error(path, method=method, acted=acted)
    elif fault.startswith("timeout"):
        server.faults.timeout(path, method=method, acted=acted, seconds=HOLD_S)
    else:  # aiohttp re-sends an idempotent request (DELETE) once on a dropped connection
        server.faults.disconnect(path, method=method, acted=acted, times=2)


FAULTS = [
    "500 before", "500 after", "timeout before", "timeout after", "drop before", "drop after",
]  # fmt: skip
EXPECTED = {
    "500": ccxt_errors.ExchangeNotAvailable,
    "timeout": ccxt_errors.RequestTimeout,
    "drop": ccxt_errors.NetworkError,
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_create_faults_act_or_not_as_planned(
    server: LocalExchange, client: Any, fault: str
) -> None:
    plan(server, fault, "/api/v3/order", "POST")
    with timing_out(client, fault), pytest.raises(EXPECTED[fault.split(maxsplit=1)[0]]):
        await resting(client, "c-1")
    acted = fault.endswith("after")
    assert await status_of(client, "c-1") == ("open" if acted else None)
    assert len(server.accounts.open_orders(KEY)) == int(acted)


@pytest.mark.parametrize("fault", FAULTS)
async def test_cancel_faults_act_or_not_as_planned(
    server: LocalExchange, client: Any, fault: str
) -> None:
    order = await resting(client, "c-1")
    plan(server, fault, "/api/v3/order", "DELETE")
    with timing_out(client, fault), pytest.raises(EXPECTED[fault.split(maxsplit=1)[0]]):
        await client.cancel_order(order["id"], "BTC/USDT")
    acted = fault.endswith("after")
    assert await status_of(client, "c-1") == ("canceled" if acted else "open")


@pytest.mark.parametrize("fault", FAULTS)
async def test_cancel_replace_faults_act_or_not_as_planned(
    server: LocalExchange, client: Any, fault: str
) -> None:
    order = await resting(client, "c-1")
    plan(server, fault, "/api/v3/order/cancelReplace", "POST")
    with timing_out(client, fault), pytest.raises(EXPECTED[fault.split(maxsplit=1)[0]]):
        await client.edit_order(
            order["id"], "BTC/USDT", "limit", "buy", 0.02, 38_000, {"newClientOrderId": "c-2"}
        )
    acted = fault.endswith("after")
    assert await status_of(client, "c-1") == ("canceled" if acted else "open")
    assert await status_of(client, "c-2") == ("open" if acted else None)


# ----------------------------------------------------------------- -1007: status unknown


async def test_minus_1007_order_executes_later_and_is_invisible_until_then(
    server: LocalExchange, client: Any
) -> None:
    server.faults.unknown_outcome("/api/v3/order", method="POST", execute_after=None)
    with pytest.raises(ccxt_errors.RequestTimeout) as raised:
        await client.create_order(
            "BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "u-1"}
        )
    assert body_of(raised.value)["code"] == -1007
    with pytest.raises(ccxt_errors.OrderNotFound, match="-2013"):
        await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "u-1"})
    assert await client.fetch_open_orders("BTC/USDT") == []
    assert server.pending.count == 1
    assert "BTC" not in await client.fetch_balance()

    assert server.execute_pending() == 1  # the backend finally acts
    assert await status_of(client, "u-1") == "closed"
    assert free(await client.fetch_balance(), "BTC") == 0.00999
    assert [o.client_id for o in server.accounts.orders(KEY)] == ["u-1"]


async def test_minus_1007_on_a_timer_executes_after_its_delay(
    server: LocalExchange, client: Any
) -> None:
    server.faults.unknown_outcome("/api/v3/order", method="POST", execute_after=0.5)
    with pytest.raises(ccxt_errors.RequestTimeout):
        await resting(client, "u-2")
    with anyio.fail_after(60):  # carried out by the server's own timer
        while server.pending.done < 1:
            await anyio.sleep(0.02)
    assert await status_of(client, "u-2") == "open"


async def test_minus_1007_that_never_executes_leaves_nothing(
    server: LocalExchange, client: Any
) -> None:
    server.faults.unknown_outcome("/api/v3/order", method="DELETE", execute_after=None)
    order = await resting(client, "u-3")
    with pytest.raises(ccxt_errors.RequestTimeout):
        await client.cancel_order(order["id"], "BTC/USDT")
    assert await status_of(client, "u-3") == "open"  # the cancel never happened
    assert server.pending.count == 1


async def test_a_resend_while_unknown_then_the_late_original_makes_a_second_order(
    server: LocalExchange, client: Any
) -> None:
    server.faults.unknown_outcome("/api/v3/order", method="POST", execute_after=None)
    params = {"newClientOrderId": "u-4"}
    with pytest.raises(ccxt_errors.RequestTimeout):
        await client.create_order("BTC/USDT", "market", "buy", 0.01, None, params)
    await client.create_order("BTC/USDT", "market", "buy", 0.01, None, params)  # re-sent
    server.execute_pending()  # the first copy lands after the re-send filled: accepted too
    assert [o.client_id for o in server.accounts.orders(KEY)] == ["u-4", "u-4"]
    assert free(await client.fetch_balance(), "BTC") == 2 * 0.00999


# --------------------------------------------------------------- -1008 and rate limits


async def test_minus_1008_is_not_acted_on(server: LocalExchange, client: Any) -> None:
    server.faults.overloaded("/api/v3/order", method="POST")
    with pytest.raises(ccxt_errors.ExchangeError) as raised:
        await resting(client, "o-1")
    assert body_of(raised.value)["code"] == -1008
    assert server.accounts.orders(KEY) == []
    assert (await resting(client, "o-1"))["status"] == "open"  # a retry goes through


@pytest.mark.parametrize(("status", "error"), [(429, "RateLimitExceeded"), (418, "DDoSProtection")])
def test_rate_limit_answers_carry_retry_after(
    server: LocalExchange, status: int, error: str
) -> None:
    server.faults.fail(LOOKUP_PATHS, method="GET", status=status, retry_after=7)
    request = urllib.request.Request(server.url + "/api/v3/openOrders?symbol=BTCUSDT")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == status and raised.value.headers["Retry-After"] == "7"
    assert json.loads(raised.value.read())["code"] == -1003
    assert hasattr(ccxt_errors, error)


# ------------------------------------------------------------------ lookups failing a while


async def test_lookups_fail_for_a_span_while_orders_go_through(
    server: LocalExchange, client: Any
) -> None:
    now = [100.0]
    server.faults.clock = lambda: now[0]
    server.faults.fail(LOOKUP_PATHS, method="GET", status=503, for_seconds=30)
    placed = await resting(client, "l-1")  # POST is not a lookup
    for lookup in (
        client.fetch_order(placed["id"], "BTC/USDT"),
        client.fetch_open_orders("BTC/USDT"),
        client.fetch_my_trades("BTC/USDT"),
        client.fetch_balance(),
    ):
        with pytest.raises(ccxt_errors.ExchangeNotAvailable):
            await lookup
    assert server.faults.pending == 1
    now[0] = 129.9
    with pytest.raises(ccxt_errors.ExchangeNotAvailable):
        await client.fetch_open_orders("BTC/USDT")
    now[0] = 130.0  # the 30 s are over
    assert [o["clientOrderId"] for o in await client.fetch_open_orders("BTC/USDT")] == ["l-1"]
    assert server.faults.pending == 0


async def test_a_lookup_can_time_out(server: LocalExchange, client: Any) -> None:
    server.faults.timeout(LOOKUP_PATHS, method="GET", seconds=HOLD_S)
    with timing_out(client, "timeout"), pytest.raises(ccxt_errors.RequestTimeout):
        await client.fetch_open_orders("BTC/USDT")
    assert await client.fetch_open_orders("BTC/USDT") == []


# ------------------------------------------------------------- cancelReplace half-successes


async def test_replace_whose_new_order_is_refused_keeps_the_cancel(
    server: LocalExchange, client: Any
) -> None:
    order = await resting(client, "r-1")
    with pytest.raises(ccxt_errors.ExchangeError) as raised:  # 0.5 BTC costs 19,500 USDT
        await client.edit_order(
            order["id"], "BTC/USDT", "limit", "buy", 0.5, 39_000, {"newClientOrderId": "r-2"}
        )
    answer = body_of(raised.value)
    assert (answer["code"], answer["msg"]) == (-2021, "Order cancel-replace partially failed.")
    data = answer["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["origClientOrderId"] == "r-1"
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["newOrderResponse"] == {
        "code": -2010,
        "msg": "Account has insufficient balance for requested action.",
    }
    assert (await status_of(client, "r-1"), await status_of(client, "r-2")) == ("canceled", None)


async def test_replace_of_an_order_that_is_gone_fails_whole(
    server: LocalExchange, client: Any
) -> None:
    order = await resting(client, "r-3")
    await client.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt_errors.ExchangeError) as raised:
        await client.edit_order(
            order["id"], "BTC/USDT", "limit", "buy", 0.01, 38_000, {"newClientOrderId": "r-4"}
        )
    answer = body_of(raised.value)
    assert (answer["code"], answer["msg"]) == (-2022, "Order cancel-replace failed.")
    assert answer["data"] == {
        "cancelResult": "FAILURE",
        "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
        "newOrderResponse": None,
    }
    assert await status_of(client, "r-4") is None


async def test_injected_half_replace_refused(server: LocalExchange, client: Any) -> None:
    order = await resting(client, "r-5")
    server.faults.half_replace()
    with pytest.raises(ccxt_errors.ExchangeError) as raised:
        await client.edit_order(
            order["id"], "BTC/USDT", "limit", "buy", 0.01, 38_000, {"newClientOrderId": "r-6"}
        )
    assert body_of(raised.value)["data"]["newOrderResult"] == "FAILURE"
    assert (await status_of(client, "r-5"), await status_of(client, "r-6")) == ("canceled", None)
    assert free(await client.fetch_balance(), "USDT") == 10_000  # nothing locked any more


async def test_injected_half_replace_unknown_places_the_new_order_later(
    server: LocalExchange, client: Any
) -> None:
    order = await resting(client, "r-7")
    server.faults.half_replace(unknown=True)
    with pytest.raises(ccxt_errors.RequestTimeout):
        await client.edit_order(
            order["id"], "BTC/USDT", "limit", "buy", 0.01, 38_000, {"newClientOrderId": "r-8"}
        )
    assert (await status_of(client, "r-7"), await status_of(client, "r-8")) == ("canceled", None)
    assert server.execute_pending() == 1
    assert await status_of(client, "r-8") == "open"


async def test_pending_requests_of_a_server_in_this_loop_are_awaited() -> None:
    accounts = {KEY: (SECRET, {"USDT": 1_000})}
    async with LocalExchange(start="2024-01-01", end="2024-01-02", accounts=accounts) as server:
        server.set_price("BTC/USDT", 40_000)
        client = make_client(server)
        try:
            await client.load_markets()
            server.faults.unknown_outcome("/api/v3/order", method="POST", execute_after=None)
            with pytest.raises(ccxt_errors.RequestTimeout):
                await resting(client, "p-1")
            with pytest.raises(RuntimeError, match="aexecute_pending"):
                server.execute_pending()  # would block this very loop
            assert (await server.aexecute_pending(), server.pending.done) == (1, 1)
            assert await status_of(client, "p-1") == "open"
        finally:
            await client.close()


def replace_params(**fields: str) -> dict[str, str]:
    """A raw cancelReplace in ALLOW_FAILURE mode (ccxt's edit_order sends STOP_ON_FAILURE)."""
    return {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "cancelReplaceMode": "ALLOW_FAILURE", "quantity": "0.01", "price": "38000",
    } | fields  # fmt: skip


async def test_allow_failure_places_the_new_order_though_the_cancel_failed(
    server: LocalExchange, client: Any
) -> None:
    params = replace_params(cancelOrigClientOrderId="gone", newClientOrderId="a-1")
    with pytest.raises(ccxt_errors.ExchangeError) as raised:
        await client.private_post_order_cancelreplace(params)
    answer = body_of(raised.value)
    assert answer["code"] == -2021
    assert (answer["data"]["cancelResult"], answer["data"]["newOrderResult"]) == (
        "FAILURE", "SUCCESS",
    )  # fmt: skip
    assert answer["data"]["newOrderResponse"]["clientOrderId"] == "a-1"
    assert await status_of(client, "a-1") == "open"


async def test_allow_failure_with_both_failing_is_minus_2022(
    server: LocalExchange, client: Any
) -> None:
    params = replace_params(cancelOrigClientOrderId="gone", quantity="1", price="39000")
    with pytest.raises(ccxt_errors.ExchangeError) as raised:  # 39,000 USDT > 10,000
        await client.private_post_order_cancelreplace(params)
    answer = body_of(raised.value)
    assert answer["code"] == -2022
    assert answer["data"]["newOrderResponse"]["code"] == -2010
    assert server.accounts.orders(KEY) == []


async def test_replace_with_disagreeing_ids_cancels_nothing(
    server: LocalExchange, client: Any
) -> None:
    order = await resting(client, "d-1")
    params = replace_params(
        cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId=order["id"], cancelOrigClientOrderId="x"
    )
    with pytest.raises(ccxt_errors.ExchangeError, match="-2022"):
        await client.private_post_order_cancelreplace(params)
    assert await status_of(client, "d-1") == "open"
