"""CcxtExchange: any venue ccxt supports, as an `OhlcvSource` and a `TradingVenue`.

The adapter owns one ccxt client: the ``ccxt.pro`` class of the venue where ccxt has one (it
subclasses the ``ccxt.async_support`` class, so REST works and websockets are available), else
the ``async_support`` class. The client binds to the event loop running at its first request, so
a `CcxtExchange` can be built anywhere (even outside async code); after `aclose` the next call
opens a fresh client in whatever loop is running then, reusing the markets already loaded. Every
call into ccxt runs inside `map_ccxt_errors`; every answer is parsed into quantkit values by
`quantkit.exchanges.parse` and `quantkit.exchanges.orders`.

Rate limits are ccxt's business: with ``rate_limit=True`` (the default) ccxt's own token bucket
spaces the requests by the venue's published weights. All tasks trading one account share one
`CcxtExchange`, hence one client and one bucket; nothing in quantkit throttles a second time.

Keys (`Credentials`) are read with ``get_secret_value()`` only when a client is built, are never
kept as plain strings by the adapter, never appear in its repr, and are masked in error messages.
They go only to the venue they belong to, or to a local test exchange on a loopback address.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.domain.bracket import OcoRequest
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest
from quantkit.domain.venue import VenueBalance, VenueOrder, VenueTrade
from quantkit.errors import ConfigError, DataError, ExchangeError
from quantkit.exchanges.errors import map_ccxt_errors
from quantkit.exchanges.oco import create_oco
from quantkit.exchanges.orders import (
    order_arguments,
    parse_balances,
    parse_my_trades,
    parse_order,
)
from quantkit.exchanges.parse import parse_market, parse_ohlcv, parse_trades

if TYPE_CHECKING:
    from quantkit.secrets import Credentials

__all__ = ["DEFAULT_OHLCV_LIMIT", "LOOPBACK_HOSTS", "CcxtExchange", "rewrite_api_urls"]

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


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts an ``api_url`` may name when credentials are given (a local test exchange)."""

_REASON_WORDS = {
    "insufficient_funds": "insufficient funds",
    "invalid_order": "invalid order",
    "duplicate_order": "duplicate client order id",
    "order_not_found": "order not found",
    "bad_symbol": "unknown symbol",
    "authentication": "authentication failed",
    "not_supported": "not supported",
}


def _websocket_base(api_url: str) -> str:
    """``http://h:p`` -> ``ws://h:p`` (``https`` -> ``wss``)."""
    parts = urlsplit(api_url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def _ccxt_error_behind(exc: KeyError) -> BaseException:
    """The ccxt error a ``KeyError`` hides, else the ``KeyError`` itself.

    ccxt 4.5's binance forgets a refused user-data subscription twice (in ``handle_ws_error``
    and again in ``ensure_user_data_stream_ws_subscribe_signature``); the second ``del`` raises
    a ``KeyError`` while handling the venue's refusal (e.g. bad keys), which it hides.
    """
    from ccxt.base.errors import BaseError  # noqa: PLC0415 - ccxt is heavy; load on use

    hidden = exc.__context__
    return hidden if isinstance(hidden, BaseError) else exc


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class CcxtExchange:
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
            Used to reach a `quantkit.testing.LocalExchange`; with credentials it must be a
            loopback address.
        rate_limit: Let ccxt space requests by the venue's rate limit (``enableRateLimit``).
            Keep it on against real venues; quantkit adds no limiter of its own.
        timeout: Seconds before a request is abandoned with `RequestTimeoutError`.
        ohlcv_limit: Candles per request; defaults to the maximum ccxt states for the venue
            (``features``), else `DEFAULT_OHLCV_LIMIT`.

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

    def __init__(
        self,
        exchange_id: str,
        *,
        credentials: Credentials | None = None,
        sandbox: bool = False,
        options: Mapping[str, Any] | None = None,
        api_url: str | None = None,
        rate_limit: bool = True,
        timeout: float = 10.0,
        ohlcv_limit: int | None = None,
    ) -> None:
        import ccxt.async_support as ccxt_async  # noqa: PLC0415 - ccxt is heavy; load on use
        import ccxt.pro as ccxt_pro  # noqa: PLC0415

        if exchange_id not in ccxt_async.exchanges:
            raise ConfigError(
                f"ccxt has no exchange {exchange_id!r}{_suggest(exchange_id, ccxt_async.exchanges)}"
            )
        if not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if ohlcv_limit is not None and ohlcv_limit < 1:
            raise ConfigError(f"ohlcv_limit must be at least 1, got {ohlcv_limit!r}")
        self._check_credentials(exchange_id, credentials, api_url)
        self._id = exchange_id
        module = ccxt_pro if exchange_id in ccxt_pro.exchanges else ccxt_async
        self._class: Any = getattr(module, exchange_id)
        self._credentials = credentials
        self._sandbox = sandbox
        self._options = dict(options or {})
        self._api_url = api_url
        self._rate_limit = rate_limit
        self._timeout = timeout
        self._client: Any = self._new_client()
        self._cached: tuple[Any, Any] = (None, None)
        self._timeframes = tuple(self._client.timeframes or ())
        self._has: Mapping[str, Any] = dict(self._client.has or {})
        self._urls: Mapping[str, Any] = self._client.urls["api"]
        self._ohlcv_limit = ohlcv_limit or self._stated_ohlcv_limit()

    @staticmethod
    def _check_credentials(
        exchange_id: str, credentials: Credentials | None, api_url: str | None
    ) -> None:
        if credentials is None:
            return
        if credentials.exchange != exchange_id:
            raise ConfigError(
                f"credentials for {credentials.exchange!r} given to a {exchange_id!r} exchange: "
                "keys for one exchange are never sent to another host"
            )
        host = urlsplit(api_url).hostname if api_url is not None else None
        if api_url is not None and host not in LOOPBACK_HOSTS:
            raise ConfigError(
                f"credentials for {exchange_id!r} with api_url host {host!r}: only a local "
                f"test exchange ({', '.join(sorted(LOOPBACK_HOSTS))}) may stand in for the venue"
            )

    def _new_client(self) -> Any:
        """A new ccxt client; it binds to the event loop running at its first request."""
        config: dict[str, Any] = {
            "enableRateLimit": self._rate_limit,
            "timeout": round(self._timeout * 1000),
            "options": {"warnOnFetchOpenOrdersWithoutSymbol": False, **self._options},
            # Do not wait for websockets to say goodbye when closing (ccxt waits 250 ms).
            "timeout_on_exit": 0,
        }
        keys = self._credentials
        if keys is not None:  # the only place the plain keys are read
            config["apiKey"] = keys.api_key.get_secret_value()
            config["secret"] = keys.secret.get_secret_value()
            if keys.password is not None:
                config["password"] = keys.password.get_secret_value()
        client = self._class(config)
        if self._sandbox:
            self._enter_sandbox(client)
        if self._api_url is not None:
            api = client.urls["api"]
            rewritten = rewrite_api_urls(api, self._api_url)
            if isinstance(api, Mapping) and isinstance(rewritten, dict) and "ws" in api:
                rewritten["ws"] = rewrite_api_urls(api["ws"], _websocket_base(self._api_url))
            client.urls["api"] = rewritten
        return client

    def _enter_sandbox(self, client: Any) -> None:
        # ccxt raises NotSupported without a "test" entry, but ccxt.pro classes may hold
        # ``"test": None``, on which ccxt fails with a TypeError: check before asking.
        if not client.urls.get("test"):
            raise ConfigError(
                f"{self._id!r} has no sandbox (test network) in ccxt; "
                "leave sandbox off or use a local test exchange"
            )
        client.set_sandbox_mode(True)

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

    @contextmanager
    def _errors(self, client: Any, action: str = "") -> Iterator[None]:
        """Map ccxt's exceptions; a rate-limit error reads the client's last headers.

        With ``action``, a refusal whose reason is known says what was refused and why:
        ``"binance: order 'qk-1' (buy BTC/USDT) refused: insufficient funds: ..."``.
        """
        try:
            with map_ccxt_errors(
                exchange=self._id,
                headers=lambda: client.last_response_headers,
                secrets=lambda: (client.apiKey, client.secret, client.password),
            ):
                yield
        except ExchangeError as exc:
            words = _REASON_WORDS.get(exc.reason)
            if not action or words is None:
                raise
            detail = str(exc).removeprefix(f"{self._id}: ")
            raise ExchangeError(
                f"{action} refused: {words}: {detail}", exchange=self._id, reason=exc.reason
            ) from exc.__cause__

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

    def _offers(self, client: Any, feature: str) -> None:
        """Check ccxt says the venue offers ``feature`` (a key of ccxt's ``has``)."""
        if not client.has.get(feature):
            raise ExchangeError(
                f"the venue does not offer {feature}", exchange=self._id, reason="not_supported"
            )

    def _require(self, client: Any, symbol: str, feature: str) -> Mapping[str, Any]:
        """Check the venue offers ``feature`` and lists ``symbol``; return ccxt's market."""
        self._offers(client, feature)
        if symbol not in client.markets:
            raise ExchangeError(
                f"unknown symbol {symbol!r}{_suggest(symbol, list(client.markets))}",
                exchange=self._id,
                reason="bad_symbol",
            )
        market: Mapping[str, Any] = client.markets[symbol]
        return market

    def _check_timeframe(self, timeframe: str) -> None:
        if timeframe not in self.timeframes:
            raise ExchangeError(
                f"timeframe {timeframe!r} is not offered (offered: {', '.join(self.timeframes)})",
                exchange=self._id,
                reason="not_supported",
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

    # ------------------------------------------------------------------------- trading

    async def create_order(self, request: OrderRequest, client_id: str) -> VenueOrder:
        """Place an order, tagged with ``client_id`` (ccxt's unified ``clientOrderId``).

        Args:
            request: The order; amount and prices already rounded to the market's precision.
            client_id: The client order id; look the order up by it when the outcome of this
                call is unknown.

        Returns:
            The order as the venue reports it right after placing it.

        Raises:
            ExchangeError: If the venue refused the order for good; ``reason`` says why
                (``"insufficient_funds"``, ``"invalid_order"``, ``"not_supported"``, ...).
            RequestTimeoutError: If the venue did not answer in time: the order may exist.
            TransientError: If the venue could not be reached or answered with a server
                error (the order may exist as well) or rate-limited the request.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        market = self._require(client, request.symbol, "createOrder")
        arguments = order_arguments(
            request,
            client_id,
            market=market,
            has=client.has,
            features=client.features,
            exchange=self._id,
        )
        action = f"order {client_id!r} ({request.side.value} {request.symbol})"
        with self._errors(client, action):
            if arguments.cost is not None:
                place = (
                    client.create_market_buy_order_with_cost
                    if arguments.side == "buy"
                    else client.create_market_sell_order_with_cost
                )
                raw = await place(arguments.symbol, arguments.cost, arguments.params)
            else:
                raw = await client.create_order(
                    arguments.symbol,
                    arguments.type,
                    arguments.side,
                    arguments.amount,
                    arguments.price,
                    arguments.params,
                )
        return parse_order(raw, exchange=self._id, client_id=client_id)

    async def create_oco(self, request: OcoRequest) -> tuple[VenueOrder, VenueOrder]:
        """Place a take-profit / stop-loss pair as one venue OCO list (Binance spot).

        Args:
            request: The pair; amount and prices already rounded to the market's precision.

        Returns:
            The take-profit leg and the stop-loss leg as the venue reports them.

        Raises:
            ExchangeError: ``reason="not_supported"`` (before any request) where the venue has
                no OCO lists; other reasons for refusals.
            TransientError: If the outcome is unknown or the venue could not be reached.
        """
        client = await self._ready()
        market = self._require(client, request.symbol, "createOrder")
        with self._errors(client, f"OCO {request.list_client_id!r} ({request.symbol})"):
            return await create_oco(client, market, request, exchange=self._id)

    async def edit_order(
        self,
        client_id: str,
        symbol: str,
        request: OrderRequest,
        *,
        new_client_id: str,
        exchange_id: str = "",
    ) -> VenueOrder:
        """Replace an open order with ``request`` through ccxt's ``edit_order``.

        Binance spot answers with a NEW order (``POST /api/v3/order/cancelReplace``): a new
        venue id and the client id ``new_client_id``; the old order is canceled. The amount of
        ``request`` is what the new order is for (on Binance it does not count the old order's
        fills).

        Args:
            client_id: Client id of the order to replace.
            symbol: Its unified symbol.
            request: The replacement; amount and prices already rounded to the market's
                precision; same symbol, side and type.
            new_client_id: The replacement's client id; look it up by it when the outcome of
                this call is unknown.
            exchange_id: The venue's id of the order to replace, if known (saves a lookup).

        Returns:
            The replacement order as the venue reports it.

        Raises:
            ExchangeError: With ``reason`` ``"not_supported"`` (before any request) if ccxt
                cannot edit this venue's orders; ``"order_not_found"`` if the order to replace
                is unknown or closed; other reasons for other refusals.
            RequestTimeoutError: If the venue did not answer in time: either order may exist.
            TransientError: If the venue could not be reached or answered with a server error.
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        market = self._require(client, symbol, "editOrder")
        if not exchange_id:
            found = await self.fetch_order(client_id, symbol)
            if found is None:
                raise ExchangeError(
                    f"edit of order {client_id!r} ({symbol}): order not found",
                    exchange=self._id,
                    reason="order_not_found",
                )
            exchange_id = found.exchange_id
        arguments = order_arguments(
            request,
            new_client_id,
            market=market,
            has=client.has,
            features=client.features,
            exchange=self._id,
        )
        action = f"edit of order {client_id!r} ({request.side.value} {symbol})"
        with self._errors(client, action):
            raw = await client.edit_order(
                exchange_id,
                arguments.symbol,
                arguments.type,
                arguments.side,
                arguments.amount,
                arguments.price,
                arguments.params,
            )
        return parse_order(raw, exchange=self._id, client_id=new_client_id)

    async def cancel_order(self, client_id: str, symbol: str) -> VenueOrder:
        """Cancel an order by its client id.

        Args:
            client_id: The client order id it was placed with.
            symbol: Its unified symbol.

        Returns:
            The order's state after the cancel (some fill may have happened before).

        Raises:
            ExchangeError: If the venue does not know the order or it is no longer open
                (``reason`` ``"order_not_found"``), or refused the cancel.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "cancelOrder")
        with self._errors(client, f"cancel of order {client_id!r} ({symbol})"):
            raw = await client.cancel_order(None, symbol, {"clientOrderId": client_id})
        return parse_order(raw, exchange=self._id, client_id=client_id)

    async def fetch_order(self, client_id: str, symbol: str) -> VenueOrder | None:
        """Look an order up by its client id.

        Args:
            client_id: The client order id it was placed with.
            symbol: Its unified symbol.

        Returns:
            The order, or ``None`` when the venue says no such order exists.

        Raises:
            ExchangeError: If the venue refused the request.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchOrder")
        try:
            with self._errors(client):
                raw = await client.fetch_order(None, symbol, {"clientOrderId": client_id})
        except ExchangeError as exc:
            if exc.reason == "order_not_found":
                return None
            raise
        return parse_order(raw, exchange=self._id, client_id=client_id)

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """The account's open orders.

        Args:
            symbol: Only this market's; ``None`` for every market (venues weigh that request
                heavier).

        Returns:
            The open orders, as the venue lists them.

        Raises:
            ExchangeError: If the symbol is unknown or the venue refused the request.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        if symbol is None:
            self._offers(client, "fetchOpenOrders")
        else:
            self._require(client, symbol, "fetchOpenOrders")
        with self._errors(client):
            raw = await client.fetch_open_orders(symbol)
        return [parse_order(order, exchange=self._id) for order in raw]

    async def my_trades(self, symbol: str, since_ms: int | None = None) -> list[VenueTrade]:
        """The account's executions in ``symbol``, oldest first.

        One request: at most the venue's default page (Binance: the 500 oldest at or after
        ``since_ms``, else the 500 latest); call again from the last time for more.

        Args:
            symbol: Unified symbol.
            since_ms: Earliest execution time wanted, ms since the epoch; ``None`` for the
                venue's default (usually the latest).

        Returns:
            The executions, with fees.

        Raises:
            ExchangeError: If the symbol is unknown or the venue refused the request.
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        self._require(client, symbol, "fetchMyTrades")
        with self._errors(client):
            raw = await client.fetch_my_trades(symbol, since_ms)
        return parse_my_trades(raw, exchange=self._id, symbol=symbol)

    async def watch_my_trades(self, symbol: str | None = None) -> list[VenueTrade]:
        """Wait for the account's next executions over the venue's private websocket.

        The first call authenticates and subscribes (Binance spot: a signed
        ``userDataStream.subscribe.signature`` on its websocket API); it returns once an
        execution happens after that. Later calls on the same connection return every execution
        since the previous call (ccxt buffers them, up to its ``tradesLimit``), or wait for the
        next. Nothing is replayed: executions before the subscription, or while the connection
        was down, are only in `my_trades`. After the connection fails, the call raises; the
        next call connects and subscribes again.

        Args:
            symbol: Only this market's executions; ``None`` for every market.

        Returns:
            The new executions, oldest first, with fees and, where the venue says which order
            traded, the order's client id.

        Raises:
            ExchangeError: If the venue has no private trade websocket (``reason``
                ``"not_supported"``, raised before any request), the symbol is unknown, or the
                venue refused the subscription (e.g. bad keys: ``"authentication"``).
            TransientError: If the connection failed or was closed (`VenueUnavailableError`),
                or the venue could not be reached: call again to reconnect.
            DataError: If an execution is malformed.
        """
        if not self._has.get("watchMyTrades"):
            raise ExchangeError(
                "the venue offers no websocket for the account's trades (watchMyTrades); "
                "poll my_trades instead",
                exchange=self._id,
                reason="not_supported",
            )
        client = await self._ready()
        if symbol is not None:
            self._require(client, symbol, "watchMyTrades")
        with self._errors(client):
            try:
                raw = await client.watch_my_trades(symbol)
            except KeyError as exc:
                raise _ccxt_error_behind(exc) from None
        return parse_my_trades(
            raw,
            exchange=self._id,
            symbol=symbol or "*",
            client_ids=self._cached_client_ids(client),
        )

    @staticmethod
    def _cached_client_ids(client: Any) -> dict[str, str]:
        """Client ids by order id, from the orders ccxt's websocket handlers have cached."""
        by_symbol = getattr(getattr(client, "orders", None), "hashmap", None)
        return {
            str(order_id): str(order["clientOrderId"])
            for orders in (by_symbol.values() if isinstance(by_symbol, Mapping) else ())
            if isinstance(orders, Mapping)
            for order_id, order in orders.items()
            if isinstance(order, Mapping) and order.get("clientOrderId")
        }

    async def balances(self) -> dict[str, VenueBalance]:
        """The account's balances.

        Returns:
            Balances by asset; assets with a zero total are left out.

        Raises:
            ExchangeError: If the venue refused the request (e.g. bad keys:
                ``reason`` ``"authentication"``).
            TransientError: If the venue could not answer now (a subclass says why).
            DataError: If the answer is malformed.
        """
        client = await self._ready()
        with self._errors(client):
            raw = await client.fetch_balance()
        return parse_balances(raw, exchange=self._id)

    async def aclose(self) -> None:
        """Close the client's connections, websockets included; the next call opens a new client.

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
        extra = ", sandbox=True" if self._sandbox else ""
        extra += ", credentials=<hidden>" if self._credentials is not None else ""
        return f"CcxtExchange({self._id!r}{where}, rate_limit={self._rate_limit}{extra})"
