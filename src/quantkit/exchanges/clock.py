"""The venue's clock and reachability, as seen from one `CcxtExchange`.

Signed requests carry a timestamp the venue checks against its own clock (Binance refuses one
outside ``recvWindow`` with -1021). ccxt's ``adjustForTimeDifference`` measures the offset
between this machine's clock and the venue's when markets load, and shifts every timestamp by
it; `VenueClock` measures it again every ``sync_interval`` seconds and right after a refusal,
so a clock that jumps or drifts during a run is followed. When a refusal persists after the
offset was measured again, `skew_message` says both clocks, the offset, the window and the fix.

`Reachability` remembers since when every request has failed for want of the venue (a
transient error); a broker reads `CcxtExchange.halt_reason` to stop new entries after the
configured time, and logs when the venue answers again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Reachability", "VenueClock", "skew_message"]


def _utc(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def skew_message(exchange: str, *, local_ms: int, venue_ms: int | None, recv_window: Any) -> str:
    """Explain a timestamp refusal (-1021): both clocks, the offset, the window and the fix.

    Args:
        exchange: The venue's id.
        local_ms: This machine's clock when the venue's time was read, ms since the epoch.
        venue_ms: The venue's clock then, or ``None`` if it could not be read.
        recv_window: The ``recvWindow`` (ms) ccxt sends, or ``None``.

    Returns:
        One paragraph.

    Examples:
        >>> print(skew_message("binance", local_ms=1_000_000, venue_ms=1_002_500, recv_window=1000))
        ... # doctest: +NORMALIZE_WHITESPACE
        binance refused the request's timestamp (clock skew): this machine's clock reads
        1970-01-01T00:16:40.000+00:00, the venue's reads 1970-01-01T00:16:42.500+00:00 (this
        machine is 2500 ms behind); the venue accepts requests within recvWindow=1000 ms of its
        clock. quantkit measured the offset again and retried once; it was refused again. Fix
        the system clock (enable NTP: `timedatectl set-ntp true`, or `chronyc makestep`) or
        raise recvWindow in the exchange options.
    """
    window = f"recvWindow={recv_window} ms" if recv_window is not None else "its recvWindow"
    if venue_ms is None:
        clocks = f"this machine's clock reads {_utc(local_ms)}; the venue's time could not be read"
    else:
        offset = local_ms - venue_ms
        side = "ahead" if offset > 0 else "behind"
        clocks = (
            f"this machine's clock reads {_utc(local_ms)}, the venue's reads {_utc(venue_ms)} "
            f"(this machine is {abs(offset)} ms {side})"
        )
    retried = (
        "quantkit could not measure the offset again"
        if venue_ms is None
        else "quantkit measured the offset again and retried once; it was refused again"
    )
    return (
        f"{exchange} refused the request's timestamp (clock skew): {clocks}; the venue accepts "
        f"requests within {window} of its clock. {retried}. Fix the system clock (enable NTP: "
        "`timedatectl set-ntp true`, or `chronyc makestep`) or raise recvWindow in the "
        "exchange options."
    )


class VenueClock:
    """When to measure ccxt's time difference again, and the last measurement.

    Args:
        sync_interval: Seconds between measurements (after the first, at market load).
    """

    def __init__(self, sync_interval: float) -> None:
        self.sync_interval = sync_interval
        self._synced_at: float | None = None

    def due(self, client: Any) -> bool:
        """Whether the offset should be measured now (adjustment on and the interval past)."""
        if not client.options.get("adjustForTimeDifference"):
            return False
        if self._synced_at is None:  # ccxt measures it while loading the markets
            self._synced_at = time.monotonic()
            return False
        return time.monotonic() - self._synced_at >= self.sync_interval

    async def sync(self, client: Any) -> int:
        """Measure the offset now (ccxt's ``load_time_difference``); return it in ms."""
        self._synced_at = time.monotonic()
        offset: int = await client.load_time_difference()
        return offset

    @staticmethod
    def offset_ms(client: Any) -> int:
        """The offset in use: this machine's clock minus the venue's, in ms."""
        return int(client.options.get("timeDifference") or 0)


@dataclass
class Reachability:
    """Since when (monotonic seconds) every request failed for want of the venue, if it does."""

    failing_since: float | None = None
    last_error: str = ""

    def answered(self) -> bool:
        """Record an answer; return whether the venue had been failing until now."""
        was = self.failing_since is not None
        self.failing_since = None
        self.last_error = ""
        return was

    def failed(self, error: BaseException) -> None:
        """Record a request that failed for want of the venue."""
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_error = str(error)

    def unreachable_for(self) -> float:
        """Seconds since the first failure of the current run of failures (0 when answering)."""
        if self.failing_since is None:
            return 0.0
        return time.monotonic() - self.failing_since
