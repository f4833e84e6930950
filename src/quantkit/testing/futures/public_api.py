"""BinanceFuturesApi: a `FuturesVenue` rendered as Binance USD-M futures' public REST API.

What ccxt's ``binanceusdm`` class calls to load markets and download history:

* ``GET /fapi/v1/ping`` and ``GET /fapi/v1/time``;
* ``GET /fapi/v1/exchangeInfo``: perpetuals with ``contractType`` ``PERPETUAL``,
  ``marginAsset``, precisions and the ``PRICE_FILTER``, ``LOT_SIZE``, ``MARKET_LOT_SIZE``,
  ``MIN_NOTIONAL`` filters;
* ``GET /fapi/v1/klines`` and ``GET /fapi/v1/markPriceKlines`` (by ``symbol``) and
  ``GET /fapi/v1/indexPriceKlines`` (by ``pair``): rows of 12 values, prices as strings,
  ``limit`` 500 by default and at most 1500, ``startTime``/``endTime`` honoured; mark and
  index rows carry no volume (``"0"``);
* ``GET /fapi/v1/premiumIndex``: mark and index price, last funding rate, next funding time,
  for one ``symbol`` (an object) or all (a list);
* ``GET /fapi/v1/fundingRate``: ``{symbol, fundingRate, fundingTime, markPrice}`` ascending,
  ``limit`` 100 by default and at most 1000; from ``startTime`` on (at most ``limit``), or the
  latest ``limit`` up to ``endTime`` (or of all) without it; every market's without ``symbol``;
* ``GET /fapi/v1/fundingInfo``: each market's ``fundingIntervalHours`` and rate cap and floor
  (ccxt's ``fetch_funding_intervals``; Binance lists only adjusted markets, this server all).

Errors are Binance's: ``-1121`` invalid symbol, ``-1120`` invalid interval, ``-1102`` a
mandatory parameter missing, ``-1100`` a malformed number, ``-1130`` a limit out of range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from aiohttp import web

from quantkit.testing.binance_api import (
    BinanceApiError,
    int_param,
    json_list,
    market_param,
    missing_param,
)
from quantkit.testing.futures.markets import FuturesMarket
from quantkit.testing.futures.venue import FuturesVenue, PriceKind
from quantkit.testing.market_data import Candles, format_number
from quantkit.testing.server_clock import ServerClock

__all__ = ["BinanceFuturesApi", "futures_limit", "window"]

_KLINE_LIMITS = (500, 1500)
_FUNDING_LIMITS = (100, 1000)
_ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")


def futures_limit(query: Mapping[str, str], default: int, maximum: int) -> int:
    """Read ``limit``: ``default`` when absent, else 1 to ``maximum``.

    Args:
        query: The request's query.
        default: The endpoint's default.
        maximum: The endpoint's maximum.

    Returns:
        The limit.

    Raises:
        BinanceApiError: ``-1100`` if not an integer, ``-1130`` if out of range.
    """
    limit = int_param(query, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise BinanceApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def window(
    times: np.ndarray[Any, np.dtype[np.int64]], start: int | None, end: int | None, limit: int
) -> tuple[int, int]:
    """Row range: the first ``limit`` rows in ``[start, end]``, or the last ``limit`` to ``end``.

    Args:
        times: Increasing times.
        start: ``startTime``, if sent.
        end: ``endTime``, if sent.
        limit: Most rows.

    Returns:
        ``(low, high)`` row indices.

    Examples:
        >>> t = np.array([0, 10, 20, 30])
        >>> window(t, 5, None, 2), window(t, None, 20, 2), window(t, None, None, 3)
        ((1, 3), (1, 3), (1, 4))
    """
    high = int(np.searchsorted(times, end, "right")) if end is not None else int(times.size)
    if start is None:
        return max(0, high - limit), high
    low = int(np.searchsorted(times, start, "left"))
    return low, max(low, min(high, low + limit))


class BinanceFuturesApi:
    """Binance USD-M futures' public market-data endpoints over a `FuturesVenue`.

    Args:
        venue: The perpetuals and data to serve.
        clock: The server's clock (``/fapi/v1/time``); the machine's when ``None``.
    """

    def __init__(self, venue: FuturesVenue, *, clock: ServerClock | None = None) -> None:
        self.venue = venue
        self.clock = ServerClock() if clock is None else clock

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes of the endpoints.

        Returns:
            Route definitions of the public ``/fapi/v1`` endpoints.
        """
        return [
            web.get("/fapi/v1/ping", self._ping),
            web.get("/fapi/v1/time", self._time),
            web.get("/fapi/v1/exchangeInfo", self._exchange_info),
            web.get("/fapi/v1/klines", self._klines_of("last")),
            web.get("/fapi/v1/markPriceKlines", self._klines_of("mark")),
            web.get("/fapi/v1/indexPriceKlines", self._klines_of("index")),
            web.get("/fapi/v1/premiumIndex", self._premium_index),
            web.get("/fapi/v1/fundingRate", self._funding_rate),
            web.get("/fapi/v1/fundingInfo", self._funding_info),
        ]

    def market_of(self, query: Mapping[str, str], name: str = "symbol") -> FuturesMarket:
        """Return the market named by a parameter.

        Args:
            query: The request's parameters.
            name: ``"symbol"``, or ``"pair"`` for index klines.

        Returns:
            The market.

        Raises:
            BinanceApiError: ``-1102`` if absent, ``-1121`` if unknown.
        """
        return market_param(query, self.venue.market_by_id, name)

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.clock.now_ms()})

    @staticmethod
    def _decimals(increment: float) -> int:
        return len(format_number(increment).partition(".")[2])

    def _symbol_info(self, market: FuturesMarket) -> dict[str, Any]:
        fmt = format_number
        return {
            "symbol": market.venue_id,
            "pair": market.venue_id,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": market.status,
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": market.base,
            "quoteAsset": market.quote,
            "marginAsset": market.quote,
            "pricePrecision": self._decimals(market.tick_size),
            "quantityPrecision": self._decimals(market.step_size),
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": format(market.liquidation_fee, "f"),
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(market.tick_size),
                    "maxPrice": "4529764",
                    "tickSize": fmt(market.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt(market.min_qty),
                    "maxQty": fmt(market.max_qty),
                    "stepSize": fmt(market.step_size),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": fmt(market.min_qty),
                    "maxQty": fmt(market.market_max_qty),
                    "stepSize": fmt(market.step_size),
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": fmt(market.min_notional)},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": list(_ORDER_TYPES),
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }

    async def _exchange_info(self, request: web.Request) -> web.Response:
        quotes = sorted({m.quote for m in self.venue.markets})
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self.clock.now_ms(),
                "futuresType": "U_MARGINED",
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": 2400,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": 1200,
                    },
                ],
                "exchangeFilters": [],
                "assets": [
                    {"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"}
                    for q in quotes
                ],
                "symbols": [self._symbol_info(m) for m in self.venue.markets],
            }
        )

    def _klines_of(self, kind: PriceKind) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return self._klines(request, kind)

        return handler

    def _klines(self, request: web.Request, kind: PriceKind) -> web.Response:
        query = request.query
        market = self.market_of(query, "pair" if kind == "index" else "symbol")
        interval = query.get("interval", "")
        if not interval:
            raise missing_param("interval")
        if not self.venue.serves(interval):
            raise BinanceApiError(-1120, "Invalid interval.")
        limit = futures_limit(query, *_KLINE_LIMITS)
        start, end = int_param(query, "startTime"), int_param(query, "endTime")
        candles = self.venue.candles(market, interval, kind)
        low, high = window(candles.time, start, end, limit)
        return json_list(request, [self._row(candles, i, kind) for i in range(low, high)])

    @staticmethod
    def _row(candles: Candles, i: int, kind: PriceKind) -> list[Any]:
        fmt = format_number
        volume = fmt(candles.volume[i]) if kind == "last" else "0"
        quote = fmt(round(float(candles.volume[i] * candles.close[i]), 8))
        return [
            int(candles.time[i]), fmt(candles.open[i]), fmt(candles.high[i]),
            fmt(candles.low[i]), fmt(candles.close[i]), volume, int(candles.close_time[i]),
            quote if kind == "last" else "0", int(candles.count[i]), "0", "0", "0",
        ]  # fmt: skip

    def _premium_json(self, market: FuturesMarket) -> dict[str, Any]:
        premium = self.venue.premium(market)
        fmt = format_number
        return {
            "symbol": market.venue_id,
            "markPrice": fmt(premium.mark_price),
            "indexPrice": fmt(premium.index_price),
            "estimatedSettlePrice": fmt(premium.index_price),
            "lastFundingRate": f"{premium.last_funding_rate:.8f}",
            "interestRate": "0.00010000",
            "nextFundingTime": premium.next_funding_time,
            "time": self.clock.now_ms(),
        }

    async def _premium_index(self, request: web.Request) -> web.Response:
        if request.query.get("symbol"):
            return web.json_response(self._premium_json(self.market_of(request.query)))
        return web.json_response([self._premium_json(m) for m in self.venue.markets])

    async def _funding_info(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "symbol": m.venue_id,
                    "adjustedFundingRateCap": "0.02000000",
                    "adjustedFundingRateFloor": "-0.02000000",
                    "fundingIntervalHours": m.funding_interval_hours,
                    "disclaimer": False,
                }
                for m in self.venue.markets
            ]
        )

    async def _funding_rate(self, request: web.Request) -> web.Response:
        query = request.query
        markets = [self.market_of(query)] if query.get("symbol") else list(self.venue.markets)
        limit = futures_limit(query, *_FUNDING_LIMITS)
        start, end = int_param(query, "startTime"), int_param(query, "endTime")
        rows: list[tuple[int, str, float, float]] = []
        for market in markets:
            funding = self.venue.funding(market)
            rows.extend(
                (int(t), market.venue_id, float(r), float(p))
                for t, r, p in zip(funding.time, funding.rate, funding.mark_price, strict=True)
            )
        rows.sort()
        times = np.array([row[0] for row in rows], dtype=np.int64)
        low, high = window(times, start, end, limit)
        body = [
            {
                "symbol": venue_id,
                "fundingTime": time,
                "fundingRate": f"{rate:.8f}",
                "markPrice": format_number(price),
            }
            for time, venue_id, rate, price in rows[low:high]
        ]
        return json_list(request, body)
