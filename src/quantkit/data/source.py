"""What the data manager needs from a venue: a small async interface (adapters implement it).

`_SourceView` passes every call on to another source; the downloaders subclass it to count
requests or to serve another price's candles.
"""

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


class _SourceView:
    """An `OhlcvSource` that passes every call on to ``source``; subclasses change some."""

    def __init__(self, source: OhlcvSource) -> None:
        self._source = source

    @property
    def id(self) -> str:
        return self._source.id

    @property
    def timeframes(self) -> Sequence[str]:
        return self._source.timeframes

    @property
    def ohlcv_limit(self) -> int:
        return self._source.ohlcv_limit

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        return await self._source.fetch_ohlcv(symbol, timeframe, since_ms, limit)

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        return await self._source.fetch_trades(symbol, since_ms, limit)  # pragma: no cover

    async def aclose(self) -> None:
        await self._source.aclose()  # pragma: no cover - the caller closes the source
