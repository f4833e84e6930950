"""VaRLimit: refuse orders that would take the portfolio's Value at Risk above a limit."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import structlog

from quantkit.domain.order import OrderRequest
from quantkit.errors import ConfigError
from quantkit.risk.policy import Decision, RiskContext, RiskPolicy, finite_or_none
from quantkit.risk.var import _METHODS, RollingVaR, VaRMethod

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    _Evaluate = Callable[[float], float]

__all__ = ["VaRLimit"]

_log = structlog.get_logger("quantkit.risk")
_TOLERANCE = 1e-12  # relative slack when comparing a VaR with the limit


class VaRLimit(RiskPolicy):
    """Cap the portfolio's Value at Risk, estimated over a rolling window of returns.

    Every step, `on_bar` adds each tracked symbol's simple return since the previous step (from
    ``context.price``) to a `RollingVaR`. `check` values the positions at the latest prices,
    adds the order's amount at the latest price of its symbol, and estimates the VaR of that
    pro-forma portfolio. An order that would take it above the limit is resized down (by
    bisection on the amount, then rounded down to the market's step) so that it stays within,
    or rejected if nothing fits; with ``method="monte_carlo"`` (a random estimate) it is only
    rejected. Orders that reduce a position always pass.

    Warm-up: until ``min_observations`` returns are in, orders that add exposure are rejected
    with a reason saying so (a risk limit that cannot be measured is not met).

    Symbols: those in ``symbols`` are tracked from the first bar. Any other symbol is tracked
    from the first time the policy sees it (an order or a position in it); since every
    symbol's returns must cover the same bars, adding one restarts the warm-up. List every
    symbol the strategy may trade in ``symbols`` to avoid that.

    A step earlier than the previous one (the policy reused for a new run) clears the window;
    a step seen twice counts once; a step on which a tracked symbol has no price yet adds no
    returns (and the next one starts from the prices then).

    Args:
        max_var: The limit: a fraction of equity if ``relative`` (0.02 = 2 %), else quote
            currency.
        alpha: Confidence level in (0, 1).
        horizon: Horizon in bars (>= 1).
        method: ``"parametric"``, ``"historical"``, ``"cornish_fisher"`` or ``"monte_carlo"``.
        window: Returns kept per symbol (>= 2).
        relative: Whether ``max_var`` is a fraction of the equity.
        min_observations: Returns needed before entries pass (default ``window``; between 2
            and ``window``, and at least ``horizon`` for ``historical``).
        symbols: Symbols to track from the first bar.
        paths: Draws per Monte Carlo estimate.
        seed: Seed of the Monte Carlo draws.

    Raises:
        ConfigError: If a setting is invalid.

    Examples:
        >>> VaRLimit(0.02, alpha=0.99, window=100, symbols=["BTC/USDT"])
        VaRLimit(max_var=0.02, alpha=0.99, horizon=1, method='parametric', window=100, \
relative=True, min_observations=100, symbols=('BTC/USDT',))
    """

    def __init__(
        self,
        max_var: float,
        *,
        alpha: float = 0.99,
        horizon: int = 1,
        method: VaRMethod = "parametric",
        window: int = 250,
        relative: bool = True,
        min_observations: int | None = None,
        symbols: Sequence[str] = (),
        paths: int = 10_000,
        seed: int | None = None,
    ) -> None:
        finite_or_none(max_var, "VaRLimit", "max_var")
        if isinstance(alpha, bool) or not 0.0 < alpha < 1.0:
            raise ConfigError(f"VaRLimit: alpha must be in (0, 1), got {alpha!r}")
        if method not in _METHODS:
            raise ConfigError(f"VaRLimit: method must be one of {_METHODS}, got {method!r}")
        RollingVaR(1, window=window, paths=paths)  # validates window and paths
        _positive_int(horizon, "horizon", 1)
        least = max(2, horizon) if method == "historical" else 2
        needed = window if min_observations is None else min_observations
        _positive_int(needed, "min_observations", least)
        if needed > window:
            raise ConfigError(
                f"VaRLimit: min_observations ({needed}) cannot exceed window ({window})"
            )
        if isinstance(symbols, str) or len(set(symbols)) != len(symbols):
            raise ConfigError(f"VaRLimit: symbols must be distinct names, got {symbols!r}")
        self.max_var = max_var
        self.alpha = alpha
        self.horizon = horizon
        self.method: VaRMethod = method
        self.window = window
        self.relative = relative
        self.min_observations = needed
        self.symbols = tuple(symbols)
        self.paths = paths
        self.seed = seed
        self._tracked: list[str] = []
        self._column: dict[str, int] = {}
        self._estimator: RollingVaR | None = None
        self._last = np.empty(0)
        self._have_last = False
        self._last_time = -1
        if self.symbols:
            self._track(self.symbols)

    @property
    def estimator(self) -> RollingVaR | None:
        """The rolling estimator over the tracked symbols (``None`` before any symbol)."""
        return self._estimator

    @property
    def tracked(self) -> tuple[str, ...]:
        """The symbols whose returns are in the window, in column order."""
        return tuple(self._tracked)

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Add the step's returns of the tracked symbols to the window.

        Args:
            context: Account and prices now.

        Returns:
            No orders.
        """
        now = context.now
        if now == self._last_time:  # the same step again: nothing new
            return ()
        if now < self._last_time and self._estimator is not None:  # a new run
            self._estimator.clear()
            self._have_last = False
        self._last_time = now
        column = self._column
        new = [s for s, p in context.portfolio.positions.items() if p.amount and s not in column]
        if new:
            self._track(new)
        if self._estimator is None:
            return ()
        prices = np.fromiter(
            (context.price(s) for s in self._tracked), np.float64, len(self._tracked)
        )
        if not (np.isfinite(prices).all() and (prices > 0).all()):
            self._have_last = False
            return ()
        if self._have_last:
            self._estimator.update(prices / self._last - 1.0)
        self._last = prices
        self._have_last = True
        return ()

    def on_history(self, context: RiskContext) -> None:
        """Add a step of the history loaded at start; every symbol of the run is tracked.

        Args:
            context: Prices as of that step.
        """
        new = [symbol for symbol in context.symbols if symbol not in self._column]
        if new:
            self._track(new)
        self.on_bar(context)

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Approve, resize or reject ``request`` by the VaR of the portfolio with it filled.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The decision.
        """
        symbol = request.symbol
        if request.reduce_only:
            return Decision.approve(request, self.name)
        mark = context.price(symbol)
        price = request.limit_price or request.stop_price or mark
        if not (math.isfinite(price) and price > 0 and math.isfinite(mark) and mark > 0):
            return Decision.reject(self.name, f"no price for {symbol} yet to value the order")
        amount = request.amount if request.amount is not None else (request.cost or 0.0) / price
        sign = request.side.sign
        held = context.portfolio.position(symbol).amount
        if held * sign < 0 and amount <= abs(held):
            return Decision.approve(request, self.name)
        estimator = self._estimator
        if symbol not in self._column or estimator is None:
            estimator = self._track([symbol])
        seen = estimator.observations
        if seen < self.min_observations:
            return Decision.reject(
                self.name,
                f"VaR warming up: {seen} of {self.min_observations} returns of "
                f"{', '.join(self._tracked)} so far",
            )
        limit = self._limit(context)
        if limit <= 0:
            return Decision.reject(self.name, f"VaR limit is {limit:g} (equity not positive)")
        base = self._values(context)
        column = self._column[symbol]
        step = sign * mark

        def var_with(units: float) -> float:
            values = base.copy()
            values[column] += units * step
            return self._var(estimator, values)

        after = var_with(amount)
        if after <= limit * (1 + _TOLERANCE):
            return Decision.approve(request, self.name)
        return self._shrink(request, context, amount, after, limit, var_with)

    def _shrink(
        self,
        request: OrderRequest,
        context: RiskContext,
        amount: float,
        after: float,
        limit: float,
        var_with: _Evaluate,
    ) -> Decision:
        """Resize to the largest amount whose pro-forma VaR stays within ``limit``, or reject."""
        refused = (
            f"{self.alpha:g} VaR over {self.horizon} bar(s) would be {after:,.2f} with the "
            f"order of {amount:g} {request.symbol}, above the limit {limit:,.2f}"
        )
        if self.method == "monte_carlo" or var_with(0.0) > limit * (1 + _TOLERANCE):
            return Decision.reject(self.name, refused)
        low, high = 0.0, amount  # var_with(low) fits, var_with(high) does not
        while high - low > 1e-9 * amount:
            middle = 0.5 * (low + high)
            if var_with(middle) <= limit * (1 + _TOLERANCE):
                low = middle
            else:
                high = middle
        market = context.market(request.symbol)
        allowed = market.round_amount(low)
        price = request.limit_price or request.stop_price or context.price(request.symbol)
        if (
            allowed <= 0
            or allowed < market.min_amount
            or allowed * price < market.min_notional
            or var_with(allowed) > limit * (1 + _TOLERANCE)
        ):
            return Decision.reject(self.name, f"{refused}; no order of the minimum size fits")
        if request.amount is None:
            resized = dataclasses.replace(request, cost=(request.cost or 0.0) * allowed / amount)
        else:
            resized = dataclasses.replace(request, amount=allowed)
        return Decision.resize(
            resized,
            self.name,
            f"resized from {amount:g} to {allowed:g}: {self.alpha:g} VaR {after:,.2f} "
            f"would exceed the limit {limit:,.2f}",
        )

    def var(self, context: RiskContext) -> float:
        """The VaR of the current positions (NaN while warming up).

        Args:
            context: Account and prices now.

        Returns:
            VaR in quote currency.
        """
        estimator = self._estimator
        if estimator is None or estimator.observations < self.min_observations:
            return math.nan
        return self._var(estimator, self._values(context))

    def _var(self, estimator: RollingVaR, values: npt.NDArray[np.float64]) -> float:
        estimate = estimator.var(values, alpha=self.alpha, horizon=self.horizon, method=self.method)
        return estimate.var

    def _limit(self, context: RiskContext) -> float:
        if self.relative:
            return self.max_var * context.portfolio.equity()
        return self.max_var

    def _values(self, context: RiskContext) -> npt.NDArray[np.float64]:
        """Position value per tracked symbol at the latest prices."""
        portfolio = context.portfolio
        values = np.zeros(len(self._tracked))
        for j, symbol in enumerate(self._tracked):
            held = portfolio.position(symbol).amount
            if held:
                values[j] = held * context.price(symbol)
        return values

    def _track(self, symbols: Sequence[str]) -> RollingVaR:
        """Add symbols; the window restarts, as all columns must cover the same bars."""
        for symbol in symbols:
            self._column[symbol] = len(self._tracked)
            self._tracked.append(symbol)
        if self._estimator is not None:
            _log.info("var_limit_tracks_symbols", symbols=list(symbols), restarted=True)
        estimator = self._estimator = RollingVaR(
            len(self._tracked), window=self.window, paths=self.paths, seed=self.seed
        )
        self._have_last = False
        return estimator

    def __repr__(self) -> str:
        return (
            f"VaRLimit(max_var={self.max_var!r}, alpha={self.alpha!r}, horizon={self.horizon!r}, "
            f"method={self.method!r}, window={self.window!r}, relative={self.relative!r}, "
            f"min_observations={self.min_observations!r}, symbols={self.symbols!r})"
        )


def _positive_int(value: int, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"VaRLimit: {name} must be an integer >= {low}, got {value!r}")
