"""Overfitting diagnostics for parameter sweeps: the deflated Sharpe ratio and CSCV's PBO.

A sweep that tries many parameter sets and keeps the best one is biased: the best backtest of
many looks good even when every trial is noise. Two diagnostics measure how much:

- `deflated_sharpe_ratio` (Bailey & López de Prado, 2014) is the probability that the best
  trial's true Sharpe ratio beats the Sharpe ratio that the best of N skill-less trials would show
  by luck (`expected_max_sharpe`), corrected for sample length, skewness and fat tails
  (`probabilistic_sharpe_ratio`).
- `probability_of_backtest_overfitting` (Bailey, Borwein, López de Prado & Zhu, 2017) is the
  share of in-sample/out-of-sample splits, built by combinatorially symmetric cross-validation
  (CSCV), in which the in-sample winner ranks in the bottom half out of sample.

Both take the per-period returns of every trial, one column per trial. Sharpe ratios here are
per period (not annualised) with a zero benchmark rate; subtract a risk-free rate from the
returns first if you want one. Formulas, interpretation and references: ``docs/overfitting.md``.
"""

from __future__ import annotations

from quantkit.optimize.deflated_sharpe import (
    DeflatedSharpeResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
)
from quantkit.optimize.pbo import BacktestOverfittingResult, probability_of_backtest_overfitting
from quantkit.optimize.sharpe import sharpe_ratios

__all__ = [
    "BacktestOverfittingResult",
    "DeflatedSharpeResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratios",
]
