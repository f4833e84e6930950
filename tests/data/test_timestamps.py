"""Tests of timestamp parsing (quantkit.data._timestamps) through its public entry points."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from quantkit.data import validate_bars
from quantkit.data._timestamps import detect_epoch_unit, format_ns, parse_instant, parse_timestamps
from quantkit.errors import ConfigError, DataError
from tests.strategies import NS, hourly_bars

JAN_1 = 1_704_067_200 * NS  # 2024-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (JAN_1, "2024-01-01T00:00:00Z"),
        (JAN_1 + 1, "2024-01-01T00:00:00.000000001Z"),
        (0, "1970-01-01T00:00:00Z"),
    ],
)
def test_format_ns(nanoseconds: int, text: str) -> None:
    assert format_ns(nanoseconds) == text


@pytest.mark.parametrize(
    ("magnitude", "unit"),
    [
        (0, "s"),
        (1.7e9, "s"),
        (99_999_999_999, "s"),
        (1e11, "ms"),
        (1.7e12, "ms"),
        (99_999_999_999_999, "ms"),
        (1e14, "us"),
        (1.7e15, "us"),
        (99_999_999_999_999_999, "us"),
        (1e17, "ns"),
        (1.7e18, "ns"),
    ],
)
def test_detect_epoch_unit(magnitude: float, unit: str) -> None:
    assert detect_epoch_unit(magnitude) == unit


def test_epochs_before_1970_are_accepted() -> None:
    parsed = parse_timestamps(np.array([-3600, 0]), source="x", unit="s")
    assert parsed.first_bad == -1
    assert parsed.ns.tolist() == [-3600 * NS, 0]


@pytest.mark.parametrize(
    ("values", "unit", "row", "problem"),
    [
        (
            np.array([JAN_1 // 10**6, 10**17]),
            "ms",
            1,
            "timestamp 100000000000000000 (epoch in ms) is outside the representable range",
        ),
        (
            np.array([-(10**17), JAN_1 // 10**6]),
            "ms",
            0,
            "timestamp -100000000000000000 (epoch in ms) is outside",
        ),
        (np.array([1.7e9, np.nan, 1.7e9 + 60]), None, 1, "timestamp is missing"),
        (np.array([1.7e9, 1.7e9 + 60, np.inf]), None, 2, "timestamp is missing"),
        (np.array([1.7e9, 1e300]), "s", 1, "timestamp 1e+300 (epoch in s) is outside"),
        (
            pd.array([JAN_1 // NS, None, JAN_1 // NS + 60], dtype="Int64"),
            None,
            1,
            "timestamp is missing",
        ),
        (pd.array([1.7e9, None], dtype="Float64"), None, 1, "timestamp is missing"),
        (["2024-01-01", "soon"], None, 1, "cannot parse timestamp 'soon'"),
        (["2024-01-01", None, "soon"], None, 1, "timestamp is missing"),
        (["2024-01-01", "3000-01-01"], None, 1, "timestamp 3000-01-01 00:00:00+00:00 is outside"),
        (
            pd.Series(["2024-01-01", "later"], dtype="string"),
            None,
            1,
            "cannot parse timestamp 'later'",
        ),
        (
            np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"),
            None,
            1,
            "timestamp is missing",
        ),
        (
            np.array(["2024-01-01", "2500-01-01"], dtype="datetime64[s]"),
            None,
            1,
            "timestamp 2500-01-01 00:00:00 is outside",
        ),
    ],
)
def test_unconvertible_rows(values: object, unit: str | None, row: int, problem: str) -> None:
    parsed = parse_timestamps(values, source="x", unit=unit)  # type: ignore[arg-type]
    assert parsed.first_bad == row
    assert parsed.problem.startswith(problem)


def test_unconvertible_rows_reach_the_user_with_row_and_source() -> None:
    data = {**hourly_bars(3).columns(), "time": ["2024-01-01 00:00", "2024-01-01 01:00", "?"]}
    with pytest.raises(DataError) as caught:
        validate_bars(data, symbol="X", source="x.csv")
    assert (caught.value.source, caught.value.row) == ("x.csv", 2)
    assert caught.value.problem == "cannot parse timestamp '?'"


@pytest.mark.parametrize(
    "values",
    [np.array([True, False]), pd.Series([True, False], dtype="boolean")],
    ids=["numpy-bool", "nullable-bool"],
)
def test_booleans_are_not_timestamps(values: object) -> None:
    with pytest.raises(DataError, match="timestamps must be datetimes, strings or integer epochs"):
        parse_timestamps(values, source="x")


def test_the_more_successful_parse_attempt_is_reported() -> None:
    # Not ISO 8601 at all: the ISO attempt fails at row 0, pandas' inference only at row 2.
    parsed = parse_timestamps(["01/02/2024", "01/03/2024", "31/01/2024"], source="x")
    assert parsed.first_bad == 2
    assert parsed.problem == "cannot parse timestamp '31/01/2024'"


def test_pyarrow_backed_strings_and_timestamps() -> None:
    strings = pd.Series(["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"], dtype="string[pyarrow]")
    assert parse_timestamps(strings, source="x").ns.tolist() == [JAN_1, JAN_1 + 3600 * NS]
    stamps = pd.Series(pd.to_datetime(strings, utc=True)).astype("timestamp[ms, tz=UTC][pyarrow]")
    assert parse_timestamps(stamps, source="x").ns.tolist() == [JAN_1, JAN_1 + 3600 * NS]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01", JAN_1),
        ("2024-01-01T01:00:00+01:00", JAN_1),
        ("2024-01-01 00:00:00Z", JAN_1),
        (dt.date(2024, 1, 1), JAN_1),
        (dt.datetime(2024, 1, 1), JAN_1),
        (dt.datetime(2023, 12, 31, 19, tzinfo=dt.timezone(dt.timedelta(hours=-5))), JAN_1),
        (pd.Timestamp("2024-01-01 09:00", tz="Asia/Tokyo"), JAN_1),
        (np.datetime64("2024-01-01T00:00"), JAN_1),
    ],
)
def test_parse_instant(value: object, expected: int) -> None:
    assert parse_instant(value, name="start") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1_704_067_200, "start must be a date string"),
        (None, "start must be a date string"),
        ("yesterday-ish", "start='yesterday-ish' is not a date or time"),
        ("NaT", "start='NaT' is not a date or time"),
    ],
)
def test_parse_instant_rejects(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_instant(value, name="start")  # type: ignore[arg-type]
