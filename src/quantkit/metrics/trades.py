"""Trade metrics: figures over a trades frame, and exposure and turnover against an equity curve.

The trades frame is the one a `Result` holds (``Result.trades``): one row per closed round trip
with at least ``pnl`` (net profit after fees, quote currency); holding time, exposure, turnover
and fees also read ``entry_time``/``exit_time`` (UTC timestamps), ``size``, ``entry_price``,
``exit_price`` and ``fees``. A function that needs a missing column raises `DataError` naming it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np

from quantkit.errors import DataError
from quantkit.metrics.returns import _float_values, _validated_equity, _years

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "average_holding_time",
    "average_loss",
    "average_win",
    "best_trade",
    "expectancy",
    "exposure",
    "fees_paid",
    "payoff_ratio",
    "profit_factor",
    "turnover",
    "win_rate",
    "worst_trade",
]


def _column(trades: pd.DataFrame, name: str) -> pd.Series:
    """Return one column of the trades frame.

    Raises:
        DataError: If ``trades`` is not a DataFrame with that column.
    """
    columns = getattr(trades, "columns", None)
    if columns is None or name not in columns:
        raise DataError(f"expected a DataFrame with a {name!r} column", source="trades")
    column: pd.Series = trades[name]
    return column


def _pnl(trades: pd.DataFrame) -> FloatArray:
    return _float_values(_column(trades, "pnl"), "trades", "pnl")


def win_rate(trades: pd.DataFrame) -> float:
    """Return the share of trades that made money: ``count(pnl > 0) / count``.

    A break-even trade (pnl exactly 0) is not a win.

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        A fraction in [0, 1]; NaN with no trades.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    pnl = _pnl(trades)
    return float(np.count_nonzero(pnl > 0) / pnl.size) if pnl.size else math.nan


def profit_factor(trades: pd.DataFrame) -> float:
    """Return gross profit over gross loss: ``sum(pnl > 0) / |sum(pnl < 0)|``.

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        The ratio; inf with wins and no losses, 0 with losses and no wins, NaN with neither.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    pnl = _pnl(trades)
    gains = float(pnl[pnl > 0].sum())
    losses = -float(pnl[pnl < 0].sum())
    if losses > 0:
        return gains / losses
    return math.inf if gains > 0 else math.nan


def expectancy(trades: pd.DataFrame) -> float:
    """Return the mean pnl per trade: ``sum(pnl) / count``.

    Equal to ``win_rate * average_win + (1 - win_rate) * average_loss`` when every trade is a
    win or a loss.

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        The mean pnl in quote currency; NaN with no trades.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    pnl = _pnl(trades)
    return float(np.mean(pnl)) if pnl.size else math.nan


def average_win(trades: pd.DataFrame) -> float:
    """Return the mean pnl of the winning trades (``pnl > 0``).

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        A positive amount in quote currency; NaN with no winning trade.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    wins = _pnl(trades)
    wins = wins[wins > 0]
    return float(np.mean(wins)) if wins.size else math.nan


def average_loss(trades: pd.DataFrame) -> float:
    """Return the mean pnl of the losing trades (``pnl < 0``).

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        A negative amount in quote currency; NaN with no losing trade.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    losses = _pnl(trades)
    losses = losses[losses < 0]
    return float(np.mean(losses)) if losses.size else math.nan


def payoff_ratio(trades: pd.DataFrame) -> float:
    """Return the average win over the average loss: ``average_win / |average_loss|``.

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        The ratio; NaN without at least one winning and one losing trade.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    return average_win(trades) / abs(average_loss(trades))


def best_trade(trades: pd.DataFrame) -> float:
    """Return the largest pnl of a trade (quote currency); NaN with no trades.

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        ``max(pnl)``.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    pnl = _pnl(trades)
    return float(np.max(pnl)) if pnl.size else math.nan


def worst_trade(trades: pd.DataFrame) -> float:
    """Return the smallest pnl of a trade (quote currency); NaN with no trades.

    Args:
        trades: Closed trades with a ``pnl`` column.

    Returns:
        ``min(pnl)``.

    Raises:
        DataError: If there is no ``pnl`` column or a pnl is not a finite number.
    """
    pnl = _pnl(trades)
    return float(np.min(pnl)) if pnl.size else math.nan


def _times(trades: pd.DataFrame, name: str) -> pd.DatetimeIndex:
    """Return a timestamp column as a UTC ``DatetimeIndex`` (NaT allowed).

    Raises:
        DataError: If the column is missing or does not hold timestamps.
    """
    import pandas as pd  # noqa: PLC0415

    column = _column(trades, name)
    try:
        return pd.DatetimeIndex(pd.to_datetime(column, utc=True))
    except (TypeError, ValueError) as exc:
        raise DataError(f"column {name!r} must hold timestamps", source="trades") from exc


def _ns(times: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Return sorted timestamps as integer nanoseconds."""
    return np.sort(times.as_unit("ns").asi8)


def average_holding_time(trades: pd.DataFrame) -> pd.Timedelta:
    """Return the mean time from entry to exit: ``mean(exit_time - entry_time)``.

    Args:
        trades: Closed trades with ``entry_time`` and ``exit_time`` columns.

    Returns:
        The mean holding time; ``NaT`` with no closed trade (rows with a missing exit are
        skipped: they are still open).

    Raises:
        DataError: If a column is missing or does not hold timestamps.
    """
    import pandas as pd  # noqa: PLC0415

    held = (_times(trades, "exit_time") - _times(trades, "entry_time")).dropna()
    if not len(held):
        return cast("pd.Timedelta", pd.NaT)
    return pd.Timedelta(round(float(np.mean(held.as_unit("ns").asi8))), unit="ns")


def fees_paid(trades: pd.DataFrame) -> float:
    """Return the total fees of the trades: ``sum(fees)`` (negative for net rebates).

    Args:
        trades: Trades with a ``fees`` column (quote currency).

    Returns:
        The sum; 0 with no trades.

    Raises:
        DataError: If there is no ``fees`` column or a fee is not a finite number.
    """
    return float(np.sum(_float_values(_column(trades, "fees"), "trades", "fees")))


def exposure(equity: pd.Series, trades: pd.DataFrame) -> float:
    """Return the fraction of the curve's bars at whose close a trade was open.

    Bar ``t`` counts as exposed when some trade has ``entry_time <= t < exit_time`` (a missing
    exit counts as still open). The engine's own figure (the ``exposure`` given to
    `quantkit.metrics.stats.compute_stats`) reads positions directly; this one rebuilds it from
    the trades.

    Args:
        equity: Equity at each bar close; only its timestamps are used.
        trades: Trades with ``entry_time`` and ``exit_time`` columns.

    Returns:
        A fraction in [0, 1].

    Raises:
        DataError: If ``equity`` is unusable or a trades column is missing or not timestamps.
    """
    import pandas as pd  # noqa: PLC0415

    _, index = _validated_equity(equity)
    entries = _times(trades, "entry_time")
    exits = _times(trades, "exit_time")
    stamps = index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")
    # A bar's open trades: entries at or before it minus exits at or before it (NaT: open).
    bars = _ns(stamps)
    opened = np.searchsorted(_ns(entries), bars, side="right")
    closed = np.searchsorted(_ns(pd.DatetimeIndex(exits.dropna())), bars, side="right")
    return float(np.count_nonzero(opened - closed > 0) / len(index))


def turnover(
    equity: pd.Series, trades: pd.DataFrame, *, periods_per_year: float | None = None
) -> float:
    """Return the annualised turnover: traded notional over average equity, per year.

    ``turnover = sum(size * (entry_price + exit_price)) / mean(equity) / years``: each round
    trip trades its size in and out, and ``years`` is the elapsed time over 365 days (or
    ``(n - 1) / periods_per_year`` when given). 12.0 means the account's average equity changed
    hands twelve times a year.

    Args:
        equity: Equity at each bar close (see `quantkit.metrics.returns.total_return`).
        trades: Closed trades with ``size``, ``entry_price`` and ``exit_price`` columns.
        periods_per_year: Bars in a year, to count periods instead of elapsed time.

    Returns:
        Times per year; NaN for a single bar (no time has passed) or a mean equity <= 0.

    Raises:
        DataError: If ``equity`` is unusable or a trades column is missing or not finite.
        ConfigError: If ``periods_per_year`` is not a positive finite number.
    """
    values, index = _validated_equity(equity)
    years = _years(values, index, periods_per_year)
    size = np.abs(_float_values(_column(trades, "size"), "trades", "size"))
    prices = _float_values(_column(trades, "entry_price"), "trades", "entry_price") + _float_values(
        _column(trades, "exit_price"), "trades", "exit_price"
    )
    average = float(np.mean(values))
    if years <= 0 or average <= 0:
        return math.nan
    return float(np.sum(size * prices)) / average / years
