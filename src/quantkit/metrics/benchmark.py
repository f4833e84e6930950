"""Benchmark-relative metrics: buy-and-hold equity, alpha and beta, information ratio.

The functions take two series of **simple returns** (see `quantkit.metrics.returns.returns`),
the strategy's and the benchmark's, and compare them on the timestamps they share (an inner join
of the two indexes; the others are dropped). A common benchmark is a buy-and-hold of the traded
asset, which `buy_and_hold` builds from its close prices.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from quantkit.errors import ConfigError, DataError
from quantkit.metrics.returns import (
    _ZERO_DENOMINATOR,
    _float_values,
    _per_period_rate,
    _resolve_ppy,
    _returns_values,
    _validated_equity,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = ["alpha_beta", "buy_and_hold", "information_ratio"]


def buy_and_hold(close: pd.Series, *, initial: float = 1.0) -> pd.Series:
    """Return the equity of buying the asset at the first close and holding it.

    ``equity_t = initial * close_t / close_0``: fees and slippage are not charged.

    Args:
        close: Close prices on a strictly increasing ``DatetimeIndex``, all positive.
        initial: Equity at the first bar, e.g. the strategy's starting cash.

    Returns:
        A float Series named ``"buy_and_hold"`` with the index of ``close``.

    Raises:
        DataError: If ``close`` is not a non-empty Series of positive finite prices on a
            strictly increasing ``DatetimeIndex``.
        ConfigError: If ``initial`` is not a positive finite number.

    Examples:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-01", periods=3, freq="1D", tz="UTC")
        >>> buy_and_hold(pd.Series([50.0, 60.0, 45.0], index=times), initial=1000).tolist()
        [1000.0, 1200.0, 900.0]
    """
    import pandas as pd  # noqa: PLC0415

    if not (math.isfinite(initial) and initial > 0):
        raise ConfigError(f"initial must be a positive finite number, got {initial!r}")
    values, index = _validated_equity(close, source="close")
    bad = np.flatnonzero(values <= 0)
    if bad.size:
        row = int(bad[0])
        raise DataError(f"price {values[row]} is not positive", source="close", row=row)
    return pd.Series(initial * values / values[0], index=index, name="buy_and_hold")


def _aligned(
    returns: pd.Series, benchmark_returns: pd.Series
) -> tuple[FloatArray, FloatArray, pd.Index]:
    """Return both returns on their shared timestamps, and those timestamps.

    Raises:
        DataError: If a return is not finite or below -1, or the two share no timestamp.
    """
    _returns_values(returns)
    _float_values(benchmark_returns, "benchmark_returns")
    if returns.index.equals(benchmark_returns.index):  # the usual case: no copies
        strategy = returns.to_numpy(dtype=np.float64)
        return strategy, _returns_values(benchmark_returns), returns.index
    common = returns.index.intersection(benchmark_returns.index)
    if len(common) == 0 and len(returns) and len(benchmark_returns):
        raise DataError(
            "shares no timestamp with the strategy's returns (check the time zone and bar "
            "close times)",
            source="benchmark_returns",
        )
    strategy = returns.loc[common].to_numpy(dtype=np.float64)
    benchmark = _returns_values(benchmark_returns.loc[common])
    return strategy, benchmark, common


def alpha_beta(
    returns: pd.Series,
    benchmark_returns: pd.Series,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
) -> tuple[float, float]:
    """Return Jensen's alpha (annualised) and beta of a strategy against a benchmark.

    An ordinary least squares fit ``x_t = a + beta * y_t + e_t`` of the strategy's excess
    returns ``x = r - rf`` on the benchmark's ``y = b - rf`` (``rf = (1 + risk_free) ** (1 /
    ppy) - 1``): ``beta = cov(x, y) / var(y)`` and ``a = mean(x) - beta * mean(y)`` per period.
    The alpha is annualised by compounding, ``alpha = (1 + a) ** ppy - 1``, as empyrical does.

    Args:
        returns: The strategy's simple returns.
        benchmark_returns: The benchmark's simple returns; only shared timestamps are used.
        risk_free: Annual risk-free rate.
        periods_per_year: ``ppy``; inferred from the shared timestamps when not given.

    Returns:
        ``(alpha, beta)``; both NaN with fewer than two shared periods or a benchmark whose
        returns do not vary (standard deviation at most 1e-12). Alpha is inf if it overflows.

    Raises:
        DataError: If a return is not finite or below -1, the two share no timestamp, or
            ``ppy`` cannot be inferred.
        ConfigError: If ``periods_per_year`` or ``risk_free`` is out of range.
    """
    strategy, benchmark, common = _aligned(returns, benchmark_returns)
    if strategy.size < 2:
        return math.nan, math.nan
    ppy = _resolve_ppy(periods_per_year, common)
    rf = _per_period_rate(risk_free, ppy, "risk_free")
    y = benchmark - rf
    if float(np.std(y)) <= _ZERO_DENOMINATOR:
        return math.nan, math.nan
    # The same operations as ``x = strategy - rf``, ``dy = y - mean(y)`` and
    # ``sum((x - mean(x)) * dy) / sum(dy**2)``, done in place on ``x`` and ``y``: a long curve
    # needs at most two more arrays of its length at a time.
    mean_y = np.mean(y)
    dy = np.subtract(y, mean_y, out=y)
    squares = np.sum(dy**2)
    x = strategy - rf
    mean_x = np.mean(x)
    centred = np.subtract(x, mean_x, out=x)
    beta = float(np.sum(np.multiply(centred, dy, out=centred)) / squares)
    intercept = float(mean_x) - beta * float(mean_y)
    try:
        alpha = (1.0 + intercept) ** ppy - 1.0
    except OverflowError:
        alpha = math.inf
    return float(alpha), beta


def information_ratio(
    returns: pd.Series, benchmark_returns: pd.Series, *, periods_per_year: float | None = None
) -> float:
    """Return the annualised information ratio of a strategy against a benchmark.

    ``IR = mean(a) / std(a, ddof=1) * sqrt(ppy)`` with active returns ``a_t = r_t - b_t``; the
    denominator ``std(a, ddof=1)`` is the per-period tracking error.

    Args:
        returns: The strategy's simple returns.
        benchmark_returns: The benchmark's simple returns; only shared timestamps are used.
        periods_per_year: ``ppy``; inferred from the shared timestamps when not given.

    Returns:
        The ratio; NaN with fewer than two shared periods or a tracking error of at most 1e-12.

    Raises:
        DataError: If a return is not finite or below -1, the two share no timestamp, or
            ``ppy`` cannot be inferred.
        ConfigError: If ``periods_per_year`` is not a positive finite number.
    """
    strategy, benchmark, common = _aligned(returns, benchmark_returns)
    if strategy.size < 2:
        return math.nan
    ppy = _resolve_ppy(periods_per_year, common)
    active = strategy - benchmark
    error = float(np.std(active, ddof=1))
    if error <= _ZERO_DENOMINATOR:
        return math.nan
    return float(np.mean(active)) / error * math.sqrt(ppy)
