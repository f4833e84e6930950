"""Amending a live order: the venue's edit (Binance: cancel-replace), else cancel then place.

Binance's cancel-replace can half-succeed: ``-2021`` (the cancel or the new order failed, not
both) and ``-2022`` (both failed). Whatever the venue answered, the state is settled from the
venue itself, never assumed: the old order is looked up (still open, canceled, filled), and the
replacement, whose outcome may be unknown, is handed to `UnknownOutcomes` instead of being sent
again. So a half-success leaves either the old order working, or the old order canceled and the
replacement rejected, adopted or still being resolved: never two live copies, never a guess.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import anyio
import structlog

from quantkit.domain.order import Order, OrderRequest, OrderStatus
from quantkit.errors import ExchangeError, RateLimitedError, TransientError, VenueBusyError
from quantkit.sim.exchange import amend_problem, check_amend_request

if TYPE_CHECKING:
    from quantkit.brokers.live import LiveBroker
    from quantkit.brokers.live_sync import OrderSync
    from quantkit.domain.venue import VenueOrder

__all__ = ["amend_command", "replace"]

_log = structlog.get_logger("quantkit.live")

_VENUE_STATUS_OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


def amend_command(
    broker: LiveBroker, order: Order, request: OrderRequest, client_id: str, reference_price: float
) -> Order:
    """`LiveBroker.amend`: check, journal the amend and the replacement's intent, queue it.

    Args:
        broker: The live broker.
        order: The working order.
        request: The amended request (``amount`` is the new total, fills included).
        client_id: The replacement's client id.
        reference_price: Latest close of the symbol.

    Returns:
        The replacement (``NEW``), or ``REJECTED`` with the reason a backtest would give.

    Raises:
        OrderError: If ``request`` changes more than the price and amount.
    """
    sync = broker.sync
    check_amend_request(order, request)
    market = broker.market(order.symbol)
    now = time.time_ns()
    reason = amend_problem(order, request)
    if reason or request.amount is None:
        rest = request
    else:
        rest = dataclasses.replace(request, amount=request.amount - order.filled)
    replacement = Order(client_id, rest, now)
    if not reason and sync.orders.get(order.client_id) is not order:
        reason = f"amend of {order.client_id} refused: not an order of this run"
    reason = reason or broker.refusal(replacement, market, reference_price)
    if not reason:
        broker.journal.append(
            "amend",
            {
                "client_id": order.client_id,
                "new_client_id": client_id,
                "amount": request.amount,
                "price": request.limit_price or request.stop_price,
            },
        )
    broker.journal.intent(replacement.request, client_id, sync_head=False)
    if reason:
        replacement.transition(OrderStatus.REJECTED, now, reason)
        broker.journal.reject(client_id, reason)
        _log.info("amend_rejected", client_id=order.client_id, reason=reason)
        broker.events.append(replacement)
        return replacement
    _log.info(
        "amend_intent",
        client_id=order.client_id,
        new_client_id=client_id,
        amount=request.amount,
        price=request.limit_price or request.stop_price,
    )
    sync.enqueue(replacement, replaces=order, total=request.amount or 0.0)
    return replacement


async def replace(sync: OrderSync, new: Order) -> None:
    """Put ``new`` in place of the order it replaces: the venue's edit, else cancel + place.

    Args:
        sync: The broker's venue conversation.
        new: The replacement (``NEW``, registered with ``replaces``).
    """
    old, total = sync.replaces[new.client_id]
    try:
        if not _resize(sync, old, new, total):
            return
        try:
            placed = await _edit(sync, old, new)
        except ExchangeError as exc:
            if exc.reason == "not_supported":
                await _cancel_then_place(sync, old, new, total)
                return
            await _settle_refused_edit(sync, old, new, exc)
            return
        if placed is None:
            return  # the outcome is unknown: `UnknownOutcomes` resolves ``new``
        sync.acknowledge(new, placed)
        await sync.tracker.book_trades(old.symbol)
        _replaced(sync, old, new)
    finally:
        del sync.replaces[new.client_id]


async def _settle_refused_edit(sync: OrderSync, old: Order, new: Order, exc: Exception) -> None:
    """The edit failed (maybe half-way): learn from the venue what became of both orders."""
    sync.poke()  # the tracker settles what happened to ``old``
    found = await sync.look_up(new)
    if found is not None:  # half-success the other way round: the new order is there
        sync.acknowledge(new, found)
        await sync.tracker.book_trades(old.symbol)
        _replaced(sync, old, new)
        return
    sync.reject(new, f"amend of {old.client_id} refused by the venue: {exc}")


def _resize(sync: OrderSync, old: Order, new: Order, total: float) -> bool:
    """Size ``new`` for what ``old`` has left now; False (``new`` rejected) if nothing is."""
    if not old.is_active or old.status is OrderStatus.NEW:
        sync.reject(new, f"amend of {old.client_id} refused: the order is {old.status}")
        return False
    market = sync.broker.market(old.symbol)
    rest = market.round_amount(total - old.filled)
    if rest <= 0 or rest < market.min_amount:
        sync.reject(new, f"amend of {old.client_id} refused: {old.filled:g} filled, {rest:g} left")
        return False
    if rest != new.amount:
        new.request = dataclasses.replace(new.request, amount=rest)
        new.amount = rest
    return True


async def _edit(sync: OrderSync, old: Order, new: Order) -> VenueOrder | None:
    """Ask the venue to edit ``old`` into ``new``; ``None`` if the outcome became unknown.

    Only failures where the venue did not act (rate limit, ``-1008``) are retried; after any
    other transient failure ``new`` is handed to `UnknownOutcomes` and never sent again.
    """
    policy = sync.broker.retry
    exchange_id = sync.exchange_id_of(old.client_id)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await sync.venue.edit_order(
                old.client_id,
                old.symbol,
                new.request,
                new_client_id=new.client_id,
                exchange_id=exchange_id,
            )
        except (RateLimitedError, VenueBusyError) as exc:
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            _log.warning("amend_retry", client_id=new.client_id, attempt=attempt, error=str(exc))
            await anyio.sleep(policy.delay(attempt, retry_after=retry_after))
        except TransientError as exc:
            sync.poke()
            sync.unknown.add(new, f"amend of {old.client_id}: {exc}")
            return None
    sync.reject(new, f"amend of {old.client_id}: the venue stayed busy")
    return None


async def _cancel_then_place(sync: OrderSync, old: Order, new: Order, total: float) -> None:
    """The venue cannot edit: cancel ``old``, book its last fills, place the rest."""
    final = await _cancel(sync, old, new)
    if final is None:
        return
    await sync.tracker.book_trades(old.symbol)
    if final.status is not OrderStatus.CANCELED or not old.is_active:
        sync.finish(old, final)
        sync.reject(new, f"amend of {old.client_id} refused: the order is {final.status}")
        return
    if not _resize(sync, old, new, total):  # (rejects ``new``: nothing left to place)
        sync.finish(old, final)
        return
    _replaced(sync, old, new)
    await sync.place(new)


async def _cancel(sync: OrderSync, old: Order, new: Order) -> VenueOrder | None:
    policy = sync.broker.retry
    final: VenueOrder | None = None
    for attempt in range(1, policy.max_attempts + 1):
        try:
            final = await sync.venue.cancel_order(old.client_id, old.symbol)
            break
        except TransientError:
            final = await sync.look_up(old)
            if final is not None and final.status not in _VENUE_STATUS_OPEN:
                break
        except ExchangeError as exc:  # filled or gone meanwhile
            sync.poke()
            sync.reject(new, f"amend of {old.client_id}: could not cancel it: {exc}")
            return None
        await anyio.sleep(policy.delay(attempt))
    if final is None or final.status in _VENUE_STATUS_OPEN:
        sync.reject(new, f"amend of {old.client_id}: the cancel did not go through")
        return None
    return final


def _replaced(sync: OrderSync, old: Order, new: Order) -> None:
    if not old.is_active:
        return
    old.transition(OrderStatus.CANCELED, time.time_ns(), f"replaced by {new.client_id}")
    sync.broker.journal.cancel(old.client_id)
    _log.info("order_replaced", client_id=old.client_id, new_client_id=new.client_id)
    sync.emit(old)
