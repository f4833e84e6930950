"""The local exchange's partial-fill rule, seen through the real ccxt client and the user stream.

Every figure is computed by hand: BTC/USDT, step 0.00001 BTC, Binance's 0.1 % commission in
the asset received (BTC on a buy, USDT on a sell).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from pydantic import SecretStr

from quantkit.domain.bracket import OcoRequest
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.errors import ConfigError
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange, PartialFills
from quantkit.testing.local_orders import LocalOrder
from tests.testing.test_user_stream import connect, receive, subscribe

pytestmark = pytest.mark.anyio

KEY, SECRET = "user-key", "user-secret"  # the user-stream helpers sign with these
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))
SYM = "BTC/USDT"
STEP = Decimal("0.00001")


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    """10,000 USDT and 0.5 BTC; BTC at 40,000; resting orders fill in three parts."""
    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000, "BTC": 0.5})}
    )
    exchange.accounts.partial_fills = PartialFills(parts=3)
    async with exchange:
        exchange.set_price(SYM, 40_000)
        yield exchange


@pytest.fixture
async def venue(local: LocalExchange) -> AsyncIterator[CcxtExchange]:
    async with CcxtExchange(
        "binance", credentials=KEYS, api_url=local.url, options=LOCAL_CCXT_OPTIONS, rate_limit=False
    ) as exchange:
        yield exchange


def limit_buy(amount: float, price: float) -> OrderRequest:
    return OrderRequest(SYM, Side.BUY, OrderType.LIMIT, amount=amount, limit_price=price)


def balance(local: LocalExchange, asset: str) -> tuple[Decimal, Decimal]:
    return local.accounts.balances(KEY)[asset]


async def test_a_resting_buy_fills_in_parts_each_with_its_own_trade_and_fee(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    placed = await venue.create_order(limit_buy(0.03, 39_000), "p-1")
    assert placed.status is OrderStatus.OPEN
    assert balance(local, "USDT") == (Decimal("8830"), Decimal("1170"))  # 0.03 x 39,000 locked

    local.set_price(SYM, 38_900)  # reaches the order: one part, 0.03 / 3 = 0.01, at its limit
    found = await venue.fetch_order("p-1", SYM)
    assert found is not None
    assert (found.status, found.filled, found.amount) == (OrderStatus.PARTIALLY_FILLED, 0.01, 0.03)
    (trade,) = await venue.my_trades(SYM)
    # 0.01 BTC at 39,000; fee 0.1 % of the 0.01 BTC received = 0.00001 BTC
    assert (trade.amount, trade.price, trade.fee, trade.fee_currency, trade.is_maker) == (
        0.01, 39_000.0, 0.00001, "BTC", True,
    )  # fmt: skip
    assert balance(local, "BTC") == (Decimal("0.50999"), Decimal(0))
    assert balance(local, "USDT") == (Decimal("8830"), Decimal("780"))  # 0.02 x 39,000 left
    listed = await venue.open_orders(SYM)
    assert [(o.client_id, o.status, o.filled) for o in listed] == [
        ("p-1", OrderStatus.PARTIALLY_FILLED, 0.01)
    ]

    local.set_price(SYM, 38_950)
    local.set_price(SYM, 38_800)  # the third part completes it
    found = await venue.fetch_order("p-1", SYM)
    assert found is not None and (found.status, found.filled) == (OrderStatus.FILLED, 0.03)
    trades = await venue.my_trades(SYM)
    assert [(t.amount, t.fee) for t in trades] == [(0.01, 0.00001)] * 3
    assert len({t.trade_id for t in trades}) == 3
    assert balance(local, "BTC") == (Decimal("0.52997"), Decimal(0))  # 0.5 + 3 x 0.00999
    assert balance(local, "USDT") == (Decimal("8830"), Decimal(0))
    assert await venue.open_orders(SYM) == []


async def test_a_partially_filled_order_canceled_unlocks_only_what_is_left(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_order(limit_buy(0.1, 39_000), "p-2")
    local.set_price(SYM, 39_000)  # one part: 0.1 / 3 = 0.0333.. rounded down to 0.03333
    canceled = await venue.cancel_order("p-2", SYM)
    assert (canceled.status, canceled.filled) == (OrderStatus.CANCELED, 0.03333)
    # paid 0.03333 x 39,000 = 1,299.87; the rest of the 3,900 locked is free again
    assert balance(local, "USDT") == (Decimal("8700.13"), Decimal(0))
    assert balance(local, "BTC") == (Decimal("0.53329667"), Decimal(0))  # 0.03333 x 0.999
    local.set_price(SYM, 38_000)  # a canceled order fills no more
    assert [t.amount for t in await venue.my_trades(SYM)] == [0.03333]


async def test_each_part_is_pushed_on_the_user_stream_with_its_own_l_z_and_l_price(
    local: LocalExchange,
) -> None:
    book = local.accounts
    async with connect(local) as socket:
        await subscribe(socket)
        order = book.place(
            KEY, "BTCUSDT", "SELL", "LIMIT", Decimal("0.3"), Decimal(41_000), client_id="s-1", now=1
        )
        for step, price in enumerate((41_000, 41_100, 41_000), start=2):
            book.set_price(SYM, price, now=step)
        events = [(await receive(socket))["event"] for _ in range(4)]
    assert [(e["x"], e["X"], e["l"], e["z"], e["L"], e["T"]) for e in events] == [
        ("NEW", "NEW", "0", "0", "0", 1),
        ("TRADE", "PARTIALLY_FILLED", "0.1", "0.1", "41000", 2),
        ("TRADE", "PARTIALLY_FILLED", "0.1", "0.2", "41000", 3),
        ("TRADE", "FILLED", "0.1", "0.3", "41000", 4),
    ]
    # a sell's fee is in USDT: 0.1 % of 0.1 x 41,000 = 4.1 per part
    assert [(e["n"], e["N"], e["Y"], e["Z"]) for e in events[1:]] == [
        ("4.1", "USDT", "4100", "4100"),
        ("4.1", "USDT", "4100", "8200"),
        ("4.1", "USDT", "4100", "12300"),
    ]
    assert [e["t"] for e in events[1:]] == [f.trade_id for f in order.fills]
    assert [e["w"] for e in events] == [True, True, True, False]


async def test_an_oco_take_profit_filling_in_parts_expires_the_stop_at_its_first_part(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    request = OcoRequest(SYM, Side.SELL, 0.3, 42_000.0, 38_000.0, "L-1", "L-1-tp", "L-1-sl")
    await venue.create_oco(request)
    (made,) = local.accounts.order_lists.lists.values()
    local.set_price(SYM, 42_000)  # the take-profit's first part: 0.1 BTC
    tp, sl = await venue.fetch_order("L-1-tp", SYM), await venue.fetch_order("L-1-sl", SYM)
    assert tp is not None and sl is not None
    assert (tp.status, tp.filled) == (OrderStatus.PARTIALLY_FILLED, 0.1)
    assert (sl.status, sl.filled) == (OrderStatus.EXPIRED, 0.0)
    assert made.as_json()["listOrderStatus"] == "EXECUTING"  # a leg still works
    assert balance(local, "BTC") == (Decimal("0.2"), Decimal("0.2"))  # 0.2 left to sell
    local.set_price(SYM, 37_000)  # below the expired stop: nothing happens
    assert balance(local, "BTC") == (Decimal("0.2"), Decimal("0.2"))
    local.set_price(SYM, 42_100)
    local.set_price(SYM, 42_000)
    tp = await venue.fetch_order("L-1-tp", SYM)
    assert tp is not None and (tp.status, tp.filled) == (OrderStatus.FILLED, 0.3)
    assert made.as_json()["listOrderStatus"] == "ALL_DONE"
    # 3 x 0.1 x 42,000 = 12,600 USDT less 0.1 % = 12,587.4
    assert balance(local, "USDT") == (Decimal("22587.4"), Decimal(0))
    assert balance(local, "BTC") == (Decimal("0.2"), Decimal(0))


async def test_the_rest_of_a_partly_filled_take_profit_cancels_as_a_plain_order(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(
        OcoRequest(SYM, Side.SELL, 0.3, 42_000.0, 38_000.0, "L-2", "L-2-tp", "L-2-sl")
    )
    local.set_price(SYM, 42_000)
    canceled = await venue.cancel_order("L-2-tp", SYM)
    assert (canceled.status, canceled.filled) == (OrderStatus.CANCELED, 0.1)
    assert balance(local, "BTC") == (Decimal("0.4"), Decimal(0))


def order_of(qty: str, order_id: int = 7) -> LocalOrder:
    return LocalOrder(order_id, "c", "k", "BTCUSDT", "BUY", "LIMIT", Decimal(qty), Decimal(1),
                      "GTC", 0)  # fmt: skip


def parts_of(rule: PartialFills, order: LocalOrder) -> list[Decimal]:
    from quantkit.testing.local_orders import LocalFill

    parts = []
    while order.left > 0:
        part = rule.next_part(order, STEP)
        order.fills.append(LocalFill(len(parts), 7, "BTCUSDT", "BUY", Decimal(1), part, 0, True))
        parts.append(part)
    return parts


def test_seeded_parts_are_repeatable_on_the_step_and_add_up_to_the_order() -> None:
    rule = PartialFills(parts=4, seed="run-a")
    first, again = parts_of(rule, order_of("0.12345")), parts_of(rule, order_of("0.12345"))
    assert first == again and len(first) == 4
    assert sum(first) == Decimal("0.12345")
    assert all(p > 0 and p % STEP == 0 for p in first)
    assert parts_of(PartialFills(parts=4, seed="run-b"), order_of("0.12345")) != first
    assert parts_of(PartialFills(parts=3), order_of("0.1")) == [
        Decimal("0.03333"), Decimal("0.03333"), Decimal("0.03334"),
    ]  # fmt: skip
    # a part that would round to zero is never sent: the rest fills at once
    assert parts_of(PartialFills(parts=3), order_of("0.00002")) == [Decimal("0.00002")]
    with pytest.raises(ConfigError, match="parts must be at least 2"):
        PartialFills(parts=1)


async def test_delete_order_list_cancels_the_rest_of_a_partly_filled_take_profit(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    await venue.create_oco(
        OcoRequest(SYM, Side.SELL, 0.3, 42_000.0, 38_000.0, "L-3", "L-3-tp", "L-3-sl")
    )
    local.set_price(SYM, 42_000)  # first part; the stop expires, the list still executes
    client: Any = venue._client  # the raw endpoint, as ccxt's implicit API calls it
    assert [m["listOrderStatus"] for m in await client.private_get_openorderlist()] == ["EXECUTING"]
    done = await client.private_delete_orderlist({"symbol": "BTCUSDT", "listClientOrderId": "L-3"})
    assert done["listOrderStatus"] == "ALL_DONE"
    assert sorted((r["status"], r["executedQty"]) for r in done["orderReports"]) == [
        ("CANCELED", "0.1"), ("EXPIRED", "0"),
    ]  # fmt: skip
    assert balance(local, "BTC") == (Decimal("0.4"), Decimal(0))  # the 0.2 left is free again
    with pytest.raises(ccxt.OrderNotFound, match="Unknown order sent"):  # nothing open
        await client.private_delete_orderlist({"symbol": "BTCUSDT", "listClientOrderId": "L-3"})
