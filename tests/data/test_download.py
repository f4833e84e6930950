"""Resumable downloads into the store, against an in-memory venue that records its requests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import numpy as np
import pandas as pd
import pytest

import quantkit.data.downloader as download_module
from quantkit.data.downloader import DownloadReport, adownload, download
from quantkit.data.fetch import RetryPolicy
from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.data.store import ParquetStore, TimeRange
from quantkit.errors import ConfigError, TransientError, VenueUnavailableError

from .store.bars import make_frame, ts

NO_RETRY = RetryPolicy(max_attempts=1)


class MemoryVenue:
    """An OhlcvSource serving one frame of bars; it records every request's ``since``."""

    def __init__(self, frame: pd.DataFrame, *, limit: int = 500, fail_on: int | None = None):
        self.frame = frame
        self.times_ms = frame.index.asi8 // 10**6
        self.values = frame[["open", "high", "low", "close", "volume"]].to_numpy()
        self.limit = limit
        self.fail_on = fail_on
        self.since: list[pd.Timestamp] = []
        self.closed = 0

    @property
    def id(self) -> str:
        return "memvenue"

    @property
    def timeframes(self) -> Sequence[str]:
        return ("1m", "1h", "1d", "1w")

    @property
    def ohlcv_limit(self) -> int:
        return self.limit

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        self.since.append(pd.Timestamp(since_ms, unit="ms", tz="UTC"))
        if self.fail_on is not None and len(self.since) == self.fail_on:
            raise VenueUnavailableError("venue down")
        first = int(np.searchsorted(self.times_ms, since_ms))
        return [
            (int(t), *map(float, row))  # type: ignore[misc]
            for t, row in zip(
                self.times_ms[first : first + limit],
                self.values[first : first + limit],
                strict=True,
            )
        ]

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        return []

    async def aclose(self) -> None:
        self.closed += 1

    def asked_within(self, *ranges: tuple[str, str]) -> bool:
        return all(any(ts(a) <= s < ts(b) for a, b in ranges) for s in self.since)


def fetch(
    venue: MemoryVenue, store: ParquetStore, start: str, end: str | None, **options: object
) -> DownloadReport:
    venue.since.clear()
    return download(venue, store, "BTC/USDT", venue.frame.attrs["timeframe"], start, end,
                    progress=False, retry=NO_RETRY, **options)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def hourly() -> pd.DataFrame:
    frame = make_frame("2024-01-01", 24 * (31 + 29 + 31 + 30))
    frame.attrs["timeframe"] = "1h"
    return frame


def stored(store: ParquetStore, timeframe: str = "1h") -> pd.DataFrame:
    return store.read("memvenue", "BTC/USDT", timeframe)


def test_a_second_run_asks_for_nothing(tmp_path: Path, hourly: pd.DataFrame) -> None:
    store, venue = ParquetStore(tmp_path), MemoryVenue(hourly)
    first = fetch(venue, store, "2024-01-01", "2024-05-01")
    assert first.added == first.rows == len(hourly)
    assert first.requests == len(venue.since) == 6  # 2,904 bars, 500 a page
    assert first.fetched == (TimeRange(ts("2024-01-01"), ts("2024-05-01")),)
    assert first.window == TimeRange(ts("2024-01-01"), ts("2024-05-01"))
    assert (first.exchange, first.symbol, first.timeframe) == ("memvenue", "BTC/USDT", "1h")
    assert first.complete
    assert venue.closed == 1
    pd.testing.assert_frame_equal(stored(store), hourly, check_freq=False)
    again = fetch(venue, store, "2024-01-01", "2024-05-01")
    assert (again.requests, again.fetched, again.rows, again.added) == (0, (), 0, 0)
    assert venue.since == []
    assert again.complete


def test_after_deleting_a_month_only_that_hole_is_fetched(
    tmp_path: Path, hourly: pd.DataFrame
) -> None:
    store, venue = ParquetStore(tmp_path), MemoryVenue(hourly)
    fetch(venue, store, "2024-01-01", "2024-05-01")
    store.delete("memvenue", "BTC/USDT", "1h", "2024-02-01", "2024-03-01")
    report = fetch(venue, store, "2024-01-01", "2024-05-01")
    assert report.fetched == (TimeRange(ts("2024-02-01"), ts("2024-03-01")),)
    assert report.added == 29 * 24
    assert report.requests == 2
    assert venue.asked_within(("2024-02-01", "2024-03-01"))
    pd.testing.assert_frame_equal(stored(store), hourly, check_freq=False)


def test_widening_the_window_fetches_both_ends_only(tmp_path: Path, hourly: pd.DataFrame) -> None:
    store, venue = ParquetStore(tmp_path), MemoryVenue(hourly)
    fetch(venue, store, "2024-02-01", "2024-03-01")
    report = fetch(venue, store, "2024-01-01", "2024-04-01")
    assert report.fetched == (
        TimeRange(ts("2024-01-01"), ts("2024-02-01")),
        TimeRange(ts("2024-03-01"), ts("2024-04-01")),
    )
    assert venue.asked_within(("2024-01-01", "2024-02-01"), ("2024-03-01", "2024-04-01"))
    assert report.added == (31 + 31) * 24


def test_venue_holes_become_known_gaps_and_are_skipped(
    tmp_path: Path, hourly: pd.DataFrame
) -> None:
    outage = (hourly.index >= ts("2024-01-10")) & (hourly.index < ts("2024-01-10 06:00"))
    listed = hourly[~outage & (hourly.index >= ts("2024-01-05"))]
    listed.attrs["timeframe"] = "1h"
    store, venue = ParquetStore(tmp_path), MemoryVenue(listed)
    first = fetch(venue, store, "2024-01-01", "2024-02-01")
    assert first.gaps == (
        TimeRange(ts("2024-01-01"), ts("2024-01-05")),  # before the listing
        TimeRange(ts("2024-01-10"), ts("2024-01-10 06:00")),  # the outage
    )
    assert first.complete
    assert store.known_gaps("memvenue", "BTC/USDT", "1h") == list(first.gaps)
    assert store.missing("memvenue", "BTC/USDT", "1h", "2024-01-01", "2024-02-01") == list(
        first.gaps
    )
    again = fetch(venue, store, "2024-01-01", "2024-02-01")
    assert (again.requests, again.gaps) == (0, ())
    recheck = fetch(venue, store, "2024-01-01", "2024-02-01", recheck_gaps=True)
    assert recheck.fetched == first.gaps
    assert venue.asked_within(("2024-01-01", "2024-01-05"), ("2024-01-10", "2024-01-10 06:00"))
    assert recheck.added == 0


def test_the_end_the_venue_has_not_published_is_not_a_known_gap(
    tmp_path: Path, hourly: pd.DataFrame
) -> None:
    early = hourly[hourly.index < ts("2024-01-20")]
    early.attrs["timeframe"] = "1h"
    store, venue = ParquetStore(tmp_path), MemoryVenue(early)
    first = fetch(venue, store, "2024-01-15", "2024-02-01")
    assert first.still_missing == (TimeRange(ts("2024-01-20"), ts("2024-02-01")),)
    assert not first.complete
    assert first.gaps == ()
    assert store.known_gaps("memvenue", "BTC/USDT", "1h") == []
    later = MemoryVenue(hourly)
    second = fetch(later, store, "2024-01-15", "2024-02-01")
    assert second.fetched == first.still_missing
    assert second.complete
    assert later.asked_within(("2024-01-20", "2024-02-01"))


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path: Path) -> None:
    minutes = make_frame("2024-01-01", 60 * 24 * 91, "1m")
    minutes.attrs["timeframe"] = "1m"
    store = ParquetStore(tmp_path)
    venue = MemoryVenue(minutes, limit=10_000, fail_on=7)
    with pytest.raises(TransientError, match="venue down"):
        fetch(venue, store, "2024-01-01", "2024-04-01")
    # January (5 pages) was written before the failure in February.
    assert store.coverage("memvenue", "BTC/USDT", "1m") == [
        TimeRange(ts("2024-01-01"), ts("2024-02-01"))
    ]
    venue.fail_on = None
    report = fetch(venue, store, "2024-01-01", "2024-04-01")
    assert report.fetched == (
        TimeRange(ts("2024-02-01"), ts("2024-03-01")),
        TimeRange(ts("2024-03-01"), ts("2024-04-01")),
    )
    assert venue.asked_within(("2024-02-01", "2024-04-01"))
    pd.testing.assert_frame_equal(stored(store, "1m"), minutes, check_freq=False)


def test_the_async_variant_leaves_the_source_open(tmp_path: Path, hourly: pd.DataFrame) -> None:
    store, venue = ParquetStore(tmp_path), MemoryVenue(hourly)

    async def run() -> DownloadReport:
        return await adownload(venue, store, "BTC/USDT", "1h", "2024-01-01", "2024-01-08",
                               progress=False)  # fmt: skip

    report = anyio.run(run)
    assert report.added == 7 * 24
    assert venue.closed == 0


def test_no_end_means_up_to_the_last_closed_bar(
    tmp_path: Path, hourly: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, venue = ParquetStore(tmp_path), MemoryVenue(hourly)
    now = ts("2024-01-03 10:30").value
    monkeypatch.setattr(download_module.time, "time_ns", lambda: now)
    report = fetch(venue, store, "2024-01-01", None)
    assert report.window == TimeRange(ts("2024-01-01"), ts("2024-01-03 10:00"))
    assert stored(store).index[-1] == ts("2024-01-03 09:00")  # it closed at 10:00


def test_windows_are_aligned_to_the_timeframe(tmp_path: Path) -> None:
    weekly = make_frame("2024-01-01", 10, "1w")  # 2024-01-01 is a Monday
    weekly.attrs["timeframe"] = "1w"
    store, venue = ParquetStore(tmp_path), MemoryVenue(weekly)
    report = fetch(venue, store, "2024-01-03", "2024-02-01 12:00")
    assert report.window == TimeRange(ts("2024-01-08"), ts("2024-02-05"))
    assert stored(store, "1w").index.tolist() == [
        ts(d) for d in ("2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29")
    ]
    with pytest.raises(ConfigError, match="holds no whole bar"):
        fetch(MemoryVenue(weekly), store, "2024-01-02", "2024-01-05")
