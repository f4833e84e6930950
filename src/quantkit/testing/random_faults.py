"""RandomFaults: faults drawn at a rate, from a seeded generator, for chaos runs.

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

__all__ = ["CHAOS_FAULTS", "RandomFaults"]

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
