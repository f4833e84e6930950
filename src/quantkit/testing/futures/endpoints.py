"""What the local USD-M venue's signed endpoint classes share.

`Endpoint` is a signed endpoint ``(request, api_key, params)``; a `Signer` (the server's
`FuturesSignedApi.signed`) turns one into an aiohttp handler that checks the signature first.
`rejected` answers a `VenueRejectionError` as Binance's error JSON, and `SignedEndpoints` holds
the accounts, the signer and the clock every endpoint class (account, orders, algo orders) is
built with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from quantkit.testing.binance_api import BinanceApiError
from quantkit.testing.futures.accounts import FuturesAccounts
from quantkit.testing.futures.orders import VenueRejectionError

__all__ = ["Endpoint", "SignedEndpoints", "Signer", "rejected"]

Endpoint = Callable[[web.Request, str, dict[str, str]], Awaitable[web.Response]]
"""A signed endpoint: the request, the API key that signed it and its parameters."""

Signer = Callable[[Endpoint], Callable[[web.Request], Awaitable[web.Response]]]
"""Wraps a signed endpoint with the signature checks."""


def rejected(endpoint: Endpoint) -> Endpoint:
    """Answer a `VenueRejectionError` raised by an endpoint as Binance's error JSON.

    Args:
        endpoint: The signed endpoint.

    Returns:
        The same endpoint, raising `BinanceApiError` instead.
    """

    async def handler(request: web.Request, api_key: str, params: dict[str, str]) -> web.Response:
        try:
            return await endpoint(request, api_key, params)
        except VenueRejectionError as exc:
            raise BinanceApiError(exc.code, exc.msg) from None

    return handler


class SignedEndpoints:
    """Base of the signed endpoint classes over `FuturesAccounts`.

    Args:
        venue: The accounts.
        signed: Wraps an endpoint with the signature checks (the server's).
        now_ms: The server's clock.
    """

    def __init__(self, venue: FuturesAccounts, signed: Signer, now_ms: Callable[[], int]) -> None:
        self.venue = venue
        self.signed = signed
        self.now_ms = now_ms

    def wrap(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Check the signature, then answer a `VenueRejectionError` as Binance's error JSON.

        Args:
            endpoint: The signed endpoint.

        Returns:
            The aiohttp handler.
        """
        return self.signed(rejected(endpoint))
