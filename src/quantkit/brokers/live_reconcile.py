"""The live broker follows the venue: restart reconciliation, balance checks, shutdown.

* On start, the journal's orders are brought up to date with the venue: found ones are adopted,
  fills made while the process was down are booked once, and in-doubt intents whose outcome is
  still unknown go to `UnknownOutcomes` (never re-sent, never dropped on a failed lookup).
  Orders or trades on the traded markets that the journal does not know refuse the start with
  `ReconciliationError`. Every venue call retries transient failures with backoff until
  ``LiveSafety.startup_deadline``.
* Every ``LiveSafety.reconcile_interval`` seconds (and after every booked fill) the venue's
  balances are compared with the portfolio. A difference beyond the fees the portfolio counts
  differently and dust is an `AccountDivergence`: logged with both figures, kept in
  ``LiveBroker.divergences``, and (``halt_on_divergence``) new entries are refused from then
  on. The portfolio then takes the venue's figures.
* The shutdown lets queued orders go out, cancels working orders if asked (retrying until
  ``LiveSafety.shutdown_deadline``), and names in ``LiveBroker.left_on_venue`` the orders it
  could not close, including those whose outcome is still unknown.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio
import structlog

from quantkit.brokers.live_outcomes import DEFAULT_UNKNOWN_DEADLINE
from quantkit.domain.order import Order, OrderRequest, OrderStatus
from quantkit.errors import ConfigError, ExchangeError, ReconciliationError, TransientError

if TYPE_CHECKING:
    from quantkit.brokers.journal import JournalState, OrderState
    from quantkit.brokers.live_sync import OrderSync
    from quantkit.domain.venue import VenueBalance

__all__ = ["AccountDivergence", "LiveSafety", "Reconciler"]

_log = structlog.get_logger("quantkit.live")
_T = TypeVar("_T")
_QUOTE_DUST = 1e-8
_CLOCK_MARGIN_MS = 60_000  # the venue's clock may differ from ours


@dataclass(frozen=True, slots=True)
class LiveSafety:
    """How a `LiveBroker` resolves unknown outcomes and follows the venue.

    Attributes:
        unknown_deadline: Seconds after an order's last send before a lookup answering "does
            not exist" proves it never placed (default 60: three times ccxt's 10 s
            ``recvWindow`` plus Binance's documented 10 s backend timeout).
        reconcile_interval: Seconds between balance and account checks.
        halt_on_divergence: Refuse new entries after a divergence (exits stay allowed).
        balance_tolerance: Relative difference between venue and portfolio balances taken as
            float noise (on top of fees and dust).
        startup_deadline: Seconds the start keeps retrying transient venue failures.
        shutdown_deadline: Seconds the shutdown keeps retrying cancels and lookups.

    Raises:
        ConfigError: If a value is not a positive finite number (tolerance: not >= 0).
    """

    unknown_deadline: float = DEFAULT_UNKNOWN_DEADLINE
    reconcile_interval: float = 60.0
    halt_on_divergence: bool = True
    balance_tolerance: float = 1e-9
    startup_deadline: float = 60.0
    shutdown_deadline: float = 30.0

    def __post_init__(self) -> None:
        for name in (
            "unknown_deadline",
            "reconcile_interval",
            "startup_deadline",
            "shutdown_deadline",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"LiveSafety: {name} must be > 0 seconds, got {value!r}")
        tolerance = self.balance_tolerance
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise ConfigError(f"LiveSafety: balance_tolerance must be >= 0, got {tolerance!r}")


@dataclass(frozen=True, slots=True)
class AccountDivergence:
    """A difference between the venue's account and what the run's journal knows.

    Attributes:
        kind: ``"balance"``, ``"unknown_order"``, ``"unknown_trade"`` or
            ``"missing_order"`` (journaled as acknowledged, unknown to the venue).
        subject: The asset (balances) or the symbol.
        venue: The venue's figure (balance, or the stranger's amount).
        local: quantkit's figure (portfolio balance; 0 for strangers).
        detail: The whole story, for people.
        time: When it was found, ns since the epoch.
    """

    kind: str
    subject: str
    venue: float
    local: float
    detail: str
    time: int


class Reconciler:
    """Brings a live broker's state in line with the venue.

    Args:
        sync: The broker's venue conversation.
        safety: The settings.
    """

    def __init__(self, sync: OrderSync, safety: LiveSafety) -> None:
        self.sync = sync
        self.safety = safety
        self.divergences: list[AccountDivergence] = []
        self.halted = ""
        """Why new entries are refused ("" while trading normally)."""
        self._settled_ms = time.time_ns() // 1_000_000
        """When the balances taken last were read (ms): earlier trades are in them."""
        self._suspected: set[str] = set()
        """Assets whose balance differed at the last settled check, not yet reported."""
        self.left_on_venue: tuple[str, ...] = ()
        """After the shutdown: client ids of orders it was asked to cancel but could not, and
        of orders whose outcome is still unknown."""
        self._shut = False

    # -- divergences -----------------------------------------------------------------------------

    def diverged(self, kind: str, subject: str, *, venue: float, local: float, detail: str) -> None:
        """Record a divergence: log it with both figures and halt new entries if configured.

        Args:
            kind: See `AccountDivergence.kind`.
            subject: The asset or symbol.
            venue: The venue's figure.
            local: quantkit's figure.
            detail: The whole story.
        """
        found = AccountDivergence(kind, subject, venue, local, detail, time.time_ns())
        self.divergences.append(found)
        _log.error(
            "divergence", kind=kind, subject=subject, venue=venue, local=local, detail=detail
        )
        if self.safety.halt_on_divergence and not self.halted:
            self.halted = f"new entries halted after a divergence: {detail}"

    # -- balances ----------------------------------------------------------------------------------

    async def refresh_balances(self, *, check: bool = True) -> bool:
        """Compare the venue's balances with the portfolio, then take the venue's.

        The comparison is only made on a settled account, so that the portfolio has booked
        every trade the balances contain: no order of the run is in flight, of unknown outcome
        or with fills the venue reported but not booked yet (see `_busy`), before or after
        the reads, and none was created meanwhile (its trades could not be attributed yet);
        the balances, read twice around booking the trades since the last settled read (every
        page), are equal (nothing traded in between). Otherwise nothing changes and the next
        round tries again.

        A difference found on a settled account is only reported once the next settled check
        still finds one in the same asset (a venue whose balances and trade list are updated
        apart gets a poll interval to agree with itself); until then the portfolio keeps its
        own figures. So a real divergence is reported at the second settled check after it
        happened, and a difference that the booking of a late trade explains never is.
        Call with the books lock held (or before the tasks start).

        Args:
            check: Compare first (``False`` on start: take the venue's figures as they are).

        Returns:
            Whether the portfolio now holds the venue's figures.
        """
        sync = self.sync
        sync.balances_behind = True
        if check and self._busy():
            return False
        known = len(sync.orders)
        read_ms = time.time_ns() // 1_000_000
        before = await sync.venue.balances()
        await self._book_latest()
        balances = await sync.venue.balances()
        if check:
            if _totals(before) != _totals(balances) or self._busy() or len(sync.orders) != known:
                return False  # something traded or started meanwhile: settle in the next round
            if not self._confirmed(self._gaps(balances)):
                return False
        self._apply(balances)
        self._settled_ms = read_ms
        return True

    def _busy(self) -> bool:
        """Whether an order is in flight, of unknown outcome, or has fills still to be booked.

        An order the venue reported as (more) filled than the trades booked for it (a market
        order's answer, a lookup, the open orders) has trades a venue may show in its balances
        before its trade list. Such a report holds the check back for ``unknown_deadline``
        seconds at most, so a trade that never shows up cannot hide a divergence for longer.
        """
        sync = self.sync
        if any(o.status is OrderStatus.NEW for o in sync.orders.values()):
            return True
        recent = time.time_ns() - int(self.safety.unknown_deadline * 1e9)
        for client_id, (filled, seen) in list(sync.venue_filled.items()):
            order = sync.orders.get(client_id)
            if order is None or order.filled >= filled * (1 - 1e-9) or seen < recent:
                del sync.venue_filled[client_id]  # booked (or given up on)
            else:
                return True
        return False

    def _confirmed(self, gaps: list[tuple[str, float, float, float]]) -> bool:
        """Report the gaps a previous settled check found as well; hold back new ones."""
        suspected, self._suspected = self._suspected, {asset for asset, *_ in gaps}
        if not self._suspected <= suspected:
            _log.info("balance_gap_unconfirmed", assets=sorted(self._suspected))
            return False
        self._suspected = set()
        for asset, venue, local, tolerance in gaps:
            self.diverged(
                "balance",
                asset,
                venue=venue,
                local=local,
                detail=(
                    f"{asset} balance on the venue {venue:.10g}, in the portfolio "
                    f"{local:.10g}: {venue - local:+.10g} beyond fees and dust "
                    f"({tolerance:.3g})"
                ),
            )
        return True

    def _expected(self) -> dict[str, tuple[float, float]]:
        """Portfolio balance and dust per asset."""
        broker = self.sync.broker
        expected = {broker.currency: (broker.portfolio.cash.get(broker.currency, 0.0), 0.0)}
        for symbol in broker.traded_symbols:
            market = broker.market(symbol)
            dust = max(market.min_amount, market.amount_increment)
            expected[market.base] = (broker.portfolio.position(symbol).amount, dust)
        return expected

    def _gaps(self, balances: dict[str, VenueBalance]) -> list[tuple[str, float, float, float]]:
        slack = self.sync.fee_slack
        gaps = []
        for asset, (local, dust) in self._expected().items():
            held = balances.get(asset)
            venue = held.total if held is not None else 0.0
            noise = self.safety.balance_tolerance * max(abs(venue), abs(local))
            tolerance = max(dust, _QUOTE_DUST) + slack.get(asset, 0.0) + noise
            if abs(venue - local) > tolerance:
                gaps.append((asset, venue, local, tolerance))
        return gaps

    def _apply(self, balances: dict[str, VenueBalance]) -> None:
        sync = self.sync
        broker = sync.broker
        sync.balances_behind = False
        sync.fee_slack.clear()
        quote = balances.get(broker.currency)
        broker.portfolio.cash[broker.currency] = quote.total if quote is not None else 0.0
        for symbol in broker.traded_symbols:
            base = balances.get(broker.market(symbol).base)
            broker.set_position(symbol, base.total if base is not None else 0.0)

    async def _book_latest(self) -> None:
        """Book the trades since the balances taken last were read (a minute of margin)."""
        tracker = self.sync.tracker
        since = self._settled_ms - _CLOCK_MARGIN_MS
        for symbol in self.sync.broker.traded_symbols:
            await tracker.book_trades(symbol, since_ms=since)

    async def check_account(self) -> None:
        """One periodic check: strangers' trades and open orders, then the balances."""
        sync = self.sync
        async with sync.books:
            await self._book_latest()
            sync.tracker.check_listed(await sync.venue.open_orders())
            await self.refresh_balances()

    async def check_loop(self) -> None:
        """Run `check_account` every ``reconcile_interval`` seconds until cancelled."""
        while not self._shut:
            await anyio.sleep(self.safety.reconcile_interval)
            try:
                await self.check_account()
            except TransientError as exc:
                _log.warning("account_check_failed", error=str(exc))

    # -- restart -----------------------------------------------------------------------------------

    async def retrying(self, call: Callable[[], Awaitable[_T]], what: str) -> _T:
        """Run ``call``, retrying transient failures with backoff until the startup deadline.

        Args:
            call: The venue call.
            what: What it does, for messages.

        Returns:
            Its result.

        Raises:
            TransientError: The last failure, once the deadline has passed.
        """
        policy = self.sync.broker.retry
        deadline = time.monotonic() + self.safety.startup_deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except TransientError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise type(exc)(
                        f"{what}: still failing after {attempt} attempts: {exc}"
                    ) from exc
                _log.warning("startup_retry", what=what, attempt=attempt, error=str(exc))
                await anyio.sleep(min(left, policy.delay(min(attempt, 30))))

    async def reconcile(self, state: JournalState) -> None:
        """Rebuild the run's orders from the journal and bring them up to date with the venue.

        Args:
            state: The replayed journal.

        Raises:
            ReconciliationError: If the account holds orders or trades (since the journal
                began) on the traded markets that the journal does not know.
            TransientError: If the venue kept failing past the startup deadline.
        """
        sync = self.sync
        sync.trade_ids |= state.trade_ids
        intents = self._intent_times()
        sync.tracker.since_ms = min(intents.values(), default=time.time_ns()) // 1_000_000
        for client_id, saved in state.orders.items():
            if not saved.status.is_terminal:
                await self._resume(client_id, saved, intents.get(client_id, time.time_ns()))
        tracker = sync.tracker
        for symbol in sorted(
            {o.symbol for o in sync.orders.values()} | set(sync.broker.traded_symbols)
        ):
            await self.retrying(
                functools.partial(tracker.book_trades, symbol, latest=True), "trades"
            )
        listed = await self.retrying(sync.venue.open_orders, "open orders")
        strangers = tracker.check_listed(listed)
        active = [
            o for o in sync.orders.values() if o.is_active and o.status is not OrderStatus.NEW
        ]
        if active:
            await self.retrying(lambda: tracker.settle(active), "order statuses")
        if strangers or self.divergences:
            raise ReconciliationError(
                "the account holds orders or trades this run's journal does not know; a second "
                "client may be trading it, or the journal belongs to another account: "
                + "; ".join(d.detail for d in self.divergences)
            )

    def _intent_times(self) -> dict[str, int]:
        return {
            str(r.data["client_id"]): r.time
            for r in self.sync.broker.journal.records()
            if r.kind == "intent"
        }

    async def _resume(self, client_id: str, saved: OrderState, intent_ns: int) -> None:
        sync = self.sync
        order = _resumed_order(client_id, saved)
        sync.orders[client_id] = order
        if saved.status is OrderStatus.NEW:  # in doubt: was it sent? did it execute?
            age = max(0.0, (time.time_ns() - intent_ns) / 1e9)
            sync.unknown.add(order, "in doubt after a restart", age=age)
            await sync.unknown.check_due(all_now=True)
            return
        found = await self.retrying(
            lambda: sync.venue.fetch_order(client_id, order.symbol), "order lookup"
        )
        order.transition(OrderStatus.OPEN, time.time_ns())
        if saved.exchange_id:
            sync.exchange_ids[saved.exchange_id] = client_id
        if found is None:
            self.diverged(
                "missing_order",
                order.symbol,
                venue=0.0,
                local=order.amount or 0.0,
                detail=(
                    f"order {client_id} (venue id {saved.exchange_id or '?'}) was acknowledged "
                    "by the venue but the venue does not know it now"
                ),
            )
        else:
            sync.remember(order, found.exchange_id)
        if saved.filled:
            order.filled = saved.filled
            order.average_price = saved.notional / saved.filled
            if order.filled < (order.amount or 0.0):
                order.status = OrderStatus.PARTIALLY_FILLED
        _log.info("order_resumed", client_id=client_id, found=found is not None)

    # -- shutdown ----------------------------------------------------------------------------------

    async def shutdown(self, *, cancel_open: bool, timeout: float = 10.0) -> None:
        """Let queued orders go out, cancel the working ones if asked, collect the last fills.

        Args:
            cancel_open: Whether to cancel orders still open on the venue.
            timeout: Longest wait for queued orders, in seconds; orders still queued after it
                are rejected ("not sent") instead of sent.
        """
        if self._shut:
            return
        self._shut = True
        sync = self.sync
        if sync.sender_alive:
            with anyio.move_on_after(timeout):
                await sync.idle.wait()
        sync.closing = True  # what is still queued now is not sent any more
        sync.stop_sender()
        if not sync.sender_alive:
            sync.drain_queue()
        await self._settle_for_exit(cancel_open)
        if not sync.sender_alive:  # (a running sender closes the queue as it ends)
            sync.close()
        # Orders kept working on purpose (no cancel asked) are not "left"; unknown ones are.
        left = [o for o in sync.orders.values() if o.is_active]
        if not cancel_open:
            left = [o for o in left if o.client_id in sync.unknown]
        self.left_on_venue = tuple(sorted(o.client_id for o in left))
        if self.left_on_venue:
            _log.error(
                "orders_left_on_venue",
                client_ids=list(self.left_on_venue),
                outcome_unknown=sorted(c for c in self.left_on_venue if c in sync.unknown),
                cancel_requested=cancel_open,
            )

    async def _settle_for_exit(self, cancel_open: bool) -> None:
        sync = self.sync
        policy = sync.broker.retry
        deadline = time.monotonic() + self.safety.shutdown_deadline
        attempt = 0
        while True:
            attempt += 1
            if cancel_open:
                for order in sync.orders.values():
                    if order.is_active:
                        sync.request_cancel(order)
            done = await self._exit_round()
            working = [o for o in sync.orders.values() if o.is_active] if cancel_open else []
            left = deadline - time.monotonic()
            if (done and not working) or left <= 0:
                break
            await anyio.sleep(min(left, policy.delay(min(attempt, 30))))
        async with sync.books:
            sync.tracker.stopped = True  # pushed trades after this were in the last poll

    async def _exit_round(self) -> bool:
        sync = self.sync
        try:
            await sync.unknown.check_due(all_now=True)
            async with sync.books:
                await sync.tracker.poll_locked()
        except (TransientError, ExchangeError) as exc:
            _log.warning("shutdown_poll_failed", error=str(exc))
            return False
        return True


def _totals(balances: dict[str, VenueBalance]) -> dict[str, float]:
    return {asset: held.total for asset, held in balances.items()}


def _resumed_order(client_id: str, saved: OrderState) -> Order:
    request = saved.request or OrderRequest(saved.symbol, saved.side, amount=saved.amount)
    return Order(client_id, request, time.time_ns())
