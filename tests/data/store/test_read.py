"""Reading from the store: ranges, pruning, copies, integrity, and the read cache."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantkit.data.store import ParquetStore, _arrow, _reader
from quantkit.errors import ConfigError, DataError, StoreError

from .bars import MINUTE, data_files, make_frame, partition_files, ts

DAY = 60 * 24


@pytest.fixture
def minutes(tmp_path: Path) -> tuple[ParquetStore, pd.DataFrame]:
    """Three months of one-minute bars (three partitions)."""
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", (31 + 29 + 31) * DAY, "1m")
    store.write("binance", "BTC/USDT", "1m", frame)
    return store, frame


def partition_dir(store: ParquetStore) -> Path:
    return store.root / "binance" / "BTC_USDT" / "1m"


def test_read_a_range_returns_exactly_the_bars_opening_in_it(
    minutes: tuple[ParquetStore, pd.DataFrame],
) -> None:
    store, frame = minutes
    for start, end in [
        ("2024-01-10", "2024-01-17"),
        ("2024-01-31 23:00", "2024-02-01 01:00"),
        (None, "2024-01-01 00:05"),
        ("2024-03-31 23:58", None),
        ("2024-01-01", "2024-04-01"),
        ("2024-01-10 00:00:30", "2024-01-10 00:02:30"),
    ]:
        got = store.read("binance", "BTC/USDT", "1m", start, end)
        mask = np.ones(len(frame), dtype=bool)
        if start is not None:
            mask &= frame.index >= ts(start)
        if end is not None:
            mask &= frame.index < ts(end)
        pd.testing.assert_frame_equal(got, frame[mask], check_freq=False)


def test_a_range_without_bars_reads_as_an_empty_frame(
    minutes: tuple[ParquetStore, pd.DataFrame],
) -> None:
    store, _ = minutes
    empty = store.read("binance", "BTC/USDT", "1m", "2025-01-01", "2025-02-01")
    assert empty.empty
    assert list(empty.columns) == ["open", "high", "low", "close", "volume"]
    assert str(empty.index.tz) == "UTC"


def test_a_series_not_held_is_a_data_error_with_a_hint(
    minutes: tuple[ParquetStore, pd.DataFrame],
) -> None:
    store, _ = minutes
    with pytest.raises(DataError, match=r"holds no bars.*in timeframes 1m"):
        store.read("binance", "BTC/USDT", "1h")
    with pytest.raises(DataError, match="did you mean 'binance BTC/USDT'"):
        store.read("binance", "BTC/USDC", "1m")
    with pytest.raises(DataError, match="download or import it first"):
        store.read("kraken", "XYZ", "1m")
    with pytest.raises(ConfigError, match="must be before end"):
        store.read("binance", "BTC/USDT", "1m", "2024-02-01", "2024-01-01")


class Recorder:
    """Records which files the store opens and which row groups it decodes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[str] = []
        self.decoded: list[tuple[str, tuple[int, ...], tuple[str, ...]]] = []
        real = pq.ParquetFile
        recorder = self

        class Recording(real):  # type: ignore[misc, valid-type]
            def __init__(self, source: Any, *args: Any, **kwargs: Any) -> None:
                self.name = re.sub(
                    r"\.[0-9a-f]{12}\.parquet$", ".parquet", os.path.basename(source)
                )
                recorder.opened.append(self.name)
                super().__init__(source, *args, **kwargs)

            def read_row_groups(self, groups: Any, columns: Any = None, **kwargs: Any) -> Any:
                recorder.decoded.append((self.name, tuple(groups), tuple(columns)))
                return super().read_row_groups(groups, columns=columns, **kwargs)

            def read_row_group(self, group: int, columns: Any = None, **kwargs: Any) -> Any:
                recorder.decoded.append((self.name, (group,), tuple(columns)))
                return super().read_row_group(group, columns=columns, **kwargs)

        monkeypatch.setattr(pq, "ParquetFile", Recording)


def test_reading_a_week_opens_only_its_partition_and_row_group(
    minutes: tuple[ParquetStore, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, frame = minutes
    february = partition_files(partition_dir(store))["2024-02.parquet"]
    # 41,760 bars in row groups of 16,384: 2024-02-01 00:00, 02-12 09:04 and 02-23 18:08.
    assert pq.read_metadata(february).num_row_groups == 3
    record = Recorder(monkeypatch)
    week = store.read("binance", "BTC/USDT", "1m", "2024-02-03", "2024-02-10")
    pd.testing.assert_frame_equal(
        week, frame[(frame.index >= ts("2024-02-03")) & (frame.index < ts("2024-02-10"))]
    )
    assert set(record.opened) == {"2024-02.parquet"}
    columns = ("time", "open", "high", "low", "close", "volume")
    # The first row group straddles the start: its times are read to find the first row; the
    # other two lie outside the week and are never decoded.
    assert record.decoded == [
        ("2024-02.parquet", (0,), ("time",)),
        ("2024-02.parquet", (0,), columns),
    ]
    # A range covering whole row groups needs no edge reads at all.
    record.decoded.clear()
    assert len(store.read("binance", "BTC/USDT", "1m", "2024-03-01", "2024-04-01")) == 31 * DAY
    assert record.decoded == [("2024-03.parquet", (0, 1, 2), columns)]


def test_files_are_decoded_one_after_the_other_on_one_core(
    minutes: tuple[ParquetStore, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, frame = minutes
    monkeypatch.setattr(_reader, "_WORKERS", 1)
    store.clear_cache()
    series = store.read_series("binance", "BTC/USDT", "1m", "2024-01-15", "2024-03-15")
    expected = frame[(frame.index >= ts("2024-01-15")) & (frame.index < ts("2024-03-15"))]
    np.testing.assert_array_equal(series.open_time, expected.index.asi8)
    np.testing.assert_array_equal(series.volume, expected["volume"].to_numpy())


def test_partitions_outside_the_range_are_not_even_opened(
    minutes: tuple[ParquetStore, pd.DataFrame],
) -> None:
    store, _ = minutes
    for name in ("2024-01.parquet", "2024-03.parquet"):
        partition_files(partition_dir(store))[name].write_bytes(b"not parquet at all")
    week = store.read("binance", "BTC/USDT", "1m", "2024-02-12", "2024-02-19")
    assert week.index[0] == ts("2024-02-12")
    with pytest.raises(StoreError, match=r"2024-01\.[0-9a-f]{12}\.parquet"):
        store.read("binance", "BTC/USDT", "1m", "2024-01-05", "2024-01-06")


def test_read_series_gives_read_only_arrays_without_extra_copies(
    minutes: tuple[ParquetStore, pd.DataFrame],
) -> None:
    store, frame = minutes
    series = store.read_series("binance", "BTC/USDT", "1m")
    assert series.symbol == "BTC/USDT"
    assert series.timeframe == MINUTE
    np.testing.assert_array_equal(series.open_time, frame.index.asi8)
    np.testing.assert_array_equal(series.close_time, frame.index.asi8 + MINUTE)
    for name in ("open", "high", "low", "close", "volume"):
        column = getattr(series, name)
        np.testing.assert_array_equal(column, frame[name].to_numpy())
        assert column.dtype == np.float64
        assert column.flags.c_contiguous
        assert not column.flags.writeable
    # A second read comes from the cache: the very same arrays.
    again = store.read_series("binance", "BTC/USDT", "1m")
    assert again.close is series.close
    # A frame may be changed: it gets its own copy of what the cache holds.
    view = store.read("binance", "BTC/USDT", "1m")
    assert not np.shares_memory(view["close"].to_numpy(), series.close)
    view.iloc[0, 0] = -5.0
    assert series.open[0] == frame["open"].iloc[0]
    assert store.read_series("binance", "BTC/USDT", "1m").open[0] == frame["open"].iloc[0]


def test_a_frame_too_large_for_the_cache_takes_the_arrays_without_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetStore(tmp_path, cache_bytes=1000)
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-01", DAY, "1m"))
    real = _reader.read_columns
    produced = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        produced.append(real(*args, **kwargs))
        return produced[-1]

    monkeypatch.setattr(_reader, "read_columns", spy)
    frame = store.read("binance", "BTC/USDT", "1m")
    assert frame["close"].to_numpy() is not None
    assert np.shares_memory(frame["close"].to_numpy(), produced[0].close)
    frame.iloc[0, 3] = 1.0  # the frame owns its columns: it may change them
    assert store.cache_info().entries == 0


def test_read_series_with_validation_and_on_an_empty_window(
    minutes: tuple[ParquetStore, pd.DataFrame],
) -> None:
    store, _ = minutes
    checked = store.read_series("binance", "BTC/USDT", "1m", "2024-02-01", validate=True)
    assert len(checked) == (29 + 31) * DAY
    with pytest.raises(DataError, match="no bars open between 2025-01-01T00:00:00Z and the end"):
        store.read_series("binance", "BTC/USDT", "1m", "2025-01-01")
    with pytest.raises(DataError, match=r"the beginning and 2020-01-01.*2024-01-01T00:00:00Z to"):
        store.read_series("binance", "BTC/USDT", "1m", end="2020-01-01")


def write_raw(path: Path, times: list[int], values: list[float | None] | None = None) -> None:
    """A Parquet file with the store's columns, bypassing the store's checks."""
    column = pa.array(values or [1.0] * len(times), pa.float64())
    table = pa.table(
        {
            "time": pa.array(times, pa.timestamp("ns", "UTC")),
            **{name: column for name in ("open", "high", "low", "close", "volume")},
        }
    )
    pq.write_table(table, path)


def test_hand_made_files_out_of_order_or_with_nulls_are_store_errors(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-01", 10, "1m"))
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-02-01", 10, "1m"))
    path = partition_files(partition_dir(store))["2024-01.parquet"]
    base = ts("2024-01-01").value
    write_raw(path, [base, base + 2 * MINUTE, base + MINUTE])
    with pytest.raises(StoreError, match="out of order or overlapping at 2024-01-01T00:01:00Z"):
        store.read("binance", "BTC/USDT", "1m")
    write_raw(path, [base, base + MINUTE], [1.0, None])
    with pytest.raises(StoreError, match=r"'open' has missing values"):
        store.read("binance", "BTC/USDT", "1m")
    # Across partitions: February's first bar may not precede January's last.
    write_raw(path, [ts("2024-02-10").value])
    write_raw(partition_files(partition_dir(store))["2024-02.parquet"], [ts("2024-02-01").value])
    with pytest.raises(StoreError, match="2024-02-01T00:00:00Z"):
        store.read("binance", "BTC/USDT", "1m")


def test_files_changing_during_a_scan_are_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-01", 10, "1m"))
    path = partition_files(partition_dir(store))["2024-01.parquet"]
    with pytest.raises(_arrow.StoreChangedError, match="vanished"):
        _arrow.read_partition(path.with_name("2023-01.parquet"))
    with pytest.raises(_arrow.StoreChangedError, match="vanished"):
        _reader.read_times([path.with_name("2023-01.parquet")], None, None, timeframe=1, source="x")
    real_open = _reader._open
    shorter = make_frame("2024-01-01", 5, "1m")

    def replaced_after_planning(target: Path) -> Any:
        if replaced_after_planning.calls == 1:  # type: ignore[attr-defined]
            ParquetStore(tmp_path).delete("binance", "BTC/USDT", "1m")
            ParquetStore(tmp_path).write("binance", "BTC/USDT", "1m", shorter)
        replaced_after_planning.calls += 1  # type: ignore[attr-defined]
        return real_open(target)

    replaced_after_planning.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(_reader, "_open", replaced_after_planning)
    # read below the store (no reader lock): the writer removes the file it superseded
    with pytest.raises(_arrow.StoreChangedError, match="vanished while being read"):
        _reader.read_times([path], None, None, timeframe=MINUTE, source="x")
    # Through the store, a read sees the version it started with: the change made while it read
    # (the series deleted, then 5 bars written) shows only in the next read.
    replaced_after_planning.calls = 0  # type: ignore[attr-defined]
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-01", 10, "1m"), overwrite=True)
    assert len(store.read("binance", "BTC/USDT", "1m")) == 10
    assert len(store.read("binance", "BTC/USDT", "1m")) == 5
    assert len(data_files(partition_dir(store))) == 2  # the file that read used is still kept
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-01", 6, "1m"), overwrite=True)
    assert len(data_files(partition_dir(store))) == 1  # the next write removed it


def test_copying_a_column_checks_its_length(tmp_path: Path) -> None:
    target = np.empty(3)
    with pytest.raises(_arrow.StoreChangedError, match="changed while being read"):
        _reader._copy(pa.chunked_array([[1.0, 2.0]]), target, "open", "x")


def test_time_bounds_fall_back_to_reading_without_statistics(tmp_path: Path) -> None:
    path = tmp_path / "2024.parquet"
    table = pa.table({"time": pa.array([5, 9], pa.timestamp("ns", "UTC"))})
    table = table.append_column("open", pa.array([1.0, 1.0]))
    for name in ("high", "low", "close", "volume"):
        table = table.append_column(name, pa.array([1.0, 1.0]))
    pq.write_table(table, path, write_statistics=False)
    assert _arrow.time_bounds(path) == (5, 9)
    pq.write_table(table.slice(0, 0), path, write_statistics=False)
    with pytest.raises(StoreError, match="holds no bars"):
        _arrow.time_bounds(path)


# -- cache ------------------------------------------------------------------------------------


def test_repeated_reads_hit_the_cache_and_writes_invalidate_it(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 100))
    first = store.read("binance", "BTC/USDT", "1h", "2024-01-02")
    store.read("binance", "BTC/USDT", "1h", "2024-01-02")
    store.read_series("binance", "BTC/USDT", "1h", "2024-01-02")  # same range, same entry
    info = store.cache_info()
    assert (info.misses, info.hits, info.entries) == (1, 2, 1)
    assert info.bytes == 76 * 48
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-05 04:00", 10, seed=1))
    assert store.cache_info().entries == 0
    after = store.read("binance", "BTC/USDT", "1h", "2024-01-02")
    assert len(after) == len(first) + 10
    store.delete("binance", "BTC/USDT", "1h", "2024-01-05")
    assert store.cache_info().entries == 0
    store.clear_cache()
    assert store.cache_info().bytes == 0


def test_changes_by_another_process_invalidate_the_cache(tmp_path: Path) -> None:
    reader = ParquetStore(tmp_path)
    writer = ParquetStore(tmp_path)  # stands for another process: its own cache
    writer.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 24))
    assert len(reader.read("binance", "BTC/USDT", "1h")) == 24
    writer.write("binance", "BTC/USDT", "1h", make_frame("2024-01-02", 24, seed=1))
    assert len(reader.read("binance", "BTC/USDT", "1h")) == 48
    assert reader.cache_info().invalidations == 1
    writer.delete("binance", "BTC/USDT", "1h", "2024-01-01 12:00")
    assert len(reader.read("binance", "BTC/USDT", "1h")) == 12


def test_the_cache_is_bounded_in_bytes(tmp_path: Path) -> None:
    one_day = 24 * 48  # 24 bars of 48 bytes
    store = ParquetStore(tmp_path, cache_bytes=2 * one_day)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 24 * 5))
    for day in range(1, 4):
        store.read("binance", "BTC/USDT", "1h", f"2024-01-0{day}", f"2024-01-0{day + 1}")
    info = store.cache_info()
    assert (info.entries, info.bytes, info.evictions) == (2, 2 * one_day, 1)
    store.read("binance", "BTC/USDT", "1h")  # too large to keep
    assert store.cache_info().entries == 2
    disabled = ParquetStore(tmp_path, cache_bytes=0)
    disabled.read("binance", "BTC/USDT", "1h")
    disabled.read("binance", "BTC/USDT", "1h")
    assert disabled.cache_info().hits == 0


def test_every_read_checks_the_bars_in_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd
    import pyarrow.parquet as pq

    from quantkit.data.store import ParquetStore
    from quantkit.errors import DataError

    store = ParquetStore(tmp_path)
    index = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC")
    frame = pd.DataFrame(
        {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1.0}, index=index
    )
    store.write("x", "A/B", "1h", frame)
    (path,) = [p for p in tmp_path.rglob("*.parquet")]
    table = pq.read_table(path)
    broken = table.set_column(
        table.schema.get_field_index("high"), "high", [[11.0, 11.0, 8.0, 11.0]]
    )
    pq.write_table(broken, path)  # edited by hand behind the store's back
    store.clear_cache()
    with pytest.raises(DataError, match=r"row 2: high 8\.0 is below max\(open, close\)"):
        store.read_series("x", "A/B", "1h")
