"""Fixtures of the local futures exchange tests: one server per module, a sync ccxt client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt
import pytest

from quantkit.exchanges.client import rewrite_api_urls
from quantkit.testing.futures import LocalFuturesExchange

KEY, SECRET = "futures-key-1", "futures-secret-1"


def sync_client(exchange: LocalFuturesExchange, **keys: str) -> Any:
    """The real sync ccxt ``binanceusdm`` client, every API URL pointed at ``exchange``."""
    client = ccxt.binanceusdm({**exchange.ccxt_options(), **keys, "timeout": 30_000})
    client.urls["api"] = rewrite_api_urls(client.urls["api"], exchange.url)
    return client


@pytest.fixture(scope="module")
def futures() -> Iterator[LocalFuturesExchange]:
    """Two weeks of one-minute data of BTCUSDT and ETHUSDT; one account."""
    with LocalFuturesExchange(accounts={KEY: (SECRET, {"USDT": 10_000})}) as exchange:
        yield exchange


@pytest.fixture
def clean(futures: LocalFuturesExchange) -> Iterator[LocalFuturesExchange]:
    """The module's exchange with no pending faults and an empty request log."""
    futures.faults.clear()
    futures.log.clear()
    yield futures
    futures.faults.clear()


@pytest.fixture
def client(clean: LocalFuturesExchange) -> Any:
    """A sync ccxt client with the account's keys, markets loaded."""
    client = sync_client(clean, apiKey=KEY, secret=SECRET)
    client.load_markets()
    clean.log.clear()
    return client
