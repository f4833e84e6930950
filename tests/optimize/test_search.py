from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit import BacktestBroker, Engine, SeriesFeed, SmaCross, sample_feed
from quantkit.engine.result import Result
from quantkit.errors import ConfigError
from quantkit.optimize import (
    Evaluator,
    EventEvaluator,
    FloatRange,
    IntRange,
    OptimizationResult,
    optimize,
    show_progress,
)
from quantkit.optimize.evaluate import objective_value, stat_names
from quantkit.optimize.executor import PROGRESS_MIN_COMBINATIONS, progress_bar

FEED = sample_feed(end="2021-01-14")  # 312 hourly bars
SPACE = {"fast": [5, 10, 15], "slow": [20, 30]}


def fewer_than_two(result: Result) -> float:
    """A callable objective: minus the number of trades (module level: it is pickled)."""
    return -float(result.stats["Trades"])


@pytest.fixture(scope="module")
def serial() -> OptimizationResult:
    return optimize(SmaCross, FEED, SPACE, executor="serial")


def test_grid_rows_equal_running_each_combination_by_hand(serial: OptimizationResult) -> None:
    assert len(serial.frame) == 6
    names = list(stat_names())
    for _, row in serial.frame.iterrows():
        params = {"fast": int(row["fast"]), "slow": int(row["slow"])}
        by_hand = Engine(feed=FEED, strategy=SmaCross(**params), broker=BacktestBroker()).run()
        for name in names:
            mine, theirs = row[name], by_hand.stats[name]
            if isinstance(theirs, float) and math.isnan(theirs):
                assert math.isnan(mine), name
            else:
                assert mine == theirs, (params, name)
        assert row["objective"] == by_hand.stats["Sharpe ratio"]


def test_frame_is_sorted_best_first(serial: OptimizationResult) -> None:
    values = serial.frame["objective"].to_numpy()
    assert list(values) == sorted(values, reverse=True)
    best = serial.frame.iloc[0]
    assert serial.best_params == {"fast": best["fast"], "slow": best["slow"]}
    assert type(serial.best_params["fast"]) is int
    assert serial.best_value == values[0]
    assert serial.parameters == ("fast", "slow")
    assert (serial.pruned, serial.failed, serial.non_finite) == (0, 0, 0)


def test_minimize_reverses_the_order() -> None:
    found = optimize(SmaCross, FEED, SPACE, maximize=False, executor="serial")
    assert found.best_value == found.frame["objective"].min()


def test_best_result_reruns_the_best_combination(serial: OptimizationResult) -> None:
    result = serial.best_result()
    assert result.stats["Sharpe ratio"] == serial.best_value
    assert result.strategy == repr(SmaCross(**serial.best_params))


def test_process_pool_results_equal_serial_results(serial: OptimizationResult) -> None:
    pooled = optimize(SmaCross, FEED, SPACE)  # executor=None: a local process pool
    pd.testing.assert_frame_equal(pooled.frame, serial.frame)


def test_any_executor_gives_the_same_results(serial: OptimizationResult) -> None:
    with ThreadPoolExecutor(2) as pool:
        threaded = optimize(SmaCross, FEED, SPACE, executor=pool)
    pd.testing.assert_frame_equal(threaded.frame, serial.frame)


def test_constraint_pruned_combinations_never_run() -> None:
    seen: list[dict[str, Any]] = []

    def spy(data: Any, params: Any) -> dict[str, Any]:
        seen.append(dict(params))
        return {"objective": float(params["fast"])}

    found = optimize(
        SmaCross,
        FEED,
        {"fast": [5, 10, 20, 30], "slow": [10, 20, 30]},
        constraint=lambda p: p["fast"] < p["slow"],
        executor="serial",
        evaluator=spy,
    )
    assert found.pruned == 12 - 6
    assert len(seen) == len(found.frame) == 6
    assert all(p["fast"] < p["slow"] for p in seen)
    assert found.best_params == {"fast": 20, "slow": 30}


def test_everything_pruned_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="pruned all 6"):
        optimize(SmaCross, FEED, SPACE, constraint=lambda p: False, executor="serial")


def test_random_search_is_reproducible_with_a_seed() -> None:
    space = {"fast": IntRange(3, 12), "slow": IntRange(20, 40, step=5)}
    kwargs: dict[str, Any] = {"method": "random", "trials": 5, "executor": "serial"}
    first = optimize(SmaCross, FEED, space, seed=3, **kwargs)
    again = optimize(SmaCross, FEED, space, seed=3, **kwargs)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert first.method == "random"
    assert len(first.frame) <= 5


def test_optuna_search_is_reproducible_with_a_seed() -> None:
    space = {"fast": IntRange(3, 12), "slow": IntRange(20, 40, step=5)}
    kwargs: dict[str, Any] = {"method": "optuna", "trials": 10, "executor": "serial"}
    first = optimize(SmaCross, FEED, space, seed=11, **kwargs)
    again = optimize(SmaCross, FEED, space, seed=11, **kwargs)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert len(first.frame) == 10
    assert first.best_value == first.frame["objective"].max()


def test_optuna_prunes_with_the_constraint_and_handles_floats() -> None:
    space = {"fast": IntRange(3, 30), "slow": [20, 25], "fraction": FloatRange(0.2, 1.0)}
    found = optimize(
        SmaCross,
        FEED,
        space,
        method="optuna",
        trials=12,
        seed=2,
        constraint=lambda p: p["fast"] < p["slow"],
        executor="serial",
    )
    assert found.pruned + len(found.frame) == 12
    assert found.pruned > 0
    assert (found.frame["fast"] < found.frame["slow"]).all()
    assert found.frame["fraction"].between(0.2, 1.0).all()


def test_optuna_everything_pruned_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="pruned all 3 trials"):
        optimize(
            SmaCross, FEED, {"fast": IntRange(3, 9)}, method="optuna", trials=3,
            constraint=lambda p: False, executor="serial",
        )  # fmt: skip


def test_callable_objective_and_non_finite_values_rank_last() -> None:
    found = optimize(SmaCross, FEED, SPACE, objective=fewer_than_two, executor="serial")
    assert found.objective == "fewer_than_two"
    assert (found.frame["objective"] == -found.frame["Trades"]).all()

    def nan_for_fast_five(data: Any, params: Any) -> dict[str, Any]:
        return {"objective": math.nan if params["fast"] == 5 else -float(params["slow"])}

    odd = optimize(SmaCross, FEED, SPACE, executor="serial", evaluator=nan_for_fast_five)
    assert odd.non_finite == 2
    assert odd.frame["objective"].iloc[-2:].isna().all()
    assert odd.best_value == -20.0


def test_no_finite_objective_keeps_the_first_evaluated() -> None:
    def nothing(data: Any, params: Any) -> dict[str, Any]:
        return {"objective": math.nan}

    found = optimize(SmaCross, FEED, SPACE, executor="serial", evaluator=nothing)
    assert found.best_params == {"fast": 5, "slow": 20}
    assert math.isnan(found.best_value)
    assert found.non_finite == 6


def test_failed_combinations_are_counted_not_ranked() -> None:
    def boom_on_ten(data: Any, params: Any) -> dict[str, Any]:
        if params["fast"] == 10:
            raise RuntimeError("boom")
        return {"objective": 1.0}

    found = optimize(SmaCross, FEED, SPACE, executor="serial", evaluator=boom_on_ten)
    assert found.failed == 2
    assert len(found.frame) == 4
    assert found.errors[0] == ({"fast": 10, "slow": 20}, "RuntimeError: boom")

    def always(data: Any, params: Any) -> dict[str, Any]:
        raise RuntimeError("nope")

    with pytest.raises(ConfigError, match=r"all 6 combinations failed.*nope"):
        optimize(SmaCross, FEED, SPACE, executor="serial", evaluator=always)


def test_a_custom_evaluator_plugs_in() -> None:
    class Doubled:
        def __call__(self, data: Any, params: Any) -> dict[str, Any]:
            return {"Bars": len(next(iter(data.values()))), "objective": 2.0 * params["fast"]}

    assert isinstance(Doubled(), Evaluator)
    found = optimize(SmaCross, FEED, SPACE, executor="serial", evaluator=Doubled())
    assert found.best_value == 30.0
    assert (found.frame["Bars"] == 312).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "Sharp ratio"}, r"not a statistic.*did you mean 'Sharpe ratio'"),
        ({"objective": 3}, "not a statistic"),
        ({"method": "bayes"}, "method must be"),
        ({"trials": 0}, "trials must be"),
        ({"trials": True}, "trials must be"),
        ({"constraint": "fast < slow"}, "constraint must be callable"),
        ({"executor": "threads"}, "executor must be"),
        ({"executor": 4}, "executor must be"),
    ],
)
def test_bad_arguments_are_one_clear_config_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        optimize(SmaCross, FEED, SPACE, **kwargs)


def test_bad_feeds_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="feed must be a DataFeed"):
        optimize(SmaCross, [1, 2], SPACE)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no symbols"):
        optimize(SmaCross, {}, SPACE, executor="serial")


def test_a_mapping_of_bars_is_accepted(serial: OptimizationResult) -> None:
    found = optimize(SmaCross, FEED.load(), SPACE, executor="serial")
    pd.testing.assert_frame_equal(found.frame, serial.frame)


def test_an_unpicklable_evaluator_is_a_config_error() -> None:
    class Holds:
        def __init__(self) -> None:
            self.lock = __import__("threading").Lock()

        def __call__(self, data: Any, params: Any) -> dict[str, Any]:
            return {"objective": 0.0}

    with pytest.raises(ConfigError, match="cannot send the evaluator"):
        optimize(SmaCross, FEED, SPACE, evaluator=Holds())


def test_event_evaluator_validates_and_uses_the_broker_factory() -> None:
    with pytest.raises(ConfigError, match="Strategy subclass"):
        EventEvaluator(int)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="broker_factory"):
        EventEvaluator(SmaCross, broker_factory=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="RiskPolicy"):
        EventEvaluator(SmaCross, risk=3)  # type: ignore[arg-type]
    small = EventEvaluator(SmaCross, broker_factory=partial(BacktestBroker, cash=1_000.0))
    row = small(FEED.load(), {"fast": 5, "slow": 20})
    assert row["Start equity"] == 1_000.0


def test_objective_value_coerces_or_gives_nan() -> None:
    assert objective_value(np.float64(1.5)) == 1.5
    assert objective_value(2) == 2.0
    assert math.isnan(objective_value("x"))
    assert math.isnan(objective_value(None))
    assert math.isnan(objective_value(math.inf))
    assert objective_value(True) == 1.0


def test_heatmap_has_one_cell_per_x_y_pair() -> None:
    space = {"fast": [5, 10, 15], "slow": [20, 30], "fraction": [0.5, 1.0]}
    found = optimize(SmaCross, FEED, space, executor="serial")
    figure = found.heatmap("fast", "slow")
    (trace,) = figure.data
    assert trace.type == "heatmap"
    assert np.asarray(trace.z).shape == (2, 3)  # rows: slow values, columns: fast values
    assert list(trace.x) == ["5", "10", "15"]
    # Other parameters held at their best values.
    table = found.heatmap_table("fast", "slow", stat="Total return [%]")
    sliced = found.frame[found.frame["fraction"] == found.best_params["fraction"]]
    cell = sliced[(sliced["fast"] == 10) & (sliced["slow"] == 30)]["Total return [%]"].item()
    assert table.loc[30, 10] == cell


@pytest.mark.parametrize(
    ("x", "y", "stat", "message"),
    [
        ("fast", "nope", None, "not a searched parameter"),
        ("fast", "fast", None, "both 'fast'"),
        ("fast", "slow", "Volume", "not a statistic column"),
        ("fast", "slow", "fast", "not a statistic column"),
        ("fast", "slow", "Start", "not numeric"),
    ],
)
def test_heatmap_bad_axes(
    serial: OptimizationResult, x: str, y: str, stat: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        serial.heatmap(x, y, stat)


def test_reprs_name_the_search(serial: OptimizationResult) -> None:
    assert "grid: 6 evaluated" in repr(serial)
    page = serial._repr_html_()
    assert page.startswith("<div>") and "<table" in page and "Sharpe ratio" in page


def test_progress_decision() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    big = PROGRESS_MIN_COMBINATIONS
    assert show_progress(None, big, Terminal()) is True
    assert show_progress(None, big - 1, Terminal()) is False
    assert show_progress(None, big, io.StringIO()) is False  # not a terminal
    assert show_progress(False, big, Terminal()) is False
    assert show_progress(True, 1, io.StringIO()) is True
    assert show_progress(None, big, object()) is False  # type: ignore[arg-type]
    assert show_progress(None, big) is False  # pytest's stderr is not a terminal


def test_progress_bar_counts_to_the_total(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(True, 3, "sweep") as bar:
        bar.update(3)
        assert bar.n == 3
    assert "sweep" in capsys.readouterr().err
    with progress_bar(False, 3, "quiet") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_results_of_a_series_feed_match() -> None:
    data = FEED.load()
    found = optimize(SmaCross, SeriesFeed(data), {"fast": [5], "slow": [20]})
    assert len(found.frame) == 1  # one combination runs in process


def test_optuna_tells_non_finite_trials_as_failed() -> None:
    def nan_when_small(data: Any, params: Any) -> dict[str, Any]:
        return {"objective": math.nan if params["fast"] < 8 else float(params["fast"])}

    found = optimize(
        SmaCross, FEED, {"fast": IntRange(3, 12)}, method="optuna", trials=10, seed=0,
        executor="serial", evaluator=nan_when_small,
    )  # fmt: skip
    assert found.non_finite == int((found.frame["fast"] < 8).sum()) > 0
    assert found.best_value == found.frame["fast"].max()


def test_optuna_constraint_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="constraint failed"):
        optimize(
            SmaCross, FEED, {"fast": IntRange(3, 9)}, method="optuna", trials=3,
            constraint=lambda p: p["missing"], executor="serial",
        )  # fmt: skip
