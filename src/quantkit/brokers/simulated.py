"""The simulating brokers' shared core: `quantkit.sim`'s exchange behind the Broker interface."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sized
from typing import TYPE_CHECKING, Unpack

from quantkit.brokers.base import Broker, Clock
from quantkit.brokers.perpetual_setup import check_leverage, futures_account
from quantkit.brokers.settings import SimOptions, SimSettings
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.leverage_change import apply_leverage, leverage_refusal
from quantkit.domain.market import Market, unknown_symbol
from quantkit.domain.order import Order, OrderRequest
from quantkit.domain.portfolio import MarginConfig, Portfolio
from quantkit.errors import ConfigError, ExchangeError
from quantkit.sim.exchange import SimulatedExchange
from quantkit.sim.perpetual import PerpetualExchange
from quantkit.sim.rules import FillRules

if TYPE_CHECKING:
    from quantkit.sim.book import Book

__all__ = ["SimulatedBroker"]


class SimulatedBroker(Broker):
    """A broker whose exchange is simulated by `quantkit.sim` (the backtest and paper brokers).

    One implementation of matching, fees, slippage and accounting serves both modes; the
    subclasses differ only in where the bars come from.

    Args:
        settings: The account and its fill rules (default: `SimSettings()`).
        **options: Any `SimSettings` field by keyword (``cash=5_000``), overriding
            ``settings``.

    Raises:
        ConfigError: If a setting is invalid.
    """

    def __init__(self, settings: SimSettings | None = None, **options: Unpack[SimOptions]) -> None:
        if settings is not None and not isinstance(settings, SimSettings):
            raise ConfigError(
                f"{type(self).__name__}: settings must be a SimSettings, got {settings!r:.60}; "
                "give other values by keyword (cash=...)"
            )
        settings = (settings or SimSettings()).with_options(options)
        cash = settings.cash
        if isinstance(cash, bool) or not math.isfinite(cash) or cash < 0:
            raise ConfigError(
                f"{type(self).__name__}: cash must be a finite number >= 0, got {cash!r}"
            )
        participation, intrabar = settings.participation, settings.intrabar
        rules = FillRules(participation=participation, intrabar=intrabar)
        fees = settings.fee_model()
        if fees is not None:
            rules = FillRules(fees, rules.slippage, participation, intrabar)
        if settings.slippage is not None:
            rules = FillRules(rules.fees, settings.slippage, participation, intrabar)
        self.settings = settings
        self.rules = rules
        currency = settings.currency
        self.currency = currency
        self.initial_cash = float(cash)
        self._markets = dict(settings.markets or {})
        margin = MarginConfig(settings.allow_short, settings.leverage)
        self._portfolio = futures_account(settings, cash) or Portfolio(
            currency, {currency: float(cash)}, margin
        )
        self._exchange: SimulatedExchange | None = None
        self.events = []

    # -- setup ---------------------------------------------------------------------------------

    def prepare(self, history: Mapping[str, BarSeries], clock: Clock) -> None:
        """Build the simulated exchange for the run's symbols.

        Args:
            history: The bars known at the start, by symbol (their symbols are the markets).
            clock: The engine's clock.

        Raises:
            ConfigError: If called twice, or a market is not quoted in the account currency.
        """
        if self._exchange is not None:
            raise ConfigError(f"{type(self).__name__}: a broker serves one run; create a new one")
        markets = {s: self._markets.get(s) or Market.from_symbol(s) for s in history}
        self._exchange = self._new_exchange(markets)
        self.events = self._exchange.events
        self._clock = clock

    def _new_exchange(self, markets: dict[str, Market]) -> SimulatedExchange:
        portfolio = self._portfolio
        if isinstance(portfolio, FuturesPortfolio):  # perpetual markets: funding, liquidation
            funding = self.settings.funding
            return PerpetualExchange(markets, portfolio, self.rules, funding=funding)
        return SimulatedExchange(markets, portfolio, self.rules)

    def set_leverage(self, symbol: str, leverage: float) -> None:
        """Set the leverage of a perpetual symbol (Binance's ``POST /fapi/v1/leverage``).

        With a position open the venue's rules apply (`quantkit.domain.leverage_change`): the
        position's bracket must allow the new leverage, an isolated position's leverage may
        only rise (its isolated wallet stays as it is), and lowering a cross position's needs
        the extra initial margin available. Working orders are admitted at their fill with the
        leverage then in force.

        Args:
            symbol: A perpetual market of the run.
            leverage: From 1 to the symbol's first bracket's maximum.

        Raises:
            ConfigError: If the symbol is not a perpetual market or the leverage is out of
                range.
            ExchangeError: If the venue would refuse the change with the position held
                (``reason="leverage_refused"``; the message names Binance's code).
        """
        portfolio = self._portfolio
        spec = portfolio.specs.get(symbol) if isinstance(portfolio, FuturesPortfolio) else None
        if spec is None or not isinstance(portfolio, FuturesPortfolio):
            raise ConfigError(f"set_leverage: {symbol!r} is not a perpetual market of this broker")
        value = check_leverage(symbol, spec, leverage)
        refusal = leverage_refusal(portfolio, symbol, value)
        if refusal:
            raise ExchangeError(f"set_leverage: {refusal}", reason="leverage_refused")
        apply_leverage(portfolio, symbol, value)

    @property
    def exchange(self) -> SimulatedExchange:
        """The simulated exchange (after `prepare`).

        Raises:
            ConfigError: If the broker has not been prepared for a run.
        """
        if self._exchange is None:
            raise ConfigError(f"{type(self).__name__}: not prepared; run it through an Engine")
        return self._exchange

    # -- Broker --------------------------------------------------------------------------------

    @property
    def portfolio(self) -> Portfolio:
        """The simulated account."""
        return self._portfolio

    def market(self, symbol: str) -> Market:
        """The market of ``symbol``.

        Args:
            symbol: Market symbol.

        Returns:
            The market.

        Raises:
            OrderError: If the symbol is not part of the run.
        """
        markets = (self._exchange or self.exchange).markets  # the property raises if unprepared
        market = markets.get(symbol)
        if market is None:
            raise unknown_symbol(symbol, markets)
        return market

    def submit(self, request: OrderRequest, client_id: str, reference_price: float) -> Order:
        """Submit to the simulated exchange; matching starts with the next bar.

        Args:
            request: The validated request.
            client_id: Identifier chosen by the engine.
            reference_price: Latest close of the symbol.

        Returns:
            The order handle.
        """
        exchange = self._exchange or self.exchange  # the property raises if not prepared
        return exchange.submit(request, self._clock.now, reference_price, client_id=client_id)

    def cancel(self, order: Order) -> None:
        """Cancel a working order at once.

        Args:
            order: The order handle.
        """
        self._cancel(order, "canceled by the strategy")

    def amend(
        self, order: Order, request: OrderRequest, client_id: str, reference_price: float
    ) -> Order:
        """Amend a working order in place; the new price and amount apply from the next bar.

        Args:
            order: The working order.
            request: The amended request (``amount`` is the new total, fills included).
            client_id: Client id of the ``REJECTED`` order that records a refused amend.
            reference_price: Latest close of the symbol.

        Returns:
            ``order`` itself, amended, or a ``REJECTED`` order with the reason.

        Raises:
            OrderError: If ``request`` changes more than the price and amount.
        """
        return self.exchange.amend(
            order.client_id, request, self._clock.now, reference_price, refusal_id=client_id
        )

    async def ashutdown(self, *, cancel_open: bool) -> None:
        """Cancel the working orders if asked (live and paper runs).

        Args:
            cancel_open: Whether to cancel the orders still working.
        """
        if cancel_open:
            for order in self.open_orders():
                self._cancel(order, "canceled at shutdown")

    def _cancel(self, order: Order, reason: str) -> None:
        self.exchange.cancel(order.client_id, self._clock.now, reason)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders, oldest first.

        Args:
            symbol: Market symbol, or ``None`` for all.

        Returns:
            The orders.
        """
        books = self.exchange.books
        chosen = [books[symbol]] if symbol is not None else list(books.values())
        orders = [w for book in chosen for w in book.working]
        return [w.order for w in sorted(orders, key=lambda w: w.seq)]

    def working(self, symbol: str) -> Sized:
        """Non-empty while the symbol's bars must be matched by this broker.

        On a cash account that is while orders work (the live list of them); on a margin
        account also while any position is open, so that a bar that would take equity below
        zero liquidates the account (see `quantkit.sim.liquidation`).

        Args:
            symbol: Market symbol.

        Returns:
            A live container to test for emptiness.
        """
        exchange = self.exchange
        if exchange.portfolio.margin.is_spot:
            return _BookActive(exchange.books[symbol])
        return _NeedsBar(exchange, symbol)

    @property
    def fills(self) -> list[Fill]:
        """Every fill of the run, in order."""
        return self.exchange.fills

    @property
    def ambiguous_orders(self) -> frozenset[str]:
        """Client ids of orders whose fills rested on an intrabar-ordering assumption."""
        return frozenset(self.exchange.ambiguous_orders)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(cash={self.initial_cash:g}, currency={self.currency!r}, "
            f"rules={self.rules!r})"
        )


class _BookActive:
    """A live container whose length is non-zero while orders work or a trailing stop follows.

    ``parts`` are the book's own list of working orders and dict of trailing stops (updated in
    place, never replaced), for a loop that tests them directly (see
    `quantkit.engine.step.working_parts`).
    """

    __slots__ = ("_trails", "_working", "parts")

    def __init__(self, book: Book) -> None:
        self._working = book.working  # the list object itself: updated in place
        self._trails = book.trails
        self.parts: tuple[Sized, Sized] = (book.working, book.trails)

    def __len__(self) -> int:
        return len(self._working) or len(self._trails)


class _NeedsBar:
    """A live container whose length is 1 while the exchange needs the symbol's next bar."""

    __slots__ = ("_exchange", "_symbol")

    def __init__(self, exchange: SimulatedExchange, symbol: str) -> None:
        self._exchange = exchange
        self._symbol = symbol

    def __len__(self) -> int:
        return int(self._exchange.needs_bar(self._symbol))
