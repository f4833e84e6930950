"""Parsing Binance USD-M's pushed account changes and fills (as ccxt.pro hands them over)."""

from __future__ import annotations

from typing import Any

import pytest

from quantkit.domain.order import Side
from quantkit.errors import DataError
from quantkit.exchanges.perp_stream import parse_balance_changes, parse_order_fills


def symbol_of(market_id: str) -> str:
    return {"BTCUSDT": "BTC/USDT:USDT"}[market_id]


def balance(reason: str, bc: str, positions: list[dict[str, Any]]) -> dict[str, Any]:
    event = {
        "e": "ACCOUNT_UPDATE",
        "E": 1_700_000_000_005,
        "T": 1_700_000_000_000,
        "a": {"m": reason, "B": [{"a": "USDT", "wb": "99.6", "cw": "99.6", "bc": bc}],
              "P": positions},
    }  # fmt: skip
    return {"info": event, "USDT": {"total": 99.6}}


def test_cross_funding_has_no_symbol_and_isolated_funding_has_its_position() -> None:
    [cross] = parse_balance_changes(balance("FUNDING_FEE", "-0.4", []), exchange="x",
                                    symbol_of=symbol_of)  # fmt: skip
    assert (cross.reason, cross.symbol, cross.amount, cross.currency) == (
        "FUNDING_FEE", "", -0.4, "USDT",
    )  # fmt: skip
    assert cross.timestamp == 1_700_000_000_000 * 1_000_000  # the transaction time T, in ns
    pushed = [{"s": "BTCUSDT", "pa": "0.1", "mt": "isolated"}]
    [isolated] = parse_balance_changes(balance("FUNDING_FEE", "0.8", pushed), exchange="x",
                                       symbol_of=symbol_of)  # fmt: skip
    assert (isolated.symbol, isolated.amount) == ("BTC/USDT:USDT", 0.8)


def test_trade_updates_and_zero_changes_are_no_pushed_change() -> None:
    assert parse_balance_changes(balance("ORDER", "0", []), exchange="x", symbol_of=symbol_of) == []
    assert parse_balance_changes(balance("FUNDING_FEE", "0", []), exchange="x",
                                 symbol_of=symbol_of) == []  # fmt: skip
    assert parse_balance_changes({"USDT": {}}, exchange="x", symbol_of=symbol_of) == []


def test_a_malformed_change_is_one_data_error_naming_the_field() -> None:
    with pytest.raises(DataError, match=r"x ACCOUNT_UPDATE 'USDT': bc 'lots' is not a number"):
        parse_balance_changes(balance("FUNDING_FEE", "lots", []), exchange="x",
                              symbol_of=symbol_of)  # fmt: skip


def order(x: str, last: str, trade_id: int) -> dict[str, Any]:
    info = {"s": "BTCUSDT", "c": "autoclose-1", "S": "SELL", "o": "LIQUIDATION", "x": x,
            "X": "FILLED" if trade_id else "NEW", "i": 7, "l": last, "z": last, "L": "38000",
            "N": "USDT", "n": "0", "T": 1_700_000_000_000, "t": trade_id, "m": False}  # fmt: skip
    return {"id": "7", "clientOrderId": "autoclose-1", "symbol": "BTC/USDT:USDT",
            "side": "sell", "type": "liquidation", "amount": 0.1, "price": 0,
            "status": "closed" if trade_id else "open", "filled": float(last), "average": 38_000,
            "timestamp": 1_700_000_000_000, "info": info}  # fmt: skip


def test_a_liquidation_fill_is_read_from_its_pushed_order_and_a_new_order_is_not() -> None:
    assert parse_order_fills([order("NEW", "0", 0)], exchange="x") == []
    [(venue_order, trade)] = parse_order_fills([order("CALCULATED", "0.1", 55)], exchange="x")
    assert (venue_order.client_id, venue_order.exchange_id) == ("autoclose-1", "7")
    assert (trade.trade_id, trade.exchange_order_id, trade.side) == ("55", "7", Side.SELL)
    assert (trade.price, trade.amount, trade.fee, trade.fee_currency) == (38_000, 0.1, 0, "USDT")


def test_a_fill_without_a_trade_id_is_a_data_error() -> None:
    with pytest.raises(DataError, match="without an amount or a trade id"):
        parse_order_fills([order("CALCULATED", "0.1", 0)], exchange="x")
