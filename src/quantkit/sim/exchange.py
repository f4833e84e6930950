"""The simulated exchange: accepts orders, fills them bar by bar, books the account.

Pure and synchronous; used by the backtest broker and the paper broker alike.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping

from quantkit.domain.client_ids import format_client_id
from quantkit.domain.fill import Fill
from quantkit.domain.market import Market, unknown_symbol
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, new_order
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError, OrderError
from quantkit.sim.admission import admission_problem
from quantkit.sim.book import Book
from quantkit.sim.liquidation import Liquidation, liquidate, zero_equity_price
from quantkit.sim.rules import FillRules
from quantkit.sim.working import Working

__all__ = ["SimulatedExchange", "amend_problem", "check_amend_request"]

_Signature = tuple[tuple[str, float, float], ...]

# Enum members as module constants: ``OrderStatus.OPEN`` is a slow class-attribute lookup.
_OPEN, _REJECTED = OrderStatus.OPEN, OrderStatus.REJECTED
_INF = math.inf


def check_amend_request(order: Order, request: OrderRequest) -> None:
    """Check that ``request`` changes nothing of ``order`` but its price or amount.

    Args:
        order: The working order.
        request: The amended request.

    Raises:
        OrderError: If the symbol, side or type differ (a different order, not an amend).
    """
    old = order.request
    if (request.symbol, request.side, request.type) != (old.symbol, old.side, old.type):
        raise OrderError(
            f"amend of {order.client_id}: only the price and amount can change, not the "
            f"symbol, side or type ({old.symbol} {old.side} {old.type} -> "
            f"{request.symbol} {request.side} {request.type})"
        )


def amend_problem(order: Order, request: OrderRequest) -> str:
    """Why an amend of ``order`` to ``request`` must be refused, or ``""`` (every broker).

    An amend applies to a working limit, stop or stop-limit order, and its new amount (the
    order's total, fills included) must stay above what already filled.

    Args:
        order: The order to amend.
        request: The amended request.

    Returns:
        The reason for refusing, or ``""``.
    """
    where = f"amend of {order.client_id} refused"
    if not order.is_active:
        return f"{where}: the order is {order.status}"
    if order.request.type is OrderType.MARKET:
        return f"{where}: only limit and stop orders can be amended"
    amount = request.amount
    if amount is not None and amount <= order.filled * (1 + 1e-12):
        return (
            f"{where}: amount {amount:g} is not above the {order.filled:g} already filled "
            "(cancel the order instead)"
        )
    return ""


class SimulatedExchange:
    """An exchange simulated over bars.

    Orders submitted while bar ``t`` is the latest closed bar are matched from bar ``t+1`` on.
    Results (order status changes and fills) are appended to `events` for the caller to
    deliver; every fill is also kept in `fills`. A margin account whose equity would cross zero
    inside a bar is liquidated (see `quantkit.sim.liquidation`): `liquidation` records it, and
    every later order is rejected.

    Args:
        markets: The tradable markets by symbol.
        portfolio: The account to book fills into.
        rules: Fill, fee and slippage rules.
        id_prefix: Prefix of generated client order ids (``"<prefix>-000001"``...).

    Raises:
        ConfigError: If a market is not quoted in the portfolio's currency, or fees are
            charged in the asset received on a margin account.
    """

    def __init__(
        self,
        markets: Mapping[str, Market],
        portfolio: Portfolio,
        rules: FillRules | None = None,
        *,
        id_prefix: str = "qk",
    ) -> None:
        for market in markets.values():
            perpetual = market.perpetual
            if perpetual is not None and perpetual.inverse:  # coin-margined: settled in the coin
                if perpetual.settle != portfolio.currency:
                    raise ConfigError(
                        f"market {market.symbol} is an inverse perpetual settled in "
                        f"{perpetual.settle} but the account is in {portfolio.currency}; a "
                        f"coin-margined run's account currency is its settle coin "
                        f"(currency={perpetual.settle!r})"
                    )
            elif market.quote != portfolio.currency:
                raise ConfigError(
                    f"market {market.symbol} is quoted in {market.quote} but the account is in "
                    f"{portfolio.currency}; all markets of a run must be quoted in the account "
                    "currency"
                )
        self.rules = rules or FillRules()
        if self.rules.fees.charged_in == "received" and not portfolio.margin.is_spot:
            raise ConfigError(
                "fees charged in the asset received (charged_in='received') are a spot "
                "account's rule; a margin account (shorting or leverage) pays its fees in the "
                "quote currency: use charged_in='quote'"
            )
        self.markets = dict(markets)
        self.portfolio = portfolio
        portfolio.set_markets(self.markets.values())  # dust thresholds, as live
        self.id_prefix = id_prefix
        self.books = {s: Book(s, portfolio, self.rules) for s in self.markets}
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.events: list[Order | Fill] = []
        self.ambiguous_orders: set[str] = set()
        self.liquidation: Liquidation | None = None
        self._spot = portfolio.margin.is_spot  # a run's margin rules never change
        self._seq = 0

    # -- commands ------------------------------------------------------------------------------

    def submit(
        self,
        request: OrderRequest,
        now: int,
        reference_price: float,
        *,
        client_id: str | None = None,
        order: Order | None = None,
    ) -> Order:
        """Accept or reject an order request.

        Args:
            request: The validated request.
            now: Current time (the latest closed bar's close time), ns.
            reference_price: Latest price of the symbol, for minimum-notional checks of market
                orders (``nan`` when unknown).
            client_id: The order's id (default: generated, ``"<prefix>-<sequence>"``).
            order: The ``NEW`` order handle to use, when the caller made it before the order
                reached the exchange (paper trading's latency); it must carry ``client_id``.

        Returns:
            The order, ``OPEN`` if accepted, ``REJECTED`` with a reason otherwise.

        Raises:
            OrderError: If the symbol is not a market of this exchange or the client id is taken.
        """
        market = self.markets.get(request.symbol)
        if market is None:
            raise unknown_symbol(request.symbol, self.markets)
        self._seq += 1
        client_id = client_id or format_client_id(self.id_prefix, self._seq)
        orders = self.orders
        if client_id in orders:
            raise OrderError(f"client id {client_id!r} is already in use")
        made_here = order is None
        if order is None:
            order = new_order(client_id, request, now)
        orders[client_id] = order
        working = Working(order, market, self._seq)
        liquidated = self.liquidation
        reason = (
            f"the account was liquidated ({liquidated.reason}); no new orders"
            if liquidated is not None
            else admission_problem(working, self.portfolio, reference_price)
        )
        if reason:
            order.transition(_REJECTED, now, reason)
        elif made_here:  # NEW -> OPEN, always allowed: what `transition` does, without the check
            order.status = _OPEN
            order.updated_at = now
            order.history.append((now, _OPEN))
            self.books[request.symbol].working.append(working)
        else:
            order.transition(_OPEN, now)
            self.books[request.symbol].working.append(working)
        self.events.append(order)
        return order

    def cancel(self, client_id: str, now: int, reason: str = "canceled by the strategy") -> bool:
        """Cancel a working order.

        Args:
            client_id: The order's client id.
            now: Current time, ns.
            reason: Why, recorded on the order.

        Returns:
            True if the order was working and is now canceled, False if it had already ended.

        Raises:
            OrderError: If no order has this client id.
        """
        order = self.orders.get(client_id)
        if order is None:
            raise OrderError(f"cancel: no order with client id {client_id!r}")
        if not order.is_active:
            return False
        book = self.books[order.symbol]
        for w in book.working:
            if w.order is order:
                book.working.remove(w)
                break
        order.transition(OrderStatus.CANCELED, now, reason)
        self.events.append(order)
        return True

    def amend(
        self,
        client_id: str,
        request: OrderRequest,
        now: int,
        reference_price: float,
        *,
        refusal_id: str | None = None,
    ) -> Order:
        """Change a working order's price or amount in place, from the next bar on.

        The amended order is checked like a new one (precision, minimums, reduce-only) and
        keeps its handle, client id, fills and sequence; an order the price gaps through at the
        next open fills there, as a new order would (a post-only one expires instead).

        Args:
            client_id: The order's client id.
            request: The amended request (same symbol, side and type; ``amount`` is the
                order's new total, fills included).
            now: Current time, ns.
            reference_price: Latest price of the symbol.
            refusal_id: Client id of the ``REJECTED`` order that records a refused amend
                (default: generated).

        Returns:
            The amended order (the same handle), or a new ``REJECTED`` order carrying
            ``request`` and the reason; the original order is then unchanged.

        Raises:
            OrderError: If no order has this client id, or ``request`` changes more than the
                price and amount.
        """
        order = self.orders.get(client_id)
        if order is None:
            raise OrderError(f"amend: no order with client id {client_id!r}")
        check_amend_request(order, request)
        working = next((w for w in self.books[order.symbol].working if w.order is order), None)
        reason = amend_problem(order, request)
        if not reason and working is None:
            reason = f"amend of {client_id} refused: the order is not working"
        trial = Order(client_id, request, now)
        if not reason and working is not None:
            trial_working = Working(trial, working.market, working.seq)
            reason = admission_problem(trial_working, self.portfolio, reference_price)
            reason = reason or amend_problem(
                order, dataclasses.replace(request, amount=trial.amount)
            )
        if reason or working is None:
            self._seq += 1
            refusal_id = refusal_id or format_client_id(self.id_prefix, self._seq)
            refused = Order.rejected(refusal_id, request, now, reason)
            self.orders[refused.client_id] = refused
            self.events.append(refused)
            return refused
        order.request = request
        order.amount = trial.amount
        order.updated_at = now
        working.limit, working.stop = trial_working.limit, trial_working.stop
        working.reduce_only = request.reduce_only
        working.fresh = True  # checked at the next open like a new order (post-only, R7)
        self.events.append(order)
        return order

    def has_working(self, symbol: str) -> bool:
        """Whether ``symbol`` has orders that may fill on its next bar."""
        return bool(self.books[symbol].working)

    def needs_bar(self, symbol: str) -> bool:
        """Whether ``symbol``'s next bar must be processed: orders work, or margin is at risk.

        A margin account holding any position is watched on every bar of every symbol (its
        equity depends on all of them) until it is liquidated.
        """
        book = self.books[symbol]
        if book.working or book.trails:
            return True
        portfolio = self.portfolio
        if self.liquidation is not None or portfolio.margin.is_spot:
            return False
        return any(pos.amount for pos in portfolio.positions.values())

    # -- matching ------------------------------------------------------------------------------

    def process_bar(
        self,
        symbol: str,
        open_time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: float,
    ) -> None:
        """Match ``symbol``'s working orders against one new bar.

        Args:
            symbol: The bar's symbol.
            open_time: The bar's open time, ns (the time stamped on its fills).
            open_: Open price.
            high: High price.
            low: Low price.
            close: Close price.
            volume: Volume.
        """
        book = self.books[symbol]
        self.portfolio.last_price[symbol] = open_
        # `book.begin_bar(open_time, high, low, volume)`, inline: a call less per matched bar
        book.fills = []
        book.events = []
        book.bar_time = open_time
        book.high, book.low, book.volume = high, low, volume
        share = book.rules.participation
        book.capacity = _INF if share is None else share * volume
        book.at_open(open_)
        if book.working and book.has_levels_inside():
            self._intrabar(book, open_, high, low, close)
        self.portfolio.last_price[symbol] = close  # a new dict after `_adopt`: read it again
        if book.trails:
            book.end_bar()
        events = book.events
        if events:  # most bars of a working order change nothing
            self.fills.extend(book.fills)
            orders = self.orders
            for event in events:
                if isinstance(event, Order) and event.client_id not in orders:
                    orders[event.client_id] = event  # bracket exits created in this bar
            self.events.extend(events)
        if self.liquidation is None and not self._spot:
            self._check_margin(symbol, open_time, open_, high, low)

    def _check_margin(self, symbol: str, time: int, open_: float, high: float, low: float) -> None:
        """Liquidate the account if its equity reached zero inside this bar."""
        price = zero_equity_price(self.portfolio, symbol, open_, high, low)
        if price is None:
            return
        for book in self.books.values():
            for w in list(book.working):
                w.order.transition(OrderStatus.CANCELED, time, "canceled: account liquidated")
                self.events.append(w.order)
            book.working.clear()
        liquidation, events = liquidate(
            self.portfolio, symbol, price, time, self.id_prefix, self.portfolio.currency
        )
        self.liquidation = liquidation
        for event in events:
            if isinstance(event, Order):
                self.orders[event.client_id] = event
            else:
                self.fills.append(event)
        self.events.extend(events)

    def _intrabar(self, book: Book, open_: float, high: float, low: float, close: float) -> None:
        """Run both intrabar paths on copies; keep one, flag what depended on the choice."""
        memo: dict[int, object] = {id(book.rules): book.rules}
        for w in book.working:
            memo[id(w.market)] = w.market
        for slot in book.trails.values():
            memo[id(slot.market)] = slot.market
        settled = len(book.fills)
        up = copy.deepcopy(book, memo.copy())
        up.run_path((open_, high, low, close))
        down = copy.deepcopy(book, memo.copy())
        down.run_path((open_, low, high, close))
        sig_up, sig_down = _signature(up, settled), _signature(down, settled)
        if sig_up == sig_down:
            self._adopt(book, up, settled, frozenset())
            return
        if self.rules.intrabar == "nearest":
            chosen = up if high - open_ <= open_ - low else down
        else:
            up.portfolio.last_price[book.symbol] = close
            down.portfolio.last_price[book.symbol] = close
            eq_up, eq_down = up.portfolio.equity(), down.portfolio.equity()
            worse_is_up = (eq_up, 0) <= (eq_down, 1)
            chosen = up if worse_is_up == (self.rules.intrabar == "adverse") else down
        other = down if chosen is up else up
        differing = frozenset(_fill_keys(chosen, settled)) ^ frozenset(_fill_keys(other, settled))
        self.ambiguous_orders.update(str(key[0]) for key in differing)
        self._adopt(book, chosen, settled, differing)

    def _adopt(
        self, book: Book, trial: Book, settled: int, differing: frozenset[tuple[str, float, float]]
    ) -> None:
        """Make ``trial``'s state the real state, keeping the strategy's order objects."""
        originals: dict[str, Order] = {w.order.client_id: w.order for w in book.working}
        for event in book.events:
            if isinstance(event, Order):
                originals.setdefault(event.client_id, event)

        def real(order: Order) -> Order:
            original = originals.get(order.client_id)
            if original is None:
                self.orders[order.client_id] = order
                originals[order.client_id] = order
                return order
            if original is not order:
                for name in Order.__slots__:
                    setattr(original, name, getattr(order, name))
            return original

        for w in trial.working:
            w.order = real(w.order)
        fills: list[Fill] = []
        for fill in trial.fills[settled:]:
            key = (fill.client_id, fill.price, fill.amount)
            fills.append(fill if key not in differing else _ambiguous(fill))
        fill_map = dict(zip(trial.fills[settled:], fills, strict=True))
        events: list[Order | Fill] = []
        for event in trial.events:
            events.append(real(event) if isinstance(event, Order) else fill_map.get(event, event))
        book.working[:] = trial.working
        book.trails.clear()  # in place: the brokers hold the dict itself
        book.trails.update(trial.trails)
        book.fills = book.fills[:settled] + fills
        book.events = events
        for name in ("cash", "positions", "last_price", "fees_paid"):
            setattr(self.portfolio, name, getattr(trial.portfolio, name))
        for other in self.books.values():
            other.portfolio = self.portfolio
        book.portfolio = self.portfolio


def _fill_keys(book: Book, settled: int) -> list[tuple[str, float, float]]:
    return [(f.client_id, f.price, f.amount) for f in book.fills[settled:]]


def _signature(book: Book, settled: int) -> tuple[_Signature, tuple[tuple[str, str, bool], ...]]:
    states = tuple((w.order.client_id, str(w.order.status), w.triggered) for w in book.working)
    return tuple(_fill_keys(book, settled)), states


def _ambiguous(fill: Fill) -> Fill:
    return dataclasses.replace(fill, ambiguous=True)
