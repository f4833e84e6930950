"""Quantiles by selection equal numpy's, to the bit, compiled and as plain Python."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.vector.stats_select import SAMPLE, quantile_levels, quantiles


@numba.njit(cache=True)
def _compiled(a: Any, qs: Any, buf: Any, values: Any) -> None:
    quantiles(a, qs, buf, values)


def _check(a: np.ndarray, levels: tuple[float, ...]) -> None:
    qs = quantile_levels(*levels)
    want = np.quantile(a, list(qs))
    for run in (_compiled, quantiles):
        before = a.copy()
        values = np.full(len(qs), np.nan)
        run(a, qs, np.empty(a.size + 1), values)
        assert values.tolist() == want.tolist(), run  # exact, not close
        assert np.array_equal(a, before)  # the input is left untouched


LEVELS = [
    (0.05, 1.0 - 0.95, 0.95),  # the tail rows' levels: a low and a high window
    (0.95, 0.99),  # only high levels: one window
    (0.01, 0.02),  # only low levels
    (0.3, 0.5, 0.55, 0.7),  # windows that meet in the middle: merged
    (0.0, 1.0),  # the extremes
]


@pytest.mark.parametrize("levels", LEVELS)
@pytest.mark.parametrize("pattern", ["normal", "ties", "misleading", "constant"])
def test_long_arrays_are_narrowed_and_exact(levels: tuple[float, ...], pattern: str) -> None:
    """Past 8 x SAMPLE values a strided sample narrows the search; the result stays exact."""
    rng = np.random.default_rng(3)
    n = 9 * SAMPLE + 17
    if pattern == "normal":
        a = rng.normal(0.0, 0.01, n)
    elif pattern == "ties":  # mostly flat, as the returns of a strategy often out of the market
        a = np.where(rng.random(n) < 0.8, 0.0, rng.normal(0.0, 0.01, n))
    elif pattern == "misleading":  # every sampled value is high: the sample's bounds miss
        a = -rng.uniform(0.0, 1e-4, n)
        a[:: n // SAMPLE] = 0.05
    else:
        a = np.full(n, 0.25)
    _check(a, levels)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.just(0.0), st.floats(-1.0, 1.0), st.sampled_from([0.5, -0.5])),
        min_size=1,
        max_size=60,
    ),
    levels=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
)
def test_short_arrays_are_exact(values: list[float], levels: list[float]) -> None:
    _check(np.array(values), tuple(levels))


def test_levels_are_a_sorted_tuple_of_floats() -> None:
    assert quantile_levels(0.95, 0.05, 1) == (0.05, 0.95, 1.0)
