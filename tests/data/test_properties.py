"""Property tests: valid series are reproduced exactly; a single corruption is found at its row."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.data import validate_bars
from quantkit.errors import DataError
from tests.strategies import TIME_FORMS, BarArrays, bars_input, valid_bars

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def expected_timeframe(bars: BarArrays) -> int:
    """The most common gap, the smallest on a tie, computed independently of the library."""
    counts = Counter(np.diff(bars.times).tolist())
    best = max(counts.values())
    return min(gap for gap, count in counts.items() if count == best)


@PROPERTY_SETTINGS
@given(
    bars=valid_bars(), form=st.sampled_from(TIME_FORMS), label=st.sampled_from(["open", "close"])
)
def test_any_valid_series_is_reproduced_exactly(bars: BarArrays, form: str, label: str) -> None:
    single = len(bars) == 1
    if not single:
        assert expected_timeframe(bars) == bars.timeframe
    stamped = bars if label == "open" else replace(bars, times=bars.times + bars.timeframe)
    data, extra = bars_input(stamped, form)
    timeframe = bars.timeframe if single else None
    series = validate_bars(
        data,  # type: ignore[arg-type]
        symbol="BTC/USDT",
        source="generated",
        timeframe=timeframe,
        label=label,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )
    assert series.symbol == "BTC/USDT"
    assert series.timeframe == bars.timeframe
    np.testing.assert_array_equal(series.open_time, bars.times)
    np.testing.assert_array_equal(series.close_time, bars.times + bars.timeframe)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(series, name), getattr(bars, name))


PRICES = ("open", "high", "low", "close")


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object], int, str]:
    """A valid series with exactly one corrupted row: (data, kwargs, row, expected words)."""
    bars = draw(valid_bars())
    count = len(bars)
    row = draw(st.integers(0, count - 1))
    columns = bars.columns()
    times = bars.times.astype("datetime64[ns]")
    kinds = ["not-finite", "not-positive", "negative-volume", "high-below", "low-above"]
    if row > 0:
        kinds += ["duplicate", "backwards", "overlap"]
    kinds += ["unparsable", "missing-time"]
    kind = draw(st.sampled_from(kinds))
    kwargs: dict[str, object] = {"timeframe": bars.timeframe} if count == 1 else {}
    time_values: object = times
    if kind == "not-finite":
        name = draw(st.sampled_from((*PRICES, "volume")))
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        columns[name][row] = value
        words = f"{name} is {value!r}"
    elif kind == "not-positive":
        name = draw(st.sampled_from(PRICES))
        columns[name][row] = -draw(st.floats(0.0, 1e6))
        words = f"{name} is "
    elif kind == "negative-volume":
        columns["volume"][row] = -draw(st.floats(1e-9, 1e6))
        words = "volume must be >= 0"
    elif kind == "high-below":
        top = max(columns["open"][row], columns["close"][row])
        bottom = min(columns["open"][row], columns["close"][row])
        inside = top > bottom and draw(st.booleans())  # in the candle's body, or below it
        low_end = bottom if inside else top * 0.01
        columns["high"][row] = draw(st.floats(low_end, top, exclude_max=True))
        words = "is below max(open, close)"
    elif kind == "low-above":
        top = max(columns["open"][row], columns["close"][row])
        bottom = min(columns["open"][row], columns["close"][row])
        inside = top > bottom and draw(st.booleans())
        high_end = top if inside else bottom * 100.0
        columns["low"][row] = draw(st.floats(bottom, high_end, exclude_min=True))
        words = "is above min(open, close)"
    elif kind == "duplicate":
        times[row] = times[row - 1]
        kwargs = {"timeframe": bars.timeframe}  # a duplicate can change the inferred spacing
        words = "duplicate timestamp"
    elif kind == "backwards":
        times[row] = times[row - 1] - np.timedelta64(draw(st.integers(1, 10**12)), "ns")
        words = "is earlier than the previous row's"
    elif kind == "overlap":
        times[row] = times[row - 1] + np.timedelta64(draw(st.integers(1, bars.timeframe - 1)), "ns")
        kwargs = {"timeframe": bars.timeframe}
        words = "so the bars would overlap"
    elif kind == "missing-time":
        times[row] = np.datetime64("NaT")
        words = "timestamp is missing"
    else:  # unparsable
        text = list(np.datetime_as_string(times, unit="ns"))
        text[row] = draw(st.sampled_from(["", "n/a", "2024-02-30", "yesterday"]))
        time_values = text
        words = "cannot parse timestamp"
    return {"time": time_values, **columns}, kwargs, row, words


@PROPERTY_SETTINGS
@given(case=corrupted())
def test_a_single_corruption_is_reported_at_exactly_its_row(
    case: tuple[dict[str, object], dict[str, object], int, str],
) -> None:
    data, kwargs, row, words = case
    with pytest.raises(DataError) as caught:
        validate_bars(data, symbol="X", source="corrupted.csv", **kwargs)  # type: ignore[arg-type]
    assert caught.value.source == "corrupted.csv"
    assert caught.value.row == row
    assert words in caught.value.problem
