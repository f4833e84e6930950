"""A position in perpetual contracts whose size is not one base unit, or that are inverse.

`Position` counts in base units and averages its entry price arithmetically, which is the
venue's rule for a linear contract of size 1. `ContractPosition` counts in contracts of
``contract_size`` and follows the venue's rules for the others:

- linear (USD-M, ``CS`` base units a contract): P&L ``contracts * CS * (exit - entry)``, the
  entry price averaged by contracts, as `Position` does;
- inverse (COIN-M, ``CS`` quote units a contract, settled in the base coin): P&L
  ``contracts * CS * (1/entry - 1/exit)`` in the coin, and the entry price the contracts'
  harmonic mean (``total contracts / sum(contracts / price)``), which keeps the P&L of the
  whole position equal to the sum of its parts' P&L.

Both are `Position` in the coordinate ``perp_math.contract_value`` (``CS * price`` or
``-CS / price``): P&L is the change of that value times the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.amounts import SNAP_RTOL
from quantkit.domain.position import Position

__all__ = ["ContractPosition"]


@dataclass(slots=True)
class ContractPosition(Position):
    """A `Position` in contracts of a perpetual (linear of any size, or inverse).

    Attributes:
        contract_size: Base units (linear) or quote units (inverse) per contract.
        inverse: Whether the contract is coin-margined (inverse).

    ``amount`` is in contracts; ``realized_pnl`` and `unrealized_pnl` are in the settle
    currency (the coin for inverse).

    Examples:
        >>> p = ContractPosition("BTC/USD:BTC", contract_size=100.0, inverse=True)
        >>> p.apply(10.0, 20_000.0), p.apply(10.0, 30_000.0)
        (0.0, 0.0)
        >>> p.entry_price  # harmonic: 20 contracts over (10/20,000 + 10/30,000)
        24000.0
        >>> round(p.apply(-20.0, 25_000.0), 12)  # 2,000 USD * (1/24,000 - 1/25,000)
        0.003333333333
    """

    contract_size: float = 1.0
    inverse: bool = False

    def unrealized_pnl(self, price: float) -> float:
        """Profit of the open contracts marked at ``price``, before fees (settle currency).

        Args:
            price: Mark price.

        Returns:
            ``amount * CS * (price - entry)`` or ``amount * CS * (1/entry - 1/price)``.
        """
        if not self.amount:
            return 0.0
        return self.amount * self.contract_size * self._gain(self.entry_price, price)

    def _gain(self, entry: float, price: float) -> float:
        """P&L of one long contract of size 1 from ``entry`` to ``price``."""
        return 1.0 / entry - 1.0 / price if self.inverse else price - entry

    def apply(self, signed_amount: float, price: float) -> float:
        """Apply a fill of ``signed_amount`` contracts and return the P&L it realised.

        Args:
            signed_amount: Filled contracts, positive for buys, negative for sells.
            price: Fill price.

        Returns:
            P&L realised by this fill in the settle currency (0 when it only adds).
        """
        old = self.amount
        new = old + signed_amount
        realized = 0.0
        if old == 0.0 or (old > 0) == (signed_amount > 0):
            held, added = abs(old), abs(signed_amount)
            if self.inverse:  # the contracts' harmonic mean
                spent = (held / self.entry_price if held else 0.0) + added / price
                self.entry_price = (held + added) / spent
            else:
                self.entry_price = (held * self.entry_price + added * price) / (held + added)
        else:
            closed = min(abs(signed_amount), abs(old))
            side = 1.0 if old > 0 else -1.0
            realized = closed * self.contract_size * self._gain(self.entry_price, price) * side
            if abs(new) <= SNAP_RTOL * max(abs(old), abs(signed_amount)):
                new = 0.0
                self.entry_price = 0.0
            elif (new > 0) != (old > 0):
                self.entry_price = price
        self.amount = new
        self.realized_pnl += realized
        return realized
