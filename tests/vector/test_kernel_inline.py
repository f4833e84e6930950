"""How the kernels' helpers compile: inlined before typing, or shared through numba's cache."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from quantkit import Market
from quantkit.domain.bars import BarSeries
from quantkit.vector import SignalData, Signals, kernel, run_signals, sweep, sweep_kernel
from quantkit.vector.kernel_inline import inlined
from quantkit.vector.strategy import SignalStrategy, SmaCrossSignals
from tests.strategies import gbm_bars
from tests.vector.test_parity import HOUR, START, SYMBOL

MARKET = Market(SYMBOL, "BTC", "USDT", taker_fee=0.001, maker_fee=0.001)


@inlined
def _scaled(x: float, k: float) -> float:
    return x * k + 1.0


@inlined
def _twice_scaled(x: float) -> float:
    return _scaled(_scaled(x, 2.0), 3.0)


@numba.njit
def _compiled_caller(x: float) -> float:
    return _twice_scaled(x) - _scaled(x, 0.5)


def test_an_inlined_helper_is_plain_python_from_python_and_never_compiled_alone() -> None:
    # by hand: (2x + 1) * 3 + 1 - (x / 2 + 1) = 5.5x + 3 at x = 2 -> 14
    assert _twice_scaled(2.0) == 16.0  # (2 * 2 + 1) * 3 + 1
    assert _compiled_caller(2.0) == 14.0
    # inlined into the caller's IR: no signature of their own, from either call
    assert _scaled.signatures == [] and _twice_scaled.signatures == []
    assert len(_compiled_caller.signatures) == 1


def _series(read_only: bool) -> BarSeries:
    walk = gbm_bars(400, 7, start=100.0, sigma=0.01, drift=0.0)
    times = START + HOUR * np.arange(400, dtype=np.int64)
    columns = [np.array(c) for c in (walk.open, walk.high, walk.low, walk.close, walk.volume)]
    for column in columns:
        column.flags.writeable = not read_only
    return BarSeries(SYMBOL, HOUR, times, times + HOUR, *columns)


class ReadOnlySignals(SmaCrossSignals):
    """The crossover with read-only signal arrays (as ``np.broadcast_to`` would give)."""

    def signals(self, data: SignalData) -> Signals:
        """The crossover's signals, made read-only."""
        made = super().signals(data)
        for flag in (made.entries, made.exits):
            flag.flags.writeable = False
        return made


def _read_only_flags(signature: tuple[Any, ...]) -> tuple[bool, ...]:
    """Whether each of the first (bar and signal) array arguments is typed read-only."""
    return tuple(not kind.mutable for kind in signature[:8])


def test_runs_and_sweeps_on_any_inputs_share_one_compiled_bar_loop() -> None:
    before = set(kernel.simulate.signatures)  # (those compiled or loaded from the cache)
    strategies: list[SignalStrategy] = [
        SmaCrossSignals(fast=5, slow=20),
        ReadOnlySignals(fast=5, slow=20),
    ]
    results = [
        run_signals(strategy, _series(read_only), market=MARKET)
        for strategy in strategies
        for read_only in (False, True)
    ]
    table = sweep(SmaCrossSignals, _series(True), {"fast": [5], "slow": [20]}, market=MARKET)
    assert len({r.stats_vector.tobytes() for r in results}) == 1  # the same run each time
    assert table["Trades"].iloc[0] == results[0].stats["Trades"] > 0
    # one signature of the loop serves read-only and writable bars and signals, and the sweep
    # passes its loop the same array types: a sweep after a run loads it from numba's cache
    # (other tests may have called `kernel.simulate` directly on writable bars before)
    unified = (True, True, True, True, False, False, False, False)  # bars read-only
    added = set(kernel.simulate.signatures) - before
    assert len(added) <= 1 and {_read_only_flags(sig) for sig in added} <= {unified}
    # the crossover sweep's bars (its signals are made inside it, writable)
    swept = {tuple(sig[:4]) for sig in sweep_kernel.sweep_sma.signatures}
    assert swept and {_read_only_flags(sig) for sig in swept} == {unified[:4]}
    assert swept <= {tuple(sig[:4]) for sig in kernel.simulate.signatures}
    # the per-bar phases are inlined before typing: never compiled on their own
    assert kernel.fill_at_open.signatures == [] and kernel.decide.signatures == []
