"""Fixtures shared by the broker tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import futures_exchange


@pytest.fixture
async def local() -> AsyncIterator[LocalFuturesExchange]:
    """The local USD-M venue, BTC at 40,000 (last and mark), for the perpetual live tests.

    Modules that test against the spot ``LocalExchange`` define their own ``local``, which
    takes precedence over this one.
    """
    async with futures_exchange(price=40_000) as exchange:
        yield exchange
