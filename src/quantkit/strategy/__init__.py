"""Strategies: the Strategy base class, indicators, the registry and the shipped library."""

from quantkit.strategy.base import Strategy as Strategy
from quantkit.strategy.context import StrategyContext as StrategyContext
from quantkit.strategy.data import SymbolData as SymbolData
from quantkit.strategy.indicators import Indicator as Indicator
from quantkit.strategy.library import SmaCross as SmaCross
from quantkit.strategy.library.sma_cross import crossover_signal as crossover_signal
from quantkit.strategy.registry import available_strategies as available_strategies
from quantkit.strategy.registry import get_strategy as get_strategy
from quantkit.strategy.registry import register_strategy as register_strategy
from quantkit.strategy.series import SeriesView as SeriesView

__all__ = [
    "Indicator",
    "SeriesView",
    "SmaCross",
    "Strategy",
    "StrategyContext",
    "SymbolData",
    "available_strategies",
    "crossover_signal",
    "get_strategy",
    "register_strategy",
]
