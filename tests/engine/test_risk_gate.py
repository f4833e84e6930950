"""The backtest's risk gate skips a breaker's on_bar only on bars where it would do nothing.

Every run here is compared with its ungated twin: the same breaker class with
``gates_its_bars`` answering False, so the engine calls its ``on_bar`` on every bar. Same
risk events (trips and resumes on the same bars, same reasons), same orders, fills and equity,
on random spot and perpetual paths with funding, flattening, every reset rule, resets by hand
and a limit changed mid-run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from quantkit import BacktestBroker, Engine
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.funding import FundingRates
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.engine.result import Result
from quantkit.engine.risk_gate import close_band
from quantkit.risk.breakers import DailyLossLimit, MaxDrawdownBreaker
from quantkit.risk.policy import RiskChain, RiskContext, RiskPolicy
from quantkit.risk.reset import Breaker
from quantkit.risk.validation import SaneOrder
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from tests.strategy.helpers import HOUR, T0, make_series

SPOT = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
PERP_SYMBOL = "BTC/USDT:USDT"
PERP = Market(
    PERP_SYMBOL,
    "BTC",
    "USDT",
    maker_fee=0.0002,
    taker_fee=0.0004,
    perpetual=PerpetualSpec(
        "USDT",
        brackets=brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005)]),
    ),
)
MINUTES_20 = HOUR // 3


class UngatedDaily(DailyLossLimit):
    """`DailyLossLimit` whose on_bar the engine calls on every bar."""

    @classmethod
    def gates_its_bars(cls) -> bool:
        return False

    @property
    def name(self) -> str:
        return "DailyLossLimit"


class UngatedDrawdown(MaxDrawdownBreaker):
    """`MaxDrawdownBreaker` whose on_bar the engine calls on every bar."""

    @classmethod
    def gates_its_bars(cls) -> bool:
        return False

    @property
    def name(self) -> str:
        return "MaxDrawdownBreaker"


class CountedDaily(DailyLossLimit):
    """`DailyLossLimit` that counts the calls of its on_bar (and keeps its quiet bands)."""

    calls = 0

    @classmethod
    def gates_its_bars(cls) -> bool:
        return True  # counting changes nothing the bands rely on

    @property
    def name(self) -> str:
        return "DailyLossLimit"

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        self.calls += 1
        return super().on_bar(context)


class Actions(Strategy):
    """Scripted by bar: buy or sell a fraction, close, reset the breaker, change its limit."""

    def __init__(
        self, script: dict[int, tuple[str, float]], breaker: Breaker, scale: float = 1.0
    ) -> None:
        super().__init__()
        self.script = script
        self.breaker = breaker
        self.scale = scale  # orders of up to ``scale`` times the equity

    def on_bar(self, bar: SymbolData) -> None:
        action = self.script.get(bar.index)
        if action is None:
            return
        kind, value = action
        amount = round(value * self.scale * self.equity / bar.close[-1], 6) or 0.001
        if kind == "buy":
            self.buy(amount=amount)
        elif kind == "sell":
            self.sell(amount=amount)
        elif kind == "close":
            self.close()
        elif kind == "reset":
            self.breaker.reset()
        elif isinstance(self.breaker, DailyLossLimit):
            self.breaker.max_loss = value
        else:
            assert isinstance(self.breaker, MaxDrawdownBreaker)
            self.breaker.max_drawdown = value


def run(
    closes: Sequence[float],
    script: dict[int, tuple[str, float]],
    breaker: Breaker,
    *,
    perp: dict[str, Any] | None = None,
    chain: bool = False,
    timeframe: int = HOUR,
) -> Result:
    """One backtest of ``script`` over ``closes`` with ``breaker`` (in a chain if asked)."""
    market = PERP if perp is not None else SPOT
    rows = [(c, c * 1.002, c * 0.998, c, 1e6) for c in closes]
    series = make_series(rows, symbol=market.symbol, timeframe=timeframe)
    options: dict[str, Any] = {}
    if perp is not None:
        marks = [(m, m * 1.003, m * 0.997, m, 0.0) for m in perp["marks"]]
        options = {
            "marks": {PERP_SYMBOL: make_series(marks, symbol=PERP_SYMBOL, timeframe=timeframe)},
            "funding": {PERP_SYMBOL: FundingRates.constant(perp["rate"], perp["every"])},
            "margin_mode": perp["mode"],
            "leverage": perp["leverage"],
        }
    broker = BacktestBroker(cash=10_000.0, markets={market.symbol: market}, **options)
    risk: RiskPolicy = RiskChain([SaneOrder(), breaker]) if chain else breaker
    strategy = Actions(script, breaker, perp["leverage"] if perp is not None else 1.0)
    return Engine(feed=SeriesFeed([series]), strategy=strategy, broker=broker, risk=risk).run()


def assert_same_run(gated: Result, ungated: Result) -> None:
    """Same risk events, orders, fills and equity, to the bit."""
    pd.testing.assert_frame_equal(gated.risk_events, ungated.risk_events)
    pd.testing.assert_frame_equal(gated.orders, ungated.orders)
    pd.testing.assert_frame_equal(gated.fills, ungated.fills)
    pd.testing.assert_series_equal(gated.equity, ungated.equity)


def count_outcomes(result: Result) -> None:
    """Hypothesis statistics: how many runs tripped, resumed, were liquidated."""
    actions = result.risk_events["action"].tolist()
    event(f"trips: {min(actions.count('halt'), 3)}, resumes: {min(actions.count('resume'), 3)}")
    event(f"liquidations: {min(int(result.stats.get('Liquidations', 0)), 1)}")


def test_a_loss_reached_inside_a_quiet_stretch_trips_on_that_very_bar() -> None:
    # 0.999 BTC bought at bar 1's open (10,000; fee 9.99; cash left 0.01); the day starts at
    # 10,000 (bar 0's equity); from bar 2 the close sinks by 10 a bar, so bar k's loss is
    # 10,000 - 0.01 - 0.999 * (10,000 - 10 * (k - 1)) = 9.99 * k, past 100 at k = 11.
    closes = [10_000.0, 10_000.0] + [10_000.0 - 10.0 * k for k in range(1, 30)]
    breaker = CountedDaily(100.0, relative=False)
    result = run(closes, {0: ("buy", 0.999)}, breaker)
    halts = result.risk_events[result.risk_events["action"] == "halt"]
    assert list(halts["time"]) == [pd.Timestamp(T0 + 12 * HOUR, unit="ns", tz="UTC")]
    assert "lost 109.89" in halts["reason"].iloc[0]
    # called on bar 0, bar 1 (the fill), bar 11 (its close leaves the band), the halted bars
    # 12-22, the new day's bars 23 and 24 and the run's last bar 30: bars 2-10 and 25-29 skip
    assert breaker.calls == 3 + 11 + 2 + 1
    assert_same_run(result, run(closes, {0: ("buy", 0.999)}, UngatedDaily(100.0, relative=False)))


def test_quiet_bars_are_skipped_while_the_loss_stays_within_the_limit() -> None:
    closes = [10_000.0 + 5.0 * np.sin(k / 3.0) for k in range(48)]
    breaker = CountedDaily(500.0, relative=False)
    result = run(closes, {0: ("buy", 0.5)}, breaker)
    assert result.risk_events["action"].tolist() == ["approve"]  # the order, nothing else
    # bar 0 (the first sample), bar 1 (the fill), bar 22 (the last bar of 2024-01-01: it
    # samples the next day's start), bars 23 and 24 (the new day's first two), bar 46 (the
    # last one closing before 2024-01-03) and bar 47
    assert breaker.calls == 7
    assert_same_run(result, run(closes, {0: ("buy", 0.5)}, UngatedDaily(500.0, relative=False)))


def test_a_funding_payment_trips_the_breaker_on_its_bar() -> None:
    # 10 BTC long at 100 (fee 0.4), marks and closes flat; funding 1 % every 8 h charges 10 at
    # the bars opening at 08:00 and 16:00: loss 10.4, then 20.4 > 15 at bar 16 (closes 17:00)
    closes = [100.0] * 24
    perp = {"marks": closes, "rate": 0.01, "every": 8 * HOUR, "mode": "cross", "leverage": 1.0}
    breaker = CountedDaily(15.0, relative=False)
    result = run(closes, {0: ("buy", 0.1)}, breaker, perp=perp)
    halts = result.risk_events[result.risk_events["action"] == "halt"]
    assert list(halts["time"]) == [pd.Timestamp(T0 + 17 * HOUR, unit="ns", tz="UTC")]
    assert "lost 20.40" in halts["reason"].iloc[0]
    # bars 0, 1, 8 (funding), 16 (funding, the trip), halted 17-22, 23 (resumes next day)
    assert breaker.calls == 4 + 6 + 1
    ungated = run(closes, {0: ("buy", 0.1)}, UngatedDaily(15.0, relative=False), perp=perp)
    assert_same_run(result, ungated)


def test_a_new_peak_moves_the_drawdown_band_up() -> None:
    # peak 10,000 (bar 0), then 10,989.01 at bar 2 (0.999 BTC at 11,000 and 0.01 cash); bar 4
    # falls to 9,840.16: 10.45 % below the new peak (inside the first peak's band)
    closes = [10_000.0, 10_000.0, 11_000.0, 11_000.0, 9_850.0, 9_850.0]
    result = run(closes, {0: ("buy", 0.999)}, MaxDrawdownBreaker(0.1))
    halts = result.risk_events[result.risk_events["action"] == "halt"]
    assert list(halts["time"]) == [pd.Timestamp(T0 + 5 * HOUR, unit="ns", tz="UTC")]
    assert "equity 9,840.16 is 10.45% below its peak 10,989.01" in halts["reason"].iloc[0]
    assert_same_run(result, run(closes, {0: ("buy", 0.999)}, UngatedDrawdown(0.1)))


@given(
    cash=st.floats(-1e9, 1e9),
    amount=st.floats(-1e4, 1e4).filter(lambda a: abs(a) > 1e-9),
    low=st.floats(-1e9, 1e9),
    width=st.floats(0.0, 1e6),
    closes=st.lists(st.floats(0.0, 1e7), min_size=1, max_size=20),
)
def test_closes_inside_the_band_put_the_equity_inside_the_band(
    cash: float, amount: float, low: float, width: float, closes: list[float]
) -> None:
    high = low + width
    bottom, top = close_band(cash, amount, low, high)
    for close in [bottom, top, *closes]:
        if bottom <= close <= top:
            assert low <= cash + amount * close <= high


def test_a_reset_inside_a_quiet_stretch_restarts_the_day_on_the_next_bar() -> None:
    # quiet at a loss of 59.94 (close 9,950); reset at bar 4: the day restarts from bar 5's
    # equity 9,940.06, so bar 7 (close 9,800, equity 9,790.21) has lost 149.85 > 120. Had bar
    # 5 been skipped, the restart would sample bar 6 (9,860.14) and never trip.
    closes = [10_000.0, 10_000.0] + [9_950.0] * 4 + [9_870.0] + [9_800.0] * 3
    script = {0: ("buy", 0.999), 4: ("reset", 0.0)}
    breaker = CountedDaily(120.0, relative=False, reset="manual")
    result = run(closes, script, breaker)
    halts = result.risk_events[result.risk_events["action"] == "halt"]
    assert list(halts["time"]) == [pd.Timestamp(T0 + 8 * HOUR, unit="ns", tz="UTC")]
    assert "lost 149.85" in halts["reason"].iloc[0]
    ungated = run(closes, script, UngatedDaily(120.0, relative=False, reset="manual"))
    assert_same_run(result, ungated)


def test_a_resume_by_hand_and_a_new_limit_are_seen_on_the_next_bar() -> None:
    # trips at bar 2 (loss 209.79 > 150); reset by hand at bar 9, resumed at bar 10 from its
    # equity 9,590.41; the limit cut to 50 at bar 12 trips bar 13 (loss 99.90)
    closes = [10_000.0, 10_000.0] + [9_800.0] * 6 + [9_600.0] * 5 + [9_500.0] * 5
    script = {0: ("buy", 0.999), 9: ("reset", 0.0), 12: ("limit", 50.0)}
    result = run(closes, script, DailyLossLimit(150.0, relative=False, reset="manual"))
    events = result.risk_events
    assert events["action"].tolist() == ["approve", "halt", "resume", "halt"]
    hours = [(t.value - T0) // HOUR for t in events["time"]]
    assert hours == [1, 3, 11, 14]  # close times of bars 0, 2, 10 and 13
    ungated = run(closes, script, UngatedDaily(150.0, relative=False, reset="manual"))
    assert_same_run(result, ungated)


KINDS = ("buy", "sell", "close", "reset", "limit")


def random_path(seed: int, bars: int, volatility: float, start: float) -> list[float]:
    """A seeded random walk of closes."""
    steps = np.random.default_rng(seed).normal(0.0, volatility, bars)
    return list(start * np.exp(np.cumsum(steps)))


def random_script(seed: int, bars: int, busy: float, shorts: bool) -> dict[int, tuple[str, float]]:
    """Seeded actions on about ``busy`` of the bars: mostly trades, some resets and new limits."""
    rng = np.random.default_rng(seed + 1)
    weights = np.array([4.0, 3.0 if shorts else 0.0, 2.0, 1.0, 1.0])
    script = {}
    for k in np.flatnonzero(rng.random(bars) < busy).tolist():
        kind = str(rng.choice(KINDS, p=weights / weights.sum()))
        value = float(rng.uniform(0.05, 0.9) if kind in ("buy", "sell") else rng.uniform(0.01, 0.2))
        script[k] = (kind, value)
    return script


_paths = st.tuples(
    st.integers(0, 2**32 - 1),
    st.integers(30, 160),
    st.sampled_from([0.002, 0.01, 0.03]),
    st.sampled_from([0.05, 0.15, 0.3]),
)
_reset = st.sampled_from([{}, {"reset": "manual"}, {"reset": "next_day"}, {"cooldown": 3}])


@st.composite
def _breakers(draw: st.DrawFn) -> tuple[Breaker, Breaker]:
    """A breaker and its ungated twin, with the same drawn settings."""
    options = dict(draw(_reset), flatten=draw(st.booleans()))
    if draw(st.booleans()):
        share = draw(st.floats(0.005, 0.08))
        relative = draw(st.booleans())
        limit = share if relative else share * 10_000.0
        return (
            DailyLossLimit(limit, relative=relative, **options),
            UngatedDaily(limit, relative=relative, **options),
        )
    share = draw(st.floats(0.01, 0.15))
    return MaxDrawdownBreaker(share, **options), UngatedDrawdown(share, **options)


def _limits(script: dict[int, tuple[str, float]], daily: bool) -> dict[int, tuple[str, float]]:
    """The script with absolute loss limits where the breaker takes amounts."""
    return {
        k: (kind, v * 10_000.0 if kind == "limit" and daily else v)
        for k, (kind, v) in script.items()
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=_paths,
    pair=_breakers(),
    chain=st.booleans(),
    timeframe=st.sampled_from([MINUTES_20, HOUR]),
)
def test_gated_and_ungated_spot_runs_agree(
    path: tuple[int, int, float, float],
    pair: tuple[Breaker, Breaker],
    chain: bool,
    timeframe: int,
) -> None:
    seed, bars, volatility, busy = path
    closes = random_path(seed, bars, volatility, 10_000.0)
    gated, ungated = pair
    daily = isinstance(gated, DailyLossLimit) and not gated.relative
    script = _limits(random_script(seed, bars, busy, shorts=False), daily)
    result = run(closes, script, gated, chain=chain, timeframe=timeframe)
    count_outcomes(result)
    assert_same_run(result, run(closes, script, ungated, chain=chain, timeframe=timeframe))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=_paths,
    basis=st.sampled_from([0.0, 0.003, 0.01]),
    pair=_breakers(),
    rate=st.floats(-0.003, 0.003),
    every=st.sampled_from([HOUR, 4 * HOUR, 8 * HOUR]),
    mode=st.sampled_from(["isolated", "cross"]),
    leverage=st.sampled_from([1.0, 5.0, 25.0, 50.0]),
)
def test_gated_and_ungated_perpetual_runs_agree(
    path: tuple[int, int, float, float],
    basis: float,
    pair: tuple[Breaker, Breaker],
    rate: float,
    every: int,
    mode: str,
    leverage: float,
) -> None:
    seed, bars, volatility, busy = path
    closes = random_path(seed, bars, volatility, 100.0)
    spread = np.random.default_rng(seed + 2).uniform(-basis, basis, bars)
    marks = [c * (1.0 + b) for c, b in zip(closes, spread.tolist(), strict=True)]
    perp = {"marks": marks, "rate": rate, "every": every, "mode": mode, "leverage": leverage}
    gated, ungated = pair
    daily = isinstance(gated, DailyLossLimit) and not gated.relative
    script = _limits(random_script(seed, bars, busy, shorts=True), daily)
    result = run(closes, script, gated, perp=perp, timeframe=HOUR)
    count_outcomes(result)
    assert_same_run(result, run(closes, script, ungated, perp=perp, timeframe=HOUR))
