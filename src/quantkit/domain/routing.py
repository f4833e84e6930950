"""Order routing decisions: which venue(s) take an order, and why (pure, no I/O).

`route` ranks the venues' quotes by a policy, skips venues that are down or lack the balance,
and fills the amount from the best venue on, splitting it when allowed. Every venue considered
gets a reason in the decision, chosen or not.

Examples:
    >>> quotes = [VenueQuote("a", price=100.0, fee=0.001, available=1e6),
    ...           VenueQuote("b", price=99.95, fee=0.002, available=1e6)]
    >>> decision = route("buy", 1.0, quotes)
    >>> [(leg.venue, leg.amount) for leg in decision.legs]
    [('a', 1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from quantkit.errors import ConfigError

__all__ = ["RouteDecision", "RouteLeg", "RoutePolicy", "VenueQuote", "route"]

RoutePolicy = Literal["best_price", "cheapest_fee", "preference"]
_POLICIES = ("best_price", "cheapest_fee", "preference")


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """What one venue offers an order now.

    Args:
        venue: The venue's name.
        price: The price an order would get there (the best ask for a buy, bid for a sell, or
            the last price in a backtest).
        fee: The taker fee rate there.
        available: For a buy, the quote currency free on the venue; for a sell, the base
            amount held there.
        healthy: Whether the venue is up (see `VenueHealth`).
        min_amount: The smallest amount the venue accepts.
    """

    venue: str
    price: float
    fee: float
    available: float
    healthy: bool = True
    min_amount: float = 0.0

    def effective(self, side: str) -> float:
        """The fee-adjusted price per unit: what a buy pays or a sell receives, fee included."""
        return self.price * (1.0 + self.fee) if side == "buy" else self.price * (1.0 - self.fee)

    def capacity(self, side: str) -> float:
        """The largest amount this venue's balance covers for ``side``."""
        if side == "buy":
            cost = self.effective("buy")
            return self.available / cost if cost > 0 else 0.0
        return self.available


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """One venue's part of a routed order.

    Attributes:
        venue: Where it goes.
        amount: How much.
        price: The quoted price.
        effective: The fee-adjusted price per unit.
    """

    venue: str
    amount: float
    price: float
    effective: float


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """A routing decision and its reasons.

    Attributes:
        side: ``"buy"`` or ``"sell"``.
        amount: The amount asked for.
        policy: The policy that ranked the venues.
        legs: The orders to place, best venue first.
        reasons: One line per venue considered, in rank order.
        unrouted: The amount no venue could take.
    """

    side: str
    amount: float
    policy: str
    legs: tuple[RouteLeg, ...]
    reasons: tuple[str, ...] = field(default=())
    unrouted: float = 0.0


def route(
    side: str,
    amount: float,
    quotes: Sequence[VenueQuote],
    policy: RoutePolicy = "best_price",
    *,
    preference: Sequence[str] = (),
    split: bool = True,
) -> RouteDecision:
    """Choose the venue(s) for an order.

    Ranking: ``best_price`` by fee-adjusted price (lowest for a buy, highest for a sell),
    ``cheapest_fee`` by fee rate then fee-adjusted price, ``preference`` in the order given
    (venues not named come after, by fee-adjusted price). Ties keep the quotes' order.

    Args:
        side: ``"buy"`` or ``"sell"``.
        amount: The amount to trade (base currency), > 0.
        quotes: One quote per venue listing the symbol.
        policy: How to rank the venues.
        preference: Venue names, most preferred first (policy ``preference``).
        split: Whether to fill the amount from several venues; if not, the best venue whose
            balance covers the whole amount takes it.

    Returns:
        The decision.

    Raises:
        ConfigError: If the side, amount or policy is invalid.
    """
    _check(side, amount, policy)
    ranked = _rank(side, quotes, policy, preference)
    legs: list[RouteLeg] = []
    reasons: list[str] = []
    left = amount
    for quote in ranked:
        effective = quote.effective(side)
        head = f"{quote.venue}: {quote.price:.10g}, fee {quote.fee:.4%} -> {effective:.10g}"
        if not quote.healthy:
            reasons.append(f"{head}: skipped, venue down")
            continue
        if left <= 0.0:
            reasons.append(f"{head}: not needed")
            continue
        capacity = quote.capacity(side)
        take = min(left, capacity) if split else (left if capacity >= left else 0.0)
        if take <= 0.0 or take < quote.min_amount:
            what = "quote currency" if side == "buy" else "base held"
            reasons.append(f"{head}: skipped, balance covers {capacity:.10g} ({what})")
            continue
        legs.append(RouteLeg(quote.venue, take, quote.price, effective))
        reasons.append(f"{head}: takes {take:.10g}")
        left -= take
    return RouteDecision(side, amount, policy, tuple(legs), tuple(reasons), max(left, 0.0))


def _check(side: str, amount: float, policy: str) -> None:
    if side not in ("buy", "sell"):
        raise ConfigError(f"route: side must be 'buy' or 'sell', got {side!r}")
    if isinstance(amount, bool) or not math.isfinite(amount) or amount <= 0:
        raise ConfigError(f"route: amount must be a finite number > 0, got {amount!r}")
    if policy not in _POLICIES:
        raise ConfigError(f"route: policy must be one of {', '.join(_POLICIES)}, got {policy!r}")


def _rank(
    side: str, quotes: Sequence[VenueQuote], policy: str, preference: Sequence[str]
) -> list[VenueQuote]:
    sign = 1.0 if side == "buy" else -1.0
    if policy == "best_price":
        return sorted(quotes, key=lambda q: sign * q.effective(side))
    if policy == "cheapest_fee":
        return sorted(quotes, key=lambda q: (q.fee, sign * q.effective(side)))
    rank = {venue: k for k, venue in enumerate(preference)}
    last = len(rank)
    return sorted(quotes, key=lambda q: (rank.get(q.venue, last), sign * q.effective(side)))
