"""The data quality report: every check, the estimator, the inputs and the outputs."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.data import DataFrameFeed, SeriesFeed
from quantkit.data.gaps import Gap
from quantkit.data.quality import QualityReport, SymbolQuality, quality_report
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, DataError
from tests.strategies import HOUR, MONDAY, frame_of, gappy_times, random_series, series

MODULES = (
    "quantkit.data._frames",
    "quantkit.data.fusion",
    "quantkit.data.gaps",
    "quantkit.data.multi",
    "quantkit.data.quality",
    "quantkit.data.resample",
)


def hourly(count: int, seed: int = 0) -> BarSeries:
    return random_series(MONDAY + np.arange(count) * HOUR, seed, timeframe=HOUR)


def test_clean_data_has_nothing_to_report() -> None:
    report = quality_report(hourly(48))
    item = report["BTC/USDT"]
    assert report.ok
    assert item.is_valid
    assert (item.rows, item.expected_bars, item.missing_bars, item.gaps) == (48, 48, 0, ())
    assert item.timeframe == HOUR
    assert (item.first, item.last) == (MONDAY, MONDAY + 47 * HOUR)
    assert item.errors == ()
    assert item.warnings == ()
    assert "ok: no problems, no warnings" in str(item)
    assert "1h bars, 48 rows from 2024-01-01T00:00:00Z to 2024-01-02T23:00:00Z" in str(item)


def test_gaps_are_counted_and_located() -> None:
    present = np.delete(np.arange(24), [3, 4, 5, 10, 20])  # gaps of 3, 1 and 1 bars
    bars = hourly(24)
    holed = random_series(MONDAY + present * HOUR, seed=3, timeframe=HOUR)
    item = quality_report(holed)["BTC/USDT"]
    assert (item.rows, item.expected_bars, item.missing_bars) == (19, 24, 5)
    assert item.gaps == (
        Gap(MONDAY + 3 * HOUR, MONDAY + 6 * HOUR, 3),
        Gap(MONDAY + 10 * HOUR, MONDAY + 11 * HOUR, 1),
        Gap(MONDAY + 20 * HOUR, MONDAY + 21 * HOUR, 1),
    )
    assert item.is_valid
    assert item.warnings == (
        "5 missing bars in 3 gaps; the largest: 3 missing from 2024-01-01T03:00:00Z to "
        "2024-01-01T06:00:00Z",
    )
    assert str(item.gaps[1]) == "1 missing from 2024-01-01T10:00:00Z to 2024-01-01T11:00:00Z"
    one_gap = quality_report(bars.head(2), timeframe="30m")["BTC/USDT"]
    assert one_gap.warnings[0].startswith("1 missing bar in 1 gap;")
    gaps = quality_report(holed).gaps_frame()
    assert list(gaps.columns) == ["symbol", "start", "end", "missing"]
    assert gaps["missing"].tolist() == [3, 1, 1]
    assert gaps["start"].iloc[0] == pd.Timestamp("2024-01-01 03:00", tz="UTC")


def raw_frame() -> pd.DataFrame:
    """Twelve hourly rows with one problem of each kind (row positions in comments)."""
    times = pd.to_datetime(
        [
            "2024-01-01 00:00",  # 0
            "2024-01-01 01:00",  # 1
            "2024-01-01 01:00",  # 2 duplicate
            "2024-01-01 02:00",  # 3 OHLC: high below close
            "2024-01-01 03:00",  # 4 zero price
            "2024-01-01 04:00",  # 5 NaN volume
            "2024-01-01 05:00",  # 6 negative volume
            "2024-01-01 05:30",  # 7 overlaps 05:00, off grid
            "2024-01-01 07:00",  # 8 overlaps 06:59
            "2024-01-01 06:59",  # 9 out of order, off grid
            "2024-01-01 08:00",  # 10 zero volume
            "2024-01-01 09:00",  # 11
        ]
    )
    frame = pd.DataFrame(
        {
            "time": times,
            "Open": [10.0] * 12,
            "High": [11.0, 11, 11, 10.5, 11, 11, 11, 11, 11, 11, 11, 11],
            "Low": [9.0, 9, 9, 9, 0.0, 9, 9, 9, 9, 9, 9, 9],
            "Close": [10.0, 10, 10, 10.8, 10, 10, 10, 10, 10, 10, 10, 10],
            "Volume": [1.0, 1, 1, 1, 1, np.nan, -1, 1, 1, 1, 0, 1],
        }
    )
    frame.attrs["symbol"] = "ETH/USDT"
    return frame


def test_every_problem_is_collected_with_its_rows() -> None:
    report = quality_report(raw_frame(), timeframe="1h")
    item = report["ETH/USDT"]
    assert not report.ok
    assert not item.is_valid
    assert item.rows == 12
    assert item.duplicates.tolist() == [2]
    assert item.out_of_order.tolist() == [9]
    assert item.overlapping.tolist() == [7, 8]
    assert item.off_grid.tolist() == [7, 9]
    assert item.ohlc.tolist() == [3]
    assert item.non_positive.tolist() == [4]
    assert item.non_finite.tolist() == [5]
    assert item.negative_volume.tolist() == [6]
    assert item.zero_volume.tolist() == [10]
    assert item.missing_bars == 0  # 05:30 -> 06:59 -> 07:00: no step of two hours
    assert item.expected_bars == 10
    assert item.errors == (
        "1 duplicate timestamp (row 2)",
        "1 row out of time order (row 9)",
        "2 overlapping bars (rows 7, 8)",
        "1 bar with inconsistent OHLC (row 3)",
        "1 bar with a price <= 0 (row 4)",
        "1 bar with NaN or inf (row 5)",
        "1 negative volume (row 6)",
    )
    text = str(report)
    assert text.startswith("Data quality: 1 symbol, 1 with problems, 1 with warnings")
    assert "  error: 1 duplicate timestamp (row 2)" in text
    assert "  warning: 2 bars off the grid (rows 7, 9)" in text
    assert repr(report) == "<QualityReport symbols=['ETH/USDT'] ok=False>"


def test_many_rows_are_shortened() -> None:
    bars = hourly(30)
    flat = dataclasses.replace(bars, volume=np.zeros(30))
    line = quality_report(flat)["BTC/USDT"].warnings[0]
    assert line == "30 zero-volume bars (rows 0, 1, 2, 3, 4, ... 25 more)"


def test_a_planted_spike_makes_two_outliers() -> None:
    bars = hourly(300, seed=7)
    closes = bars.close.copy()
    closes[100] *= 1.3  # a bad print: up 26 % in log terms, then back down
    spiked = series(bars.open_time, closes, timeframe=HOUR)
    item = quality_report(spiked)["BTC/USDT"]
    assert item.outliers.tolist() == [100, 101]
    assert "2 outliers beyond 6 sigma (rows 100, 101)" in item.warnings
    assert quality_report(spiked, outlier_sigma=1e6)["BTC/USDT"].outliers.tolist() == []
    assert quality_report(hourly(300, seed=7))["BTC/USDT"].outliers.tolist() == []


def test_flat_data_falls_back_to_the_mean_absolute_deviation() -> None:
    closes = np.full(50, 100.0)
    closes[30:] = 101.0  # one step up: the MAD of the returns is 0
    item = quality_report(series(MONDAY + np.arange(50) * HOUR, closes, timeframe=HOUR))
    assert item["BTC/USDT"].outliers.tolist() == [30]
    constant = series(MONDAY + np.arange(50) * HOUR, np.full(50, 100.0), timeframe=HOUR)
    assert quality_report(constant)["BTC/USDT"].outliers.tolist() == []


def test_a_return_across_a_gap_is_scaled_by_its_length() -> None:
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0, 0.01, 200)
    steps[100] = 0.15  # 15 sigma for one bar, but spread over 400 bars it is ordinary
    closes = 100.0 * np.exp(np.cumsum(steps))
    times = MONDAY + (np.arange(200) + np.where(np.arange(200) >= 100, 399, 0)) * HOUR
    item = quality_report(series(times, closes, timeframe=HOUR))["BTC/USDT"]
    assert item.missing_bars == 399
    assert item.outliers.tolist() == []
    unscaled = quality_report(series(MONDAY + np.arange(200) * HOUR, closes, timeframe=HOUR))
    assert unscaled["BTC/USDT"].outliers.tolist() == [100]


def test_filled_rows_are_counted() -> None:
    frame = frame_of(hourly(4))
    frame["filled"] = [False, True, None, True]
    item = quality_report(frame)["BTC/USDT"]
    assert item.filled.tolist() == [1, 3]
    assert "2 filled bars (rows 1, 3)" in item.warnings


def test_inputs() -> None:
    btc, eth = (
        hourly(5),
        random_series(MONDAY + np.arange(5) * HOUR, 2, timeframe=HOUR, symbol="ETH/USDT"),
    )
    assert quality_report(SeriesFeed([btc, eth])).symbols == ("BTC/USDT", "ETH/USDT")
    assert quality_report({"a": frame_of(btc), "b": eth}).symbols == ("a", "b")
    assert quality_report(btc, symbol="X").symbols == ("X",)
    plain = frame_of(btc).reset_index()
    plain.attrs = {}
    assert quality_report(plain).symbols == ("data",)
    assert quality_report(plain, symbol="BTC").symbols == ("BTC",)
    feed = DataFrameFeed(frame_of(btc))
    assert quality_report(feed)["BTC/USDT"].rows == 5
    epochs = pd.DataFrame(
        {
            "timestamp": btc.open_time // 10**6,
            "open": btc.open,
            "high": btc.high,
            "low": btc.low,
            "close": btc.close,
            "volume": btc.volume,
        }
    )
    assert quality_report(epochs)["data"].timeframe == HOUR


def test_small_and_empty_inputs() -> None:
    single = quality_report(frame_of(hourly(1)))["BTC/USDT"]
    assert single.timeframe is None
    assert (single.expected_bars, single.missing_bars) == (1, 0)
    assert "?" in str(single)
    assert single.is_valid  # validate_bars needs timeframe= for one bar, but the bar is fine
    given = quality_report(hourly(1), timeframe="1h")["BTC/USDT"]
    assert given.timeframe == HOUR
    empty = frame_of(hourly(1)).iloc[:0]
    item = quality_report(empty)["BTC/USDT"]
    assert (item.rows, item.first, item.last, item.expected_bars) == (0, None, None, 0)
    assert item.errors == ("no rows",)
    assert not item.is_valid
    assert "0 rows (0 expected)" in str(item)


def test_bad_arguments() -> None:
    bars = hourly(3)
    for sigma in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="positive"):
            quality_report(bars, outlier_sigma=sigma)
    for wrong in (True, "6"):
        with pytest.raises(ConfigError, match="a number"):
            quality_report(bars, outlier_sigma=wrong)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes a DataFrame"):
        quality_report([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="map symbols"):
        quality_report({"a": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="timeframe"):
        quality_report(bars, timeframe="1x")
    frame = frame_of(bars).reset_index()
    frame["time"] = ["2024-01-01 00:00", "not a time", "2024-01-01 02:00"]
    with pytest.raises(DataError, match="row 1: cannot parse timestamp"):
        quality_report(frame)
    with pytest.raises(DataError, match="missing required column 'volume'"):
        quality_report(frame_of(bars).drop(columns="volume"))


def test_to_frame() -> None:
    report = quality_report({"good": hourly(10), "bad": raw_frame()})
    table = report.to_frame()
    assert list(table.index) == ["good", "bad"]
    assert table.index.name == "symbol"
    assert table.loc["good", "timeframe"] == "1h"
    assert table.loc["good", "rows"] == 10
    assert table.loc["bad", "duplicates"] == 1
    assert table.loc["bad", "overlapping"] == 2
    assert bool(table.loc["good", "valid"]) and not bool(table.loc["bad", "valid"])
    assert table.loc["good", "first"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert list(table.columns[:7]) == [
        "timeframe",
        "rows",
        "first",
        "last",
        "expected_bars",
        "missing_bars",
        "gaps",
    ]
    assert len(report) == 2
    assert [item.symbol for item in report] == ["good", "bad"]
    assert isinstance(report["good"], SymbolQuality)
    assert isinstance(report, QualityReport)
    single = quality_report(frame_of(hourly(1))).to_frame()
    assert single["timeframe"].isna().all()


@settings(max_examples=80)
@given(gappy_times(timeframe=HOUR), st.integers(0, 3), st.randoms(use_true_random=False))
def test_missing_equals_expected_minus_present(
    times: np.ndarray, duplicates: int, rng: object
) -> None:
    shuffled = list(times) + list(times[: min(duplicates, len(times))])
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    bars = random_series(np.array(shuffled, dtype=np.int64), seed=1, timeframe=HOUR)
    item = quality_report(bars, timeframe="1h")["BTC/USDT"]
    present = len(set(shuffled))
    assert item.expected_bars == (int(times[-1]) - int(times[0])) // HOUR + 1
    assert item.missing_bars == item.expected_bars - present
    assert sum(gap.missing for gap in item.gaps) == item.missing_bars
    assert len(item.duplicates) == len(shuffled) - present


# -- the modules of this feature --------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0 or name == "quantkit.data._frames"
    assert len(set(module.__all__)) == len(module.__all__)
    assert all(hasattr(module, exported) for exported in module.__all__)


def test_importing_the_modules_does_not_import_pandas() -> None:
    code = (
        f"import sys\nfor name in {MODULES!r}: __import__(name)\nsys.exit('pandas' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
