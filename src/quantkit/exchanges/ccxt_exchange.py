"""CcxtExchange: any venue ccxt supports, as an `OhlcvSource` and a `TradingVenue`.

The adapter is built in layers, one concern each: `CcxtSession`
(``quantkit.exchanges.session``: the client, error mapping, clock and reachability),
`CcxtTrading` (``quantkit.exchanges.trading``: orders, trades, balances),
`CcxtDerivativesData` (``quantkit.exchanges.derivatives``: funding rates, mark and index
candles) and this module's market data. The client binds to the event loop running at its
first request, so a `CcxtExchange` can be built anywhere (even outside async code).

Rate limits are ccxt's business: with ``rate_limit=True`` (the default) ccxt's own token bucket
spaces the requests by the venue's published weights. All tasks trading one account share one
`CcxtExchange`, hence one client and one bucket; nothing in quantkit throttles a second time.

Keys (`Credentials`) are read with ``get_secret_value()`` only when a client is built
(``quantkit.exchanges.client``), handed to ccxt as masked strings whose repr hides them, never
appear in the adapter's repr, and are masked in error messages and log records. They go only to
the venue they belong to, or to a local test exchange on a loopback address.
"""

from __future__ import annotations

import warnings

from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.domain.market import Market
from quantkit.errors import DataError, ExchangeError
from quantkit.exchanges.client import LOOPBACK_HOSTS, rewrite_api_urls
from quantkit.exchanges.derivatives import CcxtDerivativesData
from quantkit.exchanges.parse import parse_market, parse_ohlcv, parse_trades
from quantkit.exchanges.session import DEFAULT_OHLCV_LIMIT, suggest
from quantkit.exchanges.trading import CcxtTrading

__all__ = ["DEFAULT_OHLCV_LIMIT", "LOOPBACK_HOSTS", "CcxtExchange", "rewrite_api_urls"]


class CcxtExchange(CcxtDerivativesData, CcxtTrading):
    """A venue reached through ccxt's async client; implements `OhlcvSource` and `TradingVenue`.

    Args:
        exchange_id: ccxt's id of the venue, e.g. ``"binance"`` or ``"kraken"``.
        credentials: The account's keys, for trading; their ``exchange`` must be
            ``exchange_id``. Without them only public data can be read.
        sandbox: Use the venue's test network (ccxt's ``set_sandbox_mode``).
        options: Entries merged into the client's ``options`` (ccxt's venue-specific settings,
            e.g. ``{"fetchMarkets": {"types": ["spot"]}}``).
        api_url: Send every request to this base URL instead (scheme, host and port; each
            endpoint keeps its path; websocket URLs become ``ws://`` URLs of the same host).
            Any Binance-compatible server works from these arguments alone: ccxt is told not
            to ask it for currencies or margin pairs, and to load spot markets only where the
            class would load several kinds (``options`` may say otherwise). With credentials
            it must be a loopback address.
        rate_limit: Let ccxt space requests by the venue's rate limit (``enableRateLimit``).
            Keep it on against real venues; quantkit adds no limiter of its own.
        timeout: Seconds before a request is abandoned with `RequestTimeoutError`.
        ohlcv_limit: Candles per request; defaults to the maximum ccxt states for the venue
            (``features``), else `DEFAULT_OHLCV_LIMIT`.
        time_sync_interval: Seconds between measurements of the offset between this
            machine's clock and the venue's (ccxt's ``adjustForTimeDifference``, on with
            credentials unless ``options`` turns it off); it is also measured again after a
            timestamp refusal, and the refused request sent once more.
        unreachable_after: Seconds of failing requests (the venue unreachable, timing out or
            answering with server errors) after which `halt_reason` asks to stop new entries;
            ``0`` halts them at the first such failure.

    Raises:
        ConfigError: If ccxt does not know ``exchange_id``, a number is out of range, the
            credentials belong to another exchange or would go to a non-loopback ``api_url``,
            or ``sandbox`` is asked of a venue without a test network.

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
                f"unknown symbol {symbol!r}{suggest(symbol, list(client.markets))}",
                exchange=self._id,
                reason="bad_symbol",
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
        self._check_timeframe(timeframe)
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

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list[OhlcvRow]:
        """Wait for the next candle update of ``symbol`` over the venue's websocket.

        The first call subscribes; later calls return the updates since the previous one.

        Args:
            symbol: Unified symbol, e.g. ``"BTC/USDT"``.
            timeframe: One of `timeframes`.

        Returns:
            The candles ccxt holds for the subscription, oldest first; the last may still be
            forming.

        Raises:
            ExchangeError: If the venue has no websocket candles (``reason`` ``"not_supported"``),
                or the timeframe or the symbol is unknown.
            TransientError: If the connection failed (a subclass says why).
            DataError: If an update is malformed.
        """
        self._check_timeframe(timeframe)
        client = await self._ready()
        self._require(client, symbol, "watchOHLCV")
        with self._errors(client):
            rows = await client.watch_ohlcv(symbol, timeframe)
        return parse_ohlcv(rows, exchange=self._id, symbol=symbol)
