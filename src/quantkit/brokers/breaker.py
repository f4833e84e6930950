"""A circuit breaker for calls to a venue: stop sending after repeated failures, then probe.

The rule::

    closed  --(``failures`` consecutive failures)-->  open
    open    --(``reset_after`` seconds)------------->  half_open   (one trial call allowed)
    half_open --(trial succeeds)-->  closed
    half_open --(trial fails)----->  open                          (the timer starts again)

A success while closed resets the count of consecutive failures. Every transition is logged on
the ``"quantkit.live"`` structlog logger (``circuit_breaker_opened``,
``circuit_breaker_half_open``, ``circuit_breaker_closed``) with the breaker's name and reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from quantkit.errors import ConfigError

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    """Where a `CircuitBreaker` stands."""

    CLOSED = "closed"
    """Calls go through."""
    OPEN = "open"
    """Calls are refused until ``reset_after`` seconds have passed."""
    HALF_OPEN = "half_open"
    """One trial call may go through; its outcome closes or reopens the breaker."""


class CircuitBreaker:
    """Refuse calls after ``failures`` consecutive failures; let one trial through later.

    Ask `allow` before each call and report its outcome with `record_success` or
    `record_failure`. Not thread-safe; use it from one event loop.

    Args:
        failures: Consecutive failures that open the breaker.
        reset_after: Seconds the breaker stays open before it lets one trial through.
        clock: Monotonic seconds (inject a fake one in tests).
        name: What the breaker guards, for the logs (e.g. ``"orders"``).

    Raises:
        ConfigError: If ``failures`` is not a positive integer or ``reset_after`` is not a
            positive number of seconds.

    Examples:
        >>> from structlog.testing import capture_logs
        >>> now = [0.0]
        >>> breaker = CircuitBreaker(failures=2, reset_after=10.0, clock=lambda: now[0])
        >>> with capture_logs() as logs:
        ...     breaker.record_failure("timeout")
        ...     breaker.record_failure("timeout")
        ...     refused = breaker.allow()
        ...     now[0] = 10.0
        ...     trials = breaker.allow(), breaker.allow()
        ...     breaker.record_success()
        >>> refused, trials, breaker.state
        (False, (True, False), <BreakerState.CLOSED: 'closed'>)
        >>> [log["event"] for log in logs]
        ['circuit_breaker_opened', 'circuit_breaker_half_open', 'circuit_breaker_closed']
    """

    def __init__(
        self,
        *,
        failures: int = 5,
        reset_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "orders",
    ) -> None:
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise ConfigError(
                f"circuit breaker {name!r}: failures must be an integer >= 1, got {failures!r}"
            )
        if (
            isinstance(reset_after, bool)
            or not isinstance(reset_after, int | float)
            or not (math.isfinite(reset_after) and reset_after > 0)
        ):
            raise ConfigError(
                f"circuit breaker {name!r}: reset_after must be a positive number of seconds, "
                f"got {reset_after!r}"
            )
        self._threshold = failures
        self._reset_after = float(reset_after)
        self._clock = clock
        self.name = name
        self._state = BreakerState.CLOSED
        self._count = 0
        self._last_failure = ""
        self._opened_at: float | None = None
        self._trial_taken = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker turns half-open once ``reset_after`` has passed)."""
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and self._clock() - self._opened_at >= self._reset_after
        ):
            self._state = BreakerState.HALF_OPEN
            self._trial_taken = False
            self._log("circuit_breaker_half_open")
        return self._state

    @property
    def reason(self) -> str | None:
        """Why the breaker is open or half-open (last failure and count); ``None`` when closed."""
        if self.state is BreakerState.CLOSED:
            return None
        return f"{self._count} consecutive failures, last: {self._last_failure}"

    @property
    def opened_at(self) -> float | None:
        """Clock reading when the breaker last opened; ``None`` while closed."""
        return None if self._state is BreakerState.CLOSED else self._opened_at

    def allow(self) -> bool:
        """Whether a call may go through now.

        Returns:
            ``True`` while closed; ``False`` while open; in half-open, ``True`` once (the trial)
            and ``False`` until that trial's outcome is recorded.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_taken:
            self._trial_taken = True
            return True
        return False

    def record_success(self) -> None:
        """Report a successful call: closes a half-open breaker, resets the failure count.

        A success reported while open (a call sent before it opened) changes nothing.
        """
        state = self.state
        if state is BreakerState.OPEN:
            return
        self._count = 0
        if state is BreakerState.HALF_OPEN:
            self._state = BreakerState.CLOSED
            self._opened_at = None
            self._log("circuit_breaker_closed", reason="trial call succeeded")

    def record_failure(self, reason: str) -> None:
        """Report a failed call: may open the breaker (or reopen it after a failed trial).

        Args:
            reason: What went wrong, for `reason` and the logs.
        """
        state = self.state
        self._count += 1
        self._last_failure = reason
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and self._count >= self._threshold
        ):
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._log("circuit_breaker_opened")

    def _log(self, event: str, *, reason: str | None = None) -> None:
        logger: Any = _logger()
        logger.warning(
            event,
            name=self.name,
            state=str(self._state),
            reason=reason or f"{self._count} consecutive failures, last: {self._last_failure}",
        )

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state.value!r})"


def _logger() -> Any:
    import structlog  # noqa: PLC0415 - keep `import quantkit` light

    return structlog.get_logger("quantkit.live")
