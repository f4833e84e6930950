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

import itertools
import math
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import structlog

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray: TypeAlias = npt.NDArray[np.float64]
    BoolArray: TypeAlias = npt.NDArray[np.bool_]
    ReturnsLike: TypeAlias = npt.ArrayLike | pd.DataFrame

__all__ = [
    "BacktestOverfittingResult",
    "DeflatedSharpeResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratios",
]

_log = structlog.get_logger("quantkit.optimize")
_NORMAL = NormalDist()

# A standard deviation (or mean) of per-period returns at or below this counts as zero: the
# rounding noise of returns that are equal in exact arithmetic (as in quantkit.metrics.stats).
_ZERO = 1e-12
# Elements of one in-sample (or out-of-sample) performance chunk; bounds CSCV's memory use.
_CHUNK_ELEMENTS = 1 << 18


@dataclass(frozen=True, slots=True)
class DeflatedSharpeResult:
    """The deflated Sharpe ratio of the best trial of a sweep.

    Attributes:
        dsr: Probability that the best trial's true Sharpe ratio exceeds ``sr_star``.
        psr: Probability that its true Sharpe ratio exceeds 0, not deflated for the trials.
        sr_star: The deflated benchmark: the expected maximum per-period Sharpe ratio of
            ``n_trials`` skill-less trials.
        sharpe: The best trial's per-period Sharpe ratio.
        skew: The best trial's sample skewness.
        kurtosis: The best trial's sample kurtosis, raw (3 for normal returns).
        n_obs: Number of return periods.
        n_trials: Number of trials used for ``sr_star``.
        sharpe_variance: Variance (``ddof=1``) of the trials' per-period Sharpe ratios.
        best_trial: The best trial's column label (or position); None when the best trial's
            returns were given on their own.
    """

    dsr: float
    psr: float
    sr_star: float
    sharpe: float
    skew: float
    kurtosis: float
    n_obs: int
    n_trials: int
    sharpe_variance: float
    best_trial: Hashable | None


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


def sharpe_ratios(returns: ReturnsLike) -> FloatArray:
    """Return the per-period Sharpe ratio of every column of a returns matrix.

    The Sharpe ratio is ``mean / std`` with ``ddof=1``, not annualised, against a zero rate.
    A column whose standard deviation is at most 1e-12 has Sharpe 0 if its mean is also at most
    1e-12 in size (a trial that never trades), else ``+inf`` or ``-inf``.

    Args:
        returns: Per-period returns, rows = periods and columns = trials, as a 2-D array or a
            DataFrame; a 1-D array is one trial.

    Returns:
        One Sharpe ratio per column.

    Raises:
        ConfigError: If ``returns`` is not numeric, has fewer than 2 rows or holds NaN or inf.

    Examples:
        >>> sharpe_ratios([[0.01, 0.0], [0.03, 0.0]]).round(4).tolist()
        [1.4142, 0.0]
    """
    matrix, _ = _as_matrix(returns, "returns", min_rows=2)
    return _column_sharpes(matrix)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """Return the probability that a true Sharpe ratio exceeds a benchmark (PSR).

    ``PSR = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2))``
    (Bailey & López de Prado), with ``Phi`` the standard normal CDF.

    Args:
        sharpe: The observed per-period (not annualised) Sharpe ratio ``SR``.
        benchmark: The per-period Sharpe ratio ``SR*`` to beat.
        n_obs: Number of return periods ``n`` behind ``sharpe``; at least 2.
        skew: Sample skewness of the returns.
        kurtosis: Sample kurtosis of the returns, RAW: 3 for normal returns, not excess
            kurtosis. It must satisfy Pearson's bound ``kurtosis >= 1 + skew**2``.

    Returns:
        A probability in [0, 1].

    Raises:
        ConfigError: If an argument is not finite, ``n_obs`` is below 2, ``kurtosis`` breaks
            Pearson's bound (usually excess kurtosis passed as raw) or the Sharpe estimate's
            variance term is not positive.

    Examples:
        >>> round(probabilistic_sharpe_ratio(0.1, 0.0, 252, 0.0, 3.0), 4)
        0.943
    """
    for name, value in (
        ("sharpe", sharpe),
        ("benchmark", benchmark),
        ("skew", skew),
        ("kurtosis", kurtosis),
    ):
        if not math.isfinite(value):
            raise ConfigError(f"probabilistic_sharpe_ratio: {name} must be finite, got {value!r}")
    _check_int("probabilistic_sharpe_ratio", "n_obs", n_obs, minimum=2)
    if kurtosis < 1.0 + skew * skew - 1e-9:
        raise ConfigError(
            f"probabilistic_sharpe_ratio: kurtosis {kurtosis!r} is below 1 + skew**2 = "
            f"{1.0 + skew * skew!r}, which no distribution has; kurtosis is raw (3 for normal "
            "returns): add 3 to an excess kurtosis"
        )
    radicand = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if radicand <= 0.0:
        raise ConfigError(
            f"probabilistic_sharpe_ratio: 1 - skew*SR + (kurtosis-1)/4*SR^2 = {radicand!r} is "
            f"not positive for sharpe={sharpe!r}, skew={skew!r}, kurtosis={kurtosis!r}; the "
            "Sharpe ratio's standard error is undefined"
        )
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(radicand)
    return _NORMAL.cdf(z)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` skill-less trials.

    ``E[max SR] ~ sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))`` with ``g`` the
    Euler-Mascheroni constant, ``N = n_trials`` and ``V = sharpe_variance`` (the false strategy
    theorem of Bailey & López de Prado). With one trial nothing was selected, and the result is
    0.

    Args:
        n_trials: Number of (independent) trials ``N``; at least 1.
        sharpe_variance: Variance ``V`` of the trials' per-period Sharpe ratios; at least 0.

    Returns:
        The deflated benchmark ``SR*``, per period like ``sharpe_variance``'s Sharpe ratios.

    Raises:
        ConfigError: If ``n_trials`` is not a positive integer or ``sharpe_variance`` is negative
            or not finite.

    Examples:
        >>> round(expected_max_sharpe(100, 0.002), 4)
        0.1132
    """
    _check_int("expected_max_sharpe", "n_trials", n_trials, minimum=1)
    if not math.isfinite(sharpe_variance) or sharpe_variance < 0.0:
        raise ConfigError(
            f"expected_max_sharpe: sharpe_variance must be a finite number >= 0, "
            f"got {sharpe_variance!r}"
        )
    if n_trials == 1:
        return 0.0
    gamma = float(np.euler_gamma)
    expected_max_z = (1.0 - gamma) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials) + gamma * (
        _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    )
    return math.sqrt(sharpe_variance) * expected_max_z


def deflated_sharpe_ratio(
    returns: ReturnsLike,
    trial_sharpes: npt.ArrayLike | None = None,
    *,
    n_trials: int | None = None,
) -> DeflatedSharpeResult:
    """Return the deflated Sharpe ratio (DSR) of the best trial of a sweep.

    ``DSR = PSR(SR_best, SR*)`` where ``SR* = expected_max_sharpe(N, V)`` and ``V`` is the
    variance (``ddof=1``) of the trials' per-period Sharpe ratios. Skewness and kurtosis are
    the best trial's population (biased) moments; kurtosis is raw. Give either every trial's
    returns (the best is the one with the highest Sharpe ratio), or the chosen trial's returns
    together with the Sharpe ratios of all trials.

    Args:
        returns: Either a 2-D array or DataFrame of per-period returns, rows = periods and one
            column per trial; or, with ``trial_sharpes``, the chosen trial's 1-D returns.
        trial_sharpes: Per-period (not annualised) Sharpe ratios of every trial of the sweep,
            the chosen one included, computed like `sharpe_ratios` does.
        n_trials: Number of independent trials ``N`` for ``SR*``; defaults to the number of
            trials. Pass a smaller effective number when trials are strongly correlated.

    Returns:
        The DSR with its ingredients.

    Raises:
        ConfigError: If the returns have fewer than 2 rows or hold NaN or inf, the shapes do
            not match the form used, a trial's Sharpe ratio is infinite (constant non-zero
            returns) or ``n_trials`` is not a positive integer.

    Examples:
        >>> import numpy as np
        >>> noise = np.random.default_rng(7).normal(0.0, 0.01, size=(500, 50))
        >>> result = deflated_sharpe_ratio(noise)
        >>> result.psr > result.dsr, result.dsr < 0.95
        (True, True)
    """
    if trial_sharpes is None:
        matrix, labels = _as_matrix(returns, "returns", min_rows=2)
        if np.ndim(returns) == 1:
            raise ConfigError(
                "deflated_sharpe_ratio: 1-D returns need trial_sharpes (the Sharpe ratios of "
                "every trial of the sweep); pass a (periods, 1) matrix for a single strategy"
            )
        sharpes = _column_sharpes(matrix)
        _check_finite_sharpes(sharpes, labels)
        position = int(np.argmax(sharpes))
        best: FloatArray = matrix[:, position]
        best_trial: Hashable | None = labels[position] if labels is not None else position
    else:
        best, sharpes = _best_and_sharpes(returns, trial_sharpes)
        best_trial = None
    count = sharpes.size
    if n_trials is not None:
        _check_int("deflated_sharpe_ratio", "n_trials", n_trials, minimum=1)
        count = n_trials
    variance = float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else 0.0
    sharpe = float(_column_sharpes(best[:, None])[0])
    skew, kurtosis = _moments(best)
    sr_star = expected_max_sharpe(count, variance)
    n_obs = best.size
    return DeflatedSharpeResult(
        dsr=probabilistic_sharpe_ratio(sharpe, sr_star, n_obs, skew, kurtosis),
        psr=probabilistic_sharpe_ratio(sharpe, 0.0, n_obs, skew, kurtosis),
        sr_star=sr_star,
        sharpe=sharpe,
        skew=skew,
        kurtosis=kurtosis,
        n_obs=n_obs,
        n_trials=count,
        sharpe_variance=variance,
        best_trial=best_trial,
    )


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
    _check_int("probability_of_backtest_overfitting", "n_splits", n_splits, minimum=2)
    if n_splits % 2:
        raise ConfigError(
            f"probability_of_backtest_overfitting: n_splits must be even, got {n_splits}"
        )
    _check_int("probability_of_backtest_overfitting", "max_combinations", max_combinations, 2)
    matrix, _ = _as_matrix(returns, "returns", min_rows=2 * n_splits)
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


def _as_matrix(
    returns: ReturnsLike, name: str, min_rows: int
) -> tuple[FloatArray, list[Hashable] | None]:
    """Return returns as a finite float (periods, trials) matrix and its column labels."""
    columns = getattr(returns, "columns", None)
    labels = list(columns) if columns is not None else None
    try:
        matrix = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must hold numeric per-period returns: {exc}") from exc
    if matrix.ndim == 1:
        matrix = matrix[:, np.newaxis]
    if matrix.ndim != 2:
        raise ConfigError(
            f"{name} must be 2-D (rows = periods, columns = trials), got {matrix.ndim} dimensions"
        )
    if matrix.shape[1] == 0:
        raise ConfigError(f"{name} has no columns: give one column of returns per trial")
    if matrix.shape[0] < min_rows:
        raise ConfigError(
            f"{name} has {matrix.shape[0]} rows; at least {min_rows} periods are needed"
        )
    bad = np.argwhere(~np.isfinite(matrix))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        label = labels[col] if labels is not None else col
        raise ConfigError(
            f"{name} holds {matrix[row, col]} at row {row}, column {label!r}; returns must be "
            "finite: fill or drop missing periods for every trial first"
        )
    return matrix, labels


def _check_int(function: str, name: str, value: object, minimum: int) -> None:
    """Raise ConfigError unless value is an int (not bool) of at least minimum."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{function}: {name} must be an integer >= {minimum}, got {value!r}")


def _column_sharpes(matrix: FloatArray) -> FloatArray:
    """Per-column mean / std (ddof=1) with the flat-column convention of `sharpe_ratios`."""
    return _sharpe_from_moments(matrix.mean(axis=0), matrix.std(axis=0, ddof=1))


def _sharpe_from_moments(mean: FloatArray, std: FloatArray) -> FloatArray:
    """Sharpe ratios from means and standard deviations; flat columns give 0 or +-inf."""
    flat = std <= _ZERO
    ratio = np.divide(mean, std, out=np.zeros_like(mean), where=~flat)
    if flat.any():
        flat_mean = mean[flat]
        infinite = np.where(flat_mean > 0.0, np.inf, -np.inf)
        ratio[flat] = np.where(np.abs(flat_mean) <= _ZERO, 0.0, infinite)
    return ratio


def _check_finite_sharpes(sharpes: FloatArray, labels: list[Hashable] | None) -> None:
    """Raise ConfigError naming the first trial whose Sharpe ratio is infinite."""
    infinite = np.flatnonzero(~np.isfinite(sharpes))
    if len(infinite):
        position = int(infinite[0])
        label = labels[position] if labels is not None else position
        raise ConfigError(
            f"deflated_sharpe_ratio: trial {label!r} has constant non-zero returns, so its "
            "Sharpe ratio is infinite and the DSR is undefined; drop it from the sweep"
        )


def _best_and_sharpes(
    returns: ReturnsLike, trial_sharpes: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Validate the (best trial's returns, every trial's Sharpe) form of the DSR's input."""
    matrix, _ = _as_matrix(returns, "returns", min_rows=2)
    if matrix.shape[1] != 1:
        raise ConfigError(
            f"deflated_sharpe_ratio: with trial_sharpes, returns must be the chosen trial's "
            f"1-D returns, got {matrix.shape[1]} columns"
        )
    sharpes, _ = _as_matrix(trial_sharpes, "trial_sharpes", min_rows=1)
    if sharpes.shape[1] != 1:
        raise ConfigError("deflated_sharpe_ratio: trial_sharpes must be 1-D, one per trial")
    best = matrix[:, 0]
    own = _column_sharpes(matrix)
    _check_finite_sharpes(own, ["chosen"])
    if not np.isclose(own[0], sharpes[:, 0], rtol=1e-3, atol=1e-9).any():
        warnings.warn(
            f"deflated_sharpe_ratio: the chosen trial's per-period Sharpe ratio {own[0]:.6g} "
            "is not among trial_sharpes; they must be per-period (not annualised) Sharpe "
            "ratios of every trial, the chosen one included",
            stacklevel=3,
        )
    return best, sharpes[:, 0]


def _moments(values: FloatArray) -> tuple[float, float]:
    """Population skewness and raw kurtosis; 0 and 3 (the normal's) for a flat series."""
    centred = values - values.mean()
    m2 = float(np.mean(centred**2))
    if math.sqrt(m2) <= _ZERO:
        return 0.0, 3.0
    return float(np.mean(centred**3)) / m2**1.5, float(np.mean(centred**4)) / m2**2


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
        results.append(_sharpe_from_moments(total / n + shift, np.sqrt(variance)))
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
