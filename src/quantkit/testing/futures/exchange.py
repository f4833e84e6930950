"""LocalFuturesExchange: a Binance USD-M futures REST server on 127.0.0.1, for tests and trials.

It serves a `FuturesVenue` (linear perpetuals with last, mark and index candles, funding rates
and leverage brackets) through `BinanceFuturesApi` and the signed `FuturesSignedApi`, so the
real ccxt ``binanceusdm`` client (sync or async) loads markets, downloads candles of any price
kind, funding-rate history and leverage tiers with no network. As `LocalExchange` does for
spot, a `FaultPlan` injects rate limits, server errors, delays and truncated pages, a
`RequestLog` records every request and a `ServerClock` can run ahead or behind.

Start it with ``with LocalFuturesExchange() as ex`` (a thread of its own, for sync clients) or
``async with`` (the running loop). Trading endpoints extend `LocalFuturesExchange.routes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from quantkit.data._timestamps import TimeLike
from quantkit.errors import ConfigError
from quantkit.testing.app_server import AppServer, ServedExchange
from quantkit.testing.fault_middleware import FaultMiddleware
from quantkit.testing.faults import FaultPlan
from quantkit.testing.futures.markets import FuturesMarket
from quantkit.testing.futures.public_api import BinanceFuturesApi
from quantkit.testing.futures.signed_api import FuturesSignedApi
from quantkit.testing.futures.trading import FuturesTrading
from quantkit.testing.futures.venue import FuturesVenue, PriceKind
from quantkit.testing.pending import PendingOutcomes
from quantkit.testing.request_log import RequestLog, RequestRecord
from quantkit.testing.server_clock import ServerClock

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.exchanges import CcxtExchange

__all__ = ["LOCAL_USDM_CCXT_OPTIONS", "LocalFuturesExchange"]

LOCAL_USDM_CCXT_OPTIONS: Mapping[str, Any] = {
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["linear"]},
}
"""ccxt ``binanceusdm`` options that keep ``load_markets`` to ``GET /fapi/v1/exchangeInfo``."""

Accounts = Mapping[str, tuple[str, Mapping[str, float | str | Decimal]]]
"""API key to ``(secret, balances)``, as `LocalExchange` takes them."""


def _funds(key: str, balances: Mapping[str, float | str | Decimal]) -> dict[str, Decimal]:
    funds: dict[str, Decimal] = {}
    for asset, amount in balances.items():
        value = Decimal(str(amount))
        if not value.is_finite() or value < 0:
            raise ConfigError(f"account {key!r}: balance of {asset} must be >= 0, got {amount}")
        funds[asset] = value
    return funds


class LocalFuturesExchange(ServedExchange):
    """A Binance-USD-M-compatible REST server on 127.0.0.1 (public data and leverage brackets).

    Args:
        markets: The perpetuals; `DEFAULT_FUTURES_MARKETS` (BTC/USDT:USDT, ETH/USDT:USDT)
            when ``None``.
        timeframe: Timeframe of the data; coarser klines are aggregated from it.
        start: First open time of the data (UTC when naive).
        end: End of the data (exclusive).
        seed: String key the data is generated from; same key, same data.
        candles: Last-price candles to serve instead of synthetic ones, one frame per symbol
            (see `FuturesVenue`); the mark and index are derived from them unless supplied.
        mark: Mark-price candles to serve, one frame per symbol.
        index: Index-price candles to serve, one frame per symbol.
        funding: Funding rates to serve, one frame per symbol (a ``rate`` column, optionally
            ``mark_price``), for hand-computed cases.
        port: Port to bind on 127.0.0.1; ``0`` lets the system choose.
        accounts: API key to ``(secret, balances)``: the keys signed requests may use
            (others are refused with ``-2015``); balances are kept in `funds` for the trading
            endpoints.
        clock_offset_ms: How far the server's clock runs ahead of the machine's.

    Raises:
        ConfigError: If a timeframe, a date, a market or a balance is invalid, or a supplied
            series names a symbol not listed.
        DataError: If a supplied frame is invalid.

    Examples:
        >>> import urllib.request, json
        >>> with LocalFuturesExchange(end="2024-01-02") as exchange:
        ...     url = exchange.url + "/fapi/v1/fundingRate?symbol=BTCUSDT&startTime=0&limit=2"
        ...     rows = json.loads(urllib.request.urlopen(url).read())
        >>> [row["fundingTime"] for row in rows]
        [1704067200000, 1704096000000]
    """

    def __init__(
        self,
        markets: Sequence[FuturesMarket] | None = None,
        *,
        timeframe: str = "1m",
        start: TimeLike = "2024-01-01",
        end: TimeLike = "2024-01-15",
        seed: str = "quantkit",
        candles: Mapping[str, pd.DataFrame] | None = None,
        mark: Mapping[str, pd.DataFrame] | None = None,
        index: Mapping[str, pd.DataFrame] | None = None,
        funding: Mapping[str, pd.DataFrame] | None = None,
        port: int = 0,
        accounts: Accounts | None = None,
        clock_offset_ms: int = 0,
    ) -> None:
        self.venue = FuturesVenue(
            markets, timeframe=timeframe, start=start, end=end, seed=seed, candles=candles,
            mark=mark, index=index, funding=funding,
        )  # fmt: skip
        """The perpetuals and their data."""
        self.server_clock = ServerClock(clock_offset_ms)
        """The server's clock: skew it or jump it to provoke ``-1021``."""
        self.secrets = {key: secret for key, (secret, _) in (accounts or {}).items()}
        self.funds = {key: _funds(key, funds) for key, (_, funds) in (accounts or {}).items()}
        """Each account's starting balances, by API key."""
        self.api = BinanceFuturesApi(self.venue, clock=self.server_clock)
        """The public ``/fapi/v1`` endpoints."""
        self.signed_api = FuturesSignedApi(self.api, self.secrets.get, clock=self.server_clock)
        """The signature check and the signed ``leverageBracket`` endpoint."""
        funded = {key: (secret, self.funds[key]) for key, secret in self.secrets.items()}
        self.trading = FuturesTrading(
            self.venue, funded, self.signed_api.signed, self.server_clock.now_ms
        )
        """The private side: accounts, orders, positions, funding, liquidation, user data."""
        self.faults = FaultPlan()
        """Faults to inject; set them at any time, even while the server runs."""
        self.log = RequestLog()
        """Every request received, in order of arrival."""
        self.pending = PendingOutcomes()
        """Requests answered ``-1007`` that take effect later."""
        self.server = AppServer(
            self._application, port=port, name="LocalFuturesExchange", on_close=self._closing
        )
        """The HTTP server (lifecycle, port, URL)."""

    # ----------------------------------------------------------------------------- data

    @property
    def markets(self) -> tuple[FuturesMarket, ...]:
        """The perpetuals listed in ``exchangeInfo``."""
        return self.venue.markets

    def candles(
        self, symbol: str, timeframe: str | None = None, price: PriceKind = "last"
    ) -> pd.DataFrame:
        """Return the candles served, as a frame like `fetch_ohlcv_range` returns.

        Args:
            symbol: Unified symbol (``"BTC/USDT:USDT"``) or venue id (``"BTCUSDT"``).
            timeframe: Kline interval; the data's own when ``None``.
            price: ``"last"``, ``"mark"`` or ``"index"``.

        Returns:
            A frame indexed by UTC open time with float OHLCV columns (mark and index candles
            have zero volume).

        Raises:
            ConfigError: If the market is unknown or the interval not served.
        """
        interval = timeframe or self.venue.timeframe
        if not self.venue.serves(interval):
            raise ConfigError(f"the local futures exchange does not serve {interval!r} candles")
        return self.venue.candles(self.venue.market(symbol), interval, price).frame()

    def funding_rates(self, symbol: str) -> pd.DataFrame:
        """Return the funding rates served for a market.

        Args:
            symbol: Unified symbol or venue id.

        Returns:
            A frame indexed by UTC funding time with columns ``rate`` and ``mark_price``.

        Raises:
            ConfigError: If the market is unknown.
        """
        return self.venue.funding(self.venue.market(symbol)).frame()

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        """Return the requests received so far (see `RequestLog.records`).

        Args:
            path: Only requests to this path; ``None`` for all.

        Returns:
            The records, oldest first.
        """
        return self.log.records(path)

    # ----------------------------------------------------------------------- endpoints

    def routes(self) -> list[web.RouteDef]:
        """Return the routes served; subclasses extend the list.

        Returns:
            The public routes and the signed ``leverageBracket`` route.
        """
        return self.api.routes() + self.signed_api.routes() + self.trading.routes()

    def _application(self) -> web.Application:
        middleware = FaultMiddleware(self.faults, self.log, self.pending, self.server.sleep)
        app = web.Application(middlewares=[middleware.handle])
        app.add_routes(self.routes())
        return app

    async def _closing(self) -> None:
        self.pending.drop_all()
        await self.trading.aclose()  # open user-data sockets would hold the shutdown up

    # --------------------------------------------------------------------------- clients

    def ccxt_options(self) -> dict[str, Any]:
        """Settings for a plain ccxt ``binanceusdm`` client pointed at this server.

        Returns:
            ``{"options": ..., "enableRateLimit": False}``; rewrite ``urls["api"]`` with
            `quantkit.exchanges.rewrite_api_urls` and `url` as well.
        """
        return {"options": dict(LOCAL_USDM_CCXT_OPTIONS), "enableRateLimit": False}

    def ccxt_exchange(
        self,
        *,
        rate_limit: bool = False,
        timeout: float = 10.0,
        options: Mapping[str, Any] | None = None,
    ) -> CcxtExchange:
        """Build a `CcxtExchange` (ccxt's ``binanceusdm``) that talks to this server.

        Args:
            rate_limit: Keep ccxt's rate limiter on.
            timeout: Request timeout in seconds.
            options: More ccxt options, merged over `LOCAL_USDM_CCXT_OPTIONS`.

        Returns:
            The client; close it with ``await client.aclose()`` (or ``async with``).

        Raises:
            RuntimeError: If the server is not running.
        """
        from quantkit.exchanges import CcxtExchange  # noqa: PLC0415 - ccxt only when asked for

        return CcxtExchange(
            "binanceusdm",
            options={**LOCAL_USDM_CCXT_OPTIONS, **(options or {})},
            api_url=self.url,
            rate_limit=rate_limit,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.server.running else "stopped"
        return f"LocalFuturesExchange({where}, markets={[m.symbol for m in self.markets]})"
