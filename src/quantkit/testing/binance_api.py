"""BinanceSpotApi: a `LocalVenue` rendered as Binance spot's public REST API (aiohttp routes).

What ccxt's ``binance`` class needs to load markets and download history:

* ``GET /api/v3/ping`` and ``GET /api/v3/time``;
* ``GET /api/v3/exchangeInfo``: the markets, with their ``PRICE_FILTER``, ``LOT_SIZE`` and
  ``NOTIONAL`` filters;
* ``GET /api/v3/klines``: rows of 12 values, prices as strings, ``limit`` 500 by default and
  at most 1000, ``startTime``/``endTime`` honoured;
* ``GET /api/v3/aggTrades``: aggregate trades by ``fromId``, or by a window of at most an hour.

A live venue (see `LocalVenue.reveal`) serves only what it has revealed; the last kline is then
the forming candle, as Binance serves the current unfinished one.

Errors are answered the Binance way (``{"code": -1121, "msg": "Invalid symbol."}`` with HTTP
400), so ccxt raises the exceptions it raises against the real venue. Private (signed) endpoints
belong in another class of the same shape, whose routes `LocalExchange.routes` adds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
from aiohttp import web

from quantkit.testing.faults import Fault
from quantkit.testing.filters import MAX_NOTIONAL, MAX_PRICE
from quantkit.testing.market_data import LocalMarket, format_number
from quantkit.testing.server_clock import ServerClock
from quantkit.testing.venue import LocalVenue

__all__ = [
    "KEEP_ROWS",
    "LOCAL_CCXT_OPTIONS",
    "BinanceApiError",
    "BinanceSpotApi",
    "fault_response",
    "int_param",
    "json_list",
    "limit_param",
    "market_param",
    "missing_param",
    "order_ids",
]

M = TypeVar("M")

LOCAL_CCXT_OPTIONS: Mapping[str, Any] = {
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["spot"]},
}
"""ccxt ``binance`` options that keep ``load_markets`` to ``GET /api/v3/exchangeInfo`` alone."""

KEEP_ROWS = web.RequestKey("keep_rows", int)
"""Request key: keep only this many rows of a list answer (set by a truncate fault)."""

_HOUR_MS = 3_600_000


class BinanceApiError(Exception):
    """An error answered the Binance way: HTTP status, Binance code and message.

    Args:
        code: Binance's error code, e.g. ``-1121``.
        msg: Binance's message, e.g. ``"Invalid symbol."``.
        status: The HTTP status.
        data: Details sent along as ``"data"`` (cancelReplace's half-successes), if any.
    """

    def __init__(
        self, code: int, msg: str, status: int = 400, *, data: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data

    def response(self) -> web.Response:
        """Return the answer: ``{"code": ..., "msg": ...}`` (and ``"data"``) with the status.

        Returns:
            The aiohttp response.
        """
        answer: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            answer["data"] = self.data
        body = json.dumps(answer)
        return web.Response(status=self.status, text=body, content_type="application/json")


def missing_param(name: str) -> BinanceApiError:
    """Binance's ``-1102`` answer to a mandatory parameter not sent (or sent empty).

    Args:
        name: The parameter, e.g. ``"symbol"``.

    Returns:
        The error to raise.
    """
    return BinanceApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def market_param(
    query: Mapping[str, str], market_by_id: Callable[[str], M | None], name: str = "symbol"
) -> M:
    """Return the market a request names by venue id (``symbol=BTCUSDT``).

    Args:
        query: The request's parameters.
        market_by_id: The venue's lookup by id (``None`` when unknown).
        name: The parameter: ``"symbol"``, or ``"pair"`` for index klines.

    Returns:
        The market.

    Raises:
        BinanceApiError: ``-1102`` if the parameter is absent, ``-1121`` if the id is unknown.
    """
    venue_id = query.get(name)
    if not venue_id:
        raise missing_param(name)
    market = market_by_id(venue_id)
    if market is None:
        raise BinanceApiError(-1121, "Invalid symbol.")
    return market


def order_ids(
    query: Mapping[str, str], id_name: str = "orderId", client_name: str = "origClientOrderId"
) -> tuple[int | None, str | None]:
    """Return the order id and the client order id a query or cancel names, one at least.

    Args:
        query: The request's parameters.
        id_name: The venue id's parameter (``"algoId"`` for algo orders).
        client_name: The client id's parameter (``"clientAlgoId"`` for algo orders).

    Returns:
        ``(order_id, client_id)``, either possibly ``None``.

    Raises:
        BinanceApiError: ``-1102`` when neither is sent; ``-1100`` for a malformed id.
    """
    order_id = int_param(query, id_name)
    client_id = query.get(client_name)
    if order_id is None and not client_id:
        raise BinanceApiError(
            -1102, f"Param '{client_name}' or '{id_name}' must be sent, but both were empty/null!"
        )
    return order_id, client_id


def int_param(query: Mapping[str, str], name: str) -> int | None:
    """Read an optional integer query parameter.

    Args:
        query: The request's query.
        name: The parameter.

    Returns:
        Its value, or ``None`` when absent or empty.

    Raises:
        BinanceApiError: ``-1100`` if it is not an integer.
    """
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'.") from None


def limit_param(query: Mapping[str, str]) -> int:
    """Read ``limit``: 500 by default, 1 to 1000.

    Args:
        query: The request's query.

    Returns:
        The limit.

    Raises:
        BinanceApiError: ``-1100`` or ``-1130`` if it is not an integer in range.
    """
    limit = int_param(query, "limit")
    if limit is None:
        return 500
    if not 1 <= limit <= 1000:
        raise BinanceApiError(-1130, "Invalid data sent for a parameter.")
    return limit


def json_list(request: web.Request, rows: list[Any]) -> web.Response:
    """Answer a JSON list, cut short when a truncate fault set `KEEP_ROWS` on the request.

    Args:
        request: The request being answered.
        rows: The full list.

    Returns:
        The aiohttp response.
    """
    keep = request.get(KEEP_ROWS)
    return web.json_response(rows if keep is None else rows[:keep])


def fault_response(fault: Fault) -> web.Response:
    """Answer a ``"status"`` fault: Binance's JSON for 418/429, plain text otherwise.

    Args:
        fault: The fault.

    Returns:
        The aiohttp response, with ``Retry-After`` when the fault has one.
    """
    headers = {} if fault.retry_after is None else {"Retry-After": format_number(fault.retry_after)}
    if fault.body is not None:
        return web.Response(status=fault.status, text=fault.body, headers=headers)
    if fault.status in (418, 429):
        body = {"code": -1003, "msg": "Too many requests; current limit is exceeded."}
        return web.json_response(body, status=fault.status, headers=headers)
    return web.Response(status=fault.status, text="Service unavailable.", headers=headers)


class BinanceSpotApi:
    """Binance spot's public market-data endpoints over a `LocalVenue`.

    Args:
        venue: The markets and data to serve.
        clock: The server's clock (``/api/v3/time``); the machine's when ``None``.
    """

    def __init__(self, venue: LocalVenue, *, clock: ServerClock | None = None) -> None:
        self.venue = venue
        self.clock = ServerClock() if clock is None else clock

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes of the endpoints.

        Returns:
            Route definitions for ``ping``, ``time``, ``exchangeInfo``, ``klines`` and
            ``aggTrades``.
        """
        return [
            web.get("/api/v3/ping", self._ping),
            web.get("/api/v3/time", self._time),
            web.get("/api/v3/exchangeInfo", self._exchange_info),
            web.get("/api/v3/klines", self._klines),
            web.get("/api/v3/aggTrades", self._agg_trades),
        ]

    def _query_market(self, query: Mapping[str, str]) -> LocalMarket:
        return market_param(query, self.venue.market_by_id)

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.clock.now_ms()})

    def _symbol_info(self, market: LocalMarket) -> dict[str, Any]:
        fmt = format_number
        return {
            "symbol": market.venue_id,
            "status": market.status,
            "baseAsset": market.base,
            "baseAssetPrecision": 8,
            "quoteAsset": market.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": list(market.order_types),
            "icebergAllowed": True,
            "ocoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(market.tick_size),
                    "maxPrice": format(MAX_PRICE, "f"),
                    "tickSize": fmt(market.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt(market.min_qty),
                    "maxQty": fmt(market.max_qty),
                    "stepSize": fmt(market.step_size),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": fmt(market.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": format(MAX_NOTIONAL, "f"),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    async def _exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self.clock.now_ms(),
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": 6000,
                    },
                ],
                "exchangeFilters": [],
                "symbols": [self._symbol_info(m) for m in self.venue.markets],
            }
        )

    @staticmethod
    def _window(
        times: np.ndarray[Any, np.dtype[np.int64]], start: int | None, end: int | None, limit: int
    ) -> tuple[int, int]:
        """Row range: the first ``limit`` rows in [start, end], or the last ``limit`` up to end."""
        high = int(np.searchsorted(times, end, "right")) if end is not None else int(times.size)
        if start is None:
            return max(0, high - limit), high
        low = int(np.searchsorted(times, start, "left"))
        return low, max(low, min(high, low + limit))

    async def _klines(self, request: web.Request) -> web.Response:
        query = request.query
        market = self._query_market(query)
        interval = query.get("interval", "")
        if not self.venue.serves(interval):
            raise BinanceApiError(-1120, "Invalid interval.")
        limit = limit_param(query)
        start, end = int_param(query, "startTime"), int_param(query, "endTime")
        candles = self.venue.served_candles(market, interval)
        low, high = self._window(candles.time, start, end, limit)
        fmt = format_number
        rows = [
            [
                int(candles.time[i]),
                fmt(candles.open[i]),
                fmt(candles.high[i]),
                fmt(candles.low[i]),
                fmt(candles.close[i]),
                fmt(candles.volume[i]),
                int(candles.close_time[i]),
                fmt(round(float(candles.volume[i] * candles.close[i]), 8)),
                int(candles.count[i]),
                "0",
                "0",
                "0",
            ]
            for i in range(low, high)
        ]
        return json_list(request, rows)

    async def _agg_trades(self, request: web.Request) -> web.Response:
        query = request.query
        market = self._query_market(query)
        limit = limit_param(query)
        from_id = int_param(query, "fromId")
        start, end = int_param(query, "startTime"), int_param(query, "endTime")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceApiError(-1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > _HOUR_MS:
            raise BinanceApiError(-1127, "More than 1 hours between startTime and endTime.")
        trades = self.venue.served_trades(market)
        if from_id is not None:
            low = int(np.searchsorted(trades.id, from_id, "left"))
            high = min(low + limit, len(trades))
        else:
            low, high = self._window(trades.time, start, end, limit)
        fmt = format_number
        rows = [
            {
                "a": int(trades.id[i]),
                "p": fmt(trades.price[i]),
                "q": fmt(trades.amount[i]),
                "f": int(trades.id[i]),
                "l": int(trades.id[i]),
                "T": int(trades.time[i]),
                "m": bool(trades.buyer_maker[i]),
                "M": True,
            }
            for i in range(low, high)
        ]
        return json_list(request, rows)
