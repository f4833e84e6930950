"""The deflated Sharpe ratio and CSCV's probability of backtest overfitting.

The formulas are checked against hand computations and the published numerical example, the
expected maximum Sharpe ratio against Monte Carlo, and both diagnostics against the two cases
they exist to tell apart: a sweep of pure noise (overfit) and one trial with a real edge.
"""

from __future__ import annotations

import doctest
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit.errors import ConfigError
from quantkit.optimize import deflated_sharpe, pbo, sharpe
from quantkit.optimize.overfitting import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratios,
)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _noise(seed: int, rows: int = 400, trials: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(rows, trials))


def _with_edge(seed: int, rows: int = 800, trials: int = 50) -> np.ndarray:
    """Noise trials plus trial 7, whose mean return is 0.3 standard deviations a period."""
    matrix = _noise(seed, rows, trials)
    matrix[:, 7] += 0.003
    return matrix


# --- probabilistic Sharpe ratio ---------------------------------------------------------------


def test_psr_equals_the_formula_by_hand() -> None:
    sr, sr_star, n, g3, g4 = 0.12, 0.03, 500, -0.8, 5.5
    z = (sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe_ratio(sr, sr_star, n, g3, g4) == pytest.approx(_phi(z), abs=1e-12)


def test_psr_at_the_benchmark_is_one_half_and_grows_with_the_sample() -> None:
    assert probabilistic_sharpe_ratio(0.05, 0.05, 100, 0.3, 4.0) == pytest.approx(0.5)
    short = probabilistic_sharpe_ratio(0.05, 0.0, 100, 0.0, 3.0)
    long = probabilistic_sharpe_ratio(0.05, 0.0, 1000, 0.0, 3.0)
    assert 0.5 < short < long < 1.0


def test_fat_left_tails_lower_the_psr() -> None:
    normal = probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 3.0)
    skewed = probabilistic_sharpe_ratio(0.1, 0.0, 250, -2.0, 12.0)
    assert skewed < normal


def test_published_deflated_sharpe_example() -> None:
    # Bailey & López de Prado (2014): N = 100 trials, annualised SR 2.5 and V[SR] 0.5 over
    # 1,250 daily returns (250 a year), skewness -3, kurtosis 10: DSR = 0.9004.
    sr_star = expected_max_sharpe(100, 0.5 / 250)
    assert sr_star * math.sqrt(250) == pytest.approx(1.7894, abs=1e-3)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), sr_star, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sharpe": math.nan}, "sharpe must be finite"),
        ({"benchmark": math.inf}, "benchmark must be finite"),
        ({"n_obs": 1}, "n_obs must be an integer >= 2"),
        ({"n_obs": True}, "n_obs must be an integer >= 2"),
        ({"n_obs": 10.0}, "n_obs must be an integer >= 2"),
        ({"kurtosis": 0.0}, "add 3 to an excess kurtosis"),
        ({"sharpe": 1.0, "skew": 2.0, "kurtosis": 5.0}, "is not positive"),
    ],
)
def test_psr_rejects_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    arguments: dict[str, float] = {
        "sharpe": 0.1,
        "benchmark": 0.0,
        "n_obs": 100,
        "skew": 0.0,
        "kurtosis": 3.0,
    }
    arguments.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        probabilistic_sharpe_ratio(**arguments)  # type: ignore[arg-type]


# --- expected maximum Sharpe ratio ------------------------------------------------------------


@pytest.mark.parametrize(("n_trials", "tolerance"), [(10, 0.035), (100, 0.015), (1000, 0.01)])
def test_expected_max_sharpe_matches_monte_carlo(n_trials: int, tolerance: float) -> None:
    variance = 0.004
    draws = np.random.default_rng(n_trials).normal(
        0.0, math.sqrt(variance), size=(max(2_000, 200_000 // n_trials), n_trials)
    )
    simulated = float(draws.max(axis=1).mean())
    # The closed form is an approximation: about 2 % high for 10 trials, closer beyond.
    assert expected_max_sharpe(n_trials, variance) == pytest.approx(simulated, rel=tolerance)


def test_expected_max_sharpe_matches_the_best_of_skill_less_backtests() -> None:
    rng = np.random.default_rng(11)
    n_trials, periods, repeats = 100, 250, 60
    maxima, variances = [], []
    for _ in range(repeats):
        sharpes = sharpe_ratios(rng.normal(0.0, 0.02, size=(periods, n_trials)))
        maxima.append(sharpes.max())
        variances.append(np.var(sharpes, ddof=1))
    expected = expected_max_sharpe(n_trials, float(np.mean(variances)))
    assert float(np.mean(maxima)) == pytest.approx(expected, rel=0.05)


def test_expected_max_sharpe_edges() -> None:
    assert expected_max_sharpe(1, 0.5) == 0.0
    assert expected_max_sharpe(50, 0.0) == 0.0
    assert expected_max_sharpe(50, 0.04) == pytest.approx(2 * expected_max_sharpe(50, 0.01))
    assert expected_max_sharpe(10, 0.01) < expected_max_sharpe(100, 0.01)


@pytest.mark.parametrize(
    ("n_trials", "variance", "message"),
    [
        (0, 0.1, "n_trials must be an integer >= 1"),
        (2.0, 0.1, "n_trials must be an integer >= 1"),
        (5, -0.1, "sharpe_variance must be a finite number >= 0"),
        (5, math.nan, "sharpe_variance must be a finite number >= 0"),
    ],
)
def test_expected_max_sharpe_rejects_bad_arguments(
    n_trials: int, variance: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        expected_max_sharpe(n_trials, variance)


# --- Sharpe ratios ----------------------------------------------------------------------------


def test_sharpe_ratios_per_column_and_flat_columns() -> None:
    matrix = np.array(
        [[0.01, 0.0, 0.002, -0.001], [0.03, 0.0, 0.002, -0.001], [-0.01, 0.0, 0.002, -0.001]]
    )
    ratios = sharpe_ratios(matrix)
    assert ratios[0] == pytest.approx(0.01 / 0.02)
    assert ratios[1:].tolist() == [0.0, math.inf, -math.inf]
    assert sharpe_ratios(matrix[:, 0]).shape == (1,)


# --- deflated Sharpe ratio --------------------------------------------------------------------


def test_dsr_of_a_single_trial_is_its_psr_against_zero() -> None:
    returns = np.random.default_rng(5).standard_t(5, size=300) * 0.01 + 0.001
    result = deflated_sharpe_ratio(returns[:, np.newaxis])
    centred = returns - returns.mean()
    m2 = np.mean(centred**2)
    skew = np.mean(centred**3) / m2**1.5
    kurtosis = np.mean(centred**4) / m2**2
    sharpe = returns.mean() / returns.std(ddof=1)
    assert result.sr_star == 0.0
    assert result.n_trials == 1
    assert result.sharpe_variance == 0.0
    assert result.best_trial == 0
    assert (result.sharpe, result.skew, result.kurtosis) == pytest.approx((sharpe, skew, kurtosis))
    expected = probabilistic_sharpe_ratio(sharpe, 0.0, 300, skew, kurtosis)
    assert result.dsr == pytest.approx(expected, abs=1e-12)
    assert result.psr == pytest.approx(expected, abs=1e-12)


def test_dsr_deflates_against_the_trials_sharpe_variance() -> None:
    matrix = _noise(3, rows=500, trials=30)
    result = deflated_sharpe_ratio(matrix)
    sharpes = sharpe_ratios(matrix)
    assert result.n_obs == 500
    assert result.n_trials == 30
    assert result.sharpe == pytest.approx(sharpes.max())
    assert result.best_trial == int(sharpes.argmax())
    assert result.sharpe_variance == pytest.approx(np.var(sharpes, ddof=1))
    assert result.sr_star == pytest.approx(expected_max_sharpe(30, result.sharpe_variance))
    assert result.dsr == pytest.approx(
        probabilistic_sharpe_ratio(result.sharpe, result.sr_star, 500, result.skew, result.kurtosis)
    )


def test_dsr_forms_agree_and_dataframe_labels_name_the_best_trial() -> None:
    matrix = _with_edge(4, rows=300, trials=12)
    frame = pd.DataFrame(matrix, columns=[f"p{i}" for i in range(12)])
    from_frame = deflated_sharpe_ratio(frame)
    from_parts = deflated_sharpe_ratio(matrix[:, 7], sharpe_ratios(matrix))
    assert from_frame.best_trial == "p7"
    assert from_parts.best_trial is None
    assert from_parts.dsr == pytest.approx(from_frame.dsr, abs=1e-12)
    assert from_parts.sr_star == pytest.approx(from_frame.sr_star, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_dsr_of_pure_noise_is_not_significant(seed: int) -> None:
    result = deflated_sharpe_ratio(_noise(seed, rows=1000, trials=100))
    assert result.dsr < 0.95
    # Undeflated, the best of 100 noise trials looks like skill; deflation removes that.
    assert result.psr > result.dsr
    assert result.sharpe > 0.5 * result.sr_star


def test_dsr_of_a_genuine_edge_is_close_to_one() -> None:
    result = deflated_sharpe_ratio(_with_edge(1, rows=800, trials=50))
    assert result.best_trial == 7
    assert result.dsr > 0.99


def test_dsr_effective_trial_count_overrides_the_column_count() -> None:
    matrix = _noise(9, rows=500, trials=20)
    default = deflated_sharpe_ratio(matrix)
    more = deflated_sharpe_ratio(matrix, n_trials=1000)
    assert more.n_trials == 1000
    assert more.sr_star > default.sr_star
    assert more.dsr < default.dsr


def test_dsr_warns_when_the_chosen_trial_is_not_among_the_sharpes() -> None:
    matrix = _noise(2, rows=250, trials=10)
    annualised = sharpe_ratios(matrix) * math.sqrt(365)
    with pytest.warns(UserWarning, match="not among trial_sharpes"):
        deflated_sharpe_ratio(matrix[:, 0], annualised)


def test_dsr_rejects_bad_input() -> None:
    matrix = _noise(0, rows=50, trials=4)
    flat = matrix.copy()
    flat[:, 2] = 0.001
    with pytest.raises(ConfigError, match="1-D returns need trial_sharpes"):
        deflated_sharpe_ratio(matrix[:, 0])
    with pytest.raises(ConfigError, match="trial 2 has constant non-zero returns"):
        deflated_sharpe_ratio(flat)
    with pytest.raises(ConfigError, match="trial 'chosen' has constant non-zero returns"):
        deflated_sharpe_ratio(flat[:, 2], [0.1, 0.2])
    with pytest.raises(ConfigError, match="got 4 columns"):
        deflated_sharpe_ratio(matrix, [0.1, 0.2])
    with pytest.raises(ConfigError, match="trial_sharpes must be 1-D"):
        deflated_sharpe_ratio(matrix[:, 0], [[0.1, 0.2]])
    with pytest.raises(ConfigError, match="n_trials must be an integer >= 1"):
        deflated_sharpe_ratio(matrix, n_trials=0)
    with pytest.raises(ConfigError, match="at least 2 periods"):
        deflated_sharpe_ratio(matrix[:1])


def test_returns_validation_names_the_problem() -> None:
    matrix = _noise(0, rows=50, trials=4)
    matrix[17, 3] = np.nan
    frame = pd.DataFrame(matrix, columns=list("abcd"))
    with pytest.raises(ConfigError, match="nan at row 17, column 'd'"):
        deflated_sharpe_ratio(frame)
    with pytest.raises(ConfigError, match="nan at row 17, column 3"):
        probability_of_backtest_overfitting(matrix, n_splits=4)
    with pytest.raises(ConfigError, match="numeric"):
        sharpe_ratios([["a", "b"], ["c", "d"]])
    with pytest.raises(ConfigError, match="got 3 dimensions"):
        sharpe_ratios(np.zeros((4, 2, 2)))
    with pytest.raises(ConfigError, match="has no columns"):
        sharpe_ratios(np.zeros((4, 0)))


# --- probability of backtest overfitting ------------------------------------------------------


def test_pbo_of_pure_noise_is_about_one_half() -> None:
    # One sweep's PBO is noisy (about 0.1 to 0.8 here); its average over sweeps is near 0.5.
    results = [probability_of_backtest_overfitting(_noise(seed), n_splits=10) for seed in range(12)]
    pbos = [result.pbo for result in results]
    assert 0.4 <= float(np.mean(pbos)) <= 0.6
    assert min(pbos) >= 0.25
    # Selecting on noise degrades out of sample.
    assert float(np.mean([result.degradation_slope for result in results])) < 0.0


def test_pbo_of_a_genuine_edge_is_near_zero() -> None:
    result = probability_of_backtest_overfitting(_with_edge(8, rows=800, trials=50), n_splits=16)
    assert result.exhaustive
    assert result.n_combinations == math.comb(16, 8) == 12_870
    assert result.pbo <= 0.01
    assert result.prob_oos_loss == 0.0
    assert float(np.median(result.logits)) == pytest.approx(math.log(50 / 1))
    assert np.all(result.oos_performance > 0.1)


def test_pbo_is_invariant_under_permuting_trials() -> None:
    matrix = _noise(21, rows=300, trials=25)
    matrix[:, 5] = matrix[:, 4]  # a duplicated trial: ties must not depend on column order
    permuted = matrix[:, np.random.default_rng(0).permutation(25)]
    original = probability_of_backtest_overfitting(matrix, n_splits=8)
    shuffled = probability_of_backtest_overfitting(permuted, n_splits=8)
    assert shuffled.pbo == original.pbo
    np.testing.assert_allclose(shuffled.logits, original.logits, rtol=0, atol=1e-12)
    np.testing.assert_allclose(shuffled.oos_performance, original.oos_performance, atol=1e-12)


def test_pbo_logits_come_from_relative_ranks() -> None:
    result = probability_of_backtest_overfitting(_noise(5, rows=120, trials=9), n_splits=6)
    assert result.n_combinations == 20
    assert (result.n_obs, result.n_trials, result.n_splits) == (120, 9, 6)
    # Ranks 1..9 over N + 1 = 10: w = r / 10, so the logits take these values only.
    allowed = {round(math.log(r / (10 - r)), 9) for r in range(1, 10)}
    assert {round(float(x), 9) for x in result.logits} <= allowed
    assert result.pbo == pytest.approx(float(np.mean(result.logits <= 0)))
    assert result.prob_oos_loss == pytest.approx(float(np.mean(result.oos_performance < 0)))


def test_vectorised_sharpe_matches_the_metric_called_on_each_block() -> None:
    matrix = _noise(13, rows=200, trials=15) + 0.0005
    matrix[:, 3] = 0.0  # a trial that never trades
    fast = probability_of_backtest_overfitting(matrix, n_splits=8)

    def block_sharpes(block: np.ndarray) -> np.ndarray:
        return sharpe_ratios(block)

    direct = probability_of_backtest_overfitting(matrix, n_splits=8, metric=block_sharpes)
    np.testing.assert_allclose(direct.logits, fast.logits, atol=1e-12)
    np.testing.assert_allclose(direct.is_performance, fast.is_performance, rtol=1e-9)
    np.testing.assert_allclose(direct.oos_performance, fast.oos_performance, rtol=1e-9)
    assert direct.degradation_slope == pytest.approx(fast.degradation_slope)


def test_pbo_with_a_custom_metric() -> None:
    def mean_return(block: np.ndarray) -> np.ndarray:
        means: np.ndarray = block.mean(axis=0)
        return means

    result = probability_of_backtest_overfitting(_with_edge(6), 4, mean_return)
    assert result.n_combinations == 6
    assert result.pbo == 0.0
    assert np.all(result.is_performance > 0.0015)
    np.testing.assert_allclose(result.logits, math.log(50 / 1))


def test_identical_trials_tie_everywhere() -> None:
    column = np.random.default_rng(1).normal(0.0, 0.01, size=(40, 1))
    result = probability_of_backtest_overfitting(np.repeat(column, 5, axis=1), n_splits=4)
    # Every trial ties in and out of sample: rank (N + 1) / 2, w = 0.5, logit 0, counted as overfit.
    assert np.all(result.logits == 0.0)
    assert result.pbo == 1.0


def test_degradation_is_nan_without_spread_in_sample() -> None:
    def constant(block: np.ndarray) -> np.ndarray:
        return np.zeros(block.shape[1])

    result = probability_of_backtest_overfitting(_noise(2, 40, 6), 4, constant)
    assert np.isnan(result.degradation_slope)
    assert np.isnan(result.degradation_intercept)
    assert result.prob_oos_loss == 0.0


def test_combinations_are_capped_by_a_seeded_symmetric_sample() -> None:
    matrix = _noise(17, rows=200, trials=10)
    first = probability_of_backtest_overfitting(matrix, n_splits=20, max_combinations=501)
    again = probability_of_backtest_overfitting(matrix, n_splits=20, max_combinations=501)
    other = probability_of_backtest_overfitting(matrix, 20, max_combinations=501, seed=1)
    assert not first.exhaustive
    assert first.n_combinations == 500
    np.testing.assert_array_equal(first.logits, again.logits)
    assert not np.array_equal(first.logits, other.logits)

    masks, exhaustive = pbo._combinations(20, 501, seed=0)
    assert not exhaustive
    assert masks.shape == (500, 20)
    assert np.all(masks.sum(axis=1) == 10)
    assert len(np.unique(masks, axis=0)) == 500
    np.testing.assert_array_equal(masks[250:], ~masks[:250])


@pytest.mark.parametrize(
    ("rows", "trials", "kwargs", "message"),
    [
        (64, 4, {"n_splits": 7}, "n_splits must be even"),
        (64, 4, {"n_splits": 0}, "n_splits must be an integer >= 2"),
        (31, 4, {"n_splits": 16}, "31 rows; at least 32 periods"),
        (64, 1, {"n_splits": 4}, "needs at least 2"),
        (64, 4, {"max_combinations": 1}, "max_combinations must be an integer >= 2"),
    ],
)
def test_pbo_rejects_bad_arguments(
    rows: int, trials: int, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        probability_of_backtest_overfitting(_noise(0, rows, trials), **kwargs)


@pytest.mark.parametrize(
    "metric",
    [lambda block: block.mean(axis=0)[:-1], lambda block: np.full(block.shape[1], np.nan)],
)
def test_pbo_rejects_a_metric_with_the_wrong_output(metric: object) -> None:
    with pytest.raises(ConfigError, match="must return 4 scores without NaN"):
        probability_of_backtest_overfitting(_noise(0, 40, 4), 4, metric)  # type: ignore[arg-type]


@pytest.mark.parametrize("module", [sharpe, deflated_sharpe, pbo])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0


def test_dsr_of_a_sweep_that_never_trades() -> None:
    result = deflated_sharpe_ratio(np.zeros((30, 4)))
    assert (result.sharpe, result.skew, result.kurtosis) == (0.0, 0.0, 3.0)
    assert result.sr_star == 0.0
    assert result.dsr == pytest.approx(0.5)
