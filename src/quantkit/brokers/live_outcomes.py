"""Orders whose outcome is unknown: never sent again, resolved from the venue.

A request to place an order can fail in a way that leaves its outcome unknown: a timeout, a
server error after the venue may have acted, Binance's ``-1007`` ("execution status unknown"),
a dropped connection. Sending it again is not safe: Binance refuses a reused client order id
only while the first order is still open, so if the first copy already filled (or is about to
be executed seconds later) a second send places a second order.

So an order in that state is never sent again. It stays ``NEW`` and sits in `UnknownOutcomes`,
which resolves it from the venue only:

* a lookup by client id that finds it (the order is adopted: acknowledged and tracked);
* the venue's open orders listing it, or a trade of it arriving (stream or poll);
* a lookup by client id that answers "does not exist" (Binance ``-2013``) made at least
  ``deadline`` seconds after the last send. Only then is the order declared never placed
  (``REJECTED``). Binance forwards a request to its matching engine only within the request's
  ``recvWindow`` (ccxt sends 10 s) and answers ``-1007`` after its documented 10 s backend
  timeout, so the default deadline of 60 s is three times the longest documented delay.

A lookup that fails (5xx, timeout, 429, a refused request) proves nothing: it is retried with
backoff and never counts as "does not exist". Lookups run in their own task, so one stuck order
never delays the orders queued after it. A cancel the strategy asks for meanwhile is kept and
sent as soon as the order is found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import structlog

from quantkit.domain.order import Order, OrderStatus
from quantkit.errors import ExchangeError, RateLimitedError, TransientError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from quantkit.brokers.live_sync import OrderSync
    from quantkit.domain.venue import VenueOrder

__all__ = ["DEFAULT_UNKNOWN_DEADLINE", "Unknown", "UnknownOutcomes"]

_log = structlog.get_logger("quantkit.live")

DEFAULT_UNKNOWN_DEADLINE = 60.0
"""Seconds after its last send before a "does not exist" answer proves an order never placed."""

_MAX_BACKOFF_STEP = 30  # (RetryPolicy.delay doubles per attempt: keep the exponent finite)


@dataclass(slots=True)
class Unknown:
    """An order whose placement may or may not have happened.

    Attributes:
        order: The order (status ``NEW``).
        since: ``time.monotonic()`` of its last send attempt.
        error: The failure that left the outcome unknown.
        lookups: Lookups made so far.
        next_at: ``time.monotonic()`` of the next lookup.
    """

    order: Order
    since: float
    error: str
    lookups: int = 0
    next_at: float = 0.0


class UnknownOutcomes:
    """The orders of a live run whose outcome is unknown, and the task that resolves them.

    Args:
        sync: The broker's venue conversation (lookups go through its venue).
        deadline: Seconds after the last send before "does not exist" counts.
    """

    def __init__(self, sync: OrderSync, deadline: float = DEFAULT_UNKNOWN_DEADLINE) -> None:
        self.sync = sync
        self.deadline = deadline
        self.pending: dict[str, Unknown] = {}
        """Unknown orders by client id."""
        self._changed = anyio.Event()

    def add(self, order: Order, error: str, *, age: float = 0.0) -> None:
        """Hold ``order`` as unknown: it is looked up, never sent again.

        Args:
            order: The ``NEW`` order.
            error: What left its outcome unknown.
            age: Seconds since it was last sent (after a restart: since its intent).
        """
        now = time.monotonic()
        self.pending[order.client_id] = Unknown(order, now - age, error, next_at=now)
        _log.warning(
            "order_outcome_unknown", client_id=order.client_id, symbol=order.symbol, error=error
        )
        self._changed.set()

    def __contains__(self, client_id: object) -> bool:
        return client_id in self.pending

    def symbols(self) -> set[str]:
        """Symbols with an unknown order (their unattributed trades may be these orders')."""
        return {u.order.symbol for u in self.pending.values()}

    def resolve_listed(self, listed: Iterable[VenueOrder]) -> None:
        """Adopt unknown orders the venue lists (open orders, a cancel's answer, ...).

        Args:
            listed: Orders the venue reported.
        """
        for venue_order in listed:
            entry = self.pending.pop(venue_order.client_id, None)
            if entry is not None:
                self.sync.adopt(entry.order, venue_order, "listed by the venue")

    async def run(self) -> None:
        """Look the unknown orders up, each on its own backoff, until the task is cancelled."""
        while True:
            wait = self._next_wait()
            with anyio.move_on_after(wait):
                await self._changed.wait()
            self._changed = anyio.Event()
            await self.check_due()

    def _next_wait(self) -> float:
        if not self.pending:
            return 3600.0
        soonest = min(u.next_at for u in self.pending.values())
        return max(0.0, soonest - time.monotonic())

    async def check_due(self, *, all_now: bool = False) -> None:
        """Look up every unknown order whose next lookup is due (or all, with ``all_now``).

        Args:
            all_now: Ignore the backoff (used by the shutdown).
        """
        now = time.monotonic()
        for client_id, entry in list(self.pending.items()):
            due = all_now or entry.next_at <= now
            if due and self.pending.get(client_id) is entry:
                await self._check(entry)

    async def _check(self, entry: Unknown) -> None:
        order = entry.order
        if order.status is not OrderStatus.NEW:  # a trade of it was booked meanwhile
            self.pending.pop(order.client_id, None)
            return
        entry.lookups += 1
        asked = time.monotonic()
        try:
            found = await self.sync.venue.fetch_order(order.client_id, order.symbol)
        except (TransientError, ExchangeError) as exc:  # a failed lookup proves nothing
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            _log.warning("unknown_order_lookup_failed", client_id=order.client_id, error=str(exc))
            self._backoff(entry, retry_after)
            return
        if self.pending.get(order.client_id) is not entry:
            return  # resolved by another source while the lookup ran
        if found is not None:
            del self.pending[order.client_id]
            self.sync.adopt(order, found, f"found by client id after: {entry.error}")
            return
        waited = asked - entry.since  # when the venue was asked, not when it answered
        if waited >= self.deadline and order.status is OrderStatus.NEW:
            del self.pending[order.client_id]
            self.sync.reject(
                order,
                f"never placed: the venue did not know it {waited:.1f}s after it was sent "
                f"(outcome was unknown: {entry.error})",
            )
            return
        self._backoff(entry, None)

    def _backoff(self, entry: Unknown, retry_after: float | None) -> None:
        policy = self.sync.broker.retry
        step = min(entry.lookups, _MAX_BACKOFF_STEP)
        entry.next_at = time.monotonic() + policy.delay(step, retry_after=retry_after)
