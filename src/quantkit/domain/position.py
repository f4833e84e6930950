"""Positions: signed holdings of one market with average entry price and realised PnL."""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.amounts import SNAP_RTOL, is_dust_amount, is_flat_amount

__all__ = ["Position"]

_EPS = SNAP_RTOL  # a closed position snaps to zero within the shared float noise


@dataclass(slots=True)
class Position:
    """A signed position in one market.

    Attributes:
        symbol: Market symbol.
        amount: Signed amount in base currency (> 0 long, < 0 short).
        entry_price: Average entry price of the open amount (0 when flat).
        realized_pnl: Profit realised by reducing or closing, before fees (quote currency).
        dust_below: Holdings smaller than this (the market's minimum tradable amount) are
            dust: they cannot be sold, so the position counts as flat (``0`` = none).
    """

    symbol: str
    amount: float = 0.0
    entry_price: float = 0.0
    realized_pnl: float = 0.0
    dust_below: float = 0.0

    @property
    def is_flat(self) -> bool:
        """Whether nothing tradable is held: no amount, or only dust (see `is_dust`)."""
        # `apply` snaps a closed position to exactly zero; dust is below the minimum (beyond
        # float noise), by the same rule as the fast path's kernel.
        return is_flat_amount(self.amount, self.dust_below)

    @property
    def is_dust(self) -> bool:
        """Whether a leftover below the market's minimum amount is held (flat, yet not zero)."""
        return is_dust_amount(self.amount, self.dust_below)

    def unrealized_pnl(self, price: float) -> float:
        """Profit of the open amount marked at ``price``, before fees.

        Args:
            price: Mark price.

        Returns:
            ``amount * (price - entry_price)``.
        """
        return self.amount * (price - self.entry_price)

    def apply(self, signed_amount: float, price: float) -> float:
        """Apply a fill and return the PnL it realised.

        Args:
            signed_amount: Filled amount, positive for buys, negative for sells.
            price: Fill price.

        Returns:
            PnL realised by this fill (0 when it only adds to the position).
        """
        old = self.amount
        new = old + signed_amount
        realized = 0.0
        if old == 0.0 or (old > 0) == (signed_amount > 0):
            held = old if old >= 0.0 else -old  # abs(), without the calls
            added = signed_amount if signed_amount >= 0.0 else -signed_amount
            self.entry_price = (held * self.entry_price + added * price) / (held + added)
        else:
            closed = min(abs(signed_amount), abs(old))
            realized = closed * (price - self.entry_price) * (1.0 if old > 0 else -1.0)
            if abs(new) <= _EPS * max(abs(old), abs(signed_amount)):
                new = 0.0
                self.entry_price = 0.0
            elif (new > 0) != (old > 0):
                self.entry_price = price
        self.amount = new
        self.realized_pnl += realized
        return realized
