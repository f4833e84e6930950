"""Binance spot's rules the local exchange keeps, provoked through the real ccxt async client.

Duplicate client order ids, commissions in the asset received or in BNB.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base import errors as ccxt_errors

from quantkit.errors import ConfigError
from quantkit.testing import Commission, LocalExchange, LocalMarket
from tests.testing.clients import KEY, SECRET, free, make_client

pytestmark = pytest.mark.anyio

MARKETS = [LocalMarket("BTC/USDT"), LocalMarket("ETH/USDT"), LocalMarket("BNB/USDT")]


@pytest.fixture
def server() -> Iterator[LocalExchange]:
    """10,000 USDT and 1 BNB; BTC at 40,000, BNB at 400; Binance's default 0.1 % fees."""
    accounts = {KEY: (SECRET, {"USDT": 10_000, "BNB": 1})}
    with LocalExchange(
        MARKETS, start="2024-01-01", end="2024-01-02", accounts=accounts
    ) as exchange:
        exchange.set_price("BTC/USDT", 40_000)
        exchange.set_price("BNB/USDT", 400)
        yield exchange


# ------------------------------------------------------------------ duplicate client ids


async def test_a_client_id_is_a_duplicate_only_while_its_order_is_open(
    server: LocalExchange, client: Any
) -> None:
    params = {"newClientOrderId": "dup-1"}
    first = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params)
    with pytest.raises(ccxt_errors.InvalidOrder, match="Duplicate order sent"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params)
    assert len(server.accounts.orders(KEY)) == 1  # the refused copy left nothing behind

    await client.cancel_order(first["id"], "BTC/USDT")
    second = await client.create_order("BTC/USDT", "market", "buy", 0.01, None, params)
    assert second["id"] != first["id"] and second["status"] == "closed"
    # Filled, the id is free again: a re-send makes a third, distinct order that trades.
    third = await client.create_order("BTC/USDT", "market", "buy", 0.01, None, params)
    assert third["id"] not in (first["id"], second["id"])
    assert [o.client_id for o in server.accounts.orders(KEY)] == ["dup-1"] * 3
    assert free(await client.fetch_balance(), "BTC") == 2 * 0.00999
    # A lookup by client id finds the latest order with that id.
    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "dup-1"})
    assert found["id"] == third["id"]


async def test_a_duplicate_error_names_binance_code(server: LocalExchange, client: Any) -> None:
    params = {"newClientOrderId": "dup-2"}
    await client.create_order("BTC/USDT", "limit", "buy", 0.01, 39_000, params)
    with pytest.raises(ccxt_errors.InvalidOrder) as raised:
        await client.create_order("BTC/USDT", "limit", "buy", 0.02, 38_000, params)
    assert '"code":-2010' in str(raised.value).replace(" ", "")


# ------------------------------------------------------------------------- commissions


async def test_a_buy_pays_its_fee_in_the_asset_received(client: Any) -> None:
    order = await client.create_order("BTC/USDT", "market", "buy", 0.1)
    assert [(t["fee"]["cost"], t["fee"]["currency"]) for t in order["trades"]] == [(0.0001, "BTC")]
    balance = await client.fetch_balance()
    # 0.1 x (1 - 0.001) BTC received; the whole 4,000 USDT paid; BNB untouched.
    assert (free(balance, "BTC"), free(balance, "USDT"), free(balance, "BNB")) == (
        0.0999, 6_000, 1,
    )  # fmt: skip
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["fee"]["cost"], t["fee"]["currency"]) for t in trades] == [(0.0001, "BTC")]


async def test_maker_and_taker_rates_apply_per_trade(server: LocalExchange, client: Any) -> None:
    server.accounts.set_commission(
        KEY, Commission(maker=Decimal("0.0002"), taker=Decimal("0.0007"))
    )
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 39_000)  # rests: maker
    server.set_price("BTC/USDT", 38_000)
    await client.create_order("BTC/USDT", "market", "sell", 0.05)  # taker at 38,000
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["takerOrMaker"], t["fee"]["cost"], t["fee"]["currency"]) for t in trades] == [
        ("maker", 0.00002, "BTC"),  # 0.1 x 0.0002
        ("taker", 1.33, "USDT"),  # 0.05 x 38,000 x 0.0007
    ]
    balance = await client.fetch_balance()
    assert free(balance, "BTC") == pytest.approx(0.1 - 0.00002 - 0.05, abs=1e-12)
    assert free(balance, "USDT") == pytest.approx(10_000 - 3_900 + 1_900 - 1.33, abs=1e-9)


async def test_an_account_paying_in_bnb_keeps_what_it_receives(
    server: LocalExchange, client: Any
) -> None:
    server.accounts.set_commission(KEY, Commission(pay_in_bnb=True))
    order = await client.create_order("BTC/USDT", "market", "buy", 0.1)
    # 4,000 USDT x 0.001 x (1 - 0.25) = 3 USDT = 0.0075 BNB at 400.
    assert [(t["fee"]["cost"], t["fee"]["currency"]) for t in order["trades"]] == [(0.0075, "BNB")]
    balance = await client.fetch_balance()
    assert (free(balance, "BTC"), free(balance, "BNB")) == (0.1, 0.9925)


async def test_without_enough_bnb_the_fee_falls_back_to_the_asset_received(
    server: LocalExchange, client: Any
) -> None:
    server.accounts.add_account(
        KEY, SECRET, {"USDT": 10_000, "BNB": "0.001"}, commission=Commission(pay_in_bnb=True)
    )
    order = await client.create_order("BTC/USDT", "market", "buy", 0.1)
    assert [(t["fee"]["cost"], t["fee"]["currency"]) for t in order["trades"]] == [(0.0001, "BTC")]
    balance = await client.fetch_balance()
    assert (free(balance, "BTC"), free(balance, "BNB")) == (0.0999, 0.001)


async def test_the_account_endpoint_states_the_rates(server: LocalExchange, client: Any) -> None:
    server.accounts.set_commission(KEY, Commission(maker=Decimal("0.00075")))
    raw = await client.private_get_account()
    assert raw["commissionRates"]["maker"] == "0.00075000"
    assert raw["commissionRates"]["taker"] == "0.00100000"
    assert (raw["makerCommission"], raw["takerCommission"]) == (7, 10)


def test_commission_rates_are_checked() -> None:
    with pytest.raises(ConfigError, match="maker rate"):
        Commission(maker=Decimal("-0.001"))
    with pytest.raises(ConfigError, match="taker rate"):
        Commission(taker=0.001)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="bnb_discount"):
        Commission(bnb_discount=Decimal(2))
    with pytest.raises(ConfigError, match="no account"):
        LocalExchange().accounts.set_commission("nobody", Commission())


# ----------------------------------------------------------------------------- filters


def order_params(**fields: str) -> dict[str, str]:
    """A raw ``POST /api/v3/order`` request, sent unrounded (ccxt would round it)."""
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"} | fields


@pytest.mark.parametrize(
    ("fields", "failure"),
    [
        ({"quantity": "0.0105", "price": "39000"}, "LOT_SIZE"),  # not a whole step of 0.001
        ({"quantity": "0.0005", "price": "39000"}, "LOT_SIZE"),  # below minQty
        ({"quantity": "100001", "price": "1"}, "LOT_SIZE"),  # above maxQty
        ({"quantity": "0.01", "price": "39000.005"}, "PRICE_FILTER"),  # not a tick
        ({"quantity": "0.01", "price": "1000001"}, "PRICE_FILTER"),  # above maxPrice
        ({"quantity": "0.001", "price": "4999.99"}, "NOTIONAL"),  # 4.99999 < 5
        ({"quantity": "10", "price": "999999"}, "NOTIONAL"),  # above maxNotional
        ({"type": "MARKET", "quantity": "0.0001"}, "LOT_SIZE"),
    ],
)
async def test_orders_breaking_a_filter_are_refused_with_minus_1013(
    server: LocalExchange, client: Any, fields: dict[str, str], failure: str
) -> None:
    params = order_params(**fields)
    if params["type"] == "MARKET":
        del params["timeInForce"]
    with pytest.raises(ccxt_errors.ExchangeError, match=f"Filter failure: {failure}") as raised:
        await client.private_post_order(params)
    assert '"code":-1013' in str(raised.value).replace(" ", "")
    assert server.accounts.orders(KEY) == []  # refused before the book
    assert free(await client.fetch_balance(), "USDT") == 10_000


async def test_a_market_order_below_min_notional_at_the_current_price_is_refused(
    server: LocalExchange, client: Any
) -> None:
    server.set_price("BTC/USDT", 4_000)  # 0.001 BTC is then worth 4 USDT < 5
    with pytest.raises(ccxt_errors.ExchangeError, match="Filter failure: NOTIONAL"):
        await client.create_order("BTC/USDT", "market", "buy", 0.001)
    server.set_price("BTC/USDT", 5_000)  # exactly 5: allowed
    order = await client.create_order("BTC/USDT", "market", "buy", 0.001)
    assert order["status"] == "closed"


async def test_orders_on_the_grid_pass_every_filter(client: Any) -> None:
    placed = await client.private_post_order(order_params(quantity="0.012", price="39000.01"))
    assert (placed["status"], placed["origQty"], placed["price"]) == ("NEW", "0.012", "39000.01")


# ---------------------------------------------------------------------------- clock skew


@pytest.mark.parametrize(
    ("offset_ms", "message"),
    [
        (-20_000, "1000ms ahead of the server's time"),  # the server runs behind
        (+70_000, "outside of the recvWindow"),  # the server runs ahead by more than 60 s
    ],
)
async def test_a_skewed_server_clock_refuses_signed_requests_with_minus_1021(
    offset_ms: int, message: str
) -> None:
    accounts = {KEY: (SECRET, {"USDT": 100})}
    with LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts=accounts, clock_offset_ms=offset_ms
    ) as server:
        client = make_client(server)
        try:
            await client.load_markets()  # public: no timestamp check
            with pytest.raises(ccxt_errors.InvalidNonce, match=message) as raised:
                await client.fetch_balance()
            assert '"code":-1021' in str(raised.value).replace(" ", "")
            # ccxt's time-difference adjustment reads /api/v3/time and follows the server.
            await client.load_time_difference()
            assert abs(client.options["timeDifference"] + offset_ms) < 5_000
            assert free(await client.fetch_balance(), "USDT") == 100
        finally:
            await client.close()


async def test_a_clock_jump_while_running_refuses_until_the_client_resyncs(
    server: LocalExchange, client: Any
) -> None:
    assert free(await client.fetch_balance(), "USDT") == 10_000
    server.server_clock.jump(90_000)
    with pytest.raises(ccxt_errors.InvalidNonce, match="recvWindow"):
        await client.fetch_balance()
    served = (await client.public_get_time())["serverTime"]
    assert served - client.milliseconds() > 85_000  # /api/v3/time reads the jumped clock
    await client.load_time_difference()
    assert free(await client.fetch_balance(), "USDT") == 10_000
