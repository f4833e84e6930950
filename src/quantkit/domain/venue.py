"""What a real venue reports about orders, trades and balances, as quantkit values.

Adapters (``quantkit.exchanges``) parse the venue's payloads into these at the edge; the live
broker turns them into order status changes and `Fill` events.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.order import OrderStatus, OrderType, Side

__all__ = ["VenueBalance", "VenueOrder", "VenueTrade"]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it.

    Attributes:
        client_id: The client order id quantkit sent (the venue echoes it).
        exchange_id: The venue's own order id.
        symbol: Unified market symbol, e.g. ``"BTC/USDT"``.
        side: Buy or sell.
        type: Market or limit (other venue types are reported as they map).
        amount: Ordered base amount.
        price: Limit price (``nan`` for market orders).
        status: Status mapped to quantkit's statuses (``OPEN`` for the venue's new/open).
        filled: Base amount executed so far.
        average: Average execution price (``nan`` before any fill).
        timestamp: Last update time the venue reported, ns since the epoch.
    """

    client_id: str
    exchange_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    price: float
    status: OrderStatus
    filled: float
    average: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One execution of one of the account's orders, as the venue reports it.

    Attributes:
        trade_id: The venue's trade id (unique per symbol).
        exchange_order_id: The venue's id of the order that traded.
        client_id: The order's client id if the venue reports it, else ``""``.
        symbol: Unified market symbol.
        side: Buy or sell.
        price: Execution price.
        amount: Executed base amount (> 0).
        fee: Fee charged, in ``fee_currency``.
        fee_currency: Currency of the fee.
        timestamp: Execution time, ns since the epoch.
        is_maker: Whether the execution added liquidity.
    """

    trade_id: str
    exchange_order_id: str
    client_id: str
    symbol: str
    side: Side
    price: float
    amount: float
    fee: float
    fee_currency: str
    timestamp: int
    is_maker: bool


@dataclass(frozen=True, slots=True)
class VenueBalance:
    """One asset's balance on the venue.

    Attributes:
        asset: Currency code, e.g. ``"USDT"``.
        free: Amount available for new orders.
        used: Amount locked in open orders.
    """

    asset: str
    free: float
    used: float

    @property
    def total(self) -> float:
        """Free plus used."""
        return self.free + self.used
