"""What the store holds and lacks: coverage, missing, entries, known gaps, delete."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from quantkit.data.store import ParquetStore, TimeRange
from quantkit.errors import ConfigError, StoreError

from .bars import data_files, make_frame, partition_files, ts


def tr(start: str, end: str) -> TimeRange:
    return TimeRange(ts(start), ts(end))


@pytest.fixture
def holey(tmp_path: Path) -> ParquetStore:
    """Hourly bars on 2024-01-02, 2024-01-04 and 2024-01-05 (a hole on the 3rd)."""
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-02", 24 * 4)
    store.write("binance", "BTC/USDT", "1h", frame[~(frame.index.day == 3)])
    return store


def test_missing_on_an_empty_store_is_the_whole_window(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    assert store.missing("binance", "BTC/USDT", "1h", "2024-01-01", "2024-02-01") == [
        tr("2024-01-01", "2024-02-01")
    ]
    assert store.coverage("binance", "BTC/USDT", "1h") == []


def test_coverage_lists_runs_from_first_open_to_last_close(holey: ParquetStore) -> None:
    assert holey.coverage("binance", "BTC/USDT", "1h") == [
        tr("2024-01-02", "2024-01-03"),
        tr("2024-01-04", "2024-01-06"),
    ]
    assert holey.coverage("binance", "BTC/USDT", "1h", "2024-01-04 12:00", "2024-01-05") == [
        tr("2024-01-04 12:00", "2024-01-05")
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Both ends and the hole.
        (
            "2024-01-01",
            "2024-01-08",
            [
                ("2024-01-01", "2024-01-02"),
                ("2024-01-03", "2024-01-04"),
                ("2024-01-06", "2024-01-08"),
            ],
        ),
        # Fully held.
        ("2024-01-02 05:00", "2024-01-02 09:00", []),
        ("2024-01-04", "2024-01-06", []),
        # Only the hole.
        ("2024-01-02 12:00", "2024-01-05", [("2024-01-03", "2024-01-04")]),
        # Only the start / only the end.
        ("2023-12-31", "2024-01-02 03:00", [("2023-12-31", "2024-01-02")]),
        ("2024-01-05 20:00", "2024-01-07", [("2024-01-06", "2024-01-07")]),
        # Inside the hole, and beyond everything.
        ("2024-01-03 05:00", "2024-01-03 06:00", [("2024-01-03 05:00", "2024-01-03 06:00")]),
        ("2025-01-01", "2025-01-02", [("2025-01-01", "2025-01-02")]),
        # A window starting inside a held bar: that bar covers it.
        ("2024-01-02 05:30", "2024-01-02 06:30", []),
    ],
)
def test_missing_finds_ends_and_holes(
    holey: ParquetStore, start: str, end: str, expected: list[tuple[str, str]]
) -> None:
    assert holey.missing("binance", "BTC/USDT", "1h", start, end) == [tr(*r) for r in expected]


def test_missing_needs_a_valid_window(holey: ParquetStore) -> None:
    with pytest.raises(ConfigError, match="must be before end"):
        holey.missing("binance", "BTC/USDT", "1h", "2024-01-05", "2024-01-01")
    with pytest.raises(ConfigError, match="start must be a date"):
        holey.missing("binance", "BTC/USDT", "1h", 5, "2024-01-01")  # type: ignore[arg-type]


def test_entries_summarise_every_series(holey: ParquetStore) -> None:
    holey.write("binance", "ETH/USDT", "1m", make_frame("2024-01-31 23:00", 120, "1m"))
    holey.write("kraken", "BTC/USD:BTC", "1d", make_frame("2023-06-01", 400, "1d"))
    (holey.root / "notes.txt").write_text("ignored")
    (holey.root / "binance" / "junk~" / "1h").mkdir(parents=True)
    (holey.root / "binance" / "BTC_USDT" / "60m").mkdir()  # not a canonical timeframe name
    (holey.root / "binance" / "BTC_USDT" / "2x").mkdir()  # not a timeframe at all
    (holey.root / "binance" / "ETH_USDT" / "5m").mkdir()  # no partitions
    table = holey.entries()
    assert list(table.columns) == [
        "exchange",
        "symbol",
        "timeframe",
        "first",
        "last",
        "rows",
        "gaps",
        "partitions",
        "bytes",
    ]
    rows = table.drop(columns="bytes").to_dict("records")
    assert rows == [
        {
            "exchange": "binance",
            "symbol": "BTC/USDT",
            "timeframe": "1h",
            "first": ts("2024-01-02"),
            "last": ts("2024-01-05 23:00"),
            "rows": 72,
            "gaps": 1,
            "partitions": 1,
        },
        {
            "exchange": "binance",
            "symbol": "ETH/USDT",
            "timeframe": "1m",
            "first": ts("2024-01-31 23:00"),
            "last": ts("2024-02-01 00:59"),
            "rows": 120,
            "gaps": 0,
            "partitions": 2,
        },
        {
            "exchange": "kraken",
            "symbol": "BTC/USD:BTC",
            "timeframe": "1d",
            "first": ts("2023-06-01"),
            "last": ts("2024-07-04"),
            "rows": 400,
            "gaps": 0,
            "partitions": 2,
        },
    ]
    assert (table["bytes"] > 0).all()
    assert ParquetStore(holey.root / "nothing").entries().empty


def test_delete_a_range_rewrites_edges_and_removes_whole_partitions(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    frame = make_frame("2024-01-01", 60 * 24 * 91, "1m")
    store.write("binance", "BTC/USDT", "1m", frame)
    directory = store.root / "binance" / "BTC_USDT" / "1m"
    march = partition_files(directory)["2024-03.parquet"].stat()
    deleted = store.delete("binance", "BTC/USDT", "1m", "2024-01-31", "2024-03-01")
    assert deleted == 60 * 24 * 30
    assert list(partition_files(directory)) == ["2024-01.parquet", "2024-03.parquet"]
    assert len(data_files(directory)) == 2  # the superseded files are gone
    assert partition_files(directory)["2024-03.parquet"].stat().st_ino == march.st_ino
    assert store.missing("binance", "BTC/USDT", "1m", "2024-01-01", "2024-04-01") == [
        tr("2024-01-31", "2024-03-01")
    ]
    assert store.delete("binance", "BTC/USDT", "1m", "2024-02-01", "2024-03-01") == 0
    # A range inside one partition.
    assert store.delete("binance", "BTC/USDT", "1m", "2024-03-10", "2024-03-10 00:10") == 10
    # A range that holds all of a partition's bars without spanning its whole month.
    store.write("binance", "BTC/USDT", "1m", make_frame("2024-05-10", 30, "1m"))
    assert store.delete("binance", "BTC/USDT", "1m", "2024-05-05", "2024-05-20") == 30
    assert "2024-05.parquet" not in partition_files(directory)
    # Everything from a point on, then everything: the directories go away.
    assert store.delete("binance", "BTC/USDT", "1m", "2024-03-15") == 60 * 24 * 17
    assert store.delete("binance", "BTC/USDT", "1m", end="2024-01-02") == 60 * 24
    assert store.delete("binance", "BTC/USDT", "1m") == 60 * 24 * (29 + 14) - 10
    assert not (store.root / "binance").exists()
    assert store.delete("binance", "BTC/USDT", "1m") == 0


def test_delete_failures_are_store_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ParquetStore(tmp_path)
    store.write("binance", "BTC/USDT", "1h", make_frame("2024-01-01", 5))

    def refuse(source: object, target: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StoreError, match=r"cannot write .*read-only file system"):
        store.delete("binance", "BTC/USDT", "1h", "2024-01-01 02:00")
    monkeypatch.undo()
    assert len(store.read("binance", "BTC/USDT", "1h")) == 5  # nothing was deleted


def test_known_gaps_are_recorded_merged_and_forgotten_on_delete(holey: ParquetStore) -> None:
    assert holey.known_gaps("binance", "BTC/USDT", "1h") == []
    holey.add_known_gaps(
        "binance",
        "BTC/USDT",
        "1h",
        [
            ("2024-01-03", "2024-01-03 12:00"),
            ("2024-01-03 12:00", "2024-01-04"),
            (ts("2023-01-01"), ts("2023-02-01")),
        ],
    )
    assert holey.known_gaps("binance", "BTC/USDT", "1h") == [
        tr("2023-01-01", "2023-02-01"),
        tr("2024-01-03", "2024-01-04"),
    ]
    holey.delete("binance", "BTC/USDT", "1h", "2023-01-15", "2024-01-03 06:00")
    assert holey.known_gaps("binance", "BTC/USDT", "1h") == [
        tr("2023-01-01", "2023-01-15"),
        tr("2024-01-03 06:00", "2024-01-04"),
    ]
    holey.delete("binance", "BTC/USDT", "1h", "2023-01-01", "2024-01-04")
    assert holey.known_gaps("binance", "BTC/USDT", "1h") == []
    holey.delete("binance", "BTC/USDT", "1h")  # no record left to update
    with pytest.raises(ConfigError, match="both a start and an end"):
        holey.add_known_gaps("binance", "BTC/USDT", "1h", [(None, "2024-01-01")])  # type: ignore[list-item]


def test_a_corrupt_known_gaps_record_is_a_store_error(holey: ParquetStore) -> None:
    path = holey.root / "binance" / "BTC_USDT" / "1h" / "known_gaps.json"
    path.write_text('{"ranges": [[1]]}')
    with pytest.raises(StoreError, match="not a known-gaps file"):
        holey.known_gaps("binance", "BTC/USDT", "1h")
    path.write_text("[not json")
    with pytest.raises(StoreError, match="not a known-gaps file"):
        holey.known_gaps("binance", "BTC/USDT", "1h")


def test_entries_and_coverage_agree_after_many_writes(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    full = make_frame("2024-01-01", 24 * 10)
    for day in (1, 2, 4, 7, 8):
        store.write("binance", "BTC/USDT", "1h", full[full.index.day == day])
    runs = store.coverage("binance", "BTC/USDT", "1h")
    assert runs == [
        tr("2024-01-01", "2024-01-03"),
        tr("2024-01-04", "2024-01-05"),
        tr("2024-01-07", "2024-01-09"),
    ]
    entry = store.entries().iloc[0]
    assert (entry["rows"], entry["gaps"]) == (24 * 5, len(runs) - 1)
    back = store.read("binance", "BTC/USDT", "1h")
    pd.testing.assert_frame_equal(
        back, full[full.index.day.isin([1, 2, 4, 7, 8])], check_freq=False
    )
