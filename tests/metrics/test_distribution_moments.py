"""Skewness and kurtosis computed together give exactly what the two functions give apart."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantkit.metrics.distribution import _skew_and_kurtosis, excess_kurtosis, skewness


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 50, 10_001])
@pytest.mark.parametrize("seed", [1, 2])
def test_together_equals_apart_bit_for_bit(size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = pd.Series(rng.standard_t(4, size) * 0.01)
    skew, kurtosis = _skew_and_kurtosis(returns)
    assert _same(skew, skewness(returns))
    assert _same(kurtosis, excess_kurtosis(returns))
    assert math.isnan(skew) == (size < 3)
    assert math.isnan(kurtosis) == (size < 4)


def test_hand_computed_values_and_a_flat_series() -> None:
    # r = 0, 0, 0.03: mean 0.01, d = -0.01, -0.01, 0.02; m2 = 6e-4 / 3, m3 = 6e-6 / 3
    skew, kurtosis = _skew_and_kurtosis(pd.Series([0.0, 0.0, 0.03]))
    assert skew == pytest.approx(math.sqrt(6) * 2e-6 / (2e-4) ** 1.5)  # = sqrt(3)
    assert math.isnan(kurtosis)  # three returns: no kurtosis
    assert all(math.isnan(v) for v in _skew_and_kurtosis(pd.Series([0.01] * 10)))
