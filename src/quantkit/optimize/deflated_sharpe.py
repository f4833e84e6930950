"""The deflated Sharpe ratio (Bailey & López de Prado, 2014) of a sweep's best trial.

`deflated_sharpe_ratio` is the probability that the best trial's true Sharpe ratio beats the
Sharpe ratio that the best of N skill-less trials would show by luck (`expected_max_sharpe`),
corrected for sample length, skewness and fat tails (`probabilistic_sharpe_ratio`). Formulas and
references: ``docs/overfitting.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from quantkit.errors import ConfigError
from quantkit.optimize.sharpe import (
    ZERO,
    as_matrix,
    check_finite_sharpes,
    check_int,
    column_sharpes,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray: TypeAlias = npt.NDArray[np.float64]
    BoolArray: TypeAlias = npt.NDArray[np.bool_]
    ReturnsLike: TypeAlias = npt.ArrayLike | pd.DataFrame

__all__ = [
    "DeflatedSharpeResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
]

_NORMAL = NormalDist()


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
    check_int("probabilistic_sharpe_ratio", "n_obs", n_obs, minimum=2)
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
    check_int("expected_max_sharpe", "n_trials", n_trials, minimum=1)
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
        matrix, labels = as_matrix(returns, "returns", min_rows=2)
        if np.ndim(returns) == 1:
            raise ConfigError(
                "deflated_sharpe_ratio: 1-D returns need trial_sharpes (the Sharpe ratios of "
                "every trial of the sweep); pass a (periods, 1) matrix for a single strategy"
            )
        sharpes = column_sharpes(matrix)
        check_finite_sharpes(sharpes, labels)
        position = int(np.argmax(sharpes))
        best: FloatArray = matrix[:, position]
        best_trial: Hashable | None = labels[position] if labels is not None else position
    else:
        best, sharpes = _best_and_sharpes(returns, trial_sharpes)
        best_trial = None
    count = sharpes.size
    if n_trials is not None:
        check_int("deflated_sharpe_ratio", "n_trials", n_trials, minimum=1)
        count = n_trials
    variance = float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else 0.0
    sharpe = float(column_sharpes(best[:, None])[0])
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


def _best_and_sharpes(
    returns: ReturnsLike, trial_sharpes: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Validate the (best trial's returns, every trial's Sharpe) form of the DSR's input."""
    matrix, _ = as_matrix(returns, "returns", min_rows=2)
    if matrix.shape[1] != 1:
        raise ConfigError(
            f"deflated_sharpe_ratio: with trial_sharpes, returns must be the chosen trial's "
            f"1-D returns, got {matrix.shape[1]} columns"
        )
    sharpes, _ = as_matrix(trial_sharpes, "trial_sharpes", min_rows=1)
    if sharpes.shape[1] != 1:
        raise ConfigError("deflated_sharpe_ratio: trial_sharpes must be 1-D, one per trial")
    best = matrix[:, 0]
    own = column_sharpes(matrix)
    check_finite_sharpes(own, ["chosen"])
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
    if math.sqrt(m2) <= ZERO:
        return 0.0, 3.0
    return float(np.mean(centred**3)) / m2**1.5, float(np.mean(centred**4)) / m2**2
