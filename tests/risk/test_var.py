"""RollingVaR against independent references (numpy, closed forms), and VaRLimit in runs.

References are computed here from the raw return stream with numpy and `statistics.NormalDist`,
never from the estimator's own state.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.market import Market
from quantkit.engine.engine import Engine
from quantkit.errors import ConfigError, DataError
from quantkit.risk.policy import RiskAction
from quantkit.risk.var import RollingVaR, empirical_var_es
from quantkit.risk.var_policy import VaRLimit
from tests.strategies import return_streams

from .helpers import HOUR, SYMBOL, FakeContext, Scripted, make_series, request

N = NormalDist()
ETH = "ETH/USDT"
ALPHA_Z2 = N.cdf(2.0)  # the confidence level whose z is exactly -2: hand-checkable VaRs


def fed(stream: np.ndarray, window: int, **settings: int) -> RollingVaR:
    estimator = RollingVaR(stream.shape[1], window=window, **settings)
    for row in stream:
        estimator.update(row)
    return estimator


def gaussian(mu: float, sigma: float, alpha: float, horizon: int = 1) -> tuple[float, float]:
    """Closed-form Gaussian VaR and ES of a P&L with per-bar mean mu and deviation sigma."""
    z = N.inv_cdf(1 - alpha)
    m, s = horizon * mu, math.sqrt(horizon) * sigma
    return -(m + z * s), -m + s * N.pdf(z) / (1 - alpha)


# -- the incremental mean and covariance --


def test_mean_and_covariance_equal_numpy_after_many_updates() -> None:
    rng = np.random.default_rng(11)
    stream = rng.normal(0.0005, 0.02, (3000, 6)) * rng.uniform(0.5, 2.0, 6)
    estimator = fed(stream, 100)
    last = stream[-100:]
    np.testing.assert_allclose(estimator.mean(), last.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(estimator.covariance(), np.cov(last, rowvar=False), rtol=1e-9)
    np.testing.assert_array_equal(estimator.returns(), last)
    assert estimator.observations == 100


@given(stream=return_streams(), window=st.integers(2, 25))
def test_incremental_covariance_matches_numpy_on_any_stream(
    stream: np.ndarray, window: int
) -> None:
    estimator = fed(stream, window)
    last = stream[-window:]
    assert estimator.observations == len(last)
    np.testing.assert_array_equal(estimator.returns(), last)
    # Rounding error grows with the size of the returns that passed through the window, not
    # with the (possibly zero) covariance left, hence the absolute part scaled by the stream.
    scale = float(np.max(stream**2))
    np.testing.assert_allclose(estimator.mean(), last.mean(axis=0), rtol=1e-9, atol=1e-12)
    if len(last) >= 2:
        reference = np.atleast_2d(np.cov(last, rowvar=False))
        got = estimator.covariance()
        np.testing.assert_allclose(got, reference, rtol=1e-9, atol=1e-9 * scale)
        estimator.resync()
        np.testing.assert_allclose(estimator.covariance(), reference, rtol=1e-9, atol=1e-15)
    else:
        assert np.isnan(estimator.covariance()).all()


def test_clear_forgets_and_resync_of_an_empty_window_is_a_no_op() -> None:
    estimator = fed(np.array([[0.01], [0.02], [0.04]]), 2)
    estimator.clear()
    estimator.resync()
    assert estimator.observations == 0
    assert estimator.returns().shape == (0, 1)
    estimator.update([0.03])
    assert estimator.mean().tolist() == [0.03]


# -- historical --


@pytest.mark.parametrize("alpha", [0.5, 0.9, 0.95, 0.975, 0.99, 0.999])
@pytest.mark.parametrize("rows", [37, 250, 613])
def test_historical_var_is_numpys_inverted_cdf_quantile(alpha: float, rows: int) -> None:
    rng = np.random.default_rng(rows)
    stream = rng.standard_t(4, (rows, 3)) * 0.01
    values = np.array([1_000.0, -400.0, 250.0])
    estimator = fed(stream, 250)
    last = stream[-250:]
    losses = -(last @ values)
    got = estimator.var(values, alpha=alpha, method="historical")
    assert got.var == np.quantile(losses, alpha, method="inverted_cdf")
    k = math.ceil(len(losses) * alpha)  # the tail from the k-th smallest loss (1-based)
    assert got.es == pytest.approx(np.sort(losses)[k - 1 :].mean(), rel=1e-12)
    assert got.es >= got.var
    assert (got.method, got.alpha, got.horizon, got.observations) == (
        "historical",
        alpha,
        1,
        len(losses),
    )


def test_historical_var_over_several_bars_uses_overlapping_sums() -> None:
    rng = np.random.default_rng(3)
    stream = rng.normal(0, 0.01, (400, 2))
    values = np.array([500.0, 300.0])
    estimator = fed(stream, 120)
    pnl = stream[-120:] @ values
    sums = np.convolve(pnl, np.ones(5), mode="valid")  # 116 five-bar P&Ls
    got = estimator.var(values, alpha=0.95, horizon=5, method="historical")
    assert got.observations == 116
    assert got.var == pytest.approx(np.quantile(-sums, 0.95, method="inverted_cdf"), rel=1e-12)


def test_empirical_var_es_by_hand() -> None:
    # losses sorted: 1 2 3 4 5; n*alpha = 4 -> VaR is the 4th, ES the mean of the 4th and 5th
    assert empirical_var_es(np.array([3.0, 1.0, 5.0, 2.0, 4.0]), 0.8) == (4.0, 4.5)
    # n*alpha = 0.5 -> the 1st (the smallest); ES is the mean of everything
    assert empirical_var_es(np.array([3.0, 1.0]), 0.25) == (1.0, 2.0)


# -- parametric --


def test_parametric_var_equals_the_closed_form_of_the_sample_exactly() -> None:
    rng = np.random.default_rng(5)
    stream = rng.normal(0.001, 0.02, (500, 4))
    values = np.array([2_000.0, -1_000.0, 500.0, 0.0])
    estimator = fed(stream, 300)
    last = stream[-300:]
    mu = float(last.mean(axis=0) @ values)
    sigma = math.sqrt(values @ np.cov(last, rowvar=False) @ values)
    for alpha, horizon in ((0.99, 1), (0.95, 10), (0.975, 3)):
        var, es = gaussian(mu, sigma, alpha, horizon)
        got = estimator.var(values, alpha=alpha, horizon=horizon)
        assert got.var == pytest.approx(var, rel=1e-9)
        assert got.es == pytest.approx(es, rel=1e-9)
        assert got.observations == 300


def test_parametric_var_recovers_known_gaussian_parameters() -> None:
    mean = np.array([0.0005, -0.0002])
    cov = np.array([[0.0004, 0.00012], [0.00012, 0.0001]])
    stream = np.random.default_rng(8).multivariate_normal(mean, cov, 20_000)
    values = np.array([10_000.0, 5_000.0])
    # sigma_p^2 = w C w = 1e8*4e-4 + 2*5e7*1.2e-4 + 2.5e7*1e-4 = 40000 + 12000 + 2500
    mu_p, sigma_p = 5.0 - 1.0, math.sqrt(54_500.0)
    var, es = gaussian(mu_p, sigma_p, 0.99)
    got = fed(stream, 20_000).var(values, alpha=0.99)
    # sampling error of sigma over 20,000 draws is about 0.5 %, of the mean about 1.7
    assert got.var == pytest.approx(var, rel=0.02)
    assert got.es == pytest.approx(es, rel=0.02)


def test_by_hand_a_two_return_window() -> None:
    # returns +2 % and -2 %: mean 0, sample deviation sqrt(2 * 0.0004 / 1) = 0.028284;
    # 1,000 held, z = -2: VaR = 2 * 28.284 = 56.57
    estimator = fed(np.array([[0.02], [-0.02]]), 10)
    got = estimator.var([1_000.0], alpha=ALPHA_Z2)
    assert got.var == pytest.approx(2 * 1_000 * math.sqrt(0.0008), rel=1e-9)


# -- Cornish-Fisher --


def cornish_fisher_reference(pnl: np.ndarray, alpha: float) -> tuple[float, float]:
    """CF VaR from numpy moments; ES by integrating the CF quantile over the tail numerically."""
    centred = pnl - pnl.mean()
    m2 = np.mean(centred**2)
    s, k = np.mean(centred**3) / m2**1.5, np.mean(centred**4) / m2**2 - 3
    sigma = np.std(pnl, ddof=1)

    def quantile(z: np.ndarray) -> np.ndarray:
        cf: np.ndarray = (
            z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
        )
        return cf

    tail = 1 - alpha
    cells = 20_000  # midpoint rule over p in (0, 1 - alpha)
    zs = np.array([N.inv_cdf((j + 0.5) / cells * tail) for j in range(cells)])
    mean_tail = float(np.mean(quantile(zs)))
    var = -(pnl.mean() + float(quantile(np.array(N.inv_cdf(tail)))) * sigma)
    return float(var), float(-(pnl.mean() + mean_tail * sigma))


def test_cornish_fisher_equals_its_closed_form_reference() -> None:
    rng = np.random.default_rng(21)
    pnl_shape = np.concatenate([rng.normal(0.001, 0.01, 230), rng.normal(-0.05, 0.02, 20)])
    estimator = fed(pnl_shape[:, None], 250)
    got = estimator.var([1_000.0], alpha=0.99, method="cornish_fisher")
    var, es = cornish_fisher_reference(pnl_shape * 1_000.0, 0.99)
    assert got.var == pytest.approx(var, rel=1e-9)
    assert got.es == pytest.approx(es, rel=1e-5)  # the reference ES is a numerical integral


def test_cornish_fisher_is_gaussian_without_skew_or_excess_kurtosis() -> None:
    # {+a, -a, 0, 0, 0, 0}: skewness 0, and m4 / m2^2 = (2a^4/6) / (2a^2/6)^2 = 3 exactly.
    block = [0.03, -0.03, 0.0, 0.0, 0.0, 0.0]
    estimator = fed(np.array(block * 20)[:, None], 120)
    gauss = estimator.var([1_000.0], alpha=0.99, horizon=4)
    cf = estimator.var([1_000.0], alpha=0.99, horizon=4, method="cornish_fisher")
    assert cf.var == pytest.approx(gauss.var, rel=1e-9)
    assert cf.es == pytest.approx(gauss.es, rel=1e-9)
    constant = fed(np.full((5, 1), 0.01), 5)  # no spread: no moments, loss is -mean
    assert constant.var([100.0], method="cornish_fisher").var == pytest.approx(-1.0)


def test_cornish_fisher_raises_var_for_a_fat_left_tail() -> None:
    rng = np.random.default_rng(4)
    returns = rng.normal(0.0, 0.01, 500)
    returns[::50] = -0.06  # ten crashes
    estimator = fed(returns[:, None], 500)
    gauss = estimator.var([1_000.0], alpha=0.99)
    cf = estimator.var([1_000.0], alpha=0.99, method="cornish_fisher")
    assert cf.var > gauss.var * 1.1
    assert cf.es > gauss.es


# -- Monte Carlo --


def test_monte_carlo_converges_to_the_parametric_estimate() -> None:
    rng = np.random.default_rng(9)
    stream = rng.normal(0.0005, 0.015, (300, 3)) @ np.array(
        [[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]
    )
    values = np.array([3_000.0, 1_000.0, -2_000.0])
    estimator = fed(stream, 250, paths=400_000, seed=1)
    gauss = estimator.var(values, alpha=0.99, horizon=2)
    mc = estimator.var(values, alpha=0.99, horizon=2, method="monte_carlo")
    assert mc.var == pytest.approx(gauss.var, rel=0.01)
    assert mc.es == pytest.approx(gauss.es, rel=0.015)
    assert mc.method == "monte_carlo"


def test_monte_carlo_is_reproducible_with_a_seed_and_handles_a_singular_covariance() -> None:
    x = np.random.default_rng(2).normal(0, 0.01, 50)
    stream = np.column_stack([x, x])  # identical assets: a singular covariance
    first = fed(stream, 50, paths=1_000, seed=3).var([1.0, 1.0], method="monte_carlo")
    second = fed(stream, 50, paths=1_000, seed=3).var([1.0, 1.0], method="monte_carlo")
    assert first == second
    assert first.var == pytest.approx(2.326 * 2 * np.std(x, ddof=1), rel=0.15)


# -- errors --


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"assets": 0}, "assets must be an integer >= 1"),
        ({"window": 1}, "window must be an integer >= 2"),
        ({"paths": 10}, "paths must be an integer >= 100"),
        ({"window": True}, "window must be an integer"),
    ],
)
def test_bad_estimator_settings(kwargs: dict[str, int], message: str) -> None:
    settings = {"assets": 2, **kwargs}
    assets = settings.pop("assets")
    with pytest.raises(ConfigError, match=message):
        RollingVaR(assets, **settings)


def test_bad_inputs_are_refused_with_the_reason() -> None:
    estimator = RollingVaR(2, window=5)
    with pytest.raises(DataError, match="expected 2 returns, got shape"):
        estimator.update([0.1])
    with pytest.raises(DataError, match="returns must be finite"):
        estimator.update([0.1, math.nan])
    with pytest.raises(DataError, match="parametric needs at least 2 returns, has 0"):
        estimator.var([1.0, 1.0])
    estimator.update([0.1, 0.2])
    with pytest.raises(DataError, match="historical at horizon 2 needs 2 returns, has 1"):
        estimator.var([1.0, 1.0], horizon=2, method="historical")
    with pytest.raises(DataError, match="expected 2 finite position values"):
        estimator.var([1.0])
    with pytest.raises(ConfigError, match=r"alpha must be in \(0, 1\)"):
        estimator.var([1.0, 1.0], alpha=1.0)
    with pytest.raises(ConfigError, match="horizon must be an integer >= 1"):
        estimator.var([1.0, 1.0], horizon=0)
    with pytest.raises(ConfigError, match="method must be one of"):
        estimator.var([1.0, 1.0], method="delta")  # type: ignore[arg-type]
    assert repr(estimator) == (
        "RollingVaR(assets=2, window=5, paths=10000, seed=None, observations=1)"
    )


# -- VaRLimit on a hand-driven context --


def drive(policy: VaRLimit, context: FakeContext, returns: list[dict[str, float]]) -> None:
    """One on_bar per step: first at the current prices, then after each step's returns."""
    policy.on_bar(context)
    for step in returns:
        context.now += HOUR
        for symbol, r in step.items():
            context.prices[symbol] *= 1 + r
        policy.on_bar(context)


def bought(context: FakeContext, amount: float, price: float, symbol: str = SYMBOL) -> None:
    """Hold ``amount`` bought at ``price`` with the account's cash (equity unchanged)."""
    context.hold(amount, price, symbol)
    context.portfolio.cash["USDT"] -= amount * price


ALTERNATING = [{SYMBOL: r} for r in (0.02, -0.02, 0.02, -0.02)]


def test_by_hand_approve_resize_and_reject() -> None:
    # Window: +2 %, -2 %, +2 %, -2 %: mean ~0, sample deviation sqrt(4 * 0.0004 / 3) = 0.023094.
    # z = -2, so VaR = 0.046188 per unit of value. Price 100 * 1.02 * 0.98 * 1.02 * 0.98
    # = 99.920016. Limit 1 % of 10,000 = 100 -> at most 100 / 0.046188 = 2,165.06 of value,
    # i.e. 21.668 BTC; with whole-BTC steps, 21.
    context = FakeContext(markets={SYMBOL: Market.from_symbol(SYMBOL, amount_increment=1.0)})
    policy = VaRLimit(0.01, alpha=ALPHA_Z2, window=4, symbols=[SYMBOL])
    drive(policy, context, ALTERNATING)
    price = 100 * 1.02 * 0.98 * 1.02 * 0.98
    per_value = 2 * math.sqrt(4 * 0.02**2 / 3)
    small = policy.check(request(amount=20.0), context)
    assert small.action is RiskAction.APPROVE
    big = policy.check(request(amount=30.0), context)
    assert big.action is RiskAction.RESIZE
    assert big.request is not None and big.request.amount == 21.0
    assert big.reason == (
        f"resized from 30 to 21: {ALPHA_Z2:g} VaR {30 * price * per_value:,.2f} "
        "would exceed the limit 100.00"
    )
    bought(context, 21.0, price)
    refused = policy.check(request(amount=1.0), context)
    assert refused.action is RiskAction.REJECT
    assert refused.reason.endswith("above the limit 100.00; no order of the minimum size fits")
    assert policy.var(context) == pytest.approx(21 * price * per_value, rel=1e-9)
    # Selling 5 of the 21 reduces the position: it always passes, as does reduce-only.
    assert policy.check(request("sell", amount=5.0), context).action is RiskAction.APPROVE
    reduce = request("sell", amount=50.0, reduce_only=True)
    assert policy.check(reduce, context).action is RiskAction.APPROVE


def test_a_portfolio_already_above_the_limit_refuses_more() -> None:
    context = FakeContext()
    policy = VaRLimit(0.01, alpha=ALPHA_Z2, window=4, symbols=[SYMBOL])
    drive(policy, context, ALTERNATING)
    bought(context, 30.0, 99.920016)  # VaR 30 * 99.92 * 0.046188 = 138.45 > 100
    decision = policy.check(request(amount=0.001), context)
    assert decision.action is RiskAction.REJECT
    assert "would be 138.4" in decision.reason


def test_cost_orders_resize_by_cost_and_absolute_limits() -> None:
    context = FakeContext()
    policy = VaRLimit(50.0, alpha=ALPHA_Z2, window=4, relative=False, symbols=[SYMBOL])
    drive(policy, context, ALTERNATING)
    # 50 / 0.046188 = 1,082.53 of value allowed; asked for 3,000
    decision = policy.check(request(cost=3_000.0), context)
    assert decision.action is RiskAction.RESIZE
    assert decision.request is not None and decision.request.amount is None
    assert decision.request.cost == pytest.approx(50.0 / (2 * math.sqrt(0.0016 / 3)), rel=1e-6)


def test_a_hedge_in_a_correlated_asset_lowers_var() -> None:
    # ETH moves exactly against BTC: long both in equal value has no variance at all.
    context = FakeContext({SYMBOL: 100.0, ETH: 100.0})
    policy = VaRLimit(0.005, alpha=ALPHA_Z2, window=4, symbols=[SYMBOL, ETH])
    drive(policy, context, [{SYMBOL: r, ETH: -r} for r in (0.02, -0.02, 0.02, -0.02)])
    bought(context, 20.0, 99.920016)  # 20 * 99.92 * 0.046188 = 92.3 > 50: over the limit alone
    eth_price = context.prices[ETH]
    hedge = policy.check(
        request(symbol=ETH, amount=20 * context.prices[SYMBOL] / eth_price), context
    )
    assert hedge.action is RiskAction.APPROVE
    assert policy.tracked == (SYMBOL, ETH)


def test_warming_up_rejects_entries_and_says_how_far_it_got() -> None:
    context = FakeContext()
    policy = VaRLimit(0.02, window=10, min_observations=3, symbols=[SYMBOL])
    drive(policy, context, ALTERNATING[:2])
    decision = policy.check(request(amount=1.0), context)
    assert decision.action is RiskAction.REJECT
    assert decision.reason == "VaR warming up: 2 of 3 returns of BTC/USDT so far"
    assert math.isnan(policy.var(context))
    drive(policy, context, ALTERNATING[:1])
    assert policy.check(request(amount=1.0), context).action is RiskAction.APPROVE


def test_a_new_symbol_restarts_the_window_and_a_new_run_clears_it() -> None:
    context = FakeContext({SYMBOL: 100.0, ETH: 50.0})
    idle = VaRLimit(0.02, window=3)
    idle.on_bar(context)  # nothing tracked yet: nothing to do
    assert idle.estimator is None
    policy = VaRLimit(0.02, window=3)  # no symbols given: learned from orders and positions
    assert policy.check(request(amount=1.0), context).reason.startswith("VaR warming up: 0 of 3")
    drive(policy, context, ALTERNATING[:3])
    estimator = policy.estimator
    assert estimator is not None and estimator.observations == 3
    context.hold(2.0, 50.0, symbol=ETH)  # a position the policy did not see ordered
    context.now += HOUR
    policy.on_bar(context)
    assert policy.tracked == (SYMBOL, ETH)
    estimator = policy.estimator
    assert estimator is not None and estimator.observations == 0
    drive(policy, context, [{SYMBOL: 0.01, ETH: 0.01}] * 2)
    assert estimator.observations == 2
    context.now -= 10 * HOUR  # time went back: another run
    policy.on_bar(context)
    assert estimator.observations == 0


def test_a_step_without_a_price_adds_no_returns() -> None:
    context = FakeContext({SYMBOL: 100.0})
    policy = VaRLimit(0.02, window=5, symbols=[SYMBOL, ETH])
    drive(policy, context, ALTERNATING)  # ETH has no price yet
    estimator = policy.estimator
    assert estimator is not None and estimator.observations == 0


def test_refusals_without_a_price_or_equity() -> None:
    context = FakeContext({})
    policy = VaRLimit(0.02, window=2, symbols=[SYMBOL])
    assert policy.check(request(amount=1.0), context).reason == (
        "no price for BTC/USDT yet to value the order"
    )
    context = FakeContext(cash=0.0)
    drive(policy, context, ALTERNATING[:2])
    decision = policy.check(request(amount=1.0), context)
    assert decision.reason == "VaR limit is 0 (equity not positive)"


def test_monte_carlo_limits_reject_instead_of_resizing() -> None:
    context = FakeContext()
    policy = VaRLimit(0.01, method="monte_carlo", window=4, seed=1, symbols=[SYMBOL])
    drive(policy, context, ALTERNATING)
    assert policy.check(request(amount=100.0), context).action is RiskAction.REJECT


def test_a_resize_below_the_minimum_notional_is_a_rejection() -> None:
    market = Market.from_symbol(SYMBOL, min_notional=5_000.0)
    context = FakeContext(markets={SYMBOL: market})
    policy = VaRLimit(0.01, alpha=ALPHA_Z2, window=4, symbols=[SYMBOL])
    drive(policy, context, ALTERNATING)
    decision = policy.check(request(amount=30.0), context)  # 21.67 BTC fit: 2,165 < 5,000
    assert decision.action is RiskAction.REJECT
    assert decision.reason.endswith("no order of the minimum size fits")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_var": 0.0}, "max_var must be a finite number > 0"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\)"),
        ({"method": "delta"}, "method must be one of"),
        ({"window": 1}, "window must be an integer >= 2"),
        ({"horizon": 0}, "horizon must be an integer >= 1"),
        ({"min_observations": 1}, "min_observations must be an integer >= 2"),
        ({"window": 10, "min_observations": 11}, r"min_observations \(11\) cannot exceed"),
        ({"method": "historical", "horizon": 5, "window": 9, "min_observations": 4}, ">= 5"),
        ({"symbols": "BTC/USDT"}, "symbols must be distinct names"),
        ({"symbols": [SYMBOL, SYMBOL]}, "symbols must be distinct names"),
    ],
)
def test_bad_policy_settings(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"max_var": 0.02, **kwargs}
    with pytest.raises(ConfigError, match=message):
        VaRLimit(**settings)  # type: ignore[arg-type]


def test_repr_shows_the_settings() -> None:
    assert repr(VaRLimit(1_000.0, relative=False, window=20, method="historical")) == (
        "VaRLimit(max_var=1000.0, alpha=0.99, horizon=1, method='historical', window=20, "
        "relative=False, min_observations=20, symbols=())"
    )


# -- property: nothing approved or resized ever breaches the limit --


def reference_var(returns: np.ndarray, values: np.ndarray, alpha: float, method: str) -> float:
    """VaR from numpy alone (the estimator is not consulted)."""
    if method == "historical":
        return float(np.quantile(-(returns @ values), alpha, method="inverted_cdf"))
    mu = float(returns.mean(axis=0) @ values)
    sigma = math.sqrt(max(float(values @ np.atleast_2d(np.cov(returns, rowvar=False)) @ values), 0))
    return -(mu + N.inv_cdf(1 - alpha) * sigma)


@given(
    stream=return_streams(max_assets=2, max_rows=12, scale=0.05),
    method=st.sampled_from(["parametric", "historical"]),
    held=st.lists(st.floats(-30, 30), min_size=2, max_size=2),
    side=st.sampled_from(["buy", "sell"]),
    amount=st.floats(0.01, 200.0),
    max_var=st.floats(0.001, 0.05),
)
def test_no_approved_or_resized_order_breaches_the_limit(
    stream: np.ndarray,
    method: str,
    held: list[float],
    side: str,
    amount: float,
    max_var: float,
) -> None:
    symbols = [SYMBOL, ETH][: stream.shape[1]]
    context = FakeContext(dict.fromkeys(symbols, 100.0), cash=100_000.0)
    policy = VaRLimit(max_var, method=method, window=12, min_observations=2, symbols=symbols)  # type: ignore[arg-type]
    prices = [np.array([100.0] * len(symbols))]
    drive(policy, context, [dict(zip(symbols, row, strict=True)) for row in stream])
    for row in stream:
        prices.append(prices[-1] * (1 + row))
    path = np.array(prices)
    returns = (path[1:] / path[:-1] - 1)[-12:]  # what the policy saw, from the prices alone
    for symbol, amount_held in zip(symbols, held, strict=False):
        if amount_held:
            context.hold(amount_held, 100.0, symbol)
    decision = policy.check(request(side, amount=amount), context)
    if decision.request is None or len(returns) < 2:
        return
    values = np.array([context.portfolio.position(s).amount * context.prices[s] for s in symbols])
    reducing = held[0] * (1 if side == "buy" else -1) < 0 and amount <= abs(held[0])
    if reducing or decision.request.reduce_only:
        return
    values[0] += (
        (1 if side == "buy" else -1) * (decision.request.amount or 0) * context.prices[SYMBOL]
    )
    limit = max_var * context.portfolio.equity()
    assert reference_var(returns, values, 0.99, method) <= limit * (1 + 1e-9) + 1e-9


# -- in a real Engine run --


def test_var_limit_in_a_backtest() -> None:
    # Closes alternate +2 % / -2 % from 100; each bar opens at the previous close. Window 4,
    # z = -2: VaR = 0.046188 per unit of value once four returns are in (bar 4).
    closes = [100.0]
    for k in range(7):
        closes.append(closes[-1] * (1.02 if k % 2 == 0 else 0.98))
    rows = [
        (o, max(o, c) + 0.5, min(o, c) - 0.5, c, 10.0)
        for o, c in zip([100.0, *closes[:-1]], closes, strict=True)
    ]
    script = {
        2: lambda s: s.buy(amount=10.0),  # 2 of 4 returns: warming up
        4: lambda s: s.buy(amount=30.0),  # 30 * 99.920016 * 0.046188 = 138.45 <= 2 % = 200
        6: lambda s: s.buy(amount=20.0),  # 50 * 99.840064 * 0.046188 = 230.57 > 199.95
        7: lambda s: s.buy(amount=1.0),  # held 43 at 101.83687: 43 * 101.84 * 0.046188 > 200
    }
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=1.0, maker_fee=0.0, taker_fee=0.0)
    broker = BacktestBroker(cash=10_000.0, markets={SYMBOL: market})
    policy = VaRLimit(0.02, alpha=ALPHA_Z2, window=4, symbols=[SYMBOL])
    result = Engine(
        feed=SeriesFeed(make_series(rows)), strategy=Scripted(script), broker=broker, risk=policy
    ).run()
    events = result.risk_events
    assert events["action"].tolist() == ["reject", "approve", "resize", "reject"]
    assert events.loc[0, "reason"] == "VaR warming up: 2 of 4 returns of BTC/USDT so far"
    # Bar 6: equity 10,000 + 30 * (99.840064 - 99.920016) = 9,997.60, limit 199.95;
    # 199.95 / (0.046188 * 99.840064) = 43.36 BTC in all, so 13 more (whole BTC).
    assert result.orders["amount"].tolist()[1:3] == [30.0, 13.0]
    assert "above the limit" in str(events.loc[3, "reason"])
    assert result.fills["amount"].tolist() == [30.0, 13.0]


def test_the_docstring_examples_run() -> None:
    import doctest

    import quantkit.risk.var
    import quantkit.risk.var_policy

    for module in (quantkit.risk.var, quantkit.risk.var_policy):
        outcome = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert outcome.failed == 0
        assert outcome.attempted >= 1
