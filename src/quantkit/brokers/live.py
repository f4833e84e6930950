"""The live broker: real orders on a real venue, journaled before they leave, never doubled.

Commands stay synchronous (rule 7 of the house style): `LiveBroker.submit` checks the order
locally with the simulator's own admission rules, writes its intent to the journal (flushed and
fsynced), queues it and returns the ``NEW`` handle at once. Background tasks started by
`LiveBroker.astart` do the talking:

* the sender places queued orders, retrying with backoff only the failures where the venue did
  not act (rate limits, ``-1008``); when the outcome of a request is unknown (timeout, 5xx,
  ``-1007``, a dropped connection) the order is never sent again: it is resolved from the
  venue by a task of its own, so it never holds up the orders queued after it;
* the tracker polls the venue for the account's trades and open orders and turns them into
  fills and status changes, journaled and delivered as events.

On start the broker replays its journal and reconciles with the venue: in-doubt intents are
looked up, fills made while it was down are booked once (trade ids are journaled), and the
account's balances become the portfolio; while it runs, the account is checked against the
portfolio and the journal (`quantkit.brokers.live_reconcile`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from quantkit.brokers.base import Broker, Clock
from quantkit.brokers.breaker import CircuitBreaker
from quantkit.brokers.journal import Journal, JournalState, replay
from quantkit.brokers.live_admission import as_amount, is_exit, order_problem
from quantkit.brokers.live_amend import amend_command
from quantkit.brokers.live_brackets import LiveBrackets
from quantkit.brokers.live_parents import LiveParentJournal
from quantkit.brokers.live_reconcile import AccountDivergence, LiveSafety, Reconciler
from quantkit.brokers.live_sync import OrderSync
from quantkit.brokers.venue import TradingVenue
from quantkit.data.fetch import RetryPolicy
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.client_ids import order_number
from quantkit.domain.market import Market, unknown_symbol
from quantkit.domain.order import Order, OrderRequest, OrderStatus
from quantkit.domain.portfolio import MarginConfig, Portfolio
from quantkit.domain.position import Position
from quantkit.domain.venue import VenueTrade
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

__all__ = ["LiveBroker"]

_log = structlog.get_logger("quantkit.live")


class LiveBroker(Broker):
    """Trades a real account through a `TradingVenue` (for example `CcxtExchange`).

    Args:
        venue: The venue client. Use ONE client per account for everything (data, orders,
            reconciliation), so the venue library's rate limiter is shared by all tasks.
        journal: The order journal file (one per run and account); created if missing,
            replayed and reconciled if it exists.
        run_id: The run's identifier; client order ids derive from it.
        confirm_live: Must be ``True``: live trading refuses to start otherwise, so a paper
            configuration cannot place real orders by accident.
        currency: The account currency every traded market is quoted in.
        retry: How transient venue failures are retried.
        breaker: Stops sending new orders after repeated venue failures.
        poll_interval: Seconds between polls of the account's trades and open orders.
        watch_trades: Also take the account's trades from the venue's websocket as they
            happen (where the venue has one; polling goes on as the safety net).
        watch_timeout: Seconds of websocket silence after which a poll checks nothing was
            missed.
        safety: How unknown outcomes are resolved and the account is reconciled.

    Raises:
        ConfigError: If a setting is invalid.
    """

    reconciler_type: type[Reconciler] = Reconciler  # follows the venue's account

    def __init__(
        self,
        venue: TradingVenue,
        *,
        journal: str | os.PathLike[str],
        run_id: str,
        confirm_live: bool = False,
        currency: str = "USDT",
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        poll_interval: float = 1.0,
        watch_trades: bool = True,
        watch_timeout: float = 30.0,
        safety: LiveSafety | None = None,
    ) -> None:
        if not run_id:
            raise ConfigError("LiveBroker: run_id must not be empty")
        if not (math.isfinite(poll_interval) and poll_interval > 0):
            raise ConfigError(f"LiveBroker: poll_interval must be > 0 seconds, got {poll_interval}")
        self.venue = venue
        self.run_id = run_id
        self.confirm_live = confirm_live
        self.currency = currency
        self.journal_path = Path(journal)
        self.retry = retry or RetryPolicy(max_attempts=5, base_delay=0.25, max_delay=10.0)
        self.breaker = breaker or CircuitBreaker(failures=5, reset_after=60.0, name="orders")
        self.poll_interval = float(poll_interval)
        if not (math.isfinite(watch_timeout) and watch_timeout > 0):
            raise ConfigError(f"LiveBroker: watch_timeout must be > 0 seconds, got {watch_timeout}")
        self.watch_trades = watch_trades
        self.watch_timeout = float(watch_timeout)
        self.safety = safety or LiveSafety()
        self.events = []
        self._portfolio = Portfolio(currency, {currency: 0.0}, MarginConfig())
        self._markets: dict[str, Market] = {}
        self._symbols: tuple[str, ...] = ()
        self._history: Mapping[str, BarSeries] = {}
        self._journal: Journal | None = None
        self._resume: JournalState = JournalState()
        self._sync: OrderSync | None = None
        self._reconciler: Reconciler | None = None
        self._brackets: LiveBrackets | None = None
        self._closing = False

    # -- setup ---------------------------------------------------------------------------------

    def prepare(self, history: Mapping[str, BarSeries], clock: Clock) -> None:
        """Remember the run's symbols and clock (markets are loaded by `astart`).

        Args:
            history: The warm-up bars by symbol; their symbols are the ones traded.
            clock: The engine's clock.
        """
        self._symbols = tuple(history)
        self._history = history
        self._clock = clock

    async def astart(self, tasks: TaskGroup) -> None:
        """Load markets, replay the journal, reconcile with the venue, start the tasks.

        Args:
            tasks: The task group the sender and tracker run in.

        Raises:
            ConfigError: Without ``confirm_live=True``, or if a symbol is not on the venue or
                not quoted in the account currency.
            ExchangeError: If the venue refuses (bad keys, ...).
            StoreError: If the journal was tampered with or truncated.
        """
        if self.confirm_live is not True:
            raise ConfigError(
                f"LiveBroker places real orders on {self.venue.id!r}; refusing to start without "
                "confirm_live=True (set it only when you mean to trade real money)"
            )
        sync = OrderSync(self, unknown_deadline=self.safety.unknown_deadline)
        reconciler = self.reconciler_type(sync, self.safety)
        try:
            markets = await reconciler.retrying(self.venue.markets, "markets")
            self._check_markets(markets)
            if self.journal_path.exists():
                self._resume = replay(self.journal_path)
            self._journal = Journal(self.journal_path, run_id=self.run_id)
            self._sync, self._reconciler = sync, reconciler
            self._brackets = LiveBrackets(self)
            await reconciler.reconcile(self._resume)
            await reconciler.retrying(lambda: reconciler.refresh_balances(check=False), "balances")
            self._brackets.restore()
        except BaseException:
            self._close_failed_start(sync)
            raise
        brackets = self._brackets
        _log.info(
            "live_broker_started",
            venue=self.venue.id,
            run_id=self.run_id,
            symbols=list(self._symbols),
            cash=self._portfolio.balance,
            resumed_orders=len(self._resume.orders),
        )
        tasks.start_soon(sync.send_loop)
        tasks.start_soon(brackets.run)
        tasks.start_soon(sync.tracker.track_loop)
        tasks.start_soon(sync.unknown.run)
        tasks.start_soon(reconciler.check_loop)
        if self.watch_trades:
            tasks.start_soon(sync.tracker.watch_loop)

    def _close_failed_start(self, sync: OrderSync) -> None:
        """Release what a failed `astart` opened (no task runs yet): queues, journal and lock."""
        sync.close()
        if self._brackets is not None:
            self._brackets.close(started=False)
        if self._journal is not None:
            self._journal.close()

    def _check_markets(self, markets: Mapping[str, Market]) -> None:
        for symbol in self._symbols:
            market = markets.get(symbol)
            if market is None:
                raise unknown_symbol(symbol, markets)
            if market.quote != self.currency:
                raise ConfigError(
                    f"LiveBroker: {symbol} is quoted in {market.quote}, the account currency is "
                    f"{self.currency}"
                )
        self._markets = {s: markets[s] for s in self._symbols}
        self._portfolio.set_markets(self._markets.values())

    @property
    def journal(self) -> Journal:
        """The open order journal (after `astart`).

        Raises:
            ConfigError: Before `astart`.
        """
        if self._journal is None:
            raise ConfigError("LiveBroker: not started; run it through a LiveEngine")
        return self._journal

    @property
    def reconciler(self) -> Reconciler:
        """Checks the account against the journal and the portfolio (after `astart`).

        Raises:
            ConfigError: Before `astart`.
        """
        if self._reconciler is None:
            raise ConfigError("LiveBroker: not started; run it through a LiveEngine")
        return self._reconciler

    @property
    def traded_symbols(self) -> tuple[str, ...]:
        """The symbols this run trades."""
        return self._symbols

    @property
    def halted(self) -> str:
        """Why new entries are refused, ``""`` while trading normally.

        After a divergence; or while the venue has been unreachable for too long (the venue's
        ``halt_reason``, e.g. `CcxtExchange.halt_reason`), until it answers again.
        """
        diverged = "" if self._reconciler is None else self._reconciler.halted
        return diverged or str(getattr(self.venue, "halt_reason", "") or "")

    @property
    def divergences(self) -> list[AccountDivergence]:
        """Differences found between the venue's account and the journal or portfolio."""
        return [] if self._reconciler is None else self._reconciler.divergences

    @property
    def left_on_venue(self) -> tuple[str, ...]:
        """After `ashutdown`: client ids of orders it could not close or resolve."""
        return () if self._reconciler is None else self._reconciler.left_on_venue

    def unknown_orders(self) -> list[Order]:
        """Orders whose outcome is unknown: maybe on the venue, never sent again.

        Returns:
            The orders, oldest first.
        """
        if self._sync is None:
            return []
        return [u.order for u in self._sync.unknown.pending.values()]

    @property
    def sync(self) -> OrderSync:
        """The task that talks to the venue (after `astart`).

        Raises:
            ConfigError: Before `astart`.
        """
        if self._sync is None:
            raise ConfigError("LiveBroker: not started; run it through a LiveEngine")
        return self._sync

    # -- Broker --------------------------------------------------------------------------------

    @property
    def portfolio(self) -> Portfolio:
        """The account as last reconciled with the venue, plus the fills booked since."""
        return self._portfolio

    def market(self, symbol: str) -> Market:
        """The venue's market of ``symbol``.

        Args:
            symbol: Market symbol.

        Returns:
            The market (precision, limits, fees as the venue states them).

        Raises:
            OrderError: If the symbol is not traded in this run.
        """
        market = self._markets.get(symbol)
        if market is None:
            raise unknown_symbol(symbol, self._markets)
        return market

    def submit(self, request: OrderRequest, client_id: str, reference_price: float) -> Order:
        """Check the order locally, journal its intent, queue it for the venue.

        Args:
            request: The validated request.
            client_id: The engine's client id for it (derived from the run id).
            reference_price: Latest close of the symbol (sizes cost orders, checks notional).

        Returns:
            The ``NEW`` order, or ``REJECTED`` with the reason a backtest would give.
        """
        sync = self.sync
        market = self.market(request.symbol)
        request = market.round_request(request)  # journaled and sent exactly as rounded
        now = time.time_ns()
        order = Order(client_id, request, now)
        reason = self.refusal(order, market, reference_price)
        if not reason and request.amount is None:
            # A cost-sized order leaves as the amount sized here; the handle carries it.
            order = Order(client_id, as_amount(request, order.amount or 0.0), now)
        # One fsync: the intent line is on disk before the order can leave; the head sidecar
        # follows with the next record (the ack), off the bar-to-order path.
        self.journal.intent(order.request, client_id, sync_head=False)
        if reason:
            order.transition(OrderStatus.REJECTED, now, reason)
            self.journal.reject(client_id, reason)
            _log.info("order_rejected", client_id=client_id, symbol=order.symbol, reason=reason)
            self.events.append(order)
            return order
        # (logged by the sender as the order leaves: no logging between a bar and its order)
        if not self.brackets.park(order):  # waits while a venue OCO holds the amount
            sync.enqueue(order)
        return order

    def refusal(self, order: Order, market: Market, reference_price: float) -> str:
        """Why the broker refuses ``order`` now, in the backtest's words (``""`` if it takes it).

        Args:
            order: The order (a cost order gets its amount).
            market: Its market.
            reference_price: Latest close of the symbol.

        Returns:
            The reason, or ``""``.
        """
        request = order.request
        if self._closing:
            return "live broker is shutting down"
        if not self.breaker.allow():
            return f"circuit breaker open: {self.breaker.reason}"
        if self.halted and not is_exit(self._portfolio, request, reference_price):
            return self.halted
        return order_problem(order, market, self._portfolio, reference_price)

    def cancel(self, order: Order) -> None:
        """Ask the venue to cancel ``order``; the outcome arrives as an event.

        Args:
            order: The order handle.
        """
        if order.is_active:
            self.sync.request_cancel(order)

    def amend(
        self, order: Order, request: OrderRequest, client_id: str, reference_price: float
    ) -> Order:
        """Replace ``order`` on the venue with one for the rest at the new price and amount.

        Returns a NEW handle under ``client_id`` at once: its request is ``request`` with the
        amount that remains (``request.amount`` minus what ``order`` filled). The journal gets
        an ``amend`` record linking both client ids and the replacement's intent before
        anything is sent. The sender then uses the venue's edit (Binance spot:
        cancel-replace, one request) where it has one, else cancels ``order`` and places the
        replacement. Once the replacement is on the venue, ``order`` ends ``CANCELED`` with
        the reason ``"replaced by <client_id>"``; if the venue refuses, the replacement ends
        ``REJECTED`` and ``order`` stays as the venue has it.

        Args:
            order: The working order.
            request: The amended request (``amount`` is the new total, fills included).
            client_id: The replacement's client id.
            reference_price: Latest close of the symbol.

        Returns:
            The replacement (``NEW``), or ``REJECTED`` with the reason a backtest would give.

        Raises:
            OrderError: If ``request`` changes more than the price and amount.
        """
        return amend_command(self, order, request, client_id, reference_price)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders not yet in a final status, oldest first.

        Args:
            symbol: Market symbol, or ``None`` for all.

        Returns:
            The orders.
        """
        if self._sync is None:
            return []
        return [o for o in self._sync.orders.values() if o.is_active and symbol in (None, o.symbol)]

    def working(self, symbol: str) -> Sized:
        """The brackets the broker holds for ``symbol`` (the venue matches everything else).

        Args:
            symbol: Market symbol.

        Returns:
            The held brackets (empty when there are none).
        """
        if self._brackets is None:
            return ()
        return self._brackets.held.get(symbol, ())

    def on_bar_closed(self, bar: Bar) -> None:
        """Trigger held brackets the closed bar reached (see `LiveBrackets`).

        Args:
            bar: The new closed bar.
        """
        if self._brackets is not None:
            self._brackets.on_bar(bar)

    @property
    def brackets(self) -> LiveBrackets:
        """The brackets of the run: venue OCO lists and held ones (after `astart`).

        Raises:
            ConfigError: Before `astart`.
        """
        if self._brackets is None:
            raise ConfigError("LiveBroker: not started; run it through a LiveEngine")
        return self._brackets

    async def events_ready(self) -> None:
        """Wait until the background tasks added events."""
        await self.sync.events_ready()

    async def ashutdown(self, *, cancel_open: bool) -> None:
        """Stop new orders, let queued ones settle, optionally cancel the rest, flush.

        Args:
            cancel_open: Whether to cancel the orders still working on the venue.
        """
        self._closing = True
        if self._reconciler is not None:
            await self._reconciler.shutdown(cancel_open=cancel_open)
        if self._brackets is not None:
            self._brackets.close()
        if self._journal is not None:
            self._journal.close()
        _log.info("live_broker_stopped", venue=self.venue.id, run_id=self.run_id)

    def resume_state(self) -> Mapping[str, Any]:
        """The run state journaled last, with ``seq`` at least the last order's number.

        Returns:
            The state: ``seq`` (orders sent so far), ``bars`` (last bar handed to the strategy
            per symbol, open time in ns), ``strategy`` (persistent attributes).
        """
        state = dict(self._resume.state)
        numbers = [order_number(cid) for cid in self._resume.orders]
        state["seq"] = max([int(state.get("seq", 0)), *numbers])
        return state

    def parent_journal(self) -> LiveParentJournal:
        """The run's parent orders in this broker's journal (after `astart`)."""
        return LiveParentJournal(self)

    def save_state(self, data: Mapping[str, Any]) -> None:
        """Journal the run's resumable state.

        Args:
            data: JSON-able state.
        """
        self.journal.state(data)

    def set_position(self, symbol: str, amount: float) -> None:
        """Make the position in ``symbol`` the venue's ``amount`` (balance reconciliation).

        Args:
            symbol: Market symbol.
            amount: The base amount the venue holds.
        """
        history = self._history.get(symbol)
        price = float(history.close[-1]) if history is not None and len(history) else 0.0
        position = self._portfolio.position(symbol)
        if position.amount != amount:
            entry = position.entry_price if position.amount else price
            position = self._portfolio.positions[symbol] = Position(
                symbol, amount, entry if amount else 0.0, position.realized_pnl,
                position.dust_below,
            )  # fmt: skip
            if position.is_dust:
                _log.info("position_dust", symbol=symbol, amount=amount,
                          minimum=position.dust_below)  # fmt: skip

    def adopt_trade(self, trade: VenueTrade) -> bool | None:
        """Whether the broker books a trade of no journaled order itself (a forced close).

        Returns ``True`` if booked now, ``False`` to hold it back for a lookup, ``None`` for
        a stranger's trade (the spot broker adopts none).
        """
        del trade
        return None

    def __repr__(self) -> str:
        return f"LiveBroker(venue={self.venue.id!r}, run_id={self.run_id!r})"
