"""RequestLog: the requests the local exchange received, in order of arrival.

Shared between the test's thread and the server's event loop, so every method takes a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RequestLog", "RequestRecord"]


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
