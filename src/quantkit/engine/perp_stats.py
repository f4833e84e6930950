"""The statistics rows of a run on perpetuals: funding paid and received, liquidations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.portfolio import Portfolio

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.domain.bars import BarSeries

__all__ = ["add_perpetual_stats", "quote_equity", "trade_funding"]


class _Held(Protocol):
    """What funding is attributed by: a `Trade`, or a row of the trades table."""

    @property
    def symbol(self) -> str: ...

    @property
    def entry_time(self) -> int: ...

    @property
    def exit_time(self) -> int: ...


def trade_funding(trades: Sequence[_Held], portfolio: Portfolio) -> npt.NDArray[np.float64] | None:
    """What each round trip paid in funding (``None`` for a spot account).

    A payment belongs to the trade holding the symbol when it was booked: booked after the
    trade's entry fill and no later than its exit fill (funding is booked at a bar's open,
    before that bar's fills, so a position closed at that open still pays it).

    Args:
        trades: Round trips in one run.
        portfolio: The account at the end of the run.

    Returns:
        One amount per trade (negative: received), or ``None``.
    """
    if not isinstance(portfolio, FuturesPortfolio):
        return None
    by_symbol: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
    for symbol in {p.symbol for p in portfolio.funding}:
        mine = sorted((p.booked_at, p.amount) for p in portfolio.funding if p.symbol == symbol)
        times = np.array([t for t, _ in mine], dtype=np.int64)
        total = np.concatenate(([0.0], np.cumsum([a for _, a in mine])))
        by_symbol[symbol] = times, total
    out = np.zeros(len(trades))
    for k, trade in enumerate(trades):
        found = by_symbol.get(trade.symbol)
        if found is None:
            continue
        times, total = found
        end = trade.exit_time if trade.exit_time >= 0 else np.iinfo(np.int64).max
        lo = int(np.searchsorted(times, trade.entry_time, side="right"))
        hi = int(np.searchsorted(times, end, side="right"))
        out[k] = total[hi] - total[lo]
    return out


def add_perpetual_stats(stats: pd.Series, portfolio: Portfolio) -> pd.Series:
    """Append the perpetual rows to a run's statistics (unchanged for a spot account).

    Rows: ``Funding paid`` and ``Funding received`` (each >= 0, settle currency), ``Net
    funding`` (paid - received), ``Liquidations`` (forced closes) and ``Funding source`` (where
    each symbol's rates came from: a history, a constant rate, or none).

    Args:
        stats: The statistics table.
        portfolio: The account at the end of the run.

    Returns:
        The table with the rows appended (a new Series), or ``stats`` itself.
    """
    if not isinstance(portfolio, FuturesPortfolio):
        return stats
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    paid = math.fsum(p.amount for p in portfolio.funding if p.amount > 0)
    received = -math.fsum(p.amount for p in portfolio.funding if p.amount < 0)
    sources = "; ".join(f"{s}: {text}" for s, text in sorted(portfolio.funding_sources.items()))
    rows = pd.Series(
        {
            "Funding paid": paid,
            "Funding received": received,
            "Net funding": paid - received,
            "Liquidations": portfolio.liquidations,
            "Funding source": sources,
        },
        dtype=object,
    )
    combined: pd.Series = pd.concat([stats.astype(object), rows])
    return combined


def quote_equity(
    equity: pd.Series, portfolio: Portfolio, history: Mapping[str, BarSeries]
) -> pd.Series:
    """The equity curve valued in the quote currency.

    A coin-margined account keeps its equity in its settle coin (BTC for ``BTC/USD:BTC``);
    its quote value at each close is that equity times the mark close (the trade close
    without a mark series) of its first inverse perpetual settled in that coin. Any other
    account is already in the quote currency: its curve is returned as it is.

    Args:
        equity: The run's equity curve (`Result.equity`).
        portfolio: The account at the end of the run.
        history: The run's trade bars by symbol.

    Returns:
        The curve in the quote currency (named ``"equity_quote"`` for a coin-margined one).
    """
    if not isinstance(portfolio, FuturesPortfolio):
        return equity
    coins = [
        s
        for s, spec in portfolio.specs.items()
        if spec.inverse and spec.settle == portfolio.currency and s in history
    ]
    if not coins:
        return equity
    series = history[coins[0]]
    closes = portfolio.mark_close.get(coins[0], series.close)
    times = equity.index.asi8 if hasattr(equity.index, "asi8") else np.asarray(equity.index)
    bar = np.searchsorted(series.close_time, np.asarray(times, dtype=np.int64), side="right") - 1
    price = np.where(bar >= 0, closes[np.maximum(bar, 0)], np.nan)
    out: pd.Series = equity * price
    return out.rename("equity_quote")
