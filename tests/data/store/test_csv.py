"""CSV import and export."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from quantkit.data import CsvFeed
from quantkit.data.store import ParquetStore
from quantkit.errors import DataError

from .bars import make_frame, ts


@pytest.mark.parametrize("name", ["bars.csv", "bars.csv.gz"])
def test_export_then_import_round_trips_exactly(tmp_path: Path, name: str) -> None:
    source = ParquetStore(tmp_path / "a")
    frame = make_frame("2024-01-01", 24 * 40)
    source.write("binance", "BTC/USDT", "1h", frame)
    path = tmp_path / name
    assert source.export_csv("binance", "BTC/USDT", "1h", path) == len(frame)
    target = ParquetStore(tmp_path / "b")
    report = target.import_csv(path, "binance", "BTC/USDT", "1h")
    assert report.added == len(frame)
    pd.testing.assert_frame_equal(target.read("binance", "BTC/USDT", "1h"), frame, check_freq=False)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_the_export_format_is_plain(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = pd.DataFrame(
        {
            "open": [1.5, 2.0],
            "high": [2.0, 2.5],
            "low": [1.0, 1.5],
            "close": [2.0, 2.25],
            "volume": [0.1, 3.0],
        },
        index=pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00"], tz="UTC", name="time"),
    )
    store.write("binance", "BTC/USDT", "1h", frame)
    path = tmp_path / "out.csv.gz"
    store.export_csv("binance", "BTC/USDT", "1h", path, start="2024-01-01 01:00")
    with gzip.open(path, "rt") as handle:
        assert handle.read().splitlines() == [
            "time,open,high,low,close,volume",
            "2024-01-01T01:00:00Z,2.0,2.5,1.5,2.25,3.0",
        ]
    bars = CsvFeed(path, symbol="BTC/USDT", timeframe="1h").load()["BTC/USDT"]
    assert bars.close.tolist() == [2.25]


def test_import_takes_the_feed_options(tmp_path: Path) -> None:
    frame = make_frame("2024-01-01", 48)
    table = frame.reset_index().rename(columns={"time": "Close Time"})
    table["Close Time"] = (table["Close Time"] + pd.Timedelta(hours=1)).astype("int64") // 10**6
    path = tmp_path / "binance.csv"
    table.to_csv(path, index=False)
    store = ParquetStore(tmp_path / "store")
    report = store.import_csv(
        path,
        "binance",
        "BTC/USDT",
        "1h",
        label="close",
        time_column="Close Time",
        time_unit="ms",
        start="2024-01-01 12:00",
        end="2024-01-02",
    )
    assert report.added == 12
    pd.testing.assert_frame_equal(
        store.read("binance", "BTC/USDT", "1h"),
        frame[(frame.index >= ts("2024-01-01 12:00")) & (frame.index < ts("2024-01-02"))],
        check_freq=False,
    )


def test_import_errors_name_the_file(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        store.import_csv(tmp_path / "nope.csv", "binance", "BTC/USDT", "1h")
    bad = tmp_path / "bad.csv"
    bad.write_text("time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,0.5,1,1,1\n")
    with pytest.raises(DataError, match=r"bad\.csv: row 0: high 0\.5 is below"):
        store.import_csv(bad, "binance", "BTC/USDT", "1h")


def test_export_of_a_series_not_held_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no bars"):
        ParquetStore(tmp_path).export_csv("binance", "BTC/USDT", "1h", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
