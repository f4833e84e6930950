"""Tests of DataFrameFeed, CsvFeed and ParquetFeed: shapes, real files, windows, errors."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.data import CsvFeed, DataFeed, DataFrameFeed, ParquetFeed
from quantkit.data._tabular import file_symbol
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, DataError
from tests.strategies import NS, BarArrays, bars_frame, hourly_bars, make_bars

HOUR = 3600 * NS


def assert_same_bars(series: BarSeries, bars: BarArrays, symbol: str) -> None:
    assert series.symbol == symbol
    assert series.timeframe == bars.timeframe
    np.testing.assert_array_equal(series.open_time, bars.times)
    np.testing.assert_array_equal(series.close_time, bars.times + bars.timeframe)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(series, name), getattr(bars, name))


def cents(bars: BarArrays) -> BarArrays:
    """The bars with prices rounded to cents, as prices in files usually are."""
    columns = {name: np.round(values, 2) for name, values in bars.columns().items()}
    return BarArrays(bars.times, bars.timeframe, **columns)


def write_csv(path: Path, bars: BarArrays) -> Path:
    bars_frame(bars).to_csv(path, date_format="%Y-%m-%dT%H:%M:%SZ")
    return path


def write_parquet(path: Path, bars: BarArrays) -> Path:
    bars_frame(bars).to_parquet(path)
    return path


# --- DataFrameFeed -----------------------------------------------------------------------------


def test_dataframe_feed_single_frame() -> None:
    bars = hourly_bars(10)
    feed = DataFrameFeed(bars_frame(bars), symbol="BTC/USDT")
    assert isinstance(feed, DataFeed)
    assert feed.symbols == ("BTC/USDT",)
    loaded = feed.load()
    assert list(loaded) == ["BTC/USDT"]
    assert_same_bars(loaded["BTC/USDT"], bars, "BTC/USDT")


def test_dataframe_feed_takes_the_symbol_from_frame_attrs() -> None:
    frame = bars_frame(hourly_bars(3))
    frame.attrs["symbol"] = "SOL/USDT"
    assert DataFrameFeed(frame).symbols == ("SOL/USDT",)
    assert DataFrameFeed(frame, symbol="SOL/USDC").symbols == ("SOL/USDC",)


def test_dataframe_feed_needs_a_symbol_for_a_single_frame() -> None:
    with pytest.raises(
        ConfigError, match="pass symbol= to name the market of a pandas or Polars DataFrame"
    ):
        DataFrameFeed(bars_frame(hourly_bars(3)))


def test_dataframe_feed_mapping_keeps_the_given_order() -> None:
    eth, btc = hourly_bars(5, seed=1), hourly_bars(5, seed=2)
    feed = DataFrameFeed({"ETH/USDT": bars_frame(eth), "BTC/USDT": bars_frame(btc)})
    assert feed.symbols == ("ETH/USDT", "BTC/USDT")
    loaded = feed.load()
    assert list(loaded) == ["ETH/USDT", "BTC/USDT"]
    assert_same_bars(loaded["ETH/USDT"], eth, "ETH/USDT")
    assert_same_bars(loaded["BTC/USDT"], btc, "BTC/USDT")


def test_dataframe_feed_time_column_label_and_unit_options() -> None:
    bars = hourly_bars(6)
    frame = bars_frame(bars, index=False)
    frame["ts"] = (bars.times + HOUR) // 10**6  # close times, epoch milliseconds
    frame = frame.drop(columns=["time"])
    feed = DataFrameFeed(frame, symbol="X", time_column="ts", label="close", time_unit="ms")
    assert_same_bars(feed.load()["X"], bars, "X")


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (
            [1, 2],
            {},
            "expected a pandas or Polars DataFrame or a mapping of symbol to a pandas or Polars",
        ),
        ({}, {}, "the mapping of symbol to source is empty"),
        ({"X": "frame.csv"}, {}, "the source for 'X' must be a pandas or Polars DataFrame"),
        ({"": None}, {}, "symbols must be non-empty strings"),
        ({5: None}, {}, "symbols must be non-empty strings"),
        ("mapping", {"symbol": "X"}, "symbol= only applies to a single source"),
        ("frame", {"symbol": "X", "label": "end"}, "label must be 'open' or 'close'"),
        ("frame", {"symbol": "X", "time_unit": "days"}, "time_unit must be one of"),
        ("frame", {"symbol": "X", "timeframe": "hourly"}, "timeframe 'hourly' is not understood"),
        ("frame", {"symbol": "X", "start": 5}, "start must be a date string"),
        ("frame", {"symbol": "X", "end": "whenever"}, "end='whenever' is not a date or time"),
        (
            "frame",
            {"symbol": "X", "start": "2024-02-01", "end": "2024-01-01"},
            "start \\('2024-02-01'\\) must be before end \\('2024-01-01'\\)",
        ),
        ("frame", {"symbol": "X", "start": "2024-01-01", "end": "2024-01-01"}, "must be before"),
    ],
)
def test_dataframe_feed_argument_errors(
    data: object, kwargs: dict[str, object], message: str
) -> None:
    frame = bars_frame(hourly_bars(3))
    named = {"frame": frame, "mapping": {"X": frame}}
    given = named[data] if isinstance(data, str) else data
    with pytest.raises(ConfigError, match=message):
        DataFrameFeed(given, **kwargs)  # type: ignore[arg-type]


def test_load_validates_eagerly_and_names_the_symbol() -> None:
    frame = bars_frame(hourly_bars(5))
    frame.iloc[3, frame.columns.get_loc("high")] = 0.5
    feed = DataFrameFeed({"BTC/USDT": bars_frame(hourly_bars(5)), "ETH/USDT": frame})
    with pytest.raises(DataError) as caught:
        feed.load()
    assert (caught.value.source, caught.value.row) == ("ETH/USDT", 3)


def test_load_is_cached_and_returns_the_same_series() -> None:
    frame = bars_frame(hourly_bars(5))
    feed = DataFrameFeed(frame, symbol="X")
    first = feed.load()
    frame.iloc[0, 0] = np.nan  # later changes to the frame do not reach the loaded bars
    second = feed.load()
    assert second["X"] is first["X"]
    second.clear()  # the caller's dict is its own
    assert feed.load()["X"] is first["X"]
    assert not np.isnan(first["X"].open[0])


def test_a_failed_load_is_not_cached() -> None:
    frame = bars_frame(hourly_bars(5))
    frame.iloc[2, 0] = np.nan
    feed = DataFrameFeed(frame, symbol="X")
    with pytest.raises(DataError):
        feed.load()
    frame.iloc[2, 0] = frame.iloc[2, 3]  # open = close: valid again
    assert len(feed.load()["X"]) == 5


def test_symbols_of_one_feed_must_share_a_timeframe() -> None:
    hourly = hourly_bars(5)
    four_hourly = make_bars(hourly.times[0] + np.arange(5) * 4 * HOUR, 4 * HOUR)
    feed = DataFrameFeed({"BTC/USDT": bars_frame(hourly), "ETH/USDT": bars_frame(four_hourly)})
    with pytest.raises(DataError) as caught:
        feed.load()
    assert caught.value.source == "ETH/USDT"
    assert caught.value.problem == (
        "all symbols of a feed must share one timeframe, but BTC/USDT has 1h bars and "
        "ETH/USDT has 4h bars; pass timeframe= or resample one of them"
    )


def test_a_given_timeframe_applies_to_every_symbol() -> None:
    sparse = make_bars(np.array([0, 2, 3, 5, 6]) * HOUR, HOUR)  # hourly bars with holes
    two_hourly = make_bars(np.array([0, 2, 4, 6, 7]) * HOUR, HOUR)  # inferred alone: 2h
    feed = DataFrameFeed({"A": bars_frame(sparse), "B": bars_frame(two_hourly)}, timeframe="1h")
    with pytest.warns(UserWarning, match="B: the timeframe 1h is shorter than the usual gap"):
        loaded = feed.load()
    assert {series.timeframe for series in loaded.values()} == {HOUR}


def test_repr() -> None:
    frame = bars_frame(hourly_bars(2))
    assert repr(DataFrameFeed(frame, symbol="X")) == "DataFrameFeed(symbols=('X',), timeframe=None)"
    assert repr(DataFrameFeed(frame, symbol="X", timeframe="60m")) == (
        "DataFrameFeed(symbols=('X',), timeframe='1h')"
    )


# --- start / end -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "first_hour", "count"),
    [
        ("2024-01-01 02:00", "2024-01-01T05:00:00Z", 2, 3),
        (dt.datetime(2024, 1, 1, 3, tzinfo=dt.timezone(dt.timedelta(hours=1))), None, 2, 8),
        (None, pd.Timestamp("2024-01-01 06:30", tz="UTC"), 0, 7),
        ("2024-01-01 01:30", "2024-01-01 02:30", 2, 1),
        (dt.date(2023, 12, 1), np.datetime64("2024-02-01"), 0, 10),
        (None, None, 0, 10),
    ],
)
def test_start_is_inclusive_and_end_exclusive_by_open_time(
    start: object, end: object, first_hour: int, count: int
) -> None:
    bars = hourly_bars(10)
    for label, shift in (("open", 0), ("close", HOUR)):
        frame = bars_frame(bars)
        frame.index = frame.index + pd.Timedelta(shift, unit="ns")
        feed = DataFrameFeed(frame, symbol="X", label=label, start=start, end=end)  # type: ignore[arg-type]
        series = feed.load()["X"]
        assert len(series) == count
        assert series.open_time[0] == bars.times[first_hour]
        np.testing.assert_array_equal(series.close, bars.close[first_hour : first_hour + count])


def test_a_window_without_bars_is_an_error() -> None:
    feed = DataFrameFeed(bars_frame(hourly_bars(10)), symbol="X", start="2025-01-01")
    with pytest.raises(DataError) as caught:
        feed.load()
    assert caught.value.source == "X"
    assert caught.value.problem == (
        "no bars open between 2025-01-01T00:00:00Z and the end; the data covers "
        "2024-01-01T00:00:00Z to 2024-01-01T09:00:00Z"
    )
    early = DataFrameFeed(bars_frame(hourly_bars(10)), symbol="X", end="2023-01-01")
    with pytest.raises(DataError, match="between the beginning and 2023-01-01T00:00:00Z"):
        early.load()


# --- CsvFeed -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["BTCUSDT.csv", "BTCUSDT.csv.gz", "BTCUSDT.CSV.BZ2"])
def test_csv_round_trip(tmp_path: Path, name: str) -> None:
    bars = cents(hourly_bars(50))
    path = write_csv(tmp_path / name, bars)
    feed = CsvFeed(path)
    assert feed.symbols == ("BTCUSDT",)
    assert_same_bars(feed.load()["BTCUSDT"], bars, "BTCUSDT")


def test_csv_full_precision_round_trip(tmp_path: Path) -> None:
    bars = hourly_bars(200)  # 17 significant digits
    path = write_csv(tmp_path / "x.csv", bars)
    assert_same_bars(CsvFeed(path, symbol="X").load()["X"], bars, "X")


def test_csv_mapping_with_epoch_close_times(tmp_path: Path) -> None:
    btc, eth = cents(hourly_bars(30, seed=3)), cents(hourly_bars(30, seed=4))
    paths = {}
    for symbol, bars in (("ETH/USDT", eth), ("BTC/USDT", btc)):
        frame = bars_frame(bars, index=False).drop(columns=["time"])
        frame.insert(0, "close_time_ms", (bars.times + HOUR) // 10**6)
        paths[symbol] = tmp_path / f"{symbol.replace('/', '')}.csv"
        frame.to_csv(paths[symbol], index=False)
    feed = CsvFeed(paths, label="close", time_column="close_time_ms", start="2024-01-01 10:00")
    loaded = feed.load()
    assert list(loaded) == ["ETH/USDT", "BTC/USDT"]
    for symbol, bars in (("ETH/USDT", eth), ("BTC/USDT", btc)):
        series = loaded[symbol]
        assert len(series) == 20
        np.testing.assert_array_equal(series.open_time, bars.times[10:])
        np.testing.assert_array_equal(series.close_time, bars.times[10:] + HOUR)
        np.testing.assert_array_equal(series.close, bars.close[10:])


def test_csv_errors_name_the_file_and_data_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "time,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,100,101,99,100,5\n"
        "2024-01-01T01:00:00Z,100,101,99,100,5\n"
        "2024-01-01T02:00:00Z,100,101,99,100,-5\n"
    )
    with pytest.raises(DataError) as caught:
        CsvFeed(path, symbol="X").load()
    assert caught.value.source == str(path)
    assert caught.value.row == 2
    assert str(caught.value) == f"{path}: row 2: volume is -5.0; volume must be >= 0"


def test_csv_missing_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Date,Open,High,Low,Close,Vol\n2024-01-01,1,1,1,1,1\n")
    with pytest.raises(
        DataError, match="missing required column 'volume' \\(did you mean 'Vol'"
    ) as caught:
        CsvFeed(path).load()
    assert caught.value.source == str(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "cannot read CSV file: No columns to parse"),
        (b"\x1f\x8b\x08\x00garbage", "cannot read CSV file"),
    ],
)
def test_unreadable_csv_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.csv.gz"
    if content is not None:
        path.write_bytes(content if content else gzip.compress(b""))
    with pytest.raises(DataError, match=message) as caught:
        CsvFeed(path).load()
    assert caught.value.source == str(path)
    assert caught.value.__cause__ is not None


def test_csv_feed_rejects_non_paths() -> None:
    with pytest.raises(ConfigError, match="the source for 'X' must be a CSV file path"):
        CsvFeed({"X": 5})  # type: ignore[dict-item]


# --- ParquetFeed -------------------------------------------------------------------------------


def test_parquet_round_trip_with_datetime_index(tmp_path: Path) -> None:
    bars = hourly_bars(40)
    path = write_parquet(tmp_path / "ETHUSDT.parquet", bars)
    feed = ParquetFeed(path)
    assert feed.symbols == ("ETHUSDT",)
    assert_same_bars(feed.load()["ETHUSDT"], bars, "ETHUSDT")


def test_parquet_mapping_with_zone_aware_time_column(tmp_path: Path) -> None:
    bars = {"BTC/USDT": hourly_bars(24, seed=5), "ETH/USDT": hourly_bars(24, seed=6)}
    paths = {}
    for symbol, series in bars.items():
        frame = bars_frame(series, index=False)
        frame["time"] = frame["time"].dt.tz_convert("America/Sao_Paulo")
        paths[symbol] = tmp_path / f"{symbol.replace('/', '_')}.pq"
        frame.to_parquet(paths[symbol], index=False)
    loaded = ParquetFeed(paths, end="2024-01-01 12:00").load()
    for symbol, series in bars.items():
        assert len(loaded[symbol]) == 12
        np.testing.assert_array_equal(loaded[symbol].open_time, series.times[:12])
        np.testing.assert_array_equal(loaded[symbol].close, series.close[:12])


def test_parquet_bad_row_names_the_file(tmp_path: Path) -> None:
    bars = hourly_bars(8)
    frame = bars_frame(bars)
    frame.iloc[5, frame.columns.get_loc("low")] = 1e9
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"low 1000000000\.0 is above min") as caught:
        ParquetFeed(path, symbol="X").load()
    assert (caught.value.source, caught.value.row) == (str(path), 5)


@pytest.mark.parametrize(
    ("content", "message"), [(None, "file not found"), (b"PAR1 nope", "cannot read Parquet file")]
)
def test_unreadable_parquet_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        ParquetFeed(path).load()
    assert caught.value.source == str(path)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BTCUSDT.csv", "BTCUSDT"),
        ("btc_usdt_1h.csv.gz", "btc_usdt_1h"),
        ("data/ETH-USD.CSV", "ETH-USD"),
        (".csv", ".csv"),
        ("prices", "prices"),
    ],
)
def test_file_symbol(name: str, symbol: str) -> None:
    assert file_symbol(name, (".gz", ".csv")) == symbol
    assert file_symbol(Path(name), (".gz", ".csv")) == symbol
