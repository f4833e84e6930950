"""Fusing several sources: priority with fallback, volume-weighted composites, provenance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import Engine, SmaCross
from quantkit.data import DataFrameFeed, SeriesFeed
from quantkit.data.fusion import FusedFeed, FusionRules
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, DataError
from tests.strategies import DAY, HOUR, MONDAY, frame_of, gappy_times, random_series, series

FIELDS = ("open", "high", "low", "close", "volume")


def bars(hours: list[int], rows: list[tuple[float, ...]], symbol: str = "BTC/USDT") -> BarSeries:
    """Hourly bars at the given hours after MONDAY from (open, high, low, close, volume) rows."""
    times = MONDAY + np.array(hours, dtype=np.int64) * HOUR
    data = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return BarSeries(symbol, HOUR, times, times + HOUR, *(data[:, k].copy() for k in range(5)))


def holed_pair() -> dict[str, SeriesFeed]:
    a = series(MONDAY + np.array([0, 1, 2, 5]) * HOUR, [10.0, 11, 12, 15], timeframe=HOUR)
    b = series(MONDAY + np.arange(6) * HOUR, [20.0, 21, 22, 23, 24, 25], timeframe=HOUR)
    return {"a": SeriesFeed(a), "b": SeriesFeed(b)}


def test_priority_falls_back_over_a_hole() -> None:
    feed = FusedFeed(holed_pair())
    fused = feed.load()["BTC/USDT"]
    assert fused.open_time.tolist() == (MONDAY + np.arange(6) * HOUR).tolist()
    assert fused.close.tolist() == [10.0, 11, 12, 23, 24, 15]
    assert fused.open.tolist() == [10.0, 10, 11, 22, 23, 12]
    assert fused.close.dtype == np.float64
    origin = feed.provenance("BTC/USDT")
    assert list(origin.columns) == [*FIELDS, "sources", "adjusted"]
    assert origin["close"].tolist() == ["a", "a", "a", "b", "b", "a"]
    assert origin["volume"].tolist() == ["a", "a", "a", "b", "b", "a"]
    assert origin["sources"].tolist() == ["a,b", "a,b", "a,b", "b", "b", "a,b"]
    assert not origin["adjusted"].any()
    assert origin.index[3] == pd.Timestamp("2024-01-01 03:00", tz="UTC")
    assert str(origin.index.tz) == "UTC"


def test_priority_orders() -> None:
    feed = FusedFeed(holed_pair(), FusionRules(priority=("b",)))
    assert feed.load()["BTC/USDT"].close.tolist() == [20.0, 21, 22, 23, 24, 25]
    mixed = FusedFeed(holed_pair(), FusionRules(volume=("b", "a")))
    assert mixed.provenance("BTC/USDT")["volume"].tolist() == ["b"] * 6
    assert mixed.provenance("BTC/USDT")["close"].tolist()[:3] == ["a"] * 3
    assert mixed.rules.volume == ("b", "a")


def test_volume_weighted_composite_by_hand() -> None:
    a = bars([0, 1], [(10, 12, 9, 11, 1), (10, 10, 10, 10, 0)])
    b = bars([0, 1, 2], [(20, 22, 19, 21, 3), (20, 20, 20, 20, 0), (30, 31, 29, 30, 2)])
    sources = {"a": SeriesFeed(a), "b": SeriesFeed(b)}
    feed = FusedFeed(sources, FusionRules.composite())
    fused = feed.load()["BTC/USDT"]
    # bar 0: weights 1 and 3; bar 1: no volume anywhere, plain mean; bar 2: only b
    assert fused.open.tolist() == [17.5, 15.0, 30.0]
    assert fused.high.tolist() == [19.5, 15.0, 31.0]
    assert fused.low.tolist() == [16.5, 15.0, 29.0]
    assert fused.close.tolist() == [18.5, 15.0, 30.0]
    assert fused.volume.tolist() == [1.0, 0.0, 2.0]  # the priority source's volume
    origin = feed.provenance("BTC/USDT")
    assert origin["close"].tolist() == ["vwap"] * 3
    assert origin["volume"].tolist() == ["a", "a", "b"]
    assert origin["sources"].tolist() == ["a,b", "a,b", "b"]
    summed = FusedFeed(sources, FusionRules.composite(volume="sum"))
    assert summed.load()["BTC/USDT"].volume.tolist() == [4.0, 0.0, 2.0]
    assert summed.provenance("BTC/USDT")["volume"].tolist() == ["sum"] * 3


def test_mixed_rules_keep_ohlc_consistent() -> None:
    a = bars([0], [(10, 12, 9, 11, 1)])
    b = bars([0], [(5, 6, 4, 5.5, 1)])
    feed = FusedFeed({"a": SeriesFeed(a), "b": SeriesFeed(b)}, FusionRules(high=("b",)))
    fused = feed.load()["BTC/USDT"]
    assert (fused.open[0], fused.high[0], fused.low[0], fused.close[0]) == (10.0, 11.0, 9.0, 11.0)
    origin = feed.provenance("BTC/USDT")
    assert origin["high"].tolist() == ["b"]
    assert origin["adjusted"].tolist() == [True]
    low = FusedFeed(
        {"a": SeriesFeed(a), "b": SeriesFeed(b)}, FusionRules(priority=("b",), low=("a",))
    )
    assert low.load()["BTC/USDT"].low.tolist() == [5.0]  # min(9, open 5, close 5.5)


def test_symbols_frames_and_an_engine_run() -> None:
    btc = random_series(MONDAY + np.arange(200) * HOUR, 1, timeframe=HOUR)
    eth = random_series(MONDAY + np.arange(50) * HOUR, 2, timeframe=HOUR, symbol="ETH/USDT")
    frame = frame_of(btc)
    frame.attrs = {}
    feed = FusedFeed({"exchange": SeriesFeed(eth), "file": frame}, symbol="BTC/USDT")
    assert feed.symbols == ("ETH/USDT", "BTC/USDT")
    loaded = feed.load()
    assert loaded["BTC/USDT"].close.tolist() == btc.close.tolist()
    assert feed.provenance("BTC/USDT")["sources"].unique().tolist() == ["file"]
    assert feed.load()["BTC/USDT"] is loaded["BTC/USDT"]
    assert repr(feed) == "FusedFeed(sources=['exchange', 'file'], symbols=('ETH/USDT', 'BTC/USDT'))"
    result = Engine(
        feed=FusedFeed({"x": DataFrameFeed(frame_of(btc))}), strategy=SmaCross(fast=3, slow=8)
    ).run()
    assert result.stats["Bars"] == 200


def test_provenance_loads_on_demand_and_knows_its_symbols() -> None:
    feed = FusedFeed(holed_pair())
    assert len(feed.provenance("BTC/USDT")) == 6
    with pytest.raises(ConfigError, match="serves no 'BTC/USD'; did you mean 'BTC/USDT'"):
        feed.provenance("BTC/USD")
    with pytest.raises(ConfigError, match=r"serves no 'X'$"):
        feed.provenance("X")


def test_sources_must_line_up() -> None:
    hourly = SeriesFeed(series(MONDAY + np.arange(3) * HOUR, [1.0, 2, 3], timeframe=HOUR))
    daily = SeriesFeed(series(MONDAY + np.arange(3) * DAY, [1.0, 2, 3], timeframe=DAY))
    with pytest.raises(DataError, match="b: BTC/USDT: has 1d bars but source 'a' has 1h bars"):
        FusedFeed({"a": hourly, "b": daily}).load()
    shifted = SeriesFeed(
        series(MONDAY + 1800 * 10**9 + np.arange(3) * HOUR, [1.0, 2, 3], timeframe=HOUR)
    )
    with pytest.raises(DataError, match="b: BTC/USDT: row 0: bar opens at 2024-01-01T00:30:00Z"):
        FusedFeed({"a": hourly, "b": shifted}).load()


def test_argument_errors() -> None:
    pair = holed_pair()
    with pytest.raises(ConfigError, match="non-empty mapping"):
        FusedFeed({})
    with pytest.raises(ConfigError, match="non-empty mapping"):
        FusedFeed([pair["a"]])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rules must be FusionRules"):
        FusedFeed(pair, {"close": "vwap"})  # type: ignore[arg-type]
    for name in ("", "a,b", 3):
        with pytest.raises(ConfigError, match="source names"):
            FusedFeed({name: pair["a"]})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="must be a DataFeed or a DataFrame"):
        FusedFeed({"a": "prices.csv"})  # type: ignore[dict-item]
    anonymous = frame_of(random_series(np.array([MONDAY]), 1))
    anonymous.attrs = {}
    with pytest.raises(ConfigError, match="pass symbol="):
        FusedFeed({"a": anonymous})
    with pytest.raises(ConfigError, match=r"source 'bb'.*did you mean 'b'"):
        FusedFeed(pair, FusionRules(priority=("bb",)))
    with pytest.raises(ConfigError, match=r"source 'zzz', but the sources are \['a', 'b'\]$"):
        FusedFeed(pair, FusionRules(close=("zzz",)))
    with pytest.raises(ConfigError, match="at most 63"):
        FusedFeed({str(k): pair["a"] for k in range(64)})


def test_rule_errors() -> None:
    with pytest.raises(ConfigError, match="volume must be 'priority', 'sum'"):
        FusionRules(volume="vwap")
    with pytest.raises(ConfigError, match="close must be 'priority', 'vwap'"):
        FusionRules(close="sum")
    with pytest.raises(ConfigError, match="priority must be a sequence"):
        FusionRules(priority="ab")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a string"):
        FusionRules(open=("a", 1))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="twice"):
        FusionRules(priority=("a", "a"))
    assert FusionRules(close=["b", "a"]).close == ("b", "a")  # type: ignore[arg-type]


@settings(max_examples=50)
@given(
    gappy_times(timeframe=HOUR, max_slots=80),
    gappy_times(timeframe=HOUR, max_slots=80),
    st.integers(0, 99),
)
def test_fused_bars_come_from_the_sources(first: np.ndarray, second: np.ndarray, seed: int) -> None:
    a = random_series(first, seed, timeframe=HOUR)
    b = random_series(second, seed + 1, timeframe=HOUR)
    sources = {"a": SeriesFeed(a), "b": SeriesFeed(b)}
    feed = FusedFeed(sources)
    fused = feed.load()["BTC/USDT"]
    assert fused.open_time.tolist() == np.union1d(first, second).tolist()
    origin = feed.provenance("BTC/USDT")["close"].tolist()
    for k, opened in enumerate(fused.open_time.tolist()):
        chosen = a if opened in a.open_time else b
        assert origin[k] == ("a" if chosen is a else "b")
        j = int(np.searchsorted(chosen.open_time, opened))
        assert [getattr(fused, f)[k] for f in FIELDS] == [getattr(chosen, f)[j] for f in FIELDS]
    composite = FusedFeed(sources, FusionRules.composite(volume="sum")).load()["BTC/USDT"]
    for k, opened in enumerate(composite.open_time.tolist()):
        having = [s for s in (a, b) if opened in s.open_time]
        rows = [int(np.searchsorted(s.open_time, opened)) for s in having]
        closes = [s.close[j] for s, j in zip(having, rows, strict=True)]
        assert min(closes) * (1 - 1e-12) <= composite.close[k] <= max(closes) * (1 + 1e-12)
        total = sum(s.volume[j] for s, j in zip(having, rows, strict=True))
        assert composite.volume[k] == pytest.approx(total)
        assert composite.low[k] <= min(composite.open[k], composite.close[k])
        assert composite.high[k] >= max(composite.open[k], composite.close[k])
