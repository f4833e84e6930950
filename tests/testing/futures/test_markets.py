"""FuturesMarket and leverage-bracket tables: checked once, with one clear error each."""

from __future__ import annotations

import pytest

from quantkit.errors import ConfigError
from quantkit.testing.futures import FuturesMarket, FuturesVenue, brackets_from_table


def test_names_and_defaults() -> None:
    market = FuturesMarket("SOL/USDT:USDT", price=100.0)
    assert (market.base, market.quote, market.venue_id) == ("SOL", "USDT", "SOLUSDT")
    assert market.max_leverage == 125 and market.funding_interval_ms == 28_800_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "BTC/USDT"}, "is not BASE/QUOTE:SETTLE"),
        ({"symbol": "BTC/USD:BTC"}, "only linear perpetuals"),
        ({"symbol": "BTC/USDT:USDT", "tick_size": 0.0}, "tick_size must be > 0"),
        ({"symbol": "BTC/USDT:USDT", "funding_interval_hours": 5}, "must divide 24"),
    ],
)
def test_bad_markets(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FuturesMarket(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "at least one"),
        ([(10, 100, 50, "0.01")], "start at notional 0"),
        ([(0, 100, 50, "0.01"), (90, 200, 20, "0.02")], "starts at 90, not at 100"),
        ([(0, 100, 50, "0.01"), (100, 200, 75, "0.02")], "no more leverage"),
        ([(0, 100, 50, "0.01"), (100, 200, 20, "0.01")], "higher maintenance"),
        ([(0, 0, 50, "0.01")], "floor >= cap"),
    ],
)
def test_bad_bracket_tables(rows: list[tuple[int, int, int, str]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        brackets_from_table(rows, source="X")


def test_four_hour_funding_and_bad_venues() -> None:
    market = FuturesMarket("SOL/USDT:USDT", funding_interval_hours=4)
    venue = FuturesVenue([market], start="2024-01-01", end="2024-01-02")
    times = venue.funding(market).time.tolist()
    assert times == [1_704_067_200_000 + k * 4 * 3_600_000 for k in range(6)]
    with pytest.raises(ConfigError, match="no market 'DOGEUSDT'"):
        venue.market("DOGEUSDT")
    with pytest.raises(ConfigError, match="timeframe '1s'"):
        FuturesVenue(timeframe="1s")
    with pytest.raises(ConfigError, match="share a venue id"):
        FuturesVenue([market, market])
    with pytest.raises(ConfigError, match="must be after start"):
        FuturesVenue(start="2024-01-02", end="2024-01-01")


def test_docstring_examples_run() -> None:
    import doctest

    import quantkit.testing.futures.exchange
    import quantkit.testing.futures.markets
    import quantkit.testing.futures.public_api

    for module in (
        quantkit.testing.futures.exchange,
        quantkit.testing.futures.markets,
        quantkit.testing.futures.public_api,
    ):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__


def test_supplied_series_are_served_as_given() -> None:
    """Hand-made mark candles and funding rates for hand-computed cases."""
    import pandas as pd

    from quantkit.errors import DataError
    from quantkit.testing.futures import LocalFuturesExchange

    times = pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC")
    mark = pd.DataFrame(
        {"open": [100.0, 110.0, 90.0], "high": [111.0, 112.0, 95.0],
         "low": [99.0, 89.0, 80.0], "close": [110.0, 90.0, 85.0]},
        index=times,
    )  # fmt: skip
    funding = pd.DataFrame({"rate": [0.001, -0.002]}, index=times[1:])
    local = LocalFuturesExchange(
        timeframe="8h", start="2024-01-01", end="2024-01-02", mark={"BTCUSDT": mark},
        funding={"BTC/USDT:USDT": funding},
    )  # fmt: skip
    served = local.candles("BTC/USDT:USDT", price="mark")
    assert served["close"].tolist() == [110.0, 90.0, 85.0]
    assert served["volume"].tolist() == [0.0, 0.0, 0.0]
    rates = local.funding_rates("BTC/USDT:USDT")
    assert rates["rate"].tolist() == [0.001, -0.002]
    assert rates["mark_price"].tolist() == [110.0, 90.0]  # the mark at each funding time
    premium = local.venue.premium(local.venue.market("BTCUSDT"))
    assert (premium.mark_price, premium.last_funding_rate) == (85.0, -0.002)
    assert premium.next_funding_time == 1_704_153_600_000  # 2024-01-01 16:00 + 8h: Jan 2
    eth = local.funding_rates("ETH/USDT:USDT")  # not supplied: synthetic, 3 per day
    assert len(eth) == 3
    with pytest.raises(ConfigError, match="no market 'DOGEUSDT'"):
        LocalFuturesExchange(funding={"DOGEUSDT": funding})
    bad = pd.DataFrame({"rate": [0.001, float("nan")]}, index=times[1:])
    with pytest.raises(DataError, match="BTC/USDT:USDT funding: row 1: funding rate nan"):
        LocalFuturesExchange(end="2024-01-02", funding={"BTCUSDT": bad}).funding_rates("BTCUSDT")


def test_supplied_candles_must_hold_some() -> None:
    import pandas as pd

    from quantkit.errors import DataError

    empty = pd.DataFrame(
        {c: [] for c in ("open", "high", "low", "close")}, index=pd.DatetimeIndex([], tz="UTC")
    )
    with pytest.raises(DataError, match="BTC/USDT:USDT mark candles: the frame holds no candles"):
        FuturesVenue(mark={"BTCUSDT": empty})
