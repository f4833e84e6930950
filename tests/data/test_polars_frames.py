"""Polars DataFrames and LazyFrames go wherever pandas frames go, with the same checks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit import DataFrameFeed, validate_bars
from quantkit.data.store import ParquetStore
from quantkit.errors import ConfigError, DataError

pl = pytest.importorskip("polars")

TIMES = pd.date_range("2024-03-01", periods=6, freq="h", tz="UTC").as_unit("ns")


def _columns() -> dict[str, list[float]]:
    return {
        "open": [10.0, 11.0, 12.0, 11.5, 12.5, 13.0],
        "high": [11.0, 12.5, 12.5, 12.0, 13.0, 13.5],
        "low": [9.5, 10.5, 11.5, 11.0, 12.0, 12.5],
        "close": [11.0, 12.0, 11.5, 12.0, 13.0, 13.2],
        "volume": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    }


def _pandas(columns: dict[str, list[float]] | None = None) -> pd.DataFrame:
    """The bars with a ``time`` column (not an index), as a Polars frame also has them."""
    return pd.DataFrame({"time": TIMES, **(columns or _columns())})


def _polars(columns: dict[str, list[float]] | None = None) -> pl.DataFrame:
    return pl.from_pandas(_pandas(columns))


def _arrays(series: object) -> list[np.ndarray]:
    names = ("open_time", "close_time", "open", "high", "low", "close", "volume")
    return [np.asarray(getattr(series, name)) for name in names]


@pytest.mark.parametrize("lazy", [False, True], ids=["DataFrame", "LazyFrame"])
def test_a_polars_frame_gives_the_same_bars_as_the_pandas_one(lazy: bool) -> None:
    frame = _polars().lazy() if lazy else _polars()
    got = DataFrameFeed(frame, symbol="BTC/USDT").load()["BTC/USDT"]
    want = DataFrameFeed(_pandas(), symbol="BTC/USDT").load()["BTC/USDT"]
    assert got.timeframe == want.timeframe == 3600 * 10**9
    for left, right in zip(_arrays(got), _arrays(want), strict=True):
        np.testing.assert_array_equal(left, right)
    assert got.open_time[0] == pd.Timestamp("2024-03-01", tz="UTC").value


def test_time_zones_are_converted_to_utc_and_naive_times_read_as_utc() -> None:
    berlin = _polars().with_columns(pl.col("time").dt.convert_time_zone("Europe/Berlin"))
    naive = _polars().with_columns(pl.col("time").dt.replace_time_zone(None))
    millis = _polars().with_columns(pl.col("time").dt.cast_time_unit("ms"))
    want = TIMES.asi8
    for frame in (berlin, naive, millis):
        got = validate_bars(frame, symbol="BTC/USDT")
        np.testing.assert_array_equal(got.open_time, want)


def test_a_mapping_of_polars_frames_serves_each_symbol_and_the_window() -> None:
    feed = DataFrameFeed(
        {"BTC/USDT": _polars(), "ETH/USDT": _polars().lazy()},
        start="2024-03-01 02:00",
        end="2024-03-01 05:00",
    )
    loaded = feed.load()
    assert list(loaded) == ["BTC/USDT", "ETH/USDT"]
    for series in loaded.values():
        np.testing.assert_array_equal(series.close, [11.5, 12.0, 13.0])


def _message(data: object, **options: object) -> str:
    with pytest.raises(DataError) as caught:
        DataFrameFeed(data, symbol="BTC/USDT", **options).load()  # type: ignore[arg-type]
    return str(caught.value)


def _broken(row: int, column: str, value: float) -> dict[str, list[float]]:
    columns = _columns()
    columns[column][row] = value
    return columns


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        (_broken(3, "high", 10.0), "row 3: high 10.0 is below max(open, close)"),
        (_broken(2, "close", float("nan")), "row 2"),
        (_broken(4, "volume", -1.0), "row 4"),
        (_broken(1, "low", 0.0), "row 1"),
    ],
    ids=["high-below-close", "nan", "negative-volume", "zero-price"],
)
def test_bad_rows_are_the_same_error_as_with_pandas(
    case: dict[str, list[float]], needle: str
) -> None:
    from_polars = _message(_polars(case))
    assert from_polars == _message(_pandas(case))
    assert needle in from_polars
    assert from_polars.startswith("BTC/USDT: ")


def test_a_missing_value_is_reported_with_its_row() -> None:
    frame = _polars().with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise(pl.col("open")).alias("open")
    )
    message = _message(frame)
    assert "row 4" in message
    assert "open" in message
    assert message == _message(_pandas(_broken(4, "open", float("nan"))))


def test_a_missing_column_is_named_with_a_suggestion_as_with_pandas() -> None:
    frame = _polars().rename({"volume": "volum"})
    message = _message(frame)
    assert message == _message(_pandas().rename(columns={"volume": "volum"}))
    assert "missing required column 'volume' (did you mean 'volum'?)" in message


def test_a_duplicate_timestamp_is_the_same_error_as_with_pandas() -> None:
    times = list(TIMES)
    times[3] = times[2]
    pandas_frame = _pandas().assign(time=times)
    message = _message(pl.from_pandas(pandas_frame))
    assert message == _message(pandas_frame)
    assert "row 3" in message


def test_a_lazy_frame_that_fails_to_collect_is_a_data_error() -> None:
    broken = _polars().lazy().with_columns(pl.col("no such column") * 2)
    message = _message(broken)
    assert "cannot collect the Polars LazyFrame" in message
    assert "no such column" in message


def test_a_polars_frame_needs_a_symbol() -> None:
    with pytest.raises(ConfigError, match="pass symbol="):
        DataFrameFeed(_polars())


def test_the_store_writes_polars_frames(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    report = store.write("binance", "BTC/USDT", "1h", _polars().lazy())
    assert report.added == 6
    got = store.read("binance", "BTC/USDT", "1h")
    pd.testing.assert_frame_equal(
        got, _pandas().set_index("time").rename_axis("time"), check_freq=False
    )


def test_polars_is_not_imported_for_pandas_data() -> None:
    saved = sys.modules.pop("polars")
    try:
        DataFrameFeed(_pandas(), symbol="BTC/USDT").load()
        assert "polars" not in sys.modules
    finally:
        sys.modules["polars"] = saved
