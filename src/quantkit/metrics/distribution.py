"""The shape of a returns distribution: historical VaR and CVaR, skewness, kurtosis, tail ratio.

Every function takes a Series of **simple returns** (see `quantkit.metrics.returns.returns`);
none of them annualises. Quantiles use numpy's default ``"linear"`` method, as empyrical and
quantstats do.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from quantkit.errors import ConfigError
from quantkit.metrics.returns import _ZERO_DENOMINATOR, _returns_values

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "conditional_value_at_risk",
    "excess_kurtosis",
    "skewness",
    "tail_ratio",
    "value_at_risk",
]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def value_at_risk(returns: pd.Series, *, confidence: float = 0.95) -> float:
    """Return the historical Value at Risk of simple returns, as a return (negative = loss).

    ``VaR = quantile(r, 1 - confidence)`` with numpy's default ``"linear"`` method (type 7 of
    Hyndman & Fan: linear interpolation between order statistics at position
    ``(n - 1) * (1 - confidence)``), the same number as ``np.percentile`` in empyrical and
    ``Series.quantile`` in quantstats. Note the sign: ``quantkit.risk`` reports losses positive.

    Args:
        returns: Simple per-period returns (see `returns`).
        confidence: Confidence level in (0, 1), e.g. 0.95.

    Returns:
        The ``1 - confidence`` quantile of the returns; NaN with no returns.

    Raises:
        DataError: If a return is not finite or below -1.
        ConfigError: If ``confidence`` is not in (0, 1).
    """
    _check_confidence(confidence)
    r = _returns_values(returns)
    return float(np.quantile(r, 1.0 - confidence)) if r.size else math.nan


def conditional_value_at_risk(returns: pd.Series, *, confidence: float = 0.95) -> float:
    """Return the historical conditional VaR (expected shortfall) of simple returns.

    ``CVaR = mean(r_t for r_t <= VaR)`` with ``VaR`` from `value_at_risk`; the set is never
    empty (the smallest return is at or below any quantile). Without ties at the VaR it is
    empyrical's ``conditional_value_at_risk``: the mean of the ``floor((n - 1) * (1 -
    confidence)) + 1`` smallest returns.

    Args:
        returns: Simple per-period returns (see `returns`).
        confidence: Confidence level in (0, 1).

    Returns:
        The mean return in the tail, as a return (negative = loss); NaN with no returns.

    Raises:
        DataError: If a return is not finite or below -1.
        ConfigError: If ``confidence`` is not in (0, 1).
    """
    _check_confidence(confidence)
    r = _returns_values(returns)
    if not r.size:
        return math.nan
    cutoff = float(np.quantile(r, 1.0 - confidence))
    return float(np.mean(r[r <= cutoff], dtype=np.float64))


def _central_moments(r: FloatArray) -> tuple[float, float, float]:
    """Return the biased central moments ``m2, m3, m4`` (divided by ``n``)."""
    d = r - np.mean(r)
    return float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))


def skewness(returns: pd.Series) -> float:
    """Return the sample skewness of returns, bias-corrected (adjusted Fisher-Pearson, G1).

    ``G1 = sqrt(n (n - 1)) / (n - 2) * m3 / m2 ** 1.5`` with the biased central moments
    ``m_k = mean((r - mean(r)) ** k)``: the estimator of ``pandas.Series.skew`` (which
    quantstats uses) and of ``scipy.stats.skew(bias=False)``.

    Args:
        returns: Simple per-period returns (see `returns`).

    Returns:
        The skewness; NaN with fewer than three returns or a standard deviation of at most
        1e-12 (pandas reports 0 there).

    Raises:
        DataError: If a return is not finite or below -1.
    """
    r = _returns_values(returns)
    return _skew_of(r.size, *_central_moments(r)) if r.size >= 3 else math.nan


def _skew_of(n: int, m2: float, m3: float, _m4: float = math.nan) -> float:
    """`skewness` from the biased central moments of ``n >= 3`` returns."""
    if math.sqrt(m2) <= _ZERO_DENOMINATOR:
        return math.nan
    return math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)


def excess_kurtosis(returns: pd.Series) -> float:
    """Return the sample excess kurtosis of returns, bias-corrected (G2).

    ``G2 = (n - 1) / ((n - 2) (n - 3)) * ((n + 1) * g2 + 6)`` with ``g2 = m4 / m2 ** 2 - 3``
    and the biased central moments ``m_k``: the estimator of ``pandas.Series.kurt`` (which
    quantstats uses) and ``scipy.stats.kurtosis(fisher=True, bias=False)``. A normal sample
    gives about 0.

    Args:
        returns: Simple per-period returns (see `returns`).

    Returns:
        The excess kurtosis; NaN with fewer than four returns or a standard deviation of at
        most 1e-12.

    Raises:
        DataError: If a return is not finite or below -1.
    """
    r = _returns_values(returns)
    return _kurtosis_of(r.size, *_central_moments(r)) if r.size >= 4 else math.nan


def _kurtosis_of(n: int, m2: float, _m3: float, m4: float) -> float:
    """`excess_kurtosis` from the biased central moments of ``n >= 4`` returns."""
    if math.sqrt(m2) <= _ZERO_DENOMINATOR:
        return math.nan
    g2 = m4 / m2**2 - 3.0
    return (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)


def _skew_and_kurtosis(returns: pd.Series) -> tuple[float, float]:
    """`skewness` and `excess_kurtosis` of the same returns, the moments computed once.

    The same values as the two functions called one after the other.

    Args:
        returns: Simple per-period returns (see `returns`).

    Returns:
        ``(skewness, excess kurtosis)``.

    Raises:
        DataError: If a return is not finite or below -1.
    """
    r = _returns_values(returns)
    n = r.size
    if n < 3:
        return math.nan, math.nan
    moments = _central_moments(r)
    return _skew_of(n, *moments), _kurtosis_of(n, *moments) if n >= 4 else math.nan


def tail_ratio(returns: pd.Series) -> float:
    """Return the tail ratio of returns: ``|p95| / |p5|``.

    ``p95`` and ``p5`` are the 95th and 5th percentiles with numpy's ``"linear"`` method, as
    empyrical and quantstats compute them. Above 1, the right tail (gains) is fatter.

    Args:
        returns: Simple per-period returns (see `returns`).

    Returns:
        The ratio; NaN with no returns or when the 5th percentile is 0.

    Raises:
        DataError: If a return is not finite or below -1.
    """
    r = _returns_values(returns)
    if not r.size:
        return math.nan
    low, high = np.percentile(r, [5.0, 95.0])
    return float(abs(high) / abs(low)) if low != 0 else math.nan
