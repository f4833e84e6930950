"""Strategies shipped with quantkit."""

from quantkit.strategy.library.sma_cross import SmaCross as SmaCross

__all__ = ["SmaCross"]
