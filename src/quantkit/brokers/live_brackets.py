"""Brackets in live trading: a filled entry's stop-loss and take-profit, venue OCO or held.

When an entry that carries ``sl``/``tp`` (or ``sl_pct``/``tp_pct``) trades, `LiveBrackets`
protects what it bought: the filled amount NET of any fee the venue charged in the received
asset (Binance charges a spot buy's fee in the base asset unless paid in BNB), rounded down to
the market's step. The levels are the simulator's (`bracket_levels`: ``_pct`` from the average
fill price, prices to the nearest tick).

An entry that fills in parts is protected part by part, right after each trade is booked: the
first part's list has legs ``<entry>-tp``/``<entry>-sl``, each later part gets a list of its
own (``<entry>-2-tp``/``<entry>-2-sl``, ...) for what it added, and a held bracket grows to
the new total (a new ``bracket`` record; the last one counts). So the protection never exceeds
what the account holds (amounts net of fees, rounded down; a remainder below one step waits for
the next part) and a part is unprotected only until the task gets to it, with no cancel-and-
replace gap. What is left below the market's minimum when the entry ends is dust, logged.

* With both exits, on a venue that has OCO lists (Binance spot), the pair goes out as ONE
  venue OCO list: the take-profit as a ``LIMIT_MAKER``, the stop as a ``STOP_LOSS``. The venue
  cancels the other leg when one executes; both legs are ordinary orders of the run (client
  ids ``<entry>-tp`` and ``<entry>-sl``), journaled before they are sent and tracked like any
  other order, so a restart resumes them from the journal.
* Otherwise (one exit only, no OCO on the venue, or the venue refused the list) the broker
  HOLDS the bracket: it is journaled (``bracket`` record), checked against each closed bar of
  the live stream, and when a bar reaches a level the exit goes out as a reduce-only market
  order (``<entry>-sl`` / ``<entry>-tp``) and the other exit is dropped (``bracket_done``). A
  restart restores held brackets from the journal.
* An entry with ``trail_pct`` is always held (with its ``sl``/``tp`` if any): a venue OCO list
  cannot be amended, and re-placing it at each move would leave a window with no list on the
  venue. At each closed bar the stop set at the previous close is checked first (``<entry>-trail``
  goes out when the bar reaches it), then the level moves with the bar's extreme
  (`quantkit.domain.trailing`); each move is journaled (``bracket_trail``) before it takes
  effect, so a restart restores the last level, never a looser one.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any, Literal

import anyio
import structlog

from quantkit.brokers.live_bracket_parts import is_list_tp, resume_parts
from quantkit.brokers.live_bracket_rest import RestGuards
from quantkit.brokers.live_held import HeldBracket, exit_request
from quantkit.domain.bracket import BracketLevels, OcoRequest, bracket_levels
from quantkit.domain.order import Order, OrderRequest, OrderStatus, Side
from quantkit.domain.trailing import TrailingStop
from quantkit.errors import ExchangeError, RateLimitedError, TransientError, VenueBusyError

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from quantkit.brokers.journal import Journal
    from quantkit.brokers.live import LiveBroker
    from quantkit.domain.bars import Bar
    from quantkit.domain.venue import VenueOrder, VenueTrade

__all__ = ["HeldBracket", "LiveBrackets"]

_log = structlog.get_logger("quantkit.live")


class LiveBrackets:
    """Places and holds the brackets of a `LiveBroker` (see the module docstring).

    Args:
        broker: The broker whose entries it protects.
    """

    def __init__(self, broker: LiveBroker) -> None:
        self.broker = broker
        self.held: dict[str, list[HeldBracket]] = {}
        """Held brackets by symbol (the engine matches closed bars while one exists)."""
        self._net: dict[str, float] = {}
        self._parked: list[Order] = []
        self._leg_ids: set[str] | None = None
        self.rest = RestGuards(self)
        """Stops held for the rest of take-profit legs that fill in parts."""
        self._in_doubt: dict[str, HeldBracket] = {}
        """Brackets whose OCO outcome is unknown, by list prefix: held if the venue lacks it."""
        send, receive = anyio.create_memory_object_stream[Order](math.inf)
        self._send: MemoryObjectSendStream[Order] = send
        self._receive: MemoryObjectReceiveStream[Order] = receive

    @property
    def journal(self) -> Journal:
        """The broker's journal."""
        return self.broker.journal

    # -- from the order tracker (synchronous) ---------------------------------------------------

    def on_trade(self, order: Order, trade: VenueTrade) -> None:
        """Count an entry's execution net of fees in the received asset; queue its protection.

        Args:
            order: The order that traded (already updated with the trade).
            trade: The venue's execution.
        """
        if order.parent_id or _is_leg(order):
            if not order.is_active:
                self.on_closed(order)  # a leg filled: the list is done
            elif is_list_tp(order):
                self.rest.on_trade(order)  # a take-profit filling in parts: its stop is gone
            return
        if not order.request.has_bracket:
            return
        market = self.broker.market(order.symbol)
        received = trade.amount
        if order.side is Side.BUY and trade.fee_currency == market.base:
            received -= trade.fee
        self._net[order.client_id] = self._net.get(order.client_id, 0.0) + received
        self._send.send_nowait(order)  # each part is protected as it arrives

    # -- exits the strategy sends while a venue OCO holds the amount ------------------------------

    def _legs_on(self, symbol: str, side: Side) -> list[Order]:
        orders = self.broker.sync.orders
        if self._leg_ids is None:  # once: legs resumed from the journal included
            self._leg_ids = {cid for cid, o in orders.items() if _is_leg(o)}
        found = [orders[cid] for cid in self._leg_ids if cid in orders]
        self._leg_ids = {o.client_id for o in found if o.is_active}
        return [o for o in found if o.is_active and o.symbol == symbol and o.side is side]

    def park(self, order: Order) -> bool:
        """Hold back ``order`` while venue OCO legs on its side lock the amount it needs.

        A venue refuses to sell what an OCO list holds (insufficient balance), so an exit the
        strategy sends itself (``close()``, a sell signal) first cancels the list, as the
        simulator cancels bracket exits when the position closes; the order goes out once the
        venue has ended the legs (`on_closed`).

        Args:
            order: The journaled ``NEW`` order.

        Returns:
            Whether it was parked (else the caller queues it at once).
        """
        if _is_leg(order):  # a held exit: it waits only for the leg whose rest it sells
            tp = self.rest.waits_for(order)
            if tp is None:
                return False
            self._parked.append(order)
            self.broker.sync.request_cancel(tp)
            _log.info("exit_waits_for_oco_cancel", client_id=order.client_id, legs=1)
            return True
        legs = self._legs_on(order.symbol, order.side)
        if not legs:
            return False
        self._parked.append(order)
        for leg in legs:
            self.broker.sync.request_cancel(leg)
        _log.info("exit_waits_for_oco_cancel", client_id=order.client_id, legs=len(legs))
        return True

    def on_closed(self, order: Order) -> None:
        """Protect what a bracket entry that ended unfilled had bought; release parked exits.

        A bracket entry the venue canceled or expired after a partial fill gets its bracket
        for the part that filled. Parked orders whose symbol's legs have all ended go out.

        Args:
            order: An order the venue just ended.
        """
        if order.request.has_bracket and order.client_id in self._net and not _is_leg(order):
            self._send.send_nowait(order)  # canceled after a partial fill: protect that part
        if is_list_tp(order) and not order.is_active:
            self.rest.on_closed(order)
        waiting, self._parked = self._parked, []
        for parked in waiting:
            if _is_leg(parked):
                blocked = self.rest.waits_for(parked) is not None
            else:
                blocked = bool(self._legs_on(parked.symbol, parked.side))
            if blocked:
                self._parked.append(parked)
            elif parked.status is OrderStatus.NEW:
                self.broker.sync.enqueue(parked)

    def close(self, *, started: bool = True) -> None:
        """Stop taking entries (the broker shuts down); held brackets stay journaled.

        Args:
            started: Whether `run` was started (it closes its own end); ``False`` when the
                broker failed to start, so both ends are released here.
        """
        self._send.close()
        for parked in self._parked:
            self.broker.sync.reject(parked, "not sent: the broker shut down while its OCO closed")
        self._parked = []
        if not started:
            self._receive.close()

    # -- the task -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Protect filled entries one at a time, in the order they filled."""
        async with self._receive:
            async for entry in self._receive:
                await self.protect(entry)

    async def protect(self, entry: Order) -> None:
        """Place or hold the bracket of what ``entry`` received and nothing protects yet.

        Args:
            entry: A bracket entry that traded (filled, partly filled, or ended after a part).
        """
        market = self.broker.market(entry.symbol)
        levels = bracket_levels(entry.request, entry.average_price, market)
        net = self._net.get(entry.client_id, 0.0)
        amount = market.round_amount(net)
        if amount <= 0 or amount < market.dust_below:
            if not entry.is_active:  # no part comes to add to it
                self._net.pop(entry.client_id, None)
                if net > 0:
                    _log.warning("bracket_dust", client_id=entry.client_id, amount=net)
            return
        self._net[entry.client_id] = net - amount  # below one step: waits for the next part
        sl, tp = levels.stop_loss, levels.take_profit
        oco = callable(getattr(self.broker.venue, "create_oco", None))
        trail_pct = entry.request.trail_pct
        if (
            oco
            and trail_pct is None
            and sl is not None
            and tp is not None
            and await self._place_oco(entry, sl, tp, amount)
        ):
            return
        self.hold(HeldBracket(entry.client_id, entry.symbol, levels, amount, trail_pct))

    def hold(self, bracket: HeldBracket, *, journal: bool = True) -> None:
        """Hold ``bracket`` in the broker: journaled, triggered from closed bars.

        Args:
            bracket: The bracket.
            journal: Whether to journal it (``False`` when restored from the journal).
        """
        held = self.held.setdefault(bracket.symbol, [])
        grown = next((b for b in held if b.entry_id == bracket.entry_id), None)
        if grown is not None:  # a later part of the entry: one bracket for the total
            held.remove(grown)
            bracket = dataclasses.replace(
                bracket, amount=grown.amount + bracket.amount, trail=grown.trail
            )
        if journal:
            self.journal.append("bracket", bracket.as_json())
        held.append(bracket)
        _log.info(
            "bracket_held",
            client_id=bracket.entry_id,
            stop_loss=bracket.levels.stop_loss,
            take_profit=bracket.levels.take_profit,
            trail_pct=bracket.trail_pct,
            amount=bracket.amount,
        )

    # -- venue OCO --------------------------------------------------------------------------------

    async def _place_oco(self, entry: Order, sl: float, tp: float, amount: float) -> bool:
        """Send the pair as one venue OCO list; False when it must be held instead."""
        cid, now = entry.client_id, time.time_ns()
        side = Side.SELL if entry.request.sign > 0 else Side.BUY
        prefix = self._list_prefix(cid)
        legs = {
            role: Order(
                f"{prefix}-{role}",
                exit_request(entry.symbol, side, amount, role, price),
                now,
                parent_id=cid,
            )
            for role, price in (("tp", tp), ("sl", sl))
        }
        sync = self.broker.sync
        for leg in legs.values():
            self.journal.intent(leg.request, leg.client_id)
            sync.orders[leg.client_id] = leg  # tracked from now on (NEW until acknowledged)
            if self._leg_ids is not None:
                self._leg_ids.add(leg.client_id)
        prices = {"stop_loss": sl, "take_profit": tp}
        self.journal.append("bracket", {"client_id": cid, "mode": "oco", "amount": amount} | prices)
        request = OcoRequest(
            entry.symbol, side, amount, tp, sl, f"{prefix}-oco", legs["tp"].client_id,
            legs["sl"].client_id,
        )  # fmt: skip
        placed = await self._send_oco(request, legs)
        if placed == "unknown":  # resolved from the venue; held only if it never got the list
            levels = BracketLevels(side, sl, tp)
            self._in_doubt[prefix] = HeldBracket(cid, entry.symbol, levels, amount)
            return True
        if placed is None:
            return False
        for role, venue_order in zip(("tp", "sl"), placed, strict=True):
            sync.acknowledge(legs[role], venue_order)
        _log.info("bracket_oco_placed", client_id=cid, amount=amount, **prices)
        return True

    def _list_prefix(self, entry_id: str) -> str:
        """``<entry>`` for the entry's first list, ``<entry>-<n>`` for its n-th (a later part)."""
        orders = self.broker.sync.orders
        if f"{entry_id}-tp" not in orders:
            return entry_id
        n = 2
        while f"{entry_id}-{n}-tp" in orders:
            n += 1
        return f"{entry_id}-{n}"

    async def _send_oco(
        self, request: OcoRequest, legs: dict[str, Order]
    ) -> tuple[VenueOrder, VenueOrder] | Literal["unknown"] | None:
        """Send the list once; a rate limit or ``-1008`` (refused before acting) is sent again.

        When the outcome is unknown (timeout, 5xx, ``-1007``, a dropped connection) the list is
        never sent a second time: its legs become unknown orders of the broker
        (`UnknownOutcomes`), looked up by client id with backoff until the venue shows them or
        proves, past the deadline, that it never got them; only then is the bracket held by
        the broker (`on_rejected`). Failed lookups never count as "not there". A venue that
        calls the ids duplicates has such a list already: it is looked up the same way.
        """
        venue: Any = self.broker.venue
        policy = self.broker.retry
        for attempt in range(1, policy.max_attempts + 1):
            try:
                placed: tuple[VenueOrder, VenueOrder] = await venue.create_oco(request)
            except ExchangeError as exc:
                if exc.reason != "duplicate_order":
                    self._refused(legs, str(exc))
                    return None
                self._in_doubt_legs(legs, str(exc))  # the venue has a list with these ids
                return "unknown"
            except (RateLimitedError, VenueBusyError) as exc:  # refused before acting
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                await anyio.sleep(policy.delay(attempt, retry_after=retry_after))
            except TransientError as exc:
                self._in_doubt_legs(legs, str(exc))
                return "unknown"
            else:
                return placed
        self._refused(legs, f"OCO not placed after {policy.max_attempts} refused attempts")
        return None

    def _in_doubt_legs(self, legs: dict[str, Order], error: str) -> None:
        _log.warning("bracket_oco_unknown", client_id=legs["tp"].client_id, error=error)
        for leg in legs.values():
            self.broker.sync.unknown.add(leg, f"OCO outcome unknown: {error}")

    def on_rejected(self, order: Order) -> None:
        """Hold the bracket of an OCO leg the venue proved it never got (outcome was unknown).

        Args:
            order: An order of the run that just ended ``REJECTED``.
        """
        bracket = self._in_doubt.pop(order.client_id[:-3], None) if _is_leg(order) else None
        if bracket is not None:
            self.hold(bracket)

    def _refused(self, legs: dict[str, Order], reason: str) -> None:
        sync = self.broker.sync
        for leg in legs.values():
            sync.reject(leg, reason)
        _log.warning("bracket_oco_refused", client_id=legs["tp"].parent_id, reason=reason)

    # -- held brackets --------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """Trigger the held brackets of ``bar.symbol`` that the closed bar reached.

        Args:
            bar: The closed bar.
        """
        held = self.held.get(bar.symbol)
        if not held:
            return
        position = self.broker.portfolio.position(bar.symbol)
        for bracket in list(held):
            if position.is_flat:  # closed by other means: nothing left to protect
                held.remove(bracket)
                self.journal.append("bracket_done", {"client_id": bracket.entry_id, "role": ""})
                _log.info("bracket_dropped", client_id=bracket.entry_id, reason="position flat")
                continue
            role = bracket.exit_hit(bar.low, bar.high)
            if role:
                held.remove(bracket)
                self._trigger(bracket, role, bar)
            elif bracket.trail_pct is not None:
                self._follow(held, bracket, bar)

    def _follow(self, held: list[HeldBracket], bracket: HeldBracket, bar: Bar) -> None:
        """Move a held trailing stop after ``bar`` closed; journal the new level first."""
        market = self.broker.market(bracket.symbol)
        old = bracket.trail
        if old is None:
            assert bracket.trail_pct is not None
            side, pct = bracket.levels.side, bracket.trail_pct
            new = TrailingStop.start(side, pct, high=bar.high, low=bar.low, market=market)
        else:
            new = old.follow(high=bar.high, low=bar.low, market=market)
        if new is old:
            return
        self.journal.append("bracket_trail", {"client_id": bracket.entry_id, **new.as_json()})
        held[held.index(bracket)] = dataclasses.replace(bracket, trail=new)
        _log.info(
            "trailing_stop_moved",
            client_id=bracket.entry_id,
            stop=new.level,
            extreme=new.extreme,
            previous=None if old is None else old.level,
        )

    def _trigger(self, bracket: HeldBracket, role: str, bar: Bar) -> None:
        client_id = f"{bracket.entry_id}-{role}"
        request = OrderRequest(
            bracket.symbol,
            bracket.levels.side,
            amount=bracket.amount,
            reduce_only=True,
            tag=_TAGS[role],
        )
        _log.info("bracket_triggered", client_id=bracket.entry_id, role=role, close=bar.close)
        self.journal.append("bracket_done", {"client_id": bracket.entry_id, "role": role})
        self.broker.submit(request, client_id, bar.close)
        if self._leg_ids is not None:
            self._leg_ids.add(client_id)

    def restore(self) -> int:
        """Hold again the brackets the journal holds and has not seen triggered.

        Also queue the protection of parts a crash left unprotected (booked before the crash,
        their list never placed: `resume_parts`), and drop rest stops whose take-profit leg
        ended meanwhile (`RestGuards.prune`).

        Returns:
            How many were restored.
        """
        resume_parts(self)
        pending: dict[str, dict[str, Any]] = {}
        for record in self.journal.records():
            if record.kind == "bracket" and record.data.get("mode") == "held":
                pending[str(record.data["client_id"])] = dict(record.data)
            elif record.kind == "bracket_trail" and str(record.data["client_id"]) in pending:
                trail = {k: v for k, v in record.data.items() if k != "client_id"}
                pending[str(record.data["client_id"])]["trail"] = trail
            elif record.kind == "bracket_done":
                pending.pop(str(record.data["client_id"]), None)
        for data in pending.values():
            self.hold(HeldBracket.from_json(data), journal=False)
        return len(pending) - self.rest.prune()

    # -- hooks for the part-by-part protection (`live_bracket_parts`) ---------------------------

    def protect_later(self, entry: Order, amount: float) -> None:
        """Queue the protection of ``amount`` of ``entry`` (after a restart found it bare).

        Args:
            entry: The bracket entry.
            amount: What it received that nothing protects (replaces the running count).
        """
        self._net[entry.client_id] = amount
        self._send.send_nowait(entry)

    def hold_if_refused(self, prefix: str, bracket: HeldBracket) -> None:
        """Hold ``bracket`` if the legs of list ``prefix`` (in doubt) turn out never placed.

        Args:
            prefix: The list's client-id prefix (``<entry>`` or ``<entry>-<n>``).
            bracket: What to hold then.
        """
        self._in_doubt[prefix] = bracket


_TAGS = {"sl": "stop_loss", "tp": "take_profit", "trail": "trailing_stop"}


def _is_leg(order: Order) -> bool:
    """Whether ``order`` is an exit of a bracket (also when resumed from the journal)."""
    tag, client_id = order.request.tag, order.client_id
    return any(tag == _TAGS[role] and client_id.endswith(f"-{role}") for role in _TAGS)
