"""FuturesSignedApi: the signature check of Binance USD-M's signed endpoints, and the brackets.

Signed requests are checked exactly as the spot private API checks them (`BinancePrivateApi`):
the ``X-MBX-APIKEY`` header names a known key (``-2014`` when absent, ``-2015`` when unknown),
``signature`` comes last and is the hex HMAC-SHA256, with the key's secret, of the raw query
string followed by the raw body (``-1022`` otherwise), and ``timestamp`` lies within
``recvWindow`` of the server's clock (``-1021``; see `check_timestamp`).

Served here: ``GET /fapi/v1/leverageBracket`` (ccxt's ``fetch_leverage_tiers``): every market's
notional brackets as a list, or one market's as an object when ``symbol`` is sent. Other signed
endpoints (account, orders, positions) wrap their handlers with `FuturesSignedApi.signed`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from quantkit.testing.futures.markets import FuturesMarket
from quantkit.testing.futures.public_api import BinanceFuturesApi
from quantkit.testing.server_clock import ServerClock
from quantkit.testing.signing import verify_signed

__all__ = ["API_KEY", "FuturesSignedApi", "SignedEndpoint", "bracket_json"]

SignedEndpoint = Callable[[web.Request, str, dict[str, str]], Awaitable[web.Response]]
"""A signed endpoint: called with the request, the caller's API key and its parameters."""
API_KEY = web.RequestKey("futures_api_key", str)
"""Request key: the API key of a verified signed request."""


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral() else float(value)


def bracket_json(market: FuturesMarket) -> dict[str, Any]:
    """Render a market's brackets as Binance's ``leverageBracket`` entry.

    Args:
        market: The perpetual.

    Returns:
        ``{"symbol": ..., "notionalCoef": 1.0, "brackets": [...]}`` with numbers as JSON numbers.
    """
    return {
        "symbol": market.venue_id,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalCap": _number(b.cap),
                "notionalFloor": _number(b.floor),
                "maintMarginRatio": float(b.maint_margin_ratio),
                "cum": float(b.cum),
            }
            for b in market.brackets
        ],
    }


class FuturesSignedApi:
    """Signature checking for the futures endpoints, and ``leverageBracket``.

    Args:
        public: The public API (its venue and market lookup).
        secret_of: The secret of an API key, ``None`` for an unknown key.
        clock: The server's clock (the machine's when ``None``).
    """

    def __init__(
        self,
        public: BinanceFuturesApi,
        secret_of: Callable[[str], str | None],
        *,
        clock: ServerClock | None = None,
    ) -> None:
        self.public = public
        self.secret_of = secret_of
        self.clock = ServerClock() if clock is None else clock

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes of the endpoints.

        Returns:
            The signed ``GET /fapi/v1/leverageBracket`` route.
        """
        return [web.get("/fapi/v1/leverageBracket", self.signed(self._leverage_bracket))]

    def signed(self, endpoint: SignedEndpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap an endpoint with the key, signature and timestamp checks.

        Args:
            endpoint: Called once the request is verified.

        Returns:
            The aiohttp handler.
        """

        async def handler(request: web.Request) -> web.Response:
            params = await self.verify(request)
            return await endpoint(request, request[API_KEY], params)

        return handler

    async def verify(self, request: web.Request) -> dict[str, str]:
        """Check key, signature and timestamp of a request.

        Args:
            request: The request.

        Returns:
            The parameters of query and body.

        Raises:
            BinanceApiError: ``-2014``/``-2015`` (key), ``-1022`` (signature), ``-1021``,
                ``-1102`` or ``-1131`` (timestamp and window).
        """
        api_key, params = await verify_signed(request, self.secret_of, self.clock.now_ms)
        request[API_KEY] = api_key
        return params

    async def _leverage_bracket(
        self, request: web.Request, api_key: str, params: dict[str, str]
    ) -> web.Response:
        if params.get("symbol"):
            return web.json_response(bracket_json(self.public.market_of(params)))
        return web.json_response([bracket_json(m) for m in self.public.venue.markets])
