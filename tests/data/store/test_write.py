"""Writing to the store: validation, merging, partitions touched, atomic replacement."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.data import validate_bars
from quantkit.data.store import ParquetStore, TimeRange, _arrow
from quantkit.errors import ConfigError, DataError, StoreError

from .bars import HOUR, data_files, make_frame, partition_files, ts


def series_dir(store: ParquetStore, timeframe: str = "1h", symbol: str = "BTC_USDT") -> Path:
    return store.root / "binance" / symbol / timeframe


def test_write_then_read_gives_the_same_bars(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2023-12-31 20:00", 30)
    report = store.write("binance", "BTC/USDT", "1h", frame)
    assert (report.rows, report.added, report.replaced, report.gaps) == (30, 30, 0, ())
    assert report.partitions == ("2023.parquet", "2024.parquet")
    assert (report.exchange, report.symbol, report.timeframe) == ("binance", "BTC/USDT", "1h")
    back = store.read("binance", "BTC/USDT", "1h")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    assert back.index.name == "time"
    assert str(back.index.tz) == "UTC"
    assert back.attrs["symbol"] == "BTC/USDT"
    assert list(partition_files(series_dir(store))) == ["2023.parquet", "2024.parquet"]
    assert len(data_files(series_dir(store))) == 2


def test_write_accepts_mappings_series_and_close_labels(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 10)
    closes = frame.reset_index()
    closes["time"] = closes["time"] + pd.Timedelta(hours=1)
    store.write("binance", "A/B", "1h", closes, label="close")
    mapping = {"stamp": frame.index.asi8 // 10**6, **{c: frame[c].to_numpy() for c in frame}}
    store.write("binance", "C/D", "1h", mapping, time_column="stamp", time_unit="ms")
    series = validate_bars(frame, symbol="E/F")
    store.write("binance", "E/F", "1h", series)
    for symbol in ("A/B", "C/D", "E/F"):
        pd.testing.assert_frame_equal(
            store.read("binance", symbol, "1h"), frame, check_freq=False, check_like=True
        )


def test_a_series_of_another_timeframe_is_refused(tmp_path: Path) -> None:
    series = validate_bars(make_frame("2024-01-01", 10), symbol="BTC/USDT")
    with pytest.raises(DataError, match="has 1h bars, not 1m ones"):
        ParquetStore(tmp_path).write("binance", "BTC/USDT", "1m", series)


def test_invalid_bars_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "store")
    frame = make_frame("2024-01-01", 10)
    frame.iloc[4, frame.columns.get_loc("high")] = -1.0
    with pytest.raises(DataError, match="binance BTC/USDT 1h: row 4"):
        store.write("binance", "BTC/USDT", "1h", frame)
    assert not store.root.exists()


def test_gaps_are_allowed_and_reported(tmp_path: Path) -> None:
    frame = make_frame("2024-01-01", 10).drop(
        index=[ts("2024-01-01 03:00"), ts("2024-01-01 04:00")]
    )
    report = ParquetStore(tmp_path).write("binance", "BTC/USDT", "1h", frame)
    assert report.gaps == (TimeRange(ts("2024-01-01 03:00"), ts("2024-01-01 05:00")),)


def test_identical_bars_merge_and_unchanged_partitions_are_not_rewritten(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 48)
    store.write("binance", "BTC/USDT", "1h", frame.iloc[:30])
    path = partition_files(series_dir(store))["2024.parquet"]
    before = path.stat()
    again = store.write("binance", "BTC/USDT", "1h", frame.iloc[:30])
    assert (again.added, again.partitions) == (0, ())
    assert partition_files(series_dir(store))["2024.parquet"] == path
    assert path.stat().st_ino == before.st_ino
    more = store.write("binance", "BTC/USDT", "1h", frame.iloc[20:])
    assert (more.added, more.partitions) == (18, ("2024.parquet",))
    pd.testing.assert_frame_equal(store.read("binance", "BTC/USDT", "1h"), frame, check_freq=False)


def test_conflicting_values_raise_naming_the_timestamp_unless_overwrite(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 24)
    store.write("binance", "BTC/USDT", "1h", frame)
    changed = frame.iloc[10:14].copy()
    changed.iloc[2, changed.columns.get_loc("volume")] = 123.0
    with pytest.raises(DataError) as info:
        store.write("binance", "BTC/USDT", "1h", changed)
    message = str(info.value)
    assert "2024-01-01T12:00:00Z" in message
    assert "row 2" in message
    assert "volume" in message
    assert "close" not in message  # only the values that differ are named
    assert "overwrite=True" in message
    pd.testing.assert_frame_equal(store.read("binance", "BTC/USDT", "1h"), frame, check_freq=False)
    report = store.write("binance", "BTC/USDT", "1h", changed, overwrite=True)
    assert (report.added, report.replaced) == (0, 1)
    expected = frame.copy()
    expected.iloc[12, expected.columns.get_loc("volume")] = 123.0
    pd.testing.assert_frame_equal(
        store.read("binance", "BTC/USDT", "1h"), expected, check_freq=False
    )


def test_a_conflict_in_any_partition_writes_nothing(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-12-31 22:00", 2))
    new = make_frame("2023-12-31 22:00", 8, seed=5)  # 2023 is new, 2024's first hours conflict
    new = pd.concat([new.iloc[:2], make_frame("2024-12-31 22:00", 2, seed=9)])
    with pytest.raises(DataError, match="conflicts"):
        store.write("binance", "BTC/USDT", "1h", new)
    assert list(partition_files(series_dir(store))) == ["2024.parquet"]
    assert len(data_files(series_dir(store))) == 1


def test_bars_off_the_stored_grid_are_refused(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 10))
    with pytest.raises(DataError, match="less than the 1h timeframe apart"):
        store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01 05:30", 2))


def test_overlap_across_a_partition_boundary_is_refused(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-31 23:50", 10, "1m"))
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-03-01 00:00", 10, "1m"))
    with pytest.raises(DataError, match="2024-01-31T23:59:00Z and 2024-01-31T23:59:30Z"):
        store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-31 23:59:30", 1, "1m"))
    with pytest.raises(DataError, match="2024-02-29T23:59:30Z and 2024-03-01T00:00:00Z"):
        store.write("binance", "BTC/USDT", "1m", make_frame("2024-02-29 23:59:30", 1, "1m"))
    ok = store.write("binance", "BTC/USDT", "1m", make_frame("2024-02-10", 3, "1m"))
    assert ok.partitions == ("2024-02.parquet",)


def test_boundaries_are_checked_around_each_touched_partition(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    for month in ("2024-01-10", "2024-02-10", "2024-03-10", "2024-04-10", "2024-05-10"):
        store.write("binance", "BTC/USDT", "1m", make_frame(month, 10, "1m"))
    # January and May are touched, March is neither touched nor next to them.
    new = pd.concat(
        [make_frame("2024-01-20", 5, "1m", seed=1), make_frame("2024-05-20", 5, "1m", seed=2)]
    )
    report = store.write("binance", "BTC/USDT", "1m", new)
    assert report.partitions == ("2024-01.parquet", "2024-05.parquet")
    assert len(store.read("binance", "BTC/USDT", "1m")) == 60


def test_appending_a_month_does_not_rewrite_older_partitions(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    day = 60 * 24
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-01-01", 60 * day, "1m"))
    files = partition_files(series_dir(store, "1m"))
    older = {name: path.stat() for name, path in files.items()}
    assert list(older) == ["2024-01.parquet", "2024-02.parquet"]
    march = make_frame("2024-03-01", 31 * day, "1m", seed=3)
    report = store.write("binance", "BTC/USDT", "1m", march)
    assert report.partitions == ("2024-03.parquet",)
    assert {
        n: p for n, p in partition_files(series_dir(store, "1m")).items() if n in older
    } == files
    for name, stat in older.items():
        now = files[name].stat()
        assert (now.st_ino, now.st_mtime_ns, now.st_size) == (
            stat.st_ino,
            stat.st_mtime_ns,
            stat.st_size,
        )
    assert len(store.read("binance", "BTC/USDT", "1m")) == 91 * day


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 48)
    store.write("binance", "BTC/USDT", "1h", frame.iloc[:24])

    def crash(source: object, target: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError, match="disk on fire"):
        store.write("binance", "BTC/USDT", "1h", frame.iloc[24:])
    monkeypatch.undo()
    assert list(partition_files(series_dir(store))) == ["2024.parquet"]
    assert len(data_files(series_dir(store))) == 1
    assert not [n for n in os.listdir(series_dir(store)) if n.startswith(".tmp-")]
    pd.testing.assert_frame_equal(
        store.read("binance", "BTC/USDT", "1h"), frame.iloc[:24], check_freq=False
    )


def test_an_interrupt_while_writing_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetStore(tmp_path)
    real_fsync = _arrow._fsync

    def interrupted(path: Path, flags: int) -> None:
        real_fsync(path, flags)
        raise KeyboardInterrupt

    monkeypatch.setattr(_arrow, "_fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 5))
    assert os.listdir(series_dir(store)) == []


def test_fsync_of_a_directory_that_cannot_be_opened_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_directories(path: object, flags: int, *args: object) -> int:
        if Path(str(path)).is_dir():
            raise PermissionError("directories cannot be opened here (as on Windows)")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_directories)
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 5))
    assert len(store.read("binance", "BTC/USDT", "1h")) == 5

    def nothing_opens(path: object, flags: int, *args: object) -> int:
        raise PermissionError("no")

    monkeypatch.setattr(os, "open", nothing_opens)
    with pytest.raises(StoreError, match=r"cannot (write|create the lock)"):
        store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-02", 5))


CRASH = """
import os, sys
import pandas as pd
from quantkit.data.store import ParquetStore
sys.path.insert(0, {tests!r})
from bars import make_frame

store = ParquetStore({root!r})
real_replace = os.replace
def die(source, target):
    # The temp file is complete and flushed; the process dies before the rename.
    os._exit(17)
os.replace = die
store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 48).iloc[24:])
"""


def test_a_process_killed_mid_write_leaves_the_old_data_readable(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 48)
    store.write("binance", "BTC/USDT", "1h", frame.iloc[:24])
    # A half-written temp file from an earlier crash, and a truncated one from this crash.
    directory = series_dir(store)
    (directory / ".tmp-0123456789ab-2024.parquet").write_bytes(b"PAR1 garbage")
    code = CRASH.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, check=False, capture_output=True
    )
    assert result.returncode == 17, result.stderr.decode()
    temps = sorted(name for name in os.listdir(directory) if name.startswith(".tmp-"))
    assert len(temps) == 2  # the crash left its complete temp file behind
    fresh = ParquetStore(tmp_path)
    pd.testing.assert_frame_equal(
        fresh.read("binance", "BTC/USDT", "1h"), frame.iloc[:24], check_freq=False
    )
    assert fresh.coverage("binance", "BTC/USDT", "1h") == [
        TimeRange(ts("2024-01-01"), ts("2024-01-02"))
    ]
    assert fresh.entries()["rows"].tolist() == [24]
    # Writing again completes the interrupted write, and its commit removes the crash's leftovers.
    fresh.write("binance", "BTC/USDT", "1h", frame.iloc[24:])
    assert len(fresh.read("binance", "BTC/USDT", "1h")) == 48
    assert not [name for name in os.listdir(directory) if name.startswith(".tmp-")]
    assert len(data_files(directory)) == 1


def test_compression_is_configurable(tmp_path: Path) -> None:
    for codec in ("zstd", "none"):
        store = ParquetStore(tmp_path / codec, compression=codec)
        store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 5))
        assert len(store.read("binance", "BTC/USDT", "1h")) == 5
    with pytest.raises(ConfigError, match="compression"):
        ParquetStore(tmp_path, compression="rar")


def test_unwritable_root_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match=r"cannot create the lock .*Not a directory"):
        ParquetStore(blocker).write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 5))


def test_hourly_partitions_hold_whole_years(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2023-06-01", 24 * 365))
    assert list(partition_files(series_dir(store))) == ["2023.parquet", "2024.parquet"]
    times = store.read("binance", "BTC/USDT", "1h").index.asi8
    assert np.all(np.diff(times) == HOUR)
