"""Signal validation: refuse orders that are malformed, mispriced, stale or not reducing.

These policies look at one order and the market around it, not at the account's risk; put
them first in a `RiskChain`, before order limits and exposure limits.
"""

from __future__ import annotations

import dataclasses
import math

from quantkit.domain.order import OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.policy import (
    Decision,
    RiskContext,
    ScreenedPolicy,
    finite_or_none,
    positive_required,
)

__all__ = ["PriceBand", "ReduceOnlyCheck", "SaneOrder", "StaleSignal"]

_TOL = 1e-12
_INF = math.inf
_isfinite = math.isfinite
_PRICE_FIELDS = ("limit_price", "stop_price", "stop_loss", "take_profit")


def _priced(price: float) -> bool:
    """Whether ``price`` is a usable price (finite and > 0)."""
    return math.isfinite(price) and price > 0


def _reduces(request: OrderRequest, held: float, price: float) -> bool:
    """Whether ``request`` only reduces a position of ``held`` (never flips it)."""
    if request.reduce_only:
        return True
    if held * request.sign >= 0:
        return False
    if request.amount is not None:
        return request.amount <= abs(held) * (1 + _TOL)
    return _priced(price) and (request.cost or 0.0) / price <= abs(held) * (1 + _TOL)


class PriceBand(ScreenedPolicy):
    """Refuse limit and stop prices too far from the last price (fat fingers, bad signals).

    Every limit and stop price of the order must lie within ``max_deviation`` (a fraction)
    of the symbol's last price: ``|price / last - 1| <= max_deviation``. Bracket exits
    (``stop_loss``, ``take_profit``) are not checked: they are meant to sit away from the
    price. Any order, market orders included, is refused while the symbol has no price yet.

    Args:
        max_deviation: Largest accepted distance from the last price, as a fraction
            (``0.05`` = 5 %).

    Raises:
        ConfigError: If ``max_deviation`` is not a finite number > 0.

    Examples:
        >>> PriceBand(max_deviation=0.05)
        PriceBand(max_deviation=0.05)
    """

    def __init__(self, *, max_deviation: float) -> None:
        self.max_deviation = positive_required(max_deviation, "PriceBand", "max_deviation")

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve ``request`` if its prices lie within the band around the last price.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account (not needed here).
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved), or a rejection naming the price, its distance and the band.
        """
        symbol = request.symbol
        last = price
        if not _priced(last):
            return Decision.reject(
                self.name, f"no last price for {symbol} yet to check the order's price against"
            )
        for name in ("limit_price", "stop_price"):
            value = getattr(request, name)
            if value is None:
                continue
            deviation = abs(value / last - 1.0)
            if deviation > self.max_deviation * (1 + 1e-9):
                label = name.replace("_", " ")
                return Decision.reject(
                    self.name,
                    f"{label} {value:g} is {deviation:.2%} from the last price {last:g} of "
                    f"{symbol}; the band is {self.max_deviation:.2%}",
                )
        return None

    def __repr__(self) -> str:
        return f"PriceBand(max_deviation={self.max_deviation!r})"


class StaleSignal(ScreenedPolicy):
    """Refuse entries on a symbol whose latest bar lags the run's clock.

    In a multi-symbol or live run a strategy can act on a symbol whose data stopped coming
    (a halted market, a dropped feed). An entry is refused when
    ``context.now - context.bar_time(symbol) > max_bars * context.timeframe(symbol)``, or
    when the symbol has no bar yet. Orders that only reduce the position always pass.

    Args:
        max_bars: How many whole bars the symbol's latest bar may lag ``now`` (``0``: it
            must close at ``now``).

    Raises:
        ConfigError: If ``max_bars`` is not an integer >= 0.

    Examples:
        >>> StaleSignal(max_bars=2)
        StaleSignal(max_bars=2)
    """

    def __init__(self, *, max_bars: int) -> None:
        if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < 0:
            raise ConfigError(f"StaleSignal: max_bars must be an integer >= 0, got {max_bars!r}")
        self.max_bars = max_bars

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve ``request`` unless it opens or adds on stale data.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account.
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved), or a rejection saying how far behind the symbol's data is.
        """
        symbol = request.symbol
        held = portfolio.position(symbol).amount
        if held and _reduces(request, held, price):
            return None
        bar_time = context.bar_time(symbol)
        if bar_time < 0:
            return Decision.reject(self.name, f"no bar for {symbol} yet; entry refused")
        timeframe = context.timeframe(symbol)
        lag = context.now - bar_time
        if lag > self.max_bars * timeframe:
            return Decision.reject(
                self.name,
                f"latest {symbol} bar closed {lag / timeframe:g} bars before now "
                f"(limit {self.max_bars}); entry refused on stale data",
            )
        return None

    def __repr__(self) -> str:
        return f"StaleSignal(max_bars={self.max_bars!r})"


class ReduceOnlyCheck(ScreenedPolicy):
    """Make reduce-only orders honest: on the reducing side, and no larger than the position.

    A reduce-only order whose side would not reduce the position (a sell while flat or
    short, a buy while flat or long) is refused. One larger than the position is resized
    down to the position (rounded down to the market's step) and sent as an amount-sized
    order. Other orders pass untouched.

    Examples:
        >>> ReduceOnlyCheck()
        ReduceOnlyCheck()
    """

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve, resize or reject a reduce-only ``request``.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account.
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved as it is), or the resize or rejection.
        """
        if not request.reduce_only:
            return None
        symbol = request.symbol
        held = portfolio.position(symbol).amount
        if held * request.sign >= 0:
            return Decision.reject(
                self.name,
                f"reduce-only {request.side} on {symbol} would not reduce the position "
                f"(holding {held:g})",
            )
        if request.amount is not None:
            amount = request.amount
        elif _priced(price):
            amount = (request.cost or 0.0) / price
        else:
            return Decision.reject(
                self.name, f"no price for {symbol} yet to size the reduce-only cost order"
            )
        if amount <= abs(held) * (1 + _TOL):
            return None
        market = context.market(symbol)
        allowed = market.round_amount(abs(held))
        if allowed <= 0 or allowed < market.min_amount:
            return Decision.reject(
                self.name,
                f"reduce-only {request.side} of {amount:g} on {symbol} is larger than the "
                f"position {abs(held):g}, which is below the market's minimum amount",
            )
        resized = dataclasses.replace(request, amount=allowed, cost=None)
        return Decision.resize(
            resized,
            self.name,
            f"reduce-only {request.side} of {amount:g} on {symbol} is larger than the position "
            f"{abs(held):g}; resized to {allowed:g}",
        )

    def __repr__(self) -> str:
        return "ReduceOnlyCheck()"


class SaneOrder(ScreenedPolicy):
    """Refuse orders no strategy means to send: bad numbers, dust, or absurd sizes.

    `OrderRequest` already refuses non-finite and non-positive numbers when it is built;
    this policy checks again (a request can be altered after construction) and adds what
    only the market knows: the amount must be at least the market's step and minimum
    amount, and the order's value at least the minimum notional. With ``max_amount`` it
    also refuses any order above that many base units (a fat-finger guard; it rejects,
    it does not resize).

    Args:
        max_amount: Largest accepted order amount in base currency, or ``None``.

    Raises:
        ConfigError: If ``max_amount`` is given and is not a finite number > 0.

    Examples:
        >>> SaneOrder(max_amount=100.0)
        SaneOrder(max_amount=100.0)
    """

    def __init__(self, *, max_amount: float | None = None) -> None:
        finite_or_none(max_amount, "SaneOrder", "max_amount")
        self.max_amount = max_amount

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Approve ``request`` if its numbers are sane for its market.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account (not needed here).
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved), or a rejection naming the offending value.
        """
        symbol = request.symbol
        given = amount = request.amount
        cost = request.cost
        limit_price = request.limit_price
        stop_price = request.stop_price
        size = cost if given is None else given
        if not (  # the common case, which `_number_problem` would pass, tested cheaply
            type(size) is float
            and 0.0 < size < _INF
            and (given is None or cost is None)
            and limit_price is None
            and stop_price is None
            and request.stop_loss is None
            and request.take_profit is None
        ):
            problem = self._number_problem(request)
            if problem:
                return Decision.reject(self.name, f"order on {symbol}: {problem}")
        price = limit_price or stop_price or price
        market = context.market(symbol)
        if amount is None and _isfinite(price) and price > 0:
            amount = (cost or 0.0) / price
        max_amount = self.max_amount
        if amount is None:
            if max_amount is not None:
                return Decision.reject(
                    self.name, f"no price for {symbol} yet to check the cost order's amount"
                )
        else:
            floor = max(market.amount_increment, market.min_amount)
            if amount < floor * (1 - 1e-9):
                return Decision.reject(
                    self.name,
                    f"amount {amount:g} on {symbol} is below the market's minimum "
                    f"{floor:g} {market.base}",
                )
            if max_amount is not None and amount > max_amount * (1 + 1e-9):
                return Decision.reject(
                    self.name,
                    f"amount {amount:g} on {symbol} is above the sanity cap "
                    f"{max_amount:g} {market.base}",
                )
        notional = cost if given is None else given * price
        if notional is not None and notional < market.min_notional * (1 - 1e-9):
            return Decision.reject(
                self.name,
                f"order value {notional:g} on {symbol} is below the market's minimum "
                f"{market.min_notional:g} {market.quote}",
            )
        return None

    @staticmethod
    def _number_problem(request: OrderRequest) -> str:
        """Why the request's numbers are not finite and positive, or ``""``."""
        size = request.amount if request.amount is not None else request.cost
        if size is None or (request.amount is not None and request.cost is not None):
            return "give exactly one of amount and cost"
        for name in ("amount", "cost", *_PRICE_FIELDS):
            value = getattr(request, name)
            if value is not None and not (isinstance(value, float | int) and _priced(value)):
                return f"{name} must be a finite number > 0, got {value!r}"
        return ""

    def __repr__(self) -> str:
        return f"SaneOrder(max_amount={self.max_amount!r})"
