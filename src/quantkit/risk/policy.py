"""The RiskPolicy interface: every order intent passes through risk before the broker."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError

__all__ = ["Decision", "RiskAction", "RiskChain", "RiskContext", "RiskPolicy"]


class RiskAction(StrEnum):
    """What a policy decided about an order intent."""

    APPROVE = "approve"
    RESIZE = "resize"
    REJECT = "reject"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
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

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Run every policy in order.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The first refusal, else the last resize, else an approval.
        """
        final = Decision.approve(request, self.name)
        for policy in self.policies:
            decision = policy.check(request, context)
            if decision.request is None:
                return decision
            if decision.action is RiskAction.RESIZE:
                final = decision
            request = decision.request
        return final

    def reset(self) -> None:
        """Reset every policy in the chain."""
        for policy in self.policies:
            policy.reset()

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
