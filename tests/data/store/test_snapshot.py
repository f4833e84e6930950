"""StoreSnapshot: lazy Polars frames over the store, pruned, and pinned to one version."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quantkit
from quantkit.data.store import ParquetStore, StoreSnapshot
from quantkit.errors import ConfigError, DataError, StoreError

from .bars import data_files, make_frame, partition_files
from .snapshot_writer import SYMBOLS, version

pl = pytest.importorskip("polars")

WRITER = str(Path(__file__).with_name("snapshot_writer.py"))
DEADLINE_S = 300.0


def _store(root: Path) -> ParquetStore:
    """Two series of one-minute bars over January to March 2024 (three monthly partitions)."""
    store = ParquetStore(root, cache_bytes=0)
    for seed, symbol in enumerate(("BTC/USDT", "ETH/USDT")):
        store.write("binance", symbol, "1m", make_frame("2024-01-01", 91 * 1440, "1m", seed=seed))
    return store


def _as_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """A collected scan of one symbol as the frame `ParquetStore.read` returns."""
    times = frame.get_column("time").to_numpy().astype("datetime64[ns]")
    index = pd.DatetimeIndex(times, name="time").tz_localize("UTC")
    columns = {name: frame.get_column(name).to_numpy() for name in ("open", "high", "low")}
    columns |= {name: frame.get_column(name).to_numpy() for name in ("close", "volume")}
    return pd.DataFrame(columns, index=index)


def test_a_scan_holds_exactly_the_stored_bars_of_the_window(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.snapshot("binance", ["BTC/USDT", "ETH/USDT"], "1m") as snap:
        got = snap.scan("2024-01-31 12:00", "2024-02-02").collect()
    assert got.columns == ["time", "open", "high", "low", "close", "volume", "symbol"]
    assert got.schema["time"] == pl.Datetime("ns", "UTC")
    assert got.get_column("symbol").to_list() == ["BTC/USDT"] * 2160 + ["ETH/USDT"] * 2160
    for symbol in ("BTC/USDT", "ETH/USDT"):
        one = got.filter(pl.col("symbol") == symbol)
        want = store.read("binance", symbol, "1m", "2024-01-31 12:00", "2024-02-02")
        pd.testing.assert_frame_equal(_as_pandas(one), want, check_freq=False)


def test_the_plan_lists_only_the_partitions_of_the_window_and_symbols(tmp_path: Path) -> None:
    store = _store(tmp_path)
    directory = tmp_path / "binance" / "BTC_USDT" / "1m"
    with store.snapshot("binance", ["BTC/USDT", "ETH/USDT"], "1m") as snap:
        plan = snap.scan("2024-02-03", "2024-02-10", symbols=["BTC/USDT"]).explain()
        assert snap.files("BTC/USDT") == tuple(partition_files(directory).values())
    scans = [line for line in plan.splitlines() if "SCAN" in line]
    assert len(scans) == 1
    assert "symbol=BTC%2FUSDT/2024-02.parquet" in scans[0]
    assert "2024-01" not in scans[0]
    assert "2024-03" not in scans[0]
    assert "ETH" not in scans[0]
    assert "other sources" not in scans[0]  # one file, and only that one


def test_files_outside_the_window_or_the_symbol_filter_are_never_opened(tmp_path: Path) -> None:
    """Deleting every other file under the snapshot leaves the query's answer unchanged."""
    store = _store(tmp_path)
    want = store.read("binance", "ETH/USDT", "1m", "2024-02-03", "2024-02-10")
    btc = partition_files(tmp_path / "binance" / "BTC_USDT" / "1m")
    eth = partition_files(tmp_path / "binance" / "ETH_USDT" / "1m")
    with store.snapshot("binance", ["BTC/USDT", "ETH/USDT"], "1m") as snap:
        frame = snap.scan("2024-02-03", "2024-02-10").filter(pl.col("symbol") == "ETH/USDT")
        for path in [*btc.values(), eth["2024-01.parquet"], eth["2024-03.parquet"]]:
            os.unlink(path)  # by hand, so that opening any of them fails
        got = frame.collect()
    assert got.get_column("symbol").unique().to_list() == ["ETH/USDT"]
    pd.testing.assert_frame_equal(_as_pandas(got), want, check_freq=False)


def test_time_filters_are_pushed_into_the_scan_for_row_group_pruning(tmp_path: Path) -> None:
    store = _store(tmp_path)
    cut = pl.lit(pd.Timestamp("2024-02-20", tz="UTC").value).cast(pl.Datetime("ns", "UTC"))
    with store.snapshot("binance", "BTC/USDT", "1m") as snap:
        frame = snap.scan("2024-02-01", "2024-03-01").filter(pl.col("time") < cut)
        plan = frame.explain()
        rows = frame.select(pl.len()).collect().item()
    assert rows == 19 * 1440
    lines = [line.strip() for line in plan.splitlines()]
    scan = next(i for i, line in enumerate(lines) if "SCAN" in line)
    assert not any(line.startswith("FILTER") for line in lines)  # no filter left above it
    selection = next(line for line in lines[scan:] if line.startswith("SELECTION:"))
    assert selection.count('col("time")') == 3  # the window's two edges and the user's cut


def test_an_empty_window_is_an_empty_frame_with_the_schema(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.snapshot("binance", "BTC/USDT", "1m") as snap:
        got = snap.scan("2025-01-01", "2025-02-01").collect()
    assert got.height == 0
    assert got.schema["time"] == pl.Datetime("ns", "UTC")
    assert got.columns == ["time", "open", "high", "low", "close", "volume", "symbol"]


def test_bad_arguments_raise_one_clear_error(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(DataError, match=r"binance BTC/USDC 1m.*holds no bars.*BTC/USDT"):
        store.snapshot("binance", ["BTC/USDC"], "1m")
    with pytest.raises(ConfigError, match=r"more than once: \['BTC/USDT'\]"):
        store.snapshot("binance", ["BTC/USDT", "BTC/USDT"], "1m")
    with pytest.raises(ConfigError, match="at least one symbol"):
        store.snapshot("binance", [], "1m")
    with store.snapshot("binance", "BTC/USDT", "1m") as snap:
        with pytest.raises(ConfigError, match=r"holds \['BTC/USDT'\], not \['ETH/USDT'\]"):
            snap.scan(symbols=["ETH/USDT"])
        with pytest.raises(ConfigError, match=r"start .* must be before end"):
            snap.scan("2024-02-01", "2024-01-01")
    with pytest.raises(StoreError, match="the snapshot is closed"):
        snap.scan()


def test_a_foreign_file_under_a_partition_name_is_a_store_error(tmp_path: Path) -> None:
    store = _store(tmp_path)
    victim = partition_files(tmp_path / "binance" / "BTC_USDT" / "1m")["2024-02.parquet"]
    pl.DataFrame({"price": [1.0]}).write_parquet(victim)
    with pytest.raises(StoreError, match=rf"{victim}.*no column 'time'"):
        store.snapshot("binance", "BTC/USDT", "1m")


def test_without_polars_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path)
    with store.snapshot("binance", "BTC/USDT", "1m") as snap:
        monkeypatch.setitem(sys.modules, "polars", None)
        with pytest.raises(ConfigError, match=r"pip install 'quantkit\[polars\]'"):
            snap.scan()


def test_closing_removes_the_links_and_lets_the_next_write_collect_old_files(
    tmp_path: Path,
) -> None:
    store = ParquetStore(tmp_path, cache_bytes=0)
    store.write("binance", "BTC/USDT", "1m", version(1))
    directory = tmp_path / "binance" / "BTC_USDT" / "1m"
    snap = store.snapshot("binance", "BTC/USDT", "1m")
    links = Path(snap.scan().explain().split("[")[1].split("]")[0]).parents[1]
    assert links.is_dir()
    store.write("binance", "BTC/USDT", "1m", version(2), overwrite=True)
    # version 1 is January's file alone, version 2 a new January and February: the old pinned
    assert len(data_files(directory)) == 3
    snap.close()
    snap.close()  # idempotent
    assert snap.closed
    assert not links.exists()
    store.write("binance", "BTC/USDT", "1m", version(3), overwrite=True)
    assert data_files(directory) == sorted(p.name for p in partition_files(directory).values())


# -- a real writer process -----------------------------------------------------------------------


def _env() -> dict[str, str]:
    src = str(Path(quantkit.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _spawn(root: Path, first: int, last: int, mode: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, WRITER, str(root), str(first), str(last), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert _line(child) == "ready"
    return child


def _line(child: subprocess.Popen[str]) -> str:
    """The child's next line of output, waiting at most until the deadline."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], DEADLINE_S)
    if not ready:
        child.kill()
        pytest.fail(f"the writer said nothing for {DEADLINE_S} s: {child.communicate()[1]}")
    line = child.stdout.readline()
    if not line:
        pytest.fail(f"the writer died: {child.communicate(timeout=60)[1]}")
    return line.strip()


def _version_of(frame: pl.DataFrame) -> int:
    """Which version a series' rows are; fails unless all of them are that one version."""
    days = frame.height // 1440
    want = version(days)
    assert frame.height == len(want), "a partial day: a write seen half-done"
    np.testing.assert_array_equal(frame.get_column("close").to_numpy(), want["close"].to_numpy())
    np.testing.assert_array_equal(frame.get_column("high").to_numpy(), want["high"].to_numpy())
    return days


def test_a_snapshot_keeps_its_version_while_a_writer_process_commits(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path, cache_bytes=0)
    for symbol in SYMBOLS:
        store.write("binance", symbol, "1m", version(2))
    writer = _spawn(tmp_path, 3, 4, "step")
    try:
        for k in (2, 3):
            with store.snapshot("binance", list(SYMBOLS), "1m") as snap:
                before = snap.scan()  # built before the write, collected after it
                assert writer.stdin is not None
                writer.stdin.write("go\n")
                writer.stdin.flush()
                assert _line(writer) == f"committed {k + 1}"
                after = snap.scan()  # built after the write, from the same snapshot
                for frame in (before.collect(), after.collect()):
                    for symbol in SYMBOLS:
                        assert _version_of(frame.filter(pl.col("symbol") == symbol)) == k
                # the writer did commit: a plain read sees the new version already
                assert len(store.read("binance", "BTC/USDT", "1m")) == (k + 1) * 1440
            with store.snapshot("binance", list(SYMBOLS), "1m") as fresh:
                frame = fresh.scan().collect()
            for symbol in SYMBOLS:
                assert _version_of(frame.filter(pl.col("symbol") == symbol)) == k + 1
        assert _line(writer) == "done"
    finally:
        writer.kill()
        writer.communicate(timeout=60)


def test_every_scan_sees_one_version_while_a_writer_runs_free(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path, cache_bytes=0)
    for symbol in SYMBOLS:
        store.write("binance", symbol, "1m", version(1))
    writer = _spawn(tmp_path, 2, 6, "run")
    seen: set[int] = set()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while writer.poll() is None and time.monotonic() < deadline:
            with store.snapshot("binance", list(SYMBOLS), "1m") as snap:
                frame = snap.scan("2024-01-31").collect()
            for symbol in SYMBOLS:
                seen.add(_version_of(frame.filter(pl.col("symbol") == symbol)))
        out, err = writer.communicate(timeout=DEADLINE_S)
    finally:
        writer.kill()
    assert writer.returncode == 0, err
    assert out.split()[-1] == "done"
    assert seen <= {1, 2, 3, 4, 5, 6}
    with store.snapshot("binance", list(SYMBOLS), "1m") as snap:
        final = snap.scan().collect()
    assert {_version_of(final.filter(pl.col("symbol") == s)) for s in SYMBOLS} == {6}


def test_the_snapshot_type_is_public(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.snapshot("binance", "BTC/USDT", "1m") as snap:
        assert isinstance(snap, StoreSnapshot)
        assert repr(snap) == "StoreSnapshot('binance', ['BTC/USDT'], '1m', open)"
        assert snap.symbols == ("BTC/USDT",)
        assert snap.timeframe == "1m"
    assert quantkit.StoreSnapshot is StoreSnapshot
