"""Fault injection and the request log of the local exchange.

Both are shared between the test's thread and the server's event loop, so every method takes a
lock; tests may change the plan while the server runs.

Faults form a queue: each request takes the first fault whose path matches and that has uses
left, and uses it up once. ``plan.rate_limit("/api/v3/klines", times=2)`` followed by
``plan.truncate("/api/v3/klines", keep=10)`` answers two klines requests with 429, then cuts the
third answer to ten rows, then serves normally.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from quantkit.errors import ConfigError

__all__ = ["Fault", "FaultKind", "FaultPlan", "RequestLog", "RequestRecord"]

FaultKind = Literal["status", "delay", "truncate", "accept"]
"""What a fault does: answer an error status, answer late, cut a list answer short, or carry the
request out and then lose its answer (``"accept"``)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned misbehaviour of the local exchange.

    Attributes:
        kind: ``"status"``, ``"delay"``, ``"truncate"`` or ``"accept"``.
        path: The request path it applies to, e.g. ``"/api/v3/klines"``; ``None`` for any path.
        status: HTTP status answered (``"status"`` and ``"accept"`` faults).
        retry_after: ``Retry-After`` header value in seconds, if any (``"status"`` faults). It is
            sent as written, so fractions (``"0.05"``) are possible in tests.
        body: Body answered (``"status"`` faults); a Binance-style JSON error for 429/418,
            plain text otherwise, when not given.
        seconds: How long to wait before answering normally (``"delay"`` faults), or before
            answering ``status`` once the request is carried out (``"accept"`` faults).
        keep: How many leading rows of a list answer to keep (``"truncate"`` faults).
    """

    kind: FaultKind
    path: str | None = None
    status: int = 0
    retry_after: float | None = None
    body: str | None = None
    seconds: float = 0.0
    keep: int = 0

    def describe(self) -> str:
        """Return a short label for the request log, e.g. ``"429"``, ``"delay 0.5s"``.

        Returns:
            The label.
        """
        if self.kind == "status":
            return str(self.status)
        if self.kind == "delay":
            return f"delay {self.seconds:g}s"
        if self.kind == "accept":
            return f"accept then {self.status}"
        return f"truncate {self.keep}"


@dataclass(slots=True)
class _Planned:
    fault: Fault
    left: int


class FaultPlan:
    """The queue of faults the local exchange will inject, settable while it runs.

    Examples:
        >>> plan = FaultPlan()
        >>> plan.fail("/api/v3/klines", status=503, times=2)
        >>> [plan.take("/api/v3/klines").describe() for _ in range(2)], plan.take("/api/v3/klines")
        (['503', '503'], None)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Planned] = []

    def _add(self, fault: Fault, times: int) -> None:
        if times < 1:
            raise ConfigError(f"times must be at least 1, got {times}")
        with self._lock:
            self._queue.append(_Planned(fault, times))

    def fail(
        self,
        path: str | None = None,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with an error status.

        Args:
            path: Request path to match; ``None`` matches any.
            status: HTTP status, e.g. 500, 502, 503, 504 or 429.
            times: How many requests to fail.
            retry_after: Seconds sent in a ``Retry-After`` header, if given.
            body: Body to answer; a default fitting the status otherwise.

        Raises:
            ConfigError: If the status is not an error status or ``times`` < 1.
        """
        if not 400 <= status <= 599:
            raise ConfigError(f"status must be an HTTP error status (400-599), got {status}")
        self._add(Fault("status", path, status=status, retry_after=retry_after, body=body), times)

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
        if not seconds >= 0:
            raise ConfigError(f"seconds must be >= 0, got {seconds}")
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
        if not 400 <= status <= 599:
            raise ConfigError(f"status must be an HTTP error status (400-599), got {status}")
        if not seconds >= 0:
            raise ConfigError(f"seconds must be >= 0, got {seconds}")
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

    def take(self, path: str) -> Fault | None:
        """Use up the first planned fault that matches ``path`` (the server calls this).

        Args:
            path: The request's path.

        Returns:
            The fault to apply, or ``None`` to answer normally.
        """
        with self._lock:
            for planned in self._queue:
                if planned.fault.path in (None, path):
                    planned.left -= 1
                    if planned.left == 0:
                        self._queue.remove(planned)
                    return planned.fault
        return None

    @property
    def pending(self) -> int:
        """How many faulty answers are still planned."""
        with self._lock:
            return sum(planned.left for planned in self._queue)

    def clear(self) -> None:
        """Drop every planned fault."""
        with self._lock:
            self._queue.clear()


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the local exchange received.

    Attributes:
        method: HTTP method, e.g. ``"GET"``.
        path: Request path, e.g. ``"/api/v3/klines"``.
        query: Query parameters (the last value of a repeated one).
        time: ``time.monotonic()`` when the request arrived.
        fault: The fault applied to it (`Fault.describe`), or ``None`` for a normal answer.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    time: float = 0.0
    fault: str | None = None


class RequestLog:
    """Requests in order of arrival; logged when they arrive, before they are answered.

    Examples:
        >>> log = RequestLog()
        >>> log.add(RequestRecord("GET", "/api/v3/ping"))
        >>> [r.path for r in log.records()], log.wait_for(1, timeout=0.1)[0].method
        (['/api/v3/ping'], 'GET')
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        """Append a record and wake up `wait_for` callers (the server calls this).

        Args:
            record: The request.
        """
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()

    def records(self, path: str | None = None) -> list[RequestRecord]:
        """Return the requests received so far.

        Args:
            path: Only requests to this path; ``None`` for all.

        Returns:
            The records, oldest first.
        """
        with self._changed:
            return [r for r in self._records if path is None or r.path == path]

    def clear(self) -> None:
        """Forget every record."""
        with self._changed:
            self._records.clear()

    def wait_for(
        self, count: int, *, path: str | None = None, timeout: float = 5.0
    ) -> list[RequestRecord]:
        """Block until at least ``count`` matching requests have arrived.

        Call it from a thread other than the server's (e.g. the test's, while a sync
        `LocalExchange` serves from its own thread).

        Args:
            count: How many requests to wait for.
            path: Only count requests to this path; ``None`` counts all.
            timeout: Seconds to wait at most.

        Returns:
            The matching records, oldest first.

        Raises:
            TimeoutError: If fewer than ``count`` arrived in time.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self._records if path is None or r.path == path]
                left = deadline - time.monotonic()
                if len(found) >= count:
                    return found
                if left <= 0:
                    raise TimeoutError(
                        f"{len(found)} of {count} requests to {path or 'any path'} "
                        f"arrived within {timeout:g}s"
                    )
                self._changed.wait(left)
