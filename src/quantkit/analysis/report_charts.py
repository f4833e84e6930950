"""The tear sheet's secondary charts and the series behind them.

- `monthly_returns`: compounded return of each calendar month (UTC), from the equity curve;
- `distribution_returns`: daily returns when bars are shorter than a day, else per-bar returns;
- `rolling_sharpe`: the annualised Sharpe ratio over a trailing window of bars, whose length
  `rolling_window` picks from the bar length (about 90 days of bars, see there).

plotly is imported lazily, inside the figure functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.analysis.plots import utc_naive
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ROLLING_DAYS",
    "distribution_returns",
    "monthly_returns",
    "monthly_returns_figure",
    "returns_histogram_figure",
    "rolling_sharpe",
    "rolling_sharpe_figure",
    "rolling_window",
]

ROLLING_DAYS = 90
"""Span of the rolling Sharpe window, in days of bars."""

_MIN_WINDOW = 20
_DAY_NS = 86_400 * 10**9
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Return the compounded return of each calendar month, as a year x month table.

    A month's return is its last equity over the previous month's last equity, minus one; the
    first month is measured from the first equity value. Months are UTC calendar months, and a
    value stamped at a bar's close belongs to the month of the bar's last instant (``close - 1
    ns``): a bar closing at midnight on 1 January belongs to December. A month holding only the
    first equity value (no return yet) is left out, so a run ending at midnight on 1 January or
    starting on its last day of December shows no empty year.

    Args:
        equity: Equity on a ``DatetimeIndex`` (time-zone aware or UTC-naive).

    Returns:
        Fractional returns with one row per year and columns ``1`` to ``12``; months outside
        the run are NaN. Empty when ``equity`` is.

    Examples:
        >>> import pandas as pd
        >>> times = pd.to_datetime(["2024-01-01", "2024-01-31", "2024-02-29"], utc=True)
        >>> table = monthly_returns(pd.Series([100.0, 110.0, 99.0], index=times))
        >>> [round(x, 4) for x in table.loc[2024, [1, 2]]]
        [0.1, -0.1]
    """
    import pandas as pd  # noqa: PLC0415

    columns = list(range(1, 13))
    if not len(equity):
        return pd.DataFrame(columns=columns, dtype=np.float64)
    stamps = pd.DatetimeIndex(equity.index) - pd.Timedelta(1, unit="ns")
    shifted = pd.Series(equity.to_numpy(dtype=np.float64), index=stamps)
    ends = shifted.resample("ME").last().dropna()
    previous = ends.shift(1)
    previous.iloc[0] = float(equity.iloc[0])
    change = ends / previous - 1.0
    if len(change) > 1 and int(shifted.resample("ME").count().iloc[0]) == 1:
        change = change.iloc[1:]  # the first month holds only the starting value
    index = pd.DatetimeIndex(change.index)
    table = pd.DataFrame({"year": index.year, "month": index.month, "value": change.to_numpy()})
    pivot = table.pivot_table(index="year", columns="month", values="value", aggfunc="last")
    return pivot.reindex(columns=columns).rename_axis(index=None, columns=None)


def distribution_returns(equity: pd.Series, timeframe_ns: int) -> tuple[pd.Series, str]:
    """Return the returns whose distribution the report draws, and what they are.

    With bars shorter than a day the equity is sampled at the last bar of each UTC day and the
    daily returns are used (intraday noise hides the shape); otherwise the per-bar returns.

    Args:
        equity: Equity on a ``DatetimeIndex``.
        timeframe_ns: Bar length in nanoseconds.

    Returns:
        ``(returns, label)``: fractional returns, and ``"daily"`` or ``"per-bar"``.
    """
    if timeframe_ns < _DAY_NS and len(equity):
        sampled = equity.resample("1D").last().dropna()
        return sampled.pct_change().dropna(), "daily"
    return equity.pct_change().dropna(), "per-bar"


def rolling_window(timeframe_ns: int, bars: int) -> int:
    """Return the rolling Sharpe window, in bars, for a bar length and run length.

    The window spans `ROLLING_DAYS` (90) days of bars, and at least 20 bars (e.g. 2160 bars of
    1h, 90 of 1d, 20 of 1w). A run shorter than two windows gets half its length instead (at
    least 2 bars), so that the curve has something to show.

    Args:
        timeframe_ns: Bar length in nanoseconds.
        bars: Number of bars in the run.

    Returns:
        The window length in bars.

    Raises:
        ConfigError: If ``timeframe_ns`` is not positive.

    Examples:
        >>> rolling_window(3_600 * 10**9, 17_520)
        2160
        >>> rolling_window(86_400 * 10**9, 100)
        50
    """
    if timeframe_ns <= 0:
        raise ConfigError(f"timeframe_ns must be a positive bar length, got {timeframe_ns}")
    ideal = max(_MIN_WINDOW, math.ceil(ROLLING_DAYS * _DAY_NS / timeframe_ns))
    if bars < 2 * ideal:
        return max(2, bars // 2)
    return ideal


def rolling_sharpe(returns: pd.Series, window: int, periods_per_year: float) -> pd.Series:
    """Return the annualised Sharpe ratio over a trailing window (risk-free rate zero).

    ``mean(r) / std(r, ddof=1) * sqrt(periods_per_year)`` over each window of ``window``
    returns; NaN until the window is full and where the returns do not vary.

    Args:
        returns: Fractional per-bar returns.
        window: Window length in bars, at least 2.
        periods_per_year: Bars per year, for the annualisation.

    Returns:
        The ratio on the index of ``returns``, named ``"rolling_sharpe"``.

    Raises:
        ConfigError: If ``window`` is below 2 or ``periods_per_year`` is not positive.
    """
    if window < 2:
        raise ConfigError(f"the rolling Sharpe window must be at least 2 bars, got {window}")
    if not periods_per_year > 0:
        raise ConfigError(f"periods_per_year must be positive, got {periods_per_year}")
    rolling = returns.rolling(window, min_periods=window)
    std = rolling.std(ddof=1)
    ratio = rolling.mean() / std.where(std > 1e-12) * math.sqrt(periods_per_year)
    return ratio.rename("rolling_sharpe")


def monthly_returns_figure(table: pd.DataFrame) -> Any:
    """Return a year x month heatmap of `monthly_returns`, in percent.

    Args:
        table: The table `monthly_returns` gives.

    Returns:
        A ``plotly.graph_objects.Figure`` with one ``Heatmap`` trace named ``"monthly returns"``.
    """
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting

    percent = 100.0 * table.to_numpy(dtype=np.float64)
    years = [str(year) for year in table.index]
    figure = go.Figure(
        go.Heatmap(
            z=percent,
            x=list(_MONTHS),
            y=years,
            name="monthly returns",
            colorscale="RdYlGn",
            zmid=0.0,
            texttemplate="%{z:.1f}",
            hovertemplate="%{x} %{y}: %{z:.2f}%<extra></extra>",
            colorbar={"title": {"text": "%"}},
            xgap=2,
            ygap=2,
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_layout(
        height=max(220, 60 * len(years) + 120),
        title={"text": "Monthly returns [%]", "x": 0.01},
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        template="plotly_white",
    )
    return figure


def returns_histogram_figure(returns: pd.Series, label: str) -> Any:
    """Return a histogram of returns in percent, with their mean and 5 % quantile marked.

    Args:
        returns: Fractional returns (see `distribution_returns`).
        label: What they are, e.g. ``"daily"``.

    Returns:
        A ``plotly.graph_objects.Figure`` with one ``Histogram`` trace named ``"<label>
        returns"``.
    """
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting

    percent = 100.0 * returns.to_numpy(dtype=np.float64)
    figure = go.Figure(
        go.Histogram(x=percent, nbinsx=60, name=f"{label} returns", marker_color="#1f77b4")
    )
    if percent.size:
        for value, name, dash in (
            (float(np.mean(percent)), "mean", "solid"),
            (float(np.quantile(percent, 0.05)), "5% quantile", "dash"),
        ):
            figure.add_vline(
                x=value,
                line={"color": "#444", "dash": dash, "width": 1},
                annotation_text=f"{name} {value:.2f}%",
            )
    figure.update_layout(
        height=360,
        title={"text": f"Distribution of {label} returns [%]", "x": 0.01},
        xaxis_title="return [%]",
        yaxis_title="count",
        bargap=0.05,
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        template="plotly_white",
    )
    return figure


def rolling_sharpe_figure(sharpe: pd.Series, window: int, timeframe: str) -> Any:
    """Return a line chart of `rolling_sharpe`.

    Args:
        sharpe: The rolling ratio.
        window: Its window in bars (for the title).
        timeframe: The bar length, e.g. ``"1h"`` (for the title).

    Returns:
        A ``plotly.graph_objects.Figure`` with one ``Scatter`` trace named ``"rolling Sharpe"``.
    """
    import plotly.graph_objects as go  # noqa: PLC0415 - plotly loads only when plotting

    figure = go.Figure(
        go.Scatter(
            x=utc_naive(sharpe.index),
            y=sharpe.to_numpy(dtype=np.float64),
            name="rolling Sharpe",
            mode="lines",
            line={"color": "#9467bd", "width": 1},
        )
    )
    figure.add_hline(y=0.0, line={"color": "#999", "width": 1})
    figure.update_xaxes(hoverformat="%Y-%m-%d %H:%M UTC")
    figure.update_layout(
        height=320,
        title={
            "text": f"Rolling Sharpe ratio (annualised, {window} bars of {timeframe})",
            "x": 0.01,
        },
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        template="plotly_white",
    )
    return figure
