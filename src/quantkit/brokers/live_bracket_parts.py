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
  of its latest held bracket.

The difference, once it reaches the market's step, is protected again (see
`LiveBrackets.restore`). Legs still in doubt are resolved (adopted or refused) by the startup
reconciliation before this runs, so a list that did reach the venue is never doubled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import structlog

from quantkit.brokers.live_held import HeldBracket
from quantkit.domain.bracket import BracketLevels
from quantkit.domain.order import Order, OrderStatus, OrderType, Side

if TYPE_CHECKING:
    from quantkit.brokers.journal import Record
    from quantkit.brokers.live_brackets import LiveBrackets

__all__ = ["entry_of", "is_list_tp", "resume_parts", "unprotected_parts"]

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


def unprotected_parts(
    records: Iterable[Record], orders: Mapping[str, Order], base_asset: Callable[[str], str]
) -> dict[str, float]:
    """What each bracket entry received that neither an OCO list nor a held bracket covers.

    Args:
        records: The journal's records, oldest first.
        orders: The run's orders by client id (resumed and reconciled).
        base_asset: The base asset of a symbol.

    Returns:
        Entry client id to the uncovered amount (only entries with a positive one).
    """
    received: dict[str, float] = {}
    held: dict[str, float] = {}
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
    covered = dict(held)
    for leg in orders.values():
        if is_list_tp(leg):
            entry_id = entry_of(leg.client_id, orders)
            covered[entry_id] = covered.get(entry_id, 0.0) + (leg.amount or 0.0)
    gaps = {cid: net - covered.get(cid, 0.0) for cid, net in received.items()}
    return {cid: gap for cid, gap in gaps.items() if gap > 0}


def resume_parts(brackets: LiveBrackets) -> None:
    """After a restart: queue the protection of bare parts; lists in doubt hold if refused.

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
    gaps = unprotected_parts(brackets.journal.records(), orders, lambda s: broker.market(s).base)
    for entry_id, gap in gaps.items():
        entry = orders[entry_id]
        if broker.market(entry.symbol).round_amount(gap) > 0:
            _log.warning("bracket_part_unprotected", client_id=entry_id, amount=gap)
            brackets.protect_later(entry, gap)
