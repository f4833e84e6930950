"""The orders and trades of the local exchange's book, as plain values (Binance's spelling).

`LocalAccounts` makes and changes them; `BinancePrivateApi` and `BinanceWebsocketApi` render
them. Amounts are `decimal.Decimal`, so sums are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

__all__ = [
    "DuplicateOrderError",
    "InsufficientBalanceError",
    "LocalFill",
    "LocalOrder",
    "OrderListener",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "TimeInForce",
]

OrderSide = Literal["BUY", "SELL"]
"""Order side, Binance's spelling."""
OrderStatus = Literal["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"]
"""Order status, Binance's spelling (``PARTIALLY_FILLED`` under `PartialFills`)."""
TimeInForce = Literal["GTC", "IOC", "FOK"]
"""Time in force of a limit order."""
OrderType = Literal[
    "MARKET", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]  # fmt: skip
"""Order type, Binance's spelling."""


class InsufficientBalanceError(Exception):
    """The account lacks the free balance an order needs (Binance's ``-2010``)."""


class DuplicateOrderError(Exception):
    """An open order of the account already has this client id (``-2010`` "Duplicate order sent.").

    Binance refuses a ``newClientOrderId`` only while the earlier order with that id is open;
    once it is filled, canceled or expired the id may be used again.
    """


@dataclass(frozen=True, slots=True)
class LocalFill:
    """One trade of an order.

    Attributes:
        trade_id: Trade id, increasing per book.
        order_id: The order's id.
        symbol: Venue id of the market, e.g. ``"BTCUSDT"``.
        side: ``"BUY"`` or ``"SELL"``.
        price: Price of the trade.
        qty: Base amount traded.
        time: Time of the trade, in ms since the epoch.
        maker: Whether the order rested before it filled.
        commission: Fee charged for the trade, in ``commission_asset``.
        commission_asset: The asset the fee was charged in: the asset received (base on a
            buy, quote on a sell), or ``BNB`` when the account pays its fees in BNB.
    """

    trade_id: int
    order_id: int
    symbol: str
    side: OrderSide
    price: Decimal
    qty: Decimal
    time: int
    maker: bool
    commission: Decimal = Decimal(0)
    commission_asset: str = ""

    @property
    def quote_qty(self) -> Decimal:
        """Quote amount traded (``price * qty``)."""
        return self.price * self.qty


@dataclass(slots=True)
class LocalOrder:
    """An order of the book; `status` and the fill fields change as it fills or is canceled.

    Attributes:
        order_id: Order id, increasing per book.
        client_id: The client's id (``newClientOrderId``).
        api_key: The account that placed it.
        symbol: Venue id of the market, e.g. ``"BTCUSDT"``.
        side: ``"BUY"`` or ``"SELL"``.
        type: ``"MARKET"``, ``"LIMIT"``, ``"LIMIT_MAKER"`` (OCO leg) or a stop type
            (``"STOP_LOSS"``, ``"STOP_LOSS_LIMIT"``, ``"TAKE_PROFIT"``, ``"TAKE_PROFIT_LIMIT"``).
        qty: Base amount ordered.
        price: Limit price; zero for market orders.
        time_in_force: ``"GTC"``, ``"IOC"`` or ``"FOK"``; ``None`` for market orders.
        time: Creation time in ms since the epoch.
        status: ``"NEW"``, ``"PARTIALLY_FILLED"``, ``"FILLED"``, ``"CANCELED"`` or
            ``"EXPIRED"``.
        update_time: Time of the last change, in ms since the epoch.
        fills: The order's trades.
        stop_price: Trigger price (``stopPrice``) of a stop order or leg, else zero.
        list_id: ``orderListId`` of the OCO list the order is a leg of, else ``-1``.
        working: Whether the order works in the book (Binance's ``isWorking``): false for a
            stop order until its stop price triggers it.
        working_time: When it started working, ms since the epoch (``workingTime``); ``-1``
            for a stop order not yet triggered.
    """

    order_id: int
    client_id: str
    api_key: str
    symbol: str
    side: OrderSide
    type: OrderType
    qty: Decimal
    price: Decimal
    time_in_force: TimeInForce | None
    time: int
    status: OrderStatus = "NEW"
    update_time: int = 0
    fills: list[LocalFill] = field(default_factory=list)
    stop_price: Decimal = Decimal(0)
    list_id: int = -1
    working: bool = True
    working_time: int | None = None

    @property
    def executed_qty(self) -> Decimal:
        """Base amount filled so far."""
        return sum((f.qty for f in self.fills), Decimal(0))

    @property
    def quote_qty(self) -> Decimal:
        """Quote amount filled so far (Binance's ``cummulativeQuoteQty``)."""
        return sum((f.quote_qty for f in self.fills), Decimal(0))

    @property
    def left(self) -> Decimal:
        """Base amount still to fill."""
        return self.qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        """Whether the order still rests in the book (partially filled or not)."""
        return self.status in ("NEW", "PARTIALLY_FILLED")


OrderListener = Callable[[str, LocalOrder, LocalFill | None], None]
"""Hears of an order change: called with the account's API key, the order (already changed)
and the fill when the change is a trade, else ``None``. Called under the book's lock, in the
thread that made the change: it must be quick and must not call back into the book."""
