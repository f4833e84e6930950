"""Parameter optimisation, walk-forward analysis and scale-out (local processes or Dask).

`optimize` searches a strategy's parameters (grid, seeded random, or optuna's TPE; a
`SignalStrategy` on the compiled fast path) and returns an `OptimizationResult` with the
sweep's overfitting diagnostics; `walk_forward` optimises on rolling or anchored in-sample
windows and evaluates each choice out of sample. Nothing heavy (optuna, dask, plotly) loads
until it is used.
"""

from quantkit.optimize.evaluate import Evaluator, EventEvaluator, FastEvaluator
from quantkit.optimize.executor import show_progress
from quantkit.optimize.overfitting import (
    BacktestOverfittingResult,
    DeflatedSharpeResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratios,
)
from quantkit.optimize.report import OptimizationResult, SweepOverfitting
from quantkit.optimize.search import optimize
from quantkit.optimize.space import Choice, FloatRange, IntRange
from quantkit.optimize.walkforward import WalkForwardResult, WalkForwardWindow, walk_forward

__all__ = [
    "BacktestOverfittingResult",
    "Choice",
    "DeflatedSharpeResult",
    "Evaluator",
    "EventEvaluator",
    "FastEvaluator",
    "FloatRange",
    "IntRange",
    "OptimizationResult",
    "SweepOverfitting",
    "WalkForwardResult",
    "WalkForwardWindow",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "optimize",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratios",
    "show_progress",
    "walk_forward",
]
