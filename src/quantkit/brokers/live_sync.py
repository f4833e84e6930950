"""The live broker's conversation with the venue: placing, tracking, reconciling.

`OrderSync` owns the background tasks of a `LiveBroker`. Everything runs on the engine's event
loop; the strategy's synchronous callbacks run between awaits, so the state shared with them
(orders, portfolio, events) changes only at those points.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING

import anyio
import structlog

from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderRequest, OrderStatus
from quantkit.domain.venue import VenueOrder, VenueTrade
from quantkit.errors import (
    ExchangeError,
    QuantkitError,
    RateLimitedError,
    RequestTimeoutError,
    TransientError,
    VenueUnavailableError,
)

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from quantkit.brokers.journal import JournalState, OrderState
    from quantkit.brokers.live import LiveBroker

__all__ = ["OrderSync"]

_log = structlog.get_logger("quantkit.live")

# Failures after which the outcome of a request is unknown: the venue may have acted on it.
_AMBIGUOUS = (RequestTimeoutError, VenueUnavailableError)
_VENUE_STATUS_OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class OrderSync:
    """Sends queued orders and cancels, tracks fills and statuses, reconciles on start.

    Args:
        broker: The broker it works for (its venue, journal, portfolio and events).
    """

    def __init__(self, broker: LiveBroker) -> None:
        self.broker = broker
        self.venue = broker.venue
        self.orders: dict[str, Order] = {}
        """Every order of the run by client id (resumed ones included)."""
        self.exchange_ids: dict[str, str] = {}
        """Venue order id to client id."""
        self.trade_ids: set[str] = set()
        send, receive = anyio.create_memory_object_stream[Order | None](math.inf)
        self._send: MemoryObjectSendStream[Order | None] = send
        self._receive: MemoryObjectReceiveStream[Order | None] = receive
        self._cancels: list[Order] = []
        self._replaces: dict[str, tuple[Order, float]] = {}
        """Replacement client id to (order it replaces, new total amount)."""
        self._in_flight = 0
        self._wakeup = anyio.Event()
        self._poll_now = anyio.Event()
        self._idle = anyio.Event()
        self._idle.set()
        self._stopped = False
        self.closing = False
        """Set by `shutdown`: queued orders are rejected instead of sent."""
        self._balances_behind = False
        self._books = anyio.Lock()

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
            self._replaces[order.client_id] = (replaces, total)
        self._in_flight += 1
        self._idle = anyio.Event()
        self._send.send_nowait(order)

    def request_cancel(self, order: Order) -> None:
        """Cancel ``order`` on the venue as soon as it is placed there.

        Args:
            order: The order handle.
        """
        if order not in self._cancels:
            self._cancels.append(order)
            self._poll_now.set()

    def _emit(self, *events: Order | Fill) -> None:
        self.broker.events.extend(events)
        self._wakeup.set()

    async def events_ready(self) -> None:
        """Wait until new events are waiting in the broker's list."""
        await self._wakeup.wait()
        self._wakeup = anyio.Event()

    # -- placing ---------------------------------------------------------------------------------

    async def send_loop(self) -> None:
        """Place queued orders one at a time, in submission order."""
        async with self._receive:
            async for order in self._receive:
                if order is None:
                    break
                self.broker.journal.sync_head()  # the intent skipped it to stay fast
                try:
                    if self.closing:
                        self._reject(order, "not sent: the broker shut down first")
                        continue
                    if order.client_id in self._replaces:
                        await self._replace(order)
                    else:
                        await self._place(order)
                finally:
                    self._in_flight -= 1
                    if self._in_flight == 0:
                        self._idle.set()

    async def _place(self, order: Order) -> None:
        broker = self.broker
        policy = broker.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                placed = await self.venue.create_order(order.request, order.client_id)
            except RateLimitedError as exc:
                error: QuantkitError = exc
                retry_after = exc.retry_after
            except _AMBIGUOUS as exc:
                found = await self._look_up(order)
                if found is not None:
                    _log.info(
                        "order_found_after_failure", client_id=order.client_id, error=str(exc)
                    )
                    self._acknowledge(order, found)
                    broker.breaker.record_success()
                    return
                error, retry_after = exc, None
            except TransientError as exc:
                error, retry_after = exc, None
            except ExchangeError as exc:
                self._reject(order, str(exc))
                return
            else:
                broker.breaker.record_success()
                self._acknowledge(order, placed)
                return
            broker.breaker.record_failure(str(error))
            if attempt >= policy.max_attempts or not broker.breaker.allow():
                self._reject(order, f"not placed after {attempt} attempts: {error}")
                return
            delay = policy.delay(attempt, retry_after=retry_after)
            _log.warning(
                "order_retry",
                client_id=order.client_id,
                attempt=attempt,
                delay=delay,
                error=str(error),
            )
            await anyio.sleep(delay)

    # -- amending -------------------------------------------------------------------------------

    async def _replace(self, new: Order) -> None:
        """Put ``new`` in place of the order it replaces: the venue's edit, else cancel + place."""
        old, total = self._replaces[new.client_id]
        try:
            if not self._resize(old, new, total):
                return
            try:
                placed = await self._edit(old, new)
            except ExchangeError as exc:
                if exc.reason != "not_supported":
                    self._poll_now.set()  # the tracker settles what happened to ``old``
                    self._reject(new, f"amend of {old.client_id} refused by the venue: {exc}")
                    return
                await self._cancel_then_place(old, new, total)
                return
            if placed is None:
                self._reject(new, f"amend of {old.client_id}: the venue did not answer")
                return
            self._acknowledge(new, placed)
            await self._book_trades(old.symbol)
            self._replaced(old, new)
        finally:
            del self._replaces[new.client_id]

    def _resize(self, old: Order, new: Order, total: float) -> bool:
        """Size ``new`` for what ``old`` has left now; False (``new`` rejected) if nothing is."""
        if not old.is_active or old.status is OrderStatus.NEW:
            self._reject(new, f"amend of {old.client_id} refused: the order is {old.status}")
            return False
        market = self.broker.market(old.symbol)
        rest = market.round_amount(total - old.filled)
        if rest <= 0 or rest < market.min_amount:
            self._reject(
                new, f"amend of {old.client_id} refused: {old.filled:g} filled, {rest:g} left"
            )
            return False
        if rest != new.amount:
            new.request = dataclasses.replace(new.request, amount=rest)
            new.amount = rest
        return True

    async def _edit(self, old: Order, new: Order) -> VenueOrder | None:
        """Ask the venue to edit ``old`` into ``new``; ``None`` if the outcome stayed unknown."""
        policy = self.broker.retry
        exchange_id = next((e for e, c in self.exchange_ids.items() if c == old.client_id), "")
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return await self.venue.edit_order(
                    old.client_id,
                    old.symbol,
                    new.request,
                    new_client_id=new.client_id,
                    exchange_id=exchange_id,
                )
            except _AMBIGUOUS as exc:
                found = await self._look_up(new)
                if found is not None:
                    _log.info("amend_found_after_failure", client_id=new.client_id, error=str(exc))
                    return found
                error: TransientError = exc
            except TransientError as exc:
                error = exc
            retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
            _log.warning("amend_retry", client_id=new.client_id, attempt=attempt, error=str(error))
            await anyio.sleep(policy.delay(attempt, retry_after=retry_after))
        return None

    async def _cancel_then_place(self, old: Order, new: Order, total: float) -> None:
        """The venue cannot edit: cancel ``old``, book its last fills, place the rest."""
        policy = self.broker.retry
        final: VenueOrder | None = None
        for attempt in range(1, policy.max_attempts + 1):
            try:
                final = await self.venue.cancel_order(old.client_id, old.symbol)
                break
            except _AMBIGUOUS:
                final = await self._look_up(old)
                if final is not None and final.status not in _VENUE_STATUS_OPEN:
                    break
            except TransientError:
                pass
            except ExchangeError as exc:  # filled or gone meanwhile
                self._poll_now.set()
                self._reject(new, f"amend of {old.client_id}: could not cancel it: {exc}")
                return
            await anyio.sleep(policy.delay(attempt))
        if final is None or final.status in _VENUE_STATUS_OPEN:
            self._reject(new, f"amend of {old.client_id}: the cancel did not go through")
            return
        await self._book_trades(old.symbol)
        if final.status is not OrderStatus.CANCELED or not old.is_active:
            self._finish(old, final)
            self._reject(new, f"amend of {old.client_id} refused: the order is {final.status}")
            return
        if not self._resize(old, new, total):  # (rejects ``new``: nothing left to place)
            self._finish(old, final)
            return
        self._replaced(old, new)
        await self._place(new)

    def _replaced(self, old: Order, new: Order) -> None:
        if not old.is_active:
            return
        old.transition(OrderStatus.CANCELED, time.time_ns(), f"replaced by {new.client_id}")
        self.broker.journal.cancel(old.client_id)
        _log.info("order_replaced", client_id=old.client_id, new_client_id=new.client_id)
        self._emit(old)

    async def _look_up(self, order: Order) -> VenueOrder | None:
        """Find ``order`` on the venue by its client id, retrying transient failures."""
        policy = self.broker.retry
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return await self.venue.fetch_order(order.client_id, order.symbol)
            except TransientError as exc:
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                await anyio.sleep(policy.delay(attempt, retry_after=retry_after))
        return None

    def _acknowledge(self, order: Order, placed: VenueOrder) -> None:
        if placed.exchange_id not in self.exchange_ids:
            self.broker.journal.ack(order.client_id, placed.exchange_id)
            self.exchange_ids[placed.exchange_id] = order.client_id
        if order.status is OrderStatus.NEW:  # (a websocket trade may have opened it already)
            order.transition(OrderStatus.OPEN, time.time_ns())
            _log.info(
                "order_acknowledged",
                client_id=order.client_id,
                exchange_id=placed.exchange_id,
                status=str(placed.status),
            )
            self._emit(order)
        if placed.filled > 0 or placed.status is not OrderStatus.OPEN:
            self._poll_now.set()

    def _reject(self, order: Order, reason: str) -> None:
        if order.status is not OrderStatus.NEW:
            return
        order.transition(OrderStatus.REJECTED, time.time_ns(), reason)
        self.broker.journal.reject(order.client_id, reason)
        _log.warning("order_rejected", client_id=order.client_id, reason=reason)
        self._emit(order)

    # -- tracking --------------------------------------------------------------------------------

    async def track_loop(self) -> None:
        """Poll trades, statuses and cancels every ``poll_interval`` (sooner when woken)."""
        while not self._stopped:
            with anyio.move_on_after(self.broker.poll_interval):
                await self._poll_now.wait()
            self._poll_now = anyio.Event()
            try:
                await self.poll()
            except TransientError as exc:
                _log.warning("poll_failed", error=str(exc))

    async def watch_loop(self) -> None:
        """Book the account's trades as the venue pushes them (websocket), when it can.

        Polling goes on regardless: nothing is replayed after a reconnect, so each reconnect,
        and a stream silent for ``watch_timeout`` seconds, triggers a REST poll at once. A venue
        without the websocket ends this task; polling alone then tracks the orders.
        """
        policy = self.broker.retry
        failures = 0
        while not self._stopped:
            trades: list[VenueTrade] | None = None
            try:
                with anyio.move_on_after(self.broker.watch_timeout):
                    trades = await self.venue.watch_my_trades()
            except ExchangeError as exc:
                if exc.reason == "not_supported":
                    _log.info("trade_stream_unavailable", venue=self.venue.id, error=str(exc))
                    return
                raise
            except TransientError as exc:
                failures += 1
                _log.warning("trade_stream_reconnect", error=str(exc), attempt=failures)
                self._poll_now.set()
                await anyio.sleep(policy.delay(min(failures, policy.max_attempts)))
                continue
            if trades is None:  # silent for a while: make sure nothing was missed
                self._poll_now.set()
                continue
            failures = 0
            async with self._books:
                if self._stopped:  # the final poll settled everything from the venue itself
                    return
                for trade in trades:
                    self._book_pushed(trade)

    def _book_pushed(self, trade: VenueTrade) -> None:
        if trade.trade_id in self.trade_ids:
            return
        client_id = trade.client_id or self.exchange_ids.get(trade.exchange_order_id, "")
        order = self.orders.get(client_id)
        if order is not None and order.is_active:
            self.book(order, trade)
            self._poll_now.set()  # settle the balances soon

    async def poll(self) -> None:
        """One round: send pending cancels, book new trades, settle orders the venue ended.

        Rounds do not overlap with each other or with booking pushed trades (one lock), so a
        balance refresh never lands between a trade's booking and its journal record.
        """
        async with self._books:
            await self._poll()

    async def _poll(self) -> None:
        await self._send_cancels()
        active = [
            o for o in self.orders.values() if o.is_active and o.status is not OrderStatus.NEW
        ]
        symbols = sorted({o.symbol for o in active})
        booked = 0
        for symbol in symbols:
            booked += await self._book_trades(symbol)
        if active:
            await self._settle(active)
        if booked or self._balances_behind:
            # Fills are booked one by one; the venue's balances then replace the running
            # account, so a fee charged in another currency leaves no drift. A fill pushed over
            # the websocket after the last refresh is settled here too.
            await self.refresh_balances()

    async def _send_cancels(self) -> None:
        pending, self._cancels = self._cancels, []
        for order in pending:
            if not order.is_active:
                continue
            if order.status is OrderStatus.NEW:
                self._cancels.append(order)  # not placed yet: try again next round
                continue
            try:
                final = await self.venue.cancel_order(order.client_id, order.symbol)
            except TransientError as exc:
                _log.warning("cancel_retry", client_id=order.client_id, error=str(exc))
                self._cancels.append(order)
                continue
            except ExchangeError as exc:  # already filled or gone: the tracker settles it
                _log.info("cancel_refused", client_id=order.client_id, error=str(exc))
                continue
            await self._book_trades(order.symbol)
            self._finish(order, final)

    async def _book_trades(self, symbol: str, *, recent: bool = True) -> int:
        # The account's trades since a minute before the oldest active order of the symbol was
        # created (or the venue's latest page when ``recent`` is False, as on a restart): trade
        # ids, journaled with each fill, keep a trade from being booked twice.
        since = None
        if recent:
            created = [
                o.created_at for o in self.orders.values() if o.symbol == symbol and o.is_active
            ]
            if created:
                since = min(created) // 1_000_000 - 60_000
        trades = await self.venue.my_trades(symbol, since)
        booked = 0
        for trade in trades:
            if trade.trade_id in self.trade_ids:
                continue
            client_id = trade.client_id or self.exchange_ids.get(trade.exchange_order_id, "")
            order = self.orders.get(client_id)
            if order is None:
                continue  # not ours (manual trading on the account); balances catch it
            self.book(order, trade)
            booked += 1
        return booked

    def book(self, order: Order, trade: VenueTrade) -> Fill:
        """Book one venue trade of ``order``: order totals, portfolio, journal, events.

        The fee is converted to the quote currency when the venue charged it in the base
        currency (the next balance refresh makes the amounts exact).

        Args:
            order: The order that traded.
            trade: The venue's execution.

        Returns:
            The fill.
        """
        market = self.broker.market(order.symbol)
        fee = trade.fee
        if trade.fee_currency == market.base:
            fee = trade.fee * trade.price
        elif trade.fee_currency not in ("", market.quote):
            _log.info("fee_in_other_asset", client_id=order.client_id, asset=trade.fee_currency)
            fee = 0.0
        fill = Fill(
            order.client_id,
            order.symbol,
            order.side,
            trade.price,
            trade.amount,
            fee,
            market.quote,
            trade.timestamp,
            trade.is_maker,
        )
        self.trade_ids.add(trade.trade_id)
        self._balances_behind = True
        if order.status is OrderStatus.NEW:
            order.transition(OrderStatus.OPEN, trade.timestamp)
        order.record_fill(fill.price, fill.amount, fill.fee, fill.timestamp)
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
        self._emit(fill, order)
        return fill

    async def _settle(self, active: list[Order]) -> None:
        """Close orders the venue no longer lists as open (canceled, expired, filled)."""
        listed = {o.client_id for o in await self.venue.open_orders()}
        replacing = {old.client_id for old, _ in self._replaces.values()}
        for order in active:
            if not order.is_active or order.client_id in listed or order.client_id in replacing:
                continue
            final = await self.venue.fetch_order(order.client_id, order.symbol)
            if final is not None and final.status not in _VENUE_STATUS_OPEN:
                if final.filled > order.filled * (1 + 1e-12):
                    await self._book_trades(order.symbol)
                self._finish(order, final)

    def _finish(self, order: Order, final: VenueOrder) -> None:
        if not order.is_active or final.status in _VENUE_STATUS_OPEN:
            return
        if final.status is OrderStatus.FILLED:
            return  # the fills move it to FILLED when they are booked
        order.transition(final.status, time.time_ns(), f"{final.status} on the venue")
        if final.status is OrderStatus.CANCELED:
            self.broker.journal.cancel(order.client_id)
        _log.info("order_closed", client_id=order.client_id, status=str(final.status))
        self._emit(order)

    async def refresh_balances(self) -> None:
        """Make the portfolio's cash and positions the venue's balances."""
        self._balances_behind = False
        broker = self.broker
        balances = await self.venue.balances()
        quote = balances.get(broker.currency)
        broker.portfolio.cash[broker.currency] = quote.total if quote is not None else 0.0
        for symbol in broker._symbols:
            market = broker.market(symbol)
            base = balances.get(market.base)
            history = broker._history.get(symbol)
            price = float(history.close[-1]) if history is not None and len(history) else 0.0
            broker._set_position(symbol, base.total if base is not None else 0.0, price)

    # -- restart ---------------------------------------------------------------------------------

    async def reconcile(self, state: JournalState) -> None:
        """Rebuild the run's orders from the journal and bring them up to date with the venue.

        Intents never answered are looked up by client id: found ones are adopted (and their
        fills booked), missing ones were never placed and are journaled as rejected. Trades
        already journaled are not booked twice.

        Args:
            state: The replayed journal.
        """
        self.trade_ids |= state.trade_ids
        for client_id, saved in state.orders.items():
            if saved.status.is_terminal:
                continue
            order = _resumed_order(client_id, saved)
            self.orders[client_id] = order
            found = await self._look_up(order)
            if found is None:
                reason = "never reached the venue (not found after restart)"
                order.transition(OrderStatus.REJECTED, time.time_ns(), reason)
                self.broker.journal.reject(client_id, reason)
                _log.warning("order_not_found_on_restart", client_id=client_id)
                continue
            if saved.status is OrderStatus.NEW:
                self.broker.journal.ack(client_id, found.exchange_id)
            self.exchange_ids[found.exchange_id] = client_id
            order.transition(OrderStatus.OPEN, time.time_ns())
            if saved.filled:
                order.filled = saved.filled
                order.average_price = saved.notional / saved.filled
                if order.filled < (order.amount or 0.0):
                    order.status = OrderStatus.PARTIALLY_FILLED
            _log.info("order_resumed", client_id=client_id, status=str(found.status))
        for symbol in sorted({o.symbol for o in self.orders.values()}):
            await self._book_trades(symbol, recent=False)
        active = [o for o in self.orders.values() if o.is_active]
        if active:
            await self._settle(active)

    # -- shutdown --------------------------------------------------------------------------------

    async def shutdown(self, *, cancel_open: bool, timeout: float = 10.0) -> None:
        """Let queued orders go out, cancel the open ones if asked, collect the last fills.

        Args:
            cancel_open: Whether to cancel orders still open on the venue.
            timeout: Longest wait for queued orders, in seconds; orders still queued after it
                are rejected ("not sent") instead of sent.
        """
        with anyio.move_on_after(timeout):
            await self._idle.wait()
        self.closing = True  # what is still queued after the wait is not sent any more
        self._send.send_nowait(None)
        self._send.close()
        if cancel_open:
            for order in list(self.orders.values()):
                if order.is_active and order.status is not OrderStatus.NEW:
                    self.request_cancel(order)
        async with self._books:
            try:
                await self._poll()
            except TransientError as exc:
                _log.warning("final_poll_failed", error=str(exc))
            self._stopped = True  # pushed trades after this are in the final poll already
        self._poll_now.set()


def _resumed_order(client_id: str, saved: OrderState) -> Order:
    request = saved.request or OrderRequest(saved.symbol, saved.side, amount=saved.amount)
    return Order(client_id, request, time.time_ns())
