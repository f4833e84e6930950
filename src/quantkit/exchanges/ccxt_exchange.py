"""CcxtExchange: any venue ccxt supports, as an `OhlcvSource` with quantkit errors and values.

The adapter owns one ``ccxt.async_support`` client. It is created on first use inside the
running event loop, so a `CcxtExchange` can be built anywhere (even outside async code); after
`aclose` the next call opens a fresh client in whatever loop is running then, reusing the markets
already loaded. Every call into ccxt runs inside `map_ccxt_errors`; every answer is parsed into
quantkit values by `quantkit.exchanges.parse`.

Rate limits are ccxt's business: with ``rate_limit=True`` (the default) ccxt's own token bucket
spaces the requests by the venue's published weights. Nothing in quantkit throttles a second time.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self

from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.domain.market import Market
from quantkit.errors import ConfigError, DataError, ExchangeError
from quantkit.exchanges.errors import map_ccxt_errors
from quantkit.exchanges.parse import parse_market, parse_ohlcv, parse_trades

__all__ = ["DEFAULT_OHLCV_LIMIT", "CcxtExchange", "rewrite_api_urls"]

DEFAULT_OHLCV_LIMIT = 500
"""Candles per request for venues whose ccxt class does not state its maximum."""

_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+")


def rewrite_api_urls(urls: object, base_url: str) -> object:
    """Point every string in ccxt's ``urls["api"]`` at ``base_url``, keeping each path.

    ``"https://api.binance.com/api/v3"`` becomes ``"http://127.0.0.1:8080/api/v3"`` for
    ``base_url="http://127.0.0.1:8080"``. Nested dicts are rewritten too; other values are kept.

    Args:
        urls: ccxt's ``urls["api"]`` (a string or a dict of strings and dicts).
        base_url: Scheme and host (and port) of the replacement, without a trailing path.

    Returns:
        A rewritten copy.

    Examples:
        >>> rewrite_api_urls({"public": "https://api.x.com/v3", "n": 1}, "http://127.0.0.1:9")
        {'public': 'http://127.0.0.1:9/v3', 'n': 1}
    """
    if isinstance(urls, str):
        return _ORIGIN.sub(base_url.rstrip("/"), urls, count=1)
    if isinstance(urls, Mapping):
        return {key: rewrite_api_urls(value, base_url) for key, value in urls.items()}
    return urls


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class CcxtExchange:
    """A venue reached through ccxt's async client; implements `OhlcvSource`.

    Args:
        exchange_id: ccxt's id of the venue, e.g. ``"binance"`` or ``"kraken"``.
        options: Entries merged into the client's ``options`` (ccxt's venue-specific settings,
            e.g. ``{"fetchMarkets": {"types": ["spot"]}}``).
        api_url: Send every request to this base URL instead (scheme, host and port; each
            endpoint keeps its path). Used to reach a `quantkit.testing.LocalExchange`.
        rate_limit: Let ccxt space requests by the venue's rate limit (``enableRateLimit``).
            Keep it on against real venues; quantkit adds no limiter of its own.
        timeout: Seconds before a request is abandoned with `RequestTimeoutError`.
        ohlcv_limit: Candles per request; defaults to the maximum ccxt states for the venue
            (``features``), else `DEFAULT_OHLCV_LIMIT`.

    Raises:
        ConfigError: If ccxt does not know ``exchange_id`` or a number is out of range.

    Examples:
        >>> from quantkit.testing import LocalExchange
        >>> import anyio
        >>> async def first_close() -> float:
        ...     async with LocalExchange() as local, local.ccxt_exchange() as venue:
        ...         rows = await venue.fetch_ohlcv("BTC/USDT", "1h", 1704067200000, 2)
        ...         return rows[0][4]
        >>> anyio.run(first_close) > 0
        True
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        options: Mapping[str, Any] | None = None,
        api_url: str | None = None,
        rate_limit: bool = True,
        timeout: float = 10.0,
        ohlcv_limit: int | None = None,
    ) -> None:
        import ccxt.async_support as ccxt_async  # noqa: PLC0415 - ccxt is heavy; load on use

        if exchange_id not in ccxt_async.exchanges:
            raise ConfigError(
                f"ccxt has no exchange {exchange_id!r}{_suggest(exchange_id, ccxt_async.exchanges)}"
            )
        if not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if ohlcv_limit is not None and ohlcv_limit < 1:
            raise ConfigError(f"ohlcv_limit must be at least 1, got {ohlcv_limit!r}")
        self._id = exchange_id
        self._class: Any = getattr(ccxt_async, exchange_id)
        self._options = dict(options or {})
        self._api_url = api_url
        self._rate_limit = rate_limit
        self._timeout = timeout
        self._client: Any = self._new_client()
        self._cached: tuple[Any, Any] = (None, None)
        self._timeframes = tuple(self._client.timeframes or ())
        self._urls: Mapping[str, Any] = self._client.urls["api"]
        self._ohlcv_limit = ohlcv_limit or self._stated_ohlcv_limit()

    def _new_client(self) -> Any:
        """A new ccxt client; it binds to the event loop running at its first request."""
        config: dict[str, Any] = {
            "enableRateLimit": self._rate_limit,
            "timeout": round(self._timeout * 1000),
            "options": dict(self._options),
            # REST only: no websocket to wait for when closing (ccxt's default waits 250 ms).
            "timeout_on_exit": 0,
        }
        client = self._class(config)
        if self._api_url is not None:
            client.urls["api"] = rewrite_api_urls(client.urls["api"], self._api_url)
        return client

    def _stated_ohlcv_limit(self) -> int:
        features = self._client.features if isinstance(self._client.features, dict) else {}
        for market_type in ("spot", "swap", "future"):
            section = features.get(market_type) or {}
            for entry in (section, *(v for v in section.values() if isinstance(v, dict))):
                limit = (entry.get("fetchOHLCV") or {}).get("limit")
                if isinstance(limit, int) and limit > 0:
                    return limit
        return DEFAULT_OHLCV_LIMIT

    @property
    def id(self) -> str:
        """The venue's ccxt id, e.g. ``"binance"``."""
        return self._id

    @property
    def timeframes(self) -> tuple[str, ...]:
        """Timeframes the venue serves candles for, as ccxt names them (``"1m"``, ``"1h"``)."""
        return self._timeframes

    @property
    def ohlcv_limit(self) -> int:
        """Most candles one request returns."""
        return self._ohlcv_limit

    @property
    def rate_limited(self) -> bool:
        """Whether ccxt spaces the requests by the venue's rate limit."""
        return self._rate_limit

    @property
    def api_urls(self) -> Mapping[str, Any]:
        """The API base URLs the client sends requests to (ccxt's ``urls["api"]``)."""
        return self._urls

    def _errors(self, client: Any) -> AbstractContextManager[None]:
        """Map ccxt's exceptions; a rate-limit error reads the client's last headers."""
        return map_ccxt_errors(exchange=self._id, headers=lambda: client.last_response_headers)

    async def _ready(self) -> Any:
        """The client, opened in the running loop, with its markets loaded."""
        if self._client is None:
            markets, currencies = self._cached
            self._client = self._new_client()
            if markets:
                self._client.set_markets(markets, currencies)
        client = self._client
        with self._errors(client):
            await client.load_markets()
        return client

    def _require(self, client: Any, symbol: str, feature: str) -> None:
        if not client.has.get(feature):
            raise ExchangeError(f"the venue does not offer {feature}", exchange=self._id)
        if symbol not in client.markets:
            raise ExchangeError(
                f"unknown symbol {symbol!r}{_suggest(symbol, list(client.markets))}",
                exchange=self._id,
            )

    async def markets(self) -> dict[str, Market]:
        """Load the venue's markets and return them parsed.

        Markets whose fields are malformed are left out with a warning.

        Returns:
            Markets by symbol, in the venue's order.

        Raises:
            TransientError: If the venue could not be reached (a subclass says why).
            ExchangeError: If the venue refused the request.
        """
        client = await self._ready()
        parsed: dict[str, Market] = {}
        for symbol, raw in client.markets.items():
            try:
                parsed[symbol] = parse_market(
                    raw, precision_mode=client.precisionMode, exchange=self._id
                )
            except DataError as exc:
                warnings.warn(f"skipping a malformed market: {exc}", stacklevel=2)
        return parsed

    async def market(self, symbol: str) -> Market:
        """Return one market.

        Args:
            symbol: Unified symbol, e.g. ``"BTC/USDT"``.

        Returns:
            The market.

        Raises:
            ExchangeError: If the venue has no such market (close matches are suggested).
            DataError: If the venue describes the market with malformed fields.
            TransientError: If the venue could not be reached.
        """
        client = await self._ready()
        if symbol not in client.markets:
            raise ExchangeError(
                f"unknown symbol {symbol!r}{_suggest(symbol, list(client.markets))}",
                exchange=self._id,
            )
        return parse_market(
            client.markets[symbol], precision_mode=client.precisionMode, exchange=self._id
        )

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        """Candles of ``symbol`` opening at or after ``since_ms``, oldest first, at most ``limit``.

        Args:
            symbol: Unified symbol, e.g. ``"BTC/USDT"``.
            timeframe: One of `timeframes`.
            since_ms: Earliest open time wanted, in ms since the epoch (UTC).
            limit: Most candles wanted; more than `ohlcv_limit` is capped by the venue.

        Returns:
            The candles; fewer than ``limit`` (even none) when the venue has no more at hand.

        Raises:
            ExchangeError: If the timeframe or the symbol is unknown, or the venue refused.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        if timeframe not in self.timeframes:
            raise ExchangeError(
                f"timeframe {timeframe!r} is not offered (offered: {', '.join(self.timeframes)})",
                exchange=self._id,
            )
        client = await self._ready()
        self._require(client, symbol, "fetchOHLCV")
        with self._errors(client):
            rows = await client.fetch_ohlcv(symbol, timeframe, since_ms, limit)
        return parse_ohlcv(rows, exchange=self._id, symbol=symbol)

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        """Trades of ``symbol`` at or after ``since_ms``, oldest first, at most ``limit``.

        Some venues search a window per request (Binance: one hour from ``since_ms``), so an
        empty answer does not prove that no later trade exists.

        Args:
            symbol: Unified symbol, e.g. ``"BTC/USDT"``.
            since_ms: Earliest trade time wanted, in ms since the epoch (UTC).
            limit: Most trades wanted.

        Returns:
            The trades.

        Raises:
            ExchangeError: If the venue offers no trade history, the symbol is unknown, or the
                venue refused.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchTrades")
        with self._errors(client):
            trades = await client.fetch_trades(symbol, since_ms, limit)
        return parse_trades(trades, exchange=self._id, symbol=symbol)

    async def aclose(self) -> None:
        """Close the client's connections; the next call opens a new client.

        The markets already loaded are kept for that new client.
        """
        client, self._client = self._client, None
        if client is None:
            return
        self._cached = (client.markets, client.currencies)
        await client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        where = f", api_url={self._api_url!r}" if self._api_url else ""
        return f"CcxtExchange({self._id!r}{where}, rate_limit={self._rate_limit})"
