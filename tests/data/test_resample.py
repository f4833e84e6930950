"""Resampling to a coarser timeframe: aggregation, bins, labels, partial bins, the feed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.data import DataFrameFeed, SeriesFeed
from quantkit.data.resample import ResampledFeed, bin_anchor, resample_bars
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, DataError
from tests.strategies import (
    DAY,
    HOUR,
    MINUTE,
    MONDAY,
    frame_of,
    gappy_series,
    random_series,
    series,
)

RULES = {5 * MINUTE: "5min", 15 * MINUTE: "15min", HOUR: "1h", DAY: "24h"}


def hand_minutes() -> BarSeries:
    times = MONDAY + np.arange(10) * MINUTE
    return BarSeries(
        "BTC/USDT",
        MINUTE,
        times,
        times + MINUTE,
        np.array([10.0, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
        np.array([12.0, 13, 15, 14, 16, 17, 20, 18, 19, 21]),
        np.array([9.0, 10, 11, 12, 13, 14, 15, 16, 10, 18]),
        np.array([11.0, 12, 13, 14, 15, 16, 17, 18, 19, 20]),
        np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    )


def columns(bars: BarSeries) -> list[list[float]]:
    return [bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist()]


def test_one_minute_to_five_minutes_by_hand() -> None:
    five = resample_bars(hand_minutes(), "5m")
    assert five.symbol == "BTC/USDT"
    assert five.timeframe == 5 * MINUTE
    assert five.open_time.tolist() == [MONDAY, MONDAY + 5 * MINUTE]
    assert five.close_time.tolist() == [MONDAY + 5 * MINUTE, MONDAY + 10 * MINUTE]
    assert columns(five) == [[10.0, 15.0], [16.0, 21.0], [9.0, 10.0], [15.0, 20.0]]
    assert five.volume.tolist() == [15.0, 40.0]
    assert not five.close.flags.writeable
    assert five.close.flags.c_contiguous


def test_same_timeframe_is_the_identity() -> None:
    bars = hand_minutes()
    same = resample_bars(bars, "1m")
    assert columns(same) == columns(bars)
    assert same.volume.tolist() == bars.volume.tolist()


def test_partial_last_bin_is_dropped_unless_kept() -> None:
    bars = hand_minutes().head(8)  # 00:00 to 00:08; the 00:05 bin would close at 00:10
    dropped = resample_bars(bars, "5m")
    assert dropped.open_time.tolist() == [MONDAY]
    assert dropped.volume.tolist() == [15.0]
    kept = resample_bars(bars, "5m", partial="keep")
    assert kept.open_time.tolist() == [MONDAY, MONDAY + 5 * MINUTE]
    assert [column[1] for column in columns(kept)] == [15.0, 20.0, 14.0, 18.0]  # 3 bars
    assert kept.volume.tolist() == [15.0, 21.0]


def test_interior_holes_and_a_late_start_keep_their_bins() -> None:
    bars = hand_minutes()
    keep = np.array([False, True, True, True, True, True, False, False, True, True])
    holed = BarSeries(
        bars.symbol,
        MINUTE,
        bars.open_time[keep],
        bars.close_time[keep],
        bars.open[keep],
        bars.high[keep],
        bars.low[keep],
        bars.close[keep],
        bars.volume[keep],
    )
    five = resample_bars(holed, "5m")
    # first bin: bars 1-4 (bar 0 missing); second bin: bars 5, 8, 9 (6 and 7 missing)
    assert columns(five) == [[11.0, 15.0], [16.0, 21.0], [10.0, 10.0], [15.0, 20.0]]
    assert five.volume.tolist() == [14.0, 25.0]


def test_a_gap_at_the_end_of_the_last_bin_still_closes_it() -> None:
    # The data's last bar closes at 00:04, inside the 00:00 bin that closes at 00:05.
    bars = hand_minutes().head(4)
    with pytest.raises(DataError, match=r"no complete 5m bin.*partial='keep'"):
        resample_bars(bars, "5m")
    assert len(resample_bars(bars, "5m", partial="keep")) == 1


def test_week_bins_start_on_monday() -> None:
    wednesday = MONDAY + 2 * DAY
    days = series(wednesday + np.arange(14) * DAY, 100.0 + np.arange(14), timeframe=DAY)
    weeks = resample_bars(days, "1w")
    assert weeks.open_time.tolist() == [MONDAY, MONDAY + 7 * DAY]
    assert [pd.Timestamp(t, tz="UTC").day_name() for t in weeks.open_time] == ["Monday"] * 2
    assert weeks.close.tolist() == [104.0, 111.0]
    assert weeks.open.tolist() == [days.open[0], days.open[5]]
    assert weeks.volume.tolist() == [5.0, 7.0]
    kept = resample_bars(days, "1w", partial="keep")
    assert kept.open_time.tolist() == [MONDAY, MONDAY + 7 * DAY, MONDAY + 14 * DAY]
    assert bin_anchor("1w") == pd.Timestamp("1970-01-05", tz="UTC").value
    assert bin_anchor("2w") == bin_anchor("1w")
    assert bin_anchor("1d") == bin_anchor("4h") == 0


def test_hours_and_days_align_to_the_epoch() -> None:
    hours = random_series(MONDAY + (2 + np.arange(30)) * HOUR, seed=1, timeframe=HOUR)
    four = resample_bars(hours, "4h")
    assert four.open_time[0] == MONDAY  # 02:00 and 03:00 fall in the 00:00 bin
    assert ((four.open_time - MONDAY) % (4 * HOUR) == 0).all()
    daily = resample_bars(hours, "1d", partial="keep")
    assert daily.open_time.tolist() == [MONDAY, MONDAY + DAY]


def test_frames_in_frames_out() -> None:
    bars = hand_minutes()
    frame = frame_of(bars)
    frame["extra"] = "x"
    out = resample_bars(frame, "5m")
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert str(out.index.tz) == "UTC"
    assert out.index.name == "time"
    assert out.index[1] == pd.Timestamp("2024-01-01 00:05", tz="UTC")
    assert out.attrs["symbol"] == "BTC/USDT"
    assert out["high"].tolist() == [16.0, 21.0]
    naive = frame_of(bars).tz_localize(None)
    naive.attrs = {}
    anonymous = resample_bars(naive, "5m")
    assert anonymous["volume"].tolist() == [15.0, 40.0]
    assert anonymous.attrs == {}  # no made-up symbol
    one = frame_of(bars.head(1))
    assert resample_bars(one, "1m", source_timeframe="1m")["close"].tolist() == [11.0]


def test_errors() -> None:
    bars = hand_minutes()
    with pytest.raises(ConfigError, match="whole multiple"):
        resample_bars(series(MONDAY + np.arange(3) * HOUR, [1.0, 2, 3], timeframe=HOUR), "90m")
    with pytest.raises(ConfigError, match="partial"):
        resample_bars(bars, "5m", partial="later")  # type: ignore[call-overload]
    with pytest.raises(ConfigError, match="BarSeries or a pandas DataFrame"):
        resample_bars([1, 2], "5m")  # type: ignore[call-overload]
    with pytest.raises(ConfigError, match="timeframe"):
        resample_bars(bars, "5x")
    shifted = series(MONDAY + 30 * 10**9 + np.arange(10) * MINUTE, np.arange(1.0, 11.0))
    with pytest.raises(DataError, match=r"row 0: bar opens at 2024-01-01T00:00:30Z.*epoch"):
        resample_bars(shifted, "5m")
    days = series(MONDAY + 12 * HOUR + np.arange(14) * DAY, np.arange(1.0, 15.0), timeframe=DAY)
    with pytest.raises(DataError, match="Monday 1970-01-05"):
        resample_bars(days, "1w")
    with pytest.raises(DataError, match="no bars"):
        resample_bars(bars.head(0), "5m")
    with pytest.raises(DataError, match="earlier than the previous"):
        resample_bars(pd.concat([frame_of(bars), frame_of(bars.head(1))]), "5m")


def test_resampled_feed() -> None:
    feed = ResampledFeed(SeriesFeed(hand_minutes()), "5m")
    assert feed.symbols == ("BTC/USDT",)
    assert feed.timeframe == 5 * MINUTE
    loaded = feed.load()
    assert loaded["BTC/USDT"].volume.tolist() == [15.0, 40.0]
    assert feed.load()["BTC/USDT"] is loaded["BTC/USDT"]
    assert "ResampledFeed(" in repr(feed)
    assert "'5m'" in repr(feed)
    kept = ResampledFeed(DataFrameFeed(frame_of(hand_minutes().head(8))), "5m", partial="keep")
    assert len(kept.load()["BTC/USDT"]) == 2
    with pytest.raises(ConfigError, match="DataFeed"):
        ResampledFeed(hand_minutes(), "5m")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="partial"):
        ResampledFeed(feed, "5m", partial="no")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="whole multiple"):
        ResampledFeed(feed, "7m").load()


# -- properties ----------------------------------------------------------------------------------


def pandas_resample(bars: BarSeries, target: int) -> pd.DataFrame:
    """An independent answer: pandas' own resampler, empty bins removed."""
    grouped = frame_of(bars).resample(RULES[target], origin="epoch", closed="left", label="left")
    aggregated = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    aggregated["count"] = grouped.size()
    return aggregated[aggregated["count"] > 0]


@settings(max_examples=60)
@given(gappy_series(), st.sampled_from([5 * MINUTE, 15 * MINUTE, HOUR, DAY]))
def test_matches_pandas_and_drops_only_an_unfinished_last_bin(bars: BarSeries, target: int) -> None:
    expected = pandas_resample(bars, target)
    kept = resample_bars(bars, target, partial="keep")
    assert kept.open_time.tolist() == [t.value for t in expected.index]
    assert columns(kept) == [expected[c].tolist() for c in ("open", "high", "low", "close")]
    np.testing.assert_allclose(kept.volume, expected["volume"], rtol=1e-12)
    unfinished = int(bars.close_time[-1]) < int(kept.close_time[-1])
    if unfinished and len(kept) == 1:
        with pytest.raises(DataError, match="no complete"):
            resample_bars(bars, target)
        return
    dropped = resample_bars(bars, target)
    assert len(dropped) == len(kept) - unfinished
    assert dropped.open_time.tolist() == kept.open_time[: len(dropped)].tolist()


@settings(max_examples=60)
@given(gappy_series(), st.sampled_from([5 * MINUTE, 15 * MINUTE, HOUR]))
def test_complete_bins_keep_volume_and_bound_high_and_low(bars: BarSeries, target: int) -> None:
    resampled = resample_bars(bars, target, partial="keep")
    bins = bars.open_time // target
    complete = 0
    for k, opened in enumerate(resampled.open_time.tolist()):
        inside = bins == opened // target
        assert resampled.high[k] >= bars.high[inside].max()
        assert resampled.low[k] <= bars.low[inside].min()
        assert resampled.high[k] in bars.high[inside]
        assert resampled.low[k] in bars.low[inside]
        if inside.sum() == target // MINUTE:
            complete += 1
            assert resampled.volume[k] == pytest.approx(bars.volume[inside].sum(), rel=1e-12)
    total_complete = sum(
        resampled.volume[k]
        for k, opened in enumerate(resampled.open_time.tolist())
        if (bins == opened // target).sum() == target // MINUTE
    )
    source_complete = sum(
        bars.volume[bins == b].sum()
        for b in np.unique(bins)
        if (bins == b).sum() == target // MINUTE
    )
    assert total_complete == pytest.approx(source_complete, rel=1e-12, abs=1e-9)
    assert complete <= len(resampled)


def same_bars(left: BarSeries, right: BarSeries) -> None:
    assert left.open_time.tolist() == right.open_time.tolist()
    assert columns(left) == columns(right)
    np.testing.assert_allclose(left.volume, right.volume, rtol=1e-12)


def complete_only(resampled: BarSeries, source: BarSeries) -> BarSeries:
    """The bins of ``resampled`` that hold every source bar."""
    per_bin = resampled.timeframe // source.timeframe
    counts = [
        int(((source.open_time >= t) & (source.open_time < t + resampled.timeframe)).sum())
        for t in resampled.open_time.tolist()
    ]
    keep = np.array(counts, dtype=np.int64) == per_bin
    return BarSeries(
        resampled.symbol,
        resampled.timeframe,
        *(getattr(resampled, name)[keep] for name in BarSeries.__slots__[2:]),
    )


@settings(max_examples=60)
@given(gappy_series())
def test_resampling_in_two_steps_equals_one(bars: BarSeries) -> None:
    # Keeping unfinished bins, every bin agrees.
    same_bars(
        resample_bars(resample_bars(bars, "5m", partial="keep"), "15m", partial="keep"),
        resample_bars(bars, "15m", partial="keep"),
    )
    # Dropping them, every complete bin agrees. (A bin with missing bars at its end that the
    # data goes past has closed, but once the 5m step drops its unfinished last bin, the 15m
    # step no longer sees the data go past it.)
    try:
        direct = complete_only(resample_bars(bars, "15m"), bars)
    except DataError:
        return
    twice = complete_only(resample_bars(resample_bars(bars, "5m"), "15m"), bars)
    same_bars(twice, direct)
