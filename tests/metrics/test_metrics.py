"""Tests of the metric functions (quantkit.metrics.*) and of metrics_table.

Expected values come from hand arithmetic written in the comments, or from reference formulas
re-derived here from empyrical's / quantstats' documentation with plain numpy (neither library
is installed), never from the module's own helpers.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.errors import ConfigError, DataError
from quantkit.metrics import benchmark as benchmark_metrics
from quantkit.metrics import distribution as distribution_metrics
from quantkit.metrics import drawdowns as drawdown_metrics
from quantkit.metrics import returns as metrics
from quantkit.metrics import trades as trade_metrics
from quantkit.metrics.benchmark import alpha_beta, buy_and_hold, information_ratio
from quantkit.metrics.distribution import (
    conditional_value_at_risk,
    excess_kurtosis,
    skewness,
    tail_ratio,
    value_at_risk,
)
from quantkit.metrics.drawdowns import (
    calmar_ratio,
    drawdown_periods,
    max_drawdown,
    max_drawdown_duration,
    max_drawdown_period,
    ulcer_index,
)
from quantkit.metrics.returns import (
    annualised_volatility,
    cagr,
    infer_periods_per_year,
    omega_ratio,
    returns,
    sharpe_ratio,
    sortino_ratio,
    total_return,
)
from quantkit.metrics.stats import compute_stats, metrics_table
from quantkit.metrics.trades import (
    average_holding_time,
    average_loss,
    average_win,
    best_trade,
    expectancy,
    exposure,
    fees_paid,
    payoff_ratio,
    profit_factor,
    turnover,
    win_rate,
    worst_trade,
)

DAY = pd.Timedelta(days=1)


def curve(values: list[float], freq: str = "1D") -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values), freq=freq, tz="UTC")
    return pd.Series(values, index=index, dtype=float)


def rets(values: list[float], freq: str = "1D") -> pd.Series:
    index = pd.date_range("2024-01-02", periods=len(values), freq=freq, tz="UTC")
    return pd.Series(values, index=index, dtype=float)


# The running example: equity 100, 110, 99, 121 on daily bars.
# returns: 110/100 - 1 = 0.1, 99/110 - 1 = -0.1, 121/99 - 1 = 2/9
EQUITY = curve([100.0, 110.0, 99.0, 121.0])
R = [0.1, -0.1, 2 / 9]


# --- returns, total return, CAGR, periods per year ----------------------------------------------


def test_returns_of_equity() -> None:
    result = returns(EQUITY)
    assert result.tolist() == pytest.approx(R)
    assert result.index.equals(EQUITY.index[1:])
    assert result.name == "returns"
    assert returns(curve([5.0])).empty


def test_returns_after_a_ruin_are_undefined() -> None:
    with pytest.raises(DataError, match=r"row 2.*not positive"):
        returns(curve([100.0, 50.0, 0.0, 10.0]))


def test_total_return_and_cagr() -> None:
    assert total_return(EQUITY) == pytest.approx(0.21)
    # elapsed 3 days of a 365-day year: 1.21 ** (365 / 3) - 1
    assert cagr(EQUITY) == pytest.approx(1.21 ** (365 / 3) - 1)
    # counting periods: 3 periods at 1.5 a year = 2 years -> sqrt(1.21) - 1 = 0.1
    assert cagr(EQUITY, periods_per_year=1.5) == pytest.approx(0.1)
    # one bar: no time has passed
    assert math.isnan(cagr(curve([100.0])))
    # a year of daily bars doubling: exactly 2 ** 1 - 1
    assert cagr(curve([1.0] * 365 + [2.0])) == pytest.approx(1.0)


def test_cagr_edges() -> None:
    assert cagr(curve([100.0, 0.0])) == -1.0  # ruined: -100 %
    assert math.isnan(cagr(curve([100.0, -5.0])))  # negative growth factor
    assert cagr(curve([1.0, 1e6], freq="1min")) == math.inf  # overflows a float


@pytest.mark.parametrize(
    ("freq", "expected"), [("1D", 365.0), ("1h", 8760.0), ("4h", 2190.0), ("1min", 525_600.0)]
)
def test_infer_periods_per_year(freq: str, expected: float) -> None:
    assert infer_periods_per_year(curve([1.0] * 5, freq).index) == pytest.approx(expected)


def test_infer_periods_per_year_uses_the_median_spacing() -> None:
    # gaps of 1, 1, 1, 5 days: the median is 1 day
    index = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-09"])
    assert infer_periods_per_year(index) == pytest.approx(365.0)
    assert infer_periods_per_year(index, days_per_year=252) == pytest.approx(252.0)


def test_infer_periods_per_year_errors() -> None:
    with pytest.raises(DataError, match="periods_per_year"):
        infer_periods_per_year(curve([1.0]).index)
    with pytest.raises(DataError, match="periods_per_year"):
        infer_periods_per_year(pd.RangeIndex(3))
    with pytest.raises(DataError, match="increasing"):
        infer_periods_per_year(pd.DatetimeIndex(["2024-01-02", "2024-01-01", "2024-01-01"]))
    with pytest.raises(ConfigError, match="days_per_year"):
        infer_periods_per_year(EQUITY.index, days_per_year=0)


# --- annualised ratios ------------------------------------------------------------------------


def test_volatility_sharpe_sortino_by_hand() -> None:
    # mean = (0.1 - 0.1 + 2/9) / 3 = 2/27
    # deviations 7/270, -47/270, 40/270; sum of squares 3858 / 270**2; ddof=1 -> /2
    variance = 3858 / 270**2 / 2
    mean = 2 / 27
    root = math.sqrt(365)
    r = returns(EQUITY)
    assert annualised_volatility(r) == pytest.approx(math.sqrt(variance) * root)
    assert sharpe_ratio(r) == pytest.approx(mean / math.sqrt(variance) * root)
    # downside over ALL periods: only -0.1 counts -> sqrt(0.01 / 3)
    assert sortino_ratio(r) == pytest.approx(mean / math.sqrt(0.01 / 3) * root)
    # explicit periods_per_year overrides the inferred 365
    assert sharpe_ratio(r, periods_per_year=4) == pytest.approx(mean / math.sqrt(variance) * 2)


def test_sharpe_risk_free_is_compounded_down() -> None:
    # 4 % a year at 2 periods a year: rf = sqrt(1.04) - 1 per period; std(r - rf) = std(r)
    r = returns(EQUITY)
    rf = math.sqrt(1.04) - 1
    std = math.sqrt(3858 / 270**2 / 2)
    expected = (2 / 27 - rf) / std * math.sqrt(2)
    assert sharpe_ratio(r, risk_free=0.04, periods_per_year=2) == pytest.approx(expected)
    # Sortino's target works the same way: only 0.1 - rf > 0 and 2/9 - rf > 0 are no shortfall
    downside = math.sqrt((-0.1 - rf) ** 2 / 3)
    assert sortino_ratio(r, target=0.04, periods_per_year=2) == pytest.approx(
        (2 / 27 - rf) / downside * math.sqrt(2)
    )


def test_flat_equity_ratios_are_nan_not_inf() -> None:
    r = returns(curve([100.0] * 6))
    assert annualised_volatility(r) == 0.0
    assert math.isnan(sharpe_ratio(r))
    assert math.isnan(sortino_ratio(r))
    assert math.isnan(omega_ratio(r))
    assert math.isnan(skewness(r))
    assert math.isnan(excess_kurtosis(r))
    assert math.isnan(tail_ratio(r))


def test_all_positive_returns_sortino_and_omega_are_nan() -> None:
    r = rets([0.01, 0.02, 0.03])
    assert math.isnan(sortino_ratio(r))  # no downside: we choose NaN (empyrical: inf)
    assert math.isnan(omega_ratio(r))  # nothing below the threshold: NaN (as empyrical)
    assert sharpe_ratio(r) > 0


def test_too_few_returns() -> None:
    one = rets([-0.1])
    assert math.isnan(annualised_volatility(one, periods_per_year=4))
    assert math.isnan(sharpe_ratio(one, periods_per_year=4))
    # downside sqrt(0.01) = 0.1 -> -0.1 / 0.1 * sqrt(4) = -2
    assert sortino_ratio(one, periods_per_year=4) == pytest.approx(-2.0)
    assert math.isnan(sortino_ratio(rets([]), periods_per_year=4))
    with pytest.raises(DataError, match="periods_per_year"):
        sharpe_ratio(one)  # one timestamp: the bar frequency is unknown


def test_omega_by_hand() -> None:
    # gains above 0: 0.1 + 2/9; losses below 0: 0.1 -> (0.1 + 2/9) / 0.1
    assert omega_ratio(returns(EQUITY)) == pytest.approx((0.1 + 2 / 9) / 0.1)
    # threshold 10 % a year at 1 period a year: tau = 0.1 -> gains 2/9 - 0.1, losses 0.2
    assert omega_ratio(returns(EQUITY), threshold=0.1, periods_per_year=1) == pytest.approx(
        (2 / 9 - 0.1) / 0.2
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: sharpe_ratio(r, periods_per_year=0), "periods_per_year"),
        (lambda r: sharpe_ratio(r, periods_per_year=True), "periods_per_year"),
        (lambda r: sharpe_ratio(r, risk_free=-1.0), "risk_free"),
        (lambda r: sortino_ratio(r, target=math.nan), "target"),
        (lambda r: omega_ratio(r, threshold=-2.0), "threshold"),
        (lambda r: value_at_risk(r, confidence=1.0), "confidence"),
        (lambda r: conditional_value_at_risk(r, confidence=0.0), "confidence"),
    ],
)
def test_bad_arguments_are_config_errors(call: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call(returns(EQUITY))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("series", "match"),
    [
        (rets([0.1, -1.5]), "row 1.*below -1"),
        (rets([0.1, math.nan]), "row 1.*not a finite"),
        ([0.1, 0.2], "expected a pandas Series"),
        (pd.Series(["a"]), "must be numbers"),
    ],
)
def test_bad_returns_are_data_errors(series: pd.Series, match: str) -> None:
    with pytest.raises(DataError, match=match):
        skewness(series)


# --- against empyrical's published formulas -----------------------------------------------------


def random_returns(seed: int, n: int = 250) -> pd.Series:
    generator = np.random.default_rng(seed)
    return rets(list(generator.standard_t(4, n) * 0.01 + 0.0005))


def empyrical_sortino(r: np.ndarray, ann: float) -> float:
    # empyrical.sortino_ratio: mean(r - req) * ann / downside_risk, where downside_risk =
    # sqrt(mean(clip(r - req, upper=0) ** 2)) * sqrt(ann)
    downside = np.sqrt(np.mean(np.clip(r, None, 0) ** 2)) * np.sqrt(ann)
    return float(np.mean(r) * ann / downside)


def empyrical_max_drawdown(r: np.ndarray) -> float:
    # empyrical.max_drawdown: cumulative = 100 * cumprod(1 + r) with a start of 100 prepended,
    # max_return = fmax.accumulate(cumulative); min((cumulative - max_return) / max_return)
    cumulative = 100 * np.cumprod(np.concatenate(([1.0], 1 + r)))
    peak = np.fmax.accumulate(cumulative)
    return float(np.min((cumulative - peak) / peak))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_against_empyrical_formulas(seed: int) -> None:
    r = random_returns(seed)
    x = r.to_numpy()
    ann = 365.0
    equity = pd.Series(
        100 * np.cumprod(np.concatenate(([1.0], 1 + x))),
        index=pd.date_range("2024-01-01", periods=x.size + 1, freq="1D", tz="UTC"),
    )
    assert sortino_ratio(r) == pytest.approx(empyrical_sortino(x, ann))
    # empyrical.sharpe_ratio: mean(r) / std(r, ddof=1) * sqrt(ann)
    assert sharpe_ratio(r) == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(ann))
    assert max_drawdown(equity) == pytest.approx(empyrical_max_drawdown(x))
    # empyrical.annual_return: ending_value ** (1 / (n / ann)) - 1 (periods, not dates)
    ending = float(np.prod(1 + x))
    annual = ending ** (ann / x.size) - 1
    assert cagr(equity, periods_per_year=ann) == pytest.approx(annual)
    # empyrical.calmar_ratio: annual_return / abs(max_drawdown)
    assert calmar_ratio(equity, periods_per_year=ann) == pytest.approx(
        annual / abs(empyrical_max_drawdown(x))
    )
    # empyrical.omega_ratio with required_return 0: sum(r[r > 0]) / -sum(r[r < 0])
    assert omega_ratio(r) == pytest.approx(x[x > 0].sum() / -x[x < 0].sum())
    # empyrical.tail_ratio: abs(percentile(r, 95)) / abs(percentile(r, 5))
    assert tail_ratio(r) == pytest.approx(abs(np.percentile(x, 95)) / abs(np.percentile(x, 5)))
    # empyrical.value_at_risk: percentile(r, 100 * (1 - 0.95))
    assert value_at_risk(r) == pytest.approx(np.percentile(x, 5))
    # empyrical.conditional_value_at_risk: k = int((n - 1) * 0.05); mean of the k+1 smallest
    k = int((x.size - 1) * 0.05)
    assert conditional_value_at_risk(r) == pytest.approx(np.sort(x)[: k + 1].mean())
    # quantstats.skew / kurtosis: pandas' bias-corrected estimators
    assert skewness(r) == pytest.approx(pd.Series(x).skew())
    assert excess_kurtosis(r) == pytest.approx(pd.Series(x).kurt())


def test_skew_and_kurtosis_by_hand() -> None:
    # r = 1, 2, 3, 10: mean 4; deviations -3, -2, -1, 6
    # m2 = (9 + 4 + 1 + 36) / 4 = 12.5; m3 = (-27 - 8 - 1 + 216) / 4 = 45
    # m4 = (81 + 16 + 1 + 1296) / 4 = 348.5
    # G1 = sqrt(4 * 3) / 2 * 45 / 12.5 ** 1.5
    # g2 = 348.5 / 156.25 - 3; G2 = 3 / (2 * 1) * (5 * g2 + 6)
    r = rets([0.01, 0.02, 0.03, 0.10])  # the same shape scaled by 0.01: G1, G2 are scale-free
    assert skewness(r) == pytest.approx(math.sqrt(12) / 2 * 45 / 12.5**1.5)
    g2 = 348.5 / 156.25 - 3
    assert excess_kurtosis(r) == pytest.approx(1.5 * (5 * g2 + 6))
    assert math.isnan(skewness(rets([0.1, 0.2])))  # needs 3
    assert math.isnan(excess_kurtosis(rets([0.1, 0.2, 0.3])))  # needs 4


def test_var_cvar_by_hand() -> None:
    # sorted: -0.05, -0.03, -0.01, 0.02, 0.04; 10 % quantile at position 4 * 0.1 = 0.4
    # -> -0.05 + 0.4 * (-0.03 + 0.05) = -0.042; returns <= -0.042: only -0.05
    r = rets([0.02, -0.05, 0.04, -0.01, -0.03])
    assert value_at_risk(r, confidence=0.9) == pytest.approx(-0.042)
    assert conditional_value_at_risk(r, confidence=0.9) == pytest.approx(-0.05)
    # 50 %: the median -0.01; returns <= it: -0.05, -0.03, -0.01 -> mean -0.03
    assert value_at_risk(r, confidence=0.5) == pytest.approx(-0.01)
    assert conditional_value_at_risk(r, confidence=0.5) == pytest.approx(-0.03)
    assert math.isnan(value_at_risk(rets([])))
    assert math.isnan(conditional_value_at_risk(rets([])))
    assert math.isnan(tail_ratio(rets([])))


# --- drawdowns --------------------------------------------------------------------------------


def test_drawdown_periods_by_hand() -> None:
    # 100, 80 (dd -20 %), 100 (recovered day 2), 120, 90 (-25 %), 60 (-50 %), 110: not recovered
    equity = curve([100.0, 80.0, 100.0, 120.0, 90.0, 60.0, 110.0])
    start = pd.Timestamp("2024-01-01", tz="UTC")
    table = drawdown_periods(equity)
    assert table["peak"].tolist() == [start, start + 3 * DAY]
    assert table["trough"].tolist() == [start + DAY, start + 5 * DAY]
    assert table["recovery"].iloc[0] == start + 2 * DAY
    assert pd.isna(table["recovery"].iloc[1])
    assert table["depth"].tolist() == pytest.approx([-0.2, -0.5])
    assert table["duration"].tolist() == [2 * DAY, 3 * DAY]
    deepest = max_drawdown_period(equity)
    assert deepest is not None
    assert (deepest.peak, deepest.trough, deepest.recovery) == (
        start + 3 * DAY,
        start + 5 * DAY,
        None,
    )
    assert not deepest.recovered
    assert deepest.depth == pytest.approx(-0.5)
    assert max_drawdown(equity) == pytest.approx(-0.5)
    assert max_drawdown_duration(equity) == 3 * DAY
    # Ulcer: percentage drawdowns 0, -20, 0, 0, -25, -50, -100/12 (110/120 - 1)
    squares = [0, 400, 0, 0, 625, 2500, (100 / 12) ** 2]
    assert ulcer_index(equity) == pytest.approx(math.sqrt(sum(squares) / 7))


def test_recovered_max_drawdown_and_calmar() -> None:
    deepest = max_drawdown_period(EQUITY)  # peak 110 on day 1, trough 99 on day 2, 121 on day 3
    assert deepest is not None and deepest.recovered
    assert deepest.recovery == pd.Timestamp("2024-01-04", tz="UTC")
    assert deepest.duration == 2 * DAY
    # CAGR over 2 years (3 periods at 1.5 a year) is 10 %; |max dd| = 1 - 99/110 = 0.1
    assert calmar_ratio(EQUITY, periods_per_year=1.5) == pytest.approx(0.1 / 0.1)
    assert calmar_ratio(EQUITY) == pytest.approx(cagr(EQUITY) / 0.1)


def test_no_drawdown() -> None:
    equity = curve([100.0, 101.0, 102.0])
    assert max_drawdown(equity) == 0.0
    assert max_drawdown_period(equity) is None
    assert max_drawdown_duration(equity) == pd.Timedelta(0)
    assert drawdown_periods(equity).empty
    assert math.isnan(calmar_ratio(equity))
    assert ulcer_index(equity) == 0.0


def test_one_bar() -> None:
    equity = curve([100.0])
    assert total_return(equity) == 0.0
    assert max_drawdown(equity) == 0.0
    assert ulcer_index(equity) == 0.0
    table = metrics_table(equity)
    for label in ["CAGR [%]", "Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio"]:
        assert math.isnan(table[label]), label
    assert pd.isna(table["Max drawdown peak"])


# --- trades -----------------------------------------------------------------------------------


def trades_frame() -> pd.DataFrame:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "pnl": [10.0, -5.0, 20.0, -15.0, 0.0],
            "fees": [0.5, 0.25, 0.5, 0.25, 0.5],
            "size": [1.0, 2.0, 1.0, 1.0, 0.5],
            "entry_price": [100.0, 50.0, 100.0, 110.0, 100.0],
            "exit_price": [110.0, 47.5, 120.0, 95.0, 100.0],
            "entry_time": [start, start + DAY, start + 2 * DAY, start + 5 * DAY, start + 8 * DAY],
            "exit_time": [
                start + DAY,
                start + 2 * DAY,
                start + 4 * DAY,
                start + 6 * DAY,
                start + 9 * DAY,
            ],
        }
    )


def test_trade_metrics_by_hand() -> None:
    trades = trades_frame()
    assert win_rate(trades) == pytest.approx(2 / 5)  # 10 and 20; 0 is no win
    assert profit_factor(trades) == pytest.approx(30 / 20)
    assert expectancy(trades) == pytest.approx(10 / 5)  # (10 - 5 + 20 - 15 + 0) / 5
    assert average_win(trades) == pytest.approx(15.0)
    assert average_loss(trades) == pytest.approx(-10.0)
    assert payoff_ratio(trades) == pytest.approx(1.5)
    assert best_trade(trades) == 20.0
    assert worst_trade(trades) == -15.0
    # holding times 1, 1, 2, 1, 1 days -> 6/5 days
    assert average_holding_time(trades) == pd.Timedelta(hours=28, minutes=48)
    assert fees_paid(trades) == pytest.approx(2.0)


def test_exposure_and_turnover_by_hand() -> None:
    trades = trades_frame()
    equity = curve([1000.0] * 11)  # days 0 .. 10
    # open at the close of day t when entry <= t < exit: days 0, 1, 2, 3, 5, 8 -> 6 of 11
    assert exposure(equity, trades) == pytest.approx(6 / 11)
    # notional: 1*(210) + 2*(97.5) + 1*(220) + 1*(205) + 0.5*(200) = 930
    # mean equity 1000; 10 days = 10/365 years -> 930 / 1000 / (10 / 365)
    assert turnover(equity, trades) == pytest.approx(0.93 * 36.5)
    assert turnover(equity, trades, periods_per_year=10) == pytest.approx(0.93)
    assert math.isnan(turnover(curve([1000.0]), trades))


def test_open_trade_counts_as_exposed_to_the_end() -> None:
    trades = pd.DataFrame(
        {"entry_time": [pd.Timestamp("2024-01-03", tz="UTC")], "exit_time": [pd.NaT]}
    )
    assert exposure(curve([1.0] * 4), trades) == pytest.approx(2 / 4)
    assert pd.isna(average_holding_time(trades))


def test_no_trades() -> None:
    empty = trades_frame().iloc[:0]
    for function in [win_rate, profit_factor, expectancy, average_win, average_loss]:
        assert math.isnan(function(empty)), function.__name__
    assert math.isnan(best_trade(empty))
    assert math.isnan(worst_trade(empty))
    assert math.isnan(payoff_ratio(empty))
    assert fees_paid(empty) == 0.0
    assert exposure(curve([1.0, 1.0]), empty) == 0.0


def test_trade_input_errors() -> None:
    with pytest.raises(DataError, match="'fees' column"):
        fees_paid(pd.DataFrame({"pnl": [1.0]}))
    with pytest.raises(DataError, match="'exit_time' must hold timestamps"):
        average_holding_time(pd.DataFrame({"entry_time": ["x"], "exit_time": ["y"]}))
    with pytest.raises(DataError, match="size"):
        turnover(curve([1.0, 2.0]), pd.DataFrame({"size": [math.inf], "entry_price": [1.0]}))


# --- benchmark --------------------------------------------------------------------------------


def test_buy_and_hold() -> None:
    hold = buy_and_hold(curve([50.0, 60.0, 45.0]), initial=1000)
    assert hold.tolist() == pytest.approx([1000.0, 1200.0, 900.0])
    with pytest.raises(DataError, match=r"row 1.*not positive"):
        buy_and_hold(curve([50.0, 0.0]))
    with pytest.raises(ConfigError, match="initial"):
        buy_and_hold(curve([50.0]), initial=0)


def test_alpha_beta_by_hand() -> None:
    # benchmark b = 0.01, -0.01, 0.02, 0.00; strategy r = 2 b + 0.001 exactly
    # -> beta 2, per-period alpha 0.001, annualised (1.001) ** 365 - 1
    b = rets([0.01, -0.01, 0.02, 0.0])
    r = 2 * b + 0.001
    alpha, beta = alpha_beta(r, b)
    assert beta == pytest.approx(2.0)
    assert alpha == pytest.approx(1.001**365 - 1)
    # active a = b + 0.001: mean 0.005 + 0.001 = 0.006, std(a, ddof=1) = std(b, ddof=1)
    std = float(np.std([0.01, -0.01, 0.02, 0.0], ddof=1))
    assert information_ratio(r, b) == pytest.approx(0.006 / std * math.sqrt(365))


def test_alpha_overflow_is_inf() -> None:
    # per-period alpha 1.0 (r = b + 1) compounded a million times a year: 2 ** 1e6
    b = rets([0.01, -0.01, 0.02, 0.0])
    alpha, beta = alpha_beta(b + 1.0, b, periods_per_year=1e6)
    assert alpha == math.inf
    assert beta == pytest.approx(1.0)


def test_alpha_beta_matches_least_squares() -> None:
    # empyrical.alpha_beta: OLS of (r - rf) on (b - rf); alpha annualised (1 + a) ** ann - 1
    generator = np.random.default_rng(7)
    b = generator.normal(0.0005, 0.01, 300)
    r = 0.7 * b + generator.normal(0.0002, 0.005, 300)
    rf = 1.03 ** (1 / 365) - 1
    design = np.column_stack([np.ones(300), b - rf])
    (a, slope), *_ = np.linalg.lstsq(design, r - rf, rcond=None)
    alpha, beta = alpha_beta(rets(list(r)), rets(list(b)), risk_free=0.03)
    assert beta == pytest.approx(slope)
    assert alpha == pytest.approx((1 + a) ** 365 - 1)


def test_benchmark_alignment_and_edges() -> None:
    r = rets([0.01, 0.02, -0.01, 0.03])
    b = rets([0.01, 0.01, 0.02, 0.0]).iloc[1:]  # shares the last three timestamps
    strategy_part = r.iloc[1:]
    assert alpha_beta(r, b) == pytest.approx(alpha_beta(strategy_part, b))
    assert information_ratio(r, b) == pytest.approx(information_ratio(strategy_part, b))
    assert all(math.isnan(v) for v in alpha_beta(r.iloc[:1], r.iloc[:1]))  # one period
    assert math.isnan(information_ratio(r.iloc[:1], r.iloc[:1]))
    assert all(math.isnan(v) for v in alpha_beta(r, rets([0.01] * 4)))  # flat benchmark
    assert math.isnan(information_ratio(r, r))  # zero tracking error
    with pytest.raises(DataError, match="shares no timestamp"):
        alpha_beta(r, rets([0.01], freq="1D").shift(30, freq="D"))


# --- metrics_table and compute_stats ---------------------------------------------------------


def test_metrics_table_agrees_with_the_functions() -> None:
    trades = trades_frame()
    equity = curve([1000.0, 1010.0, 990.0, 1030.0, 1020.0, 1050.0, 1000.0, 1060.0, 1070.0, 1080.0])
    close = curve([50.0, 51.0, 49.0, 52.0, 52.5, 53.0, 50.0, 54.0, 54.5, 55.0])
    table = metrics_table(equity, trades=trades, benchmark=close)
    r = returns(equity)
    assert table["CAGR [%]"] == pytest.approx(100 * cagr(equity))  # elapsed time by default
    assert table["Sharpe ratio"] == pytest.approx(sharpe_ratio(r))
    assert table["Omega ratio"] == pytest.approx(omega_ratio(r))
    assert table["Kurtosis (excess)"] == pytest.approx(excess_kurtosis(r))
    assert table["Exposure time [%]"] == pytest.approx(100 * exposure(equity, trades))
    assert table["Fees paid"] == pytest.approx(2.0)
    assert table["Turnover (ann.)"] == pytest.approx(turnover(equity, trades))
    assert table["Buy & hold return [%]"] == pytest.approx(10.0)  # 55 / 50 - 1
    alpha, beta = alpha_beta(r, returns(close))
    assert table["Beta"] == pytest.approx(beta)
    assert table["Alpha (ann.) [%]"] == pytest.approx(100 * alpha)
    assert table["Max drawdown recovery"] == pd.Timestamp("2024-01-08", tz="UTC")
    assert "Start" not in table.index and "Ambiguous fills" not in table.index


def test_metrics_table_without_trades_or_benchmark() -> None:
    table = metrics_table(curve([100.0, 90.0, 95.0]), periods_per_year=365)
    assert table["Max drawdown recovery"] == "not recovered"
    for label in ["Trades", "Win rate [%]", "Turnover (ann.)", "Beta", "Fees paid"]:
        assert math.isnan(table[label]), label
    assert pd.isna(table["Average holding time"])
    pnl_only = metrics_table(curve([100.0, 90.0]), trades=pd.DataFrame({"pnl": [1.0]}))
    assert pnl_only["Trades"] == 1
    assert math.isnan(pnl_only["Turnover (ann.)"])
    assert math.isnan(pnl_only["Exposure time [%]"])


def test_metrics_table_errors() -> None:
    with pytest.raises(ConfigError, match="periods_per_year"):
        metrics_table(EQUITY, periods_per_year=-1)
    with pytest.raises(ConfigError, match="risk_free"):
        metrics_table(EQUITY, risk_free=-2)
    with pytest.raises(DataError, match=r"benchmark.*shares no timestamp"):
        metrics_table(EQUITY, benchmark=curve([1.0, 2.0], freq="1h").shift(30, freq="min"))
    with pytest.raises(DataError, match="row 0: fees nan is not a finite"):
        metrics_table(EQUITY, trades=pd.DataFrame({"pnl": [1.0], "fees": [math.nan]}))


def test_ruined_curve_has_nan_return_metrics() -> None:
    table = metrics_table(curve([100.0, 50.0, 0.0, 10.0]), benchmark=curve([1.0, 2.0, 3.0, 4.0]))
    for label in ["Sharpe ratio", "VaR 95% [%]", "Skew", "Omega ratio", "Beta"]:
        assert math.isnan(table[label]), label
    assert table["Max drawdown [%]"] == pytest.approx(-100.0)
    assert table["Buy & hold return [%]"] == pytest.approx(300.0)


def test_compute_stats_gains_the_benchmark_rows() -> None:
    stats = compute_stats(
        EQUITY, pd.DataFrame({"pnl": [1.0]}), periods_per_year=365.0, benchmark=EQUITY * 2
    )
    assert stats["Beta"] == pytest.approx(1.0)
    assert stats["Alpha (ann.) [%]"] == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(stats["Information ratio"])  # identical returns: zero tracking error
    assert stats["Buy & hold return [%]"] == pytest.approx(21.0)


# --- properties -------------------------------------------------------------------------------

returns_lists = st.lists(
    st.floats(min_value=-0.9, max_value=2.0, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
)
property_settings = settings(deadline=None, max_examples=100)


def equity_from(returns_list: list[float], start: float = 100.0) -> pd.Series:
    values = start * np.cumprod(np.concatenate(([1.0], 1.0 + np.asarray(returns_list))))
    return curve(values.tolist())


@property_settings
@given(returns_list=returns_lists)
def test_max_drawdown_of_positive_equity_lies_in_minus_one_to_zero(
    returns_list: list[float],
) -> None:
    equity = equity_from(returns_list)
    assert 0.0 <= -max_drawdown(equity) <= 1.0
    assert 0.0 <= ulcer_index(equity) <= 100.0


@property_settings
@given(returns_list=returns_lists)
def test_drawdown_dates_are_ordered(returns_list: list[float]) -> None:
    equity = equity_from(returns_list)
    table = drawdown_periods(equity)
    assert (table["peak"] < table["trough"]).all()
    assert (table["recovery"].isna() | (table["trough"] < table["recovery"])).all()
    assert (table["duration"] > pd.Timedelta(0)).all()
    deepest = max_drawdown_period(equity)
    if deepest is not None:
        assert deepest.peak < deepest.trough <= equity.index[-1]
        assert deepest.depth == pytest.approx(max_drawdown(equity))


@property_settings
@given(
    returns_list=st.lists(st.floats(min_value=-0.5, max_value=0.5), min_size=3, max_size=40),
    scale=st.floats(min_value=1e-3, max_value=1e3),
)
def test_sharpe_is_invariant_to_scaling_equity(returns_list: list[float], scale: float) -> None:
    equity = equity_from(returns_list)
    r = returns(equity).to_numpy()
    if not 1e-15 <= float(np.std(r, ddof=1)) <= 1e-9:  # away from the 1e-12 zero cut-off
        base = sharpe_ratio(returns(equity))
        scaled = sharpe_ratio(returns(equity * scale))
        assert scaled == pytest.approx(base, rel=1e-6, abs=1e-6, nan_ok=True)


@property_settings
@given(first=returns_lists, second=returns_lists)
def test_total_return_of_concatenated_periods_compounds(
    first: list[float], second: list[float]
) -> None:
    whole = equity_from(first + second)
    head = whole.iloc[: len(first) + 1]
    tail = whole.iloc[len(first) :]
    expected = (1 + total_return(head)) * (1 + total_return(tail)) - 1
    assert total_return(whole) == pytest.approx(expected, rel=1e-9, abs=1e-12)


# --- docstring examples -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "module", [metrics, drawdown_metrics, distribution_metrics, trade_metrics, benchmark_metrics]
)
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.failed == 0
