"""optimize on the fast path (engine=) and the overfitting diagnostics of every sweep."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit import BacktestBroker, Market, SmaCross, sample_feed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, LookAheadError
from quantkit.optimize import OptimizationResult, optimize, walk_forward
from quantkit.optimize.evaluate import (
    OBJECTIVE,
    RETURNS,
    FastEvaluator,
    bar_returns,
    settings_broker,
)
from quantkit.optimize.overfitting import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratios,
)
from quantkit.optimize.report import cscv_splits
from quantkit.risk import MaxPositionSize
from quantkit.vector import FastSettings, SignalData, Signals
from quantkit.vector.strategy import SignalStrategy, SmaCrossSignals

FEED = sample_feed(end="2021-01-14")  # 312 hourly bars
DATA = dict(FEED.load())
SPACE = {"fast": [5, 10, 15], "slow": [20, 30]}
PAIR = {"fast": [5, 10], "slow": [20]}


class CoinFlip(SignalStrategy):
    """Pure noise: ``seed`` only picks a random entry/exit pattern (no skill to find)."""

    seed: int = 0

    def signals(self, data: SignalData) -> Signals:
        draws = np.random.default_rng(self.seed).random(len(data))  # a prefix never changes
        return Signals(entries=draws < 0.1, exits=draws > 0.9)


class Peeks(SignalStrategy):
    """Looks ahead with ``fast == 2``: its entries then depend on the last bar."""

    fast: int = 2

    def signals(self, data: SignalData) -> Signals:
        late = bool(data.close[-1] > data.close[0]) if self.fast == 2 else False
        entries = np.full(len(data), late)
        return Signals(entries=entries, exits=~entries)


class Broken(SignalStrategy):
    """Raises an ordinary error for ``fast == 2``."""

    fast: int = 2

    def signals(self, data: SignalData) -> Signals:
        if self.fast == 2:
            raise RuntimeError("boom")
        flags = np.zeros(len(data), dtype=bool)
        return Signals(entries=flags, exits=flags)


class ShortReturns:
    """A custom evaluator whose returns are too short (or missing) for the diagnostics."""

    def __init__(self, bars: int | None, varying: bool = False) -> None:
        self.bars = bars
        self.varying = varying

    def __call__(self, data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {OBJECTIVE: float(params["fast"])}
        if self.bars is not None:
            size = self.bars + (int(params["fast"]) if self.varying else 0)
            row[RETURNS] = np.linspace(-0.01, 0.01, size) * params["fast"]
        return row


def constant_returns(data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> dict[str, Any]:
    """A custom evaluator whose returns never vary: an infinite Sharpe ratio."""
    return {OBJECTIVE: float(params["fast"]), RETURNS: np.full(40, 0.001 * params["fast"])}


def assert_frames_match(fast: pd.DataFrame, event: pd.DataFrame) -> None:
    assert list(fast.columns) == list(event.columns)
    for column in fast.columns:
        left, right = fast[column], event[column]
        if left.dtype.kind in "fi":
            np.testing.assert_allclose(left.to_numpy(float), right.to_numpy(float), rtol=1e-9)
        else:
            assert left.tolist() == right.tolist(), column


@pytest.fixture(scope="module")
def fast_sweep() -> OptimizationResult:
    return optimize(SmaCrossSignals, FEED, SPACE, executor="serial", engine="fast")


# -- engine= -----------------------------------------------------------------------------------


def test_fast_and_event_engines_give_the_same_frame(fast_sweep: OptimizationResult) -> None:
    event = optimize(SmaCrossSignals, FEED, SPACE, executor="serial", engine="event")
    assert (fast_sweep.engine, event.engine) == ("fast", "event")
    assert_frames_match(fast_sweep.frame, event.frame)
    assert fast_sweep.best_params == event.best_params
    assert fast_sweep.returns is not None and event.returns is not None
    np.testing.assert_allclose(fast_sweep.returns, event.returns, rtol=1e-6, atol=1e-9)


def test_auto_picks_the_fast_path_for_a_signal_strategy() -> None:
    auto = optimize(SmaCrossSignals, FEED, SPACE, executor="serial")
    assert auto.engine == "fast"
    assert optimize(SmaCross, FEED, SPACE, executor="serial").engine == "event"


def test_best_result_reruns_the_best_through_the_engine(fast_sweep: OptimizationResult) -> None:
    best = fast_sweep.best_result()
    assert best.stats["Sharpe ratio"] == pytest.approx(fast_sweep.best_value, rel=1e-9)
    assert len(best.orders) > 0  # the Engine's full detail


def test_fast_settings_drive_the_sweep_and_the_rerun() -> None:
    market = Market("BTC/USDT", "BTC", "USDT", taker_fee=0.002, maker_fee=0.001)
    settings = FastSettings(cash=10_000.0, market=market, slippage_bps=5.0)
    found = optimize(
        SmaCrossSignals, FEED, SPACE, executor="serial", engine="fast", fast_settings=settings
    )
    event = optimize(
        SmaCrossSignals, FEED, SPACE, executor="serial", engine="event", fast_settings=settings
    )
    assert_frames_match(found.frame, event.frame)
    rerun = found.best_result()
    assert rerun.equity.iloc[0] == pytest.approx(10_000.0)
    assert rerun.stats["Total return [%]"] == pytest.approx(
        found.frame["Total return [%]"].iloc[0], rel=1e-9
    )


def test_auto_falls_back_to_the_engine_when_the_fast_path_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    two = sample_feed(["BTC/USDT", "ETH/USDT"], end="2021-01-05")
    with caplog.at_level(logging.INFO):
        found = optimize(SmaCrossSignals, two, {"fast": [5], "slow": [20, 30]}, executor="serial")
    assert found.engine == "event"
    assert len(found.frame) == 2 and found.failed == 0
    with pytest.raises(ConfigError, match=r"engine='fast' cannot run this sweep.*symbols"):
        optimize(SmaCrossSignals, two, {"fast": [5], "slow": [20]}, engine="fast")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"risk": MaxPositionSize(1.0)}, "risk policies"),
        ({"broker_factory": BacktestBroker}, "broker_factory"),
        ({"objective": lambda result: 1.0}, "callable objective"),
    ],
)
def test_engine_fast_refuses_what_needs_the_engine(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        optimize(SmaCrossSignals, FEED, SPACE, executor="serial", engine="fast", **kwargs)
    auto = optimize(SmaCrossSignals, FEED, {"fast": [5], "slow": [20]}, executor="serial", **kwargs)
    assert auto.engine == "event"


def test_bad_engine_arguments_raise() -> None:
    with pytest.raises(ConfigError, match="needs a SignalStrategy"):
        optimize(SmaCross, FEED, SPACE, engine="fast")
    with pytest.raises(ConfigError, match="engine must be"):
        optimize(SmaCrossSignals, FEED, SPACE, engine="gpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fast_settings must be a FastSettings"):
        optimize(SmaCrossSignals, FEED, SPACE, fast_settings={"cash": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not both"):
        optimize(
            SmaCrossSignals,
            FEED,
            SPACE,
            fast_settings=FastSettings(),
            broker_factory=BacktestBroker,
        )


def test_probe_errors_fail_their_combination_without_leaving_the_fast_path() -> None:
    peeking = optimize(Peeks, FEED, {"fast": [2, 3]}, executor="serial")
    assert peeking.engine == "fast"  # LookAheadError is the strategy's fault, not the engine's
    assert peeking.failed == 1 and "LookAheadError" in peeking.errors[0][1]
    broken = optimize(Broken, FEED, {"fast": [2, 3]}, executor="serial", objective="Trades")
    assert broken.engine == "fast" and broken.failed == 1
    assert broken.errors[0] == ({"fast": 2}, "RuntimeError: boom")


def test_optuna_sweeps_run_on_the_fast_path() -> None:
    found = optimize(
        SmaCrossSignals, FEED, SPACE, method="optuna", trials=8, seed=3, executor="serial",
        constraint=lambda p: p["fast"] != 5,
    )  # fmt: skip
    assert found.engine == "fast" and len(found.frame) + found.pruned == 8
    # No combination the probe can try: the search itself says why.
    with pytest.raises(ConfigError, match="pruned all"):
        optimize(
            SmaCrossSignals, FEED, SPACE, method="optuna", trials=2, constraint=lambda p: False
        )
    with pytest.raises(ConfigError, match="fast"):
        optimize(SmaCrossSignals, FEED, {"fast": [30], "slow": [20]}, method="optuna", trials=2)


def test_fast_evaluator_rows_and_errors() -> None:
    evaluate = FastEvaluator(SmaCrossSignals, "Trades", warmup=50, keep_returns=False)
    assert evaluate.settings.warmup == 50
    row = evaluate(DATA, {"fast": 5, "slow": 20})
    assert RETURNS not in row and row[OBJECTIVE] == row["Trades"]
    by_function = FastEvaluator(SmaCrossSignals, lambda result: float(len(result.fills)))
    assert by_function(DATA, {"fast": 5, "slow": 20})[OBJECTIVE] > 0
    with pytest.raises(ConfigError, match="SignalStrategy subclass"):
        FastEvaluator(SmaCross)
    with pytest.raises(ConfigError, match="FastSettings"):
        FastEvaluator(SmaCrossSignals, settings="cheap")  # type: ignore[arg-type]
    with pytest.raises(LookAheadError):
        FastEvaluator(Peeks)(DATA, {"fast": 2})


def test_settings_broker_matches_the_settings() -> None:
    market = Market("ETH/BTC", "ETH", "BTC", taker_fee=0.001, maker_fee=0.001)
    broker = FastEvaluator(SmaCrossSignals, settings=FastSettings(cash=5.0, market=market))
    built = broker.broker_factory()
    assert built.portfolio.balance == 5.0
    assert settings_broker(FastSettings()).portfolio.balance == 100_000.0


# -- overfitting diagnostics -------------------------------------------------------------------


def test_bar_returns_is_compact_and_finite() -> None:
    returns = bar_returns(pd.Series([0.0, 1.0, 2.0, np.nan]))
    assert returns.dtype == np.float32
    assert returns.tolist() == [0.0, 0.0, 1.0, 0.0]  # 1/0 and NaN become 0
    assert bar_returns(pd.Series([5.0])).tolist() == [0.0]


def test_cscv_splits_follow_the_number_of_bars() -> None:
    assert [cscv_splits(n) for n in (1000, 32, 31, 15, 5, 4, 3)] == [16, 16, 14, 6, 2, 2, None]


def test_diagnostics_equal_calling_the_functions_on_the_matrix(
    fast_sweep: OptimizationResult,
) -> None:
    matrix = fast_sweep.returns
    assert matrix is not None and matrix.dtype == np.float32
    assert matrix.shape == (312, int(fast_sweep.frame["objective"].notna().sum()))
    found = fast_sweep.overfitting
    assert found is not None and fast_sweep.overfitting_note == ""
    assert fast_sweep.overfitting is found  # cached
    wide = matrix.astype(np.float64)
    direct_pbo = probability_of_backtest_overfitting(wide, n_splits=16)
    assert found.pbo.pbo == direct_pbo.pbo
    np.testing.assert_array_equal(found.pbo.logits, direct_pbo.logits)
    # Column 0 is the best row; with a Sharpe objective it is also the best per-bar Sharpe.
    assert int(np.argmax(sharpe_ratios(wide))) == 0
    assert found.dsr.dsr == pytest.approx(deflated_sharpe_ratio(wide).dsr, rel=1e-12)
    assert (found.n_trials, found.n_obs, found.n_splits) == (matrix.shape[1], 312, 16)
    frame = fast_sweep.returns_frame()
    assert frame.shape == matrix.shape
    text = repr(fast_sweep)
    assert "overfitting: deflated Sharpe ratio" in text and "PBO" in text
    assert "deflated Sharpe ratio" in fast_sweep._repr_html_()


def test_pure_noise_parameters_overfit() -> None:
    found = optimize(CoinFlip, FEED, {"seed": list(range(24))}, executor="serial")
    assert found.engine == "fast"
    diagnostics = found.overfitting
    assert diagnostics is not None
    assert diagnostics.pbo.pbo > 0.3  # the in-sample winner is a coin flip out of sample
    assert diagnostics.dsr.dsr < 0.5  # its Sharpe ratio is what luck gives the best of 24


def test_diagnostics_say_why_they_are_missing() -> None:
    skipped = optimize(SmaCrossSignals, FEED, SPACE, executor="serial", keep_returns=False)
    assert skipped.returns is None and skipped.overfitting is None
    assert "keep_returns=False" in skipped.overfitting_note
    assert "n/a" in repr(skipped)
    with pytest.raises(ConfigError, match="no returns"):
        skipped.returns_frame()
    single = optimize(SmaCrossSignals, FEED, {"fast": [5], "slow": [20]}, executor="serial")
    assert single.overfitting is None and "need 2" in single.overfitting_note
    space = {"fast": [2, 3, 4]}
    short = optimize(Peeks, FEED, space, executor="serial", evaluator=ShortReturns(3))
    assert short.engine == "custom"
    assert short.overfitting is None and "CSCV needs at least 4" in short.overfitting_note
    uneven = optimize(Peeks, FEED, space, executor="serial", evaluator=ShortReturns(40, True))
    assert uneven.overfitting is None and "differ in length" in uneven.overfitting_note
    constant = optimize(Peeks, FEED, space, executor="serial", evaluator=ShortReturns(40))
    assert constant.overfitting is not None  # linear ramps: finite Sharpe ratios
    flat = optimize(Peeks, FEED, space, executor="serial", evaluator=constant_returns)
    assert flat.overfitting is None and "infinite" in flat.overfitting_note.lower()
    none = optimize(Peeks, FEED, space, executor="serial", evaluator=ShortReturns(None))
    assert none.overfitting is None and "not kept" in none.overfitting_note
    no_finite = optimize(SmaCrossSignals, FEED, {"fast": [5], "slow": [300]}, executor="serial")
    assert math.isnan(no_finite.best_value)
    assert "no combination has a finite objective" in no_finite.overfitting_note


def test_walk_forward_searches_run_on_the_fast_path_with_diagnostics() -> None:
    checked = walk_forward(
        SmaCrossSignals, FEED, PAIR, train=150, test=70, executor="serial", engine="fast"
    )
    assert {found.engine for found in checked.optimizations} == {"fast"}
    assert all(found.overfitting is not None for found in checked.optimizations)
    event = walk_forward(
        SmaCrossSignals, FEED, PAIR, train=150, test=70, executor="serial", engine="event",
        keep_returns=False,
    )  # fmt: skip
    assert event.chosen_params == checked.chosen_params
    assert event.optimizations[0].overfitting is None
