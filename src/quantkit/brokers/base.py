"""The Broker interface: one for backtest, paper and live trading."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sized
from typing import TYPE_CHECKING, Any, Protocol

from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.sim.exchange import amend_problem, check_amend_request

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from quantkit.algos.context import ParentJournal

__all__ = ["Broker", "Clock"]


class Clock(Protocol):
    """The engine's notion of now."""

    @property
    def now(self) -> int:
        """Close time of the latest closed bar, ns since the epoch."""
        ...


class Broker(ABC):
    """Where orders go: one interface for backtest, paper and live trading.

    Commands are synchronous and return at once; results come back as events that the broker
    appends to `events` (order status changes and fills), which the engine empties and
    delivers to the strategy.

    Attributes:
        events: Order updates and fills not yet delivered, oldest first.
    """

    events: list[Order | Fill]

    def prepare(self, history: Mapping[str, BarSeries], clock: Clock) -> None:
        """Get ready for a run over ``history``'s symbols (called once, before the first bar).

        Args:
            history: The bars the run will see, by symbol (backtests match against them).
            clock: The engine's clock.
        """

    @property
    @abstractmethod
    def portfolio(self) -> Portfolio:
        """The account as the broker knows it."""

    @abstractmethod
    def market(self, symbol: str) -> Market:
        """The market description of ``symbol``.

        Args:
            symbol: Market symbol.

        Returns:
            The market.

        Raises:
            OrderError: If the symbol is not tradable here.
        """

    @abstractmethod
    def submit(self, request: OrderRequest, client_id: str, reference_price: float) -> Order:
        """Send an order.

        Args:
            request: The validated request (after risk).
            client_id: Identifier chosen by the engine, unique in the run.
            reference_price: Latest price of the symbol, for local checks.

        Returns:
            The order handle: accepted (``OPEN``) or ``REJECTED`` with a reason.
        """

    @abstractmethod
    def cancel(self, order: Order) -> None:
        """Ask for an order to be canceled; the result arrives as an event.

        Args:
            order: The order handle.
        """

    def amend(
        self, order: Order, request: OrderRequest, client_id: str, reference_price: float
    ) -> Order:
        """Change a working order's price or amount; the outcome arrives as events.

        This default cancels ``order`` and submits the rest (``request.amount`` minus what
        already filled) as a new order under ``client_id``. Brokers that can amend in place
        (the simulated ones) or through the venue (the live one) override it.

        Args:
            order: The working order.
            request: The amended request: same symbol, side and type; ``amount`` is the new
                total, fills included.
            client_id: A fresh client id, for a replacement order or for the ``REJECTED``
                order that records a refused amend.
            reference_price: Latest price of the symbol.

        Returns:
            The order that now works (``order`` itself when amended in place, else the
            replacement), or a ``REJECTED`` order with the reason; ``order`` is then unchanged.

        Raises:
            OrderError: If ``request`` changes more than the price and amount.
        """
        check_amend_request(order, request)
        reason = amend_problem(order, request)
        if reason:
            refused = Order.rejected(client_id, request, order.updated_at, reason)
            self.events.append(refused)
            return refused
        rest = request
        if request.amount is not None and order.filled:
            rest = dataclasses.replace(request, amount=request.amount - order.filled)
        self.cancel(order)
        return self.submit(rest, client_id, reference_price)

    @abstractmethod
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders.

        Args:
            symbol: Market symbol, or ``None`` for all.

        Returns:
            The orders, oldest first.
        """

    @property
    def left_on_venue(self) -> tuple[str, ...]:
        """After `ashutdown`: client ids of orders still working on a venue (live brokers).

        Simulating brokers leave nothing on any venue: ``()``.
        """
        return ()

    def working(self, symbol: str) -> Sized:
        """Return a live container that is non-empty while ``symbol`` needs bar matching.

        The engine calls `on_bar` only while it is non-empty, so a bar where no order
        works costs nothing.

        Args:
            symbol: Market symbol.

        Returns:
            The container (an empty tuple for brokers that do not match orders themselves).
        """
        return ()

    def on_bar(self, symbol: str, index: int) -> None:
        """Match working orders against bar ``index`` of ``symbol`` (simulating brokers).

        Args:
            symbol: Market symbol.
            index: Position of the new bar in the history given to `prepare`.
        """

    def on_bar_closed(self, bar: Bar) -> None:
        """Match working orders against a bar that just closed (live and paper runs).

        The live engine calls it for each new bar of a symbol while `working` is non-empty,
        before the strategy sees the bar, the way the backtest loop calls `on_bar`.

        Args:
            bar: The new closed bar.
        """

    async def astart(self, tasks: TaskGroup) -> None:
        """Connect and start background work (live runs), before the first bar.

        Brokers that talk to a venue load its markets, reconcile the account and start their
        order-tracking tasks in ``tasks`` here; simulating brokers need nothing.

        Args:
            tasks: The live engine's task group; background tasks run in it.
        """

    async def ashutdown(self, *, cancel_open: bool) -> None:
        """Stop sending orders and settle before the live engine exits.

        Args:
            cancel_open: Whether to cancel the orders still working.
        """
        if cancel_open:
            for order in self.open_orders():
                self.cancel(order)

    async def events_ready(self) -> None:
        """Wait until background work added events to `events` (live brokers).

        Simulating brokers add events only inside the engine's own calls, so by default this
        waits forever.
        """
        import anyio  # noqa: PLC0415 - the backtest path never needs the async runtime

        await anyio.sleep_forever()

    def resume_state(self) -> Mapping[str, Any]:
        """The state a restarted run resumes from (live brokers read it from their journal).

        Returns:
            ``seq`` (orders sent so far), ``bars`` (last bar open time per symbol, ns) and
            ``strategy`` (persistent attributes); empty when there is nothing to resume.
        """
        return {}

    def parent_journal(self) -> ParentJournal | None:
        """Where parent orders are kept so a restart resumes them (live brokers, once started).

        Returns:
            The journal, or ``None`` (simulating brokers: a run is not resumed).
        """
        return None

    def save_state(self, data: Mapping[str, Any]) -> None:
        """Keep the run's resumable state durably (live brokers journal it).

        Args:
            data: JSON-able state, see `resume_state`.
        """

    @property
    def ambiguous_orders(self) -> frozenset[str]:
        """Client ids of orders whose fills rested on an intrabar-ordering assumption."""
        return frozenset()
