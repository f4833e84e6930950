"""Position sizing: policies that set the size of every entry order.

A sizer decides how much an entry order buys or sells, whatever amount or cost the strategy
put in the request: the strategy's amount only says "enter in this direction". Orders that
reduce a position pass unchanged. Put a sizer first in a `RiskChain`, limits after it.
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from quantkit.domain.order import OrderRequest
from quantkit.errors import ConfigError
from quantkit.risk.policy import Decision, RiskAction, RiskContext, RiskPolicy, finite_or_none

__all__ = ["FixedAmount", "FixedFraction", "FixedNotional", "Size", "Sizer", "VolatilityTarget"]

_APPROVE = RiskAction.APPROVE

_REL = 1e-12
YEAR_NS = 365 * 86_400 * 10**9
"""A crypto year (365 days, markets never close), ns: the base of annualised volatility."""


def check_fraction(value: float, owner: str, name: str, high: float = 10.0) -> None:
    """Raise ConfigError unless ``value`` is a number in ``(0, high]``.

    Args:
        value: The value to check.
        owner: Component name for the message.
        name: Parameter name for the message.
        high: Largest value allowed (the leverage cap, 10 by default).

    Raises:
        ConfigError: If the value is out of range or not a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise ConfigError(f"{owner}: {name} must be a number in (0, {high:g}], got {value!r}")


def check_window(value: int, owner: str, name: str = "window", low: int = 2) -> None:
    """Raise ConfigError unless ``value`` is an integer >= ``low``.

    Args:
        value: The value to check.
        owner: Component name for the message.
        name: Parameter name for the message.
        low: Smallest value allowed.

    Raises:
        ConfigError: If the value is not such an integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Size:
    """What a sizer computed for one entry.

    Attributes:
        amount: Order amount in base units, before rounding (any cover of an opposite
            position included).
        basis: What the amount was computed from, for the decision's reason, e.g.
            ``"0.2 of equity 10000 at 100"``.
    """

    amount: float
    basis: str = ""


class Sizer(RiskPolicy):
    """Base class of sizers: resize every entry order to the size `size` computes.

    An entry is an order that opens or adds to a position, or flips it (an order on the
    opposite side larger than the position). Reduce-only orders, and opposite-side orders no
    larger than the position, pass unchanged. The computed amount is rounded down to the
    market's step; below the market's minimum amount or notional the order is rejected.
    A sized order always carries ``amount`` (base units), also when the strategy sent
    ``cost``. When the size equals the request, the request is approved as it is.

    Limit and stop orders are sized at their limit or stop price, market orders at the
    latest close.
    """

    @abstractmethod
    def size(self, request: OrderRequest, context: RiskContext, price: float) -> Size | str:
        """Compute the order amount of an entry.

        Args:
            request: The entry order (its amount only gives the direction).
            context: Account and prices now.
            price: The price the order is valued at (> 0).

        Returns:
            The order amount in base units before rounding (covering an opposite position
            included) with its basis, or the reason to reject the order.
        """

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Resize an entry order to the computed size; pass reducing orders unchanged.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            Approve (reducing, or already the right size), resize, or reject with a reason.
        """
        if request.reduce_only:
            return Decision(_APPROVE, request, self.name)
        symbol = request.symbol
        price = request.limit_price or request.stop_price or context.price(symbol)
        if not (math.isfinite(price) and price > 0):
            return Decision.reject(self.name, f"no price for {symbol} yet to size the order")
        asked = request.amount if request.amount is not None else (request.cost or 0.0) / price
        held = context.portfolio.position(symbol).amount * request.sign
        if held < 0 and asked <= -held * (1 + _REL):
            return Decision(_APPROVE, request, self.name)  # reduces or closes the position
        sized = self.size(request, context, price)
        if isinstance(sized, str):
            return Decision.reject(self.name, sized)
        market = context.market(symbol)
        amount = market.round_amount(sized.amount)
        if amount <= 0 or amount < market.min_amount or amount * price < market.min_notional:
            return Decision.reject(
                self.name,
                f"sized order of {sized.amount:g} {symbol} rounds to {amount:g}, below the "
                f"market minimum (amount {market.min_amount:g}, notional "
                f"{market.min_notional:g})",
            )
        if request.amount is not None and abs(amount - request.amount) <= _REL * amount:
            return Decision(_APPROVE, request, self.name)
        resized = dataclasses.replace(request, amount=amount, cost=None)
        basis = f" ({sized.basis})" if sized.basis else ""
        return Decision.resize(resized, self.name, f"sized from {asked:g} to {amount:g}{basis}")

    @staticmethod
    def cover(request: OrderRequest, context: RiskContext) -> float:
        """The amount of an opposite position the order must first close (0 if none).

        Args:
            request: The order.
            context: Account and prices now.

        Returns:
            ``|position|`` if the position is on the other side of the order, else 0.
        """
        held = context.portfolio.position(request.symbol).amount * request.sign
        return -held if held < 0 else 0.0

    @staticmethod
    def to_target(
        request: OrderRequest, context: RiskContext, target: float, basis: str = ""
    ) -> Size | str:
        """The order amount that takes the position to ``target`` in the order's direction.

        Args:
            request: The entry order.
            context: Account and prices now.
            target: Absolute position wanted after the order, base units.
            basis: What the target was computed from, for the reason.

        Returns:
            ``target`` minus the position held in the order's direction (an opposite
            position counts negative, so it is closed first), or "already at target".
        """
        held = context.portfolio.position(request.symbol).amount * request.sign
        missing = target - held
        if missing <= _REL * max(target, abs(held)):
            return (
                f"already at target: {request.symbol} position {held:g} in the order's "
                f"direction, target {target:g}"
            )
        return Size(missing, f"target {target:g}: {basis}" if basis else f"target {target:g}")


class FixedAmount(Sizer):
    """Every entry order trades the same base amount.

    A flip (an opposite-side order larger than the position) closes the position and opens
    ``amount`` on the other side.

    Args:
        amount: Order amount in base units.

    Raises:
        ConfigError: If the amount is not a finite number > 0.

    Examples:
        >>> FixedAmount(amount=0.5)
        FixedAmount(amount=0.5)
    """

    def __init__(self, amount: float) -> None:
        if amount is None:
            raise ConfigError("FixedAmount: amount must be a finite number > 0, got None")
        finite_or_none(amount, "FixedAmount", "amount")
        self.amount = amount

    def size(self, request: OrderRequest, context: RiskContext, price: float) -> Size:
        """Return ``amount`` (plus the cover of an opposite position).

        Args:
            request: The entry order.
            context: Account and prices now.
            price: The order's valuation price.

        Returns:
            The order amount.
        """
        return Size(self.cover(request, context) + self.amount, f"fixed amount {self.amount:g}")

    def __repr__(self) -> str:
        return f"FixedAmount(amount={self.amount!r})"


class FixedNotional(Sizer):
    """Every entry order trades the same value in quote currency, at the current price.

    Args:
        notional: Order value in quote currency; amount = notional / price.

    Raises:
        ConfigError: If the notional is not a finite number > 0.

    Examples:
        >>> FixedNotional(notional=1_000.0)
        FixedNotional(notional=1000.0)
    """

    def __init__(self, notional: float) -> None:
        if notional is None:
            raise ConfigError("FixedNotional: notional must be a finite number > 0, got None")
        finite_or_none(notional, "FixedNotional", "notional")
        self.notional = notional

    def size(self, request: OrderRequest, context: RiskContext, price: float) -> Size:
        """Return ``notional / price`` (plus the cover of an opposite position).

        Args:
            request: The entry order.
            context: Account and prices now.
            price: The order's valuation price.

        Returns:
            The order amount.
        """
        unit = context.market(request.symbol).unit_value(price)  # a contract's notional
        amount = self.cover(request, context) + self.notional / unit
        return Size(amount, f"fixed notional {self.notional:g} at {price:g}")

    def __repr__(self) -> str:
        return f"FixedNotional(notional={self.notional!r})"


class FixedFraction(Sizer):
    """Size entries so the position is worth ``fraction`` of equity after the order.

    Equity is ``context.portfolio.equity()``: cash plus positions marked at the latest closes.
    Only the difference to the position held is ordered; a position already at or past the
    target in the order's direction makes the entry a reject.

    Args:
        fraction: Position value as a fraction of equity, in (0, 10] (above 1 needs leverage).

    Raises:
        ConfigError: If the fraction is out of range.

    Examples:
        >>> FixedFraction(fraction=0.25)
        FixedFraction(fraction=0.25)
    """

    def __init__(self, fraction: float) -> None:
        check_fraction(fraction, "FixedFraction", "fraction")
        self.fraction = fraction

    def size(self, request: OrderRequest, context: RiskContext, price: float) -> Size | str:
        """Return the amount that brings the position to ``fraction * equity / price``.

        Args:
            request: The entry order.
            context: Account and prices now.
            price: The order's valuation price.

        Returns:
            The order amount, or why there is nothing to order.
        """
        equity = context.portfolio.equity()
        if equity <= 0:
            return f"equity is {equity:g}: nothing to size against"
        basis = f"{self.fraction:g} of equity {equity:g} at {price:g}"
        unit = context.market(request.symbol).unit_value(price)  # a contract's notional
        return self.to_target(request, context, self.fraction * equity / unit, basis)

    def __repr__(self) -> str:
        return f"FixedFraction(fraction={self.fraction!r})"


class _Volatility:
    """One symbol's per-bar volatility: Wilder's ATR (running) and a ring of returns."""

    __slots__ = ("atr", "close_time", "count", "prev_close", "ring", "tr_sum")

    def __init__(self, window: int, method: str) -> None:
        self.close_time = -1
        self.prev_close = math.nan
        self.count = 0  # bars measured: true ranges or returns
        self.tr_sum = 0.0
        self.atr = math.nan
        self.ring: npt.NDArray[np.float64] | None = (
            np.zeros(window, dtype=np.float64) if method == "stdev" else None
        )

    def update(self, high: float, low: float, close: float, window: int) -> None:
        """Measure one bar (the first bar only supplies the previous close)."""
        prev = self.prev_close
        self.prev_close = close
        if math.isnan(prev):  # the first bar
            return
        ring = self.ring
        if ring is not None:
            ring[self.count % window] = close / prev - 1.0
            self.count += 1
            return
        tr = max(high - low, abs(high - prev), abs(low - prev))
        count = self.count + 1
        self.count = count
        if count < window:
            self.tr_sum += tr
        elif count == window:
            self.atr = (self.tr_sum + tr) / window
        else:
            self.atr += (tr - self.atr) / window

    def per_bar(self, price: float) -> float:
        """Volatility of one bar in price units (ATR, or stdev of returns times ``price``)."""
        if self.ring is None:
            return self.atr
        return float(np.std(self.ring)) * price


class VolatilityTarget(Sizer):
    """Size the position so its expected volatility is ``target`` times equity.

    The per-bar volatility of one unit, in price units, is either Wilder's Average True Range
    (``method="atr"``, the definition of TA-Lib's ``ATR``: the first value is the mean of the
    first ``window`` true ranges, then ``atr += (tr - atr) / window``) or the population
    standard deviation of the last ``window`` close-to-close returns times the price
    (``method="stdev"``). The position amount is ``target * equity / volatility``, its value
    capped at ``max_fraction * equity``. With ``annualize=True`` the volatility is scaled by
    ``sqrt(bars per 365-day year)`` (from ``context.timeframe``), so ``target`` is a yearly
    volatility.

    Bars are measured in `on_bar`. Until ``window`` bars were measured (each needs the close
    before it, so ``window + 1`` bars) entries are rejected ("warming up: 7 of 20 bars").
    Symbols listed in ``symbols`` are measured from the run's first bar; any other symbol from
    the first order the policy sees for it. `reset` keeps the measurements.

    Args:
        target: Volatility wanted as a fraction of equity (per bar, or per year).
        window: Bars in the ATR smoothing or the return window.
        method: ``"atr"`` or ``"stdev"``.
        annualize: Whether ``target`` is a yearly volatility.
        max_fraction: Cap on the position value as a fraction of equity, in (0, 10].
        symbols: Symbols to measure from the first bar.

    Raises:
        ConfigError: If a setting is out of range.

    Examples:
        >>> VolatilityTarget(0.01, window=14)
        VolatilityTarget(target=0.01, window=14, method='atr', annualize=False, max_fraction=1.0)
    """

    def __init__(
        self,
        target: float,
        *,
        window: int = 20,
        method: Literal["atr", "stdev"] = "atr",
        annualize: bool = False,
        max_fraction: float = 1.0,
        symbols: Sequence[str] = (),
    ) -> None:
        check_fraction(target, "VolatilityTarget", "target")
        check_window(window, "VolatilityTarget")
        if method not in ("atr", "stdev"):
            raise ConfigError(f"VolatilityTarget: method must be 'atr' or 'stdev', got {method!r}")
        check_fraction(max_fraction, "VolatilityTarget", "max_fraction")
        self.target = target
        self.window = window
        self.method = method
        self.annualize = bool(annualize)
        self.max_fraction = max_fraction
        self._state: dict[str, _Volatility] = {s: _Volatility(window, method) for s in symbols}

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Measure each tracked symbol's new bar (O(1) per symbol).

        Args:
            context: Account and prices now.

        Returns:
            No orders.
        """
        window = self.window
        for symbol, state in self._state.items():
            bar = context.last_bar(symbol)
            if bar is None or bar.close_time == state.close_time:
                continue
            state.close_time = bar.close_time
            state.update(bar.high, bar.low, bar.close, window)
        return ()

    def on_history(self, context: RiskContext) -> None:
        """Measure a bar of the history loaded at start, for every symbol of the run.

        Args:
            context: Bars as of that step.
        """
        for symbol in context.symbols:
            if symbol not in self._state:
                self._state[symbol] = _Volatility(self.window, self.method)
        self.on_bar(context)

    def volatility(self, symbol: str, context: RiskContext, price: float) -> float:
        """The volatility of one unit of ``symbol`` the sizing uses, in price units.

        Args:
            symbol: Market symbol.
            context: Gives the bar length for annualisation.
            price: Price that turns the stdev of returns into price units.

        Returns:
            Per bar (or per year when ``annualize``); ``nan`` while warming up.
        """
        state = self._state.get(symbol)
        if state is None or state.count < self.window:
            return math.nan
        vol = state.per_bar(price)
        if self.annualize:
            vol *= math.sqrt(YEAR_NS / context.timeframe(symbol))
        return vol

    def size(self, request: OrderRequest, context: RiskContext, price: float) -> Size | str:
        """Return the amount that brings the position to the volatility target.

        Args:
            request: The entry order.
            context: Account and prices now.
            price: The order's valuation price.

        Returns:
            The order amount, or why there is nothing to order.
        """
        symbol = request.symbol
        state = self._state.get(symbol)
        if state is None:
            state = self._state[symbol] = _Volatility(self.window, self.method)
        if state.count < self.window:
            return f"warming up: {state.count} of {self.window} bars"
        vol = self.volatility(symbol, context, price)
        equity = context.portfolio.equity()
        if equity <= 0:
            return f"equity is {equity:g}: nothing to size against"
        cap = self.max_fraction * equity / price
        wanted = self.target * equity / vol if vol > 0 else math.inf  # no movement: the cap
        if wanted > cap:
            basis = f"capped at {self.max_fraction:g} of equity {equity:g} at {price:g}"
            return self.to_target(request, context, cap, basis)
        basis = f"volatility {vol:.6g} per unit, {self.target:g} of equity {equity:g}"
        return self.to_target(request, context, wanted, basis)

    def __repr__(self) -> str:
        return (
            f"VolatilityTarget(target={self.target!r}, window={self.window!r}, "
            f"method={self.method!r}, annualize={self.annualize!r}, "
            f"max_fraction={self.max_fraction!r})"
        )
