"""The statistics table of a backtest: returns, risk ratios, drawdowns and trade figures.

Every figure is defined in the docstring of `compute_stats` and in ``docs/stats.md``.
pandas is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.domain.timeframe import NS_PER_SECOND
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = ["compute_stats", "drawdown", "format_stats", "periods_per_year"]

_NS_PER_DAY = 86_400 * NS_PER_SECOND

# A ratio's denominator (standard deviation or downside deviation of per-bar returns) at or below
# this counts as zero. Returns that are equal in exact arithmetic (equity growing by exactly 1 %
# a bar) differ by rounding noise of about 1e-16 once computed, and dividing by that noise would
# report a meaningless ratio near 1e15. Returns are dimensionless, so the threshold is the same
# whatever the equity's scale; a real strategy's per-bar spread is many orders of magnitude larger.
_ZERO_DENOMINATOR = 1e-12


def periods_per_year(timeframe_ns: int, days_per_year: float = 365.0) -> float:
    """Return how many bars of a timeframe fit in a year.

    Crypto markets trade around the clock, so a year is ``days_per_year`` full days.

    Args:
        timeframe_ns: Bar length in nanoseconds (see :func:`quantkit.domain.timeframe.
            parse_timeframe`).
        days_per_year: Trading days in a year; 365 for markets open every day, 252 for a
            market with a weekday session calendar.

    Returns:
        ``days_per_year * 86400 s / timeframe``, e.g. 8760.0 for one-hour bars.

    Raises:
        ConfigError: If ``timeframe_ns`` is not a positive integer or ``days_per_year`` is not a
            positive finite number.

    Examples:
        >>> periods_per_year(3_600 * 10**9)
        8760.0
    """
    if isinstance(timeframe_ns, bool) or not isinstance(timeframe_ns, int) or timeframe_ns <= 0:
        raise ConfigError(
            f"timeframe_ns must be a positive number of nanoseconds, got {timeframe_ns!r}"
        )
    if not (math.isfinite(days_per_year) and days_per_year > 0):
        raise ConfigError(f"days_per_year must be a positive finite number, got {days_per_year!r}")
    return days_per_year * _NS_PER_DAY / timeframe_ns


def drawdown(equity: pd.Series) -> pd.Series:
    """Return the drawdown of an equity curve: how far each point lies below the peak so far.

    ``drawdown_t = equity_t / max(equity_0, ..., equity_t) - 1``. It is 0 at a new peak and
    negative below one; -1 means the equity reached zero, and it falls below -1 only if the
    equity turned negative.

    Args:
        equity: Account equity at each bar close, indexed by a strictly increasing
            ``DatetimeIndex``; the first value must be positive.

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


def compute_stats(
    equity: pd.Series,
    trades: pd.DataFrame,
    *,
    periods_per_year: float,
    exposure: float | None = None,
    fees: float | None = None,
    ambiguous_fills: int = 0,
    ambiguous_trades: int = 0,
    risk_free: float = 0.0,
) -> pd.Series:
    """Return the statistics table of a backtest.

    With ``n`` bars of equity ``e_0 .. e_{n-1}`` and ``ppy = periods_per_year``:

    - per-bar simple returns ``r_t = e_t / e_{t-1} - 1`` for ``t = 1 .. n-1`` (``n - 1`` periods);
      excess returns ``x_t = r_t - rf``, where ``rf = (1 + risk_free) ** (1 / ppy) - 1`` is the
      annual ``risk_free`` rate compounded down to one period (``x = r`` when it is 0);
    - ``Total return [%] = 100 * (e_{n-1} / e_0 - 1)``;
    - ``CAGR [%] = 100 * ((e_{n-1} / e_0) ** (ppy / (n - 1)) - 1)``; NaN with a single bar (no
      time has passed) or a negative final equity; -100 for a final equity of exactly 0; inf when
      the annualised figure overflows a float (a very short, very profitable run);
    - ``Volatility (ann.) [%] = 100 * std(r, ddof=1) * sqrt(ppy)``;
    - ``Sharpe ratio = mean(x) / std(x, ddof=1) * sqrt(ppy)``;
    - ``Sortino ratio = mean(x) / sqrt(mean(min(x, 0) ** 2)) * sqrt(ppy)``, the downside
      deviation taken over all periods, not only the losing ones (as empyrical does);
    - ``Max drawdown [%] = 100 * min(drawdown)`` (see `drawdown`);
    - ``Max drawdown duration``: the longest time spent below a previous peak, from the peak's
      timestamp to the first timestamp whose equity is back at or above it (to the last
      timestamp if it never is); ``Timedelta(0)`` when the equity never falls below a peak;
    - ``Win rate [%] = 100 * count(pnl > 0) / trades`` (a trade with pnl exactly 0 is no win);
    - ``Profit factor = sum(pnl > 0) / |sum(pnl < 0)|``, inf with wins and no losses, NaN with
      neither;
    - ``Exposure time [%] = 100 * exposure``.

    A ratio whose denominator is zero is NaN, never inf or an error: Volatility and Sharpe need at
    least two returns, Sortino at least one losing period, Win rate and Profit factor at least one
    trade. A standard or downside deviation below 1e-12 counts as zero: it is the rounding noise
    of returns that are equal in exact arithmetic. Volatility, Sharpe and Sortino are also NaN when
    any equity value is zero or negative, as the returns after a ruin are undefined.

    Args:
        equity: Account equity at each bar close (one point per bar), indexed by a strictly
            increasing UTC ``DatetimeIndex``; the first value must be positive.
        trades: Closed round trips, one row each, with at least a float column ``"pnl"`` (net
            profit after fees). May have no rows.
        periods_per_year: Bars in a year, used to annualise (see `periods_per_year`).
        exposure: Fraction of bars, in [0, 1], with a non-zero position; NaN in the table when
            not given.
        fees: Total fees paid in quote currency (negative for net rebates); NaN when not given.
        ambiguous_fills: Fills whose order within a bar the simulator had to assume.
        ambiguous_trades: Trades that contain at least one ambiguous fill.
        risk_free: Annual risk-free rate as a fraction (``0.04`` = 4 %), subtracted from the
            returns of Sharpe and Sortino.

    Returns:
        An object-dtype Series indexed by label, in this order: Start, End, Duration (Timestamps
        and a Timedelta), Bars, Start equity, Final equity, Total return [%], CAGR [%],
        Volatility (ann.) [%], Sharpe ratio, Sortino ratio, Max drawdown [%],
        Max drawdown duration (a Timedelta), Trades, Win rate [%], Profit factor,
        Exposure time [%], Fees paid, Ambiguous fills, Ambiguous trades.

    Raises:
        DataError: If ``equity`` is empty, not a Series of finite numbers with a strictly
            increasing ``DatetimeIndex``, or starts at zero or below; or if ``trades`` has no
            ``"pnl"`` column or a pnl that is not a finite number.
        ConfigError: If ``periods_per_year`` is not positive and finite, ``exposure`` is outside
            [0, 1], ``fees`` is not finite, an ambiguous count is negative, or ``risk_free`` is
            not a finite rate above -1.

    Examples:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-01", periods=4, freq="1D", tz="UTC")
        >>> equity = pd.Series([100.0, 110.0, 99.0, 121.0], index=times)
        >>> trades = pd.DataFrame({"pnl": [10.0, -11.0, 22.0]})
        >>> stats = compute_stats(equity, trades, periods_per_year=365.0)
        >>> round(stats["Total return [%]"], 6), round(stats["Max drawdown [%]"], 6)
        (21.0, -10.0)
        >>> stats["Profit factor"]
        2.909090909090909
    """
    import pandas as pd  # noqa: PLC0415  (lazy: `import quantkit` must not load pandas)

    values, index = _validated_equity(equity)
    pnl = _validated_pnl(trades)
    _check_arguments(
        ppy=periods_per_year,
        exposure=exposure,
        fees=fees,
        ambiguous_fills=ambiguous_fills,
        ambiguous_trades=ambiguous_trades,
        risk_free=risk_free,
    )
    start, final = float(values[0]), float(values[-1])
    volatility, sharpe, sortino = _return_ratios(values, periods_per_year, risk_free)
    win_rate, profit_factor = _trade_ratios(pnl)
    rows: dict[str, Any] = {
        "Start": index[0],
        "End": index[-1],
        "Duration": index[-1] - index[0],
        "Bars": int(values.size),
        "Start equity": start,
        "Final equity": final,
        "Total return [%]": (final / start - 1.0) * 100.0,
        "CAGR [%]": _cagr(start, final, values.size - 1, periods_per_year) * 100.0,
        "Volatility (ann.) [%]": volatility * 100.0,
        "Sharpe ratio": sharpe,
        "Sortino ratio": sortino,
        "Max drawdown [%]": float(np.min(_drawdown_values(values))) * 100.0,
        "Max drawdown duration": _max_drawdown_duration(values, index),
        "Trades": int(pnl.size),
        "Win rate [%]": win_rate * 100.0,
        "Profit factor": profit_factor,
        "Exposure time [%]": math.nan if exposure is None else float(exposure) * 100.0,
        "Fees paid": math.nan if fees is None else float(fees),
        "Ambiguous fills": int(ambiguous_fills),
        "Ambiguous trades": int(ambiguous_trades),
    }
    return pd.Series(rows, dtype=object, name="stats")


def format_stats(stats: pd.Series) -> str:
    """Return a statistics table as aligned text, one ``label  value`` line per row.

    Labels are left-aligned and values right-aligned. Floats get two decimals for percentages
    (labels ending in ``[%]``) and for magnitudes of 100 or more such as equity (with thousands
    separators), three decimals otherwise; NaN shows as ``NaN`` and infinities as ``inf``/``-inf``.
    Timestamps, timedeltas and integers show as ``str()`` does.

    Args:
        stats: A Series such as the one `compute_stats` returns.

    Returns:
        The table as one string without a trailing newline (empty for an empty Series).

    Examples:
        >>> import pandas as pd
        >>> print(format_stats(pd.Series({"Trades": 3, "Win rate [%]": 200 / 3}, dtype=object)))
        Trades              3
        Win rate [%]    66.67
    """
    labels = [str(label) for label in stats.index]
    texts = [_format_value(label, value) for label, value in zip(labels, stats, strict=True)]
    if not labels:
        return ""
    label_width = max(map(len, labels)) + 2
    value_width = max(map(len, texts))
    return "\n".join(
        f"{label:<{label_width}}{text:>{value_width}}"
        for label, text in zip(labels, texts, strict=True)
    )


def _format_value(label: str, value: object) -> str:
    """Return one statistic as text (see `format_stats`)."""
    if not isinstance(value, (float, np.floating)):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if label.endswith("[%]") or abs(number) >= 100:
        return f"{number:,.2f}"
    return f"{number:.3f}"


def _validated_equity(equity: pd.Series) -> tuple[FloatArray, pd.DatetimeIndex]:
    """Check an equity curve and return its values as floats and its index.

    Raises:
        DataError: If the curve is unusable; the message names the row.
    """
    import pandas as pd  # noqa: PLC0415  (lazy: `import quantkit` must not load pandas)

    if not isinstance(equity, pd.Series):
        raise DataError(f"expected a pandas Series, got {type(equity).__name__}", source="equity")
    index = equity.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"the index must be a DatetimeIndex of bar close times, got {type(index).__name__}",
            source="equity",
        )
    if equity.empty:
        raise DataError("is empty; statistics need at least one bar", source="equity")
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise DataError("the timestamp is missing (NaT)", source="equity", row=row)
    not_increasing = np.flatnonzero(np.diff(index.asi8) <= 0)
    if not_increasing.size:
        row = int(not_increasing[0]) + 1
        raise DataError(
            f"timestamp {index[row]} is not after the previous one {index[row - 1]}; "
            "timestamps must be strictly increasing",
            source="equity",
            row=row,
        )
    values = _float_values(equity, "equity")
    if values[0] <= 0:
        raise DataError(f"start equity must be positive, got {values[0]}", source="equity", row=0)
    return values, index


def _validated_pnl(trades: pd.DataFrame) -> FloatArray:
    """Check the trades table and return its ``pnl`` column as floats.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    columns = getattr(trades, "columns", None)
    if columns is None or "pnl" not in columns:
        raise DataError("expected a DataFrame with a 'pnl' column", source="trades")
    return _float_values(trades["pnl"], "trades")


def _float_values(series: pd.Series, source: str) -> FloatArray:
    """Return a Series' values as finite floats.

    Raises:
        DataError: If a value is not a number, or is NaN or infinite; names the first row.
    """
    try:
        values: FloatArray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"values must be numbers, got dtype {series.dtype}", source=source) from exc
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"value {values[row]} is not a finite number", source=source, row=row)
    return values


def _check_arguments(
    *,
    ppy: float,
    exposure: float | None,
    fees: float | None,
    ambiguous_fills: int,
    ambiguous_trades: int,
    risk_free: float,
) -> None:
    """Check the scalar arguments of `compute_stats`.

    Raises:
        ConfigError: Naming the first invalid argument.
    """
    if not (math.isfinite(ppy) and ppy > 0):
        raise ConfigError(f"periods_per_year must be a positive finite number, got {ppy!r}")
    if exposure is not None and not 0.0 <= exposure <= 1.0:
        raise ConfigError(f"exposure must be a fraction in [0, 1], got {exposure!r}")
    if fees is not None and not math.isfinite(fees):
        raise ConfigError(f"fees must be a finite number, got {fees!r}")
    for name, count in (
        ("ambiguous_fills", ambiguous_fills),
        ("ambiguous_trades", ambiguous_trades),
    ):
        if count < 0:
            raise ConfigError(f"{name} must not be negative, got {count!r}")
    if not (math.isfinite(risk_free) and risk_free > -1.0):
        raise ConfigError(f"risk_free must be a finite annual rate above -1, got {risk_free!r}")


def _drawdown_values(values: FloatArray) -> FloatArray:
    """Return ``values / running max - 1`` (the first value must be positive)."""
    result: FloatArray = values / np.maximum.accumulate(values) - 1.0
    return result


def _cagr(start: float, final: float, n_periods: int, ppy: float) -> float:
    """Return the compound annual growth rate as a fraction (see `compute_stats`)."""
    if n_periods == 0 or final < 0:
        return math.nan
    try:
        return float((final / start) ** (ppy / n_periods) - 1.0)
    except OverflowError:
        return math.inf


def _return_ratios(values: FloatArray, ppy: float, risk_free: float) -> tuple[float, float, float]:
    """Return annualised volatility (a fraction), Sharpe and Sortino of an equity curve."""
    if values.size < 2 or bool(np.any(values <= 0)):
        return math.nan, math.nan, math.nan
    returns = values[1:] / values[:-1] - 1.0
    excess = returns - math.expm1(math.log1p(risk_free) / ppy)
    root = math.sqrt(ppy)
    mean = float(np.mean(excess))
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    sortino = _ratio(mean, downside) * root
    if returns.size < 2:
        return math.nan, math.nan, sortino
    volatility = float(np.std(returns, ddof=1)) * root
    sharpe = _ratio(mean, float(np.std(excess, ddof=1))) * root
    return volatility, sharpe, sortino


def _ratio(numerator: float, denominator: float) -> float:
    """Return ``numerator / denominator``, or NaN when the denominator is (numerically) zero."""
    return math.nan if denominator <= _ZERO_DENOMINATOR else numerator / denominator


def _trade_ratios(pnl: FloatArray) -> tuple[float, float]:
    """Return the win rate (a fraction) and the profit factor of closed trades' pnl."""
    if pnl.size == 0:
        return math.nan, math.nan
    gains = float(pnl[pnl > 0].sum())
    losses = -float(pnl[pnl < 0].sum())
    win_rate = np.count_nonzero(pnl > 0) / pnl.size
    if losses > 0:
        return win_rate, gains / losses
    return win_rate, math.inf if gains > 0 else math.nan


def _max_drawdown_duration(values: FloatArray, index: pd.DatetimeIndex) -> pd.Timedelta:
    """Return the longest peak-to-recovery time (to the last timestamp if never recovered).

    A dip of less than one part in 10**12 below the peak is rounding noise, not a drawdown;
    without this tolerance the duration would change when the same curve is scaled.
    """
    below_peak = values < np.maximum.accumulate(values) * (1.0 - 1e-12)
    if not below_peak.any():
        return index[0] - index[0]
    edges = np.diff(np.concatenate(([0], below_peak.astype(np.int8), [0])))
    first_below = np.flatnonzero(edges == 1)
    recovered = np.minimum(np.flatnonzero(edges == -1), values.size - 1)
    # The bar before a spell below the peak is the peak itself (it sits at the running max).
    durations = index[recovered] - index[first_below - 1]
    return durations.max()
