"""The engine's side of a run: what the strategy and risk policies call."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from quantkit.algos.book import AlgoBook
from quantkit.brokers.base import Broker
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.client_ids import client_id_format
from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.risk.policy import RiskAction, RiskPolicy
from quantkit.strategy.data import SymbolData
from quantkit.strategy.series import Cursor, native_view

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["RiskEvent", "RunContext"]


@dataclass(frozen=True, slots=True, init=False)
class RiskEvent:
    """A risk decision, kept in the Result.

    Attributes:
        time: When, ns since the epoch.
        client_id: The order's client id.
        symbol: Market symbol.
        policy: Policy that decided.
        action: What it decided.
        reason: Why.
    """

    time: int
    client_id: str
    symbol: str
    policy: str
    action: RiskAction
    reason: str

    def __init__(
        self, time: int, client_id: str, symbol: str, policy: str, action: RiskAction, reason: str
    ) -> None:
        # The slots' own setters instead of the generated object.__setattr__ calls: a third of
        # the cost, one event per order (as `Decision` does). Assignment from outside still
        # raises FrozenInstanceError.
        _set_time(self, time)
        _set_client_id(self, client_id)
        _set_symbol(self, symbol)
        _set_policy(self, policy)
        _set_action(self, action)
        _set_reason(self, reason)


_set_time, _set_client_id, _set_symbol, _set_policy, _set_action, _set_reason = (
    vars(RiskEvent)[f.name].__set__ for f in fields(RiskEvent)
)


class RunContext:
    """Implements StrategyContext, RiskContext and Clock for one run.

    Args:
        broker: Where approved orders go.
        risk: The policy every order intent passes through, if any.
        datas: Each symbol's data view.
        timeline: Cursor of the current step.
        times: Close time of each step.
        id_prefix: Prefix of client order ids.
    """

    def __init__(
        self,
        broker: Broker,
        risk: RiskPolicy | None,
        datas: dict[str, SymbolData],
        timeline: Cursor,
        times: npt.NDArray[np.int64],
        id_prefix: str,
    ) -> None:
        self.broker = broker
        self.risk = risk
        self.datas = datas
        self.timeline = timeline
        self.times = times
        self._time_at: Sequence[int] = times.data  # scalar reads as Python ints, no copy
        self.id_prefix = id_prefix
        self.halted = ""
        self.risk_events: list[RiskEvent] = []
        self._seq = 0
        self.algos = AlgoBook(self)
        self._id_format = client_id_format(id_prefix)
        self._formatted_prefix = id_prefix  # the prefix `_id_format` was made for

    @property
    def symbols(self) -> tuple[str, ...]:
        """The run's tradable symbols (informative series, keys with ``'@'``, excluded)."""
        return tuple(symbol for symbol in self.datas if "@" not in symbol)

    @property
    def now(self) -> int:
        """Close time of the current step (``-1`` before the first bar)."""
        i = self.timeline.i
        return self._time_at[i] if i >= 0 else -1

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_time_at"]  # a memoryview cannot be pickled or copied; rebuilt on load
        del state["_id_format"]  # a bound method of a string: rebuilt on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._time_at = self.times.data
        self._id_format = client_id_format(self._formatted_prefix)

    @property
    def portfolio(self) -> Portfolio:
        """The broker's account with positions marked at the latest closes."""
        portfolio = self.broker.portfolio
        datas = self.datas
        for symbol, position in portfolio.positions.items():
            if position.amount:
                data = datas.get(symbol)
                if data is not None and data.cursor.i >= 0:
                    portfolio.last_price[symbol] = data.close[-1]
        return portfolio

    def equity(self) -> float:
        """Cash plus positions marked at the latest closes, without re-marking the portfolio."""
        portfolio = self.broker.portfolio
        value = portfolio.cash.get(portfolio.currency, 0.0)
        datas = self.datas
        for symbol, position in portfolio.positions.items():
            amount = position.amount
            if amount:
                data = datas.get(symbol)
                if data is not None and data.cursor.i >= 0:
                    value += amount * data.close[-1]
                else:
                    value += amount * portfolio.last_price.get(symbol, position.entry_price)
        return value

    def equity_prices(self, symbol: str) -> Sequence[float]:
        """Per bar of ``symbol``, what one unit of its position adds to `equity`: the close.

        The backtest's risk gate (`quantkit.engine.risk_gate`) turns a breaker's band of
        equities into a band of these figures.

        Args:
            symbol: A tradable symbol of the run.

        Returns:
            One float per bar.
        """
        return native_view(self.datas[symbol]._series.close)

    def bind_marks(self, history: Mapping[str, BarSeries]) -> None:
        """Once the broker prepared the run: read what values its positions (spot: nothing).

        Args:
            history: The run's tradable bars, by symbol.
        """

    def mark_to_last_bars(self) -> None:
        """Leave the account marked as the run ends (a spot account keeps its own marks)."""

    def price(self, symbol: str) -> float:
        """Latest close of ``symbol`` (``nan`` before its first bar or if unknown)."""
        data = self.datas.get(symbol)
        return data.price if data is not None else float("nan")

    def market(self, symbol: str) -> Market:
        """The broker's market of ``symbol``."""
        return self.broker.market(symbol)

    def open_orders(self, symbol: str | None) -> list[Order]:
        """The broker's working orders."""
        return self.broker.open_orders(symbol)

    def cancel(self, order: Order) -> None:
        """Forward a cancel to the broker."""
        self.broker.cancel(order)

    def bar_time(self, symbol: str) -> int:
        """Close time of ``symbol``'s latest bar, ns (``-1`` before its first bar or if unknown)."""
        data = self.datas.get(symbol)
        return data.time if data is not None else -1

    def last_bar(self, symbol: str) -> Bar | None:
        """``symbol``'s latest closed bar (``None`` before its first bar or if unknown)."""
        data = self.datas.get(symbol)
        if data is None or data.cursor.i < 0:
            return None
        return Bar(
            symbol,
            data.open_time,
            data.time,
            data.open[-1],
            data.high[-1],
            data.low[-1],
            data.close[-1],
            data.volume[-1],
        )

    def timeframe(self, symbol: str) -> int:
        """Bar length of ``symbol``, ns.

        Raises:
            OrderError: If the symbol is not part of the run.
        """
        data = self.datas.get(symbol)
        if data is None:
            from quantkit.domain.market import unknown_symbol  # noqa: PLC0415

            raise unknown_symbol(symbol, self.datas)
        return data.timeframe

    def record(self, policy: str, action: RiskAction, reason: str, symbol: str = "") -> None:
        """Keep a risk event that is not a decision on one order (a breaker trips or resets)."""
        self.risk_events.append(RiskEvent(self.now, "", symbol, policy, action, reason))

    def place(self, request: OrderRequest) -> Order:
        """Send an order a risk policy asked for (e.g. a flatten), without risk checks.

        Args:
            request: The order.

        Returns:
            The broker's order.
        """
        client_id = self.next_client_id()
        request = self.broker.market(request.symbol).round_request(request)
        data = self.datas.get(request.symbol)
        price = data.price if data is not None else math.nan
        return self.broker.submit(request, client_id, price)

    def next_client_id(self) -> str:
        """A new client order id, deterministic within the run."""
        self._seq += 1
        if self.id_prefix != self._formatted_prefix:  # a live run names its prefix later
            self._id_format = client_id_format(self.id_prefix)
            self._formatted_prefix = self.id_prefix
        return self._id_format(self._seq)

    def submit(self, request: OrderRequest, client_id: str | None = None) -> Order:
        """Pass ``request`` through risk, then to the broker.

        Args:
            request: What the strategy asks for.
            client_id: The id to send it under (a parent order's child); default: the next.

        Returns:
            The order: from the broker, or ``REJECTED`` here when risk refused it.
        """
        if client_id is None:
            self._seq += 1  # `next_client_id`, inline
            if self.id_prefix != self._formatted_prefix:
                self._id_format = client_id_format(self.id_prefix)
                self._formatted_prefix = self.id_prefix
            client_id = self._id_format(self._seq)
        i = self.timeline.i
        now = self._time_at[i] if i >= 0 else -1
        request, reason = self.risk_decision(request, client_id, now)
        if reason:
            order = Order.rejected(client_id, request, now, reason)
            self.broker.events.append(order)
            return order
        # Rounded to the market's precision after risk (sizers included), before any broker
        # sees it: the request the broker journals and sends is the one the venue receives.
        market = self.broker.market(request.symbol)
        if market.amount_increment > 0 or market.price_increment > 0:  # else nothing rounds
            request = market.round_request(request)
        data = self.datas.get(request.symbol)
        price = data.price if data is not None else math.nan
        return self.broker.submit(request, client_id, price)

    def risk_decision(
        self, request: OrderRequest, client_id: str, now: int | None = None
    ) -> tuple[OrderRequest, str]:
        """One risk decision on ``request`` (an order, or a parent order's whole amount).

        Args:
            request: The request.
            client_id: Its id, kept with the decision.
            now: The current step's time (default: `now`).

        Returns:
            The approved (possibly resized) request and ``""``, or the request and the reason
            it was refused.
        """
        if self.halted and not request.reduce_only:
            return request, f"risk: trading halted ({self.halted})"
        if self.risk is None:
            return request, ""
        symbol = request.symbol
        self.broker.market(symbol)  # unknown symbols fail before risk sees them
        decision = self.risk.check(request, self)
        self.risk_events.append(
            RiskEvent(
                self.now if now is None else now,
                client_id,
                symbol,
                decision.policy,
                decision.action,
                decision.reason,
            )
        )
        if decision.action is RiskAction.HALT:
            self.halted = f"{decision.policy}: {decision.reason}"
        if decision.request is None:
            return request, f"risk: {decision.policy}: {decision.reason}"
        return decision.request, ""

    def amend(self, order: Order, request: OrderRequest, client_id: str | None = None) -> Order:
        """Forward an amend to the broker under a fresh client id.

        Amends do not pass the risk policies again; while trading is halted only reduce-only
        orders may be amended.

        Args:
            order: The working order.
            request: The amended request.
            client_id: The id of a replacement (a parent order's child); default: the next.

        Returns:
            The order that now works, or a ``REJECTED`` order with the reason.
        """
        client_id = client_id or self.next_client_id()
        if self.halted and not request.reduce_only:
            now = self.now
            reason = f"amend of {order.client_id} refused: risk: trading halted ({self.halted})"
            refused = Order.rejected(client_id, request, now, reason)
            self.broker.events.append(refused)
            return refused
        request = self.broker.market(request.symbol).round_request(request)
        data = self.datas.get(request.symbol)
        price = data.price if data is not None else math.nan
        return self.broker.amend(order, request, client_id, price)
