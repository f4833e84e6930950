"""Risk limits for perpetual futures: margin usage and distance to liquidation.

Both read the account's venue figures (`FuturesPortfolio`: margin balance, initial margin at
the mark, the venue's liquidation price) on the pro-forma account after the order. Orders on
spot markets, and orders that only reduce a position, pass untouched.
"""

from __future__ import annotations

import dataclasses
import math

from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.order import OrderRequest
from quantkit.risk.policy import Decision, RiskAction, RiskContext, RiskPolicy, positive_required

__all__ = ["MaxMarginUsage", "MinLiquidationDistance"]

_APPROVE = RiskAction.APPROVE
_TOL = 1e-12


def _entry(
    request: OrderRequest, context: RiskContext, policy: str
) -> tuple[FuturesPortfolio, float, float] | Decision:
    """The futures account, the signed amount and the price of an order that adds exposure.

    A `Decision` instead when the policy has nothing to check (an approval: a spot market, a
    cost-sized order, or an order that only reduces the position) or cannot value the order
    (a rejection: no price for the symbol yet).
    """
    portfolio = context.portfolio
    symbol = request.symbol
    if not isinstance(portfolio, FuturesPortfolio) or symbol not in portfolio.specs:
        return Decision(_APPROVE, request, policy)
    if request.amount is None or request.reduce_only:
        return Decision(_APPROVE, request, policy)
    held = portfolio.position(symbol).amount
    signed = request.amount * request.sign
    if held * signed < 0 and abs(signed) <= abs(held) * (1 + _TOL):
        return Decision(_APPROVE, request, policy)
    price = request.limit_price or request.stop_price or context.price(symbol)
    if not (math.isfinite(price) and price > 0):
        return Decision.reject(policy, f"no price for {symbol} yet to value the order")
    return portfolio, signed, price


class MaxMarginUsage(RiskPolicy):
    """Cap the initial margin in use as a fraction of the margin balance.

    Rule, after the order: ``(used margin + opened notional / leverage) <= max_usage * (wallet
    + unrealised P&L)``. A larger order is resized down to what fits (rounded down to the
    market's step), or rejected when nothing tradable fits.

    Args:
        max_usage: Largest fraction of the margin balance tied up as initial margin (e.g. 0.5).

    Raises:
        ConfigError: If ``max_usage`` is not a finite number > 0.

    Examples:
        >>> MaxMarginUsage(max_usage=0.5)
        MaxMarginUsage(max_usage=0.5)
    """

    def __init__(self, *, max_usage: float) -> None:
        self.max_usage = positive_required(max_usage, "MaxMarginUsage", "max_usage")

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Approve, resize or reject ``request``.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The decision.
        """
        found = _entry(request, context, self.name)
        if isinstance(found, Decision):
            return found
        portfolio, signed, price = found
        symbol = request.symbol
        leverage = portfolio.leverage[symbol]
        spec = portfolio.specs[symbol]
        unit = spec.notional(1.0, price)  # one contract's notional, in the account currency
        held = portfolio.position(symbol).amount
        closing = min(abs(held), abs(signed)) if held * signed < 0 else 0.0
        used = portfolio.used_margin() - closing * unit / leverage
        room = self.max_usage * portfolio.margin_balance() - used
        opened = abs(signed) - closing
        if opened * unit / leverage <= room * (1 + _TOL) + _TOL:
            return Decision(_APPROVE, request, self.name)
        market = context.market(symbol)
        allowed = market.round_amount(closing + max(room, 0.0) * leverage / unit)
        quote = allowed * spec.contract_size * (1.0 if spec.inverse else price)
        why = (
            f"margin usage would exceed {self.max_usage:g} of the margin balance "
            f"{portfolio.margin_balance():,.2f}"
        )
        if allowed <= 0 or allowed < market.min_amount or quote < market.min_notional:
            return Decision.reject(self.name, why)
        resized = dataclasses.replace(request, amount=allowed)
        return Decision.resize(resized, self.name, f"{why}: resized to {allowed:g}")

    def __repr__(self) -> str:
        return f"MaxMarginUsage(max_usage={self.max_usage!r})"


class MinLiquidationDistance(RiskPolicy):
    """Refuse orders that would leave a position's liquidation price too close to the mark.

    Rule, after the order: ``|mark - liquidation price| / mark >= min_distance``, with the
    venue's liquidation price of the pro-forma position (`FuturesPortfolio
    .projected_liquidation_price`) and the latest mark.

    Args:
        min_distance: Smallest relative distance from the mark to the liquidation price
            (e.g. 0.2 for 20 %).

    Raises:
        ConfigError: If ``min_distance`` is not a finite number > 0.

    Examples:
        >>> MinLiquidationDistance(min_distance=0.2)
        MinLiquidationDistance(min_distance=0.2)
    """

    def __init__(self, *, min_distance: float) -> None:
        self.min_distance = positive_required(
            min_distance, "MinLiquidationDistance", "min_distance"
        )

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Approve or reject ``request``.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The decision.
        """
        found = _entry(request, context, self.name)
        if isinstance(found, Decision):
            return found
        portfolio, signed, price = found
        symbol = request.symbol
        mark = portfolio.last_price.get(symbol, price)
        liquidation = portfolio.projected_liquidation_price(symbol, signed, price)
        if math.isnan(liquidation) or liquidation <= 0 or math.isinf(liquidation):
            return Decision(_APPROVE, request, self.name)  # flat, or no price liquidates it
        distance = abs(mark - liquidation) / mark
        if distance >= self.min_distance * (1 - _TOL):
            return Decision(_APPROVE, request, self.name)
        return Decision.reject(
            self.name,
            f"{symbol} would be liquidated at {liquidation:.8g}, {distance:.2%} from the mark "
            f"{mark:.8g} (minimum {self.min_distance:.2%})",
        )

    def __repr__(self) -> str:
        return f"MinLiquidationDistance(min_distance={self.min_distance!r})"
