"""Range arithmetic: runs of bars, holes, clipping."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from quantkit.data.store.ranges import TimeRange, clip, runs, subtract, to_time_ranges


def test_runs_split_where_bars_are_not_consecutive() -> None:
    assert runs(np.array([], dtype=np.int64), 10) == []
    assert runs(np.array([5]), 10) == [(5, 15)]
    assert runs(np.array([0, 10, 20, 35, 45, 100]), 10) == [(0, 30), (35, 55), (100, 110)]


def test_time_ranges_are_pairs_of_utc_timestamps() -> None:
    time_range = TimeRange.from_ns(0, 3_600 * 10**9)
    start, end = time_range
    assert start == pd.Timestamp("1970-01-01", tz="UTC")
    assert end == pd.Timestamp("1970-01-01 01:00", tz="UTC")
    assert time_range.to_ns() == (0, 3_600 * 10**9)
    assert to_time_ranges([(0, 1)]) == [TimeRange.from_ns(0, 1)]


def test_subtract_and_clip_examples() -> None:
    assert subtract((0, 100), []) == [(0, 100)]
    assert subtract((0, 100), [(-5, 200)]) == []
    assert subtract((0, 100), [(-5, 0), (100, 120)]) == [(0, 100)]
    assert subtract((0, 100), [(10, 20), (20, 30), (90, 100)]) == [(0, 10), (30, 90)]
    assert clip([(0, 10), (20, 30)], (10, 20)) == []


intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 10)), max_size=6)


@given(st.integers(0, 50), st.integers(1, 50), intervals)
def test_subtract_matches_a_point_by_point_model(start: int, length: int, raw: list) -> None:
    # Disjoint sorted ranges from (gap, length) pairs.
    covered, cursor = [], 0
    for gap, size in raw:
        cursor += gap
        covered.append((cursor, cursor + size))
        cursor += size
    window = (start, start + length)
    holes = subtract(window, covered)
    expected = {t for t in range(*window) if not any(a <= t < b for a, b in covered)}
    got = {t for a, b in holes for t in range(a, b)}
    assert got == expected
    assert all(a < b for a, b in holes)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(holes))
    assert {t for a, b in clip(covered, window) for t in range(a, b)} == set(range(*window)) - got
