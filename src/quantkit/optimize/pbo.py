"""The probability of backtest overfitting (PBO) of a sweep, by CSCV.

`probability_of_backtest_overfitting` (Bailey, Borwein, López de Prado & Zhu, 2017) is the
share of in-sample/out-of-sample splits, built by combinatorially symmetric cross-validation
(CSCV), in which the in-sample winner ranks in the bottom half out of sample. Formulas and
references: ``docs/overfitting.md``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import structlog

from quantkit.errors import ConfigError
from quantkit.optimize.sharpe import as_matrix, check_int, sharpe_from_moments, sharpe_ratios

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray: TypeAlias = npt.NDArray[np.float64]
    BoolArray: TypeAlias = npt.NDArray[np.bool_]
    ReturnsLike: TypeAlias = npt.ArrayLike | pd.DataFrame

__all__ = ["BacktestOverfittingResult", "probability_of_backtest_overfitting"]

_log = structlog.get_logger("quantkit.optimize")

# Elements of one in-sample (or out-of-sample) performance chunk; bounds CSCV's memory use.
_CHUNK_ELEMENTS = 1 << 18


@dataclass(frozen=True, slots=True, eq=False)
class BacktestOverfittingResult:
    """The outcome of combinatorially symmetric cross-validation (CSCV) over a sweep.

    Arrays hold one value per in-sample/out-of-sample combination, in the same order.

    Attributes:
        pbo: Probability of backtest overfitting: the share of ``logits`` at or below 0.
        logits: ``ln(w / (1 - w))`` of the in-sample winner's relative out-of-sample rank ``w``.
        is_performance: The in-sample winner's metric in sample.
        oos_performance: The same trial's metric out of sample.
        degradation_slope: Least-squares slope of ``oos_performance`` on ``is_performance``
            (negative: the better it looked in sample, the worse out of sample); NaN when
            undefined.
        degradation_intercept: Intercept of that regression; NaN when undefined.
        prob_oos_loss: Share of combinations whose winner has a negative out-of-sample metric.
        n_splits: Number of contiguous row blocks ``S``.
        n_combinations: Number of combinations evaluated.
        exhaustive: True if every one of the ``C(S, S/2)`` combinations was evaluated.
        n_trials: Number of trials (columns).
        n_obs: Number of return periods (rows).
    """

    pbo: float
    logits: FloatArray
    is_performance: FloatArray
    oos_performance: FloatArray
    degradation_slope: float
    degradation_intercept: float
    prob_oos_loss: float
    n_splits: int
    n_combinations: int
    exhaustive: bool
    n_trials: int
    n_obs: int


def probability_of_backtest_overfitting(
    returns: ReturnsLike,
    n_splits: int = 16,
    metric: Callable[[FloatArray], FloatArray] = sharpe_ratios,
    *,
    max_combinations: int = 20_000,
    seed: int = 0,
) -> BacktestOverfittingResult:
    """Return the probability of backtest overfitting (PBO) of a sweep by CSCV.

    The rows are cut into ``n_splits`` contiguous blocks of near-equal size. Each way of
    choosing half of the blocks is an in-sample set (IS) and the other half its out-of-sample
    set (OOS). For each, the trial with the best IS metric is found, its OOS rank ``r`` among the
    ``N`` trials (1 = worst, ties averaged) gives ``w = r / (N + 1)`` and the logit
    ``ln(w / (1 - w))``. PBO is the share of logits at or below 0. Trials tied for the best IS
    metric share the selection: their OOS ranks and metrics are averaged.

    When ``C(n_splits, n_splits / 2)`` exceeds ``max_combinations`` (16 splits give 12,870),
    a seeded random sample of complementary pairs of combinations is drawn instead, so the
    result is reproducible and stays symmetric.

    Args:
        returns: Per-period returns, rows = periods in time order and one column per trial, as
            a 2-D array or a DataFrame; at least 2 trials and ``2 * n_splits`` rows.
        n_splits: Number of blocks ``S``; even, at least 2.
        metric: Maps a (rows, trials) block of returns to one score per trial, higher is
            better. The default, `sharpe_ratios`, runs vectorised over combinations.
        max_combinations: Most combinations to evaluate; at least 2.
        seed: Seed of the sample drawn when the combinations are capped.

    Returns:
        PBO, the logits and the performance degradation data.

    Raises:
        ConfigError: If the returns are not numeric, hold NaN or inf, have fewer than 2 columns
            or ``2 * n_splits`` rows, ``n_splits`` is not an even integer of at least 2,
            ``max_combinations`` is below 2 or ``metric`` returns the wrong shape or NaN.

    Examples:
        >>> import numpy as np
        >>> noise = np.random.default_rng(3).normal(0.0, 0.01, size=(320, 20))
        >>> result = probability_of_backtest_overfitting(noise, n_splits=8)
        >>> result.n_combinations, 0.0 <= result.pbo <= 1.0
        (70, True)
    """
    check_int("probability_of_backtest_overfitting", "n_splits", n_splits, minimum=2)
    if n_splits % 2:
        raise ConfigError(
            f"probability_of_backtest_overfitting: n_splits must be even, got {n_splits}"
        )
    check_int("probability_of_backtest_overfitting", "max_combinations", max_combinations, 2)
    matrix, _ = as_matrix(returns, "returns", min_rows=2 * n_splits)
    n_obs, n_trials = matrix.shape
    if n_trials < 2:
        raise ConfigError(
            f"probability_of_backtest_overfitting: returns has {n_trials} column; CSCV ranks "
            "trials against each other and needs at least 2"
        )
    masks, exhaustive = _combinations(n_splits, max_combinations, seed)
    bounds = np.linspace(0, n_obs, n_splits + 1).round().astype(np.int64)
    chunk = max(1, _CHUNK_ELEMENTS // n_trials)
    parts = [
        _select_and_rank(*_evaluate(matrix, bounds, masks[start : start + chunk], metric))
        for start in range(0, len(masks), chunk)
    ]
    ranks, is_perf, oos_perf = (np.concatenate(columns) for columns in zip(*parts, strict=True))
    omega = ranks / (n_trials + 1)
    logits = np.log(omega / (1.0 - omega))
    slope, intercept = _regression(is_perf, oos_perf)
    return BacktestOverfittingResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        is_performance=is_perf,
        oos_performance=oos_perf,
        degradation_slope=slope,
        degradation_intercept=intercept,
        prob_oos_loss=float(np.mean(oos_perf < 0.0)),
        n_splits=n_splits,
        n_combinations=len(masks),
        exhaustive=exhaustive,
        n_trials=n_trials,
        n_obs=n_obs,
    )


def _combinations(n_splits: int, cap: int, seed: int) -> tuple[BoolArray, bool]:
    """In-sample block masks (combinations, n_splits), every one or a seeded sample of pairs."""
    half = n_splits // 2
    total = math.comb(n_splits, half)
    if total <= cap:
        masks = np.zeros((total, n_splits), dtype=np.bool_)
        for row, chosen in enumerate(itertools.combinations(range(n_splits), half)):
            masks[row, list(chosen)] = True
        return masks, True
    # Sample combinations holding block 0 (one of each complementary pair), then add complements.
    pairs = cap // 2
    rng = np.random.default_rng(seed)
    drawn = np.empty((0, half - 1), dtype=np.int64)
    while len(drawn) < pairs:
        order = np.argsort(rng.random((pairs, n_splits - 1)), axis=1)[:, : half - 1] + 1
        drawn = np.concatenate([drawn, np.sort(order, axis=1)])
        _, first = np.unique(drawn, axis=0, return_index=True)
        drawn = drawn[np.sort(first)]  # distinct, in the order drawn
    masks = np.zeros((pairs, n_splits), dtype=np.bool_)
    masks[:, 0] = True
    masks[np.arange(pairs)[:, np.newaxis], drawn[:pairs]] = True
    _log.info("cscv_combinations_sampled", n_splits=n_splits, total=total, used=2 * pairs)
    return np.concatenate([masks, ~masks]), False


def _evaluate(
    matrix: FloatArray,
    bounds: npt.NDArray[np.int64],
    masks: BoolArray,
    metric: Callable[[FloatArray], FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """In-sample and out-of-sample metric of every trial, one row per combination mask."""
    if metric is sharpe_ratios:
        return _block_sharpes(matrix, bounds, masks)
    block_of_row = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    n_trials = matrix.shape[1]
    is_perf = np.empty((len(masks), n_trials))
    oos_perf = np.empty((len(masks), n_trials))
    for row, mask in enumerate(masks):
        in_sample = mask[block_of_row]
        for target, rows, side in ((is_perf, in_sample, "in"), (oos_perf, ~in_sample, "out of")):
            scores = np.asarray(metric(matrix[rows]), dtype=np.float64)
            if scores.shape != (n_trials,) or np.isnan(scores).any():
                raise ConfigError(
                    f"probability_of_backtest_overfitting: metric {metric!r} must return "
                    f"{n_trials} scores without NaN, got shape {scores.shape} {side} sample "
                    f"for blocks {np.flatnonzero(mask).tolist()}"
                )
            target[row] = scores
    return is_perf, oos_perf


def _block_sharpes(
    matrix: FloatArray, bounds: npt.NDArray[np.int64], masks: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Per-period Sharpe ratios in and out of sample from per-block sums, vectorised."""
    shift = matrix.mean(axis=0)
    centred = matrix - shift  # sums of centred returns lose less precision in the variance
    starts = bounds[:-1]
    counts = np.diff(bounds).astype(np.float64)
    sums = np.add.reduceat(centred, starts, axis=0)
    squares = np.add.reduceat(centred * centred, starts, axis=0)
    weights = masks.astype(np.float64)
    results = []
    for side in (weights, 1.0 - weights):
        n = (side @ counts)[:, np.newaxis]
        total = side @ sums
        variance = np.maximum(side @ squares - total * total / n, 0.0) / (n - 1.0)
        results.append(sharpe_from_moments(total / n + shift, np.sqrt(variance)))
    return results[0], results[1]


def _select_and_rank(
    is_perf: FloatArray, oos_perf: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """OOS rank (1 = worst, ties averaged), IS and OOS metric of each combination's IS winner."""
    best_is = is_perf.max(axis=1)
    chosen = oos_perf[np.arange(len(oos_perf)), is_perf.argmax(axis=1)]
    ranks = _average_rank(oos_perf, chosen)
    tied = is_perf == best_is[:, np.newaxis]
    for row in np.flatnonzero(tied.sum(axis=1) > 1):
        values = oos_perf[row, tied[row]]
        table = np.broadcast_to(oos_perf[row], (len(values), oos_perf.shape[1]))
        ranks[row] = _average_rank(table, values).mean()
        chosen[row] = values.mean()
    return ranks, best_is, chosen


def _average_rank(table: FloatArray, values: FloatArray) -> FloatArray:
    """Rank (1 = lowest, ties averaged) of values[i] among the entries of table[i]."""
    column = values[:, np.newaxis]
    below = (table < column).sum(axis=1)
    equal = (table == column).sum(axis=1)
    ranks: FloatArray = below + (equal + 1) / 2.0
    return ranks


def _regression(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Least-squares slope and intercept of y on x over finite pairs; NaN when undefined."""
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(x) < 2 or float(np.ptp(x)) <= 0.0:
        return math.nan, math.nan
    x_centred = x - x.mean()
    slope = float(x_centred @ (y - y.mean()) / (x_centred @ x_centred))
    return slope, float(y.mean() - slope * x.mean())
