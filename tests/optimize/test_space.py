from __future__ import annotations

import numpy as np
import pytest

from quantkit import SmaCross
from quantkit.errors import ConfigError
from quantkit.optimize import Choice, FloatRange, IntRange
from quantkit.optimize.space import (
    check_combinations,
    grid_points,
    normalize_space,
    random_points,
)


def test_int_range_values_include_high_on_the_step() -> None:
    assert IntRange(5, 20, step=5).values() == (5, 10, 15, 20)
    assert IntRange(5, 19, step=5).values() == (5, 10, 15)
    assert IntRange(3, 3).values() == (3,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: IntRange(5, 1), "below low"),
        (lambda: IntRange(1, 5, step=0), "step"),
        (lambda: IntRange(1.5, 5), "integer"),  # type: ignore[arg-type]
        (lambda: IntRange(True, 5), "integer"),
        (lambda: FloatRange(1.0, 0.5), "below low"),
        (lambda: FloatRange(0.0, 1.0, log=True), "log"),
        (lambda: FloatRange(0.0, float("inf")), "finite"),
        (lambda: FloatRange("a", 1.0), "number"),  # type: ignore[arg-type]
        (lambda: Choice([]), "at least one"),
        (lambda: Choice([1, 1]), "repeat"),
    ],
)
def test_bad_dimensions_are_config_errors(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_normalize_turns_sequences_into_choices() -> None:
    dims = normalize_space(
        SmaCross, {"fast": range(2, 5), "slow": np.array([10, 20]), "fraction": Choice([1.0])}
    )
    assert dims["fast"] == Choice([2, 3, 4])
    assert dims["slow"] == Choice([10, 20])
    assert type(dims["slow"].values[0]) is int  # numpy scalars become Python values


def test_unknown_parameter_suggests_close_matches() -> None:
    with pytest.raises(ConfigError, match=r"no parameter 'fsat'.*did you mean 'fast'"):
        normalize_space(SmaCross, {"fsat": [1, 2]})


def test_empty_space_and_empty_entries_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="search space is empty"):
        normalize_space(SmaCross, {})
    with pytest.raises(ConfigError, match="has no values"):
        normalize_space(SmaCross, {"fast": []})
    with pytest.raises(ConfigError, match="must be a list"):
        normalize_space(SmaCross, {"fast": "10"})
    with pytest.raises(ConfigError, match="must be a list"):
        normalize_space(SmaCross, {"fast": 10})
    with pytest.raises(ConfigError, match="Strategy subclass"):
        normalize_space(int, {"fast": [1]})  # type: ignore[arg-type]


def test_grid_enumerates_every_combination_last_fastest() -> None:
    dims = normalize_space(SmaCross, {"fast": [2, 3], "slow": IntRange(10, 30, step=10)})
    points = grid_points(dims)
    assert points == [
        {"fast": 2, "slow": 10}, {"fast": 2, "slow": 20}, {"fast": 2, "slow": 30},
        {"fast": 3, "slow": 10}, {"fast": 3, "slow": 20}, {"fast": 3, "slow": 30},
    ]  # fmt: skip


def test_grid_cannot_enumerate_a_float_range() -> None:
    dims = normalize_space(SmaCross, {"fraction": FloatRange(0.1, 1.0)})
    with pytest.raises(ConfigError, match="cannot enumerate FloatRange"):
        grid_points(dims)


def test_random_points_are_seeded_distinct_and_in_bounds() -> None:
    dims = normalize_space(
        SmaCross,
        {
            "fast": IntRange(2, 20, step=2),
            "slow": [30, 40],
            "fraction": FloatRange(0.01, 1.0, log=True),
        },
    )
    first = random_points(dims, 30, seed=7)
    assert first == random_points(dims, 30, seed=7)
    assert first != random_points(dims, 30, seed=8)
    assert len({repr(sorted(p.items())) for p in first}) == len(first)
    for p in first:
        assert p["fast"] % 2 == 0 and 2 <= p["fast"] <= 20
        assert p["slow"] in (30, 40)
        assert 0.01 <= p["fraction"] <= 1.0
    linear = normalize_space(SmaCross, {"fraction": FloatRange(0.5, 0.6)})
    assert all(0.5 <= p["fraction"] <= 0.6 for p in random_points(linear, 5, seed=1))


def test_random_draws_repeat_only_once() -> None:
    dims = normalize_space(SmaCross, {"fast": [2, 3]})
    assert sorted(p["fast"] for p in random_points(dims, 50, seed=0)) == [2, 3]


def test_constraint_prunes_before_the_strategy_checks() -> None:
    points = grid_points(normalize_space(SmaCross, {"fast": [5, 10, 20], "slow": [10, 20]}))
    kept, pruned = check_combinations(SmaCross, points, lambda p: p["fast"] < p["slow"])
    assert kept == [{"fast": 5, "slow": 10}, {"fast": 5, "slow": 20}, {"fast": 10, "slow": 20}]
    assert pruned == 3


def test_a_combination_the_strategy_rejects_is_one_clear_error() -> None:
    points = [{"fast": 5, "slow": 20}, {"fast": 20, "slow": 10}]
    with pytest.raises(ConfigError, match=r"rejects the combination.*'fast': 20.*constraint="):
        check_combinations(SmaCross, points, None)


def test_a_failing_constraint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="constraint failed"):
        check_combinations(SmaCross, [{"fast": 5}], lambda p: p["nope"] > 0)
