"""Markets and series of the local exchange: validation, determinism, aggregation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.errors import ConfigError
from quantkit.testing import LocalMarket, LocalVenue
from quantkit.testing.market_data import (
    Candles,
    aggregate_candles,
    format_number,
    interval_buckets,
    synthetic_candles,
)

JAN_1 = 1704067200000


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_are_written_plainly_and_read_back_exactly(value: float) -> None:
    text = format_number(value)
    assert "e" not in text.lower()
    assert float(text) == value


def test_a_market_knows_its_parts() -> None:
    market = LocalMarket("SOL/USDC")
    assert (market.base, market.quote, market.venue_id) == ("SOL", "USDC", "SOLUSDC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "SOLUSDC"}, "is not BASE/QUOTE"),
        ({"symbol": "SOL/US-DC"}, "is not BASE/QUOTE"),
        ({"symbol": "A/B", "tick_size": 0.0}, "tick_size must be > 0"),
        ({"symbol": "A/B", "price": float("nan")}, "price must be > 0"),
    ],
)
def test_bad_markets_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LocalMarket(**kwargs)  # type: ignore[arg-type]


def test_synthetic_candles_cover_the_range_and_depend_on_the_seed() -> None:
    market = LocalMarket("A/B", price=10.0)
    end = JAN_1 + 90 * 60_000 + 1
    first = synthetic_candles(market, "15m", JAN_1, end, seed="s")
    assert len(first) == 7  # 6 full quarters and the one the last millisecond opens
    assert first.time[-1] == JAN_1 + 90 * 60_000
    again = synthetic_candles(market, "15m", JAN_1, end, seed="s")
    assert np.array_equal(first.close, again.close)
    other = synthetic_candles(market, "15m", JAN_1, end, seed="t")
    assert not np.array_equal(first.close, other.close)
    assert len(synthetic_candles(market, "1h", JAN_1, JAN_1, seed="s")) == 0


def test_buckets_for_months_weeks_and_fixed_intervals() -> None:
    times = np.array([JAN_1, JAN_1 + 40 * 86_400_000], dtype=np.int64)  # Jan 1 and Feb 10
    opens, closes = interval_buckets(times, "1M")
    assert opens.tolist() == [JAN_1, JAN_1 + 31 * 86_400_000]
    assert (closes[0] + 1) == opens[1]
    weeks, _ = interval_buckets(times, "1w")
    assert weeks.tolist() == [JAN_1, JAN_1 + 35 * 86_400_000]  # Mondays Jan 1 and Feb 5
    with pytest.raises(ConfigError, match="interval '2w' is not one of"):
        interval_buckets(times, "2w")


def test_aggregating_nothing_gives_nothing() -> None:
    empty = np.array([], dtype=np.int64)
    none = np.array([], dtype=np.float64)
    candles = Candles(empty, none, none, none, none, none, empty, empty)
    assert len(aggregate_candles(candles, "1h")) == 0


def test_the_venue_looks_markets_up_by_symbol_and_id() -> None:
    venue = LocalVenue()
    assert venue.market("ETHBTC") is venue.market("ETH/BTC")
    assert venue.market_by_id("ETH/BTC") is None
    assert venue.timeframe == "1m"
    assert venue.serves("1M") and venue.serves("3d") and not venue.serves("1s")
    assert not LocalVenue(timeframe="1w").serves("1M")
    hourly = venue.candles(venue.market("BTC/USDT"), "1h")
    assert venue.candles(venue.market("BTC/USDT"), "1h") is hourly  # kept
