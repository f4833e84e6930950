"""ContractRules: what the local USD-M venue needs to know of a perpetual to trade it.

The venue's private side checks orders against these rules on its own (Binance USD-M's filter
codes: ``-4003`` quantity not positive, ``-4004``/``-4005`` below the minimum or above the
maximum quantity, ``-1111`` quantity off the step, ``-4014`` price off the tick, ``-4164``
notional below the minimum unless reduce-only), independently of quantkit's market rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from quantkit.testing.futures.brackets import DEFAULT_BRACKETS, BracketTable
from quantkit.testing.futures.orders import VenueRejectionError

__all__ = ["ContractRules"]


@dataclass(frozen=True, slots=True)
class ContractRules:
    """A linear (USDT-margined) perpetual as the venue trades it.

    Attributes:
        symbol: Venue id, e.g. ``"BTCUSDT"``.
        tick_size: Price step.
        step_size: Quantity step.
        min_qty: Smallest quantity.
        max_qty: Largest quantity of one limit or conditional order (``LOT_SIZE``).
        market_max_qty: Largest quantity of one market order (``MARKET_LOT_SIZE``).
        min_notional: Smallest ``price x quantity`` of an order that is not reduce-only.
        brackets: Leverage and maintenance brackets.
        funding_interval_ms: Time between funding timestamps (8 hours).
        liquidation_fee: Liquidation clearance fee rate on the notional liquidated
            (``exchangeInfo.liquidationFee``).
    """

    symbol: str
    tick_size: Decimal = Decimal("0.1")
    step_size: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal("1000")
    market_max_qty: Decimal = Decimal("120")
    min_notional: Decimal = Decimal("100")
    brackets: BracketTable = field(default=DEFAULT_BRACKETS)
    funding_interval_ms: int = 8 * 3_600_000
    liquidation_fee: Decimal = Decimal("0.0125")

    def check_quantity(self, qty: Decimal, *, market: bool = False) -> None:
        """Check an order quantity against the lot rules.

        Args:
            qty: The quantity.
            market: Whether it is a market order (``MARKET_LOT_SIZE`` applies).

        Raises:
            VenueRejectionError: ``-4003``, ``-4004``, ``-4005`` or ``-1111``.
        """
        if qty <= 0:
            raise VenueRejectionError(-4003, "Quantity less than or equal to zero.")
        if qty < self.min_qty:
            raise VenueRejectionError(-4004, "Quantity less than min quantity.")
        if qty > (self.market_max_qty if market else self.max_qty):
            raise VenueRejectionError(-4005, "Quantity greater than max quantity.")
        if qty % self.step_size:
            raise VenueRejectionError(
                -1111, "Precision is over the maximum defined for this asset."
            )

    def check_price(self, price: Decimal) -> None:
        """Check a limit or stop price against the tick.

        Args:
            price: The price.

        Raises:
            VenueRejectionError: ``-4001`` for a price not above 0, ``-4014`` off the tick.
        """
        if price <= 0:
            raise VenueRejectionError(-4001, "Price less than 0.")
        if price % self.tick_size:
            raise VenueRejectionError(-4014, "Price not increased by tick size.")

    def check_notional(self, qty: Decimal, price: Decimal, reduce_only: bool) -> None:
        """Check an order's notional (reduce-only orders are exempt, as on Binance).

        Args:
            qty: The quantity.
            price: The price it is valued at.
            reduce_only: Whether the order only reduces.

        Raises:
            VenueRejectionError: ``-4164`` when below `min_notional`.
        """
        if not reduce_only and qty * price < self.min_notional:
            raise VenueRejectionError(
                -4164,
                f"Order's notional must be no smaller than {self.min_notional.normalize():f} "
                "(unless you choose reduce only).",
            )
