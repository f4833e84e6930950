"""Fault injection of the local exchange: the plan of what goes wrong, and when.

The plan is shared between the test's thread and the server's event loop, so every method takes
a lock; tests may change it while the server runs.

Faults form a queue: each request takes the first fault whose path (and method, when the fault
names one) matches and that has uses left, and uses it up once. ``plan.rate_limit(
"/api/v3/klines", times=2)`` followed by ``plan.truncate("/api/v3/klines", keep=10)`` answers
two klines requests with 429, then cuts the third answer to ten rows, then serves normally. A
fault planned ``for_seconds`` instead answers every matching request until its span, measured
on the plan's clock, is over ("lookups fail for the next 30 s").

What a fault does to the request, Binance's failure modes (``errors.md`` and ``rest-api.md`` in
``binance/binance-spot-api-docs``):

* ``"status"``: answer an error status without acting (500 before acting, 429/418 with
  ``Retry-After``, 503 ``-1008`` "overloaded", which is never acted on);
* ``"accept"``: act, then lose the answer: an error status after ``seconds`` (500 after
  acting; with ``seconds`` past the client's timeout, a timeout after acting);
* ``"hold"``: do not act; answer ``status`` only after ``seconds`` (a timeout before acting);
* ``"drop"``: close the connection without an answer, before acting or, with ``acted``,
  after;
* ``"unknown"``: answer 503 ``-1007`` at once; the request takes effect ``execute_after``
  seconds later, or never (``None``). Until then a lookup of the order answers ``-2013``;
* ``"delay"`` and ``"truncate"``: answer late, or cut a list answer short;
* ``"half"`` (cancelReplace only): the cancel is done and the new order is refused (409
  ``-2021`` with Binance's ``data``), or, with ``execute_after`` set (or ``unknown``), answered
  503 ``-1007`` and placed later or never.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from quantkit.errors import ConfigError
from quantkit.testing.fault_spec import (
    LOOKUP_PATHS,
    ORDER_PATHS,
    OVERLOADED_BODY,
    TIMEOUT_BODY,
    Fault,
    FaultKind,
    Paths,
)
from quantkit.testing.request_log import RequestLog, RequestRecord

__all__ = [
    "LOOKUP_PATHS",
    "ORDER_PATHS",
    "OVERLOADED_BODY",
    "TIMEOUT_BODY",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "RequestLog",
    "RequestRecord",
]

Draw = Callable[[str, "str | None"], "Fault | None"]
"""Draws a fault for a request's path and method, or ``None`` (see `FaultPlan.randomly`)."""


@dataclass(slots=True)
class _Planned:
    fault: Fault
    left: int | None  # uses left; None while a span lasts
    until: float | None = None  # end of the span on the plan's clock


def _check_status(status: int) -> None:
    if not 400 <= status <= 599:
        raise ConfigError(f"status must be an HTTP error status (400-599), got {status}")


def _check_seconds(seconds: float | None, name: str = "seconds") -> None:
    if seconds is not None and not seconds >= 0:
        raise ConfigError(f"{name} must be >= 0, got {seconds}")


class FaultPlan:
    """The queue of faults the local exchange will inject, settable while it runs.

    Args:
        clock: Seconds on a monotonic clock, for spans (``for_seconds``);
            ``time.monotonic`` by default. Tests may pass their own to end a span at will.

    Examples:
        >>> plan = FaultPlan()
        >>> plan.fail("/api/v3/klines", status=503, times=2)
        >>> [plan.take("/api/v3/klines").describe() for _ in range(2)], plan.take("/api/v3/klines")
        (['503', '503'], None)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Planned] = []
        self.clock = clock
        """Seconds on a monotonic clock, for spans; replace it to end a span at will."""
        self._random: Draw | None = None

    def randomly(self, draw: Draw | None) -> None:
        """Draw a fault for every request no planned fault claims (chaos runs).

        Args:
            draw: Called with a request's path and method, returns a fault or ``None``, e.g.
                ``RandomFaults(0.1, CHAOS_FAULTS, seed="run").draw``; ``None`` stops drawing.
        """
        with self._lock:
            self._random = draw

    def _add(self, fault: Fault, times: int, for_seconds: float | None = None) -> None:
        if times < 1:
            raise ConfigError(f"times must be at least 1, got {times}")
        _check_seconds(for_seconds, "for_seconds")
        with self._lock:
            if for_seconds is None:
                self._queue.append(_Planned(fault, times))
            else:
                self._queue.append(_Planned(fault, None, self.clock() + for_seconds))

    def fail(
        self,
        path: Paths = None,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
        body: str | None = None,
        method: str | None = None,
        for_seconds: float | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with an error status, without acting.

        Args:
            path: Request path(s) to match; ``None`` matches any.
            status: HTTP status, e.g. 500, 502, 503, 504, 429 or 418.
            times: How many requests to fail.
            retry_after: Seconds sent in a ``Retry-After`` header, if given.
            body: Body to answer; a default fitting the status otherwise.
            method: HTTP method to match; ``None`` matches any.
            for_seconds: Fail every matching request for this long instead (``times`` is
                then ignored), e.g. ``fail(LOOKUP_PATHS, method="GET", for_seconds=30)``.

        Raises:
            ConfigError: If the status is not an error status, ``times`` < 1 or
                ``for_seconds`` < 0.
        """
        _check_status(status)
        fault = Fault(
            "status", path, status=status, retry_after=retry_after, body=body, method=method
        )
        self._add(fault, times, for_seconds)

    def rate_limit(
        self, path: str | None = None, *, times: int = 1, retry_after: float | None = 1.0
    ) -> None:
        """Answer the next ``times`` matching requests with 429 Too Many Requests.

        Args:
            path: Request path to match; ``None`` matches any.
            times: How many requests to refuse.
            retry_after: Seconds sent in the ``Retry-After`` header; ``None`` sends none.

        Raises:
            ConfigError: If ``times`` < 1.
        """
        self.fail(path, status=429, times=times, retry_after=retry_after)

    def delay(self, path: str | None = None, *, seconds: float, times: int = 1) -> None:
        """Answer the next ``times`` matching requests normally, but only after ``seconds``.

        Args:
            path: Request path to match; ``None`` matches any.
            seconds: The delay.
            times: How many requests to slow down.

        Raises:
            ConfigError: If ``seconds`` is negative or ``times`` < 1.
        """
        _check_seconds(seconds)
        self._add(Fault("delay", path, seconds=seconds), times)

    def accept_then_fail(
        self,
        path: str | None = "/api/v3/order",
        *,
        status: int = 503,
        seconds: float = 0.0,
        times: int = 1,
    ) -> None:
        """Carry out the next ``times`` matching requests, then lose their answers.

        The request takes effect (an order is placed, canceled, ...), but the client gets
        ``status`` instead of the answer, after ``seconds``: a client timeout shorter than
        ``seconds`` sees a timeout instead. This is "the venue accepted my order but I never
        heard back", which a live broker must reconcile. The path matches every method, so
        plan it just before the request it is meant for.

        Args:
            path: Request path to match (orders by default); ``None`` matches any.
            status: HTTP error status answered instead of the real answer.
            seconds: Delay before that answer.
            times: How many answers to lose.

        Raises:
            ConfigError: If the status is not an error status, ``seconds`` is negative or
                ``times`` < 1.
        """
        _check_status(status)
        _check_seconds(seconds)
        self._add(Fault("accept", path, status=status, seconds=seconds), times)

    def truncate(self, path: str | None = "/api/v3/klines", *, keep: int, times: int = 1) -> None:
        """Cut the list answered to the next ``times`` matching requests to ``keep`` rows.

        Args:
            path: Request path to match (klines by default); ``None`` matches any.
            keep: Rows to keep from the start of the page.
            times: How many answers to cut.

        Raises:
            ConfigError: If ``keep`` is negative or ``times`` < 1.
        """
        if keep < 0:
            raise ConfigError(f"keep must be >= 0, got {keep}")
        self._add(Fault("truncate", path, keep=keep), times)

    def server_error(
        self,
        path: Paths = ORDER_PATHS,
        *,
        method: str | None = None,
        acted: bool = False,
        status: int = 500,
        times: int = 1,
    ) -> None:
        """Answer an error status (500 by default) before acting or, with ``acted``, after.

        Args:
            path: Request path(s) to match (the order endpoints by default).
            method: HTTP method to match, e.g. ``"DELETE"`` for cancels; ``None`` for any.
            acted: Carry the request out first (the order is placed or canceled all the same).
            status: The HTTP error status.
            times: How many requests to fail.

        Raises:
            ConfigError: If the status is not an error status or ``times`` < 1.
        """
        _check_status(status)
        kind: FaultKind = "accept" if acted else "status"
        self._add(Fault(kind, path, status=status, method=method), times)

    def timeout(
        self,
        path: Paths = ORDER_PATHS,
        *,
        method: str | None = None,
        acted: bool = False,
        seconds: float = 30.0,
        times: int = 1,
    ) -> None:
        """Hold the answer past the client's timeout, before acting or, with ``acted``, after.

        The server answers 504 after ``seconds`` (a client with a shorter timeout sees a
        timeout); before acting, the request never takes effect.

        Args:
            path: Request path(s) to match (the order endpoints by default).
            method: HTTP method to match; ``None`` for any.
            acted: Carry the request out at once, then hold its answer.
            seconds: How long the answer is held.
            times: How many requests to hold.

        Raises:
            ConfigError: If ``seconds`` < 0 or ``times`` < 1.
        """
        _check_seconds(seconds)
        kind: FaultKind = "accept" if acted else "hold"
        self._add(Fault(kind, path, status=504, seconds=seconds, method=method), times)

    def disconnect(
        self,
        path: Paths = ORDER_PATHS,
        *,
        method: str | None = None,
        acted: bool = False,
        times: int = 1,
    ) -> None:
        """Close the connection without an answer, before acting or, with ``acted``, after.

        aiohttp (under ccxt) sends an idempotent request (``GET``, ``DELETE``) once more when a
        reused connection is dropped; plan ``times=2`` for the client to see the failure.

        Args:
            path: Request path(s) to match (the order endpoints by default).
            method: HTTP method to match; ``None`` for any.
            acted: Carry the request out before closing.
            times: How many connections to drop.

        Raises:
            ConfigError: If ``times`` < 1.
        """
        self._add(Fault("drop", path, method=method, acted=acted), times)

    def unknown_outcome(
        self,
        path: Paths = ORDER_PATHS,
        *,
        method: str | None = None,
        execute_after: float | None = 1.0,
        times: int = 1,
    ) -> None:
        """Answer 503 ``-1007`` at once; carry the request out ``execute_after`` s later.

        Until it takes effect, a lookup of the order answers ``-2013`` and open orders lack it.
        ``execute_after=None`` never carries it out by itself (`LocalExchange.execute_pending`
        does, when a test says so).

        Args:
            path: Request path(s) to match (the order endpoints by default).
            method: HTTP method to match; ``None`` for any.
            execute_after: Seconds until the request takes effect; ``None`` for never.
            times: How many requests to treat so.

        Raises:
            ConfigError: If ``execute_after`` < 0 or ``times`` < 1.
        """
        _check_seconds(execute_after, "execute_after")
        fault = Fault("unknown", path, status=503, method=method, execute_after=execute_after)
        self._add(fault, times)

    def overloaded(
        self,
        path: Paths = ORDER_PATHS,
        *,
        method: str | None = None,
        times: int = 1,
        for_seconds: float | None = None,
    ) -> None:
        """Answer 503 ``-1008`` (server overloaded), never acting: safe to retry.

        Args:
            path: Request path(s) to match (the order endpoints by default).
            method: HTTP method to match; ``None`` for any.
            times: How many requests to refuse.
            for_seconds: Refuse every matching request for this long instead.

        Raises:
            ConfigError: If ``times`` < 1 or ``for_seconds`` < 0.
        """
        self.fail(path, status=503, times=times, body=OVERLOADED_BODY, method=method,
                  for_seconds=for_seconds)  # fmt: skip

    def half_replace(
        self, *, unknown: bool = False, execute_after: float | None = None, times: int = 1
    ) -> None:
        """Make cancelReplace half-succeed: the cancel is done, the new order is not.

        By default the new order is refused: 409 ``-2021`` "Order cancel-replace partially
        failed." with Binance's ``data`` (``cancelResult`` ``SUCCESS``, ``newOrderResult``
        ``FAILURE``). With ``unknown``, the answer is 503 ``-1007`` and the new order is placed
        ``execute_after`` seconds later (``None``: never).

        Args:
            unknown: Answer ``-1007`` instead of ``-2021``.
            execute_after: With ``unknown``, seconds until the new order is placed.
            times: How many cancel-replaces to treat so.

        Raises:
            ConfigError: If ``execute_after`` < 0 or ``times`` < 1.
        """
        _check_seconds(execute_after, "execute_after")
        fault = Fault(
            "half",
            "/api/v3/order/cancelReplace",
            status=503 if unknown else 409,
            execute_after=execute_after,
        )
        self._add(fault, times)

    def take(self, path: str, method: str | None = None) -> Fault | None:
        """Use up the first planned fault that matches a request (the server calls this).

        Args:
            path: The request's path.
            method: The request's method; ``None`` matches any fault's method.

        Returns:
            The fault to apply, or ``None`` to answer normally.
        """
        with self._lock:
            now = self.clock()
            self._queue = [p for p in self._queue if p.until is None or now < p.until]
            for planned in self._queue:
                if planned.fault.matches(path, method):
                    if planned.left is not None:
                        planned.left -= 1
                        if planned.left == 0:
                            self._queue.remove(planned)
                    return planned.fault
            draw = self._random
        return None if draw is None else draw(path, method)

    @property
    def pending(self) -> int:
        """How many faulty answers are still planned (a running span counts as one)."""
        with self._lock:
            now = self.clock()
            return sum(
                1 if p.left is None else p.left
                for p in self._queue
                if p.until is None or now < p.until
            )

    def clear(self) -> None:
        """Drop every planned fault."""
        with self._lock:
            self._queue.clear()
