"""The local exchange's stop order types, driven by the real ccxt client (issue 11).

Fees are Binance's default 0.1 % taker/maker, charged in the asset received; every figure
below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.errors import ExchangeError
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange
from quantkit.testing.market_data import DEFAULT_MARKETS, LocalMarket
from quantkit.testing.stop_orders import triggers
from tests.testing.test_order_lists import signed_for
from tests.testing.test_user_stream import connect, receive

pytestmark = pytest.mark.anyio

KEY, SECRET = "key-stop-1", "secret-stop-1"
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))


def _exchange(markets: tuple[LocalMarket, ...] = DEFAULT_MARKETS) -> LocalExchange:
    return LocalExchange(
        markets,
        start="2024-01-01",
        end="2024-01-02",
        accounts={KEY: (SECRET, {"USDT": 1_000, "BTC": 0.5})},
    )


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    """One account with 1,000 USDT and 0.5 BTC; BTC at 40,000."""
    async with _exchange() as exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


@pytest.fixture
async def venue(local: LocalExchange) -> AsyncIterator[CcxtExchange]:
    async with CcxtExchange(
        "binance", credentials=KEYS, api_url=local.url, options=LOCAL_CCXT_OPTIONS, rate_limit=False
    ) as exchange:
        yield exchange


def free_locked(local: LocalExchange, asset: str) -> tuple[Decimal, Decimal]:
    return local.accounts.balances(KEY)[asset]


async def test_a_sell_stop_market_is_sent_as_stop_loss_rests_then_fills_at_the_trigger_price(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    request = OrderRequest("BTC/USDT", Side.SELL, OrderType.STOP, 0.1, stop_price=39_000.0)
    placed = await venue.create_order(request, "S-1")
    assert (placed.client_id, placed.status) == ("S-1", OrderStatus.OPEN)
    assert placed.type is OrderType.STOP
    (order,) = local.accounts.orders(KEY)
    assert (order.type, order.stop_price, order.price) == ("STOP_LOSS", Decimal(39_000), 0)
    assert (order.working, order.working_time) == (False, -1)
    assert free_locked(local, "BTC") == (Decimal("0.4"), Decimal("0.1"))
    local.set_price("BTC/USDT", 39_001)  # above the stop: nothing happens
    assert order.status == "NEW" and order.fills == []
    assert [o.client_id for o in await venue.open_orders("BTC/USDT")] == ["S-1"]
    local.set_price("BTC/USDT", 38_950)  # through the stop: a market sell at 38,950
    assert order.status == "FILLED" and order.working
    (fill,) = order.fills
    # 0.1 x 38,950 = 3,895 USDT; fee 0.1 % of it = 3.895 USDT, taken from what is received
    assert (fill.price, fill.qty, fill.maker) == (Decimal(38_950), Decimal("0.1"), False)
    assert (fill.commission, fill.commission_asset) == (Decimal("3.8950"), "USDT")
    assert free_locked(local, "USDT") == (Decimal("4891.105"), 0)  # 1,000 + 3,895 - 3.895
    assert free_locked(local, "BTC") == (Decimal("0.4"), 0)
    found = await venue.fetch_order("S-1", "BTC/USDT")
    assert found is not None and found.status is OrderStatus.FILLED
    assert (found.filled, found.average) == (0.1, 38_950.0)
    (trade,) = await venue.my_trades("BTC/USDT")
    assert (trade.exchange_order_id, trade.price, trade.fee, trade.fee_currency) == (
        found.exchange_id, 38_950.0, 3.895, "USDT",
    )  # fmt: skip


async def test_a_buy_stop_limit_triggered_below_its_limit_fills_at_once_as_taker(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    request = OrderRequest(
        "BTC/USDT", Side.BUY, OrderType.STOP_LIMIT, 0.02, limit_price=41_100.0, stop_price=41_000.0
    )
    await venue.create_order(request, "B-1")
    (order,) = local.accounts.orders(KEY)
    assert (order.type, order.stop_price, order.price) == (
        "STOP_LOSS_LIMIT", Decimal(41_000), Decimal(41_100),
    )  # fmt: skip
    assert free_locked(local, "USDT") == (Decimal(178), Decimal(822))  # 0.02 x 41,100 held
    local.set_price("BTC/USDT", 40_999.99)
    assert order.status == "NEW" and not order.working
    local.set_price("BTC/USDT", 41_050)  # triggers; 41,050 is within the limit: fills there
    (fill,) = order.fills
    assert (fill.price, fill.maker) == (Decimal(41_050), False)
    assert (fill.commission, fill.commission_asset) == (Decimal("0.00002"), "BTC")  # 0.1 % of 0.02
    assert free_locked(local, "USDT") == (Decimal(179), 0)  # 1,000 - 0.02 x 41,050 = 179
    assert free_locked(local, "BTC") == (Decimal("0.51998"), 0)  # 0.5 + 0.02 - 0.00002


async def test_a_stop_limit_triggered_beyond_its_limit_rests_and_fills_later_as_maker(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    request = OrderRequest(
        "BTC/USDT", Side.BUY, OrderType.STOP_LIMIT, 0.02, limit_price=41_000.0, stop_price=41_000.0
    )
    await venue.create_order(request, "B-2")
    (order,) = local.accounts.orders(KEY)
    local.set_price("BTC/USDT", 41_200)  # gaps over: triggered, but 41,200 > its 41,000 limit
    assert (order.status, order.working, order.fills) == ("NEW", True, [])
    (still,) = await venue.open_orders("BTC/USDT")
    assert still.client_id == "B-2"
    local.set_price("BTC/USDT", 40_900)  # back through the limit: fills at its limit, as maker
    (fill,) = order.fills
    assert (fill.price, fill.maker, order.status) == (Decimal(41_000), True, "FILLED")
    assert free_locked(local, "USDT") == (Decimal(180), 0)  # 1,000 - 0.02 x 41,000


async def test_a_stop_the_price_already_reaches_is_refused_and_leaves_nothing(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    request = OrderRequest("BTC/USDT", Side.SELL, OrderType.STOP, 0.1, stop_price=40_500.0)
    with pytest.raises(ExchangeError, match="Stop price would trigger immediately"):
        await venue.create_order(request, "S-2")
    assert local.accounts.orders(KEY) == []
    assert free_locked(local, "BTC") == (Decimal("0.5"), 0)


async def test_a_market_without_stop_loss_is_refused_before_sending_and_by_the_venue() -> None:
    no_stop = LocalMarket(
        "BTC/USDT", price=40_000.0, step_size=0.00001, min_qty=0.00001,
        order_types=("LIMIT", "MARKET", "STOP_LOSS_LIMIT"),
    )  # fmt: skip
    async with (
        _exchange((no_stop,)) as local,
        CcxtExchange(
            "binance", credentials=KEYS, api_url=local.url, options=LOCAL_CCXT_OPTIONS,
            rate_limit=False,
        ) as venue,
    ):  # fmt: skip
        local.set_price("BTC/USDT", 40_000)
        request = OrderRequest("BTC/USDT", Side.SELL, OrderType.STOP, 0.1, stop_price=39_000.0)
        with pytest.raises(ExchangeError) as refused:
            await venue.create_order(request, "S-3")
        assert refused.value.reason == "not_supported"
        assert local.requests("/api/v3/order") == []  # never sent
        market = local.venue.market("BTC/USDT")
        with pytest.raises(Exception, match="Order type not supported for this symbol"):
            local.accounts.stop_orders.place(
                KEY, market, "SELL", "STOP_LOSS", Decimal("0.1"), stop=Decimal(39_000),
                price=None, time_in_force="GTC", client_id="S-4", now=0,
            )  # fmt: skip


async def test_take_profit_types_trigger_the_other_way(local: LocalExchange) -> None:
    market = local.venue.market("BTC/USDT")
    book = local.accounts
    order = book.stop_orders.place(
        KEY, market, "SELL", "TAKE_PROFIT", Decimal("0.1"), stop=Decimal(41_000), price=None,
        time_in_force="GTC", client_id="T-1", now=0,
    )  # fmt: skip
    assert triggers(order, Decimal(41_000)) and not triggers(order, Decimal(40_999))
    local.set_price("BTC/USDT", 39_000)  # falling: a SELL take-profit waits
    assert order.status == "NEW"
    local.set_price("BTC/USDT", 41_500)
    assert (order.status, order.fills[0].price) == ("FILLED", Decimal(41_500))
    with pytest.raises(Exception, match="Stop price would trigger immediately"):
        book.stop_orders.place(
            KEY, market, "BUY", "TAKE_PROFIT", Decimal("0.01"), stop=Decimal(42_000),
            price=None, time_in_force="GTC", client_id="T-2", now=0,
        )  # fmt: skip


async def test_the_user_stream_shows_a_stop_waiting_then_working_then_filled(
    local: LocalExchange,
) -> None:
    async with connect(local) as socket:
        params = signed_for(KEY, SECRET)
        subscribe = {"id": 1, "method": "userDataStream.subscribe.signature", "params": params}
        await socket.send_str(json.dumps(subscribe))
        assert (await receive(socket))["status"] == 200
        market = local.venue.market("BTC/USDT")
        local.accounts.stop_orders.place(
            KEY, market, "BUY", "STOP_LOSS_LIMIT", Decimal("0.01"), stop=Decimal(41_000),
            price=Decimal(41_000), time_in_force="GTC", client_id="U-1", now=10,
        )  # fmt: skip
        local.accounts.set_price("BTC/USDT", 41_200, now=11)  # triggered beyond its limit
        local.accounts.set_price("BTC/USDT", 40_990, now=12)  # fills at its limit, as maker
        events = [(await receive(socket))["event"] for _ in range(3)]
    seen = [(e["c"], e["o"], e["x"], e["X"], e["P"], e["w"], e["W"]) for e in events]
    assert seen == [
        ("U-1", "STOP_LOSS_LIMIT", "NEW", "NEW", "41000", False, -1),
        ("U-1", "STOP_LOSS_LIMIT", "NEW", "NEW", "41000", True, 11),
        ("U-1", "STOP_LOSS_LIMIT", "TRADE", "FILLED", "41000", False, 11),
    ]
    # 0.01 BTC bought at 41,000; fee 0.1 % of it in BTC
    assert (events[2]["L"], events[2]["n"], events[2]["N"], events[2]["m"]) == (
        "41000", "0.00001", "BTC", True,
    )  # fmt: skip
