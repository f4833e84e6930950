"""Following the venue: fills, statuses and cancels of the run's orders, and strangers.

`Tracker` polls the account's trades and open orders (and takes trades from the websocket where
the venue pushes them). Every trade is booked once (trade ids are journaled). A trade or an open
order on a traded market that belongs to no order of the journal (a second client on the
account, a venue whose order ids restarted under a resumed journal) is never silently ignored:
it is reported as an `AccountDivergence` (see `quantkit.brokers.live_reconcile`), which halts
new entries by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import structlog

from quantkit.domain.order import Order, OrderStatus
from quantkit.errors import ExchangeError, TransientError

if TYPE_CHECKING:
    from quantkit.brokers.live_sync import OrderSync
    from quantkit.domain.venue import VenueOrder, VenueTrade

__all__ = ["Tracker"]

_log = structlog.get_logger("quantkit.live")

_VENUE_STATUS_OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
_CURSOR_MARGIN_MS = 2_000


class Tracker:
    """Polls and streams the account's trades and orders for an `OrderSync`.

    Args:
        sync: The broker's venue conversation.
    """

    def __init__(self, sync: OrderSync) -> None:
        self.sync = sync
        self.stopped = False
        self.since_ms = 0
        """Trades before this time (ms) predate the run's journal: not checked for strangers."""
        self.strangers: set[str] = set()
        """Trade ids and client ids already reported as unknown to the journal."""
        self._cursor: dict[str, int] = {}
        """Per symbol: venue time (ms) before which every trade was booked or reported."""

    async def track_loop(self) -> None:
        """Poll trades, statuses and cancels every ``poll_interval`` (sooner when woken)."""
        sync = self.sync
        while not self.stopped:
            with anyio.move_on_after(sync.broker.poll_interval):
                await sync.poll_now.wait()
            sync.poll_now = anyio.Event()
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
        sync = self.sync
        policy = sync.broker.retry
        failures = 0
        while not self.stopped:
            trades: list[VenueTrade] | None = None
            try:
                with anyio.move_on_after(sync.broker.watch_timeout):
                    trades = await sync.venue.watch_my_trades()
            except ExchangeError as exc:
                if exc.reason == "not_supported":
                    _log.info("trade_stream_unavailable", venue=sync.venue.id, error=str(exc))
                    return
                raise
            except TransientError as exc:
                failures += 1
                _log.warning("trade_stream_reconnect", error=str(exc), attempt=failures)
                sync.poke()
                await anyio.sleep(policy.delay(min(failures, policy.max_attempts)))
                continue
            if trades is None:  # silent for a while: make sure nothing was missed
                sync.poke()
                continue
            failures = 0
            async with sync.books:
                if self.stopped:  # the final poll settled everything from the venue itself
                    return
                for trade in trades:
                    self._book_pushed(trade)

    def _book_pushed(self, trade: VenueTrade) -> None:
        sync = self.sync
        if trade.trade_id in sync.trade_ids:
            return
        order = self._owner(trade)
        if order is not None and order.is_active:
            sync.book(order, trade)
            sync.poke()  # settle the balances soon

    def _owner(self, trade: VenueTrade) -> Order | None:
        sync = self.sync
        by_id = sync.exchange_ids.get(trade.exchange_order_id, "")
        if trade.client_id and by_id and trade.client_id != by_id:
            return None  # the venue's order id names another of our orders: not ours
        return sync.orders.get(trade.client_id or by_id)

    async def poll(self) -> None:
        """One round: send pending cancels, book new trades, settle orders the venue ended.

        Rounds do not overlap with each other or with booking pushed trades (one lock), so a
        balance refresh never lands between a trade's booking and its journal record.
        """
        async with self.sync.books:
            await self.poll_locked()

    async def poll_locked(self) -> None:
        """`poll` for a caller that holds ``sync.books`` already."""
        sync = self.sync
        await self.send_cancels()
        active = [o for o in sync.orders.values() if o.is_active]
        symbols = sorted({o.symbol for o in active})
        booked = 0
        for symbol in symbols:
            booked += await self.book_trades(symbol)
        if active:
            await self.settle(active)
        if booked or sync.balances_behind:
            # Fills are booked one by one; the venue's balances then replace the running
            # account, so a fee charged in another currency leaves no drift.
            await sync.broker.reconciler.refresh_balances()

    async def send_cancels(self) -> None:
        """Send the cancels asked for; keep those of orders not placed (or found) yet."""
        sync = self.sync
        pending, sync.cancels = sync.cancels, []
        for order in pending:
            if not order.is_active:
                continue
            if order.status is OrderStatus.NEW:
                sync.cancels.append(order)  # not placed yet, or unknown: cancel when found
                continue
            try:
                final = await sync.venue.cancel_order(order.client_id, order.symbol)
            except TransientError as exc:
                _log.warning("cancel_retry", client_id=order.client_id, error=str(exc))
                sync.cancels.append(order)
                continue
            except ExchangeError as exc:  # already filled or gone: the tracker settles it
                _log.info("cancel_refused", client_id=order.client_id, error=str(exc))
                continue
            await self.book_trades(order.symbol)
            sync.finish(order, final)

    async def book_trades(
        self, symbol: str, *, latest: bool = False, since_ms: int | None = None
    ) -> int:
        """Book the account's new trades in ``symbol``; report those of no journaled order.

        A venue answers one page at a time (Binance: the 500 oldest from the start time), so
        the pages are read from the last trade's time on until one brings no trade not seen
        yet: a busy minute never hides its latest trades behind a full first page. Reads
        start no earlier than (two seconds before) the venue time up to which every trade was
        booked or reported, so a busy account is not read again from a minute back each round.

        Args:
            symbol: Market symbol.
            latest: Read the venue's latest page of trades (as on a restart) instead of those
                since a minute before the oldest active order of the symbol was created.
            since_ms: Read the trades from this time instead (ms since the epoch).

        Returns:
            How many trades were booked.
        """
        sync = self.sync
        start = None if latest else self._start(symbol, since_ms)
        since_ms = start
        seen: set[str] = set()
        booked, held_ms, last_ms = 0, None, start
        while True:
            trades = await sync.venue.my_trades(symbol, since_ms)
            fresh = [t for t in trades if t.trade_id not in seen]
            seen.update(t.trade_id for t in fresh)
            for trade in fresh:
                outcome = self._book_polled(trade)
                if outcome is None:  # may be an order's in flight: read it again next round
                    trade_ms = trade.timestamp // 1_000_000
                    held_ms = trade_ms if held_ms is None else min(held_ms, trade_ms)
                booked += outcome is True
            if not fresh or since_ms is None:  # (the latest page has no next one)
                break
            since_ms = last_ms = max(since_ms, max(t.timestamp for t in fresh) // 1_000_000)
        cursor = self._cursor.get(symbol)
        if start is not None and last_ms is not None and (cursor is None or start <= cursor):
            self._cursor[symbol] = last_ms if held_ms is None else min(held_ms, last_ms)
        return booked

    def _start(self, symbol: str, since_ms: int | None) -> int | None:
        """Where a read of ``symbol``'s trades starts (ms; ``None``: the latest page).

        By default a minute before the oldest active order was created (our clock against the
        venue's); never before the venue time up to which every trade was booked or reported
        (less a margin for a trade list that shows a trade late).
        """
        sync = self.sync
        if since_ms is None:
            created = [
                o.created_at for o in sync.orders.values() if o.symbol == symbol and o.is_active
            ]
            if not created:
                return None
            since_ms = min(created) // 1_000_000 - 60_000
        cursor = self._cursor.get(symbol)
        return since_ms if cursor is None else max(since_ms, cursor - _CURSOR_MARGIN_MS)

    def _book_polled(self, trade: VenueTrade) -> bool | None:
        """Book a polled trade if it is new and its order known; report a stranger's.

        Returns:
            Whether it was booked now; ``None`` if held back (maybe an order's in flight).
        """
        sync = self.sync
        if trade.trade_id in sync.trade_ids:
            return False
        order = self._owner(trade)
        if order is None:
            return None if self._stranger_trade(trade) else False
        sync.book(order, trade)
        return True

    def _stranger_trade(self, trade: VenueTrade) -> bool:
        """Report a trade no order of the journal owns; ``True`` if it may still be ours."""
        sync = self.sync
        if trade.timestamp // 1_000_000 < self.since_ms or trade.trade_id in self.strangers:
            return False
        adopted = sync.broker.adopt_trade(trade)  # a venue's forced close (liquidation)
        if adopted is not None:
            return not adopted
        unsure = {o.symbol for o in sync.orders.values() if o.status is OrderStatus.NEW}
        if trade.symbol in unsure and not trade.client_id:
            return True  # may be of an order in flight or of unknown outcome: booked once known
        self.strangers.add(trade.trade_id)
        sync.broker.reconciler.diverged(
            "unknown_trade",
            trade.symbol,
            venue=trade.amount,
            local=0.0,
            detail=(
                f"trade {trade.trade_id} ({trade.side.value} {trade.amount:g} {trade.symbol} at "
                f"{trade.price:g}, venue order {trade.exchange_order_id}, client id "
                f"{trade.client_id or '?'}) belongs to no order in this run's journal"
            ),
        )
        return False

    async def settle(self, active: list[Order]) -> None:
        """Close orders the venue no longer lists as open; adopt and report listed ones.

        Args:
            active: The run's active orders.
        """
        sync = self.sync
        listed = await sync.venue.open_orders()
        self.check_listed(listed)
        for venue_order in listed:
            own = sync.orders.get(venue_order.client_id)
            if own is not None:
                sync.note_filled(own, venue_order.filled)
        names = {o.client_id for o in listed}
        replacing = {old.client_id for old, _ in sync.replaces.values()}
        for order in active:
            if order.status is OrderStatus.NEW:
                continue
            if not order.is_active or order.client_id in names or order.client_id in replacing:
                continue
            final = await sync.venue.fetch_order(order.client_id, order.symbol)
            if final is not None:
                sync.note_filled(order, final.filled)
            if final is not None and final.status not in _VENUE_STATUS_OPEN:
                if final.filled > order.filled * (1 + 1e-12):
                    await self.book_trades(order.symbol)
                sync.finish(order, final)

    def check_listed(self, listed: list[VenueOrder]) -> list[VenueOrder]:
        """Adopt listed orders whose outcome was unknown; report those the journal lacks.

        Args:
            listed: The account's open orders.

        Returns:
            The open orders (on traded markets) that belong to no order of the journal.
        """
        sync = self.sync
        sync.unknown.resolve_listed(listed)
        traded = set(sync.broker.traded_symbols)
        strangers = [o for o in listed if o.symbol in traded and o.client_id not in sync.orders]
        for order in strangers:
            if order.client_id in self.strangers:
                continue
            self.strangers.add(order.client_id)
            sync.broker.reconciler.diverged(
                "unknown_order",
                order.symbol,
                venue=order.amount,
                local=0.0,
                detail=(
                    f"open order {order.client_id or order.exchange_id} ({order.side.value} "
                    f"{order.amount:g} {order.symbol} at {order.price:g}) is on the account but "
                    "not in this run's journal"
                ),
            )
        return strangers
