"""Round trips of contract markets: P&L in the settle currency, prices as the venue averages.

`round_trips` values a trade at ``amount * price``. For a perpetual whose contract is not one
base unit of a linear contract (`FuturesPortfolio.value`: ``CS * price``, or ``-CS / price``
for inverse), the same arithmetic on the contract's value gives the trade's P&L in the settle
currency; `value_fills` hands it fills at their values, and `restore_prices` turns the table's
average values back into prices (the contract-weighted mean for linear, the harmonic mean for
inverse, as the venue reports entry prices) with ``return_pct`` on the entry notional.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from quantkit.domain.fill import Fill
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.portfolio import Portfolio

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["contract_symbols", "notional_trades", "restore_prices", "value_fills"]


def contract_symbols(portfolio: Portfolio) -> frozenset[str]:
    """The account's perpetuals traded in contracts other than one linear base unit."""
    if not isinstance(portfolio, FuturesPortfolio):
        return frozenset()
    return frozenset(s for s in portfolio.specs if portfolio.contract_spec(s) is not None)


def value_fills(fills: Iterable[Fill], portfolio: Portfolio) -> Iterator[Fill]:
    """The fills, a contract market's at ``price = value(price)`` (others unchanged).

    Args:
        fills: The run's fills.
        portfolio: The account (a `FuturesPortfolio` knows the contracts).

    Yields:
        Each fill, or a copy priced at the contract's value.
    """
    contracts = contract_symbols(portfolio)
    for f in fills:
        if f.symbol not in contracts or not isinstance(portfolio, FuturesPortfolio):
            yield f
            continue
        value = portfolio.value(f.symbol, f.price)
        yield Fill(f.client_id, f.symbol, f.side, value, f.amount, f.fee, f.fee_currency,
                   f.timestamp, f.is_maker, f.ambiguous)  # fmt: skip


def restore_prices(table: pd.DataFrame, portfolio: Portfolio) -> pd.DataFrame:
    """Turn a contract market's average values in a trades table back into prices.

    Args:
        table: `Result.trades` or `Result.open_trades` built from `value_fills`.
        portfolio: The account.

    Returns:
        The table, changed in place for the contract markets' rows.
    """
    contracts = contract_symbols(portfolio)
    if not contracts or table.empty or not isinstance(portfolio, FuturesPortfolio):
        return table
    for symbol in contracts:
        rows = (table["symbol"] == symbol).to_numpy()
        if not rows.any():
            continue
        spec = portfolio.specs[symbol]
        for column in ("entry_price", "exit_price"):
            values = table.loc[rows, column].to_numpy(dtype=np.float64)
            prices = -spec.contract_size / values if spec.inverse else values / spec.contract_size
            table.loc[rows, column] = prices
        table.loc[rows, "return_pct"] = table.loc[rows, "return_pct"].abs() * np.sign(
            table.loc[rows, "pnl"].to_numpy(dtype=np.float64)
        )
    return table


def notional_trades(table: pd.DataFrame, portfolio: Portfolio) -> pd.DataFrame:
    """A copy of a trades table whose ``size * price`` is each trade's notional.

    `quantkit.metrics.trades.turnover` counts ``size * (entry_price + exit_price)``: for a
    contract market that is contracts times USD, not the notional in the account currency.
    Here a contract market's rows carry ``size * CS`` and the prices (linear) or their
    reciprocals (inverse: ``contracts * CS / price`` is the notional in the coin).

    Args:
        table: `Result.trades`.
        portfolio: The account.

    Returns:
        The copy (the table itself when no row is a contract market's).
    """
    contracts = contract_symbols(portfolio)
    if not contracts or table.empty or not isinstance(portfolio, FuturesPortfolio):
        return table
    out = table.copy()
    for symbol in contracts:
        rows = (out["symbol"] == symbol).to_numpy()
        spec = portfolio.specs[symbol]
        out.loc[rows, "size"] = out.loc[rows, "size"] * spec.contract_size
        if spec.inverse:
            for column in ("entry_price", "exit_price"):
                out.loc[rows, column] = 1.0 / out.loc[rows, column]
    return out
