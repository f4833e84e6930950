"""Fixtures of the local exchange tests: the spot ccxt client of a module's ``server``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from quantkit.testing import LocalExchange
from tests.testing.clients import loaded, make_client


@pytest.fixture
async def client(server: LocalExchange) -> AsyncIterator[Any]:
    """A ccxt client of the account of the module's ``server``, markets loaded; closed after."""
    async with loaded(make_client(server)) as exchange:
        yield exchange
