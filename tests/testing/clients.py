"""The real ccxt clients the local exchange tests drive, and how they are set up and closed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async

from quantkit.exchanges.ccxt_exchange import rewrite_api_urls
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

KEY, SECRET = "test-key", "test-secret"


def make_client(local: LocalExchange, *, secret: str = SECRET) -> Any:
    """The unmodified ccxt async binance client, pointed at the local server."""
    client = ccxt_async.binance(
        {
            "apiKey": KEY,
            "secret": secret,
            "enableRateLimit": False,
            "options": {**LOCAL_CCXT_OPTIONS, "warnOnFetchOpenOrdersWithoutSymbol": False},
        }
    )
    client.urls["api"] = rewrite_api_urls(client.urls["api"], local.url)
    return client


@contextlib.asynccontextmanager
async def loaded(client: Any) -> AsyncIterator[Any]:
    """An async ccxt client with its markets loaded; closed when the block ends."""
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


def free(balance: dict[str, Any], asset: str) -> float:
    """The free amount of ``asset`` in a ccxt balance (0 when ccxt says ``None``)."""
    return float(balance[asset]["free"] or 0)
