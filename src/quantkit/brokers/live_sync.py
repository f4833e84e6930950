"""The live broker's conversation with the venue: placing orders, booking their fills.

`OrderSync` owns the background tasks of a `LiveBroker` and the state they share. Everything runs
on the engine's event loop; the strategy's synchronous callbacks run between awaits, so the
state shared with them (orders, portfolio, events) changes only at those points. The work is
split by concern:

* this module places queued orders and books trades into orders, journal and portfolio;
* `quantkit.brokers.live_outcomes` resolves orders whose outcome is unknown (never re-sent);
* `quantkit.brokers.live_amend` amends orders;
* `quantkit.brokers.live_tracking` polls and streams fills, statuses, cancels, and flags what
  the journal does not know;
* `quantkit.brokers.live_reconcile` reconciles on start, checks balances, shuts down.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import anyio
import structlog

from quantkit.brokers.live_amend import replace
from quantkit.brokers.live_outcomes import UnknownOutcomes
from quantkit.brokers.live_tracking import Tracker
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderStatus
from quantkit.errors import (
    ExchangeError,
    RateLimitedError,
    RequestTimeoutError,
    TransientError,
    VenueBusyError,
    VenueUnavailableError,
)

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from quantkit.brokers.live import LiveBroker
    from quantkit.domain.venue import VenueOrder, VenueTrade

__all__ = ["OrderSync"]

_log = structlog.get_logger("quantkit.live")

# Failures after which the outcome of a request is unknown: the venue may have acted on it.
_AMBIGUOUS = (RequestTimeoutError, VenueUnavailableError)
_VENUE_STATUS_OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class OrderSync:
    """Sends queued orders, books trades, and holds the state the live tasks share.

    Args:
        broker: The broker it works for (its venue, journal, portfolio and events).
        unknown_deadline: Seconds after its last send before a "does not exist" answer proves
            an order whose outcome was unknown never placed (see `UnknownOutcomes`).
    """

    def __init__(self, broker: LiveBroker, *, unknown_deadline: float) -> None:
        self.broker = broker
        self.venue = broker.venue
        self.orders: dict[str, Order] = {}
        """Every order of the run by client id (resumed ones included)."""
        self.exchange_ids: dict[str, str] = {}
        """Venue order id to client id."""
        self.trade_ids: set[str] = set()
        self.venue_filled: dict[str, tuple[float, int]] = {}
        """Client id to (amount the venue reported filled, when in ns), while more than the
        trades booked for it: a balance check waits for those trades."""
        self.fee_slack: dict[str, float] = {}
        """Fees booked since the last balance refresh that the portfolio counts differently
        from the venue (a fee in the received asset), by asset."""
        send, receive = anyio.create_memory_object_stream[Order | None](math.inf)
        self._send: MemoryObjectSendStream[Order | None] = send
        self._receive: MemoryObjectReceiveStream[Order | None] = receive
        self.cancels: list[Order] = []
        """Orders the strategy asked to cancel, not yet confirmed canceled."""
        self.replaces: dict[str, tuple[Order, float]] = {}
        """Replacement client id to (order it replaces, new total amount)."""
        self.unknown = UnknownOutcomes(self, unknown_deadline)
        self.tracker = Tracker(self)
        self._in_flight = 0
        self._wakeup = anyio.Event()
        self.poll_now = anyio.Event()
        self.idle = anyio.Event()
        self.idle.set()
        self.sender_alive = False
        self.closing = False
        """Set by the shutdown: queued orders are rejected instead of sent."""
        self.balances_behind = False
        self.books = anyio.Lock()
        """Held while booking: a balance refresh never lands between a trade and its record."""

    # -- commands from the broker (synchronous) -------------------------------------------------

    def enqueue(self, order: Order, *, replaces: Order | None = None, total: float = 0.0) -> None:
        """Queue ``order`` for the sender (it is journaled already).

        Args:
            order: The ``NEW`` order.
            replaces: The order it replaces (an amend), if any.
            total: With ``replaces``: the new total amount, fills of ``replaces`` included.
        """
        self.orders[order.client_id] = order
        if replaces is not None:
            self.replaces[order.client_id] = (replaces, total)
        self._in_flight += 1
        if self.idle.is_set():  # (an unset one stays: creating events costs on the hot path)
            self.idle = anyio.Event()
        self._send.send_nowait(order)

    def request_cancel(self, order: Order) -> None:
        """Cancel ``order`` on the venue as soon as it is placed there (or found, if unknown).

        Args:
            order: The order handle.
        """
        if order not in self.cancels:
            self.cancels.append(order)
            self.poke()

    def poke(self) -> None:
        """Ask the tracker for a poll round now."""
        self.poll_now.set()

    def emit(self, *events: Order | Fill) -> None:
        """Hand events to the broker's list and wake up whoever waits for them.

        Args:
            events: Orders and fills that changed.
        """
        self.broker.events.extend(events)
        self._wakeup.set()

    async def events_ready(self) -> None:
        """Wait until new events are waiting in the broker's list."""
        await self._wakeup.wait()
        self._wakeup = anyio.Event()

    def exchange_id_of(self, client_id: str) -> str:
        """The venue's id of one of the run's orders, ``""`` if not known yet.

        Args:
            client_id: The client order id.

        Returns:
            The venue's order id.
        """
        return next((e for e, c in self.exchange_ids.items() if c == client_id), "")

    # -- placing ---------------------------------------------------------------------------------

    async def send_loop(self) -> None:
        """Place queued orders one at a time, in submission order."""
        self.sender_alive = True
        try:
            async with self._receive:
                async for order in self._receive:
                    if order is None:
                        break
                    await self._send_one(order)
        finally:
            self.sender_alive = False

    async def _send_one(self, order: Order) -> None:
        self.broker.journal.sync_head()  # the intent skipped it to stay fast
        request = order.request
        _log.info(
            "order_intent",
            client_id=order.client_id,
            symbol=order.symbol,
            side=str(order.side),
            type=str(request.type),
            amount=order.amount,
            price=request.limit_price,
        )
        try:
            if self.closing:
                self.reject(order, "not sent: the broker shut down first")
            elif order.client_id in self.replaces:
                await replace(self, order)
            else:
                await self.place(order)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.idle.set()

    def drain_queue(self) -> None:
        """Reject what is still queued (the sender is gone); used by the shutdown."""
        while True:
            try:
                order = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return
            if order is not None:
                self.reject(order, "not sent: the broker shut down first")

    def stop_sender(self) -> None:
        """Let the sender end after what is queued (idempotent)."""
        try:
            self._send.send_nowait(None)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return
        self._send.close()

    def close(self) -> None:
        """Close the order queue (after the shutdown, or when the start failed)."""
        self._send.close()
        self._receive.close()

    async def place(self, order: Order) -> None:
        """Send ``order`` once; resend only after failures where the venue did not act.

        Rate limits and ``-1008`` (overloaded) are retried with backoff: the venue did not
        act on those requests. After any other transient failure the outcome is unknown: the
        order goes to `UnknownOutcomes` and is never sent again. A venue that calls the
        client id a duplicate has the order already: it is looked up, not rejected.

        Args:
            order: The ``NEW`` order.
        """
        broker = self.broker
        policy = broker.retry
        for attempt in range(1, policy.max_attempts + 1):
            try:
                placed = await self.venue.create_order(order.request, order.client_id)
            except (RateLimitedError, VenueBusyError) as exc:
                broker.breaker.record_failure(str(exc))
                if attempt >= policy.max_attempts or not broker.breaker.allow():
                    self.reject(order, f"not placed after {attempt} attempts: {exc}")
                    return
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                delay = policy.delay(attempt, retry_after=retry_after)
                _log.warning("order_retry", client_id=order.client_id, delay=delay, error=str(exc))
                await anyio.sleep(delay)
            except TransientError as exc:  # _AMBIGUOUS: it may be on the venue
                broker.breaker.record_failure(str(exc))
                self.unknown.add(order, str(exc))
                return
            except ExchangeError as exc:
                if exc.reason == "duplicate_order":  # an open order has this id: ours
                    self.unknown.add(order, str(exc))
                    return
                self.reject(order, str(exc))
                return
            else:
                broker.breaker.record_success()
                self.acknowledge(order, placed)
                return

    async def look_up(self, order: Order) -> VenueOrder | None:
        """Find ``order`` on the venue by its client id, retrying transient failures.

        Args:
            order: The order.

        Returns:
            The venue's order, or ``None`` if not found or if every lookup failed.
        """
        policy = self.broker.retry
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return await self.venue.fetch_order(order.client_id, order.symbol)
            except TransientError as exc:
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                await anyio.sleep(policy.delay(attempt, retry_after=retry_after))
        return None

    def adopt(self, order: Order, found: VenueOrder, how: str) -> None:
        """Take an order whose outcome was unknown as placed: the venue has it.

        Args:
            order: The order.
            found: The venue's view of it.
            how: How it was found, for the log.
        """
        _log.info("order_found", client_id=order.client_id, how=how)
        self.broker.breaker.record_success()
        self.acknowledge(order, found)
        if order in self.cancels:
            self.poke()

    def remember(self, order: Order, exchange_id: str) -> None:
        """Journal and map the venue's id of ``order`` (once).

        Args:
            order: The order.
            exchange_id: The venue's order id.
        """
        if exchange_id and exchange_id not in self.exchange_ids:
            self.broker.journal.ack(order.client_id, exchange_id)
            self.exchange_ids[exchange_id] = order.client_id

    def acknowledge(self, order: Order, placed: VenueOrder) -> None:
        """Record that the venue has ``order`` (journal, status, event).

        Args:
            order: The order.
            placed: The venue's answer.
        """
        self.unknown.pending.pop(order.client_id, None)
        self.remember(order, placed.exchange_id)
        self.note_filled(order, placed.filled)
        if order.status is OrderStatus.NEW:  # (a websocket trade may have opened it already)
            order.transition(OrderStatus.OPEN, time.time_ns())
            _log.info(
                "order_acknowledged",
                client_id=order.client_id,
                exchange_id=placed.exchange_id,
                status=str(placed.status),
            )
            self.emit(order)
        if placed.filled > 0 or placed.status is not OrderStatus.OPEN:
            self.poke()

    def note_filled(self, order: Order, filled: float) -> None:
        """Remember that the venue reported ``order`` filled by ``filled`` (if beyond booked).

        Args:
            order: The order.
            filled: The venue's executed amount.
        """
        if filled > order.filled * (1 + 1e-9) + 1e-15:
            self.venue_filled[order.client_id] = (filled, time.time_ns())

    def reject(self, order: Order, reason: str) -> None:
        """End a ``NEW`` order as ``REJECTED`` (journaled, delivered).

        Args:
            order: The order.
            reason: Why.
        """
        if order.status is not OrderStatus.NEW:
            return
        order.transition(OrderStatus.REJECTED, time.time_ns(), reason)
        self.broker.journal.reject(order.client_id, reason)
        _log.warning("order_rejected", client_id=order.client_id, reason=reason)
        self.emit(order)
        if order.parent_id:  # an OCO leg the venue never got: its bracket is held instead
            self.broker.brackets.on_rejected(order)

    def finish(self, order: Order, final: VenueOrder) -> None:
        """Close ``order`` as the venue ended it (canceled, expired; fills close it as filled).

        Args:
            order: The order.
            final: The venue's last view of it.
        """
        if not order.is_active or final.status in _VENUE_STATUS_OPEN:
            return
        if final.status is OrderStatus.FILLED:
            return  # the fills move it to FILLED when they are booked
        order.transition(final.status, time.time_ns(), f"{final.status} on the venue")
        if final.status is OrderStatus.CANCELED:
            self.broker.journal.cancel(order.client_id)
        _log.info("order_closed", client_id=order.client_id, status=str(final.status))
        self.emit(order)
        self.broker.brackets.on_closed(order)  # a parked exit may go once its OCO is gone

    # -- booking ---------------------------------------------------------------------------------

    def book(self, order: Order, trade: VenueTrade) -> Fill:
        """Book one venue trade of ``order``: order totals, portfolio, journal, events.

        A fee the venue charged in the base currency (Binance spot's buys) is booked in it:
        the position grows by the amount received, as on the venue (`Portfolio.apply_fill`);
        the order's fee counts it at the trade's price.

        Args:
            order: The order that traded.
            trade: The venue's execution.

        Returns:
            The fill.
        """
        market = self.broker.market(order.symbol)
        fee, fee_currency, quote_fee = trade.fee, market.quote, trade.fee
        if trade.fee_currency == market.base:
            fee_currency, quote_fee = market.base, trade.fee * trade.price
            self._slack(market.base, trade.fee)
        elif trade.fee_currency not in ("", market.quote):
            _log.info("fee_in_other_asset", client_id=order.client_id, asset=trade.fee_currency)
            fee = quote_fee = 0.0
        fill = Fill(
            order.client_id,
            order.symbol,
            order.side,
            trade.price,
            trade.amount,
            fee,
            fee_currency,
            trade.timestamp,
            trade.is_maker,
        )
        self.trade_ids.add(trade.trade_id)
        self.balances_behind = True
        if order.status is OrderStatus.NEW:  # an order whose outcome was unknown: it exists
            self.unknown.pending.pop(order.client_id, None)
            self.remember(order, trade.exchange_order_id)
            order.transition(OrderStatus.OPEN, trade.timestamp)
        order.record_fill(fill.price, fill.amount, quote_fee, fill.timestamp)
        self.broker.portfolio.apply_fill(fill)
        self.broker.journal.fill(fill, trade.trade_id)
        self.broker.brackets.on_trade(order, trade)  # an entry's bracket follows its fills
        _log.info(
            "order_filled",
            client_id=order.client_id,
            price=fill.price,
            amount=fill.amount,
            fee=fill.fee,
            status=str(order.status),
        )
        self.emit(fill, order)
        return fill

    def _slack(self, asset: str, amount: float) -> None:
        self.fee_slack[asset] = self.fee_slack.get(asset, 0.0) + abs(amount)
