"""Several venues in one run: one simulated broker per venue behind the one Broker interface.

Each venue keeps its own account (cash, positions, fees paid), markets (precision, limits,
fees) and bars; every symbol of the run is venue-qualified (``"binance:BTC/USDT"``, see
`quantkit.domain.venue_symbol`). The run's portfolio is the total: every fill a venue books
is booked into it too, so cash and positions add up across venues by construction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sized

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker, Clock
from quantkit.brokers.simulated import SimulatedBroker
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.domain.venue_symbol import qualify, split_venue
from quantkit.errors import ConfigError, UnknownSymbolError

__all__ = ["VenuePortfolio", "Venues"]


@dataclasses.dataclass(slots=True)
class VenuePortfolio(Portfolio):
    """One venue's account, which also books each of its fills into the run's total.

    Attributes:
        total: The run's total account (``None``: nothing to forward to).
    """

    total: Portfolio | None = None

    def apply_fill(self, fill: Fill) -> float:
        """Book ``fill`` here and into the total account.

        Args:
            fill: The execution to book.

        Returns:
            The PnL the fill realised on this venue, before fees.
        """
        if self.total is not None:
            self.total.apply_fill(fill)
        return Portfolio.apply_fill(self, fill)


class Venues(Broker):
    """Several simulated venues (backtest brokers) as one broker.

    The run's series are keyed ``"venue:SYMBOL"``; each venue's broker matches, charges fees
    and checks balances with its own settings and account. Markets given to a venue's
    `SimSettings` under the bare symbol (``markets={"BTC/USDT": Market(...)}``) apply to its
    qualified symbol.

    Args:
        brokers: Broker by venue name (letters, digits, ``_``, ``-``); each a
            `BacktestBroker` on a cash account, all in one currency.

    Raises:
        ConfigError: If there are no venues, a name is invalid, a broker is not a
            `BacktestBroker`, is shared, trades on margin or perpetuals, or the currencies
            differ.

    Examples:
        >>> from quantkit import BacktestBroker
        >>> venues = Venues({"binance": BacktestBroker(cash=1_000), "kraken": BacktestBroker()})
        >>> venues.portfolio.balance
        101000.0
    """

    def __init__(self, brokers: Mapping[str, SimulatedBroker]) -> None:
        if not isinstance(brokers, Mapping) or not brokers:
            raise ConfigError("Venues: give at least one broker by venue name")
        seen: set[int] = set()
        for name, broker in brokers.items():
            qualify(name, "X/Y")  # checks the name
            _check_venue_broker(name, broker, seen)
        currencies = {broker.currency for broker in brokers.values()}
        if len(currencies) > 1:
            raise ConfigError(
                f"Venues: all venues must keep accounts in one currency, got {sorted(currencies)}"
            )
        self.brokers: dict[str, SimulatedBroker] = dict(brokers)
        currency = currencies.pop()
        total = Portfolio(currency, {currency: sum(b.initial_cash for b in brokers.values())})
        for broker in brokers.values():
            own = broker.portfolio
            broker._portfolio = VenuePortfolio(
                own.currency, dict(own.cash), own.margin, total=total
            )
        self._total = total
        self.events = []
        self._history: Mapping[str, BarSeries] = {}

    # -- setup ---------------------------------------------------------------------------------

    def prepare(self, history: Mapping[str, BarSeries], clock: Clock) -> None:
        """Prepare each venue's broker for its own series of the run.

        Args:
            history: The bars of the run, keyed ``"venue:SYMBOL"``.
            clock: The engine's clock.

        Raises:
            ConfigError: If a key names no venue, or a venue of this broker, or a venue has no
                series (the messages name them).
        """
        by_venue: dict[str, dict[str, BarSeries]] = {name: {} for name in self.brokers}
        for symbol, series in history.items():
            venue, _ = split_venue(symbol)
            if venue not in self.brokers:
                raise ConfigError(
                    f"Venues: series {symbol!r} names no venue of this run; key each series "
                    f"'venue:SYMBOL' with a venue of {sorted(self.brokers)}"
                )
            by_venue[venue][symbol] = series
        idle = sorted(name for name, own in by_venue.items() if not own)
        if idle:
            raise ConfigError(f"Venues: no series for venue(s) {idle}; the feed must cover each")
        for name, broker in self.brokers.items():
            broker._markets = _qualified_markets(name, broker._markets, by_venue[name])
            broker.prepare(by_venue[name], clock)
            broker.exchange.events = self.events  # one event list, in the order things happen
            broker.events = self.events
        self._total.set_markets(
            m for broker in self.brokers.values() for m in broker.exchange.markets.values()
        )
        self._history = history

    def venue_of(self, symbol: str) -> SimulatedBroker:
        """The broker of the venue that ``symbol`` names.

        Args:
            symbol: A qualified symbol of the run.

        Returns:
            The venue's broker.

        Raises:
            UnknownSymbolError: If the symbol names no venue of this run.
        """
        broker = self.brokers.get(split_venue(symbol)[0])
        if broker is None:
            raise UnknownSymbolError(
                f"symbol {symbol!r} names no venue of this run ({', '.join(sorted(self.brokers))})"
            )
        return broker

    # -- Broker --------------------------------------------------------------------------------

    @property
    def portfolio(self) -> Portfolio:
        """The total account: every venue's cash and positions together."""
        return self._total

    def market(self, symbol: str) -> Market:
        """The market of ``symbol`` on its venue.

        Args:
            symbol: A qualified symbol.

        Returns:
            The market.

        Raises:
            OrderError: If the symbol is not part of the run.
        """
        return self.venue_of(symbol).market(symbol)

    def submit(self, request: OrderRequest, client_id: str, reference_price: float) -> Order:
        """Send the order to the venue its symbol names (its balance and rules apply).

        Args:
            request: The validated request.
            client_id: Identifier chosen by the engine.
            reference_price: Latest close of the symbol.

        Returns:
            The order handle.
        """
        return self.venue_of(request.symbol).submit(request, client_id, reference_price)

    def cancel(self, order: Order) -> None:
        """Cancel a working order on its venue.

        Args:
            order: The order handle.
        """
        self.venue_of(order.symbol).cancel(order)

    def amend(
        self, order: Order, request: OrderRequest, client_id: str, reference_price: float
    ) -> Order:
        """Amend a working order on its venue.

        Args:
            order: The working order.
            request: The amended request.
            client_id: Client id of a ``REJECTED`` order recording a refusal.
            reference_price: Latest close of the symbol.

        Returns:
            The order that now works, or a ``REJECTED`` order.
        """
        return self.venue_of(order.symbol).amend(order, request, client_id, reference_price)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders of one symbol or of every venue, oldest first.

        Args:
            symbol: A qualified symbol, or ``None`` for all.

        Returns:
            The orders.
        """
        if symbol is not None:
            return self.venue_of(symbol).open_orders(symbol)
        orders = [o for broker in self.brokers.values() for o in broker.open_orders()]
        return sorted(orders, key=lambda o: (o.created_at, o.client_id))

    def working(self, symbol: str) -> Sized:
        """The symbol's venue's live "needs matching" container.

        Args:
            symbol: A qualified symbol.

        Returns:
            A live container to test for emptiness.
        """
        return self.venue_of(symbol).working(symbol)

    def on_bar(self, symbol: str, index: int) -> None:
        """Match the symbol's working orders on its venue against bar ``index``.

        Args:
            symbol: A qualified symbol.
            index: Bar position in the run's history.
        """
        self.venue_of(symbol).on_bar(symbol, index)

    @property
    def ambiguous_orders(self) -> frozenset[str]:
        """Client ids of orders whose fills rested on an intrabar-ordering assumption."""
        return frozenset().union(*(b.ambiguous_orders for b in self.brokers.values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {broker!r}" for name, broker in self.brokers.items())
        return f"Venues({{{inner}}})"


def _check_venue_broker(name: str, broker: object, seen: set[int]) -> None:
    """Refuse what a venue of a multi-venue run cannot be (yet), naming the venue."""
    if not isinstance(broker, BacktestBroker):  # paper and live: not yet
        raise ConfigError(
            f"Venues: venue {name!r} needs a BacktestBroker (several venues run in backtests "
            f"only for now), got {type(broker).__name__}"
        )
    if id(broker) in seen:
        raise ConfigError(f"Venues: venue {name!r} shares its broker with another venue")
    seen.add(id(broker))
    portfolio = broker.portfolio
    if isinstance(portfolio, FuturesPortfolio) or not portfolio.margin.is_spot:
        raise ConfigError(
            f"Venues: venue {name!r} trades on margin or perpetuals; several venues in one "
            "run support cash (spot) accounts only"
        )
    if broker._exchange is not None:
        raise ConfigError(f"Venues: venue {name!r}'s broker already served a run")


def _qualified_markets(
    venue: str, markets: Mapping[str, Market], series: Mapping[str, BarSeries]
) -> dict[str, Market]:
    """The venue's markets keyed and named by qualified symbol."""
    out: dict[str, Market] = {}
    for symbol in series:
        bare = split_venue(symbol)[1]
        market = markets.get(symbol) or markets.get(bare) or Market.from_symbol(bare)
        out[symbol] = dataclasses.replace(market, symbol=qualify(venue, bare))
    return out
