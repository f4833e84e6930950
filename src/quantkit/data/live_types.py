"""The interface of `quantkit.data.live.LiveBarStream`: the venue it reads and what it yields.

`LiveOhlcvSource` is what the stream needs from a venue; `StreamStatus` is yielded between bars
when a symbol goes stale or fresh again; `TaskFailure` carries a symbol task's error to the
consumer, which re-raises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from quantkit.data.live_rows import LiveRow

__all__ = ["LiveOhlcvSource", "StreamStatus", "TaskFailure"]


class LiveOhlcvSource(Protocol):
    """What the bar stream needs from a venue (``CcxtExchange`` and the live venue match it).

    Errors are quantkit errors (`TransientError` for passing failures, `ExchangeError` for
    refusals) or `OSError` from a dropped connection.
    """

    @property
    def id(self) -> str:
        """The venue's id, e.g. ``"binance"``."""
        ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[LiveRow]:
        """Candles opening at or after ``since_ms``, oldest first (the last may be forming)."""
        ...

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list[LiveRow]:
        """Wait for the next websocket update; recent candles, the last possibly forming.

        Raises `ExchangeError` on the first call if the venue has no websocket.
        """
        ...


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A change in the health of a live bar stream, yielded between bars.

    Attributes:
        stale: ``True`` when no new closed bar arrived for the stale timeout (the engine stops
            opening positions), ``False`` when bars flow again.
        reason: What happened, in words.
        symbol: The symbol concerned, or ``None`` for the whole stream.
    """

    stale: bool
    reason: str
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """An error raised in a symbol's task, re-raised to the consumer."""

    error: Exception
