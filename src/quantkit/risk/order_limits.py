"""Order limits: the size of one order, how often orders go out, and how far they may fill."""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from datetime import UTC, datetime

from quantkit.algos.parent import PARENT_TAG
from quantkit.domain.order import OrderRequest, OrderType, TimeInForce
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.policy import (
    Decision,
    RiskAction,
    RiskContext,
    RiskPolicy,
    ScreenedPolicy,
    positive_required,
)

__all__ = ["MaxOrderNotional", "MaxSlippage", "OrderRateLimit"]

_APPROVE = RiskAction.APPROVE

_TOL = 1e-12
_NS = 1_000_000_000
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT


class MaxOrderNotional(ScreenedPolicy):
    """Cap the value of each entry order, in quote currency.

    An order worth more than ``max_notional`` (amount x its limit or stop price, or the
    latest price for market orders; ``cost`` for cost-sized orders) is resized down to the
    cap, rounded down to the market's step. If the resized order falls below the market's
    minimum amount or notional it is rejected instead. Orders that only reduce a position
    pass untouched.

    Args:
        max_notional: Largest order value in quote currency.

    Raises:
        ConfigError: If ``max_notional`` is not a finite number > 0.

    Examples:
        >>> MaxOrderNotional(max_notional=5_000.0)
        MaxOrderNotional(max_notional=5000.0)
    """

    def __init__(self, *, max_notional: float) -> None:
        positive_required(max_notional, "MaxOrderNotional", "max_notional")
        self.max_notional = max_notional

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve, resize or reject ``request`` against the cap.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account.
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved as it is), or the resize or rejection.
        """
        symbol = request.symbol
        if request.reduce_only:
            return None
        price = request.limit_price or request.stop_price or price
        priced = math.isfinite(price) and price > 0
        position = portfolio.positions.get(symbol)  # no position object built for a new symbol
        held = 0.0 if position is None else position.amount
        cap = self.max_notional
        if request.amount is None:
            return self._check_cost(request, context, price if priced else math.nan, held)
        if held * request.sign < 0 and request.amount <= abs(held) * (1 + _TOL):
            return None
        if not priced:
            return Decision.reject(self.name, f"no price for {symbol} yet to value the order")
        notional = request.amount * price
        if notional <= cap * (1 + _TOL):
            return None
        market = context.market(symbol)
        allowed = market.round_amount(cap / price)
        if allowed <= 0 or allowed < market.min_amount or allowed * price < market.min_notional:
            return Decision.reject(
                self.name,
                f"order of {request.amount:g} {symbol} worth {notional:,.2f} is above the cap "
                f"{cap:,.2f}, and {allowed:g} is below the market's minimum",
            )
        return Decision.resize(
            dataclasses.replace(request, amount=allowed),
            self.name,
            f"order worth {notional:,.2f} is above the cap {cap:,.2f}; resized from "
            f"{request.amount:g} to {allowed:g} {symbol}",
        )

    def _check_cost(
        self, request: OrderRequest, context: RiskContext, price: float, held: float
    ) -> Decision | None:
        """The cap for a cost-sized market order (its value is its cost)."""
        cost = request.cost or 0.0
        if cost <= self.max_notional * (1 + _TOL) or (  # nan price: not reducing
            held * request.sign < 0 and cost / price <= abs(held) * (1 + _TOL)
        ):
            return None
        market = context.market(request.symbol)
        too_small = self.max_notional < market.min_notional or (
            math.isfinite(price) and self.max_notional / price < market.min_amount
        )
        if too_small:
            return Decision.reject(
                self.name,
                f"order costing {cost:,.2f} is above the cap {self.max_notional:,.2f}, and the "
                f"cap is below the market's minimum",
            )
        return Decision.resize(
            dataclasses.replace(request, cost=self.max_notional),
            self.name,
            f"order costing {cost:,.2f} is above the cap {self.max_notional:,.2f}; resized "
            f"to cost {self.max_notional:,.2f}",
        )

    def __repr__(self) -> str:
        return f"MaxOrderNotional(max_notional={self.max_notional!r})"


class OrderRateLimit(RiskPolicy):
    """Approve at most ``max_orders`` orders in any rolling window of ``per_seconds``.

    Time is the run's clock (``context.now``): bar closes in a backtest, wall-clock bars in
    a live run. Every approved order counts, whatever its side, reduce-only orders
    included (a venue's rate limit counts them too). A refusal says when the next slot
    frees. The policy keeps the approval times of the current window in a deque, so a
    check costs O(1) amortised.

    A parent order's whole amount (tag ``"parent:..."``) takes no slot: its children do.
    It counts the orders *it* approved: put it last in a `RiskChain` so that orders a later
    policy refuses do not use up slots. Call `reset` between runs.

    Args:
        max_orders: Orders allowed per window.
        per_seconds: Window length in seconds.

    Raises:
        ConfigError: If ``max_orders`` is not an integer >= 1 or ``per_seconds`` is not a
            finite number > 0.

    Examples:
        >>> OrderRateLimit(max_orders=10, per_seconds=60.0)
        OrderRateLimit(max_orders=10, per_seconds=60.0)
    """

    def __init__(self, *, max_orders: int, per_seconds: float) -> None:
        if isinstance(max_orders, bool) or not isinstance(max_orders, int) or max_orders < 1:
            raise ConfigError(
                f"OrderRateLimit: max_orders must be an integer >= 1, got {max_orders!r}"
            )
        positive_required(per_seconds, "OrderRateLimit", "per_seconds")
        self.max_orders = max_orders
        self.per_seconds = per_seconds
        self._window = max(1, round(per_seconds * _NS))
        self._sent: deque[int] = deque()

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Approve ``request`` if a slot is free in the window ending now.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            An approval (which takes a slot), or a rejection saying when a slot frees.
        """
        if request.tag.startswith(PARENT_TAG):
            return Decision(_APPROVE, request, self.name)  # a parent is no venue order
        now = context.now
        sent = self._sent
        start = now - self._window  # approvals at or before ``start`` have left the window
        while sent and sent[0] <= start:
            sent.popleft()
        if len(sent) < self.max_orders:
            sent.append(now)
            return Decision(_APPROVE, request, self.name)
        frees = sent[0] + self._window
        stamp = datetime.fromtimestamp(frees / _NS, UTC).isoformat()
        return Decision.reject(
            self.name,
            f"{len(sent)} orders in the last {self.per_seconds:g} s (limit {self.max_orders}); "
            f"next slot frees in {(frees - now) / _NS:g} s, at {stamp}",
        )

    def reset(self) -> None:
        """Forget the orders sent so far."""
        self._sent.clear()

    def __repr__(self) -> str:
        return f"OrderRateLimit(max_orders={self.max_orders!r}, per_seconds={self.per_seconds!r})"


class MaxSlippage(RiskPolicy):
    """Bound the price a market or limit order may fill at, around the latest price.

    The band's edge is the reference (latest) price moved ``max_bps`` basis points against
    the trader: ``reference * (1 + max_bps / 1e4)`` for a buy, ``reference *
    (1 - max_bps / 1e4)`` for a sell, rounded to the market's tick but never beyond the
    band. A market order becomes an immediate-or-cancel limit order at that edge (whatever
    cannot fill there is canceled instead of filling further away). A limit order whose
    limit lies beyond the edge has its limit moved to the edge. Both are ``RESIZE``
    decisions whose reason says what changed. A cost-sized market order becomes
    amount-sized: a buy gets the amount its cost pays at the edge after taker fees, a sell
    the amount its cost is worth at the reference. Stop and stop-limit orders are not
    touched: they fill later, at prices not known now.

    Exits are protected like entries: a reduce-only market order may then not fill, and
    the strategy must send it again.

    Args:
        max_bps: Largest accepted distance from the reference price, in basis points
            (``50`` = 0.5 %); below 10,000.

    Raises:
        ConfigError: If ``max_bps`` is not a finite number in (0, 10,000).

    Examples:
        >>> MaxSlippage(max_bps=25.0)
        MaxSlippage(max_bps=25.0)
    """

    def __init__(self, *, max_bps: float) -> None:
        positive_required(max_bps, "MaxSlippage", "max_bps")
        if max_bps >= 10_000:
            raise ConfigError(f"MaxSlippage: max_bps must be below 10,000, got {max_bps!r}")
        self.max_bps = max_bps

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Protect a market order with a limit, or pull a limit back into the band.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            An approval, a resize with the protected request, or a rejection when there is
            no reference price (or a cost order buys less than the market's minimum).
        """
        kind = request.type
        if kind is not _MARKET and kind is not _LIMIT:
            return Decision(_APPROVE, request, self.name)
        symbol = request.symbol
        reference = context.price(symbol)
        if not (math.isfinite(reference) and reference > 0):
            return Decision.reject(
                self.name, f"no reference price for {symbol} yet to bound the order's price"
            )
        sign = request.sign
        market = context.market(symbol)
        edge = reference + sign * (reference * self.max_bps / 1e4)
        bound = market.round_price(edge)
        if (bound - edge) * sign > _TOL * edge:  # rounded beyond the band: one tick back
            bound = market.round_price(bound - sign * market.price_increment)
        word = "above" if sign > 0 else "below"
        band = f"{self.max_bps:g} bps {word} the reference {reference:g}"
        if kind is _LIMIT:
            limit = request.limit_price or 0.0
            if (limit - bound) * sign <= 0:
                return Decision(_APPROVE, request, self.name)
            return Decision.resize(
                dataclasses.replace(request, limit_price=bound),
                self.name,
                f"limit {limit:g} on a {request.side} of {symbol} is beyond the band "
                f"({band}); moved to {bound:g}",
            )
        amount = request.amount
        if amount is None:
            fee = max(market.taker_fee, 0.0)
            cost = request.cost or 0.0
            amount = cost / (bound * (1 + fee)) if sign > 0 else cost / reference
            amount = market.round_amount(amount)
            if amount <= 0 or amount < market.min_amount:
                return Decision.reject(
                    self.name,
                    f"cost {cost:g} on {symbol} buys {amount:g} at {bound:g}, below the "
                    f"market's minimum amount",
                )
        protected = dataclasses.replace(
            request,
            type=_LIMIT,
            amount=amount,
            cost=None,
            limit_price=bound,
            time_in_force=TimeInForce.IOC,
        )
        return Decision.resize(
            protected,
            self.name,
            f"market {request.side} of {symbol} protected: limit IOC at {bound:g} ({band})",
        )

    def __repr__(self) -> str:
        return f"MaxSlippage(max_bps={self.max_bps!r})"
