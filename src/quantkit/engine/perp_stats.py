"""The statistics rows of a run on perpetuals: funding paid and received, liquidations."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.portfolio import Portfolio

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_perpetual_stats"]


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
