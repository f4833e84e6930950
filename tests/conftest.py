"""Shared fixtures for the quantkit test suite; builders live in tests/builders.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from quantkit.sim.exchange import SimulatedExchange
from tests.builders import make_exchange

settings.register_profile(
    "quantkit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("quantkit")


@pytest.fixture
def exchange() -> SimulatedExchange:
    """A fee-free BTC/USDT exchange with 10,000 USDT."""
    return make_exchange()
