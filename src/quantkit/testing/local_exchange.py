"""LocalExchange: a small HTTP server on 127.0.0.1 that speaks Binance spot's REST API.

It serves a `LocalVenue` (markets, candles and trades, synthetic or supplied) through
`BinanceSpotApi`, so tests, and users trying quantkit out, run the real ccxt client with no
network. A `FaultPlan` injects rate-limit answers, server errors, slow answers and truncated
pages; a `RequestLog` records every request as it arrives.

The server runs either in the caller's event loop (``async with LocalExchange() as ex``) or in a
thread of its own with its own loop (``with LocalExchange() as ex``), which is what synchronous
code and the sync download functions need. Private (signed) endpoints are left open: a subclass
extends `LocalExchange.routes` with the routes of another API class over the same venue. The
signed account and order endpoints (`BinancePrivateApi`) are served for the accounts given as
``accounts``; see `LocalAccounts` for how orders fill and `set_price` to move a price.

In live mode (``live=True``) the venue reveals its candles over time: only the first
``warmup`` are served at the start, plus the forming one, and `LocalExchange.publish` (or a
timer, ``publish_every``) publishes the next, moving the prices through each candle so resting
limit orders fill (see `LiveClock`). Websocket clients (ccxt.pro's ``watch_ohlcv``) subscribed
to kline streams (`BinanceWebsocketApi`) get each published candle pushed, and clients
subscribed to an account's user-data stream (ccxt.pro's ``watch_my_trades`` and
``watch_orders``) get an ``executionReport`` for every change of the account's orders, whatever
thread made it; `drop_websockets` and `mute_websockets` break all these streams on purpose.

Run ``quantkit exchange`` (or ``python -m quantkit.testing.exchange_server``) to keep one in
the foreground; it prints its URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from quantkit.data._timestamps import TimeLike
from quantkit.errors import ConfigError
from quantkit.testing.accounts import LocalAccounts
from quantkit.testing.app_server import AppServer, ServedExchange
from quantkit.testing.binance_api import LOCAL_CCXT_OPTIONS, BinanceSpotApi
from quantkit.testing.fault_middleware import FaultMiddleware
from quantkit.testing.faults import FaultPlan
from quantkit.testing.fees import Commission
from quantkit.testing.live_clock import LiveClock
from quantkit.testing.market_data import LocalMarket
from quantkit.testing.order_list_api import BinanceOrderListApi
from quantkit.testing.pending import PendingOutcomes
from quantkit.testing.private_api import BinancePrivateApi
from quantkit.testing.request_log import RequestLog, RequestRecord
from quantkit.testing.server_clock import ServerClock
from quantkit.testing.venue import LocalVenue
from quantkit.testing.ws_api import BinanceWebsocketApi

if TYPE_CHECKING:
    from decimal import Decimal

    import pandas as pd

    from quantkit.exchanges import CcxtExchange

__all__ = ["LOCAL_CCXT_OPTIONS", "LocalExchange"]

_log = structlog.get_logger("quantkit.testing")


class LocalExchange(ServedExchange):
    """A Binance-spot-compatible public REST server on 127.0.0.1, for tests and trials.

    Args:
        markets: The markets to list; `DEFAULT_MARKETS` (BTC/USDT, ETH/USDT, ETH/BTC) when
            ``None``. Symbols given only in ``candles`` or ``trades`` are added with defaults.
        candles: Candles to serve instead of synthetic ones, one DataFrame per symbol (open
            times as ``DatetimeIndex``, columns ``open``, ``high``, ``low``, ``close``,
            ``volume``), at ``timeframe``; holes are served as holes.
        trades: Trades to serve instead of synthetic ones, one DataFrame per symbol (times as
            ``DatetimeIndex``, columns ``price``, ``amount``, optional ``side``).
        timeframe: Timeframe of the data; coarser klines are aggregated from it.
        start: First open time of the synthetic data (UTC when naive).
        end: End of the synthetic data (exclusive).
        seed: String key the synthetic data is generated from; same key, same data.
        trades_per_minute: Average rate of the synthetic trades.
        port: Port to bind on 127.0.0.1; ``0`` lets the system choose (read `port` back).
        accounts: Spot accounts for the signed endpoints: API key to ``(secret, balances)``,
            e.g. ``{"key": ("secret", {"USDT": 10_000})}``. Signed requests with any other
            key are refused (``-2015``).
        live: Reveal the data over time instead of all at once (see `publish`).
        warmup: In live mode, how many candles of the data's timeframe are published at the
            start.
        publish_every: In live mode, publish one candle every this many seconds while the
            server runs; ``0`` publishes only when `publish` is called.
        commission: The accounts' commission (Binance's 0.1 % maker and taker, charged in the
            asset received, when ``None``); change one account's with
            ``accounts.set_commission``.
        clock_offset_ms: How far the server's clock runs ahead of the machine's (negative:
            behind); see `server_clock` to change it while running.

    Raises:
        ConfigError: If a timeframe, a date or a market is invalid, ``warmup`` is not within
            the data, or ``publish_every`` is negative or set without ``live``.
        DataError: If a supplied frame lacks its times or a column.

    Examples:
        >>> import urllib.request, json
        >>> with LocalExchange() as exchange:
        ...     answer = urllib.request.urlopen(exchange.url + "/api/v3/ping").read()
        ...     paths = [r.path for r in exchange.requests()]
        >>> json.loads(answer), paths
        ({}, ['/api/v3/ping'])
    """

    def __init__(
        self,
        markets: Sequence[LocalMarket] | None = None,
        *,
        candles: Mapping[str, pd.DataFrame] | None = None,
        trades: Mapping[str, pd.DataFrame] | None = None,
        timeframe: str = "1m",
        start: TimeLike = "2024-01-01",
        end: TimeLike = "2024-01-15",
        seed: str = "quantkit",
        trades_per_minute: float = 2.0,
        port: int = 0,
        accounts: Mapping[str, tuple[str, Mapping[str, float | str | Decimal]]] | None = None,
        live: bool = False,
        warmup: int = 100,
        publish_every: float = 0.0,
        commission: Commission | None = None,
        clock_offset_ms: int = 0,
    ) -> None:
        self.venue = LocalVenue(
            markets,
            candles=candles,
            trades=trades,
            timeframe=timeframe,
            start=start,
            end=end,
            seed=seed,
            trades_per_minute=trades_per_minute,
        )
        """The markets and data served."""
        self.server_clock = ServerClock(clock_offset_ms)
        """The server's clock: skew it or jump it to provoke ``-1021``."""
        self.api = BinanceSpotApi(self.venue, clock=self.server_clock)
        """The public Binance endpoints."""
        self.accounts = LocalAccounts(self.venue, accounts, commission=commission)
        """The accounts, orders and trades of the signed endpoints."""
        self.pending = PendingOutcomes()
        """Requests answered ``-1007`` that take effect later (see `execute_pending`)."""
        self.private_api = BinancePrivateApi(
            self.venue, self.accounts, clock=self.server_clock, pending=self.pending
        )
        """The signed Binance endpoints."""
        self.ws_api = BinanceWebsocketApi(self.venue, self.accounts)
        """The kline websocket streams and the accounts' user-data stream."""
        if not publish_every >= 0:
            raise ConfigError(f"publish_every must be >= 0 seconds, got {publish_every}")
        if publish_every and not live:
            raise ConfigError("publish_every needs live=True: only a live exchange publishes")
        self.clock = LiveClock(self.venue, self.accounts, warmup=warmup) if live else None
        """What publishes the data over time in live mode; ``None`` otherwise."""
        self._publish_every = publish_every
        self._publisher: asyncio.Task[None] | None = None
        self.faults = FaultPlan()
        """Faults to inject; set them at any time, even while the server runs."""
        self.log = RequestLog()
        """Every request received, in order of arrival."""
        self.server = AppServer(
            self._application,
            port=port,
            name="LocalExchange",
            label="local exchange",
            on_start=self._started,
            on_close=self._closing,
        )
        """The HTTP server (lifecycle, port, URL)."""

    # ----------------------------------------------------------------------------- data

    @property
    def markets(self) -> tuple[LocalMarket, ...]:
        """The markets listed in ``exchangeInfo``."""
        return self.venue.markets

    @property
    def timeframe(self) -> str:
        """The timeframe of the data (the finest kline interval served)."""
        return self.venue.timeframe

    def candles(self, symbol: str, timeframe: str | None = None) -> pd.DataFrame:
        """Return the candles the server serves, as `fetch_ohlcv_range` would return them.

        In live mode this is the whole data, published or not: row `published` of the data's
        timeframe is the candle the next `publish` reveals.

        Args:
            symbol: Unified symbol (``"BTC/USDT"``) or venue id (``"BTCUSDT"``).
            timeframe: Kline interval; the data's own timeframe when ``None``.

        Returns:
            A frame indexed by UTC open time with float OHLCV columns.

        Raises:
            ConfigError: If the market is unknown or the interval is not served.
        """
        interval = timeframe or self.venue.timeframe
        if not self.venue.serves(interval):
            raise ConfigError(f"the local exchange does not serve {interval!r} candles")
        return self.venue.candles(self.venue.market(symbol), interval).frame()

    def trades(self, symbol: str) -> pd.DataFrame:
        """Return the trades the server serves, as `fetch_trades_range` would return them.

        Args:
            symbol: Unified symbol (``"BTC/USDT"``) or venue id (``"BTCUSDT"``).

        Returns:
            A frame indexed by UTC time with columns ``price``, ``amount`` and ``side``.

        Raises:
            ConfigError: If the market is unknown.
        """
        return self.venue.trades(self.venue.market(symbol)).frame()

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        """Return the requests received so far (see `RequestLog.records`).

        Args:
            path: Only requests to this path; ``None`` for all.

        Returns:
            The records, oldest first.
        """
        return self.log.records(path)

    def price(self, symbol: str) -> Decimal:
        """Return the price market orders fill at (see `LocalAccounts.price`).

        Args:
            symbol: Unified symbol (``"BTC/USDT"``) or venue id (``"BTCUSDT"``).

        Returns:
            The price set last, else the close of the last candle.

        Raises:
            ConfigError: If the market is unknown.
        """
        return self.accounts.price(symbol)

    def set_price(self, symbol: str, price: float | str | Decimal) -> None:
        """Move a market's price; resting limit orders it reaches fill at their limit price.

        Args:
            symbol: Unified symbol (``"BTC/USDT"``) or venue id (``"BTCUSDT"``).
            price: The new price.

        Raises:
            ConfigError: If the market is unknown or the price is not positive.
        """
        self.accounts.set_price(symbol, price, now=self.server_clock.now_ms())

    # ----------------------------------------------------------------------- endpoints

    def routes(self) -> list[web.RouteDef]:
        """Return the routes served; subclasses extend the list.

        Returns:
            aiohttp route definitions: `BinanceSpotApi.routes`, `BinancePrivateApi.routes`
            and `BinanceWebsocketApi.routes`.
        """
        lists = BinanceOrderListApi(self.private_api).routes()
        return self.api.routes() + self.private_api.routes() + lists + self.ws_api.routes()

    # ----------------------------------------------------------------------- live mode

    @property
    def live(self) -> bool:
        """Whether the data is revealed over time (see `publish`)."""
        return self.clock is not None

    def _live_clock(self) -> LiveClock:
        if self.clock is None:
            raise ConfigError(
                "the local exchange is not live: it serves all its data at once; "
                "create it with LocalExchange(live=True) to publish candles over time"
            )
        return self.clock

    @property
    def publish_every(self) -> float:
        """Seconds between automatic publishes while running; ``0`` for none."""
        return self._publish_every

    @property
    def published(self) -> int:
        """How many candles of each market (of the data's timeframe) are published.

        Raises:
            ConfigError: If the exchange is not live.
        """
        return self._live_clock().published

    def publish(self, count: int = 1) -> int:
        """Publish the next ``count`` candles of every market.

        For each candle in turn, the market's price walks through it (open, low and high in
        the candle's order, close), filling the resting limit orders it reaches, then the candle
        is served as closed (with the next one forming) and pushed to websocket subscribers.
        The price stays at the last close, where market orders fill until the next publish.

        Args:
            count: How many candles to publish (at least 1).

        Returns:
            How many candles are published so far.

        Raises:
            ConfigError: If the exchange is not live, ``count`` < 1, or the data has fewer than
                ``count`` candles left (then nothing is published).

        Examples:
            >>> exchange = LocalExchange(live=True, warmup=10, end="2024-01-01 00:30")
            >>> exchange.published, exchange.publish(), exchange.publish(19)
            (10, 11, 30)
        """
        clock = self._live_clock()
        if count < 1:
            raise ConfigError(f"count must be at least 1, got {count}")
        if count > clock.remaining:
            raise ConfigError(
                f"cannot publish {count} candle(s): only {clock.remaining} of the data's "
                f"{clock.total} are left; give the local exchange a longer range (start/end)"
            )
        for _ in range(count):
            self.ws_api.publish(clock.advance())
        return clock.published

    async def _publish_periodically(self, clock: LiveClock, seconds: float) -> None:
        while clock.remaining:
            await asyncio.sleep(seconds)
            try:
                self.publish()
            except ConfigError:  # pragma: no cover - a manual publish used the data up first
                break
        _log.info("all candles published", published=clock.published)

    def drop_websockets(self) -> None:
        """Close every websocket connection; clients must reconnect and subscribe again."""
        self.ws_api.drop()

    def mute_websockets(self, muted: bool = True) -> None:
        """Keep websocket connections open but push nothing (a silently dead stream).

        Args:
            muted: ``True`` to stop pushing, ``False`` to resume; what is published while
                muted is never pushed.
        """
        self.ws_api.mute(muted)

    # ----------------------------------------------------------------------- lifecycle

    def _application(self) -> web.Application:
        middleware = FaultMiddleware(self.faults, self.log, self.pending, self.server.sleep)
        app = web.Application(middlewares=[middleware.handle])
        app.add_routes(self.routes())
        return app

    def _started(self) -> None:
        if self.clock is not None and self._publish_every > 0:
            self._publisher = asyncio.ensure_future(
                self._publish_periodically(self.clock, self._publish_every)
            )

    async def _closing(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.cancel()
        self.pending.drop_all()
        await self.ws_api.aclose()  # open websockets would hold the shutdown up

    def execute_pending(self) -> int:
        """Carry out now every request answered ``-1007`` that has not taken effect yet.

        Call it from another thread than the server's (a server started with ``with``);
        with ``async with``, await `aexecute_pending` instead.

        Returns:
            How many requests were carried out.

        Raises:
            RuntimeError: If the server does not run in a thread of its own.
        """
        if not self.server.threaded:
            raise RuntimeError(
                "execute_pending needs a server started with `with`; "
                "in the server's own event loop, `await aexecute_pending()`"
            )
        return self.server.run_in_loop(self.pending.run_all(), timeout=30)

    async def aexecute_pending(self) -> int:
        """Carry out now every pending ``-1007`` request (server in this event loop).

        Returns:
            How many requests were carried out.
        """
        return await self.pending.run_all()

    # --------------------------------------------------------------------------- clients

    def ccxt_exchange(
        self,
        *,
        rate_limit: bool = False,
        timeout: float = 10.0,
        ohlcv_limit: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> CcxtExchange:
        """Build a `CcxtExchange` (ccxt's ``binance`` class) that talks to this server.

        Every entry of ccxt's ``urls["api"]`` is pointed here, so a request to an endpoint the
        server lacks gets a visible 404 instead of leaving the machine; `LOCAL_CCXT_OPTIONS`
        keep market loading to ``exchangeInfo`` alone.

        Args:
            rate_limit: Keep ccxt's rate limiter on (off by default: the local server has no
                limit and tests stay fast).
            timeout: Request timeout in seconds.
            ohlcv_limit: Candles per request (ccxt's stated 1000 by default).
            options: More ccxt options, merged over `LOCAL_CCXT_OPTIONS`.

        Returns:
            The client; close it with ``await client.aclose()`` (or ``async with``).

        Raises:
            RuntimeError: If the server is not running.
        """
        from quantkit.exchanges import CcxtExchange  # noqa: PLC0415 - ccxt only when asked for

        return CcxtExchange(
            "binance",
            options={**LOCAL_CCXT_OPTIONS, **(options or {})},
            api_url=self.url,
            rate_limit=rate_limit,
            timeout=timeout,
            ohlcv_limit=ohlcv_limit,
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.server.running else "stopped"
        return f"LocalExchange({where}, markets={[m.symbol for m in self.markets]})"
