"""Real ccxt ``binanceusdm`` clients (sync, async, pro) pointed at a local futures exchange.

ccxt picks its USD-M error table by host name (``https://fapi.binance.com/...``); on a
loopback URL it would use only the table common to all Binance markets, where ``-2019``,
``-2022`` or ``-5022`` raise a bare ``ExchangeError``. `linear_errors` installs the USD-M table
first, so the client raises what it raises against the real venue.
"""

from __future__ import annotations

from typing import Any

import ccxt
import ccxt.pro as ccxt_pro

from quantkit.exchanges.client import rewrite_api_urls
from quantkit.testing.futures import LocalFuturesExchange

KEY, SECRET = "venue-key", "venue-secret"


def linear_errors(client: Any) -> Any:
    """Make a client's exact error table the USD-M one it uses on fapi.binance.com."""
    client.exceptions["exact"] = {
        **client.exceptions["exact"],
        **client.exceptions["linear"]["exact"],
    }
    return client


def _point(client: Any, exchange: LocalFuturesExchange) -> Any:
    websockets = client.urls["api"].get("ws")
    client.urls["api"] = rewrite_api_urls(client.urls["api"], exchange.url)
    if isinstance(websockets, dict):
        client.urls["api"]["ws"] = {
            **client.urls["api"]["ws"],
            "linear": f"ws://127.0.0.1:{exchange.port}/ws",
        }
    return linear_errors(client)


def settings(exchange: LocalFuturesExchange, secret: str = SECRET) -> dict[str, Any]:
    options = exchange.ccxt_options()
    return {**options, "apiKey": KEY, "secret": secret, "timeout": 30_000}


def sync_usdm(exchange: LocalFuturesExchange, secret: str = SECRET) -> Any:
    """The sync client of the test account."""
    return _point(ccxt.binanceusdm(settings(exchange, secret)), exchange)


def pro_usdm(exchange: LocalFuturesExchange) -> Any:
    """The async ccxt.pro client of the test account (close it with ``await client.close()``)."""
    return _point(ccxt_pro.binanceusdm(settings(exchange)), exchange)
