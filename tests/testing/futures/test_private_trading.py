"""The local USD-M venue's private side, driven by the real sync ccxt ``binanceusdm`` client."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base import errors as ccxt_errors

from quantkit.testing.futures import LocalFuturesExchange
from quantkit.testing.futures.brackets import BracketTable
from tests.testing.futures.usdm_clients import KEY, SECRET, sync_usdm

BTC = "BTC/USDT:USDT"
D = Decimal


@pytest.fixture
def exchange() -> Iterator[LocalFuturesExchange]:
    """A fresh exchange (one day of data), one account with 10,000 USDT; BTC at 40,000."""
    with LocalFuturesExchange(end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000})}) as ex:
        ex.trading.move(BTC, last=40_000, mark=40_000)
        yield ex


@pytest.fixture
def client(exchange: LocalFuturesExchange) -> Any:
    client = sync_usdm(exchange)
    client.load_markets()
    return client


def test_balance_and_positions_start_flat(client: Any) -> None:
    balance = client.fetch_balance()
    assert (balance["USDT"]["free"], balance["USDT"]["used"], balance["USDT"]["total"]) == (
        10_000,
        0,
        10_000,
    )
    assert client.fetch_positions([BTC]) == []  # positionRisk v3 lists open positions only
    assert client.fetch_position_mode(BTC)["hedged"] is False


def test_leverage_margin_mode_and_their_refusals(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    assert client.set_leverage(10, BTC)["leverage"] == 10
    with pytest.raises(ccxt_errors.BadRequest, match="Leverage 110 is not valid"):
        client.set_leverage(110, "ETH/USDT:USDT")  # ETH's first bracket allows 100x
    client.set_margin_mode("isolated", BTC)
    with pytest.raises(ccxt_errors.OperationRejected, match="No need to change margin type"):
        client.set_margin_mode("isolated", BTC)
    client.create_order(BTC, "market", "buy", 0.1)
    with pytest.raises(ccxt_errors.OperationRejected, match="exists position"):
        client.set_margin_mode("cross", BTC)
    position = exchange.trading.accounts.account(KEY).position("BTCUSDT")
    assert (position.leverage, position.margin_type) == (10, "ISOLATED")
    assert position.isolated_wallet == 400  # 0.1 x 40,000 / 10


def test_market_order_fills_with_fee_and_shows_in_trades_and_positions(client: Any) -> None:
    client.set_leverage(10, BTC)
    order = client.create_order(BTC, "market", "buy", 0.25)
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.25, 40_000)
    trades = client.fetch_my_trades(BTC)
    assert [(t["amount"], t["price"], t["fee"]["cost"], t["fee"]["currency"]) for t in trades] == [
        (0.25, 40_000, 5.0, "USDT")  # 10,000 notional x 0.05 % taker
    ]
    [position] = client.fetch_positions([BTC])
    assert (position["side"], position["contracts"], position["entryPrice"]) == (
        "long",
        0.25,
        40_000,
    )
    assert position["marginMode"] == "cross"
    balance = client.fetch_balance()["USDT"]
    assert balance["total"] == 9_995  # wallet less the fee, no unrealised P&L at the entry
    assert balance["used"] == 1_000  # 10,000 / 10x


def test_unrealised_pnl_and_liquidation_price_at_the_mark(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    client.set_leverage(20, BTC)
    client.create_order(BTC, "market", "sell", 1)  # short 1 BTC, cross, wallet 9,980 after the fee
    exchange.trading.move(BTC, mark=41_000)
    [position] = client.fetch_positions([BTC])
    assert (position["side"], position["unrealizedPnl"], position["markPrice"]) == (
        "short",
        -1_000,
        41_000,
    )
    # cross, one position: LP = (9,980 + cum 0 + 40,000) / (0.004 + 1) at level 1
    expected = (D(9_980) + D(40_000)) / D("1.004")
    assert position["liquidationPrice"] == float(expected.quantize(D("0.00000001")))
    # ccxt inverts the same formula to the position's collateral: the cross wallet
    assert abs(position["collateral"] - 9_980) < 0.01


def test_limit_orders_rest_fill_at_their_price_and_cancel(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    resting = client.create_order(BTC, "limit", "buy", 0.1, 39_000)
    other = client.create_order(BTC, "limit", "buy", 0.1, 38_000, {"clientOrderId": "mine-1"})
    assert [o["id"] for o in client.fetch_open_orders(BTC)] == [resting["id"], other["id"]]
    exchange.trading.move(BTC, last=38_500)
    filled = client.fetch_order(resting["id"], BTC)
    assert (filled["status"], filled["average"]) == ("closed", 39_000)
    assert client.fetch_my_trades(BTC)[0]["takerOrMaker"] == "maker"
    canceled = client.cancel_order(other["id"], BTC)
    assert (canceled["status"], canceled["clientOrderId"]) == ("canceled", "mine-1")
    with pytest.raises(ccxt_errors.OrderNotFound):
        client.cancel_order(other["id"], BTC)
    with pytest.raises(ccxt_errors.OrderNotFound):
        client.fetch_order("999", BTC)


def test_documented_order_refusals_map_to_ccxt_exceptions(client: Any) -> None:
    with pytest.raises(ccxt_errors.InsufficientFunds, match="Margin is insufficient"):
        client.create_order(BTC, "market", "buy", 6)  # 240,000 at 20x needs 12,000
    with pytest.raises(ccxt_errors.InvalidOrder, match="ReduceOnly Order is rejected"):
        client.create_order(BTC, "market", "sell", 0.1, None, {"reduceOnly": True})
    with pytest.raises(ccxt_errors.OrderNotFillable, match="Post Only"):
        client.create_order(BTC, "limit", "buy", 0.1, 40_100, {"timeInForce": "PO"})
    with pytest.raises(ccxt_errors.InvalidOrder, match="notional must be no smaller than 100"):
        client.create_order(BTC, "market", "buy", 0.001)
    client.create_order(BTC, "limit", "buy", 0.01, 30_000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt_errors.InvalidOrder, match="ClientOrderId is duplicated"):
        client.create_order(BTC, "limit", "buy", 0.01, 30_000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt_errors.OrderImmediatelyFillable):
        client.create_order(BTC, "market", "buy", 0.01, None, {"stopPrice": 39_000})  # STOP_MARKET
    assert client.fetch_balance()["USDT"]["total"] == 10_000  # nothing refused was charged


def test_stop_market_with_close_position(client: Any, exchange: LocalFuturesExchange) -> None:
    client.create_order(BTC, "market", "buy", 0.2)
    stop = client.create_order(
        BTC, "market", "sell", None, None, {"stopLossPrice": 39_000, "closePosition": True}
    )
    assert stop["status"] == "open"
    assert [o["id"] for o in client.fetch_open_orders(BTC, params={"trigger": True})] == [
        stop["id"]
    ]
    exchange.trading.move(BTC, last=38_800)
    closed = client.fetch_order(stop["id"], BTC, {"trigger": True})
    assert (closed["status"], closed["info"]["algoStatus"]) == ("closed", "FINISHED")
    child = client.fetch_order(closed["info"]["actualOrderId"], BTC)
    assert (child["status"], child["filled"], child["average"]) == ("closed", 0.2, 38_800)
    assert client.fetch_positions([BTC]) == []


def test_conditional_orders_cancel_through_the_algo_api(client: Any) -> None:
    take = client.create_order(
        BTC, "market", "sell", 0.1, None, {"takeProfitPrice": 45_000, "clientOrderId": "tp-1"}
    )
    assert (take["status"], take["info"]["orderType"], take["triggerPrice"]) == (
        "open",
        "TAKE_PROFIT_MARKET",
        45_000,
    )
    assert take["clientOrderId"] == "tp-1"
    canceled = client.cancel_order(take["id"], BTC, {"trigger": True})
    assert canceled["id"] == take["id"]
    assert client.fetch_order(take["id"], BTC, {"trigger": True})["status"] == "canceled"
    with pytest.raises(ccxt_errors.OrderNotFound):
        client.cancel_order(take["id"], BTC, {"trigger": True})
    with pytest.raises(ccxt_errors.InvalidOrder, match="Algo Order API"):  # the old endpoint
        client.fapiPrivatePostOrder(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "quantity": "0.1",
                "stopPrice": "39000",
            }
        )


def test_funding_history_by_hand(client: Any, exchange: LocalFuturesExchange) -> None:
    client.create_order(BTC, "market", "buy", 0.5)
    exchange.trading.move(BTC, mark=41_000)
    exchange.trading.settle_funding(BTC, "0.0001")  # long pays 0.5 x 41,000 x 0.0001
    exchange.trading.settle_funding(BTC, "-0.0003")  # negative rate: the long receives 6.15
    history = client.fetch_funding_history(BTC)
    assert [(h["amount"], h["code"], h["symbol"]) for h in history] == [
        (-2.05, "USDT", BTC),
        (6.15, "USDT", BTC),
    ]
    assert (
        client.fetch_balance()["USDT"]["total"] == 10_000 - 10 - 2.05 + 6.15 + 500
    )  # fee, funding, P&L


def test_forced_isolated_liquidation_by_hand(client: Any, exchange: LocalFuturesExchange) -> None:
    client.set_leverage(10, BTC)
    client.set_margin_mode("isolated", BTC)
    client.create_order(BTC, "market", "buy", 1)  # isolated wallet 4,000, fee 20
    [position] = client.fetch_positions([BTC])
    table = exchange.trading.accounts.contract("BTCUSDT").brackets
    assert isinstance(table, BracketTable)
    lp = (D(4_000) - D(40_000)) / (table.for_notional(D(40_000)).mmr - 1)  # level 1: 0.4 %
    assert position["liquidationPrice"] == float(lp.quantize(D("0.00000001")))
    assert position["collateral"] == 4_000  # isolatedMargin at the entry
    exchange.trading.move(BTC, mark=float(lp) + 1)
    assert len(client.fetch_positions([BTC])) == 1
    exchange.trading.move(BTC, mark=float(lp) - 1)
    assert client.fetch_positions([BTC]) == []
    assert client.fetch_balance()["USDT"]["total"] == 10_000 - 20 - 4_000
    trade = client.fetch_my_trades(BTC)[-1]
    assert (trade["side"], trade["amount"]) == ("sell", 1)
    assert trade["price"] == float(lp.quantize(D("0.00000001")))  # the liquidation price
    ledger = client.fetch_funding_history(BTC)  # FUNDING_FEE only: none was paid
    assert ledger == []


def test_a_wrong_secret_is_refused(exchange: LocalFuturesExchange) -> None:
    client = sync_usdm(exchange, secret="wrong")
    client.load_markets()
    with pytest.raises(ccxt_errors.AuthenticationError):
        client.fetch_balance()


def test_replay_walks_the_candles_and_pays_funding_at_its_timestamps(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    last = exchange.candles(BTC)
    mark = exchange.candles(BTC, price="mark")
    rates = exchange.funding_rates(BTC)
    start, end = "2024-01-01 07:00", "2024-01-01 09:00"
    before = last.loc[:"2024-01-01 06:59"].iloc[-1]
    first_mark = float(mark["close"].loc[:"2024-01-01 06:59"].iloc[-1])
    exchange.trading.move(BTC, last=float(before["close"]), mark=first_mark)
    client.create_order(BTC, "market", "buy", 0.01)
    window = last.loc[start:"2024-01-01 08:59"]
    lowest = float(window["low"].min())
    assert lowest < before["close"]  # a limit there rests first
    resting = client.create_order(BTC, "limit", "buy", 0.01, lowest)
    assert exchange.trading.replay(BTC, start, end) == 120
    assert exchange.trading.accounts.lasts["BTCUSDT"] == D(repr(float(window["close"].iloc[-1])))
    filled = client.fetch_order(resting["id"], BTC)
    assert (filled["status"], filled["average"]) == ("closed", lowest)
    assert client.fetch_funding_history(BTC) == []  # Binance's default: the last 7 days only
    [funding] = client.fetch_funding_history(BTC, since=1_704_067_200_000)  # 08:00 only
    at = "2024-01-01 08:00"
    held = D("0.02") if window["low"].idxmin() < window.index[60] else D("0.01")  # limit filled?
    mark_then, rate = float(mark["open"].loc[at]), float(rates["rate"].loc[at])
    expected = -held * D(repr(mark_then)) * D(repr(rate))
    assert funding["timestamp"] == 1_704_096_000_000
    assert D(str(funding["amount"])) == expected.quantize(D("0.00000001"))


def test_an_order_accepted_but_unanswered_is_on_the_venue(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    exchange.faults.accept_then_fail("/fapi/v1/order", status=503)
    with pytest.raises(ccxt_errors.ExchangeNotAvailable):
        client.create_order(BTC, "limit", "buy", 0.01, 39_000, {"clientOrderId": "lost-1"})
    [order] = client.fetch_open_orders(BTC)  # placed: the answer alone was lost
    assert (order["clientOrderId"], order["price"], order["amount"]) == ("lost-1", 39_000, 0.01)
    with pytest.raises(ccxt_errors.InvalidOrder, match="ClientOrderId is duplicated"):
        client.create_order(BTC, "limit", "buy", 0.01, 39_000, {"clientOrderId": "lost-1"})


def test_hedge_mode_and_leverage_caps_through_ccxt(client: Any) -> None:
    client.set_position_mode(True, BTC)
    assert client.fetch_position_mode(BTC)["hedged"] is True
    with pytest.raises(ccxt_errors.OperationRejected, match="position side does not match"):
        client.create_order(BTC, "market", "buy", 0.01)  # the venue trades one-way only
    client.set_position_mode(False, BTC)
    with pytest.raises(ccxt_errors.OperationRejected, match="No need to change position side"):
        client.set_position_mode(False, BTC)
    client.set_leverage(125, BTC)
    with pytest.raises(ccxt_errors.OperationRejected, match="maximum allowable position"):
        client.create_order(BTC, "market", "buy", 1.3)  # 52,000 > the 50,000 125x allows
    client.create_order(BTC, "market", "buy", 1)  # 40,000 at 125x
    with pytest.raises(ccxt_errors.OperationRejected, match="insufficient margin balance"):
        client.set_leverage(4, BTC)  # 10,000 of margin on a 9,980 wallet


def test_all_orders_lists_closed_and_canceled_orders(client: Any) -> None:
    filled = client.create_order(BTC, "market", "buy", 0.01)
    canceled = client.cancel_order(
        client.create_order(BTC, "limit", "buy", 0.01, 30_000)["id"], BTC
    )
    waiting = client.create_order(BTC, "limit", "buy", 0.01, 31_000)
    orders = client.fetch_orders(BTC)
    assert [(o["id"], o["status"]) for o in orders] == [
        (filled["id"], "closed"),
        (canceled["id"], "canceled"),
        (waiting["id"], "open"),
    ]
    assert [o["id"] for o in client.fetch_closed_orders(BTC)] == [filled["id"]]


def test_an_order_of_unknown_outcome_takes_effect_later(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    exchange.faults.unknown_outcome("/fapi/v1/order", method="POST", execute_after=None)
    with pytest.raises(ccxt_errors.RequestTimeout, match="-1007"):
        client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "maybe-1"})
    with pytest.raises(ccxt_errors.OrderNotFound):  # not (yet) on the venue
        client.fetch_order(None, BTC, {"origClientOrderId": "maybe-1"})
    assert exchange.server.run_in_loop(exchange.pending.run_all()) == 1
    order = client.fetch_order(None, BTC, {"origClientOrderId": "maybe-1"})
    assert (order["status"], order["filled"]) == ("closed", 0.01)
    [position] = client.fetch_positions([BTC])
    assert position["contracts"] == 0.01


def test_malformed_orders_are_refused_binance_style(client: Any) -> None:
    def post(**params: str) -> Any:
        return client.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", **params}
        )

    with pytest.raises(ccxt_errors.BadRequest, match="'timeInForce'"):
        post(type="LIMIT", price="39000")
    with pytest.raises(ccxt_errors.BadRequest, match="Invalid orderType"):
        post(type="TRAILING")
    with pytest.raises(ccxt_errors.BadRequest, match="'price' sent when not required"):
        post(type="MARKET", price="39000")
    with pytest.raises(ccxt_errors.BadRequest, match="Price not increased by tick size"):
        post(type="LIMIT", price="39000.05", timeInForce="GTC")
    with pytest.raises(ccxt_errors.BadSymbol):
        client.fapiPrivatePostOrder(
            {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        )
    assert client.fetch_open_orders(BTC) == [] and client.fetch_my_trades(BTC) == []


def test_isolated_margin_added_and_taken_back_moves_the_liquidation_price(
    client: Any, exchange: LocalFuturesExchange
) -> None:
    with pytest.raises(ccxt_errors.OperationRejected, match="position is 0"):
        client.add_margin(BTC, 100)
    client.set_leverage(10, BTC)
    client.set_margin_mode("isolated", BTC)
    client.create_order(BTC, "market", "buy", 1)  # isolated wallet 4,000
    client.add_margin(BTC, 1_000)
    [position] = client.fetch_positions([BTC])
    lp = (D(5_000) - D(40_000)) / (D("0.004") - 1)  # WB 5,000 now
    assert position["liquidationPrice"] == float(lp.quantize(D("0.00000001")))
    with pytest.raises(ccxt_errors.InsufficientFunds, match="Isolated balance insufficient"):
        client.reduce_margin(BTC, 1_000.001)  # only the 1,000 above the initial margin
    client.reduce_margin(BTC, 1_000)
    with pytest.raises(ccxt_errors.InsufficientFunds, match="Cross balance insufficient"):
        client.add_margin(BTC, 6_000)  # 10,000 - 20 fee - 4,000 isolated = 5,980 available
    state = exchange.trading.accounts.account(KEY)
    assert (state.position("BTCUSDT").isolated_wallet, state.wallet) == (D(4_000), D(9_980))
