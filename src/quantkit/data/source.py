"""What the data manager needs from a venue: a small async interface (adapters implement it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["OhlcvRow", "OhlcvSource", "TradeRow"]

OhlcvRow = tuple[int, float, float, float, float, float]
"""One candle: open time in ms since the epoch (UTC), open, high, low, close, base volume."""

TradeRow = tuple[int, float, float, str]
"""One trade: time in ms since the epoch (UTC), price, base amount, side ("buy"/"sell")."""


class OhlcvSource(Protocol):
    """A venue that serves historical candles and trades (for example ``CcxtExchange``).

    All methods are async; errors are quantkit errors (``TransientError`` subclasses for
    failures worth retrying, ``ExchangeError`` for permanent refusals), never the venue
    library's own exceptions.
    """

    @property
    def id(self) -> str:
        """The venue's id, e.g. ``"binance"`` (used as the store's exchange key)."""
        ...

    @property
    def timeframes(self) -> Sequence[str]:
        """Timeframes the venue serves candles for, e.g. ``("1m", "1h", "1d")``."""
        ...

    @property
    def ohlcv_limit(self) -> int:
        """Most candles one request returns."""
        ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        """Candles opening at or after ``since_ms``, oldest first, at most ``limit`` of them."""
        ...

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        """Trades of ``symbol`` at or after ``since_ms``, oldest first, at most ``limit``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
