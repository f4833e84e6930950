"""Shared fixtures for the quantkit test suite; builders live in tests/builders.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, settings

from quantkit.sim.exchange import SimulatedExchange
from quantkit.testing import LocalExchange
from tests.builders import make_exchange

settings.register_profile(
    "quantkit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("quantkit")


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """Each test starts from the logging set-up the one before it found.

    Live runs configure structlog and the root logger when nothing else has (as a user's script
    would want); without this, whether a later test's `structlog.testing.capture_logs` sees an
    event would depend on which tests ran before it.
    """
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    factory = logging.getLogRecordFactory()
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


@pytest.fixture
def exchange() -> SimulatedExchange:
    """A fee-free BTC/USDT exchange with 10,000 USDT."""
    return make_exchange()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (ccxt's async client needs it)."""
    return "asyncio"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalExchange]:
    """One local exchange server on 127.0.0.1 per test module that asks for it."""
    with LocalExchange() as exchange:
        yield exchange


@pytest.fixture
def clean_local(local: LocalExchange) -> Iterator[None]:
    """Start each test with no pending faults and an empty request log."""
    local.faults.clear()
    local.log.clear()
    yield
    local.faults.clear()
