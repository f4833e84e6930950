"""Exact quantiles by selection, for the compiled statistics: several at once, in one pass.

`quantiles` gives numpy's default ("linear") quantiles of an array, to the bit, without sorting
it: each needs only two order statistics (the values of rank ``k`` and ``k + 1``), and these
are found by selection (Wirth's variant of Hoare's partition, linear on average). A long array
is first narrowed, as Floyd and Rivest's selection does: a strided sample's order statistics, a
few standard deviations of rank either side of the ranks wanted, bound the values worth keeping;
ONE pass over the array then counts the values below each bound and copies those between them,
for a low and a high group of quantiles at once (the value at risk and the tail ratio's 5 % and
95 % quantiles cost one pass together), and only the copies are selected from. When a bound
misses (an unlucky sample) every value is selected from instead: the result is exact either way.

These are numba helpers (``register_jitable``): they compile into their caller
(`quantkit.vector.stats_kernel.reduce_stats`); like it, this module imports numba and is
imported only when the compiled statistics are used.
"""

from __future__ import annotations

import math
from typing import Any

from numba.extending import register_jitable

__all__ = ["SAMPLE", "quantiles"]

SAMPLE = 4096  # values sampled to narrow the search; arrays up to 8 x this are not narrowed


@register_jitable
def _select(a: Any, k: int) -> float:
    """Return the ``k``-th smallest value, moving smaller ones before it and larger after it.

    Wirth's selection (Hoare's partition with a middle pivot): linear on average, in place,
    and quick on the long runs of equal returns of a strategy that is often flat.
    """
    lo, hi = 0, a.size - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return float(a[k])


@register_jitable
def _pair(a: Any, k: int, k1: int) -> tuple[float, float]:
    """The ``k``-th and ``k1``-th (``k`` or ``k + 1``) smallest values; reorders ``a``."""
    low = _select(a, k)
    high = low
    if k1 > k:  # the least value after the k-th: the next order statistic
        high = a[k1]
        for i in range(k1 + 1, a.size):
            high = min(high, a[i])
    return low, float(high)


@register_jitable
def _lerp(position: float, low: float, high: float) -> float:
    """Interpolate as numpy's ``_lerp`` does between the order statistics around ``position``."""
    gamma = position - math.floor(position)
    if gamma >= 0.5:
        return float(high - (high - low) * (1.0 - gamma))
    return float(low + (high - low) * gamma)


@register_jitable
def _ranks(n: int, q: float) -> tuple[float, int, int]:
    """The position of quantile ``q`` among ``n`` values and its two ranks."""
    position = (n - 1) * q
    below = math.floor(position)
    return position, below, min(below + 1, n - 1)


@register_jitable
def _bound(sample: Any, share: float, side: int) -> float:
    """The sample's value a few standard deviations of rank below (-1) or above (+1) ``share``."""
    size = sample.size
    margin = 4 * int(math.sqrt(size * share * (1.0 - share))) + 8
    rank = min(max(int(share * size) + side * margin, 0), size - 1)
    return _select(sample, rank)


@register_jitable
def _windows(a: Any, qs: Any, split: int, buf: Any) -> tuple[float, float, float, float]:
    """Value bounds of the low window (quantiles before ``split``) and the high one (after).

    A window that holds no quantile is empty (``inf, -inf``); windows that would overlap are
    merged into the low one.
    """
    n = a.size
    step = n // SAMPLE
    size = 0
    for i in range(0, n, step):
        buf[size] = a[i]
        size += 1
    sample = buf[:size]
    lo_a, hi_a, lo_b, hi_b = math.inf, -math.inf, math.inf, -math.inf
    if split > 0:
        lo_a = _bound(sample, _ranks(n, qs[0])[1] / n, -1)
        hi_a = _bound(sample, _ranks(n, qs[split - 1])[2] / n, 1)
    if split < len(qs):
        lo_b = _bound(sample, _ranks(n, qs[split])[1] / n, -1)
        hi_b = _bound(sample, _ranks(n, qs[len(qs) - 1])[2] / n, 1)
    if split == 0 or hi_a >= lo_b:  # no low quantile, or overlapping: one window for all
        lo_a, hi_a = min(lo_a, lo_b), max(hi_a, hi_b)
        lo_b, hi_b = math.inf, -math.inf
    return lo_a, hi_a, lo_b, hi_b


@register_jitable
def _narrowed(a: Any, qs: Any, split: int, buf: Any, values: Any) -> bool:
    """`quantiles` from the windows of `_windows`; False (``values`` unset) if a window missed.

    The low window's values are copied to the front of ``buf``, the high one's to its back.
    The pass has no branches: each value is written at both free slots (the next value
    overwrites it unless it was kept), and the counts add comparisons.
    """
    n = a.size
    lo_a, hi_a, lo_b, hi_b = _windows(a, qs, split, buf)
    below_a = kept_a = below_b = kept_b = 0
    for i in range(n):
        v = a[i]
        buf[kept_a] = v
        buf[n - 1 - kept_b] = v
        below_a += v < lo_a
        below_b += v < lo_b
        kept_a += (lo_a <= v) & (v <= hi_a)
        kept_b += (lo_b <= v) & (v <= hi_b)
    for i in range(len(qs)):
        position, k, k1 = _ranks(n, qs[i])
        if i < split or lo_b == math.inf:  # (the high window merged into the low one)
            below, window = below_a, buf[:kept_a]
        else:
            below, window = below_b, buf[n - kept_b : n]
        if k < below or k1 - below >= window.size:
            return False
        low, high = _pair(window, k - below, k1 - below)
        values[i] = _lerp(position, low, high)
    return True


@register_jitable
def quantiles(a: Any, qs: Any, buf: Any, values: Any) -> None:
    """Write numpy's default ("linear") quantiles ``qs`` of ``a`` into ``values``, to the bit.

    Args:
        a: Finite float64 values (left untouched), at least one.
        qs: Quantile levels in increasing order (a tuple of floats, `quantile_levels`).
        buf: Scratch of at least ``a.size`` float64 values.
        values: Output, one value per level.
    """
    n = a.size
    if n > 8 * SAMPLE:
        split = 0
        while split < len(qs) and qs[split] <= 0.5:
            split += 1
        if _narrowed(a, qs, split, buf, values):
            return
    for i in range(n):  # (selection only reorders: one copy serves every level; a loop, as
        buf[i] = a[i]  # a slice assignment compiles numba's shape-mismatch message: seconds)
    for i in range(len(qs)):
        position, k, k1 = _ranks(n, qs[i])
        low, high = _pair(buf[:n], k, k1)
        values[i] = _lerp(position, low, high)


def quantile_levels(*levels: float) -> tuple[float, ...]:
    """The levels of `quantiles` as it takes them: a tuple of floats, sorted.

    (A tuple, not an array: numba compiles it in as constants, where a global array would keep
    the calling kernels out of numba's cache.)
    """
    return tuple(sorted(float(level) for level in levels))
