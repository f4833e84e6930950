"""Drawdown metrics of an equity curve: the drawdown series, its spells, Calmar and Ulcer index.

Every function here takes an **equity** curve: account value at each bar close, on a strictly
increasing ``DatetimeIndex``, with a positive first value. Drawdowns are negative fractions
(``-0.25`` is 25 % below the peak), as in the statistics table and in empyrical.

A dip of less than one part in 10**12 below the running peak is rounding noise, not a drawdown
spell: without this tolerance a spell's dates would change when the same curve is scaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from quantkit.metrics.returns import _growth_rate, _validated_equity, _years

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = [
    "DrawdownPeriod",
    "calmar_ratio",
    "drawdown",
    "drawdown_periods",
    "max_drawdown",
    "max_drawdown_duration",
    "max_drawdown_period",
    "ulcer_index",
]

_NOISE = 1e-12


@dataclass(frozen=True, slots=True)
class DrawdownPeriod:
    """One spell below a previous peak.

    Attributes:
        peak: Timestamp of the peak the spell starts from (the bar before the first bar below).
        trough: Timestamp of the lowest equity of the spell (the first one on a tie).
        recovery: First timestamp at which the equity is back at or above the peak; ``None``
            when it never is (the spell is still open at the last bar).
        depth: ``trough equity / peak equity - 1``, a negative fraction.
        duration: ``recovery - peak``, or ``last timestamp - peak`` when not recovered.
    """

    peak: pd.Timestamp
    trough: pd.Timestamp
    recovery: pd.Timestamp | None
    depth: float
    duration: pd.Timedelta

    @property
    def recovered(self) -> bool:
        """Whether the equity regained the peak before the curve ended."""
        return self.recovery is not None


def _drawdown_values(values: FloatArray) -> FloatArray:
    """Return ``values / running max - 1`` along the first axis (first value positive)."""
    result: FloatArray = values / np.maximum.accumulate(values) - 1.0
    return result


def _spells(values: FloatArray) -> tuple[IntArray, IntArray]:
    """Return the first and last bar positions of each spell below the running peak."""
    return _spells_below(values, np.maximum.accumulate(values))


def _spells_below(values: FloatArray, peaks: FloatArray) -> tuple[IntArray, IntArray]:
    """`_spells` given the running peak ``peaks`` of ``values``."""
    below = values < peaks * (1.0 - _NOISE)
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def drawdown(equity: pd.Series) -> pd.Series:
    """Return the drawdown of an equity curve: how far each point lies below the peak so far.

    ``drawdown_t = e_t / max(e_0, ..., e_t) - 1``. It is 0 at a new peak and negative below
    one; -1 means the equity reached zero, and it falls below -1 only if the equity turned
    negative.

    Args:
        equity: Equity at each bar close on a strictly increasing ``DatetimeIndex``; the first
            value must be positive.

    Returns:
        A float Series named ``"drawdown"`` with the same index as ``equity``.

    Raises:
        DataError: If ``equity`` is not a non-empty Series of finite numbers with a strictly
            increasing ``DatetimeIndex`` and a positive first value.

    Examples:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
        >>> drawdown(pd.Series([100.0, 50.0, 200.0], index=times)).tolist()
        [0.0, -0.5, 0.0]
    """
    import pandas as pd  # noqa: PLC0415  (lazy: `import quantkit` must not load pandas)

    values, index = _validated_equity(equity)
    return pd.Series(_drawdown_values(values), index=index, name="drawdown")


def max_drawdown(equity: pd.Series) -> float:
    """Return the maximum drawdown: ``min_t (e_t / max(e_0, ..., e_t) - 1)``.

    The same number as empyrical's ``max_drawdown`` of the curve's returns (computed there on
    cumulative returns, which are the equity divided by its start).

    Args:
        equity: Equity at each bar close (see `drawdown`).

    Returns:
        A fraction in [-1, 0] for a positive curve (``-0.25`` for a 25 % fall); 0 when the curve
        never falls below a peak; below -1 only for a curve that turns negative.

    Raises:
        DataError: If ``equity`` is unusable (see `drawdown`).
    """
    values, _ = _validated_equity(equity)
    return float(np.min(_drawdown_values(values)))


def drawdown_periods(equity: pd.Series) -> pd.DataFrame:
    """Return every spell of the curve below a previous peak, in time order.

    Args:
        equity: Equity at each bar close (see `drawdown`).

    Returns:
        One row per spell with columns ``peak``, ``trough``, ``recovery`` (NaT when not
        recovered), ``depth`` and ``duration``, defined as in `DrawdownPeriod`. No rows when the
        curve never falls below a peak.

    Raises:
        DataError: If ``equity`` is unusable (see `drawdown`).
    """
    import pandas as pd  # noqa: PLC0415

    values, index = _validated_equity(equity)
    depths = _drawdown_values(values)
    rows = [_period(depths, index, int(a), int(b)) for a, b in zip(*_spells(values), strict=True)]
    return pd.DataFrame(
        {
            "peak": pd.DatetimeIndex([p.peak for p in rows], tz=index.tz),
            "trough": pd.DatetimeIndex([p.trough for p in rows], tz=index.tz),
            "recovery": pd.DatetimeIndex([p.recovery for p in rows], tz=index.tz),
            "depth": pd.Series([p.depth for p in rows], dtype=np.float64),
            "duration": pd.to_timedelta([p.duration for p in rows]),
        }
    )


def _period(depths: FloatArray, index: pd.Index, first: int, last: int) -> DrawdownPeriod:
    """Build the spell whose bars below the peak are ``first .. last`` (``first >= 1``)."""
    peak = first - 1  # the bar before the first one below sits at the running max
    trough = first + int(np.argmin(depths[first : last + 1]))
    recovered = last + 1 < depths.size
    end = index[last + 1] if recovered else index[-1]
    return DrawdownPeriod(
        peak=index[peak],
        trough=index[trough],
        recovery=index[last + 1] if recovered else None,
        depth=float(depths[trough]),
        duration=end - index[peak],
    )


def max_drawdown_period(equity: pd.Series) -> DrawdownPeriod | None:
    """Return the deepest spell below a peak: its peak, trough and recovery dates and duration.

    Args:
        equity: Equity at each bar close (see `drawdown`).

    Returns:
        The spell containing the lowest drawdown (the earliest one on a tie), or ``None`` when
        the curve never falls below a peak.

    Raises:
        DataError: If ``equity`` is unusable (see `drawdown`).

    Examples:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-01", periods=4, freq="1D", tz="UTC")
        >>> period = max_drawdown_period(pd.Series([100.0, 80.0, 90.0, 95.0], index=times))
        >>> round(period.depth, 12), period.recovered, period.duration
        (-0.2, False, Timedelta('3 days 00:00:00'))
    """
    values, index = _validated_equity(equity)
    return _deepest(_drawdown_values(values), index, *_spells(values))


def _deepest(
    depths: FloatArray, index: pd.Index, firsts: IntArray, lasts: IntArray
) -> DrawdownPeriod | None:
    """`max_drawdown_period` from the drawdowns and the spells."""
    if not firsts.size:
        return None
    spell = int(np.searchsorted(lasts, int(np.argmin(depths))))
    return _period(depths, index, int(firsts[spell]), int(lasts[spell]))


def max_drawdown_duration(equity: pd.Series) -> pd.Timedelta:
    """Return the longest time spent below an earlier peak (any spell, not only the deepest).

    Each spell runs from its peak's timestamp to the first timestamp at which the equity is back
    at or above the peak, or to the last timestamp if it never is. Measured in time, not bars.

    Args:
        equity: Equity at each bar close (see `drawdown`).

    Returns:
        The longest spell's duration; ``Timedelta(0)`` when the curve never falls below a peak.

    Raises:
        DataError: If ``equity`` is unusable (see `drawdown`).
    """
    values, index = _validated_equity(equity)
    return _longest(index, *_spells(values))


def _longest(index: pd.DatetimeIndex, firsts: IntArray, lasts: IntArray) -> pd.Timedelta:
    """`max_drawdown_duration` from the timestamps and the spells."""
    import pandas as pd  # noqa: PLC0415

    if not firsts.size:
        return pd.Timedelta(0)
    ends = np.minimum(lasts + 1, len(index) - 1)
    longest = int(np.max(index[ends].as_unit("ns").asi8 - index[firsts - 1].as_unit("ns").asi8))
    return pd.Timedelta(longest, unit="ns")


def calmar_ratio(equity: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Return the Calmar ratio: ``CAGR / |max drawdown|`` over the whole curve.

    ``CAGR`` as in `quantkit.metrics.returns.cagr` (elapsed time by default, periods with
    ``periods_per_year``) and the max drawdown as in `max_drawdown`; empyrical's
    ``calmar_ratio`` is ``annual_return / abs(max_drawdown)`` in the same way.

    Args:
        equity: Equity at each bar close (see `drawdown`).
        periods_per_year: Bars in a year, to count periods instead of elapsed time in CAGR.

    Returns:
        The ratio; NaN when the curve never falls below a peak (no drawdown to divide by) or
        the CAGR is NaN.

    Raises:
        DataError: If ``equity`` is unusable (see `drawdown`).
        ConfigError: If ``periods_per_year`` is not a positive finite number.
    """
    values, index = _validated_equity(equity)
    years = _years(values, index, periods_per_year)
    if not _spells(values)[0].size:
        return math.nan
    rate = _growth_rate(float(values[0]), float(values[-1]), years)
    return rate / abs(float(np.min(_drawdown_values(values))))


def ulcer_index(equity: pd.Series) -> float:
    """Return the Ulcer index: ``sqrt(mean(D_t ** 2))`` with ``D_t = 100 * drawdown_t``.

    Peter Martin's definition: the root mean square of the percentage drawdown, averaged over
    all ``n`` bars (a bar at a peak contributes 0). In percentage points: 5.0 means a typical
    depth of 5 %. (quantstats averages fractional drawdowns over ``n - 1`` instead.)

    Args:
        equity: Equity at each bar close (see `drawdown`).

    Returns:
        The index, >= 0; 0 for a curve that never falls below a peak.

    Raises:
        DataError: If ``equity`` is unusable (see `drawdown`).
    """
    values, _ = _validated_equity(equity)
    return _ulcer_of(_drawdown_values(values))


def _ulcer_of(depths: FloatArray) -> float:
    """`ulcer_index` from the drawdowns."""
    percent = 100.0 * depths
    return math.sqrt(float(np.mean(percent**2)))


@dataclass(frozen=True, slots=True)
class _Figures:
    """The drawdown rows of the statistics table (see `_figures`)."""

    max_drawdown: float
    calmar: float
    deepest: DrawdownPeriod | None
    longest: pd.Timedelta
    ulcer: float


def _figures(values: FloatArray, index: pd.DatetimeIndex) -> _Figures:
    """Max drawdown, Calmar (elapsed time), deepest spell, longest spell and Ulcer index at once.

    The running peak, drawdowns and spells are computed once; each figure equals its public
    function's (`max_drawdown`, `calmar_ratio`, `max_drawdown_period`,
    `max_drawdown_duration`, `ulcer_index`) on the same validated curve.
    """
    peaks = np.maximum.accumulate(values)
    depths: FloatArray = values / peaks - 1.0  # as `_drawdown_values`
    firsts, lasts = _spells_below(values, peaks)
    deepest_depth = float(np.min(depths))
    calmar = math.nan
    if firsts.size:
        rate = _growth_rate(float(values[0]), float(values[-1]), _years(values, index, None))
        calmar = rate / abs(deepest_depth)
    return _Figures(
        max_drawdown=deepest_depth,
        calmar=calmar,
        deepest=_deepest(depths, index, firsts, lasts),
        longest=_longest(index, firsts, lasts),
        ulcer=_ulcer_of(depths),
    )
