"""After a restart: the parts of bracket entries that a crash left without protection.

`LiveBrackets` protects a bracket entry part by part, right after each trade is booked (one
venue OCO list per part, or a held bracket grown to the total). A crash (kill -9) between
booking a part and protecting it, or while that part's list was in flight and never reached the
venue, leaves the part unprotected: what protects it lived only in memory. The journal knows
both sides, so a restart recomputes them:

* what each entry RECEIVED: its journaled fills, net of a fee charged in the base asset (a buy's
  fee on Binance spot);
* what COVERS it: the amount of each of its OCO take-profit legs the venue did not refuse
  (``<entry>-tp``, ``<entry>-<n>-tp``: a working, executed, expired or canceled list all count:
  a list canceled for an exit or sold through is not to be protected again), plus the amount
  of its latest held bracket, plus what each held bracket that fired (or was dropped, the
  position flat) held when it ended (``bracket_done``): a part that arrives after its bracket
  fired is held anew from zero, and what the fired exit sold is not to be protected again.

A list canceled for an exit the strategy sent (the exit waits, "parked", until the venue has
ended the lists that lock its amount) covers nothing when that exit sold nothing: it was
REJECTED, or a crash came before it was released (the ``park`` record has no ``unpark``; the
restart rejects it as never sent, see `Reconciler.reconcile`). Every journaled entry counts,
finished ones included: a filled entry whose lists went for such an exit is held again.

The difference, once it reaches the market's step, is protected again (see
`LiveBrackets.restore`). Legs still in doubt are resolved (adopted or refused) by the startup
reconciliation before this runs, so a list that did reach the venue is never doubled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import structlog

from quantkit.brokers.journal_replay import replay
from quantkit.brokers.live_held import HeldBracket
from quantkit.domain.bracket import BracketLevels
from quantkit.domain.order import Order, OrderStatus, OrderType, Side

if TYPE_CHECKING:
    from quantkit.brokers.journal import Journal, Record
    from quantkit.brokers.live_brackets import LiveBrackets

__all__ = [
    "entry_of",
    "is_list_tp",
    "on_park",
    "on_release",
    "resume_parts",
    "unprotected_parts",
]

_log = structlog.get_logger("quantkit.live")


def entry_of(leg_id: str, orders: Mapping[str, Order]) -> str:
    """The entry a take-profit leg's client id belongs to (``<entry>[-<n>]-tp``)."""
    base = leg_id[: -len("-tp")]
    return base if base in orders else base.rsplit("-", 1)[0]


def is_list_tp(order: Order) -> bool:
    """Whether ``order`` is the take-profit leg of a venue OCO list not refused by the venue."""
    request = order.request
    return (
        request.tag == "take_profit"
        and order.client_id.endswith("-tp")
        and request.type is OrderType.LIMIT
        and order.status is not OrderStatus.REJECTED
    )


def on_park(journal: Journal, order: Order, legs: Iterable[Order]) -> Order:
    """Journal that ``order`` waits for ``legs`` to end before it is sent (``park``).

    Durable before the legs' cancels are asked, so a restart knows the order never left
    unless an ``unpark`` record follows (`on_release`).

    Args:
        journal: The broker's journal.
        order: The parked ``NEW`` order (its intent is journaled).
        legs: The OCO legs whose cancel it waits for.

    Returns:
        ``order``.
    """
    journal.append("park", {"client_id": order.client_id, "legs": [o.client_id for o in legs]})
    return order


def on_release(journal: Journal, order: Order) -> Order:
    """Journal that the parked ``order`` goes to the sender now (``unpark``), before it is queued.

    Args:
        journal: The broker's journal.
        order: The parked order being released.

    Returns:
        ``order``.
    """
    journal.append("unpark", {"client_id": order.client_id})
    return order


def _uncovering(records: Iterable[Record], orders: Mapping[str, Order]) -> set[str]:
    """Legs canceled for an exit that sold nothing (rejected, or never released)."""
    legs: set[str] = set()
    for record in records:
        exit_ = orders.get(str(record.data.get("client_id", "")))
        if record.kind == "park" and exit_ is not None and exit_.status is OrderStatus.REJECTED:
            legs.update(str(c) for c in record.data.get("legs", ()))
    return {c for c in legs if c in orders and orders[c].status is OrderStatus.CANCELED}


def unprotected_parts(
    records: Iterable[Record], orders: Mapping[str, Order], base_asset: Callable[[str], str]
) -> dict[str, float]:
    """What each bracket entry received that neither an OCO list nor a held bracket covers.

    Args:
        records: The journal's records, oldest first.
        orders: Every journaled order by client id (the run's live handles, resumed and
            reconciled, and finished ones rebuilt from the journal).
        base_asset: The base asset of a symbol.

    Returns:
        Entry client id to the uncovered amount (only entries with a positive one).
    """
    received: dict[str, float] = {}
    held: dict[str, float] = {}
    spent: dict[str, float] = {}  # held brackets that fired (or were dropped, position flat)
    records = list(records)
    bare = _uncovering(records, orders)
    for record in records:
        data = record.data
        entry = orders.get(str(data.get("client_id", "")))
        if entry is None or not entry.request.has_bracket:
            continue
        if record.kind == "fill":
            net = float(data["amount"])
            if entry.side is Side.BUY and data.get("fee_currency") == base_asset(entry.symbol):
                net -= float(data["fee"])
            received[entry.client_id] = received.get(entry.client_id, 0.0) + net
        elif record.kind == "bracket" and data.get("mode") == "held":
            held[entry.client_id] = float(data["amount"])  # the latest is the total
        elif record.kind == "bracket_done" and entry.client_id in held:
            spent[entry.client_id] = spent.get(entry.client_id, 0.0) + held.pop(entry.client_id)
    covered = {cid: held.get(cid, 0.0) + spent.get(cid, 0.0) for cid in held.keys() | spent}
    for leg in orders.values():
        if is_list_tp(leg) and leg.client_id not in bare:
            entry_id = entry_of(leg.client_id, orders)
            covered[entry_id] = covered.get(entry_id, 0.0) + (leg.amount or 0.0)
    gaps = {cid: net - covered.get(cid, 0.0) for cid, net in received.items()}
    return {cid: gap for cid, gap in gaps.items() if gap > 0}


def _every_order(brackets: LiveBrackets) -> dict[str, Order]:
    """Every journaled order: the run's live handles, and finished ones rebuilt from the journal."""
    live = brackets.broker.sync.orders
    every: dict[str, Order] = {}
    for client_id, saved in replay(brackets.journal.path).orders.items():
        if client_id in live or saved.request is None:
            continue
        order = Order(client_id, saved.request, time.time_ns())
        order.status, order.filled = saved.status, saved.filled
        order.average_price = saved.notional / saved.filled if saved.filled else 0.0
        every[client_id] = order
    return every | dict(live)


def _room(brackets: LiveBrackets, every: Mapping[str, Order]) -> dict[str, float]:
    """Per symbol: what the account holds less what working lists and held brackets cover.

    Caps the parts protected again: an amount sold since by an exit that no list held back
    (so the journal does not tie it to the entry) is never protected a second time.
    """
    held: dict[str, float] = {}
    for record in brackets.journal.records():
        cid = str(record.data.get("client_id", ""))
        if record.kind == "bracket" and record.data.get("mode") == "held":
            held[cid] = float(record.data["amount"])
        elif record.kind == "bracket_done":
            held.pop(cid, None)
    room: dict[str, float] = {}
    for order in every.values():
        if order.request.has_bracket and order.symbol not in room:
            room[order.symbol] = brackets.broker.portfolio.position(order.symbol).amount
    for order in every.values():
        if is_list_tp(order) and order.is_active and order.symbol in room:
            room[order.symbol] -= order.amount or 0.0
    for cid, amount in held.items():
        entry = every.get(cid.removesuffix("-rest"))
        if entry is not None and entry.symbol in room and not cid.endswith("-rest"):
            room[entry.symbol] -= amount
    return room


def resume_parts(brackets: LiveBrackets) -> None:
    """After a restart: queue the protection of bare parts; lists in doubt hold if refused.

    Every journaled bracket entry with a held amount is checked, finished ones included. A
    finished entry found bare is tracked again (with its earlier lists, so a new list gets a
    fresh client id) and protected.

    Args:
        brackets: The restarted broker's brackets (orders resumed and reconciled).
    """
    broker = brackets.broker
    orders = broker.sync.orders
    for leg in list(orders.values()):  # lists still in doubt: held if never placed
        prefix = leg.client_id[: -len("-tp")]
        sl = orders.get(f"{prefix}-sl")
        if leg.status is OrderStatus.NEW and is_list_tp(leg) and sl is not None:
            levels = BracketLevels(leg.side, sl.request.stop_price, leg.request.limit_price)
            entry_id = entry_of(leg.client_id, orders)
            brackets.hold_if_refused(
                prefix, HeldBracket(entry_id, leg.symbol, levels, leg.amount or 0.0)
            )
    every = _every_order(brackets)
    gaps = unprotected_parts(brackets.journal.records(), every, lambda s: broker.market(s).base)
    room = _room(brackets, every)
    for entry_id, want in gaps.items():
        entry = every[entry_id]
        gap = min(want, room.get(entry.symbol, 0.0))  # never more than is held and bare
        room[entry.symbol] = room.get(entry.symbol, 0.0) - gap
        if broker.market(entry.symbol).round_amount(gap) > 0:
            for client_id, order in every.items():  # its earlier lists: ids are not reused
                if client_id == entry_id or client_id.startswith(f"{entry_id}-"):
                    orders.setdefault(client_id, order)
            _log.warning("bracket_part_unprotected", client_id=entry_id, amount=gap)
            brackets.protect_later(entry, gap)
