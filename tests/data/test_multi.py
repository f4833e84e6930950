"""Multi-timeframe feeds: keys, sources, and no look-ahead from the higher timeframe."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import BacktestBroker, Engine, Market, Strategy, SymbolData
from quantkit.data import DataFrameFeed, SeriesFeed
from quantkit.data.multi import (
    INFORMATIVE_SEPARATOR,
    MultiTimeframeFeed,
    informative_key,
    is_informative,
    split_informative,
)
from quantkit.data.resample import resample_bars
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, DataError
from tests.strategies import DAY, HOUR, MONDAY, frame_of, random_series


def hours(count: int, symbol: str = "BTC/USDT", start: int = MONDAY, seed: int = 0) -> BarSeries:
    return random_series(start + np.arange(count) * HOUR, seed, timeframe=HOUR, symbol=symbol)


def test_keys() -> None:
    assert INFORMATIVE_SEPARATOR == "@"
    assert informative_key("BTC/USDT", "1d") == "BTC/USDT@1d"
    assert informative_key("BTC/USDT", 4 * HOUR) == "BTC/USDT@4h"
    assert is_informative("BTC/USDT@1d")
    assert not is_informative("BTC/USDT")
    assert split_informative("BTC/USDT") == ("BTC/USDT", None)
    assert split_informative("BTC/USDT:USDT@1w") == ("BTC/USDT:USDT", 7 * DAY)
    with pytest.raises(ConfigError):
        split_informative("BTC/USDT@soon")


def test_symbols_and_resampled_series() -> None:
    base = SeriesFeed([hours(72), hours(72, "ETH/USDT", seed=1)])
    feed = MultiTimeframeFeed(base, ["1d", "4h"])
    assert feed.timeframes == (4 * HOUR, DAY)
    assert feed.symbols == (
        "BTC/USDT",
        "ETH/USDT",
        "BTC/USDT@4h",
        "BTC/USDT@1d",
        "ETH/USDT@4h",
        "ETH/USDT@1d",
    )
    loaded = feed.load()
    assert tuple(loaded) == feed.symbols
    assert loaded["BTC/USDT"] is base.load()["BTC/USDT"]
    daily = loaded["ETH/USDT@1d"]
    expected = resample_bars(hours(72, "ETH/USDT", seed=1), "1d")
    assert daily.symbol == "ETH/USDT@1d"
    assert daily.timeframe == DAY
    assert daily.close.tolist() == expected.close.tolist()
    assert daily.close_time.tolist() == [MONDAY + DAY, MONDAY + 2 * DAY, MONDAY + 3 * DAY]
    assert feed.load()["ETH/USDT@1d"] is daily
    assert repr(feed).endswith("['4h', '1d'])")


def test_an_unfinished_day_is_not_served_unless_kept() -> None:
    base = SeriesFeed(hours(30))
    assert len(MultiTimeframeFeed(base, ["1d"]).load()["BTC/USDT@1d"]) == 1
    assert len(MultiTimeframeFeed(base, ["1d"], partial="keep").load()["BTC/USDT@1d"]) == 2


def test_native_higher_timeframe_sources() -> None:
    days = random_series(MONDAY - 3 * DAY + np.arange(8) * DAY, 4, timeframe=DAY)
    daily_feed = DataFrameFeed(frame_of(days))
    feed = MultiTimeframeFeed(SeriesFeed(hours(60)), {"1d": daily_feed, "4h": None})
    loaded = feed.load()
    served = loaded["BTC/USDT@1d"]
    # Days before the base data are kept as history; days closing after its end are cut.
    assert served.close_time.tolist() == [MONDAY + k * DAY for k in range(-2, 3)]
    assert served.close.tolist() == days.close[:5].tolist()
    assert served.symbol == "BTC/USDT@1d"
    assert loaded["BTC/USDT@4h"].timeframe == 4 * HOUR


def test_native_source_errors() -> None:
    base = SeriesFeed(hours(60))
    days = random_series(MONDAY + np.arange(3) * DAY, 4, timeframe=DAY)
    other = DataFrameFeed(frame_of(days), symbol="ETH/USDT")
    with pytest.raises(ConfigError, match="has no 'BTC/USDT'; it serves \\['ETH/USDT'\\]"):
        MultiTimeframeFeed(base, {"1d": other}).load()
    with pytest.raises(DataError, match="BTC/USDT@1w: given as the 1w series but has 1d bars"):
        MultiTimeframeFeed(base, {"1w": DataFrameFeed(frame_of(days))}).load()
    with pytest.raises(ConfigError, match="1h is not higher than the 1h bars"):
        MultiTimeframeFeed(base, {"1h": base}).load()
    late = random_series(MONDAY + 5 * DAY + np.arange(3) * DAY, 4, timeframe=DAY)
    with pytest.raises(DataError, match="no bar closes before the base series ends"):
        MultiTimeframeFeed(base, {"1d": DataFrameFeed(frame_of(late))}).load()


def test_argument_errors() -> None:
    base = SeriesFeed(hours(60))
    with pytest.raises(ConfigError, match="feed must be a DataFeed"):
        MultiTimeframeFeed(hours(3), ["1d"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="a list or a mapping"):
        MultiTimeframeFeed(base, "1d")
    with pytest.raises(ConfigError, match="at least one"):
        MultiTimeframeFeed(base, [])
    with pytest.raises(ConfigError, match="given twice"):
        MultiTimeframeFeed(base, ["1d", "24h"])
    with pytest.raises(ConfigError, match="DataFeed or None"):
        MultiTimeframeFeed(base, {"1d": "daily.csv"})
    with pytest.raises(ConfigError, match="partial"):
        MultiTimeframeFeed(base, ["1d"], partial="some")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="contains '@'"):
        MultiTimeframeFeed(SeriesFeed(hours(3, "BTC/USDT@1d")), ["1w"])
    with pytest.raises(ConfigError, match="30m is not higher"):
        MultiTimeframeFeed(base, ["30m"]).load()
    with pytest.raises(ConfigError, match="whole multiple"):
        MultiTimeframeFeed(base, ["90m"]).load()


# -- no look-ahead through a real engine run ---------------------------------------------------


class RecordDaily(Strategy):
    """At each hourly bar, record the close of the last visible daily bar (NaN if none)."""

    def on_start(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def on_bar(self, bar: SymbolData) -> None:
        if bar.symbol != "BTC/USDT":
            return
        daily = self.datas["BTC/USDT@1d"]
        self.seen.append((bar.time, daily.close[-1] if len(daily) else math.nan))


def expected_daily_closes(hourly: BarSeries) -> list[tuple[int, float]]:
    """Independently, with pandas: per hourly close time, the close of the last daily bar that
    closed at or before it (daily bars: UTC days, close = last hourly close of the day; a day
    the data ends inside has not closed)."""
    frame = frame_of(hourly)
    by_day = frame["close"].groupby(frame.index.floor("D")).last()
    closes_at = by_day.index + pd.Timedelta(days=1)
    end = pd.Timestamp(int(hourly.close_time[-1]), tz="UTC")
    daily = pd.Series(by_day.to_numpy(), index=closes_at)[closes_at <= end]
    result = []
    for close_time in hourly.close_time.tolist():
        visible = daily[daily.index <= pd.Timestamp(close_time, tz="UTC")]
        result.append((close_time, float(visible.iloc[-1]) if len(visible) else math.nan))
    return result


def run_and_compare(hourly: BarSeries, broker: BacktestBroker | None) -> None:
    strategy = RecordDaily()
    feed = MultiTimeframeFeed(SeriesFeed(hourly), ["1d"])
    Engine(feed=feed, strategy=strategy, broker=broker).run()
    expected = expected_daily_closes(hourly)
    assert [t for t, _ in strategy.seen] == [t for t, _ in expected]
    for (_, got), (_, want) in zip(strategy.seen, expected, strict=True):
        assert got == want or (math.isnan(got) and math.isnan(want))


def informative_broker() -> BacktestBroker:
    """Today's engine makes a market of every series; name the informative one explicitly."""
    return BacktestBroker(markets={"BTC/USDT@1d": Market("BTC/USDT@1d", "BTC", "USDT")})


@settings(max_examples=25)
@given(
    st.integers(0, 23),
    st.integers(30, 150),
    st.lists(st.integers(0, 149), max_size=40),
    st.integers(0, 2**16),
)
def test_the_engine_shows_a_daily_bar_only_after_it_closes(
    first_hour: int, count: int, holes: list[int], seed: int
) -> None:
    slots = np.setdiff1d(np.arange(count), np.array(holes, dtype=np.int64))
    if len(slots) < 2:
        return
    hourly = random_series(MONDAY + (first_hour + slots) * HOUR, seed, timeframe=HOUR)
    try:
        resample_bars(hourly, "1d")
    except DataError:  # no complete day: MultiTimeframeFeed refuses such data
        return
    run_and_compare(hourly, informative_broker())


def test_the_engine_accepts_informative_series_with_the_default_broker() -> None:
    run_and_compare(hours(24 * 5 + 7, start=MONDAY + 5 * HOUR), None)
