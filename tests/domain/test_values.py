"""Markets, timeframes, positions, portfolio and bar values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantkit.domain.bars import Bar
from quantkit.domain.market import Market
from quantkit.domain.portfolio import MarginConfig, Portfolio
from quantkit.domain.position import Position
from quantkit.domain.timeframe import format_timeframe, parse_timeframe
from quantkit.errors import ConfigError
from tests.builders import HOUR, T0, make_series


def test_market_rounding() -> None:
    m = Market("BTC/USDT", "BTC", "USDT", price_increment=0.01, amount_increment=0.001)
    assert m.round_amount(0.12399999) == 0.123  # always down, like an exchange
    assert m.round_amount(0.3) == 0.3  # no 0.30000000000000004
    assert m.round_price(101.005) in (101.0, 101.01)
    assert m.round_price(101.2349) == 101.23
    free = Market("X/Y", "X", "Y")
    assert free.round_amount(0.123456789) == 0.123456789


@pytest.mark.parametrize(
    "fields",
    [
        {"price_increment": -1.0},
        {"min_amount": math.nan},
        {"maker_fee": 2.0},
        {"taker_fee": math.inf},
    ],
)
def test_market_rejects_bad_fields(fields: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="market BTC/USDT"):
        Market("BTC/USDT", "BTC", "USDT", **fields)


def test_market_from_symbol() -> None:
    m = Market.from_symbol("ETH/USDT:USDT", taker_fee=0.0004)
    assert (m.base, m.quote, m.taker_fee) == ("ETH", "USDT", 0.0004)
    with pytest.raises(ConfigError, match="BASE/QUOTE"):
        Market.from_symbol("ETHUSDT")
    with pytest.raises(ConfigError, match="non-empty"):
        Market("", "A", "B")


@pytest.mark.parametrize(
    ("text", "ns"),
    [("1m", 60 * 10**9), ("15m", 900 * 10**9), ("1h", HOUR), ("4h", 4 * HOUR), ("1d", 24 * HOUR)],
)
def test_timeframes(text: str, ns: int) -> None:
    assert parse_timeframe(text) == ns
    assert format_timeframe(ns) == text
    assert parse_timeframe(ns) == ns


@pytest.mark.parametrize("bad", ["1x", "0h", "h", "", -5, 0, True])
def test_bad_timeframes(bad: object) -> None:
    with pytest.raises(ConfigError, match="timeframe"):
        parse_timeframe(bad)  # type: ignore[arg-type]


def test_format_odd_timeframe() -> None:
    assert format_timeframe(90 * 60 * 10**9) == "90m"
    assert format_timeframe(1500) == "1500ns"


def test_position_average_realise_and_flip() -> None:
    p = Position("X")
    assert p.apply(2.0, 10.0) == 0.0
    assert p.apply(2.0, 20.0) == 0.0 and p.entry_price == 15.0
    assert p.apply(-1.0, 25.0) == pytest.approx(10.0)  # 1 x (25 - 15)
    assert p.apply(-5.0, 5.0) == pytest.approx(-30.0)  # closes 3 x (5 - 15), opens 2 short
    assert p.amount == -2.0 and p.entry_price == 5.0
    assert p.unrealized_pnl(4.0) == pytest.approx(2.0)
    assert p.realized_pnl == pytest.approx(-20.0)
    assert p.apply(2.0, 6.0) == pytest.approx(-2.0) and p.is_flat and p.entry_price == 0.0


def test_portfolio_equity_and_exposure() -> None:
    pf = Portfolio("USDT", {"USDT": 100.0}, MarginConfig(allow_short=True, leverage=2.0))
    pf.position("A/USDT").apply(2.0, 10.0)
    pf.position("B/USDT").apply(-1.0, 30.0)
    pf.last_price.update({"A/USDT": 12.0, "B/USDT": 25.0})
    assert pf.equity() == pytest.approx(100 + 24 - 25)
    assert pf.gross_exposure() == pytest.approx(49.0)
    assert not pf.margin.is_spot and MarginConfig().is_spot
    with pytest.raises(ConfigError, match="leverage"):
        MarginConfig(leverage=0.5)


def test_bar_series_access() -> None:
    s = make_series([(1.0, 2.0, 0.5, 1.5, 10.0), (1.5, 1.6, 1.4, 1.45, 11.0)])
    assert len(s) == 2
    assert s.bar(-1) == Bar("BTC/USDT", T0 + HOUR, T0 + 2 * HOUR, 1.5, 1.6, 1.4, 1.45, 11.0)
    head = s.head(1)
    assert len(head) == 1 and np.shares_memory(head.close, s.close)
