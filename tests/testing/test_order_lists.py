"""The local exchange's OCO order lists, driven by the real ccxt client (issue 11 item 8)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from quantkit.domain.bracket import OcoRequest
from quantkit.domain.order import OrderStatus, Side
from quantkit.errors import ExchangeError
from quantkit.exchanges import CcxtExchange
from quantkit.exchanges.oco import oco_params
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange
from tests.testing.test_user_stream import connect, receive

pytestmark = pytest.mark.anyio

KEY, SECRET = "key-oco-1", "secret-oco-1"
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    """One account with 1,000 USDT and 0.5 BTC; BTC at 40,000."""
    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 1_000, "BTC": 0.5})}
    )
    async with exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


@pytest.fixture
async def venue(local: LocalExchange) -> AsyncIterator[CcxtExchange]:
    async with CcxtExchange(
        "binance", credentials=KEYS, api_url=local.url, options=LOCAL_CCXT_OPTIONS, rate_limit=False
    ) as exchange:
        yield exchange


def pair(amount: float = 0.3, *, tp: float = 42_000.0, sl: float = 38_000.0) -> OcoRequest:
    return OcoRequest("BTC/USDT", Side.SELL, amount, tp, sl, "L-1", "L-1-tp", "L-1-sl")


def balances(local: LocalExchange) -> dict[str, tuple[Decimal, Decimal]]:
    return local.accounts.balances(KEY)


async def test_both_legs_open_lock_the_amount_once_and_are_visible(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    tp, sl = await venue.create_oco(pair())
    assert (tp.client_id, tp.status, tp.amount, tp.price) == (
        "L-1-tp",
        OrderStatus.OPEN,
        0.3,
        42_000,
    )
    assert (sl.client_id, sl.status, sl.amount) == ("L-1-sl", OrderStatus.OPEN, 0.3)
    # 0.3 BTC locked once for the list, not twice: 0.5 - 0.3 free
    assert balances(local)["BTC"] == (Decimal("0.2"), Decimal("0.3"))
    listed = {o.client_id for o in await venue.open_orders("BTC/USDT")}
    assert listed == {"L-1-tp", "L-1-sl"}
    found = await venue.fetch_order("L-1-sl", "BTC/USDT")
    assert found is not None and found.status is OrderStatus.OPEN
    (made,) = local.accounts.order_lists.lists.values()
    body = made.as_json()
    assert (body["listStatusType"], body["listOrderStatus"]) == ("EXEC_STARTED", "EXECUTING")
    assert [o["clientOrderId"] for o in body["orders"]] == ["L-1-sl", "L-1-tp"]


async def test_stop_triggers_and_the_take_profit_expires(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(pair())
    local.set_price("BTC/USDT", 37_900)  # through the 38,000 stop: a market sell at 37,900
    sl = await venue.fetch_order("L-1-sl", "BTC/USDT")
    tp = await venue.fetch_order("L-1-tp", "BTC/USDT")
    assert sl is not None and (sl.status, sl.filled) == (OrderStatus.FILLED, 0.3)
    assert tp is not None and tp.status is OrderStatus.EXPIRED
    assert await venue.open_orders("BTC/USDT") == []
    # 1,000 + 0.3 x 37,900 = 12,370 USDT, less the 0.1 % taker fee charged in the USDT received
    # (11.37); 0.2 BTC left, nothing locked
    assert balances(local)["USDT"] == (Decimal("12358.63"), Decimal(0))
    assert balances(local)["BTC"] == (Decimal("0.2"), Decimal("0.0"))
    (made,) = local.accounts.order_lists.lists.values()
    assert made.as_json()["listOrderStatus"] == "ALL_DONE"
    trades = await venue.my_trades("BTC/USDT")
    assert [(t.client_id or t.exchange_order_id, t.price, t.amount) for t in trades] == [
        (sl.exchange_id if not trades[0].client_id else "L-1-sl", 37_900, 0.3)
    ]


async def test_take_profit_fills_at_its_limit_and_the_stop_expires(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(pair())
    local.set_price("BTC/USDT", 42_500)
    tp = await venue.fetch_order("L-1-tp", "BTC/USDT")
    sl = await venue.fetch_order("L-1-sl", "BTC/USDT")
    assert tp is not None and (tp.status, tp.average) == (OrderStatus.FILLED, 42_000)
    assert sl is not None and sl.status is OrderStatus.EXPIRED
    # 1,000 + 0.3 x 42,000 = 13,600, less the 0.1 % maker fee in the USDT received (12.60)
    assert balances(local)["USDT"][0] == Decimal("13587.40")


async def test_canceling_one_leg_cancels_the_list_and_unlocks_once(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(pair())
    canceled = await venue.cancel_order("L-1-tp", "BTC/USDT")
    assert canceled.status is OrderStatus.CANCELED
    other = await venue.fetch_order("L-1-sl", "BTC/USDT")
    assert other is not None and other.status is OrderStatus.CANCELED
    assert balances(local)["BTC"] == (Decimal("0.5"), Decimal("0.0"))
    local.set_price("BTC/USDT", 30_000)  # nothing triggers any more
    assert balances(local)["BTC"][0] == Decimal("0.5")


async def test_delete_order_list_and_open_order_list_endpoints(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(pair())
    client: Any = venue._client  # the raw endpoints, as ccxt's implicit API calls them
    assert [m["listClientOrderId"] for m in await client.private_get_openorderlist()] == ["L-1"]
    done = await client.private_delete_orderlist({"symbol": "BTCUSDT", "listClientOrderId": "L-1"})
    assert done["listStatusType"] == "ALL_DONE"
    assert sorted(r["status"] for r in done["orderReports"]) == ["CANCELED", "CANCELED"]
    assert await client.private_get_openorderlist() == []


async def test_prices_on_the_wrong_side_are_refused(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError, match="relationship of the prices"):
        await venue.create_oco(pair(tp=39_000))  # take-profit below the 40,000 price


async def test_more_than_held_is_refused_as_insufficient_balance(venue: CcxtExchange) -> None:
    with pytest.raises(ExchangeError, match="insufficient"):
        await venue.create_oco(pair(0.6))


async def test_unrounded_quantity_is_refused_by_lot_size(venue: CcxtExchange) -> None:
    client: Any = await venue._ready()
    market = client.markets["BTC/USDT"]
    params = oco_params(client, market, pair())
    params["quantity"] = "0.300005"  # not a multiple of the 0.00001 step
    with pytest.raises(Exception, match="LOT_SIZE"):
        await client.private_post_orderlist_oco(params)


async def test_params_sent_are_binance_s_names(venue: CcxtExchange) -> None:
    client: Any = await venue._ready()
    params = oco_params(client, client.markets["BTC/USDT"], pair(0.1234567))
    assert params == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.12345",  # ccxt truncates to the 0.00001 step, as our rounding does
        "listClientOrderId": "L-1",
        "newOrderRespType": "RESULT",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "42000",
        "aboveClientOrderId": "L-1-tp",
        "belowType": "STOP_LOSS",
        "belowStopPrice": "38000",
        "belowClientOrderId": "L-1-sl",
    }


async def test_the_user_data_stream_reports_both_legs_and_the_expiry(local: LocalExchange) -> None:
    signed_params = signed_for(KEY, SECRET)
    async with connect(local) as socket:
        await socket.send_str(
            json.dumps(
                {"id": 1, "method": "userDataStream.subscribe.signature", "params": signed_params}
            )
        )
        assert (await receive(socket))["status"] == 200
        made = local.accounts.order_lists.place_oco(
            KEY, "BTCUSDT", "SELL", Decimal("0.3"), above_price=Decimal(42_000),
            below_stop=Decimal(38_000), client_ids=("L-9", "L-9-tp", "L-9-sl"), now=10,
        )  # fmt: skip
        local.accounts.set_price("BTC/USDT", 42_100, now=11)  # the take-profit fills
        events = [(await receive(socket))["event"] for _ in range(4)]
    seen = [(e["c"], e["o"], e["x"], e["X"], e["g"]) for e in events]
    list_id = made.list_id
    assert seen == [
        ("L-9-sl", "STOP_LOSS", "NEW", "NEW", list_id),
        ("L-9-tp", "LIMIT_MAKER", "NEW", "NEW", list_id),
        ("L-9-tp", "LIMIT_MAKER", "TRADE", "FILLED", list_id),
        ("L-9-sl", "STOP_LOSS", "EXPIRED", "EXPIRED", list_id),
    ]
    assert events[0]["P"] == "38000"  # the stop leg's trigger price
    assert (events[2]["L"], events[2]["l"], events[2]["m"]) == ("42000", "0.3", True)


def signed_for(key: str, secret: str) -> dict[str, Any]:
    params: dict[str, Any] = {"apiKey": key, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return params


async def test_list_and_leg_client_ids_are_refused_while_open_and_accepted_once_ended(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(pair(0.1))
    with pytest.raises(ExchangeError) as refused:  # the same list id while the list works
        await venue.create_oco(pair(0.1))
    assert refused.value.reason == "duplicate_order" and "Duplicate order sent" in str(
        refused.value
    )
    other_list = OcoRequest("BTC/USDT", Side.SELL, 0.1, 42_000.0, 38_000.0, "L-2", "L-1-tp", "x")
    with pytest.raises(ExchangeError, match="Duplicate order sent"):  # a leg's id is taken
        await venue.create_oco(other_list)
    assert len(local.accounts.order_lists.lists) == 1
    assert balances(local)["BTC"] == (Decimal("0.4"), Decimal("0.1"))  # nothing more locked
    await venue.cancel_order("L-1-tp", "BTC/USDT")  # ends the list
    tp, sl = await venue.create_oco(pair(0.1))  # the ids are free again
    assert tp.status is sl.status is OrderStatus.OPEN
    assert len(local.accounts.order_lists.lists) == 2
