"""Changing a perpetual's leverage while a position is open, by Binance USD-M's rules.

Binance lets ``POST /fapi/v1/leverage`` change a symbol's leverage with a position open, and
refuses what its margin cannot carry (error codes as ccxt's ``binanceusdm`` maps them):

- ``-2027`` "Exceeded the maximum allowable position at current leverage.": the position's
  notional at the mark (`PerpetualSpec.notional`: linear or inverse, any contract size)
  falls in a bracket whose maximum leverage is below the new one;
- ``-4161`` "Leverage reduction is not supported in Isolated Margin Mode with open
  positions.": lowering an isolated position's leverage;
- ``-2028`` "Leverage is smaller than permitted: insufficient margin balance": lowering a cross
  position's leverage needs ``notional / new - notional / old`` more initial margin than is
  available.

Raising an isolated position's leverage keeps its isolated wallet as it is (the margin above
the new initial margin stays with the position), so its liquidation price does not move;
raising a cross position's frees initial margin. The simulator (`SimulatedBroker.set_leverage`)
and the live perpetual broker (before sending) both use `leverage_refusal`; the local venue
model applies the same rules on its own.
"""

from __future__ import annotations

from quantkit.domain.futures_portfolio import FuturesPortfolio

__all__ = ["apply_leverage", "leverage_refusal"]

_TOL = 1e-9


def leverage_refusal(portfolio: FuturesPortfolio, symbol: str, leverage: float) -> str:
    """Return why the venue would refuse ``leverage`` for ``symbol`` now, or ``""``.

    Args:
        portfolio: The futures account (its latest marks value the position).
        symbol: A perpetual symbol of the account.
        leverage: The new leverage (already checked against the first bracket's maximum).

    Returns:
        A message naming the symbol, the figures and Binance's code, or an empty string.
    """
    pos = portfolio.position(symbol)
    if not pos.amount:
        return ""
    old = portfolio.leverage[symbol]
    spec = portfolio.specs[symbol]
    notional = spec.notional(pos.amount, portfolio.last_price.get(symbol, pos.entry_price))
    bracket = spec.bracket(notional)
    if leverage > bracket.max_leverage:
        return (
            f"leverage {leverage:g}x for {symbol} refused: its position of notional "
            f"{notional:.8g} allows at most {bracket.max_leverage:g}x (Binance -2027)"
        )
    if leverage >= old:
        return ""
    if portfolio.margin_mode == "isolated":
        return (
            f"leverage {leverage:g}x for {symbol} refused: lowering an isolated position's "
            f"leverage ({old:g}x) is not supported while it is open (Binance -4161)"
        )
    extra = notional / leverage - notional / old
    have = portfolio.available_margin()
    if extra > have * (1 + _TOL) + _TOL:
        return (
            f"leverage {leverage:g}x for {symbol} refused: it needs {extra:.8g} "
            f"{portfolio.currency} more initial margin, available {have:.8g} (Binance -2028)"
        )
    return ""


def apply_leverage(portfolio: FuturesPortfolio, symbol: str, leverage: float) -> None:
    """Set ``symbol``'s leverage; an open isolated position keeps its isolated wallet.

    Args:
        portfolio: The futures account; changed in place.
        symbol: A perpetual symbol.
        leverage: The new leverage (`leverage_refusal` found nothing against it).
    """
    pos = portfolio.positions.get(symbol)
    old = portfolio.leverage.get(symbol, leverage)
    if pos is not None and pos.amount and portfolio.margin_mode == "isolated":
        cost = portfolio.specs[symbol].notional(pos.amount, pos.entry_price)
        extra = portfolio.isolated_extra.get(symbol, 0.0)
        portfolio.isolated_extra[symbol] = extra + cost / old - cost / leverage
    portfolio.leverage[symbol] = leverage
