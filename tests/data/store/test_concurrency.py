"""Writers lose nothing, readers never fail, a write is all or nothing: real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quantkit
from quantkit.data.store import ParquetStore
from quantkit.errors import ConfigError, DataError, StoreError

from .bars import data_files, make_frame, partition_files

HERE = str(Path(__file__).parent)

_WRITER = """
import sys
sys.path.insert(0, {here!r})
from bars import make_frame
from quantkit.data.store import ParquetStore
store = ParquetStore(sys.argv[1], cache_bytes=0)
frame = make_frame("2024-01-01", {chunks} * 24)
parity = int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for chunk in range(parity, {chunks}, 2):
    store.write("binance", "BTC/USDT", "1h", frame.iloc[chunk * 24 : (chunk + 1) * 24])
print("done", flush=True)
"""

_APPENDER = """
import sys
sys.path.insert(0, {here!r})
from bars import make_frame
from quantkit.data.store import ParquetStore
store = ParquetStore(sys.argv[1], cache_bytes=0)
frame = make_frame("2024-01-01", {total}, "1m")
print("ready", flush=True)
sys.stdin.readline()
for row in range({base}, {total}):
    if row == {half}:  # let the parent read once mid-run, whatever the scheduler does
        print("half", flush=True)
        sys.stdin.readline()
    store.write("binance", "BTC/USDT", "1m", frame.iloc[row : row + 1])
print("done", flush=True)
"""

_LOCK_HOLDER = """
import sys
from pathlib import Path
from quantkit.data.store import _locking
from quantkit.data.store.layout import SeriesKey
key = SeriesKey.make("binance", "BTC/USDT", "1h")
with _locking.writing(Path(sys.argv[1]), key, 60.0):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def _env() -> dict[str, str]:
    src = str(Path(quantkit.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line in ("ready\n", "holding\n"), child.communicate(timeout=60)[1]
    return child


def _go(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


def test_two_writer_processes_of_one_series_lose_no_bar(tmp_path: Path) -> None:
    chunks = 30  # 30 days of hourly bars, all in the partition 2024.parquet
    code = _WRITER.format(here=HERE, chunks=chunks)
    writers = [_spawn(code, str(tmp_path), str(parity)) for parity in (0, 1)]
    for writer in writers:
        _go(writer)
    for writer in writers:
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
        assert out == "done\n"
    got = ParquetStore(tmp_path).read("binance", "BTC/USDT", "1h")
    pd.testing.assert_frame_equal(got, make_frame("2024-01-01", chunks * 24), check_freq=False)


def test_two_store_objects_in_two_threads_lose_no_bar(tmp_path: Path) -> None:
    frame = make_frame("2024-01-01", 40 * 24)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(parity: int) -> None:
        store = ParquetStore(tmp_path, cache_bytes=0)
        start.wait()
        try:
            for chunk in range(parity, 40, 2):
                store.write("binance", "BTC/USDT", "1h", frame.iloc[chunk * 24 : (chunk + 1) * 24])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(parity,)) for parity in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = ParquetStore(tmp_path).read("binance", "BTC/USDT", "1h")
    pd.testing.assert_frame_equal(got, frame, check_freq=False)


def test_a_second_writer_waits_then_fails_naming_the_holder(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path, lock_timeout=0.3)
    frame = make_frame("2024-01-01", 48)
    store.write("binance", "BTC/USDT", "1h", frame.iloc[:24])
    holder = _spawn(_LOCK_HOLDER, str(tmp_path))
    try:
        with pytest.raises(StoreError, match=rf"another writer \(pid {holder.pid} on host .*0.3 s"):
            store.write("binance", "BTC/USDT", "1h", frame)
        assert len(store.read("binance", "BTC/USDT", "1h")) == 24  # nothing written, reads work
    finally:
        holder.communicate("\n", timeout=60)
    assert store.write("binance", "BTC/USDT", "1h", frame).added == 24


def test_full_reads_never_fail_while_another_process_appends_bar_by_bar(tmp_path: Path) -> None:
    base, appended = 100_000, 80  # three monthly partitions, then one bar at a time
    total = base + appended
    frame = make_frame("2024-01-01", total, "1m")
    ParquetStore(tmp_path).write("binance", "BTC/USDT", "1m", frame.iloc[:base])
    half = base + appended // 2
    code = _APPENDER.format(here=HERE, base=base, total=total, half=half)
    appender = _spawn(code, str(tmp_path))
    reader = ParquetStore(tmp_path, cache_bytes=0)
    expected_open = frame["open"].to_numpy()
    sizes: list[int] = []

    def read_once() -> int:
        series = reader.read_series("binance", "BTC/USDT", "1m")
        n = len(series)
        assert base <= n <= total
        assert series.open_time[-1] == frame.index.asi8[n - 1]
        np.testing.assert_array_equal(series.open, expected_open[:n])
        assert not sizes or n >= sizes[-1]
        sizes.append(n)
        return n

    _go(appender)
    try:
        assert appender.stdout is not None
        while appender.poll() is None and read_once() < half:
            pass
        assert appender.stdout.readline() == "half\n"  # paused mid-run: one read sees that
        assert read_once() == half
        _go(appender)
        while appender.poll() is None and read_once() < total:
            pass
    finally:
        _, err = appender.communicate(timeout=600)
    assert appender.returncode == 0, err
    assert any(base < n < total for n in sizes), sizes  # reads overlapped the appends
    assert len(reader.read_series("binance", "BTC/USDT", "1m")) == total


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB tmpfs, if this machine lets us mount one (root in a container may not)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


# January holds 100 bars (a small file), February 41,760 (about 2 MB): a write of both fails
# after January's new file is written, when February's does not fit.
_OLD = ("2024-01-31 22:20", 100 + 29 * 1440, "1m")

_FSIZE_WRITER = """
import resource, signal, sys
sys.path.insert(0, {here!r})
from bars import make_frame
from quantkit.data.store import ParquetStore
from quantkit.errors import ConfigError, DataError, StoreError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file over the limit: EFBIG, not death
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    ParquetStore(sys.argv[1]).write(
        "binance", "BTC/USDT", "1m", make_frame(*{old!r}, seed=1), overwrite=True
    )
except StoreError as exc:
    print(exc)
    sys.exit(3)
"""


def _assert_unchanged(store: ParquetStore, committed: dict[str, Path]) -> None:
    """The same files are committed, no new file is left, the bars are the old ones."""
    directory = store.root / "binance" / "BTC_USDT" / "1m"
    assert partition_files(directory) == committed
    assert data_files(directory) == sorted(path.name for path in committed.values())
    assert not [name for name in os.listdir(directory) if name.startswith(".tmp-")]
    got = store.read("binance", "BTC/USDT", "1m")
    pd.testing.assert_frame_equal(got, make_frame(*_OLD), check_freq=False)


def test_a_write_spanning_partitions_is_all_or_nothing_on_a_full_disk(small_disk: Path) -> None:
    store = ParquetStore(small_disk / "store")
    store.write("binance", "BTC/USDT", "1m", make_frame(*_OLD))
    committed = partition_files(store.root / "binance" / "BTC_USDT" / "1m")
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * (free - 300_000))  # room for a new January, not a new February
    new = make_frame(*_OLD, seed=1)
    with pytest.raises(StoreError, match=r"cannot write .*2024-0[12]\.[0-9a-f]{12}\.parquet"):
        store.write("binance", "BTC/USDT", "1m", new, overwrite=True)
    _assert_unchanged(store, committed)
    filler.unlink()
    store.write("binance", "BTC/USDT", "1m", new, overwrite=True)
    pd.testing.assert_frame_equal(store.read("binance", "BTC/USDT", "1m"), new, check_freq=False)


def test_a_write_spanning_partitions_is_all_or_nothing_over_a_file_size_limit(
    tmp_path: Path,
) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1m", make_frame(*_OLD))
    committed = partition_files(tmp_path / "binance" / "BTC_USDT" / "1m")
    child = subprocess.run(
        [sys.executable, "-c", _FSIZE_WRITER.format(here=HERE, old=_OLD), str(tmp_path)],
        capture_output=True,
        check=False,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert child.returncode == 3, child.stderr
    assert re.search(r"cannot write .*2024-02\.[0-9a-f]{12}\.parquet.*File too large", child.stdout)
    _assert_unchanged(store, committed)


def test_reading_creates_nothing_where_there_is_no_store(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "nowhere")
    with pytest.raises(DataError, match="holds no bars"):
        store.read("binance", "BTC/USDT", "1h")
    assert store.coverage("binance", "BTC/USDT", "1h") == []
    assert store.entries().empty
    assert not (tmp_path / "nowhere").exists()


def test_a_negative_lock_timeout_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lock_timeout must be >= 0 seconds, got -1"):
        ParquetStore(tmp_path, lock_timeout=-1)
