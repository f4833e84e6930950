"""The statistics rows of a run on perpetuals: funding paid and received, liquidations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.portfolio import Portfolio

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["add_perpetual_stats", "trade_funding"]


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
