"""Quantiles by selection equal numpy's, bit for bit, and the statistics table's rows with them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantkit.errors import ConfigError
from quantkit.metrics.quantiles import linear_quantiles
from quantkit.metrics.stats import compute_stats


def _bits(values: list[float]) -> list[int]:
    """The IEEE bit patterns, with every NaN folded to one pattern (numpy's payload is free)."""
    array = np.array(values, dtype=np.float64)
    array[np.isnan(array)] = np.nan
    return [int(v) for v in array.view(np.int64)]


# Few distinct values make ties likely; no -0.0 (its sign at a tie is arbitrary, see the module).
_ELEMENTS = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.25, 1e-300, -2.5e10]),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda v: v != 0.0),
)
_QS = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0, 0.05, 1.0 - 0.95, 0.95, 0.5]), st.floats(0.0, 1.0)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(values=arrays(np.float64, st.integers(0, 60), elements=_ELEMENTS), qs=_QS)
def test_equals_np_quantile_bit_for_bit(values: np.ndarray, qs: list[float]) -> None:
    before = values.copy()
    got = linear_quantiles(values, qs)
    expected = [float(np.quantile(values, q)) if values.size else math.nan for q in qs]
    assert _bits(got) == _bits(expected)
    assert np.array_equal(values, before)  # the input is left untouched


@settings(max_examples=100, deadline=None)
@given(
    values=arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    nan_at=st.integers(0, 39),
    qs=_QS,
)
def test_a_nan_anywhere_gives_nan_as_numpy(
    values: np.ndarray, nan_at: int, qs: list[float]
) -> None:
    values[nan_at % values.size] = np.nan
    expected = [float(np.quantile(values, q)) for q in qs]
    assert all(math.isnan(v) for v in expected)
    assert all(math.isnan(v) for v in linear_quantiles(values, qs))


def test_percentiles_as_np_percentile_and_hand_values() -> None:
    rng = np.random.default_rng(7)
    values = rng.standard_t(3, 100_001) * 0.01
    assert linear_quantiles(values, [5.0 / 100, 95.0 / 100]) == [
        float(v) for v in np.percentile(values, [5.0, 95.0])
    ]
    # 1..5 sorted: position (5-1)*0.3 = 1.2 -> 2 + 0.2 * (3 - 2); 0.9 -> 3.6 -> 4.6
    assert linear_quantiles(np.array([5.0, 1.0, 4.0, 2.0, 3.0]), [0.3, 0.9]) == [
        pytest.approx(2.2, abs=1e-15),
        pytest.approx(4.6, abs=1e-15),
    ]
    assert linear_quantiles(np.array([7.0]), [0.0, 0.5, 1.0]) == [7.0, 7.0, 7.0]


@pytest.mark.parametrize("q", [-0.1, 1.5, math.nan])
def test_a_quantile_outside_0_1_is_refused(q: float) -> None:
    with pytest.raises(ConfigError, match="quantile must lie in"):
        linear_quantiles(np.array([1.0, 2.0]), [0.5, q])


@pytest.mark.parametrize("size", [3, 4, 21, 1_000, 100_003])
def test_the_table_rows_equal_numpy_computed_apart(size: int) -> None:
    rng = np.random.default_rng(size)
    times = pd.date_range("2024-01-01", periods=size, freq="1h", tz="UTC")
    values = 1_000.0 * np.cumprod(1.0 + rng.standard_t(3, size) * 0.01)
    values[size // 2 :: 7] = values[size // 2]  # ties among the returns (zeros)
    stats = compute_stats(
        pd.Series(values, index=times), pd.DataFrame({"pnl": []}), periods_per_year=8760.0
    )
    r = values[1:] / values[:-1] - 1.0
    var = float(np.quantile(r, 1.0 - 0.95))
    low, high = np.percentile(r, [5.0, 95.0])
    assert stats["VaR 95% [%]"] == 100.0 * var
    assert stats["CVaR 95% [%]"] == 100.0 * float(np.mean(r[r <= var]))
    assert _bits([stats["Tail ratio"]]) == _bits([float(abs(high) / abs(low)) if low else math.nan])
    assert stats["Sharpe ratio"] == float(np.mean(r)) / float(np.std(r, ddof=1)) * math.sqrt(8760.0)
