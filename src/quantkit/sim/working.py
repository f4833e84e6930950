"""A working order as the simulator sees it: rounded prices, trigger state, bracket links."""

from __future__ import annotations

from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderType, TimeInForce

__all__ = ["Working"]

# Enum members as module constants: ``OrderType.MARKET`` is a slow class-attribute lookup.
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP, _STOP_LIMIT = OrderType.STOP, OrderType.STOP_LIMIT
_GTC = TimeInForce.GTC


class Working:
    """Simulator-side state of one working order.

    Attributes:
        order: The order entity shared with the strategy.
        market: Its market.
        sign: ``+1`` buy, ``-1`` sell.
        kind: Order type.
        limit: Rounded limit price (limit and stop-limit orders).
        stop: Rounded stop price (stop and stop-limit orders).
        triggered: Whether a stop or stop-limit has triggered.
        fresh: True until the order has met its first bar's open (IOC, FOK, post-only).
        immediate: Whether the order is IOC or FOK.
        reduce_only: Whether the order may only reduce the position.
        sibling: The other exit of a bracket (one cancels the other).
        children: Exits created when this entry filled.
        role: ``"sl"`` or ``"tp"`` for bracket exits, ``""`` otherwise.
        seq: Submission sequence number, for deterministic ordering.
    """

    __slots__ = (
        "children",
        "fresh",
        "immediate",
        "kind",
        "limit",
        "market",
        "order",
        "reduce_only",
        "role",
        "seq",
        "sibling",
        "sign",
        "stop",
        "triggered",
    )

    def __init__(self, order: Order, market: Market, seq: int) -> None:
        request = order.request
        self.order = order
        self.market = market
        self.sign = request.sign
        self.kind = request.type
        self.limit = (
            None if request.limit_price is None else market.round_price(request.limit_price)
        )
        self.stop = None if request.stop_price is None else market.round_price(request.stop_price)
        self.triggered = False
        self.fresh = True
        self.immediate = request.time_in_force is not _GTC
        self.reduce_only = request.reduce_only
        self.sibling: Working | None = None
        self.children: list[Working] = []
        self.role = ""
        self.seq = seq

    @property
    def limit_active(self) -> bool:
        """Whether the order currently behaves as a resting limit order."""
        return self.kind is _LIMIT or (self.kind is _STOP_LIMIT and self.triggered)

    def crossed(self, price: float) -> bool:
        """Whether the order would execute or trigger at a standing ``price``."""
        kind = self.kind
        if kind is _MARKET or (kind is _STOP and self.triggered):
            return True
        if self.limit_active:
            assert self.limit is not None
            return price <= self.limit if self.sign > 0 else price >= self.limit
        assert self.stop is not None
        return price >= self.stop if self.sign > 0 else price <= self.stop

    def level_between(self, start: float, end: float) -> float | None:
        """Return the price at which the order triggers while price moves from start to end.

        Args:
            start: Price where the move begins (excluded).
            end: Price where the move ends (included).

        Returns:
            The limit or stop level crossed, or ``None``.
        """
        if self.kind is _MARKET or (self.kind is _STOP and self.triggered):
            return None
        rising = end > start
        if self.limit_active:
            level = self.limit
            wanted = self.sign < 0  # a sell limit is reached by a rise, a buy limit by a fall
        else:
            level = self.stop
            wanted = self.sign > 0  # a buy stop is reached by a rise, a sell stop by a fall
        assert level is not None
        if rising != wanted or start == end:
            return None
        inside = start < level <= end if rising else end <= level < start
        return level if inside else None
