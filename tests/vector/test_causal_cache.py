"""A passed look-ahead check is remembered for the same strategy, parameters and bars only."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest

from quantkit.errors import LookAheadError
from quantkit.vector import SignalData, Signals, run_signals
from quantkit.vector.strategy import SignalStrategy
from tests.strategies import gbm_bars
from tests.vector.test_parity import walk


class Counted(SignalStrategy):
    """Enters above a threshold; counts the bars it was asked for, call by call."""

    threshold: float = 100.0
    calls: ClassVar[list[int]] = []

    def signals(self, data: SignalData) -> Signals:
        """Causal: each bar's flag uses its own close only."""
        Counted.calls.append(len(data))
        above = data.close > self.threshold
        return Signals(above, ~above)


class PeekingCounted(Counted):
    """Looks ahead: a bar's flag says whether a later bar exists."""

    def signals(self, data: SignalData) -> Signals:
        """Enter on every bar but the last one."""
        Counted.calls.append(len(data))
        ahead = np.ones(len(data), np.bool_)
        ahead[-1] = False
        return Signals(ahead, ~ahead)


def _series(seed: int = 3) -> object:
    w = gbm_bars(90, seed, start=100.0, sigma=0.02, drift=0.0)
    return walk(w.open, w.high, w.low, w.close)


def _calls(strategy: SignalStrategy, series: object, **options: object) -> list[int]:
    Counted.calls.clear()
    run_signals(strategy, series, **options)  # type: ignore[arg-type]
    return list(Counted.calls)


def test_a_passed_check_is_not_repeated_for_the_same_strategy_and_bars() -> None:
    series = _series()
    assert _calls(Counted(threshold=101.0), series) == [90, 30, 60]  # the whole run, 2 prefixes
    assert _calls(Counted(threshold=101.0), series) == [90]  # a new instance, same parameters
    assert _calls(Counted(threshold=102.0), series) == [90, 30, 60]  # other parameters
    assert _calls(Counted(threshold=101.0), series, check_causal=False) == [90]


def test_other_bars_are_checked_again_even_with_equal_values() -> None:
    series = _series()
    assert _calls(Counted(threshold=99.0), series) == [90, 30, 60]
    copy = dataclasses.replace(series, close=series.close.copy())  # type: ignore[type-var]
    assert _calls(Counted(threshold=99.0), copy) == [90, 30, 60]
    assert _calls(Counted(threshold=99.0), _series(seed=4)) == [90, 30, 60]


def test_a_look_ahead_is_raised_on_every_run() -> None:
    series = _series()
    for _ in range(2):
        Counted.calls.clear()
        with pytest.raises(LookAheadError):
            run_signals(PeekingCounted(), series)
        assert Counted.calls[:2] == [90, 30]


def test_writable_and_read_only_bars_share_one_compiled_simulator() -> None:
    from quantkit.vector import kernel

    writable = _series(seed=8)
    assert writable.close.flags.writeable  # type: ignore[attr-defined]
    frozen = dataclasses.replace(writable)  # type: ignore[type-var]
    for name in ("open", "high", "low", "close"):
        array = getattr(writable, name).copy()
        array.flags.writeable = False
        object.__setattr__(frozen, name, array)
    first = run_signals(Counted(threshold=100.5), writable)
    compiled = len(kernel.simulate.signatures)
    second = run_signals(Counted(threshold=100.5), frozen)
    assert len(kernel.simulate.signatures) == compiled  # no second specialisation
    assert second.stats["Final equity"] == first.stats["Final equity"]
    assert writable.close.flags.writeable  # type: ignore[attr-defined]  # the caller's arrays
