"""ServerClock: the local exchange's own clock, which may run ahead of or behind the machine's.

Binance refuses a signed request whose ``timestamp`` is more than ``recvWindow`` ms behind its
clock or more than 1000 ms ahead of it (``-1021``). A client whose clock drifted, or a venue whose
clock jumped, meets that refusal; tests reproduce it by skewing this clock (`ServerClock.skew`)
or jumping it (`ServerClock.jump`). ``/api/v3/time``, ``exchangeInfo`` and every timestamp the
server writes read it, so a client that adjusts for the time difference (ccxt's
``adjustForTimeDifference``) can follow it.
"""

from __future__ import annotations

import threading
import time

__all__ = ["ServerClock"]


class ServerClock:
    """Milliseconds since the epoch, the machine's time plus an offset.

    Args:
        offset_ms: How far the server's clock runs ahead (negative: behind), in ms.

    Examples:
        >>> clock = ServerClock(offset_ms=2_000)
        >>> abs(clock.now_ms() - int(time.time() * 1000) - 2_000) < 1_000
        True
        >>> clock.jump(-5_000); clock.offset_ms
        -3000
        >>> clock.skew(-250); clock.offset_ms
        -250
    """

    def __init__(self, offset_ms: int = 0) -> None:
        self._lock = threading.Lock()
        self._offset = int(offset_ms)

    @property
    def offset_ms(self) -> int:
        """How far the server's clock runs ahead of the machine's, in ms."""
        with self._lock:
            return self._offset

    def skew(self, offset_ms: int) -> None:
        """Set the offset from the machine's clock.

        Args:
            offset_ms: Milliseconds ahead (negative: behind).
        """
        with self._lock:
            self._offset = int(offset_ms)

    def jump(self, delta_ms: int) -> None:
        """Move the clock by ``delta_ms`` at once (a clock step, e.g. an NTP correction).

        Args:
            delta_ms: Milliseconds forward (negative: back).
        """
        with self._lock:
            self._offset += int(delta_ms)

    def now_ms(self) -> int:
        """Return the server's time.

        Returns:
            Milliseconds since the epoch.
        """
        return int(time.time() * 1000) + self.offset_ms
