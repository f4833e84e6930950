"""ccxt payloads to quantkit values: markets, candles, trades."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from quantkit.domain.market import Market
from quantkit.errors import DataError
from quantkit.exchanges.parse import (
    DECIMAL_PLACES,
    SIGNIFICANT_DIGITS,
    TICK_SIZE,
    increment_from_precision,
    parse_market,
    parse_ohlcv,
    parse_trades,
)


def raw_market(**changes: Any) -> dict[str, Any]:
    market: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "base": "BTC",
        "quote": "USDT",
        "precision": {"price": 0.01, "amount": 0.00001},
        "limits": {"amount": {"min": 0.0001, "max": 9000}, "cost": {"min": 5.0}},
        "maker": 0.0002,
        "taker": 0.0004,
    }
    market.update(changes)
    return market


def test_precision_modes_agree_with_ccxt() -> None:
    assert (DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE) == (
        ccxt.DECIMAL_PLACES,
        ccxt.SIGNIFICANT_DIGITS,
        ccxt.TICK_SIZE,
    )


@pytest.mark.parametrize(
    ("value", "mode", "increment"),
    [
        (0.01, TICK_SIZE, 0.01),
        ("0.5", TICK_SIZE, 0.5),
        (2, DECIMAL_PLACES, 0.01),
        (8.0, DECIMAL_PLACES, 1e-8),
        (0, DECIMAL_PLACES, 1.0),
        (-1, DECIMAL_PLACES, 10.0),
        (5, SIGNIFICANT_DIGITS, 0.0),
        (None, TICK_SIZE, 0.0),
    ],
)
def test_increments_from_each_precision_mode(value: object, mode: int, increment: float) -> None:
    assert increment_from_precision(value, mode) == increment


@pytest.mark.parametrize(
    ("value", "mode", "message"),
    [
        ("abc", TICK_SIZE, "precision 'abc' is not a number"),
        (True, TICK_SIZE, "precision True is not a number"),
        ([1], TICK_SIZE, r"precision \[1\] is not a number"),
        (float("inf"), TICK_SIZE, "precision inf is not finite"),
        (0.01, 9, "unknown ccxt precision mode 9"),
    ],
)
def test_bad_precisions_are_data_errors(value: object, mode: int, message: str) -> None:
    with pytest.raises(DataError, match=message):
        increment_from_precision(value, mode)


def test_a_market_keeps_precision_minimums_and_fees() -> None:
    market = parse_market(raw_market(), precision_mode=TICK_SIZE, exchange="binance")
    assert market == Market(
        "BTC/USDT",
        "BTC",
        "USDT",
        price_increment=0.01,
        amount_increment=0.00001,
        min_amount=0.0001,
        min_notional=5.0,
        maker_fee=0.0002,
        taker_fee=0.0004,
    )


def test_missing_fields_fall_back_to_any_increment_no_minimum_and_default_fees() -> None:
    raw = raw_market(precision={}, limits={"amount": {"min": None}}, maker=None)
    del raw["taker"]
    market = parse_market(raw, precision_mode=DECIMAL_PLACES)
    assert (market.price_increment, market.amount_increment) == (0.0, 0.0)
    assert (market.min_amount, market.min_notional) == (0.0, 0.0)
    defaults = Market("A/B", "A", "B")
    assert (market.maker_fee, market.taker_fee) == (defaults.maker_fee, defaults.taker_fee)


def test_a_swap_symbol_is_kept_whole() -> None:
    raw = raw_market(symbol="BTC/USDT:USDT", precision={"price": 1, "amount": 3})
    market = parse_market(raw, precision_mode=DECIMAL_PLACES)
    assert market.symbol == "BTC/USDT:USDT"
    assert (market.price_increment, market.amount_increment) == (0.1, 0.001)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"taker": 1.5}, "binance market 'BTC/USDT': .*taker_fee must be a rate"),
        ({"base": None}, "binance market 'BTC/USDT': symbol, base and quote must be strings"),
        ({"limits": {"cost": {"min": "lots"}}}, "limits.cost.min 'lots' is not a number"),
        ({"precision": {"price": -0.01}}, "price_increment must be >= 0"),
    ],
)
def test_malformed_markets_are_data_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_market(raw_market(**changes), precision_mode=TICK_SIZE, exchange="binance")


def test_candles_become_tuples_of_int_and_floats() -> None:
    rows = parse_ohlcv(
        [[1, 2, 3, 1, 2.5, 10], [2, "2", 3, 1, 2, 0, "extra"]], exchange="x", symbol="A/B"
    )
    assert rows == [(1, 2.0, 3.0, 1.0, 2.5, 10.0), (2, 2.0, 3.0, 1.0, 2.0, 0.0)]
    assert all(type(value) is float for value in rows[0][1:])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"not": "a list"}, "x A/B candles: expected a list of candles, got dict"),
        ([[1, 2, 3]], r"x A/B candles: row 0: candle \[1, 2, 3\] has not six fields"),
        ([[1, 2, 3, 1, 2, 1], [2, None, 3, 1, 2, 1]], "x A/B candles: row 1: value None is not a"),
        ([["t", 2, 3, 1, 2, 1]], "row 0: timestamp 't' is not a number"),
    ],
)
def test_malformed_candles_are_data_errors(rows: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_ohlcv(rows, exchange="x", symbol="A/B")


def test_trades_keep_time_price_amount_and_taker_side() -> None:
    trades = [
        {"timestamp": 5, "price": "10.5", "amount": 2, "side": "sell", "id": "9"},
        {"timestamp": 6.0, "price": 11, "amount": 0.5, "side": None},
    ]
    assert parse_trades(trades, exchange="x", symbol="A/B") == [
        (5, 10.5, 2.0, "sell"),
        (6, 11.0, 0.5, ""),
    ]


@pytest.mark.parametrize(
    ("trades", "message"),
    [
        ("nope", "x A/B trades: expected a list of trades, got str"),
        ([["t"]], r"x A/B trades: row 0: trade \['t'\] is not a mapping"),
        ([{"timestamp": None, "price": 1, "amount": 1}], "row 0: timestamp None is not a number"),
        ([{"timestamp": 1, "price": 1}], "row 0: amount None is not a number"),
    ],
)
def test_malformed_trades_are_data_errors(trades: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_trades(trades, exchange="x", symbol="A/B")
