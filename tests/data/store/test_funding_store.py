"""FundingStore: validated, merged, atomic and locked writes of funding rates; gaps."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from quantkit.data import FundingSeries
from quantkit.data.store import FundingStore, ParquetStore, TimeRange
from quantkit.errors import ConfigError, DataError, StoreError
from tests.strategies import FUNDING_ORIGIN_NS, FUNDING_STEP_NS, funding_chunks

from .bars import make_frame

EX, SYM = "binanceusdm", "BTC/USDT:USDT"
H8_MS = 28_800_000
JAN_1_MS = 1_704_067_200_000


def rates(first_ms: int, count: int, *, step_ms: int = H8_MS, seed: int = 0) -> FundingSeries:
    rng = np.random.default_rng(seed)
    rows = [
        (first_ms + k * step_ms, float(np.round(rng.normal(1e-4, 3e-4), 8)), 40_000.0 + k)
        for k in range(count)
    ]
    return FundingSeries.from_rows(rows)


def test_round_trip_by_year(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    series = rates(JAN_1_MS - 2 * H8_MS, 5)  # 2023-12-31 08:00 .. 2024-01-01 16:00
    report = store.write(EX, SYM, series)
    assert (report.rows, report.added, report.replaced) == (5, 5, 0)
    assert sorted(report.partitions) == ["2023.parquet", "2024.parquet"]
    assert report.gaps == ()
    back = store.read(EX, SYM)
    assert back.time.tolist() == series.time.tolist()
    assert back.rate.tolist() == series.rate.tolist()
    assert back.mark_price.tolist() == series.mark_price.tolist()
    assert store.read(EX, SYM, "2024-01-01").time.tolist() == series.time[2:].tolist()
    assert store.read(EX, SYM, end="2024-01-01").time.tolist() == series.time[:2].tolist()
    assert len(store.read(EX, "ETH/USDT:USDT")) == 0
    directory = tmp_path / "binanceusdm" / "BTC_USDT+USDT" / "funding"
    assert (directory / "manifest.json").is_file()


def test_writing_the_same_rates_again_adds_nothing(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    store.write(EX, SYM, rates(JAN_1_MS, 6))
    again = store.write(EX, SYM, rates(JAN_1_MS, 9))
    assert (again.added, again.replaced, again.partitions) == (3, 0, ("2024.parquet",))
    assert store.write(EX, SYM, rates(JAN_1_MS, 9)).partitions == ()
    assert len(store.read(EX, SYM)) == 9


def test_a_conflicting_rate_is_refused_unless_overwritten(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    store.write(EX, SYM, rates(JAN_1_MS, 3))
    other = FundingSeries.from_rows([(JAN_1_MS + H8_MS, 0.0005, None)])
    with pytest.raises(DataError, match=r"2024-01-01T08:00:00Z is 0\.0005 .* overwrite=True"):
        store.write(EX, SYM, other)
    assert store.read(EX, SYM).rate.tolist() == rates(JAN_1_MS, 3).rate.tolist()
    report = store.write(EX, SYM, other, overwrite=True)
    assert (report.added, report.replaced) == (0, 1)
    back = store.read(EX, SYM)
    assert back.rate[1] == 0.0005 and back.mark_price[1] == 40_001.0  # unknown mark kept


def test_a_missing_mark_price_is_filled_in(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    store.write(EX, SYM, FundingSeries.from_rows([(JAN_1_MS, 1e-4, None)]))
    report = store.write(EX, SYM, FundingSeries.from_rows([(JAN_1_MS, 1e-4, 42_000.0)]))
    assert (report.added, report.replaced) == (0, 1)
    assert store.read(EX, SYM).mark_price.tolist() == [42_000.0]


@pytest.mark.parametrize(
    ("stored_ms", "new_ms"),
    [
        (JAN_1_MS, JAN_1_MS + 3),  # the same funding with 3 ms of jitter
        (JAN_1_MS - 30_000, JAN_1_MS),  # across the year boundary
    ],
)
def test_one_funding_twice_is_refused(tmp_path: Path, stored_ms: int, new_ms: int) -> None:
    store = FundingStore(tmp_path)
    store.write(EX, SYM, FundingSeries.from_rows([(stored_ms, 1e-4, None)]))
    with pytest.raises(DataError, match="less than a minute apart"):
        store.write(EX, SYM, FundingSeries.from_rows([(new_ms, 1e-4, None)]))
    assert store.read(EX, SYM).time.tolist() == [stored_ms * 1_000_000]


def test_a_refused_write_changes_nothing_in_any_year(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    store.write(EX, SYM, rates(JAN_1_MS, 3))
    before = sorted(p.name for p in tmp_path.rglob("*.parquet"))
    new = rates(JAN_1_MS - 3 * H8_MS, 6, seed=7)  # 2023 rates fine, 2024 ones conflict
    with pytest.raises(DataError, match="overwrite=True"):
        store.write(EX, SYM, new)
    assert len(store.read(EX, SYM, end="2024-01-01")) == 0
    assert sorted(p.name for p in tmp_path.rglob("*.parquet")) == before


def test_frames_are_validated_with_one_clear_error(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    index = pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC")
    bad = pd.DataFrame({"rate": [1e-4, float("nan"), 2e-4]}, index=index)
    words = r"binanceusdm BTC/USDT:USDT funding: row 1: funding rate nan"
    with pytest.raises(DataError, match=words):
        store.write(EX, SYM, bad)
    with pytest.raises(DataError, match="'rate' column"):
        store.write(EX, SYM, pd.DataFrame({"funding": [1e-4]}, index=index[:1]))
    with pytest.raises(DataError, match="DatetimeIndex"):
        store.write(EX, SYM, pd.DataFrame({"rate": [1e-4]}))
    assert len(store.read(EX, SYM)) == 0 and not any(tmp_path.rglob("*.parquet"))
    naive = pd.DataFrame({"rate": [1e-4, 2e-4]}, index=index[:2].tz_localize(None))
    assert store.write(EX, SYM, naive).added == 2  # naive times are UTC
    assert np.isnan(store.read(EX, SYM).mark_price).all()


def test_gaps_and_missing_ranges_by_hand(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    assert store.missing(EX, SYM, "2024-01-01", "2024-01-03") == [
        TimeRange(pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-03", tz="UTC"))
    ]
    # Jan 1 08:00, 16:00, Jan 2 08:00 (00:00 missing) with 2 ms of jitter on one of them
    rows = [(JAN_1_MS + H8_MS, 1e-4, None), (JAN_1_MS + 2 * H8_MS + 2, 1e-4, None),
            (JAN_1_MS + 4 * H8_MS, 1e-4, None)]  # fmt: skip
    report = store.write(EX, SYM, FundingSeries.from_rows(rows))
    gap = TimeRange(
        pd.Timestamp("2024-01-01 16:00:00.002000001", tz="UTC"),
        pd.Timestamp("2024-01-02 08:00", tz="UTC"),
    )
    assert report.gaps == (gap,)
    missing = store.missing(EX, SYM, "2024-01-01", "2024-01-03")
    assert missing == [
        TimeRange(pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01 08:00", tz="UTC")),
        gap,
        TimeRange(
            pd.Timestamp("2024-01-02 08:00:00.000000001", tz="UTC"),
            pd.Timestamp("2024-01-03", tz="UTC"),
        ),
    ]
    # a window starting after 00:00 misses nothing before 08:00; one ending at 16:00 nothing after
    assert store.missing(EX, SYM, "2024-01-01 01:00", "2024-01-01 16:00:01") == []
    with pytest.raises(ConfigError, match="at least a minute"):
        store.missing(EX, SYM, "2024-01-01", "2024-01-02", interval="1s")


def test_bar_catalog_ignores_funding(tmp_path: Path) -> None:
    FundingStore(tmp_path).write(EX, SYM, rates(JAN_1_MS, 3))
    bars = ParquetStore(tmp_path)
    bars.write(EX, SYM, "1h", make_frame("2024-01-01", 24))
    entries = bars.entries()
    assert entries[["exchange", "symbol", "timeframe"]].values.tolist() == [[EX, SYM, "1h"]]


def test_concurrent_writers_of_one_series_lose_nothing(tmp_path: Path) -> None:
    """Two stores on one root, in two threads, each writing its own rates one at a time."""
    halves = [rates(JAN_1_MS + k * H8_MS, 1, seed=k) for k in range(40)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(part: list[FundingSeries]) -> None:
        store = FundingStore(tmp_path)
        start.wait()
        try:
            for series in part:
                store.write(EX, SYM, series)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(halves[k::2],)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    back = FundingStore(tmp_path).read(EX, SYM)
    assert back.time.tolist() == [JAN_1_MS * 1_000_000 + k * H8_MS * 1_000_000 for k in range(40)]
    assert back.rate.tolist() == [h.rate[0] for h in halves]


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    store.write(EX, SYM, rates(JAN_1_MS, 2))
    (path,) = (tmp_path / "binanceusdm" / "BTC_USDT+USDT" / "funding").glob("2024*.parquet")
    ParquetStore(tmp_path / "other").write(EX, SYM, "1h", make_frame("2024-01-01", 2))
    (bar_file,) = (tmp_path / "other").rglob("2024*.parquet")
    path.write_bytes(bar_file.read_bytes())
    with pytest.raises(StoreError, match="not a funding file"):
        store.read(EX, SYM)
    with pytest.raises(ConfigError, match="lock_timeout"):
        FundingStore(tmp_path, lock_timeout=-1)


@given(case=funding_chunks())
@settings(max_examples=25)
def test_any_overlapping_writes_in_any_order_store_each_rate_once(
    case: tuple[list[int], list[float], list[tuple[int, int]]],
) -> None:
    times, rate_values, chunks = case
    with tempfile.TemporaryDirectory() as root:
        store = FundingStore(root)
        whole = FundingSeries(np.array(times), np.array(rate_values), np.full(len(times), np.nan))
        added = 0
        for first, stop in chunks:
            part = FundingSeries(whole.time[first:stop], whole.rate[first:stop],
                                 whole.mark_price[first:stop])  # fmt: skip
            added += store.write(EX, SYM, part).added
        back = store.read(EX, SYM)
        assert added == len(times)
        assert back.time.tolist() == times and back.rate.tolist() == rate_values
        # every grid time of the window lies in a missing range exactly when it is not stored
        start, end = FUNDING_ORIGIN_NS, FUNDING_ORIGIN_NS + 12 * FUNDING_STEP_NS
        holes = [r.to_ns() for r in store.missing(EX, SYM, _ts(start), _ts(end))]
        for grid in range(start, end, FUNDING_STEP_NS):
            inside = any(low <= grid < high for low, high in holes)
            assert inside == (grid not in times), _ts(grid)


def _ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def test_a_hand_built_series_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    store = FundingStore(tmp_path)
    h8 = H8_MS * 1_000_000
    unordered = FundingSeries(np.array([2 * h8, h8]), np.zeros(2), np.full(2, np.nan))
    with pytest.raises(DataError, match=r"row 1: funding time .* is not after"):
        store.write(EX, SYM, unordered)
    assert len(store.read(EX, SYM)) == 0


def test_a_failed_commit_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    store = FundingStore(tmp_path)
    store.write(EX, SYM, rates(JAN_1_MS, 3))
    files_before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())

    def refuse(source: object, target: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StoreError, match=r"cannot write .*read-only file system"):
        store.write(EX, SYM, rates(JAN_1_MS, 6))
    monkeypatch.undo()
    assert len(store.read(EX, SYM)) == 3
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == files_before
    assert repr(store) == f"FundingStore({str(tmp_path)!r})" and store.root == tmp_path
