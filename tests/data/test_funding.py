"""FundingSeries and validate_funding: the shape funding history travels in, checked once."""

from __future__ import annotations

import numpy as np
import pytest

from quantkit.data import FundingSeries
from quantkit.data.funding import validate_funding
from quantkit.errors import DataError

H8 = 8 * 3_600 * 10**9


def test_rows_in_ms_become_ns_arrays() -> None:
    rows = [(1_704_067_200_000, 1e-4, 42_000.5), (1_704_096_000_000, -3e-4, None)]
    series = FundingSeries.from_rows(rows)
    assert series.time.dtype == np.int64 and series.rate.dtype == np.float64
    assert series.time.tolist() == [1_704_067_200_000_000_000, 1_704_096_000_000_000_000]
    assert series.rate.tolist() == [1e-4, -3e-4]
    assert series.mark_price[0] == 42_000.5 and np.isnan(series.mark_price[1])
    assert not series.time.flags.writeable  # read-only, like stored bars
    frame = series.frame()
    assert list(frame.columns) == ["rate", "mark_price"]
    assert str(frame.index[0].tz) == "UTC"
    assert frame.index[1].isoformat() == "2024-01-01T08:00:00+00:00"


def test_window_is_half_open() -> None:
    series = FundingSeries.from_rows([(k * 28_800_000, 1e-4, None) for k in range(5)])
    assert series.window(H8, 3 * H8).time.tolist() == [H8, 2 * H8]
    assert len(series.window(None, 0)) == 0 and len(series.window(4 * H8 + 1)) == 0


@pytest.mark.parametrize(
    ("time", "rate", "mark", "row", "words"),
    [
        ([0, H8, H8], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], 2, "not after the previous row"),
        ([H8, 0], [0.0, 0.0], [1.0, 1.0], 1, "not after the previous row"),
        ([0, H8], [0.0, float("nan")], [1.0, 1.0], 1, "funding rate nan"),
        ([0, H8], [1.0, 0.0], [1.0, 1.0], 0, "below 1 in size"),
        ([0, H8], [0.0, float("inf")], [1.0, 1.0], 1, "funding rate inf"),
        ([0, H8], [0.0, 0.0], [1.0, -5.0], 1, "mark price -5.0"),
        ([0, H8], [0.0, 0.0], [0.0, 1.0], 0, "mark price 0.0"),
    ],
)
def test_each_bad_row_is_one_error_naming_the_row(
    time: list[int], rate: list[float], mark: list[float], row: int, words: str
) -> None:
    with pytest.raises(DataError, match=words) as caught:
        validate_funding(np.array(time), np.array(rate), np.array(mark), source="venue X")
    assert caught.value.row == row and caught.value.source == "venue X"


def test_the_earliest_bad_row_is_reported_whatever_its_kind() -> None:
    with pytest.raises(DataError) as caught:
        validate_funding(np.array([0, H8, H8]), np.array([0.0, 2.0, 0.0]), np.ones(3), source="s")
    assert caught.value.row == 1 and "below 1" in caught.value.problem


def test_columns_of_different_lengths() -> None:
    with pytest.raises(DataError, match="one length"):
        validate_funding(np.array([0, 1]), np.zeros(1), np.ones(2))
