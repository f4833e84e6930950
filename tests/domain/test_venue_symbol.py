"""Venue-qualified symbols: splitting, qualifying and resolving bare symbols."""

from __future__ import annotations

import doctest

import pytest

import quantkit.brokers.router
import quantkit.brokers.venues
import quantkit.domain.venue_symbol
import quantkit.engine.venue_table
from quantkit.domain.venue_symbol import qualify, resolve_symbol, split_venue
from quantkit.errors import ConfigError, UnknownSymbolError

RUN = ["binance:BTC/USDT", "kraken:BTC/USDT", "kraken:ETH/USDT", "BTC/USDT@1d"]


@pytest.mark.parametrize(
    ("symbol", "parts"),
    [
        ("binance:BTC/USDT", ("binance", "BTC/USDT")),
        ("BTC/USDT", ("", "BTC/USDT")),
        ("BTC/USDT:USDT", ("", "BTC/USDT:USDT")),  # a perpetual's settle suffix
        ("okx:BTC/USDT:USDT", ("okx", "BTC/USDT:USDT")),
    ],
)
def test_split_venue(symbol: str, parts: tuple[str, str]) -> None:
    assert split_venue(symbol) == parts


def test_qualify_checks_the_venue_name_and_refuses_double_qualification() -> None:
    assert qualify("bin-ance_2", "ETH/USDT") == "bin-ance_2:ETH/USDT"
    with pytest.raises(ConfigError, match="venue name ''"):
        qualify("", "ETH/USDT")
    with pytest.raises(ConfigError, match="already venue-qualified"):
        qualify("kraken", "binance:ETH/USDT")


def test_resolve_symbol_cases() -> None:
    assert resolve_symbol("kraken:BTC/USDT", RUN) == "kraken:BTC/USDT"
    assert resolve_symbol("ETH/USDT", RUN) == "kraken:ETH/USDT"  # one venue lists it
    assert resolve_symbol("BTC/USDT", RUN, "binance") == "binance:BTC/USDT"
    assert resolve_symbol("kraken:BTC/USDT", RUN, "kraken") == "kraken:BTC/USDT"
    with pytest.raises(UnknownSymbolError, match="ambiguous: venues binance, kraken list it"):
        resolve_symbol("BTC/USDT", RUN)
    with pytest.raises(UnknownSymbolError, match="names venue 'kraken', not 'binance'"):
        resolve_symbol("kraken:BTC/USDT", RUN, "binance")
    with pytest.raises(UnknownSymbolError, match=r"the run trades \[.binance:SOL/USDC.\]"):
        resolve_symbol("SOL/USDT", ["binance:SOL/USDC"])


def test_single_venue_symbols_resolve_as_before() -> None:
    assert resolve_symbol("BTC/USDT", ["BTC/USDT", "ETH/USDT"]) == "BTC/USDT"
    with pytest.raises(UnknownSymbolError, match="unknown symbol 'BTC/USD'"):
        resolve_symbol("BTC/USD", ["BTC/USDT"])


@pytest.mark.parametrize(
    "module",
    [
        quantkit.domain.venue_symbol,
        quantkit.brokers.venues,
        quantkit.brokers.router,
        quantkit.engine.venue_table,
    ],
)
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
