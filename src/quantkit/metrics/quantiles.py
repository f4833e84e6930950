"""Exact sample quantiles by selection: numpy's default ``"linear"`` method, several at once.

`np.quantile` copies and partitions its input on every call; the statistics table asks for
three quantiles of the same returns (VaR, and the tail ratio's 5th and 95th percentiles), so
`linear_quantiles` partitions one copy once on every order statistic they need and
interpolates each exactly as numpy does (``numpy/lib/_function_base_impl.py``: ``_quantile``,
``_get_indexes`` and ``_lerp``). The results equal ``np.quantile(values, q)`` bit for bit;
the one exception is the sign of a zero result when the array holds both ``0.0`` and ``-0.0``
at the selected rank (the two compare equal, so which one a partition puts there is
arbitrary).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["linear_quantiles"]


def _neighbours(n: int, q: float) -> tuple[int, int, float]:
    """Return the two order statistics around quantile ``q`` of ``n`` values, and the weight.

    numpy's rule: the virtual index is ``(n - 1) * q``; at or beyond the last index both
    neighbours are the maximum (index -1), below 0 both are the minimum, and the weight is the
    virtual index minus the lower neighbour's index as numpy stores it (-1 for the maximum).
    """
    virtual = (n - 1) * q
    if virtual >= n - 1:
        return n - 1, n - 1, virtual + 1.0
    if virtual < 0:
        return 0, 0, virtual
    below = math.floor(virtual)
    return below, below + 1, virtual - below


def _lerp(a: float, b: float, t: float) -> float:
    """Interpolate as numpy's ``_lerp``: from the nearer end (``t = 1`` gives ``b``)."""
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


def linear_quantiles(values: FloatArray, qs: Sequence[float]) -> list[float]:
    """Return the ``qs`` quantiles of ``values`` with numpy's ``"linear"`` method.

    One partition of one copy serves every quantile; ``values`` is left untouched. For a
    percentile ``p`` pass ``p / 100`` (what ``np.percentile`` does).

    Args:
        values: A 1-D float array; NaN anywhere makes every quantile NaN, as in numpy.
        qs: Quantiles, each in [0, 1].

    Returns:
        One float per quantile, in the order given; NaN for each when ``values`` is empty.

    Raises:
        ConfigError: If a quantile is not a number in [0, 1].

    Examples:
        >>> linear_quantiles(np.array([3.0, 1.0, 2.0, 4.0]), [0.5, 0.05])
        [2.5, 1.15]
    """
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"a quantile must lie in [0, 1], got {q!r}")
    n = int(values.size)
    if n == 0:
        return [math.nan] * len(qs)
    spots = [_neighbours(n, float(q)) for q in qs]
    kth = sorted({0, n - 1, *(i for lo, hi, _ in spots for i in (lo, hi))})
    ordered = np.partition(np.asarray(values, dtype=np.float64), kth)
    if math.isnan(ordered[-1]):  # NaNs sort last, as in numpy
        return [math.nan] * len(qs)
    return [_lerp(float(ordered[lo]), float(ordered[hi]), t) for lo, hi, t in spots]
