"""RandomFaults and PeriodicFaults: faults at a rate, for chaos runs.

`PeriodicFaults` gives every endpoint (method and path) one fault in each ``period`` of its
requests, the first included, cycling through the faults that match it, so the rate is at least
``1 / period`` on every endpoint however few requests it gets.

`FaultPlan.randomly` hands each request that no planned fault claimed to a `RandomFaults`: with
probability ``rate`` it answers with one of the given faults that matches the request (path and
method), chosen uniformly. The generator is seeded with a string, so the sequence of draws is
the same in every process; which request gets which draw still depends on the order requests
arrive in.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Sequence

from quantkit.errors import ConfigError
from quantkit.testing.faults import Fault

__all__ = ["CHAOS_FAULTS", "PeriodicFaults", "RandomFaults"]

_HOLD_S = 2.5

CHAOS_FAULTS: tuple[Fault, ...] = (
    Fault("status", status=500),
    Fault("accept", status=500),
    Fault("unknown", status=503, execute_after=0.5),
    Fault("unknown", status=503, execute_after=1.5),
    Fault("unknown", status=503, execute_after=3.0),
    Fault(
        "status",
        status=503,
        body='{"code":-1008,"msg":"Server is currently overloaded with other requests. '
        'Please try again in a few minutes."}',
    ),
    Fault("status", status=429, retry_after=0.1),
    Fault("status", status=418, retry_after=0.1),
    Fault("hold", status=504, seconds=_HOLD_S),
    Fault("accept", status=504, seconds=_HOLD_S),
    Fault("drop"),
    Fault("drop", acted=True),
)
"""Every failure mode of issue #11 on any endpoint: 500 before/after acting, ``-1007``
executed 0.5-3 s later, ``-1008``, 429/418 with ``Retry-After``, a timeout before/after acting
(held 2.5 s: give the client a shorter timeout), a connection dropped before/after acting."""


class RandomFaults:
    """Draws a fault for a request with probability ``rate``.

    Args:
        rate: Probability that a request gets a fault, in [0, 1].
        faults: The faults to choose from (their paths and methods still have to match).
        seed: String the generator is seeded with.

    Raises:
        ConfigError: If ``rate`` is not within [0, 1] or ``faults`` is empty.

    Examples:
        >>> chaos = RandomFaults(1.0, [Fault("status", "/a", status=500)], seed="x")
        >>> chaos.draw("/a", "GET").status, chaos.draw("/b", "GET")
        (500, None)
    """

    def __init__(self, rate: float, faults: Sequence[Fault], seed: str) -> None:
        if not 0 <= rate <= 1:
            raise ConfigError(f"rate must be within [0, 1], got {rate}")
        if not faults:
            raise ConfigError("random faults need at least one fault to draw from")
        self.rate = rate
        self.faults = tuple(faults)
        digest = hashlib.sha256(seed.encode()).digest()
        self._rng = random.Random(int.from_bytes(digest[:8], "big"))
        self._lock = threading.Lock()

    def draw(self, path: str, method: str | None) -> Fault | None:
        """Return a fault for a request, or ``None`` to answer it normally.

        Args:
            path: The request's path.
            method: The request's method.

        Returns:
            The fault, if one is drawn and one matches.
        """
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            matching = [f for f in self.faults if f.matches(path, method)]
            return self._rng.choice(matching) if matching else None


class PeriodicFaults:
    """Gives each endpoint one fault in every ``period`` of its requests.

    The first, ``period + 1``-th, ``2 x period + 1``-th, ... request to a method and path gets
    the next of the faults that match it, in turn (starting at an offset derived from
    ``seed``): ``ceil(n / period)`` faults in ``n`` requests.

    Args:
        period: One request in this many gets a fault (``10``: 10 %).
        faults: The faults to cycle through (their paths and methods still have to match).
        seed: String the starting offsets are derived from.

    Raises:
        ConfigError: If ``period`` < 1 or ``faults`` is empty.

    Examples:
        >>> chaos = PeriodicFaults(2, [Fault("status", status=500), Fault("drop")], seed="x")
        >>> [None if f is None else f.kind for f in (chaos.draw("/a", "GET") for _ in range(6))]
        ['status', None, 'drop', None, 'status', None]
    """

    def __init__(self, period: int, faults: Sequence[Fault], seed: str) -> None:
        if period < 1:
            raise ConfigError(f"period must be at least 1, got {period}")
        if not faults:
            raise ConfigError("periodic faults need at least one fault to cycle through")
        self.period = period
        self.faults = tuple(faults)
        self._offset = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
        self._seen: dict[tuple[str | None, str], int] = {}
        self._lock = threading.Lock()

    def draw(self, path: str, method: str | None) -> Fault | None:
        """Return a fault for a request, or ``None`` to answer it normally.

        Args:
            path: The request's path.
            method: The request's method.

        Returns:
            The fault, on every ``period``-th request of the endpoint.
        """
        with self._lock:
            seen = self._seen.get((method, path), 0) + 1
            self._seen[(method, path)] = seen
        if (seen - 1) % self.period:
            return None
        matching = [f for f in self.faults if f.matches(path, method)]
        if not matching:
            return None
        return matching[(self._offset + (seen - 1) // self.period) % len(matching)]
