"""Performance metrics of a returns series: annualised ratios and the shape of the distribution.

Each function says in its docstring whether it takes an **equity** curve (account value at each
bar close) or a series of **simple returns** ``r_t = e_t / e_{t-1} - 1``; `returns` turns the one
into the other. Drawdown figures live in `quantkit.metrics.drawdowns`, the shape of the
returns' distribution (VaR, CVaR, skew, kurtosis, tail ratio) in
`quantkit.metrics.distribution`, trade figures in `quantkit.metrics.trades`,
benchmark-relative ones in `quantkit.metrics.benchmark`. Every definition is also in
``docs/stats.md``.

Conventions shared by every function here:

- ``ppy`` (periods per year) is ``periods_per_year`` when given, otherwise inferred from the
  series' timestamps by `infer_periods_per_year` (a 365-day year: crypto trades every day).
- Rates given as arguments (``risk_free``, ``target``, ``threshold``) are **annual** and are
  compounded down to one period: ``(1 + rate) ** (1 / ppy) - 1``.
- A ratio whose denominator is zero is NaN, never inf and never an error. A standard or downside
  deviation at or below ``1e-12`` counts as zero: returns that are equal in exact arithmetic
  differ by ~1e-16 once computed, and dividing by that noise would report a ratio near 1e15.

pandas is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "annualised_volatility",
    "cagr",
    "infer_periods_per_year",
    "omega_ratio",
    "returns",
    "sharpe_ratio",
    "sortino_ratio",
    "total_return",
]

_ZERO_DENOMINATOR = 1e-12
"""A deviation at or below this counts as zero (see the module docstring)."""

_DAYS_PER_YEAR = 365.0


# --- inputs -----------------------------------------------------------------------------------


def _validated_equity(
    equity: pd.Series, source: str = "equity"
) -> tuple[FloatArray, pd.DatetimeIndex]:
    """Check an equity curve and return its values as floats and its ``DatetimeIndex``.

    Raises:
        DataError: If it is not a non-empty Series of finite numbers on a strictly increasing
            ``DatetimeIndex`` with a positive first value; the message names the row.
    """
    import pandas as pd  # noqa: PLC0415  (lazy: `import quantkit` must not load pandas)

    if not isinstance(equity, pd.Series):
        raise DataError(f"expected a pandas Series, got {type(equity).__name__}", source=source)
    index = equity.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"the index must be a DatetimeIndex of bar close times, got {type(index).__name__}",
            source=source,
        )
    if equity.empty:
        raise DataError("is empty; statistics need at least one bar", source=source)
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise DataError("the timestamp is missing (NaT)", source=source, row=row)
    not_increasing = np.flatnonzero(np.diff(index.asi8) <= 0)
    if not_increasing.size:
        row = int(not_increasing[0]) + 1
        raise DataError(
            f"timestamp {index[row]} is not after the previous one {index[row - 1]}; "
            "timestamps must be strictly increasing",
            source=source,
            row=row,
        )
    values = _float_values(equity, source)
    if values[0] <= 0:
        raise DataError(f"start {source} must be positive, got {values[0]}", source=source, row=0)
    return values, index


def _float_values(series: pd.Series, source: str, name: str = "value") -> FloatArray:
    """Return a Series' values as finite floats.

    Raises:
        DataError: If it is not a Series, or a value is not a number, NaN or infinite.
    """
    import pandas as pd  # noqa: PLC0415

    if not isinstance(series, pd.Series):
        raise DataError(f"expected a pandas Series, got {type(series).__name__}", source=source)
    try:
        values: FloatArray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"values must be numbers, got dtype {series.dtype}", source=source) from exc
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{name} {values[row]} is not a finite number", source=source, row=row)
    return values


def _resolve_ppy(periods_per_year: float | None, index: pd.Index) -> float:
    """Return ``periods_per_year`` if given (checked), else the one inferred from ``index``.

    Raises:
        ConfigError: If the given value is not a positive finite number.
        DataError: If it must be inferred and cannot be (see `infer_periods_per_year`).
    """
    if periods_per_year is None:
        return infer_periods_per_year(index)
    if isinstance(periods_per_year, bool) or not (
        math.isfinite(periods_per_year) and periods_per_year > 0
    ):
        raise ConfigError(
            f"periods_per_year must be a positive finite number, got {periods_per_year!r}"
        )
    return float(periods_per_year)


def _per_period_rate(annual: float, ppy: float, name: str) -> float:
    """Return an annual rate compounded down to one period: ``(1 + annual) ** (1 / ppy) - 1``.

    Raises:
        ConfigError: If ``annual`` is not a finite rate above -1.
    """
    if not (math.isfinite(annual) and annual > -1.0):
        raise ConfigError(f"{name} must be a finite annual rate above -1, got {annual!r}")
    return math.expm1(math.log1p(annual) / ppy)


def infer_periods_per_year(index: pd.Index, *, days_per_year: float = _DAYS_PER_YEAR) -> float:
    """Return how many bars make a year, from the spacing of a series' timestamps.

    ``ppy = days_per_year * 1 day / median(t_i - t_{i-1})``. The median makes one gap or one
    irregular bar irrelevant; a year is 365 days by default because crypto trades every day.

    Args:
        index: The timestamps of an equity or returns series (strictly increasing).
        days_per_year: Days in a year (252 for a weekday session calendar).

    Returns:
        Bars per year, e.g. 8760.0 for one-hour bars.

    Raises:
        DataError: If ``index`` is not a ``DatetimeIndex`` of at least two increasing timestamps
            (pass ``periods_per_year=`` explicitly then).
        ConfigError: If ``days_per_year`` is not a positive finite number.

    Examples:
        >>> import pandas as pd
        >>> infer_periods_per_year(pd.date_range("2024-01-01", periods=3, freq="1h"))
        8760.0
    """
    import pandas as pd  # noqa: PLC0415

    if not (math.isfinite(days_per_year) and days_per_year > 0):
        raise ConfigError(f"days_per_year must be a positive finite number, got {days_per_year!r}")
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise DataError(
            "cannot infer the bar frequency: it needs a DatetimeIndex of at least two "
            "timestamps; pass periods_per_year= explicitly",
            source="index",
        )
    spacing = float(np.median(np.diff(index.as_unit("ns").asi8)))
    if not spacing > 0:
        raise DataError("timestamps must be strictly increasing", source="index")
    return days_per_year * 86_400e9 / spacing


def _returns_values(series: pd.Series) -> FloatArray:
    """Return a returns series' values: finite floats, none below -1.

    Raises:
        DataError: If a value is not a finite number or is below -1 (a loss beyond everything).
    """
    return _not_below_minus_one(_float_values(series, "returns"))


def _checked_returns(values: FloatArray) -> FloatArray:
    """Return ``values`` after checking them as returns: finite, none below -1.

    Raises:
        DataError: Naming the first value that is not finite or is below -1, with the
            message `_returns_values` gives for a Series.
    """
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"value {values[row]} is not a finite number", source="returns", row=row)
    return _not_below_minus_one(values)


def _not_below_minus_one(values: FloatArray) -> FloatArray:
    """Return ``values`` after checking that none is below -1."""
    below = np.flatnonzero(values < -1.0)
    if below.size:
        row = int(below[0])
        raise DataError(
            f"return {values[row]} is below -1 (a loss of more than 100 %)",
            source="returns",
            row=row,
        )
    return values


def _ratio(numerator: float, denominator: float) -> float:
    """Return ``numerator / denominator``, NaN when the denominator is (numerically) zero."""
    return math.nan if denominator <= _ZERO_DENOMINATOR else numerator / denominator


# --- equity -----------------------------------------------------------------------------------


def returns(equity: pd.Series) -> pd.Series:
    """Return the simple per-bar returns of an equity curve.

    ``r_t = e_t / e_{t-1} - 1`` for ``t = 1 .. n-1``, stamped with the later bar's timestamp;
    ``n`` bars give ``n - 1`` returns (none for a single bar).

    Args:
        equity: Equity at each bar close on a strictly increasing ``DatetimeIndex``.

    Returns:
        A float Series named ``"returns"`` indexed by ``equity.index[1:]``.

    Raises:
        DataError: If ``equity`` is unusable (see `total_return`) or a value is zero or negative:
            the return after a ruin is undefined, so it names the first such row.

    Examples:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-01", periods=3, freq="1D", tz="UTC")
        >>> returns(pd.Series([100.0, 110.0, 99.0], index=times)).round(10).tolist()
        [0.1, -0.1]
    """
    import pandas as pd  # noqa: PLC0415

    values, index = _validated_equity(equity)
    ruined = np.flatnonzero(values <= 0)
    if ruined.size:
        row = int(ruined[0])
        raise DataError(
            f"equity {values[row]} is not positive; returns after a ruin are undefined",
            source="equity",
            row=row,
        )
    return pd.Series(values[1:] / values[:-1] - 1.0, index=index[1:], name="returns")


def total_return(equity: pd.Series) -> float:
    """Return the total return of an equity curve as a fraction: ``e_{n-1} / e_0 - 1``.

    Args:
        equity: Equity at each bar close on a strictly increasing ``DatetimeIndex``; the first
            value must be positive.

    Returns:
        The total return (0.21 for +21 %); 0 for a single bar.

    Raises:
        DataError: If ``equity`` is not a non-empty Series of finite numbers on a strictly
            increasing ``DatetimeIndex`` with a positive first value.
    """
    values, _ = _validated_equity(equity)
    return float(values[-1] / values[0] - 1.0)


def cagr(equity: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Return the compound annual growth rate of an equity curve as a fraction.

    ``CAGR = (e_{n-1} / e_0) ** (1 / years) - 1``. By default ``years`` is the elapsed calendar
    time, ``(t_{n-1} - t_0) / 365 days`` (the statistics tables always use it). With
    ``periods_per_year`` it counts periods instead, ``years = (n - 1) / periods_per_year``; the
    two agree only on a regular grid without gaps (a year-long hole in two years of data halves
    the elapsed years but not the periods).

    Args:
        equity: Equity at each bar close (see `total_return`).
        periods_per_year: Bars in a year, to count periods instead of elapsed time.

    Returns:
        The rate; NaN for a single bar (no time has passed) or a negative final equity (no real
        rate turns a positive start into it); -1 for a final equity of 0; inf when the
        annualised figure overflows a float (very short, very profitable runs).

    Raises:
        DataError: If ``equity`` is unusable (see `total_return`).
        ConfigError: If ``periods_per_year`` is not a positive finite number.
    """
    values, index = _validated_equity(equity)
    years = _years(values, index, periods_per_year)
    return _growth_rate(float(values[0]), float(values[-1]), years)


def _years(values: FloatArray, index: pd.Index, periods_per_year: float | None) -> float:
    """Return the years a curve spans: elapsed time / 365 days, or ``(n - 1) / ppy`` if given."""
    import pandas as pd  # noqa: PLC0415

    if periods_per_year is None:
        return float((index[-1] - index[0]) / pd.Timedelta(days=_DAYS_PER_YEAR))
    return (values.size - 1) / _resolve_ppy(periods_per_year, index)


def _growth_rate(start: float, final: float, years: float) -> float:
    """Return ``(final / start) ** (1 / years) - 1`` with the edge cases of `cagr`."""
    if years <= 0 or final < 0:
        return math.nan
    try:
        return float((final / start) ** (1.0 / years) - 1.0)
    except OverflowError:
        return math.inf


# --- returns: annualised ratios ---------------------------------------------------------------


def annualised_volatility(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Return the annualised volatility of simple returns: ``std(r, ddof=1) * sqrt(ppy)``.

    Args:
        returns: Simple per-period returns (see `returns`).
        periods_per_year: ``ppy``; inferred from the timestamps when not given.

    Returns:
        The volatility as a fraction; NaN with fewer than two returns.

    Raises:
        DataError: If a return is not finite or below -1, or ``ppy`` cannot be inferred.
        ConfigError: If ``periods_per_year`` is not a positive finite number.
    """
    r = _returns_values(returns)
    return _volatility_of(r, _resolve_ppy(periods_per_year, returns.index))


def _volatility_of(r: FloatArray, ppy: float) -> float:
    """`annualised_volatility` of checked return values."""
    if r.size < 2:
        return math.nan
    return float(np.std(r, ddof=1)) * math.sqrt(ppy)


def sharpe_ratio(
    returns: pd.Series, *, risk_free: float = 0.0, periods_per_year: float | None = None
) -> float:
    """Return the annualised Sharpe ratio of simple returns.

    ``Sharpe = mean(x) / std(x, ddof=1) * sqrt(ppy)`` with excess returns ``x = r - rf`` and
    ``rf = (1 + risk_free) ** (1 / ppy) - 1``; ``std`` is the sample standard deviation.

    Args:
        returns: Simple per-period returns (see `returns`).
        risk_free: Annual risk-free rate (0.04 = 4 %).
        periods_per_year: ``ppy``; inferred from the timestamps when not given.

    Returns:
        The ratio; NaN with fewer than two returns or a deviation of at most 1e-12 (flat or
        constant-growth equity).

    Raises:
        DataError: If a return is not finite or below -1, or ``ppy`` cannot be inferred.
        ConfigError: If ``periods_per_year`` or ``risk_free`` is out of range.

    Examples:
        >>> import pandas as pd
        >>> r = pd.Series([0.01, -0.01, 0.02])
        >>> round(sharpe_ratio(r, periods_per_year=365), 4)
        8.3381
    """
    r = _returns_values(returns)
    return _sharpe_of(r, risk_free, _resolve_ppy(periods_per_year, returns.index))


def _sharpe_of(r: FloatArray, risk_free: float, ppy: float) -> float:
    """`sharpe_ratio` of checked return values."""
    x = r - _per_period_rate(risk_free, ppy, "risk_free")
    if x.size < 2:
        return math.nan
    return _ratio(float(np.mean(x)), float(np.std(x, ddof=1))) * math.sqrt(ppy)


def sortino_ratio(
    returns: pd.Series, *, target: float = 0.0, periods_per_year: float | None = None
) -> float:
    """Return the annualised Sortino ratio of simple returns.

    ``Sortino = mean(x) / DD * sqrt(ppy)`` with ``x = r - target_period`` and the downside
    deviation ``DD = sqrt(mean(min(x, 0) ** 2))``, the mean taken over **all** periods (a period
    above the target counts as a zero shortfall), as empyrical and quantstats define it.

    Args:
        returns: Simple per-period returns (see `returns`).
        target: Annual target return (the minimum acceptable return), compounded down to
            ``target_period = (1 + target) ** (1 / ppy) - 1``.
        periods_per_year: ``ppy``; inferred from the timestamps when not given.

    Returns:
        The ratio; NaN with no returns or with no period below the target (a zero downside
        deviation: we report NaN where empyrical reports inf).

    Raises:
        DataError: If a return is not finite or below -1, or ``ppy`` cannot be inferred.
        ConfigError: If ``periods_per_year`` or ``target`` is out of range.
    """
    r = _returns_values(returns)
    return _sortino_of(r, target, _resolve_ppy(periods_per_year, returns.index))


def _sortino_of(r: FloatArray, target: float, ppy: float) -> float:
    """`sortino_ratio` of checked return values."""
    x = r - _per_period_rate(target, ppy, "target")
    if x.size == 0:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(x, 0.0) ** 2)))
    return _ratio(float(np.mean(x)), downside) * math.sqrt(ppy)


def omega_ratio(
    returns: pd.Series, *, threshold: float = 0.0, periods_per_year: float | None = None
) -> float:
    """Return the Omega ratio of simple returns at a threshold.

    ``Omega = sum(max(r - tau, 0)) / sum(max(tau - r, 0))`` with ``tau = (1 + threshold) **
    (1 / ppy) - 1`` (empyrical's ``required_return`` convention); ``tau = 0`` by default.

    Args:
        returns: Simple per-period returns (see `returns`).
        threshold: Annual threshold return; ``ppy`` is only needed when it is not 0.
        periods_per_year: ``ppy``; inferred from the timestamps when needed and not given.

    Returns:
        The ratio; NaN when no return falls below the threshold (as empyrical).

    Raises:
        DataError: If a return is not finite or below -1, or ``ppy`` is needed and cannot be
            inferred.
        ConfigError: If ``periods_per_year`` or ``threshold`` is out of range.
    """
    r = _returns_values(returns)
    tau = 0.0
    if threshold != 0.0 or periods_per_year is not None:
        ppy = _resolve_ppy(periods_per_year, returns.index)
        tau = _per_period_rate(threshold, ppy, "threshold")
    return _omega_of(r, tau)


def _omega_of(r: FloatArray, tau: float) -> float:
    """`omega_ratio` of checked return values at the per-period threshold ``tau``."""
    gains = float(np.sum(np.maximum(r - tau, 0.0)))
    losses = float(np.sum(np.maximum(tau - r, 0.0)))
    return gains / losses if losses > 0 else math.nan
