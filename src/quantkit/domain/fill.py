"""Fills: one execution of (part of) an order."""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.order import Side

__all__ = ["Fill"]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution.

    Attributes:
        client_id: The order's client id.
        symbol: Market symbol.
        side: Buy or sell.
        price: Execution price (quote currency per base unit).
        amount: Executed amount, base currency, > 0.
        fee: Fee charged, in ``fee_currency``; negative for a rebate.
        fee_currency: Currency of the fee (the market's quote currency in simulations).
        timestamp: Execution time, ns since the epoch (the fill bar's open time for fills at the
            open, its close time otherwise in simulations).
        is_maker: Whether the fill added liquidity.
        ambiguous: Whether the outcome rested on an assumption about the order of prices
            inside the bar.
    """

    client_id: str
    symbol: str
    side: Side
    price: float
    amount: float
    fee: float
    fee_currency: str
    timestamp: int
    is_maker: bool = False
    ambiguous: bool = False

    @property
    def notional(self) -> float:
        """``price * amount``, quote currency."""
        return self.price * self.amount

    @property
    def signed_amount(self) -> float:
        """Amount with the side's sign (+ buy, - sell)."""
        return self.amount if self.side is Side.BUY else -self.amount
