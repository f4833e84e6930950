"""Gap policies: keep (the default), fail at the first gap, or forward-fill marked bars."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from quantkit.data import validate_bars
from quantkit.data.gaps import DEFAULT_GAP_POLICY, GAP_POLICIES, apply_gap_policy, gap_steps
from quantkit.data.quality import quality_report
from quantkit.errors import ConfigError, DataError
from tests.strategies import HOUR, MONDAY, frame_of, gappy_series, random_series


def holed_frame() -> pd.DataFrame:
    """Hourly bars at 00, 01, 02, 05, 06, 08: gaps of two bars and one bar."""
    present = np.array([0, 1, 2, 5, 6, 8])
    return frame_of(random_series(MONDAY + present * HOUR, seed=5, timeframe=HOUR))


def test_the_default_is_keep_and_returns_the_frame_itself() -> None:
    frame = holed_frame()
    assert DEFAULT_GAP_POLICY == "keep"
    assert GAP_POLICIES == ("fail", "keep", "ffill")
    assert apply_gap_policy(frame) is frame
    assert apply_gap_policy(frame, "1h", "keep") is frame


def test_fail_names_the_first_gap() -> None:
    with pytest.raises(DataError, match="BTC/USDT: row 3: gap of 2 missing 1h bars") as caught:
        apply_gap_policy(holed_frame(), "1h", "fail")
    assert "from 2024-01-01T03:00:00Z to 2024-01-01T05:00:00Z" in str(caught.value)
    assert caught.value.row == 3
    single = frame_of(random_series(MONDAY + np.array([0, 1, 3]) * HOUR, 1, timeframe=HOUR))
    with pytest.raises(DataError, match="gap of 1 missing 1h bar from"):
        apply_gap_policy(single, "1h", "fail", source="mine")
    complete = frame_of(random_series(MONDAY + np.arange(5) * HOUR, 1, timeframe=HOUR))
    assert apply_gap_policy(complete, "1h", "fail") is complete


def test_ffill_inserts_flat_zero_volume_bars_marked_filled() -> None:
    frame = holed_frame()
    filled = apply_gap_policy(frame, "1h", "ffill")
    hours = [(t - filled.index[0]) // pd.Timedelta("1h") for t in filled.index]
    assert hours == list(range(9))
    assert filled["filled"].tolist() == [False] * 3 + [True] * 2 + [False] * 2 + [True, False]
    inserted = filled[filled["filled"]]
    close_2, close_6 = frame["close"].iloc[2], frame["close"].iloc[4]
    for column in ("open", "high", "low", "close"):
        assert inserted[column].tolist() == [close_2, close_2, close_6]
    assert inserted["volume"].tolist() == [0.0, 0.0, 0.0]
    original = filled[~filled["filled"]].drop(columns="filled")
    pd.testing.assert_frame_equal(original, frame)
    assert filled.attrs == frame.attrs
    assert str(filled.index.tz) == "UTC"
    assert filled.index.name == "time"
    assert "filled" not in frame.columns  # the input is not modified
    report = quality_report(filled)["BTC/USDT"]
    assert (report.missing_bars, report.filled.tolist()) == (0, [3, 4, 7])


def test_ffill_keeps_index_form_and_other_columns() -> None:
    frame = holed_frame().tz_localize(None)
    frame.index = frame.index.as_unit("s").rename("ts")
    frame = frame.rename(columns={"close": "Close", "volume": "VOLUME"})
    frame["note"] = "x"
    filled = apply_gap_policy(frame, "1h", "ffill")
    assert filled.index.tz is None
    assert filled.index.unit == "s"
    assert filled.index.name == "ts"
    assert filled["Close"].iloc[3] == frame["Close"].iloc[2]
    assert filled["VOLUME"].iloc[3] == 0.0
    assert filled["note"].isna().tolist() == [False] * 3 + [True] * 2 + [False] * 2 + [True, False]
    zoned = holed_frame().tz_convert("Asia/Tokyo")
    assert str(apply_gap_policy(zoned, "1h", "ffill").index.tz) == "Asia/Tokyo"


def test_ffill_without_gaps_and_twice() -> None:
    complete = frame_of(random_series(MONDAY + np.arange(4) * HOUR, 1, timeframe=HOUR))
    marked = apply_gap_policy(complete, "1h", "ffill")
    assert marked["filled"].tolist() == [False] * 4
    once = apply_gap_policy(holed_frame(), "1h", "ffill")
    twice = apply_gap_policy(once, "1h", "ffill")
    pd.testing.assert_frame_equal(twice, once)


def test_errors() -> None:
    frame = holed_frame()
    with pytest.raises(ConfigError, match="gap policy must be one of fail, keep, ffill"):
        apply_gap_policy(frame, "1h", "drop")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pandas DataFrame"):
        apply_gap_policy({"time": [1]}, "1h", "fail")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"DatetimeIndex.*set_index"):
        apply_gap_policy(frame.reset_index(), "1h", "ffill")
    with pytest.raises(DataError, match="row 3: gap"):
        apply_gap_policy(frame.reset_index(), None, "fail")
    broken = frame.copy()
    broken.iloc[2, broken.columns.get_loc("high")] = 0.5
    with pytest.raises(DataError, match="row 2"):
        apply_gap_policy(broken, "1h", "ffill")


def test_gap_steps() -> None:
    after, missing = gap_steps(np.array([0, 10, 40, 50, 75], dtype=np.int64), 10)
    assert after.tolist() == [1, 3]
    assert missing.tolist() == [2, 1]
    nothing = gap_steps(np.array([5], dtype=np.int64), 10)
    assert [part.tolist() for part in nothing] == [[], []]


@settings(max_examples=60)
@given(gappy_series(timeframe=HOUR))
def test_ffill_yields_a_complete_valid_series(bars: object) -> None:
    frame = frame_of(bars)  # type: ignore[arg-type]
    with warnings.catch_warnings():  # sparse data: "1h is shorter than the usual gap"
        warnings.filterwarnings("ignore", ".*the timeframe 1h is shorter", UserWarning)
        filled = apply_gap_policy(frame, "1h", "ffill")
    span = (filled.index[-1] - filled.index[0]) // pd.Timedelta("1h") + 1
    assert len(filled) == span
    assert int(filled["filled"].sum()) == span - len(frame)
    validated = validate_bars(filled, symbol="x", timeframe="1h")
    assert (np.diff(validated.open_time) == HOUR).all()
    pd.testing.assert_frame_equal(filled[~filled["filled"]].drop(columns="filled"), frame)


def test_feeds_apply_their_gap_policy() -> None:
    import numpy as np
    import pandas as pd

    from quantkit import DataFrameFeed
    from quantkit.errors import ConfigError, DataError

    index = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC").delete([2, 3])
    frame = pd.DataFrame(
        {
            "open": [1.0, 2.0, 5.0, 6.0],
            "high": [1.5, 2.5, 5.5, 6.5],
            "low": [0.5, 1.5, 4.5, 5.5],
            "close": [1.2, 2.2, 5.2, 6.2],
            "volume": [10.0, 20.0, 50.0, 60.0],
        },
        index=index,
    )
    kept = DataFrameFeed(frame, symbol="X/Y", timeframe="1h").load()["X/Y"]
    assert len(kept) == 4
    filled = DataFrameFeed(frame, symbol="X/Y", timeframe="1h", gap_policy="ffill").load()["X/Y"]
    # two bars inserted after 01:00, flat at that bar's close 2.2, volume 0
    assert filled.close.tolist() == [1.2, 2.2, 2.2, 2.2, 5.2, 6.2]
    assert filled.open.tolist() == [1.0, 2.0, 2.2, 2.2, 5.0, 6.0]
    assert filled.high.tolist() == [1.5, 2.5, 2.2, 2.2, 5.5, 6.5]
    assert filled.volume.tolist() == [10.0, 20.0, 0.0, 0.0, 50.0, 60.0]
    assert np.all(np.diff(filled.open_time) == 3_600 * 10**9)
    with pytest.raises(DataError, match=r"row 2: 2 bar\(s\) missing"):
        DataFrameFeed(frame, symbol="X/Y", timeframe="1h", gap_policy="fail").load()
    with pytest.raises(ConfigError, match="gap_policy"):
        DataFrameFeed(frame, symbol="X/Y", gap_policy="drop")  # type: ignore[arg-type]
