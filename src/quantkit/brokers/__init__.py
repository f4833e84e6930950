"""Brokers: one interface for backtest, paper and live trading."""

from quantkit.brokers.backtest import BacktestBroker as BacktestBroker
from quantkit.brokers.base import Broker as Broker
from quantkit.brokers.base import Clock as Clock
from quantkit.brokers.breaker import BreakerState as BreakerState
from quantkit.brokers.breaker import CircuitBreaker as CircuitBreaker
from quantkit.brokers.paper import PaperBroker as PaperBroker
from quantkit.brokers.settings import SimSettings as SimSettings
from quantkit.brokers.venue import TradingVenue as TradingVenue

__all__ = [
    "BacktestBroker",
    "BreakerState",
    "Broker",
    "CircuitBreaker",
    "Clock",
    "PaperBroker",
    "SimSettings",
    "TradingVenue",
]
