"""The live broker on perpetual futures: the spot `LiveBroker` with a futures account.

`PerpetualLiveBroker` is `LiveBroker` (journal before sending, client order ids, the
never-twice rule on unknown outcomes, restart reconciliation) trading linear perpetuals on a
one-way account. What changes:

* before anything else, `astart` refuses an account in hedge mode, sets each traded symbol's
  margin mode and leverage on the venue (leverage above the first bracket's maximum is
  refused before sending);
* the portfolio is a `FuturesPortfolio`: signed positions (longs and shorts), entry prices,
  unrealised P&L at the venue's mark, margin and the venue's liquidation price
  (`venue_positions`);
* the account is followed by `PerpetualReconciler`: positions against ``positionRisk``, the
  wallet against the portfolio's wallet balance, funding booked to the cash ledger and the
  journal, the venue's liquidations booked as forced closes;
* with ``watch_trades`` (the default), funding and the venue's liquidations are booked as the
  user-data stream pushes them (`AccountStream`), each once whether it arrives by the stream,
  by the account check's poll, by both, or while the process was down (`FundingLedger`, trade
  ids in the journal).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import anyio
import structlog

from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_perp_funding import FundingLedger
from quantkit.brokers.live_perp_leverage import change_leverage, journaled_leverages
from quantkit.brokers.live_perp_reconcile import PerpetualReconciler, PerpetualVenueReads
from quantkit.brokers.live_perp_stream import AccountStream, PerpetualVenueStream
from quantkit.brokers.venue import TradingVenue
from quantkit.domain.fill import Fill
from quantkit.domain.funding import FundingPayment
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.perpetual import MarginMode, check_margin_mode
from quantkit.domain.portfolio import MarginConfig
from quantkit.domain.position import Position
from quantkit.domain.venue import VenueOrder, VenueTrade
from quantkit.domain.venue_positions import VenueBalanceChange, VenueFunding, VenuePosition
from quantkit.errors import ConfigError, TransientError

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

__all__ = ["FORCED_CLOSE_PREFIXES", "PerpetualLiveBroker", "PerpetualVenue"]

_log = structlog.get_logger("quantkit.live")
_T = TypeVar("_T")

FORCED_CLOSE_PREFIXES = ("autoclose-", "adl_autoclose")
"""Client ids Binance USD-M gives the orders it places itself: liquidation and ADL."""


class PerpetualVenue(TradingVenue, PerpetualVenueReads, PerpetualVenueStream, Protocol):
    """A `TradingVenue` for perpetuals (`quantkit.exchanges.CcxtPerpetualExchange`)."""

    async def check_one_way(self) -> None:
        """Raise `ConfigError` if the account is in hedge mode."""
        ...

    async def set_leverage(self, symbol: str, leverage: float) -> float:
        """Set a symbol's leverage (refused above its maximum)."""
        ...

    async def set_margin_mode(self, symbol: str, mode: str) -> MarginMode:
        """Make a symbol's margin isolated or cross."""
        ...

    async def fetch_order_by_id(self, exchange_id: str, symbol: str) -> VenueOrder | None:
        """Look an order up by the venue's id."""
        ...


class PerpetualLiveBroker(LiveBroker):
    """Trades linear perpetuals on a one-way futures account (see the module docstring).

    Args:
        venue: The perpetuals venue (e.g. `CcxtPerpetualExchange` for ``"binanceusdm"``).
        leverage: Leverage of every traded symbol, or per symbol (others: 1).
        margin_mode: ``"cross"`` or ``"isolated"``, for every traded symbol.
        **kwargs: `LiveBroker`'s arguments (journal, run_id, confirm_live, ...).

    Raises:
        ConfigError: If the margin mode is unknown.
    """

    reconciler_type = PerpetualReconciler

    def __init__(
        self,
        venue: PerpetualVenue,
        *,
        leverage: float | Mapping[str, float] = 1,
        margin_mode: str = "cross",
        **kwargs: Any,
    ) -> None:
        super().__init__(venue, **kwargs)
        self.perp_venue = venue
        self.leverage = leverage
        self.margin_mode: MarginMode = check_margin_mode(margin_mode, "margin_mode")
        self.venue_positions: dict[str, VenuePosition] = {}
        """The positions as the venue reported them at the last settled check."""
        self.funding_ledger = FundingLedger()
        """The funding payments booked, by income id and as pushed (and clearances' ids)."""
        self._forced: dict[str, VenueOrder | None] = {}
        """Venue order ids of trades no journaled order owns: the forced close, or ``None``."""
        self.forced_pushes = 0
        """How many fills of the venue's own orders the stream pushed (booked now or before)."""
        self._pending_lookups: set[tuple[str, str]] = set()
        """(venue order id, symbol) of unknown trades whose order is still to be looked up."""
        self._leverages: dict[str, float] = {}

    def _leverage_of(self, symbol: str) -> float:
        if isinstance(self.leverage, Mapping):
            return float(self.leverage.get(symbol, 1))
        return float(self.leverage)

    async def astart(self, tasks: TaskGroup) -> None:
        """Check the account mode, set margin mode and leverage, then start as `LiveBroker`.

        Args:
            tasks: The task group the broker's tasks run in.

        Raises:
            ConfigError: Without ``confirm_live``; for hedge mode; a symbol that is not a
                perpetual of the venue; a leverage above the symbol's maximum.
            ExchangeError: If the venue refuses (e.g. a margin mode change with a position).
        """
        if self.confirm_live is True:  # (LiveBroker refuses otherwise, before any order)
            venue = self.perp_venue
            await self._retrying(venue.check_one_way)
            changed = journaled_leverages(self.journal_path)  # a run's changes outlive it
            for symbol in self._symbols:
                mode = self.margin_mode
                leverage = changed.get(symbol, self._leverage_of(symbol))
                await self._retrying(functools.partial(venue.set_margin_mode, symbol, mode))
                self._leverages[symbol] = await self._retrying(
                    functools.partial(venue.set_leverage, symbol, leverage)
                )
        await super().astart(tasks)
        if self.watch_trades:  # the account's stream: funding and forced closes as they happen
            stream = AccountStream(self)
            tasks.start_soon(stream.funding_loop)
            tasks.start_soon(stream.fills_loop)

    async def aset_leverage(self, symbol: str, leverage: float) -> float:
        """Change a symbol's leverage on the venue, also with a position open.

        Refused before sending when the venue would refuse it (Binance's ``-2027``,
        ``-4161``, ``-2028``, by the simulator's rule), journaled before it is sent, applied
        to the portfolio once the venue confirms; a restart keeps it. See
        `quantkit.brokers.live_perp_leverage`.

        Args:
            symbol: A perpetual the broker trades.
            leverage: A whole number from 1 to the first bracket's maximum.

        Returns:
            The leverage the venue confirmed.

        Raises:
            ConfigError: For a symbol not traded or a leverage out of range.
            ExchangeError: If the position's margin cannot carry it
                (``reason="leverage_refused"``) or the venue refused it.
            TransientError: If the venue kept failing.
        """
        return await change_leverage(self, symbol, leverage, self._retrying)

    async def _retrying(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Run an idempotent account setting, retrying transient failures by `retry`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except TransientError as exc:
                if attempt >= self.retry.max_attempts:
                    raise
                _log.warning("account_setup_retry", attempt=attempt, error=str(exc))
                await anyio.sleep(self.retry.delay(attempt))

    def _check_markets(self, markets: Mapping[str, Market]) -> None:
        super()._check_markets(markets)
        specs = {}
        for symbol, market in self._markets.items():
            spec = market.perpetual
            if spec is None:
                raise ConfigError(f"PerpetualLiveBroker: {symbol} is not a perpetual market")
            if spec.inverse or spec.contract_size != 1.0:
                raise ConfigError(
                    f"PerpetualLiveBroker: {symbol} is inverse or has contract size "
                    f"{spec.contract_size:g}; only linear perpetuals of size 1 are traded live"
                )
            specs[symbol] = spec
        top = max([1.0, *self._leverages.values()])
        portfolio = FuturesPortfolio(
            self.currency,
            {self.currency: 0.0},
            MarginConfig(True, min(top, 125.0)),
            specs=specs,
            leverage={s: self._leverages.get(s, self._leverage_of(s)) for s in specs},
            margin_mode=self.margin_mode,
        )
        portfolio.set_markets(self._markets.values())
        self._portfolio = portfolio

    @property
    def futures(self) -> FuturesPortfolio:
        """The futures account (the `portfolio`)."""
        return cast(FuturesPortfolio, self._portfolio)

    def liquidation_price(self, symbol: str) -> float:
        """The venue's liquidation price of ``symbol``'s position (0 when flat or none).

        Args:
            symbol: Market symbol.

        Returns:
            The price, as the venue reported it at the last settled check.
        """
        held = self.venue_positions.get(symbol)
        return held.liquidation_price if held is not None and held.amount else 0.0

    # -- the account as the venue has it -----------------------------------------------------

    def take_account(self, wallet: float, positions: Mapping[str, VenuePosition]) -> None:
        """Make the portfolio the venue's: positions, entries, marks, then the wallet.

        Args:
            wallet: The venue's wallet balance.
            positions: The venue's positions by symbol.
        """
        futures = self.futures
        for symbol in self._symbols:
            held = positions.get(symbol)
            amount = held.amount if held is not None else 0.0
            entry = held.entry_price if held is not None and amount else 0.0
            old = futures.position(symbol)
            futures.positions[symbol] = Position(
                symbol, amount, entry, old.realized_pnl, old.dust_below
            )
            if held is not None and held.mark_price > 0:
                futures.last_price[symbol] = held.mark_price
            if held is not None:
                self.venue_positions[symbol] = held
        opened = sum(p.amount * p.entry_price for s, p in futures.positions.items() if p.amount)
        futures.cash[self.currency] = wallet - opened

    def set_position(self, symbol: str, amount: float) -> None:
        """Not used for perpetuals: `take_account` sets positions with the venue's entries.

        Args:
            symbol: Market symbol.
            amount: Ignored.
        """
        del symbol, amount

    def book_funding(self, payment: VenueFunding, *, in_wallet: bool = False) -> None:
        """Book one payment of the venue's income history once (see `FundingLedger`).

        A payment the stream booked already is only confirmed (journal record
        ``funding_confirmed``); any other is booked: cash ledger, funding list, journal, log.

        Args:
            payment: The venue's payment (amount > 0 received).
            in_wallet: The payment is in the wallet about to be taken (found on restart): the
                cash is left alone, the payment is journaled and listed.
        """
        ledger = self.funding_ledger
        if ledger.known(payment.funding_id) or payment.symbol not in self._markets:
            return
        ms = payment.timestamp // 1_000_000
        if ledger.listed(payment.funding_id, payment.symbol, payment.amount, ms):
            self.journal.append(
                "funding_confirmed",
                {"funding_id": payment.funding_id, "symbol": payment.symbol,
                 "amount": payment.amount, "time": payment.timestamp},
            )  # fmt: skip
            return
        source = "restart" if in_wallet else "poll"
        self._book_payment(payment, source=source, move_cash=not in_wallet)

    def book_pushed_funding(self, change: VenueBalanceChange) -> bool:
        """Book a funding payment the user-data stream pushed, once (see `FundingLedger`).

        A cross position's payment comes without a symbol: it is the traded symbol holding
        the only open position; with several open (or a symbol not traded), the income
        history books it instead, at a poll round asked for now.

        Args:
            change: The pushed change (reason ``FUNDING_FEE``).

        Returns:
            Whether it was booked now.
        """
        symbol = change.symbol or self._sole_holder()
        if symbol not in self._markets:
            _log.info("pushed_funding_left_to_poll", symbol=change.symbol, amount=change.amount)
            self.funding_ledger.unattributed()
            self.sync.balances_behind = True
            self.sync.poke()
            self.sync.emit()
            return False
        booked = not self.funding_ledger.streamed(
            symbol, change.amount, change.timestamp // 1_000_000
        )
        if booked:
            payment = VenueFunding("", symbol, change.amount, change.currency, change.timestamp)
            self._book_payment(payment, source="stream", move_cash=True)
        self.sync.emit()  # wake whoever waits for the broker's news
        return booked

    def _sole_holder(self) -> str:
        held = [s for s in self._symbols if self.futures.position(s).amount]
        return held[0] if len(held) == 1 else ""

    def _book_payment(self, payment: VenueFunding, *, source: str, move_cash: bool) -> None:
        futures = self.futures
        paid = -payment.amount
        if move_cash:
            futures.cash[self.currency] = futures.balance - paid
            if futures.margin_mode == "isolated":
                extra = futures.isolated_extra.get(payment.symbol, 0.0)
                futures.isolated_extra[payment.symbol] = extra - paid
        held = futures.position(payment.symbol).amount
        mark = futures.last_price.get(payment.symbol, 0.0)
        rate = paid / (held * mark) if held and mark else 0.0
        futures.funding.append(
            FundingPayment(payment.timestamp, payment.symbol, held, mark, rate, paid,
                           payment.timestamp)
        )  # fmt: skip
        self.journal.append(
            "funding",
            {"funding_id": payment.funding_id, "symbol": payment.symbol,
             "amount": payment.amount, "currency": payment.currency, "time": payment.timestamp,
             "source": source},
        )  # fmt: skip
        _log.info("funding_booked", symbol=payment.symbol, amount=payment.amount, source=source)

    def book_clearance(self, entry: VenueFunding) -> None:
        """Book once what a liquidation cleared from the wallet (``INSURANCE_CLEAR``).

        Args:
            entry: The venue's income entry (amount > 0 credited, < 0 debited).
        """
        if entry.funding_id in self.funding_ledger.ids or entry.symbol not in self._markets:
            return
        self.funding_ledger.ids.add(entry.funding_id)
        self.futures.cash[self.currency] = self.futures.balance + entry.amount
        self.journal.append(
            "insurance_clear",
            {"funding_id": entry.funding_id, "symbol": entry.symbol, "amount": entry.amount,
             "currency": entry.currency, "time": entry.timestamp},
        )  # fmt: skip
        _log.warning("wallet_cleared_by_liquidation", symbol=entry.symbol, amount=entry.amount)

    # -- forced closes -----------------------------------------------------------------------

    def adopt_trade(self, trade: VenueTrade) -> bool | None:
        """Book the venue's liquidation of a position; hold other unknown trades for a lookup.

        Args:
            trade: A trade no journaled order owns.

        Returns:
            ``True`` if booked as a forced close, ``False`` while its order is being looked
            up, ``None`` for a stranger's trade.
        """
        if trade.symbol not in self._markets:
            return None
        if trade.exchange_order_id not in self._forced:
            self._forced[trade.exchange_order_id] = None
            self._pending_lookups.add((trade.exchange_order_id, trade.symbol))
            return False
        if (trade.exchange_order_id, trade.symbol) in self._pending_lookups:
            return False
        forced = self._forced[trade.exchange_order_id]
        if forced is None:
            return None
        self._book_forced(forced, trade)
        return True

    def take_changes(self, changes: Sequence[VenueBalanceChange]) -> None:
        """Book pushed wallet changes: funding now; others at the next check (a poll soon).

        Args:
            changes: What the venue pushed.
        """
        for change in changes:
            if change.reason == "FUNDING_FEE":
                self.book_pushed_funding(change)
            else:  # INSURANCE_CLEAR and the like: the income history books them, with ids
                self.sync.balances_behind = True
                self.sync.poke()

    def take_fills(self, fills: Sequence[tuple[VenueOrder, VenueTrade]]) -> None:
        """Book the venue's forced closes among pushed fills, once (by trade id).

        Fills of the run's own orders are the trade stream's and the tracker's to book.

        Args:
            fills: Pushed orders with their latest fill.
        """
        for order, trade in fills:
            if not order.client_id.startswith(FORCED_CLOSE_PREFIXES):
                continue
            self.forced_pushes += 1
            if trade.symbol not in self._markets or trade.trade_id in self.sync.trade_ids:
                self.sync.emit()  # read, booked already (by a poll): wake whoever waits
                continue
            self._forced[trade.exchange_order_id] = order
            self._pending_lookups.discard((trade.exchange_order_id, trade.symbol))
            self._book_forced(order, trade)
            self.sync.poke()  # settle the account from the venue soon

    @property
    def lookups_pending(self) -> bool:
        """Whether trades of no journaled order wait for their order to be looked up."""
        return bool(self._pending_lookups)

    async def look_up_forced(self) -> None:
        """Look the orders of held unknown trades up on the venue (forced close or not)."""
        for exchange_id, symbol in sorted(self._pending_lookups):
            order = await self.perp_venue.fetch_order_by_id(exchange_id, symbol)
            forced = order is not None and order.client_id.startswith(FORCED_CLOSE_PREFIXES)
            self._forced[exchange_id] = order if forced else None
            self._pending_lookups.discard((exchange_id, symbol))

    def _book_forced(self, order: VenueOrder, trade: VenueTrade) -> None:
        fill = Fill(
            order.client_id, trade.symbol, trade.side, trade.price, trade.amount, trade.fee,
            self.currency, trade.timestamp, trade.is_maker,
        )  # fmt: skip
        sync = self.sync
        sync.trade_ids.add(trade.trade_id)
        sync.balances_behind = True
        self.futures.apply_fill(fill)
        self.futures.liquidations += 1
        self.journal.append(
            "liquidation",
            {"trade_id": trade.trade_id, "client_id": order.client_id, "symbol": trade.symbol,
             "side": trade.side.value, "price": trade.price, "amount": trade.amount,
             "fee": trade.fee, "time": trade.timestamp},
        )  # fmt: skip
        _log.warning(
            "position_liquidated",
            symbol=trade.symbol,
            client_id=order.client_id,
            price=trade.price,
            amount=trade.amount,
        )
        sync.emit(fill)
