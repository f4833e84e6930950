"""The statistics tables: `compute_stats` for a backtest's `Result`, `metrics_table` for any curve.

Both are assembled from the metric functions of `quantkit.metrics.returns`,
`quantkit.metrics.drawdowns`, `quantkit.metrics.distribution`,
`quantkit.metrics.trades` and `quantkit.metrics.benchmark`; every figure is
defined in those functions' docstrings and in ``docs/stats.md``. pandas is imported inside the
functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.domain.timeframe import NS_PER_SECOND
from quantkit.errors import ConfigError, DataError
from quantkit.metrics import benchmark as _bench
from quantkit.metrics import distribution as _dist
from quantkit.metrics import drawdowns as _dd
from quantkit.metrics import returns as _metrics
from quantkit.metrics import trades as _trade
from quantkit.metrics.drawdowns import drawdown
from quantkit.metrics.formatting import format_value as _format_value

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["compute_stats", "drawdown", "format_stats", "metrics_table", "periods_per_year"]

_NS_PER_DAY = 86_400 * NS_PER_SECOND
# Kept here for quantkit.analysis.montecarlo, which shares these definitions.
_ZERO_DENOMINATOR = _metrics._ZERO_DENOMINATOR
_drawdown_values = _dd._drawdown_values
_CONFIDENCE = 0.95
_NOT_RECOVERED = "not recovered"


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
    benchmark: pd.Series | None = None,
) -> pd.Series:
    """Return the statistics table of a backtest.

    The rows are those of `metrics_table`: the per-period ratios are annualised at
    ``periods_per_year`` (the bar's timeframe), while CAGR, Calmar and turnover use the elapsed
    calendar time ``years = (t_{n-1} - t_0) / 365 days``, so a gap in the data neither shortens
    nor stretches the year. Exposure and fees are as the engine counted them, with two counts of
    fills whose order within a bar the simulator had to assume. Each figure is defined in
    ``docs/stats.md``; in short, with ``n`` bars ``e_0 .. e_{n-1}``, returns
    ``r_t = e_t / e_{t-1} - 1`` and ``ppy = periods_per_year``:

    - ``Total return [%] = 100 * (e_{n-1} / e_0 - 1)``;
      ``CAGR [%] = 100 * ((e_{n-1} / e_0) ** (1 / years) - 1)``;
    - ``Volatility (ann.) [%] = 100 * std(r, ddof=1) * sqrt(ppy)``;
    - ``Sharpe ratio = mean(x) / std(x, ddof=1) * sqrt(ppy)`` with ``x = r - rf`` and
      ``rf = (1 + risk_free) ** (1 / ppy) - 1``;
    - ``Sortino ratio = mean(x) / sqrt(mean(min(x, 0) ** 2)) * sqrt(ppy)``, the downside
      deviation taken over all periods (as empyrical);
    - ``Max drawdown [%] = 100 * min(drawdown)``; ``Max drawdown duration`` is the longest
      spell below a peak (any spell), while ``Max drawdown peak/trough/recovery/length``
      describe the deepest one;
    - ``Win rate [%] = 100 * count(pnl > 0) / trades``;
      ``Profit factor = sum(pnl > 0) / |sum(pnl < 0)|``;
    - ``Exposure time [%] = 100 * exposure``.

    A ratio whose denominator is zero is NaN, never an error (profit factor with wins and no
    losses is inf). Every returns-based figure is NaN when an equity value is zero or negative,
    as the returns after a ruin are undefined.

    Args:
        equity: Account equity at each bar close (one point per bar), indexed by a strictly
            increasing UTC ``DatetimeIndex``; the first value must be positive.
        trades: Closed round trips, one row each, with at least a float column ``"pnl"`` (net
            profit after fees); the holding time and turnover also read ``entry_time``,
            ``exit_time``, ``size``, ``entry_price`` and ``exit_price`` (NaT/NaN without them).
            May have no rows.
        periods_per_year: Bars in a year, used to annualise (see `periods_per_year`).
        exposure: Fraction of bars, in [0, 1], with a non-zero position; NaN when not given.
        fees: Total fees paid in quote currency (negative for net rebates); NaN when not given.
        ambiguous_fills: Fills whose order within a bar the simulator had to assume.
        ambiguous_trades: Trades that contain at least one ambiguous fill.
        risk_free: Annual risk-free rate as a fraction (``0.04`` = 4 %), subtracted from the
            returns of Sharpe, Sortino and alpha.
        benchmark: Prices (or equity) of a benchmark, e.g. the traded asset's closes, for the
            buy-and-hold, alpha, beta and information ratio rows (NaN without it).

    Returns:
        An object-dtype Series named ``"stats"`` indexed by label: Start, End, Duration, Bars,
        Start equity, Final equity, the rows of `metrics_table` up to Fees paid (Exposure time
        and Fees paid as given), Gross P&L (net P&L plus fees), Fees [% of gross P&L] and
        Fees [% of net P&L] (``100 * fees / |P&L|``), the benchmark rows, then Ambiguous fills
        and Ambiguous trades.

    Raises:
        DataError: If ``equity`` is empty, not a Series of finite numbers with a strictly
            increasing ``DatetimeIndex``, or starts at zero or below; if ``trades`` has no
            ``"pnl"`` column or a value that is not a finite number; or if ``benchmark`` is
            unusable or shares no timestamp with ``equity``.
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

    _metrics._validated_equity(equity)
    _trade.win_rate(trades)  # checks the pnl column first, as the table always reads it
    _check_arguments(
        ppy=periods_per_year,
        exposure=exposure,
        fees=fees,
        ambiguous_fills=ambiguous_fills,
        ambiguous_trades=ambiguous_trades,
        risk_free=risk_free,
    )
    rows = _rows(equity, trades, benchmark, periods_per_year, risk_free)
    rows["Exposure time [%]"] = math.nan if exposure is None else float(exposure) * 100.0
    rows["Fees paid"] = math.nan if fees is None else float(fees)
    rows.update(_fee_rows(equity, rows["Fees paid"]))
    rows["Ambiguous fills"] = int(ambiguous_fills)
    rows["Ambiguous trades"] = int(ambiguous_trades)
    return pd.Series({label: rows[label] for label in _LABELS}, dtype=object, name="stats")


def metrics_table(
    equity: pd.Series,
    *,
    trades: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
) -> pd.Series:
    """Return every metric of an equity curve at once, as a labelled Series.

    Each row is one function of the metrics modules (see ``docs/stats.md`` for the table of
    labels, functions and definitions). The annualised per-period ratios use
    ``periods_per_year``, or without it the bar frequency inferred from the timestamps' median
    spacing (a 365-day year); CAGR, Calmar and turnover always use the elapsed calendar time.
    Percentages (labels ending in ``[%]``) are multiplied by 100; VaR and CVaR are at 95 %.

    Args:
        equity: Equity at each bar close on a strictly increasing ``DatetimeIndex``; the first
            value must be positive.
        trades: Closed trades (``Result.trades``); without it the trade rows are NaN. Rows that
            need a column the frame lacks (e.g. ``size`` for turnover) are NaN/NaT.
        benchmark: Benchmark prices or equity (e.g. the traded asset's closes), compared on the
            timestamps it shares with ``equity``; without it those rows are NaN.
        periods_per_year: Bars in a year; inferred from ``equity``'s timestamps when not given.
        risk_free: Annual risk-free rate, used by Sharpe, Sortino (as its target) and alpha.

    Returns:
        An object-dtype Series named ``"metrics"``, from ``Total return [%]`` to
        ``Information ratio`` (floats, Timestamps, Timedeltas and the text ``"not recovered"``).

    Raises:
        DataError: If ``equity``, ``trades`` or ``benchmark`` is unusable.
        ConfigError: If ``periods_per_year`` or ``risk_free`` is out of range.

    Examples:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-01", periods=4, freq="1D", tz="UTC")
        >>> table = metrics_table(pd.Series([100.0, 110.0, 99.0, 121.0], index=times))
        >>> round(table["Total return [%]"], 6), table["Max drawdown recovery"]
        (21.0, Timestamp('2024-01-04 00:00:00+0000', tz='UTC'))
    """
    import pandas as pd  # noqa: PLC0415

    _metrics._validated_equity(equity)
    if periods_per_year is not None:
        _metrics._resolve_ppy(periods_per_year, equity.index)
    _metrics._per_period_rate(risk_free, 1.0, "risk_free")
    rows = _rows(equity, trades, benchmark, periods_per_year, risk_free)
    rows = {label: value for label, value in rows.items() if label not in _HEADER}
    if trades is not None:
        rows["Exposure time [%]"] = _optional(lambda: 100.0 * _trade.exposure(equity, trades))
        rows["Fees paid"] = _optional(lambda: _trade.fees_paid(trades))
    else:
        rows["Exposure time [%]"] = rows["Fees paid"] = math.nan
    rows.update(_fee_rows(equity, rows["Fees paid"]))
    order = [label for label in _LABELS if label in rows]
    return pd.Series({label: rows[label] for label in order}, dtype=object, name="metrics")


_HEADER = ("Start", "End", "Duration", "Bars", "Start equity", "Final equity")
_BENCHMARK = ("Buy & hold return [%]", "Alpha (ann.) [%]", "Beta", "Information ratio")
_LABELS = (
    *_HEADER,
    "Total return [%]", "CAGR [%]", "Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio",
    "Calmar ratio", "Omega ratio", "Max drawdown [%]", "Max drawdown duration",
    "Max drawdown peak", "Max drawdown trough", "Max drawdown recovery", "Max drawdown length",
    "Ulcer index", "VaR 95% [%]", "CVaR 95% [%]", "Skew", "Kurtosis (excess)", "Tail ratio",
    "Trades", "Win rate [%]", "Profit factor", "Expectancy", "Average win", "Average loss",
    "Payoff ratio", "Best trade", "Worst trade", "Average holding time", "Turnover (ann.)",
    "Exposure time [%]", "Fees paid", "Gross P&L", "Fees [% of gross P&L]",
    "Fees [% of net P&L]", *_BENCHMARK, "Ambiguous fills", "Ambiguous trades",
)  # fmt: skip


def _fee_rows(equity: pd.Series, fees: float) -> dict[str, float]:
    """What the fees did: the P&L before them, and the fees as a share of it and of the net.

    ``net = e_{n-1} - e_0``, ``gross = net + fees``; each share is ``100 * fees / |P&L|``
    (NaN when that P&L is zero or the fees are unknown), so a strategy that breaks even before
    fees and loses after them shows fees of about 100 % of the net loss.
    """
    net = float(equity.iloc[-1]) - float(equity.iloc[0])
    gross = net + fees
    return {
        "Gross P&L": gross,
        "Fees [% of gross P&L]": 100.0 * fees / abs(gross) if gross else math.nan,
        "Fees [% of net P&L]": 100.0 * fees / abs(net) if net else math.nan,
    }


def _optional(compute: Any, missing: Any = math.nan) -> Any:
    """Return ``compute()``, or ``missing`` when the trades frame lacks a column it needs."""
    try:
        return compute()
    except DataError as exc:
        if exc.problem.startswith("expected a DataFrame with a"):
            return missing
        raise


def _rows(
    equity: pd.Series,
    trades: pd.DataFrame | None,
    benchmark: pd.Series | None,
    periods_per_year: float | None,
    risk_free: float,
) -> dict[str, Any]:
    """Return every row of the tables, in `_LABELS` order, but the engine's counts."""
    values, index = _metrics._validated_equity(equity)
    ppy = periods_per_year
    if ppy is None and len(index) >= 2:
        ppy_value = _metrics.infer_periods_per_year(index)
    else:
        ppy_value = math.nan if ppy is None else ppy
    rows: dict[str, Any] = {
        "Start": index[0],
        "End": index[-1],
        "Duration": index[-1] - index[0],
        "Bars": int(values.size),
        "Start equity": float(values[0]),
        "Final equity": float(values[-1]),
        "Total return [%]": 100.0 * _metrics.total_return(equity),
        "CAGR [%]": 100.0 * _metrics.cagr(equity),  # elapsed calendar time, never bar counts
    }
    alive = bool(np.all(values > 0)) and values.size >= 2
    rows.update(_return_rows(equity, ppy_value, risk_free, alive=alive))
    rows.update(_drawdown_rows(equity))
    rows.update(_distribution_rows(equity, alive=alive))
    rows.update(_trade_rows(equity, trades))
    rows.update(_benchmark_rows(equity, benchmark, ppy_value, risk_free, alive=alive))
    return rows


def _return_rows(equity: pd.Series, ppy: float, risk_free: float, *, alive: bool) -> dict[str, Any]:
    """Volatility, Sharpe, Sortino and Omega (NaN for a ruined or one-bar curve)."""
    labels = ("Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio", "Omega ratio")
    if not alive:
        return dict.fromkeys(labels, math.nan)
    r = _metrics.returns(equity)
    return {
        labels[0]: 100.0 * _metrics.annualised_volatility(r, periods_per_year=ppy),
        labels[1]: _metrics.sharpe_ratio(r, risk_free=risk_free, periods_per_year=ppy),
        labels[2]: _metrics.sortino_ratio(r, target=risk_free, periods_per_year=ppy),
        labels[3]: _metrics.omega_ratio(r),
    }


def _drawdown_rows(equity: pd.Series) -> dict[str, Any]:
    """Calmar, max drawdown, its spell, the longest spell and the Ulcer index."""
    import pandas as pd  # noqa: PLC0415

    deepest = _dd.max_drawdown_period(equity)
    recovery: Any = pd.NaT
    if deepest is not None:
        recovery = deepest.recovery if deepest.recovered else _NOT_RECOVERED
    return {
        "Calmar ratio": _dd.calmar_ratio(equity),  # CAGR over elapsed calendar time
        "Max drawdown [%]": 100.0 * _dd.max_drawdown(equity),
        "Max drawdown duration": _dd.max_drawdown_duration(equity),
        "Max drawdown peak": pd.NaT if deepest is None else deepest.peak,
        "Max drawdown trough": pd.NaT if deepest is None else deepest.trough,
        "Max drawdown recovery": recovery,
        "Max drawdown length": pd.Timedelta(0) if deepest is None else deepest.duration,
        "Ulcer index": _dd.ulcer_index(equity),
    }


def _distribution_rows(equity: pd.Series, *, alive: bool) -> dict[str, Any]:
    """VaR, CVaR, skew, kurtosis and tail ratio of the returns."""
    labels = ("VaR 95% [%]", "CVaR 95% [%]", "Skew", "Kurtosis (excess)", "Tail ratio")
    if not alive:
        return dict.fromkeys(labels, math.nan)
    r = _metrics.returns(equity)
    skew, kurtosis = _dist._skew_and_kurtosis(r)  # the moments once for both
    return {
        labels[0]: 100.0 * _dist.value_at_risk(r, confidence=_CONFIDENCE),
        labels[1]: 100.0 * _dist.conditional_value_at_risk(r, confidence=_CONFIDENCE),
        labels[2]: skew,
        labels[3]: kurtosis,
        labels[4]: _dist.tail_ratio(r),
    }


def _trade_rows(equity: pd.Series, trades: pd.DataFrame | None) -> dict[str, Any]:
    """The figures of the trades frame (NaN without one; NaN/NaT for a missing column)."""
    import pandas as pd  # noqa: PLC0415

    pnl_rows: dict[str, Any] = {
        "Win rate [%]": lambda t: 100.0 * _trade.win_rate(t),
        "Profit factor": _trade.profit_factor,
        "Expectancy": _trade.expectancy,
        "Average win": _trade.average_win,
        "Average loss": _trade.average_loss,
        "Payoff ratio": _trade.payoff_ratio,
        "Best trade": _trade.best_trade,
        "Worst trade": _trade.worst_trade,
    }
    if trades is None:
        rows: dict[str, Any] = {"Trades": math.nan, **dict.fromkeys(pnl_rows, math.nan)}
        rows["Average holding time"] = pd.NaT
        rows["Turnover (ann.)"] = math.nan
        return rows
    rows = {"Trades": len(_trade._pnl(trades))}
    rows.update({label: compute(trades) for label, compute in pnl_rows.items()})
    rows["Average holding time"] = _optional(lambda: _trade.average_holding_time(trades), pd.NaT)
    rows["Turnover (ann.)"] = _optional(lambda: _trade.turnover(equity, trades))
    return rows


def _benchmark_rows(
    equity: pd.Series, benchmark: pd.Series | None, ppy: float, risk_free: float, *, alive: bool
) -> dict[str, Any]:
    """Buy-and-hold return of the benchmark, alpha, beta and information ratio against it."""
    import pandas as pd  # noqa: PLC0415

    if benchmark is None:
        return dict.fromkeys(_BENCHMARK, math.nan)
    hold = _bench.buy_and_hold(benchmark)
    same = hold.index.equals(equity.index)  # the usual case: no copies of long curves
    common = equity.index if same else equity.index.intersection(hold.index)
    if not len(common):
        raise DataError(
            "shares no timestamp with the equity curve (check the time zone and bar close times)",
            source="benchmark",
        )
    if not same:
        hold = hold.loc[common]
    rows = dict.fromkeys(_BENCHMARK, math.nan)
    rows[_BENCHMARK[0]] = 100.0 * (float(hold.iloc[-1]) / float(hold.iloc[0]) - 1.0)
    if alive and len(common) >= 2 and math.isfinite(ppy):
        aligned = equity if same else equity.loc[common]
        strategy = _metrics.returns(pd.Series(aligned, dtype=np.float64))
        reference = _metrics.returns(hold)
        del hold  # the curve's returns are all that is needed now
        alpha, beta = _bench.alpha_beta(
            strategy, reference, risk_free=risk_free, periods_per_year=ppy
        )
        rows[_BENCHMARK[1]] = 100.0 * alpha
        rows[_BENCHMARK[2]] = beta
        rows[_BENCHMARK[3]] = _bench.information_ratio(strategy, reference, periods_per_year=ppy)
    return rows


def format_stats(stats: pd.Series) -> str:
    """Return a statistics table as aligned text, one ``label  value`` line per row.

    Labels are left-aligned and values right-aligned. Values are written by
    `quantkit.metrics.formatting.format_value`, the formatter the HTML report uses too:
    percentages (labels ending in ``[%]``) and magnitudes of 100 or more with two decimals and
    thousands separators, other floats with four significant digits, NaN as ``-``.

    Args:
        stats: A Series such as the one `compute_stats` returns.

    Returns:
        The table as one string without a trailing newline (empty for an empty Series).

    Examples:
        >>> import pandas as pd
        >>> print(format_stats(pd.Series({"Trades": 3, "Win rate [%]": 200 / 3}, dtype=object)))
        Trades            3
        Win rate [%]  66.67
    """
    labels = [str(label) for label in stats.index]
    texts = [_format_value(value, label) for label, value in zip(labels, stats, strict=True)]
    if not labels:
        return ""
    label_width = max(map(len, labels)) + 2
    value_width = max(map(len, texts))
    return "\n".join(
        f"{label:<{label_width}}{text:>{value_width}}"
        for label, text in zip(labels, texts, strict=True)
    )


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
