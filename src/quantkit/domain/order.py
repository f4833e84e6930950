"""Orders: the request a strategy makes, and the order entity with its status machine."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar

from quantkit.errors import InvalidTransitionError, OrderError

__all__ = [
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
    "make_request",
    "new_order",
]


class Side(StrEnum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """``+1`` for a buy, ``-1`` for a sell."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """Order type."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    """How long an order stays working."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """Order status; see `Order.TRANSITIONS` for the allowed changes."""

    NEW = "new"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Whether no further change can happen."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


_NONE: frozenset[OrderStatus] = frozenset()

# Enum members as module constants: ``Side.BUY`` is a slow class-attribute lookup.
_BUY, _SELL = Side.BUY, Side.SELL
_MARKET = OrderType.MARKET
_FILLED, _PARTIALLY_FILLED = OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED

_INF = math.inf
_NUMBER = (float, int)


def _check_number(name: str, value: float | None, symbol: str) -> float | None:
    """Return ``value`` if it is ``None`` or a finite number > 0, else raise OrderError.

    Other real numbers (numpy's float64 and int64, Decimal, Fraction) come back as ``float``.
    """
    if value is None or (value.__class__ in _NUMBER and 0.0 < value < _INF):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OrderError(f"order on {symbol}: {name} must be a number, got {value!r}")
    number = float(value)
    if not 0.0 < number < _INF:
        raise OrderError(f"order on {symbol}: {name} must be a finite number > 0, got {value!r}")
    return number


def _store_checked(request: OrderRequest, name: str) -> None:
    """Check one numeric field and store it back as ``float`` if it was another number type."""
    value = getattr(request, name)
    checked = _check_number(name, value, request.symbol)
    if checked is not value:
        object.__setattr__(request, name, checked)


@dataclass(frozen=True, slots=True, init=False)
class OrderRequest:
    """What a strategy asks for; validated on creation.

    Exactly one of ``amount`` (base currency) and ``cost`` (quote currency, market orders only)
    is given. ``stop_loss`` / ``take_profit`` are absolute prices; ``stop_loss_pct`` /
    ``take_profit_pct`` are distances from the entry's actual fill price as fractions
    (``0.02`` = 2 %). Either form attaches a bracket: exit orders that become live when the
    entry fills. ``trail_pct`` attaches a trailing stop: from the close of the bar the entry
    filled in, a reduce-only stop ``trail_pct`` below the highest high (longs) or above the
    lowest low (shorts) since that bar, moved only in the position's favour (see
    `quantkit.domain.trailing`).

    Attributes:
        sign: ``+1`` for a buy, ``-1`` for a sell (derived).
        has_bracket: Whether a stop-loss, take-profit or trailing stop is attached (derived).

    Raises:
        OrderError: If the request is malformed.
    """

    symbol: str
    side: Side
    type: OrderType = OrderType.MARKET
    amount: float | None = None
    cost: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    tag: str = ""
    trail_pct: float | None = None
    sign: int = field(init=False, repr=False, compare=False)
    has_bracket: bool = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        symbol: str,
        side: Side,
        type: OrderType = OrderType.MARKET,
        amount: float | None = None,
        cost: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        stop_loss_pct: float | None = None,
        take_profit_pct: float | None = None,
        tag: str = "",
        trail_pct: float | None = None,
    ) -> None:
        sign = 1 if side is _BUY else -1 if side is _SELL else 0  # 0: refused below
        bracket = not (
            stop_loss is None
            and take_profit is None
            and stop_loss_pct is None
            and take_profit_pct is None
            and trail_pct is None
        )
        kind: Any = self.__class__
        if kind is OrderRequest or kind is _OpenRequest:  # _OpenRequest: from `make_request`
            # The generated __init__ of a frozen dataclass stores each field with a call to
            # object.__setattr__. Here the instance is an _OpenRequest (the same slots, without
            # the frozen __setattr__) while its fields are stored, plain attribute stores that
            # cost a fraction of a call, and an OrderRequest again before anything can see it.
            if kind is OrderRequest:
                _set_attribute(self, "__class__", _OpenRequest)
            plain: Any = self
            plain.symbol = symbol
            plain.side = side
            plain.type = type
            plain.amount = amount
            plain.cost = cost
            plain.limit_price = limit_price
            plain.stop_price = stop_price
            plain.time_in_force = time_in_force
            plain.post_only = post_only
            plain.reduce_only = reduce_only
            plain.stop_loss = stop_loss
            plain.take_profit = take_profit
            plain.stop_loss_pct = stop_loss_pct
            plain.take_profit_pct = take_profit_pct
            plain.tag = tag
            plain.trail_pct = trail_pct
            plain.sign = sign
            plain.has_bracket = bracket
            plain.__class__ = OrderRequest
        else:  # a subclass (other slots): the slots' own setters
            values: tuple[Any, ...] = (symbol, side, type, amount, cost, limit_price, stop_price)
            values += (time_in_force, post_only, reduce_only, stop_loss, take_profit)
            values += (stop_loss_pct, take_profit_pct, tag, trail_pct, sign, bracket)
            for setter, value in zip(_REQUEST_SETTERS, values, strict=True):
                setter(self, value)
        if (amount is None) == (cost is None):
            raise OrderError(f"order on {symbol}: give exactly one of amount= and cost=")
        if not sign:
            raise OrderError(f"order on {symbol}: side must be Side.BUY or Side.SELL, got {side!r}")
        # A plain float in range is the common case: checked here without a call.
        if not (amount is None or (amount.__class__ is float and 0.0 < amount < _INF)):
            _store_checked(self, "amount")
        if not (cost is None or (cost.__class__ is float and 0.0 < cost < _INF)):
            _store_checked(self, "cost")
        if type is _MARKET and not bracket and limit_price is None:
            if stop_price is not None:
                raise OrderError(f"order on {symbol}: a market order takes no stop price")
            if post_only:
                raise OrderError(f"order on {symbol}: post_only applies to limit orders only")
            return  # the common case, checked
        self._check()

    def _check(self) -> None:
        """The checks of everything but a plain market order (amount and cost are checked)."""
        for name in ("limit_price", "stop_price", "stop_loss", "take_profit"):
            _store_checked(self, name)
        self._check_bracket()
        self._check_type()

    def _check_bracket(self) -> None:
        sym = self.symbol
        _store_checked(self, "stop_loss_pct")
        _store_checked(self, "take_profit_pct")
        if self.stop_loss_pct is not None and self.stop_loss_pct >= 1:
            raise OrderError(
                f"order on {sym}: stop_loss_pct must be below 1, got {self.stop_loss_pct}"
            )
        _store_checked(self, "trail_pct")
        if self.trail_pct is not None and self.trail_pct >= 1:
            raise OrderError(f"order on {sym}: trail_pct must be below 1, got {self.trail_pct}")
        if self.stop_loss is not None and self.stop_loss_pct is not None:
            raise OrderError(f"order on {sym}: give stop_loss or stop_loss_pct, not both")
        if self.take_profit is not None and self.take_profit_pct is not None:
            raise OrderError(f"order on {sym}: give take_profit or take_profit_pct, not both")
        if self.has_bracket and self.reduce_only:
            raise OrderError(f"order on {sym}: a reduce_only order cannot carry a bracket")

    def _check_type(self) -> None:
        sym, kind = self.symbol, self.type
        if not isinstance(kind, OrderType):
            raise OrderError(f"order on {sym}: type must be an OrderType, got {kind!r}")
        needs_limit = kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (self.limit_price is not None):
            raise OrderError(
                f"order on {sym}: a {kind} order "
                + ("needs a limit price" if needs_limit else "takes no limit price")
            )
        if needs_stop != (self.stop_price is not None):
            raise OrderError(
                f"order on {sym}: a {kind} order "
                + ("needs a stop price" if needs_stop else "takes no stop price")
            )
        if self.cost is not None and kind is not OrderType.MARKET:
            raise OrderError(f"order on {sym}: cost= is only for market orders; use amount=")
        if self.post_only and kind is not OrderType.LIMIT:
            raise OrderError(f"order on {sym}: post_only applies to limit orders only")
        if self.post_only and self.time_in_force is not TimeInForce.GTC:
            raise OrderError(f"order on {sym}: a post_only order must be GTC")


# The slots' setters of OrderRequest's fields, in field order (see OrderRequest.__init__).
_REQUEST_SETTERS: tuple[Callable[[OrderRequest, Any], None], ...] = tuple(
    vars(OrderRequest)[f.name].__set__ for f in fields(OrderRequest)
)


class _OpenRequest:
    """OrderRequest's slots without its frozen ``__setattr__``, while `OrderRequest` is built."""

    __slots__ = OrderRequest.__slots__  # same layout: an instance can change between the two


_set_attribute = object.__setattr__


@dataclass(slots=True, eq=False, init=False)
class Order:
    """A live order: its request, identity and status, updated by the broker.

    The strategy holds this object as its handle; the broker changes it only through
    `transition` and `record_fill`, which enforce the status machine.

    Attributes:
        client_id: Identifier generated by quantkit, unique within a run.
        request: The validated request.
        created_at: Submission time, ns since the epoch.
        status: Current status.
        filled: Amount filled so far (base currency).
        average_price: Volume-weighted fill price, 0 before the first fill.
        fee: Fees paid so far (quote currency; negative for net rebates).
        reason: Why the order was rejected, canceled or expired.
        parent_id: For bracket exits, the client id of the entry.
        amount: Order amount in base currency, known once sized (cost orders: at the fill).
    """

    TRANSITIONS: ClassVar[dict[OrderStatus, frozenset[OrderStatus]]] = {
        OrderStatus.NEW: frozenset({OrderStatus.OPEN, OrderStatus.REJECTED}),
        OrderStatus.OPEN: frozenset(
            {
                OrderStatus.PARTIALLY_FILLED,
                OrderStatus.FILLED,
                OrderStatus.CANCELED,
                OrderStatus.REJECTED,
                OrderStatus.EXPIRED,
            }
        ),
        OrderStatus.PARTIALLY_FILLED: frozenset(
            {
                OrderStatus.PARTIALLY_FILLED,
                OrderStatus.FILLED,
                OrderStatus.CANCELED,
                OrderStatus.EXPIRED,
            }
        ),
    }

    client_id: str
    request: OrderRequest
    created_at: int
    status: OrderStatus = OrderStatus.NEW
    filled: float = 0.0
    average_price: float = 0.0
    fee: float = 0.0
    reason: str = ""
    parent_id: str = ""
    amount: float | None = None
    updated_at: int = 0
    history: list[tuple[int, OrderStatus]] = field(default_factory=list)

    def __init__(
        self,
        client_id: str,
        request: OrderRequest,
        created_at: int,
        status: OrderStatus = OrderStatus.NEW,
        filled: float = 0.0,
        average_price: float = 0.0,
        fee: float = 0.0,
        reason: str = "",
        parent_id: str = "",
        amount: float | None = None,
        updated_at: int = 0,
        history: list[tuple[int, OrderStatus]] | None = None,
    ) -> None:
        # Written out rather than generated: one order is made per order placed, in the
        # backtest's hot loop, and the generated __init__ plus __post_init__ cost twice this.
        # ``updated_at`` is always ``created_at`` at creation (the parameter is kept for the
        # dataclass signature).
        self.client_id = client_id
        self.request = request
        self.created_at = created_at
        self.status = status
        self.filled = filled
        self.average_price = average_price
        self.fee = fee
        self.reason = reason
        self.parent_id = parent_id
        self.amount = request.amount if amount is None else amount
        self.updated_at = created_at
        self.history = [(created_at, status)] if history is None else history
        if history is not None:
            history.append((created_at, status))

    @classmethod
    def rejected(cls, client_id: str, request: OrderRequest, at: int, reason: str) -> Order:
        """A new order refused at once: ``NEW`` then ``REJECTED`` at ``at``, with the reason.

        Args:
            client_id: The refused order's client id.
            request: What was asked for.
            at: Time of the refusal, ns since the epoch.
            reason: Why it was refused.

        Returns:
            The ``REJECTED`` order.

        Examples:
            >>> request = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, amount=1.0)
            >>> refused = Order.rejected("x-1", request, 5, "risk: too large")
            >>> refused.status.value, refused.reason, refused.updated_at
            ('rejected', 'risk: too large', 5)
        """
        order = cls(client_id, request, at)
        order.transition(OrderStatus.REJECTED, at, reason)
        return order

    @property
    def symbol(self) -> str:
        """Market symbol."""
        return self.request.symbol

    @property
    def side(self) -> Side:
        """Order side."""
        return self.request.side

    @property
    def is_active(self) -> bool:
        """Whether the order can still fill (not in a terminal status)."""
        return self.status not in _TERMINAL

    @property
    def remaining(self) -> float:
        """Amount still to fill; 0 for a cost-sized order not yet sized."""
        amount = self.amount
        if amount is None:
            return 0.0
        left = amount - self.filled
        return left if left > 0.0 else 0.0

    def transition(self, status: OrderStatus, at: int, reason: str = "") -> None:
        """Move to ``status``, refusing changes the status machine does not allow.

        Args:
            status: The new status.
            at: Time of the change, ns since the epoch.
            reason: Why (for rejections, cancels and expiries).

        Raises:
            InvalidTransitionError: If the change is not allowed from the current status.
        """
        if status not in _TRANSITIONS.get(self.status, _NONE):
            raise InvalidTransitionError(
                f"order {self.client_id}: cannot go from {self.status} to {status}"
            )
        self.status = status
        self.updated_at = at
        if reason:
            self.reason = reason
        self.history.append((at, status))

    def record_fill(self, price: float, amount: float, fee: float, at: int) -> None:
        """Add a fill to the order's totals and move to partially filled or filled.

        Args:
            price: Fill price.
            amount: Filled amount (base currency), > 0.
            fee: Fee charged for this fill (quote currency).
            at: Fill time, ns since the epoch.

        Raises:
            OrderError: If the fill exceeds the order's amount.
            InvalidTransitionError: If the order cannot fill in its current status.
        """
        total = self.filled + amount
        if self.amount is None:
            raise OrderError(f"order {self.client_id}: fill recorded before the order was sized")
        if total > self.amount * (1 + 1e-9) + 1e-12:
            raise OrderError(
                f"order {self.client_id}: fill of {amount} exceeds the remaining {self.remaining}"
            )
        status = _FILLED if total >= self.amount * (1 - 1e-12) else _PARTIALLY_FILLED
        if status not in _TRANSITIONS.get(self.status, _NONE):
            self.transition(status, at)  # raises InvalidTransitionError
        self.average_price = (self.average_price * self.filled + price * amount) / total
        self.filled = total
        self.fee += fee
        self.status = status  # what `transition` does, its check made above
        self.updated_at = at
        self.history.append((at, status))


# The status machine as a module constant: ``self.TRANSITIONS`` is a class-attribute lookup.
_TRANSITIONS = Order.TRANSITIONS
_NEW = OrderStatus.NEW
_new_object = object.__new__


def new_order(client_id: str, request: OrderRequest, created_at: int) -> Order:
    """``Order(client_id, request, created_at)``: a ``NEW`` order, without the generic call.

    For the simulated exchange, once per order placed.

    Returns:
        The order, equal field by field to ``Order(client_id, request, created_at)``.
    """
    order: Order = _new_object(Order)
    order.client_id = client_id
    order.request = request
    order.created_at = created_at
    order.status = _NEW
    order.filled = 0.0
    order.average_price = 0.0
    order.fee = 0.0
    order.reason = ""
    order.parent_id = ""
    order.amount = request.amount
    order.updated_at = created_at
    order.history = [(created_at, _NEW)]
    return order


_REQUEST_INIT = OrderRequest.__init__


def make_request(
    symbol: str,
    side: Side,
    type: OrderType,
    amount: float | None,
    cost: float | None,
    limit_price: float | None,
    stop_price: float | None,
    time_in_force: TimeInForce,
    post_only: bool,
    reduce_only: bool,
    stop_loss: float | None,
    take_profit: float | None,
    stop_loss_pct: float | None,
    take_profit_pct: float | None,
    tag: str,
    trail_pct: float | None,
) -> OrderRequest:
    """``OrderRequest(...)`` with every field given in order: the same checked, frozen value.

    For the strategy's order call, once per order: the fields are stored into an
    `_OpenRequest` that becomes an `OrderRequest` (one class change where ``OrderRequest()``
    makes two), then checked by the same code.

    Returns:
        The request.

    Raises:
        OrderError: If the request is malformed, as ``OrderRequest(...)`` raises.
    """
    request: Any = _OpenRequest()
    _REQUEST_INIT(
        request,
        symbol,
        side,
        type,
        amount,
        cost,
        limit_price,
        stop_price,
        time_in_force,
        post_only,
        reduce_only,
        stop_loss,
        take_profit,
        stop_loss_pct,
        take_profit_pct,
        tag,
        trail_pct,
    )
    return request  # type: ignore[no-any-return]
