"""The Router: places a strategy's order on the venue(s) chosen by a routing policy.

It reads each venue's price (the latest close in a backtest), taker fee, free balance and
health, asks `quantkit.domain.routing.route` for the legs, places one order per leg through the
strategy (so risk sees each), and keeps every decision with its reasons.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quantkit.brokers.venues import Venues
from quantkit.domain.routing import RouteDecision, RoutePolicy, VenueQuote, route
from quantkit.domain.venue_symbol import split_venue
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.domain.order import Order
    from quantkit.strategy.base import Strategy

__all__ = ["RoutedOrder", "Router", "VenueHealth"]


class VenueHealth:
    """Which venues are up: a venue with ``max_errors`` errors within ``window`` ns is down.

    Args:
        max_errors: Errors (failures, timeouts) within the window that make a venue down.
        window: The window, ns.

    Examples:
        >>> health = VenueHealth(max_errors=2, window=60_000_000_000)
        >>> health.record_error("kraken", 1)
        >>> health.record_error("kraken", 2)
        >>> health.is_up("kraken", 3), health.is_up("binance", 3)
        (False, True)
    """

    def __init__(self, max_errors: int = 3, window: int = 60_000_000_000) -> None:
        if max_errors < 1 or window <= 0:
            raise ConfigError("VenueHealth: max_errors must be >= 1 and window > 0")
        self.max_errors = max_errors
        self.window = window
        self._errors: dict[str, deque[int]] = {}

    def record_error(self, venue: str, at: int) -> None:
        """Count an error (a failed or timed-out request) of ``venue`` at time ``at`` (ns)."""
        self._errors.setdefault(venue, deque(maxlen=self.max_errors)).append(at)

    def record_success(self, venue: str) -> None:
        """Forget ``venue``'s errors: it answered."""
        self._errors.pop(venue, None)

    def is_up(self, venue: str, now: int) -> bool:
        """Whether ``venue`` had fewer than ``max_errors`` errors in the window before ``now``."""
        errors = self._errors.get(venue)
        if not errors or len(errors) < self.max_errors:
            return True
        return now - errors[0] > self.window


@dataclass(frozen=True, slots=True)
class RoutedOrder:
    """A decision as it was taken: when, on what, and the orders placed for it.

    Attributes:
        time: The run's time of the decision, ns.
        symbol: The bare symbol routed.
        decision: The decision and its reasons.
        orders: The orders placed, one per leg.
    """

    time: int
    symbol: str
    decision: RouteDecision
    orders: tuple[Order, ...]


class Router:
    """Picks the venue(s) for each order of a multi-venue run.

    Args:
        venues: The run's `Venues` broker.
        policy: ``"best_price"`` (fee-adjusted), ``"cheapest_fee"`` or ``"preference"``.
        preference: Venue names, most preferred first (policy ``"preference"``).
        split: Whether an order may be split across venues when one's balance is short.
        health: Venue health (default: 3 errors in 60 s make a venue down).
        cash_buffer: Fraction of each venue's cash left aside for a buy (a market order
            routed on the latest close fills at a later price), in [0, 1).

    Raises:
        ConfigError: If the policy is unknown or a preferred venue is not one of ``venues``.
    """

    def __init__(
        self,
        venues: Venues,
        policy: RoutePolicy = "best_price",
        *,
        preference: Sequence[str] = (),
        split: bool = True,
        health: VenueHealth | None = None,
        cash_buffer: float = 0.0,
    ) -> None:
        if not isinstance(venues, Venues):
            kind = type(venues).__name__
            raise ConfigError(f"Router: venues must be a Venues broker, got {kind}")
        unknown = sorted(set(preference) - set(venues.brokers))
        if unknown:
            raise ConfigError(f"Router: preference names unknown venue(s) {unknown}")
        route("buy", 1.0, (), policy)  # checks the policy
        if not 0.0 <= cash_buffer < 1.0:
            raise ConfigError(f"Router: cash_buffer must be in [0, 1), got {cash_buffer!r}")
        self.cash_buffer = cash_buffer
        self.venues = venues
        self.policy: RoutePolicy = policy
        self.preference = tuple(preference)
        self.split = split
        self.health = health or VenueHealth()
        self.decisions: list[RoutedOrder] = []

    def quotes(self, strategy: Strategy, side: str, symbol: str) -> list[VenueQuote]:
        """Each venue's quote for ``symbol`` now (venues without a price yet are left out).

        Args:
            strategy: The running strategy (its data gives the prices).
            side: ``"buy"`` or ``"sell"``.
            symbol: The bare symbol.

        Returns:
            The quotes, in the venues' order.
        """
        now = strategy.now
        quotes = []
        for name, broker in self.venues.brokers.items():
            qualified = f"{name}:{symbol}"
            data = strategy.datas.get(qualified)
            if data is None or len(data) == 0:
                continue
            price = data.price
            if not math.isfinite(price) or price <= 0:
                continue
            market = broker.market(qualified)
            account = broker.portfolio
            held = account.positions.get(qualified)
            if side == "buy":
                available = account.balance * (1.0 - self.cash_buffer)
            else:
                available = held.amount if held else 0.0
            up = self.health.is_up(name, now)
            fee, least = market.taker_fee, market.min_amount
            quotes.append(VenueQuote(name, price, fee, max(available, 0.0), up, least))
        return quotes

    def order(self, strategy: Strategy, side: str, symbol: str, amount: float) -> RoutedOrder:
        """Route a market order and place its legs through the strategy.

        Args:
            strategy: The running strategy.
            side: ``"buy"`` or ``"sell"``.
            symbol: The bare symbol (``"BTC/USDT"``) or a qualified one (its venue is ignored).
            amount: The amount to trade.

        Returns:
            The decision with the orders placed; also appended to `decisions`.
        """
        bare = split_venue(symbol)[1]
        quotes = self.quotes(strategy, side, bare)
        decision = route(
            side, amount, quotes, self.policy, preference=self.preference, split=self.split
        )
        placed = tuple(
            strategy.order(side, symbol=bare, venue=leg.venue, amount=leg.amount, tag="routed")
            for leg in decision.legs
        )
        routed = RoutedOrder(strategy.now, bare, decision, placed)
        self.decisions.append(routed)
        return routed

    def rows(self) -> list[dict[str, Any]]:
        """The decisions as rows (one per decision) for a table.

        Returns:
            Dicts with ``time``, ``symbol``, ``side``, ``amount``, ``policy``, ``venues``
            (venue=amount pairs), ``unrouted`` and ``reasons`` (joined with ``"; "``).
        """
        return [
            {
                "time": d.time,
                "symbol": d.symbol,
                "side": d.decision.side,
                "amount": d.decision.amount,
                "policy": d.decision.policy,
                "venues": ", ".join(f"{leg.venue}={leg.amount:g}" for leg in d.decision.legs),
                "unrouted": d.decision.unrouted,
                "reasons": "; ".join(d.decision.reasons),
            }
            for d in self.decisions
        ]
