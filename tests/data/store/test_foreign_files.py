"""Files in the store's tree that are not the store's: a clear error naming them, or ignored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantkit.data.store import ParquetStore
from quantkit.errors import StoreError

from .bars import make_frame, partition_files


def _foreign(path: Path) -> None:
    """A Parquet file of another schema: trades, not bars."""
    table = pa.table({"time": pa.array([1, 2], pa.int64()), "price": [1.0, 2.0]})
    pq.write_table(table, path)


def test_a_foreign_file_named_like_a_partition_in_a_legacy_directory_is_named(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "binance" / "BTC_USDT" / "1h"
    directory.mkdir(parents=True)
    _foreign(directory / "2024.parquet")  # a directory without a manifest: listed by name
    store = ParquetStore(tmp_path)
    with pytest.raises(StoreError, match=r"1h/2024\.parquet: not a partition of this store"):
        store.read("binance", "BTC/USDT", "1h")
    with pytest.raises(StoreError, match=r"2024\.parquet: not a partition.*'time' is int64"):
        store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 5))


def test_stray_files_beside_a_manifest_are_ignored(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 30)
    store.write("binance", "BTC/USDT", "1h", frame)
    directory = tmp_path / "binance" / "BTC_USDT" / "1h"
    _foreign(directory / "2023.parquet")
    _foreign(directory / "export.parquet")
    (directory / "notes.txt").write_text("mine")
    pd.testing.assert_frame_equal(store.read("binance", "BTC/USDT", "1h"), frame, check_freq=False)
    assert store.entries()["rows"].tolist() == [30]
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-03-01", 5))  # a commit, and a GC
    assert (directory / "notes.txt").read_text() == "mine"
    assert (directory / "export.parquet").exists()


def test_a_committed_file_replaced_by_a_foreign_one_is_named(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 30))
    path = partition_files(tmp_path / "binance" / "BTC_USDT" / "1h")["2024.parquet"]
    _foreign(path)
    with pytest.raises(StoreError, match=rf"{path.name}: not a partition.*'time' is int64"):
        store.read("binance", "BTC/USDT", "1h")
    with pytest.raises(StoreError, match=rf"{path.name}: not a partition"):
        store.entries()
