"""Position limits."""

from __future__ import annotations

import dataclasses
import math

from quantkit.domain.order import OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.policy import Decision, RiskContext, ScreenedPolicy, finite_or_none

__all__ = ["MaxPositionSize"]


_isfinite = math.isfinite


class MaxPositionSize(ScreenedPolicy):
    """Cap the absolute position per symbol, in base amount and/or quote notional.

    An order that would take the position past the cap is resized down to reach it exactly;
    one that cannot add anything is rejected. Orders that reduce the position always pass.

    Args:
        max_amount: Largest absolute position in base currency.
        max_notional: Largest absolute position value in quote currency at the latest price.

    Raises:
        ConfigError: If neither cap is given or a cap is not a positive number.

    Examples:
        >>> MaxPositionSize(max_amount=2.0).max_amount
        2.0
    """

    def __init__(self, max_amount: float | None = None, max_notional: float | None = None) -> None:
        finite_or_none(max_amount, "MaxPositionSize", "max_amount")
        finite_or_none(max_notional, "MaxPositionSize", "max_notional")
        if max_amount is None and max_notional is None:
            raise ConfigError("MaxPositionSize needs max_amount or max_notional")
        self.max_amount = max_amount
        self.max_notional = max_notional

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve, resize or reject ``request`` against the caps.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account.
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved as it is), or the resize or rejection.
        """
        if request.reduce_only:
            return None
        symbol = request.symbol
        price = request.limit_price or request.stop_price or price
        position = portfolio.positions.get(symbol)  # no position object built for a new symbol
        held = 0.0 if position is None else position.amount
        sign = request.sign
        priced = _isfinite(price) and price > 0
        if not priced and (request.amount is None or self.max_notional is not None):
            return Decision.reject(
                self.name, f"no price for {symbol} yet to value the order against the cap"
            )
        amount = request.amount if request.amount is not None else (request.cost or 0.0) / price
        if held * sign < 0 and amount <= abs(held):
            return None
        cap = math.inf
        if self.max_amount is not None:
            cap = self.max_amount
        if self.max_notional is not None:
            cap = min(cap, self.max_notional / price)
        room = cap - held * sign  # how much more may be added in this direction
        if amount <= room * (1 + 1e-12):
            return None
        allowed = context.market(symbol).round_amount(max(room, 0.0))
        if allowed <= 0:
            return Decision.reject(
                self.name,
                f"position in {symbol} is at its cap {cap:g}; order of {amount:g} refused",
            )
        if request.amount is None:
            resized = dataclasses.replace(request, cost=(request.cost or 0.0) * allowed / amount)
        else:
            resized = dataclasses.replace(request, amount=allowed)
        return Decision.resize(
            resized, self.name, f"resized from {amount:g} to {allowed:g} to stay within {cap:g}"
        )

    def __repr__(self) -> str:
        return (
            f"MaxPositionSize(max_amount={self.max_amount!r}, max_notional={self.max_notional!r})"
        )
