"""Brokers: one interface for backtest, paper and live trading."""

from quantkit.brokers.backtest import BacktestBroker as BacktestBroker
from quantkit.brokers.base import Broker as Broker
from quantkit.brokers.base import Clock as Clock

__all__ = ["BacktestBroker", "Broker", "Clock"]
