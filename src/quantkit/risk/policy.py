"""The RiskPolicy interface: every order intent passes through risk before the broker."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Protocol

from quantkit.domain.bars import Bar
from quantkit.domain.fill import Fill
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError

__all__ = [
    "Decision",
    "RiskAction",
    "RiskChain",
    "RiskContext",
    "RiskPolicy",
    "ScreenedPolicy",
    "hook",
    "overrides",
]


class RiskAction(StrEnum):
    """What a policy decided about an order intent (``RESUME``: a halt was lifted)."""

    APPROVE = "approve"
    RESIZE = "resize"
    REJECT = "reject"
    HALT = "halt"
    RESUME = "resume"


_APPROVE, _RESIZE = RiskAction.APPROVE, RiskAction.RESIZE


@dataclass(frozen=True, slots=True, init=False)
class Decision:
    """A policy's verdict on one order intent.

    Attributes:
        action: Approve, resize, reject or halt.
        request: The request to send on (resized for ``RESIZE``; ``None`` when refused).
        policy: Name of the policy that decided.
        reason: Why, for anything but a plain approval.
    """

    action: RiskAction
    request: OrderRequest | None
    policy: str = ""
    reason: str = ""

    def __init__(
        self, action: RiskAction, request: OrderRequest | None, policy: str = "", reason: str = ""
    ) -> None:
        # A frozen dataclass's generated __init__ assigns each field with object.__setattr__;
        # the slots' own setters cost less than half (a chain builds one decision per order).
        # Assignment from outside still raises FrozenInstanceError.
        _set_action(self, action)
        _set_request(self, request)
        _set_policy(self, policy)
        _set_reason(self, reason)

    @classmethod
    def approve(cls, request: OrderRequest, policy: str = "") -> Decision:
        """Let the request through unchanged."""
        return cls(RiskAction.APPROVE, request, policy)

    @classmethod
    def resize(cls, request: OrderRequest, policy: str, reason: str) -> Decision:
        """Let a smaller request through."""
        return cls(RiskAction.RESIZE, request, policy, reason)

    @classmethod
    def reject(cls, policy: str, reason: str) -> Decision:
        """Refuse this request."""
        return cls(RiskAction.REJECT, None, policy, reason)

    @classmethod
    def halt(cls, policy: str, reason: str) -> Decision:
        """Refuse this request and stop all new entries until reset."""
        return cls(RiskAction.HALT, None, policy, reason)

    @property
    def allowed(self) -> bool:
        """Whether a request goes on to the broker."""
        return self.request is not None


# The slots' setters of Decision's fields, in field order (see Decision.__init__).
_set_action, _set_request, _set_policy, _set_reason = (
    vars(Decision)[f.name].__set__ for f in fields(Decision)
)


class RiskContext(Protocol):
    """What a policy may look at (the engine implements it)."""

    @property
    def now(self) -> int:
        """Current time, ns since the epoch."""
        ...

    @property
    def portfolio(self) -> Portfolio:
        """The account, marked at the latest closes."""
        ...

    def price(self, symbol: str) -> float:
        """Latest close of ``symbol`` (``nan`` before its first bar)."""
        ...

    def market(self, symbol: str) -> Market:
        """The market of ``symbol``."""
        ...

    def bar_time(self, symbol: str) -> int:
        """Close time of ``symbol``'s latest bar, ns (``-1`` before its first bar)."""
        ...

    def last_bar(self, symbol: str) -> Bar | None:
        """``symbol``'s latest closed bar (``None`` before its first bar or if unknown)."""
        ...

    def timeframe(self, symbol: str) -> int:
        """Bar length of ``symbol``, ns."""
        ...

    def equity(self) -> float:
        """Cash plus positions marked at the latest closes (``portfolio.equity()``, cheaper)."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """The run's tradable symbols, known from the start (informative series excluded)."""
        ...

    def record(self, policy: str, action: RiskAction, reason: str, symbol: str = "") -> None:
        """Keep a risk event that is not a decision on one order (a breaker trips or resets).

        The event joins the run's risk events (``Result.risk_events``; logged in live runs).
        """
        ...


class RiskPolicy(ABC):
    """Approve, resize or reject each order intent, or halt trading. Subclass it.

    Policies are stateless between calls unless they say otherwise; compose them with
    `RiskChain` (a chain is itself a policy).
    """

    @property
    def name(self) -> str:
        """The policy's name in decisions and logs (default: the class name)."""
        return type(self).__name__

    @abstractmethod
    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Decide about one order intent.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The decision.
        """

    def reset(self) -> None:
        """Clear a halt or other state (default: nothing to clear)."""

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Update the policy's state after a step's bars closed (override it if you need to).

        Called once per step, after the broker matched the working orders against the new
        bars and before the strategy sees them, in backtests and live runs alike; a policy
        that does not override it costs nothing. Breakers trip here, VaR estimates update here.

        Args:
            context: Account and prices now.

        Returns:
            Orders to place now, before the strategy runs, for example reduce-only market
            orders that flatten the positions when a loss limit trips. They skip risk checks
            and reach the broker as they are.
        """
        return ()

    def on_history(self, context: RiskContext) -> None:
        """Learn from one bar of the history loaded before the run (override it if you need to).

        The engine calls it for each step of the bars it loads at start, oldest first: a
        backtest's ``warmup`` bars, a paper or live run's warm-up history (after a restart
        too), with ``context`` on that step. Sizers and limits that need a window of history
        (volatility, Kelly from returns, VaR) measure here, so they are ready when the first
        bar of the run arrives. Nothing is placed and nothing is decided.

        Args:
            context: Prices and bars as of that step (``context.symbols`` lists every symbol).
        """

    def on_fill(self, fill: Fill, context: RiskContext) -> None:
        """Learn from an execution (override it if you need to; e.g. Kelly sizing's trades).

        Args:
            fill: The execution, already booked in ``context.portfolio``.
            context: Account and prices now.
        """


class ScreenedPolicy(RiskPolicy):
    """A policy whose check has a cheaper form for chains: `screen`. Subclass it.

    `screen` returns ``None`` for a plain approval of the request as it is (no `Decision`
    built) and receives the marked account and the order's symbol's latest price from its
    caller, so a `RiskChain` of screened policies reads them once per order and builds one
    decision, its own. ``check``
    is ``screen`` with the account fetched from the context. A subclass that overrides
    ``check`` is called through its ``check``, in chains too.
    """

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Decide about one order intent (`screen`, with a built approval for ``None``).

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The decision.
        """
        price = context.price(request.symbol)
        decision = self.screen(request, context, context.portfolio, price)
        return Decision(_APPROVE, request, self.name) if decision is None else decision

    @abstractmethod
    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """Decide about one order intent; ``None`` approves it unchanged.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: ``context.portfolio``, fetched (and marked) once by the caller.
            price: ``context.price(request.symbol)``, fetched once by the caller (``nan``
                before the symbol's first bar).

        Returns:
            ``None`` to approve ``request`` as it is, else the decision.
        """

    @classmethod
    def screens_its_check(cls) -> bool:
        """Whether ``check`` is `screen` plus a built approval, so a chain may call `screen`.

        False when a subclass overrides ``check``: its own code then decides, in chains too.
        A class that replaces ``check`` with an equivalent of its own (a cheaper one) says
        so by overriding this.

        Returns:
            Whether calling `screen` decides exactly as calling ``check``.
        """
        return cls.check is ScreenedPolicy.check


def overrides(policy: RiskPolicy, hook: str) -> bool:
    """Whether ``policy`` overrides the hook ``hook`` of `RiskPolicy` (engines skip it if not).

    Args:
        policy: The policy.
        hook: ``"on_bar"``, ``"on_fill"`` or ``"on_history"``.

    Returns:
        True if the policy's class (or, for a chain, one of its policies) implements it.
    """
    if isinstance(policy, RiskChain):
        return any(overrides(member, hook) for member in policy.policies)
    return getattr(type(policy), hook) is not getattr(RiskPolicy, hook)


def hook(policy: RiskPolicy | None, name: str) -> Any:
    """The cheapest callable for an engine to call ``policy``'s hook ``name``, or ``None``.

    ``None`` when nothing in the policy overrides the hook; for a chain with a single policy
    that does, that policy's own bound method (no chain loop in between).

    Args:
        policy: The run's policy, if any.
        name: ``"on_bar"``, ``"on_fill"`` or ``"on_history"``.

    Returns:
        The bound method, or ``None``.
    """
    if policy is None or not overrides(policy, name):
        return None
    if isinstance(policy, RiskChain):
        members = [member for member in policy.policies if overrides(member, name)]
        if len(members) == 1:
            return hook(members[0], name)
    return getattr(policy, name)


def _screen_of(policy: RiskPolicy) -> Any:
    """``policy``'s bound `ScreenedPolicy.screen` if it decides as its check does, else None."""
    if isinstance(policy, ScreenedPolicy) and type(policy).screens_its_check():
        return policy.screen
    return None


class RiskChain(RiskPolicy):
    """Policies applied in order: a resize passes the smaller request on; a refusal stops.

    Args:
        policies: The policies, first applied first.

    Raises:
        ConfigError: If an element is not a RiskPolicy.
    """

    def __init__(self, policies: Sequence[RiskPolicy]) -> None:
        for policy in policies:
            if not isinstance(policy, RiskPolicy):
                raise ConfigError(f"RiskChain: {policy!r} is not a RiskPolicy")
        self.policies = tuple(policies)
        # each member with its screen when that may be called instead of its check, else None
        self._steps = tuple((_screen_of(policy), policy) for policy in self.policies)
        self._screened = any(screen is not None for screen, _ in self._steps)
        self._bar_policies = tuple(p for p in self.policies if overrides(p, "on_bar"))
        self._fill_policies = tuple(p for p in self.policies if overrides(p, "on_fill"))

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Run every policy in order.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The first refusal, else the last resize, else an approval.
        """
        if not self._screened:
            return self._fold(request, context)
        original = request
        final: Decision | None = None  # the last resize
        portfolio = context.portfolio  # marked once for every screened member
        symbol = request.symbol
        price = context.price(symbol)
        for screen, policy in self._steps:
            if screen is None:
                decision = policy.check(request, context)
            else:
                screened = screen(request, context, portfolio, price)
                if screened is None:  # approved as it is
                    continue
                decision = screened
            sent = decision.request
            if sent is None:
                return decision
            if decision.action is _RESIZE:
                final = decision
            request = sent
            if sent.symbol != symbol:  # handed on as an order on another symbol
                symbol = sent.symbol
                price = context.price(symbol)
        if final is None:
            return Decision(_APPROVE, original, self.name)
        return final

    def _fold(self, request: OrderRequest, context: RiskContext) -> Decision:
        """`check` for a chain without screened members: every member's ``check`` in turn."""
        original = request
        final: Decision | None = None  # the last resize
        for policy in self.policies:
            decision = policy.check(request, context)
            sent = decision.request
            if sent is None:
                return decision
            if decision.action is _RESIZE:
                final = decision
            request = sent
        if final is None:
            return Decision(_APPROVE, original, self.name)
        return final

    def reset(self) -> None:
        """Reset every policy in the chain."""
        for policy in self.policies:
            policy.reset()

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Update every policy that tracks bars, in order; collect the orders they ask for.

        Args:
            context: Account and prices now.

        Returns:
            The policies' orders, in chain order.
        """
        orders: list[OrderRequest] = []
        for policy in self._bar_policies:
            asked = policy.on_bar(context)
            if asked:
                orders.extend(asked)
        return orders

    def on_history(self, context: RiskContext) -> None:
        """Show one bar of history to every policy that learns from it, in order.

        Args:
            context: Prices and bars as of that step.
        """
        for policy in self.policies:
            if overrides(policy, "on_history"):
                policy.on_history(context)

    def on_fill(self, fill: Fill, context: RiskContext) -> None:
        """Tell every policy that tracks fills.

        Args:
            fill: The execution.
            context: Account and prices now.
        """
        for policy in self._fill_policies:
            policy.on_fill(fill, context)

    def __repr__(self) -> str:
        return f"RiskChain({list(self.policies)!r})"


def finite_or_none(value: float | None, owner: str, name: str) -> None:
    """Raise ConfigError unless ``value`` is ``None`` or a finite number > 0.

    Args:
        value: The value to check.
        owner: Component name for the message.
        name: Parameter name for the message.

    Raises:
        ConfigError: If the value is invalid.
    """
    if value is not None and (isinstance(value, bool) or not math.isfinite(value) or value <= 0):
        raise ConfigError(f"{owner}: {name} must be a finite number > 0, got {value!r}")


def positive_required(value: float | None, owner: str, name: str) -> float:
    """Return ``value`` if it is a finite number > 0; raise ConfigError naming it otherwise.

    Args:
        value: The setting (``None`` when it was not given).
        owner: Component name for the message.
        name: Parameter name for the message.

    Returns:
        The value.

    Raises:
        ConfigError: If the value is missing or invalid.
    """
    if value is None:
        raise ConfigError(f"{owner}: {name} is required")
    finite_or_none(value, owner, name)
    return value
