"""One-way positions of the local USD-M venue and how a fill changes them.

A position is a signed amount (positive long, negative short) with an entry price. A fill in
the position's direction (or from flat) averages the entry price by amount; a fill against it
realises ``(price - entry) x closed amount`` (sign of the position; USDT to 8 decimals, as
Binance books it) and keeps the entry; a fill
larger than the position closes it and opens the rest the other way at the fill price. In
isolated mode the position carries its own wallet: the initial margin of each increase moves
into it, a reduction gives back the same share of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

__all__ = ["FillEffect", "FuturesPosition", "MarginType"]

MarginType = Literal["ISOLATED", "CROSSED"]
"""Margin type of a symbol, Binance's spelling."""

_ZERO = Decimal(0)
_CENT = Decimal("0.00000001")  # Binance books USDT amounts to 8 decimals


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What a fill did to a position.

    Attributes:
        realized_pnl: P&L realised by the reducing part.
        closed: Amount closed (absolute).
        opened: Amount opened or added (absolute).
        released: Isolated margin given back to the cross wallet (before the P&L).
    """

    realized_pnl: Decimal
    closed: Decimal
    opened: Decimal
    released: Decimal


@dataclass(slots=True)
class FuturesPosition:
    """A symbol's position and settings in one account.

    Attributes:
        symbol: Venue id.
        leverage: The symbol's leverage.
        margin_type: ``CROSSED`` (Binance's default) or ``ISOLATED``.
        amount: Signed amount.
        entry: Entry price (0 when flat).
        isolated_wallet: Margin held by an isolated position (0 in cross mode).
        update_time: Last change (ms).
    """

    symbol: str
    leverage: int
    margin_type: MarginType = "CROSSED"
    amount: Decimal = field(default_factory=Decimal)
    entry: Decimal = field(default_factory=Decimal)
    isolated_wallet: Decimal = field(default_factory=Decimal)
    update_time: int = 0

    @property
    def isolated(self) -> bool:
        """Whether the symbol trades in isolated margin."""
        return self.margin_type == "ISOLATED"

    def unrealized(self, mark: Decimal) -> Decimal:
        """Return the unrealised P&L at a mark price.

        Args:
            mark: The mark price.

        Returns:
            ``(mark - entry) x amount``.
        """
        return (mark - self.entry) * self.amount if self.amount else _ZERO

    def apply(self, signed_qty: Decimal, price: Decimal, now: int) -> FillEffect:
        """Apply a fill of ``signed_qty`` (positive buy) at ``price``.

        Args:
            signed_qty: The fill's amount, positive for a buy, negative for a sell.
            price: The fill price.
            now: Time of the fill (ms).

        Returns:
            What the fill did.
        """
        old = self.amount
        closed = _ZERO
        if old and (old > 0) != (signed_qty > 0):
            closed = min(abs(old), abs(signed_qty))
        opened = abs(signed_qty) - closed
        sign = Decimal(1) if old > 0 else Decimal(-1)
        pnl = ((price - self.entry) * closed * sign).quantize(_CENT, ROUND_HALF_UP)
        released = _ZERO
        if closed and self.isolated:
            share = self.isolated_wallet * closed / abs(old)
            released = self.isolated_wallet if closed == abs(old) else share.quantize(_CENT)
            self.isolated_wallet -= released
        new = old + signed_qty
        if opened:
            kept = abs(old) - closed  # 0 when the fill flipped or opened from flat
            self.entry = (self.entry * kept + price * opened) / (kept + opened)
        if not new:
            self.entry = _ZERO
        if opened and self.isolated:
            self.isolated_wallet += (opened * price / self.leverage).quantize(_CENT, ROUND_HALF_UP)
        self.amount = new
        self.update_time = now
        return FillEffect(pnl, closed, opened, released)
