"""The paper broker: live (or replayed) bars, a virtual account, the backtest's matching rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Unpack

from quantkit.brokers.base import Clock
from quantkit.brokers.settings import SimOptions, SimSettings
from quantkit.brokers.simulated import SimulatedBroker
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.order import Order, OrderRequest, OrderStatus
from quantkit.errors import ConfigError
from quantkit.sim.exchange import amend_problem, check_amend_request
from quantkit.sim.perpetual import PerpetualExchange

__all__ = ["PaperBroker"]


class PaperBroker(SimulatedBroker):
    """Trades a virtual account against bars as they close, with the backtest's rules.

    Orders are matched by the same `quantkit.sim` exchange as in `BacktestBroker` (one
    implementation): an order sent after bar ``t`` closed is matched from bar ``t + 1`` on, at
    the same prices, fees and slippage a backtest over the same bars gives.

    ``latency`` models the time an order takes to reach the venue, in seconds of the data's
    clock. The simulator matches whole bars, so a latency shorter than a bar changes nothing
    (the order is live from the next bar, as in a backtest), and each full bar of latency
    holds the order back one more bar: with one-minute bars and ``latency=90``, an order sent
    after bar ``t`` is matched from bar ``t + 2``. Until then it is ``NEW`` and listed by
    `open_orders`; canceling it then cancels it before it reaches the venue.

    On perpetual markets, a bar whose open time has a mark bar in ``settings.marks`` (a
    replayed run) is valued, funded and liquidated at that mark, as in a backtest; other bars
    use the trade bar.

    Args:
        settings: The account and its fill rules (default: `SimSettings()`).
        latency: Seconds between sending an order and its arrival at the simulated venue.
        **options: Any `SimSettings` field by keyword (``cash=1_000``), overriding
            ``settings``.

    Raises:
        ConfigError: If a setting is invalid.

    Examples:
        >>> broker = PaperBroker(cash=1_000, currency="USDT", latency=0.05)
        >>> broker.latency, broker.portfolio.balance
        (0.05, 1000.0)
    """

    def __init__(
        self,
        settings: SimSettings | None = None,
        *,
        latency: float = 0.0,
        **options: Unpack[SimOptions],
    ) -> None:
        super().__init__(settings, **options)
        if isinstance(latency, bool) or not math.isfinite(latency) or latency < 0:
            raise ConfigError(f"PaperBroker: latency must be >= 0 seconds, got {latency!r}")
        self.latency = float(latency)
        # Orders in flight: (bars still to wait, order handle, request, reference price).
        self._in_flight: list[tuple[int, Order, OrderRequest, float]] = []
        self._timeframes: dict[str, int] = {}
        self._mark_bars: dict[str, dict[int, tuple[float, float, float, float]]] = {}

    def prepare(self, history: Mapping[str, BarSeries], clock: Clock) -> None:
        """Build the simulated exchange for the symbols of ``history`` (the warm-up bars).

        Args:
            history: The bars known at the start, by symbol.
            clock: The engine's clock.

        Raises:
            ConfigError: If called twice, or a market is not quoted in the account currency.
        """
        super().prepare(history, clock)
        self._timeframes = {symbol: series.timeframe for symbol, series in history.items()}
        self._mark_bars = {  # perpetuals: a replayed run's mark bars, by the bar's open time
            symbol: dict(zip(marks.open_time.tolist(), zip(marks.open.tolist(),
                marks.high.tolist(), marks.low.tolist(), marks.close.tolist(), strict=True),
                strict=True))
            for symbol, marks in (self.settings.marks or {}).items()
        }  # fmt: skip

    def submit(self, request: OrderRequest, client_id: str, reference_price: float) -> Order:
        """Send an order to the simulated venue (after ``latency``, in whole bars).

        Args:
            request: The validated request.
            client_id: Identifier chosen by the engine.
            reference_price: Latest close of the symbol.

        Returns:
            The order handle.
        """
        delay = self._delay_bars(request.symbol)
        if delay == 0:
            return super().submit(request, client_id, reference_price)
        self.market(request.symbol)  # unknown symbols fail now, as in a backtest
        order = Order(client_id, request, self._clock.now)
        self._in_flight.append((delay, order, request, reference_price))
        self.events.append(order)
        return order

    def _delay_bars(self, symbol: str) -> int:
        timeframe = self._timeframes.get(symbol, 0)
        if not self.latency or timeframe <= 0:
            return 0
        return int(self.latency * 1e9 // timeframe)

    def _cancel(self, order: Order, reason: str) -> None:
        for k, (_, pending, _, _) in enumerate(self._in_flight):
            if pending.client_id == order.client_id:
                del self._in_flight[k]
                pending.transition(OrderStatus.CANCELED, self._clock.now, f"{reason} (in flight)")
                self.events.append(pending)
                return
        super()._cancel(order, reason)

    def amend(
        self, order: Order, request: OrderRequest, client_id: str, reference_price: float
    ) -> Order:
        """Amend a working order in place, or the request of one still in flight.

        Args:
            order: The order handle.
            request: The amended request (``amount`` is the new total, fills included).
            client_id: Client id of the ``REJECTED`` order that records a refused amend.
            reference_price: Latest close of the symbol.

        Returns:
            ``order`` itself, amended, or a ``REJECTED`` order with the reason.

        Raises:
            OrderError: If ``request`` changes more than the price and amount.
        """
        for k, (delay, pending, _, reference) in enumerate(self._in_flight):
            if pending is order:
                check_amend_request(order, request)
                now = self._clock.now
                reason = amend_problem(order, request)
                if reason:
                    refused = Order.rejected(client_id, request, now, reason)
                    self.events.append(refused)
                    return refused
                order.request, order.amount, order.updated_at = request, request.amount, now
                self._in_flight[k] = (delay, order, request, reference)
                self.events.append(order)
                return order
        return super().amend(order, request, client_id, reference_price)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders, oldest first, then those still in flight.

        Args:
            symbol: Market symbol, or ``None`` for all.

        Returns:
            The orders.
        """
        flying = [o for _, o, _, _ in self._in_flight if symbol in (None, o.symbol)]
        return super().open_orders(symbol) + flying

    def working(self, symbol: str) -> list[object]:
        """Non-empty while ``symbol`` has working orders or orders in flight.

        On a margin account also while a position is open: its bars may liquidate the account.

        Args:
            symbol: Market symbol.

        Returns:
            A list to test for emptiness.
        """
        exchange = self.exchange
        books = exchange.books[symbol].working
        if not self._in_flight:
            if not books and exchange.needs_bar(symbol):  # a margin account at risk
                return [symbol]
            return books  # type: ignore[return-value]
        return [*books, *(o for _, o, _, _ in self._in_flight if o.symbol == symbol)]

    def on_bar_closed(self, bar: Bar) -> None:
        """Match the symbol's working orders against ``bar``, then land orders in flight.

        Args:
            bar: The new closed bar.
        """
        exchange = self.exchange
        symbol = bar.symbol
        mark = self._mark_bars.get(symbol, {}).get(bar.open_time) if self._mark_bars else None
        if mark is not None and isinstance(exchange, PerpetualExchange):
            exchange.set_mark(symbol, *mark)  # valued, funded and liquidated at the mark
        if exchange.needs_bar(symbol):
            exchange.process_bar(
                symbol, bar.open_time, bar.open, bar.high, bar.low, bar.close, bar.volume
            )
        if self._in_flight:
            self._land(symbol, bar.close)

    def _land(self, symbol: str, price: float) -> None:
        still: list[tuple[int, Order, OrderRequest, float]] = []
        for delay, order, request, reference in self._in_flight:
            if order.symbol != symbol:
                still.append((delay, order, request, reference))
            elif delay > 1:
                still.append((delay - 1, order, request, reference))
            else:
                self._arrive(order, request, reference if math.isnan(price) else price)
        self._in_flight = still

    def _arrive(self, order: Order, request: OrderRequest, reference: float) -> None:
        """Hand an order in flight to the simulated venue, keeping the strategy's handle."""
        self.exchange.submit(
            request, self._clock.now, reference, client_id=order.client_id, order=order
        )
