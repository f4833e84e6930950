"""Tests of the statistics table (quantkit.metrics.stats).

Expected values come from arithmetic written out in the comments or from reference
computations done here with numpy / plain Python, never from the module's own helpers.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from quantkit.errors import ConfigError, DataError
from quantkit.metrics import stats as stats_module
from quantkit.metrics.stats import compute_stats, drawdown, format_stats, periods_per_year

LABELS = [
    "Start",
    "End",
    "Duration",
    "Bars",
    "Start equity",
    "Final equity",
    "Total return [%]",
    "CAGR [%]",
    "Volatility (ann.) [%]",
    "Sharpe ratio",
    "Sortino ratio",
    "Calmar ratio",
    "Omega ratio",
    "Max drawdown [%]",
    "Max drawdown duration",
    "Max drawdown peak",
    "Max drawdown trough",
    "Max drawdown recovery",
    "Max drawdown length",
    "Ulcer index",
    "VaR 95% [%]",
    "CVaR 95% [%]",
    "Skew",
    "Kurtosis (excess)",
    "Tail ratio",
    "Trades",
    "Win rate [%]",
    "Profit factor",
    "Expectancy",
    "Average win",
    "Average loss",
    "Payoff ratio",
    "Best trade",
    "Worst trade",
    "Average holding time",
    "Turnover (ann.)",
    "Exposure time [%]",
    "Fees paid",
    "Gross P&L",
    "Fees [% of gross P&L]",
    "Fees [% of net P&L]",
    "Buy & hold return [%]",
    "Alpha (ann.) [%]",
    "Beta",
    "Information ratio",
    "Ambiguous fills",
    "Ambiguous trades",
]
RATIO_LABELS = [
    "Total return [%]",
    "CAGR [%]",
    "Volatility (ann.) [%]",
    "Sharpe ratio",
    "Sortino ratio",
    "Max drawdown [%]",
]
NS_PER_MINUTE = 60 * 10**9


def equity_series(values: list[float], freq: str | pd.Timedelta = "1D") -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values), freq=freq, tz="UTC")
    return pd.Series(values, index=index, dtype=float)


def trades_frame(pnl: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"pnl": pd.Series(pnl, dtype=float)})


NO_TRADES = trades_frame([])


def year_fraction(ppy: float) -> pd.Timedelta:
    """The bar spacing that makes ``ppy`` bars a 365-day year (calendar time agrees with ppy)."""
    return pd.Timedelta(seconds=365 * 86_400 / ppy)


def stats_of(
    values: list[float], ppy: float = 365.0, freq: str | pd.Timedelta | None = None
) -> pd.Series:
    spacing = year_fraction(ppy) if freq is None else freq
    return compute_stats(equity_series(values, spacing), NO_TRADES, periods_per_year=ppy)


# --- periods_per_year -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeframe_ns", "days", "expected"),
    [
        (NS_PER_MINUTE, 365.0, 365 * 24 * 60),  # 525,600 one-minute bars a year
        (60 * NS_PER_MINUTE, 365.0, 365 * 24),  # 8,760 hours
        (24 * 60 * NS_PER_MINUTE, 365.0, 365),  # 365 days
        (4 * 60 * NS_PER_MINUTE, 365.0, 365 * 6),  # six 4h bars a day
        (24 * 60 * NS_PER_MINUTE, 252.0, 252),  # a weekday calendar
    ],
)
def test_periods_per_year(timeframe_ns: int, days: float, expected: float) -> None:
    assert periods_per_year(timeframe_ns, days) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("timeframe_ns", "days"),
    [(0, 365.0), (-NS_PER_MINUTE, 365.0), (True, 365.0), (60.0, 365.0), (NS_PER_MINUTE, 0.0)],
)
def test_periods_per_year_rejects_bad_input(timeframe_ns: int, days: float) -> None:
    with pytest.raises(ConfigError):
        periods_per_year(timeframe_ns, days)


@pytest.mark.parametrize("days", [math.nan, math.inf, -365.0])
def test_periods_per_year_rejects_bad_days(days: float) -> None:
    with pytest.raises(ConfigError, match="days_per_year"):
        periods_per_year(NS_PER_MINUTE, days)


# --- the hand-computed case -------------------------------------------------------------------


def test_labels_in_order() -> None:
    assert list(stats_of([100.0, 101.0]).index) == LABELS


def test_hand_computed_case() -> None:
    # equity 100, 110, 99, 121 on bars 2/3 of a 365-day year apart (1.5 periods a year):
    # 3 periods span 730 days = 2 years of calendar time
    # returns: 110/100 - 1 = 1/10, 99/110 - 1 = -1/10, 121/99 - 1 = 22/99 = 2/9
    # mean = (1/10 - 1/10 + 2/9) / 3 = 2/27
    # deviations from the mean: 7/270, -47/270, 40/270; squares sum (49 + 2209 + 1600) / 270**2
    # = 3858/72900; sample variance (ddof=1) = 3858/145800 = 643/24300
    # downside: min(r, 0) = 0, -1/10, 0 -> mean of squares (1/100)/3 = 1/300
    # CAGR: (121/100) ** (1 / 2) - 1 = 1.1 - 1 = 10 %
    # drawdown: 0, 0, 99/110 - 1 = -0.1, 0 -> -10 %; peak at bar 1, regained at bar 3 -> 2 bars
    # trades 10, -11, 22: 2 wins of 3; profit factor (10 + 22) / 11 = 32/11
    spacing = pd.Timedelta(days=730) / 3
    equity = equity_series([100.0, 110.0, 99.0, 121.0], freq=spacing)
    stats = compute_stats(
        equity,
        trades_frame([10.0, -11.0, 22.0]),
        periods_per_year=1.5,
        exposure=0.5,
        fees=1.25,
        ambiguous_fills=2,
        ambiguous_trades=1,
    )
    root = math.sqrt(1.5)
    mean, variance, downside_sq = 2 / 27, 643 / 24300, 1 / 300
    assert stats["Start"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert stats["End"] == pd.Timestamp("2025-12-31", tz="UTC")  # 2024 has 366 days
    assert stats["Duration"] == pd.Timedelta(days=730)
    assert stats["Bars"] == 4
    assert stats["Start equity"] == 100.0
    assert stats["Final equity"] == 121.0
    assert stats["Total return [%]"] == pytest.approx(21.0)
    assert stats["CAGR [%]"] == pytest.approx(10.0)
    assert stats["Volatility (ann.) [%]"] == pytest.approx(100 * math.sqrt(variance) * root)
    assert stats["Sharpe ratio"] == pytest.approx(mean / math.sqrt(variance) * root)
    assert stats["Sortino ratio"] == pytest.approx(mean / math.sqrt(downside_sq) * root)
    assert stats["Max drawdown [%]"] == pytest.approx(-10.0)
    assert stats["Max drawdown duration"] == 2 * spacing
    assert stats["Trades"] == 3
    assert stats["Win rate [%]"] == pytest.approx(200 / 3)
    assert stats["Profit factor"] == pytest.approx(32 / 11)
    assert stats["Exposure time [%]"] == pytest.approx(50.0)
    assert stats["Fees paid"] == 1.25
    assert stats["Ambiguous fills"] == 2
    assert stats["Ambiguous trades"] == 1


def test_risk_free_rate_is_compounded_down_to_one_period() -> None:
    # 4 % a year over 2 periods a year: (1.04) ** (1/2) - 1 per period.
    # returns 1/10, -1/10, 2/9 as above; excess x = r - rf; std(x) = std(r)
    values = [100.0, 110.0, 99.0, 121.0]
    rf = math.sqrt(1.04) - 1
    mean_x = 2 / 27 - rf
    stats = compute_stats(equity_series(values), NO_TRADES, periods_per_year=2.0, risk_free=0.04)
    # x_1 = 0.1 - rf (positive), x_2 = -0.1 - rf, x_3 = 2/9 - rf (positive): only x_2 counts.
    downside_sq = (-0.1 - rf) ** 2 / 3
    assert stats["Sharpe ratio"] == pytest.approx(mean_x / math.sqrt(643 / 24300) * math.sqrt(2))
    assert stats["Sortino ratio"] == pytest.approx(mean_x / math.sqrt(downside_sq) * math.sqrt(2))
    # the volatility ignores the risk-free rate
    assert stats["Volatility (ann.) [%]"] == pytest.approx(
        100 * math.sqrt(643 / 24300) * math.sqrt(2)
    )


# --- drawdown ---------------------------------------------------------------------------------


def test_drawdown_series() -> None:
    # running max 100, 100, 120, 120 -> 0, 80/100 - 1, 0, 90/120 - 1
    equity = equity_series([100.0, 80.0, 120.0, 90.0], freq="1h")
    result = drawdown(equity)
    assert result.index.equals(equity.index)
    assert result.name == "drawdown"
    assert result.tolist() == pytest.approx([0.0, -0.2, 0.0, -0.25])


def test_drawdown_duration_is_measured_in_time_not_bars() -> None:
    # spell 1: peak 100 at 00:00, below at 01:00, back to 100 at 11:00 -> 11 h over 2 bars
    # spell 2: peak 105 at 12:00, below until 106 at 16:00 -> 4 h over 4 bars
    hours = [0, 1, 11, 12, 13, 14, 15, 16]
    index = pd.DatetimeIndex(
        [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h) for h in hours]
    )
    equity = pd.Series([100.0, 90.0, 100.0, 105.0, 104.0, 103.0, 102.0, 106.0], index=index)
    stats = compute_stats(equity, NO_TRADES, periods_per_year=8760.0)
    assert stats["Max drawdown duration"] == pd.Timedelta(hours=11)
    assert stats["Max drawdown [%]"] == pytest.approx(-10.0)  # 90/100 - 1, deeper than 102/105 - 1


def test_drawdown_never_recovered_runs_to_the_last_timestamp() -> None:
    # peak 120 at 01:00, never regained; the last bar is at 04:00 -> 3 h; depth 90/120 - 1 = -25 %
    stats = stats_of([100.0, 120.0, 90.0, 100.0, 110.0], ppy=8760.0, freq="1h")
    assert stats["Max drawdown duration"] == pd.Timedelta(hours=3)
    assert stats["Max drawdown [%]"] == pytest.approx(-25.0)


def test_drawdown_regained_exactly_at_the_peak_ends_the_spell() -> None:
    # 100 -> 95 -> 100 (equal to the peak: regained on day 2) -> 99 (new spell, days 2..3)
    stats = stats_of([100.0, 95.0, 100.0, 99.0])
    assert stats["Max drawdown duration"] == pd.Timedelta(days=2)


# --- edge cases -------------------------------------------------------------------------------


def test_flat_equity_gives_nan_ratios_not_errors() -> None:
    stats = stats_of([100.0] * 5)
    assert stats["Total return [%]"] == 0.0
    assert stats["CAGR [%]"] == 0.0
    assert stats["Volatility (ann.) [%]"] == 0.0
    assert math.isnan(stats["Sharpe ratio"])
    assert math.isnan(stats["Sortino ratio"])
    assert stats["Max drawdown [%]"] == 0.0
    assert stats["Max drawdown duration"] == pd.Timedelta(0)


def test_constant_growth_gives_nan_sharpe_not_rounding_noise() -> None:
    # every return is 1 % in exact arithmetic; computed ones differ by ~1e-16 at most
    values = [100.0 * 1.01**k for k in range(10)]
    stats = stats_of(values, ppy=365.0)
    assert math.isnan(stats["Sharpe ratio"])
    assert math.isnan(stats["Sortino ratio"])  # no losing period: zero downside deviation
    assert stats["Volatility (ann.) [%]"] < 1e-10
    assert stats["CAGR [%]"] == pytest.approx(100 * (1.01**365 - 1))


def test_single_bar() -> None:
    stats = stats_of([100.0])
    assert stats["Bars"] == 1
    assert stats["Duration"] == pd.Timedelta(0)
    assert stats["Total return [%]"] == 0.0
    for label in ["CAGR [%]", "Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio"]:
        assert math.isnan(stats[label]), label
    assert stats["Max drawdown [%]"] == 0.0
    assert stats["Max drawdown duration"] == pd.Timedelta(0)


def test_two_bars_have_no_sample_deviation() -> None:
    # one return of -0.1: std with ddof=1 is undefined; downside = sqrt(0.01) = 0.1
    # Sortino = -0.1 / 0.1 * sqrt(4) = -2; CAGR = 0.9 ** (4 / 1) - 1 = -0.3439
    stats = stats_of([100.0, 90.0], ppy=4.0)
    assert math.isnan(stats["Volatility (ann.) [%]"])
    assert math.isnan(stats["Sharpe ratio"])
    assert stats["Sortino ratio"] == pytest.approx(-2.0)
    assert stats["CAGR [%]"] == pytest.approx(-34.39)


def test_ruined_account() -> None:
    # 100, 50, 0, 10: the return after 0 is undefined -> return ratios NaN
    # total return 10/100 - 1 = -90 %; CAGR over 3 periods at 3 a year = -90 %
    # drawdown bottoms at 0/100 - 1 = -100 %; 100 never regained -> bar 0 to bar 3 (one year)
    stats = stats_of([100.0, 50.0, 0.0, 10.0], ppy=3.0)
    for label in ["Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio"]:
        assert math.isnan(stats[label]), label
    assert stats["Total return [%]"] == pytest.approx(-90.0)
    assert stats["CAGR [%]"] == pytest.approx(-90.0)
    assert stats["Max drawdown [%]"] == pytest.approx(-100.0)
    assert stats["Max drawdown duration"] == pd.Timedelta(days=365)


def test_final_equity_zero_has_cagr_minus_100() -> None:
    assert stats_of([100.0, 50.0, 0.0])["CAGR [%]"] == pytest.approx(-100.0)


def test_negative_final_equity() -> None:
    # -20/100 - 1 = -120 %; a negative growth factor has no real annualised rate
    stats = stats_of([100.0, 50.0, -20.0])
    assert stats["Total return [%]"] == pytest.approx(-120.0)
    assert math.isnan(stats["CAGR [%]"])
    assert stats["Max drawdown [%]"] == pytest.approx(-120.0)


def test_cagr_overflow_is_inf() -> None:
    # (1e6 / 100) ** (1e6 / 1) is far beyond the largest float
    assert stats_of([100.0, 1e6], ppy=1e6)["CAGR [%]"] == math.inf


@pytest.mark.parametrize(
    ("pnl", "win_rate", "profit_factor"),
    [
        ([], math.nan, math.nan),  # no trades
        ([1.0, 2.0], 100.0, math.inf),  # all winners: no losses to divide by
        ([-1.0, -2.0], 0.0, 0.0),  # all losers: 0 / 3
        ([0.0, 0.0], 0.0, math.nan),  # break-even only: 0 / 0
        ([5.0, -2.0, -3.0, 0.0], 25.0, 1.0),  # 1 win of 4; 5 / |-2 - 3|
    ],
)
def test_trade_statistics(pnl: list[float], win_rate: float, profit_factor: float) -> None:
    stats = compute_stats(equity_series([100.0, 101.0]), trades_frame(pnl), periods_per_year=365.0)
    assert stats["Trades"] == len(pnl)
    assert stats["Win rate [%]"] == pytest.approx(win_rate, nan_ok=True)
    assert stats["Profit factor"] == pytest.approx(profit_factor, nan_ok=True)


def test_optional_figures_default_to_nan() -> None:
    stats = stats_of([100.0, 101.0])
    assert math.isnan(stats["Exposure time [%]"])
    assert math.isnan(stats["Fees paid"])
    assert stats["Ambiguous fills"] == 0
    assert stats["Ambiguous trades"] == 0


def test_integer_equity_and_extra_trade_columns_are_accepted() -> None:
    equity = pd.Series([100, 110], index=pd.date_range("2024", periods=2, freq="1D", tz="UTC"))
    trades = pd.DataFrame({"symbol": ["BTC/USDT"], "pnl": [3.0]})
    stats = compute_stats(equity, trades, periods_per_year=365.0)
    assert stats["Total return [%]"] == pytest.approx(10.0)
    assert stats["Trades"] == 1


# --- against numpy ----------------------------------------------------------------------------


def reference_max_drawdown_duration(times: list[pd.Timestamp], values: list[float]) -> pd.Timedelta:
    """Walk the curve once, in plain Python.

    A dip of less than one part in 10**12 below the peak is rounding noise, not a spell (the
    rule of docs/stats.md): ``1.0000000000000002`` then ``1.0`` has no drawdown.
    """
    longest = pd.Timedelta(0)
    peak_value, peak_time = values[0], times[0]
    underwater = False
    for time, value in zip(times, values, strict=True):
        if value >= peak_value * (1.0 - 1e-12):
            if underwater:
                longest = max(longest, time - peak_time)
            peak_value, peak_time, underwater = max(peak_value, value), time, False
        else:
            underwater = True
    if underwater:
        longest = max(longest, times[-1] - peak_time)
    return longest


def test_matches_numpy_reference_on_a_random_walk() -> None:
    rng = np.random.default_rng(20240101)
    values = 1000.0 * np.cumprod(1.0 + rng.normal(0.0002, 0.01, size=500))
    ppy = 8760.0
    equity = equity_series(values.tolist(), freq="1h")
    stats = compute_stats(equity, NO_TRADES, periods_per_year=ppy)

    r = np.diff(values) / values[:-1]
    sharpe = r.mean() / r.std(ddof=1) * np.sqrt(ppy)
    sortino = r.mean() / np.sqrt(np.mean(np.clip(r, None, 0.0) ** 2)) * np.sqrt(ppy)
    cagr = np.exp(np.log(values[-1] / values[0]) * ppy / (len(values) - 1)) - 1
    max_dd = np.min(values / np.maximum.accumulate(values)) - 1
    assert stats["Volatility (ann.) [%]"] == pytest.approx(100 * r.std(ddof=1) * np.sqrt(ppy))
    assert stats["Sharpe ratio"] == pytest.approx(sharpe)
    assert stats["Sortino ratio"] == pytest.approx(sortino)
    assert stats["CAGR [%]"] == pytest.approx(100 * cagr)
    assert stats["Max drawdown [%]"] == pytest.approx(100 * max_dd)
    assert stats["Max drawdown duration"] == reference_max_drawdown_duration(
        list(equity.index), values.tolist()
    )
    # and against pandas' own return computation
    pct = equity.pct_change().dropna()
    assert stats["Sharpe ratio"] == pytest.approx(pct.mean() / pct.std() * math.sqrt(ppy))


# --- input validation -------------------------------------------------------------------------


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="1D", tz="UTC")


@pytest.mark.parametrize(
    ("equity", "match"),
    [
        ([100.0, 101.0], "expected a pandas Series"),
        (pd.Series([100.0, 101.0]), "DatetimeIndex"),
        (pd.Series([], index=_index(0), dtype=float), "empty"),
        (pd.Series([100.0, 101.0], index=pd.DatetimeIndex(["2024-01-01", pd.NaT])), "row 1.*NaT"),
        (
            pd.Series([100.0, 101.0, 102.0], index=_index(3)[[0, 2, 1]]),
            "row 2.*strictly increasing",
        ),
        (pd.Series([100.0, 101.0], index=_index(1).repeat(2)), "row 1.*strictly increasing"),
        (pd.Series([100.0, math.nan], index=_index(2)), "row 1.*not a finite number"),
        (pd.Series([100.0, math.inf], index=_index(2)), "row 1.*not a finite number"),
        (pd.Series([100.0, None], index=_index(2), dtype="Float64"), "row 1.*not a finite"),
        (pd.Series(["a", "b"], index=_index(2)), "must be numbers"),
        (pd.Series([0.0, 101.0], index=_index(2)), "row 0.*start equity must be positive"),
        (pd.Series([-5.0, 101.0], index=_index(2)), "start equity must be positive"),
    ],
)
def test_bad_equity_is_a_data_error(equity: pd.Series, match: str) -> None:
    with pytest.raises(DataError, match=match) as info:
        compute_stats(equity, NO_TRADES, periods_per_year=365.0)
    assert info.value.source == "equity"
    with pytest.raises(DataError, match=match):
        drawdown(equity)


@pytest.mark.parametrize(
    ("trades", "match"),
    [
        (pd.DataFrame({"profit": [1.0]}), "'pnl' column"),
        ([1.0, 2.0], "'pnl' column"),
        (pd.DataFrame({"pnl": [1.0, math.nan]}), "row 1.*not a finite number"),
        (pd.DataFrame({"pnl": ["x"]}), "must be numbers"),
    ],
)
def test_bad_trades_are_a_data_error(trades: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataError, match=match) as info:
        compute_stats(equity_series([100.0, 101.0]), trades, periods_per_year=365.0)
    assert info.value.source == "trades"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"periods_per_year": 0.0}, "periods_per_year"),
        ({"periods_per_year": math.inf}, "periods_per_year"),
        ({"periods_per_year": math.nan}, "periods_per_year"),
        ({"exposure": 1.5}, "exposure"),
        ({"exposure": -0.1}, "exposure"),
        ({"exposure": math.nan}, "exposure"),
        ({"fees": math.inf}, "fees"),
        ({"ambiguous_fills": -1}, "ambiguous_fills"),
        ({"ambiguous_trades": -1}, "ambiguous_trades"),
        ({"risk_free": -1.0}, "risk_free"),
        ({"risk_free": math.nan}, "risk_free"),
    ],
)
def test_bad_arguments_are_a_config_error(kwargs: dict[str, float], match: str) -> None:
    arguments: dict[str, float] = {"periods_per_year": 365.0, **kwargs}
    with pytest.raises(ConfigError, match=match):
        compute_stats(equity_series([100.0, 101.0]), NO_TRADES, **arguments)  # type: ignore[arg-type]


# --- format_stats -----------------------------------------------------------------------------


def test_format_stats_aligns_every_row() -> None:
    equity = equity_series([100.0, 110.0, 99.0, 1234567.891])
    stats = compute_stats(
        equity, trades_frame([10.0, -11.0, 22.0]), periods_per_year=365.0, exposure=0.5
    )
    lines = format_stats(stats).splitlines()
    assert [line.split("  ")[0] for line in lines] == LABELS
    assert len({len(line) for line in lines}) == 1  # values right-aligned to one column
    table = dict(
        zip(
            LABELS,
            (line[len(label) :].strip() for line, label in zip(lines, LABELS, strict=True)),
            strict=True,
        )
    )
    assert table["Start"] == "2024-01-01 00:00"
    assert table["Duration"] == "3 days 00:00:00"
    assert table["Bars"] == "4"
    assert table["Start equity"] == "100.00"
    assert table["Final equity"] == "1,234,567.89"
    assert table["Win rate [%]"] == "66.67"  # 2/3 as a percentage, two decimals
    assert table["Profit factor"] == "2.909"  # 32/11, four significant digits
    assert table["Exposure time [%]"] == "50.00"
    assert table["Fees paid"] == "-"  # not given: NaN, written as the report writes it
    assert table["Max drawdown duration"] == "2 days 00:00:00"


def test_format_stats_special_values() -> None:
    # labels padded to 5 + 2 characters, values right-aligned to the widest value (5)
    text = format_stats(
        pd.Series({"a": math.inf, "bb": -math.inf, "c [%]": -0.126, "d": 0.5, "e": True})
    )
    assert text.splitlines() == [
        "a        inf",
        "bb      -inf",
        "c [%]  -0.13",
        "d        0.5",
        "e       True",
    ]


def test_format_stats_empty() -> None:
    assert format_stats(pd.Series([], dtype=object)) == ""


# --- properties -------------------------------------------------------------------------------

returns_lists = st.lists(
    st.floats(min_value=-0.9, max_value=2.0, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=40,
)
start_equities = st.floats(min_value=1.0, max_value=1e6)
ppys = st.sampled_from([1.0, 12.0, 365.0, 8760.0])
property_settings = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)


def curve(start: float, returns: list[float]) -> np.ndarray:
    return start * np.cumprod(np.concatenate(([1.0], 1.0 + np.asarray(returns, dtype=float))))


def away_from_the_zero_threshold(deviation: float) -> bool:
    """Exclude deviations within a factor 1000 of the 1e-12 'counts as zero' cut-off."""
    return not 1e-15 <= deviation <= 1e-9


@property_settings
@given(start=start_equities, returns=returns_lists)
def test_max_drawdown_lies_between_minus_100_and_0(start: float, returns: list[float]) -> None:
    values = curve(start, returns)
    stats = compute_stats(equity_series(values.tolist()), NO_TRADES, periods_per_year=365.0)
    assert -100.0 <= stats["Max drawdown [%]"] <= 0.0
    series = drawdown(equity_series(values.tolist()))
    assert ((series <= 0) & (series >= -1)).all()


@property_settings
@given(
    start=start_equities,
    returns=returns_lists,
    scale=st.floats(min_value=1e-3, max_value=1e3),
    ppy=ppys,
)
def test_scaling_equity_leaves_every_ratio_unchanged(
    start: float, returns: list[float], scale: float, ppy: float
) -> None:
    values = curve(start, returns)
    r = np.diff(values) / values[:-1]
    if r.size >= 2:
        assume(away_from_the_zero_threshold(float(r.std(ddof=1))))
    if r.size >= 1:
        assume(away_from_the_zero_threshold(float(np.sqrt(np.mean(np.minimum(r, 0) ** 2)))))
    base = compute_stats(equity_series(values.tolist()), NO_TRADES, periods_per_year=ppy)
    scaled = compute_stats(
        equity_series((values * scale).tolist()), NO_TRADES, periods_per_year=ppy
    )
    for label in RATIO_LABELS:
        assert scaled[label] == pytest.approx(base[label], rel=1e-6, abs=1e-6, nan_ok=True), label
    assert scaled["Max drawdown duration"] == base["Max drawdown duration"]


@property_settings
@given(start=start_equities, returns=returns_lists, ppy=ppys)
def test_return_ratios_match_numpy(start: float, returns: list[float], ppy: float) -> None:
    values = curve(start, returns)
    stats = compute_stats(equity_series(values.tolist()), NO_TRADES, periods_per_year=ppy)
    r = np.diff(values) / values[:-1]
    root = math.sqrt(ppy)
    if r.size >= 2:
        std = float(r.std(ddof=1))
        assume(away_from_the_zero_threshold(std))
        expected_sharpe = r.mean() / std * root if std > 1e-9 else math.nan
        assert stats["Sharpe ratio"] == pytest.approx(
            expected_sharpe, rel=1e-6, abs=1e-6, nan_ok=True
        )
        assert stats["Volatility (ann.) [%]"] == pytest.approx(100 * std * root, rel=1e-9, abs=1e-9)
    else:
        assert math.isnan(stats["Sharpe ratio"])
    if r.size >= 1:
        downside = float(np.sqrt(np.mean(np.minimum(r, 0) ** 2)))
        assume(away_from_the_zero_threshold(downside))
        expected_sortino = r.mean() / downside * root if downside > 1e-9 else math.nan
        assert stats["Sortino ratio"] == pytest.approx(
            expected_sortino, rel=1e-6, abs=1e-6, nan_ok=True
        )


@property_settings
@given(
    values=st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=30),
    gaps=st.lists(st.integers(min_value=1, max_value=10_000), min_size=30, max_size=30),
)
def test_max_drawdown_duration_matches_a_plain_loop(values: list[float], gaps: list[int]) -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    times = [start + pd.Timedelta(seconds=sum(gaps[:i])) for i in range(len(values))]
    equity = pd.Series(values, index=pd.DatetimeIndex(times))
    stats = compute_stats(equity, NO_TRADES, periods_per_year=365.0)
    assert stats["Max drawdown duration"] == reference_max_drawdown_duration(times, values)


@property_settings
@given(pnl=st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=30))
def test_trade_ratios_match_plain_sums(pnl: list[float]) -> None:
    stats = compute_stats(equity_series([100.0, 101.0]), trades_frame(pnl), periods_per_year=365.0)
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    assert stats["Trades"] == len(pnl)
    if not pnl:
        assert math.isnan(stats["Win rate [%]"])
    else:
        assert stats["Win rate [%]"] == pytest.approx(100 * len(wins) / len(pnl))
    if losses:
        assert stats["Profit factor"] == pytest.approx(sum(wins) / -sum(losses))
    elif wins:
        assert stats["Profit factor"] == math.inf
    else:
        assert math.isnan(stats["Profit factor"])


# --- docstring examples -----------------------------------------------------------------------


def test_docstring_examples_run() -> None:
    result = doctest.testmod(stats_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4
    assert result.failed == 0
