"""Orders, trades and income records of the local USD-M venue, as plain values.

`FuturesAccounts` makes and changes them; the futures private API and user-data stream render
them in Binance's spelling. Amounts are `decimal.Decimal`, so sums are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

__all__ = [
    "FuturesOrder",
    "FuturesOrderType",
    "FuturesTrade",
    "Income",
    "IncomeType",
    "Side",
    "VenueRejectionError",
]

Side = Literal["BUY", "SELL"]
"""Order side."""
FuturesOrderType = Literal[
    "MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "LIQUIDATION"
]  # fmt: skip
"""Order types the venue accepts (``LIQUIDATION`` only for its own liquidation orders)."""
IncomeType = Literal["REALIZED_PNL", "COMMISSION", "FUNDING_FEE", "INSURANCE_CLEAR", "TRANSFER"]
"""Income types of ``GET /fapi/v1/income`` the venue books."""


class VenueRejectionError(Exception):
    """A request the venue refuses, with Binance USD-M's code and message.

    Args:
        code: Binance's error code, e.g. ``-2019``.
        msg: Binance's message, e.g. ``"Margin is insufficient."``.
    """

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass(slots=True)
class FuturesOrder:
    """An order of the book; mutable while it is open.

    Attributes:
        order_id: Venue order id.
        client_id: ``clientOrderId``.
        symbol: Venue id, e.g. ``"BTCUSDT"``.
        side: ``BUY`` or ``SELL``.
        type: Current type (a triggered stop becomes ``MARKET``).
        orig_type: Type as placed.
        qty: Ordered amount (for ``closePosition`` the amount closed once triggered).
        price: Limit price (0 for market orders).
        stop_price: Trigger price (0 without).
        time_in_force: ``GTC``, ``IOC``, ``FOK`` or ``GTX``.
        reduce_only: Only reduces the position.
        close_position: Closes the whole position when triggered.
        working_type: ``CONTRACT_PRICE`` or ``MARK_PRICE``, what a stop watches.
        time: Creation time (ms).
        update_time: Last change (ms).
        status: ``NEW``, ``PARTIALLY_FILLED``, ``FILLED``, ``CANCELED`` or ``EXPIRED``.
        executed_qty: Amount filled.
        cum_quote: Quote value filled.
        realized_pnl: Realised P&L of its fills.
        trade_count: How many trades it made.
        child_id: For a conditional (algo) order: the order it placed when triggered.
        trigger_time: For a conditional order: when it triggered (ms; 0 before).
    """

    order_id: int
    client_id: str
    symbol: str
    side: Side
    type: FuturesOrderType
    orig_type: FuturesOrderType
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    time_in_force: str
    reduce_only: bool
    close_position: bool
    working_type: str
    time: int
    update_time: int
    status: str = "NEW"
    executed_qty: Decimal = field(default_factory=Decimal)
    cum_quote: Decimal = field(default_factory=Decimal)
    realized_pnl: Decimal = field(default_factory=Decimal)
    trade_count: int = 0
    child_id: int = 0
    trigger_time: int = 0

    @property
    def is_open(self) -> bool:
        """Whether the order may still trade."""
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 before the first fill)."""
        return self.cum_quote / self.executed_qty if self.executed_qty else Decimal(0)

    @property
    def signed_qty(self) -> Decimal:
        """The open amount, positive for buys and negative for sells."""
        left = self.qty - self.executed_qty
        return left if self.side == "BUY" else -left


@dataclass(frozen=True, slots=True)
class FuturesTrade:
    """One fill of an order.

    Attributes:
        trade_id: Trade id, increasing per venue.
        order_id: The order's id.
        symbol: Venue id.
        side: ``BUY`` or ``SELL``.
        price: Fill price.
        qty: Amount.
        realized_pnl: P&L realised by this fill (reducing part).
        commission: Fee in USDT.
        maker: Whether the order rested.
        time: Time (ms).
    """

    trade_id: int
    order_id: int
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    maker: bool
    time: int

    @property
    def quote_qty(self) -> Decimal:
        """``price x qty``."""
        return self.price * self.qty


@dataclass(frozen=True, slots=True)
class Income:
    """One entry of the account's income history (``GET /fapi/v1/income``).

    Attributes:
        tran_id: Transaction id.
        symbol: Venue id ("" for a transfer).
        type: The income type.
        amount: Signed USDT amount (negative: paid).
        time: Time (ms).
        trade_id: The trade it comes from ("" when none).
    """

    tran_id: int
    symbol: str
    type: IncomeType
    amount: Decimal
    time: int
    trade_id: str = ""
