"""Sweeps: each row is `run_signals` of its combination (which is the Engine), in one call."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.market import Market
from quantkit.domain.perpetual import PerpetualSpec
from quantkit.errors import ConfigError
from quantkit.vector import FastSettings, SignalData, Signals, run_signals, sweep, sweep_run
from quantkit.vector.strategy import SignalStrategy, SmaCrossSignals
from tests.strategies import bar_series, gbm_bars
from tests.vector.test_margin import FLAT
from tests.vector.test_parity import (
    Scripted,
    assert_parity,
    bars,
    engine_run,
    entry_orders,
    fast_settings,
    pcts,
    walk,
)


def assert_row_is_the_run(row: pd.Series, stats: pd.Series, rejected: int) -> None:
    """Every statistic of ``stats`` (floats to 1e-9 relative), and the rejected orders."""
    for label, expected in stats.items():
        got = row[str(label)]
        if isinstance(expected, float):
            assert got == expected or np.isclose(got, expected, rtol=1e-9, equal_nan=True), (
                label,
                got,
                expected,
            )
        else:
            assert got == expected or (pd.isna(got) and pd.isna(expected)), (label, got, expected)
    assert row["Rejected orders"] == rejected


combination = st.fixed_dictionaries(
    {
        "fast": st.integers(2, 6),
        "slow": st.integers(7, 14),
        "sl_pct": pcts,
        "tp_pct": pcts,
        "trail_pct": st.one_of(st.none(), st.floats(0.002, 0.05)),
        "short": st.booleans(),
        "size": st.sampled_from([1.0, 0.5]),
        "entry": entry_orders,
    }
)


def _params(drawn: dict[str, Any]) -> dict[str, Any]:
    entry_type, entry_offset, entry_valid_bars = drawn.pop("entry")
    return {
        **drawn,
        "entry_type": entry_type,
        "entry_offset": entry_offset,
        "entry_valid_bars": entry_valid_bars,
    }


@settings(max_examples=12, deadline=None)
@given(
    walk_bars=bar_series(min_size=30, max_size=120),
    drawn=st.lists(combination, min_size=1, max_size=4),
    config=fast_settings(),
)
def test_every_row_of_a_sweep_is_run_signals_of_its_combination_and_the_engine(
    walk_bars: Any, drawn: list[dict[str, Any]], config: FastSettings
) -> None:
    series = walk(walk_bars.open, walk_bars.high, walk_bars.low, walk_bars.close)
    combos = [_params(dict(d)) for d in drawn]
    runs: list[Any] = []
    refused: list[str] = []
    for combo in combos:
        try:
            runs.append(run_signals(SmaCrossSignals(**combo), series, settings=config))
        except ConfigError as exc:
            refused.append(str(exc))
    if refused:  # the engine would liquidate one: the sweep refuses too
        assert "would reach zero" in refused[0]
        with pytest.raises(ConfigError, match="would reach zero inside bar"):
            sweep(SmaCrossSignals, series, combos, settings=config)
        return
    table = sweep(SmaCrossSignals, series, combos, settings=config, workers=2)
    assert len(table) == len(combos)
    for k, (combo, fast) in enumerate(zip(combos, runs, strict=True)):
        row = table.iloc[k]
        for name, value in combo.items():
            assert row[name] == value or (value is None and pd.isna(row[name])), name
        assert_row_is_the_run(row, fast.stats, fast.rejected)
    # ... and run_signals of each combination is the Engine: same fills, equity and statistics
    for combo, fast in zip(combos, runs, strict=True):
        assert_parity(engine_run(series, SmaCrossSignals(**combo), config), fast, series)


class Momentum(SignalStrategy):
    """A user's strategy: no built-in vectorised path, its own signals per combination."""

    lookback: int = 5
    threshold: float = 0.01
    sl_pct: float | None = None

    def signals(self, data: SignalData) -> Signals:
        change = np.full(len(data), np.nan)
        back = self.lookback
        change[back:] = data.close[back:] / data.close[:-back] - 1.0
        return Signals(
            entries=change > self.threshold, exits=change < -self.threshold, sl_pct=self.sl_pct
        )


class Inverted(SmaCrossSignals):
    """A subclass with its own signals: it must not take the built-in crossover's path."""

    def signals(self, data: SignalData) -> Signals:
        made = super().signals(data)
        return Signals(entries=made.exits, exits=made.entries, size=made.size)


def _gbm(count: int, seed: int) -> Any:
    g = gbm_bars(count, seed, start=100.0, sigma=0.02, drift=0.0)
    return walk(g.open, g.high, g.low, g.close)


def test_a_user_strategy_sweeps_on_its_own_signals_in_bounded_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series = _gbm(300, 3)
    grid = {"lookback": [3, 8], "threshold": [0.005, 0.02], "sl_pct": [None, 0.03]}
    table = sweep(Momentum, series, grid, slippage_bps=2.0)
    assert len(table) == 8
    for k, row in table.iterrows():
        combo = {name: row[name] for name in grid}
        combo["sl_pct"] = None if pd.isna(combo["sl_pct"]) else combo["sl_pct"]
        fast = run_signals(Momentum(**combo), series, slippage_bps=2.0)
        assert_row_is_the_run(row, fast.stats, fast.rejected)
        assert fast.stats["Trades"] > 0, k
    # the signals of 3 combinations at a time (300 bars x 4 signals x 3 = 3,600 bytes)
    monkeypatch.setattr(sweep_run, "_SIGNAL_BYTES", 3_600)
    assert sweep(Momentum, series, grid, slippage_bps=2.0).equals(table)


def test_a_subclass_with_its_own_signals_is_swept_on_them() -> None:
    series = _gbm(300, 4)
    table = sweep(Inverted, series, {"fast": [3, 5], "slow": [12]})
    for k, fast_period in enumerate([3, 5]):
        inverted = run_signals(Inverted(fast=fast_period, slow=12), series)
        plain = run_signals(SmaCrossSignals(fast=fast_period, slow=12), series)
        assert inverted.stats["Final equity"] != plain.stats["Final equity"]
        assert_row_is_the_run(table.iloc[k], inverted.stats, inverted.rejected)


def test_rows_are_combination_major_with_the_symbols_inside() -> None:
    data = {"BTC/USDT": _gbm(200, 5), "ETH/USDT": _gbm(200, 6)}
    data["ETH/USDT"] = walk(
        data["ETH/USDT"].open, data["ETH/USDT"].high, data["ETH/USDT"].low,
        data["ETH/USDT"].close, symbol="ETH/USDT",
    )  # fmt: skip
    table = sweep(SmaCrossSignals, data, {"fast": [3, 4, 5], "slow": [20]})
    assert list(table["symbol"]) == ["BTC/USDT", "ETH/USDT"] * 3
    assert list(table["fast"]) == [3, 3, 4, 4, 5, 5]
    for k, row in table.iterrows():
        fast = run_signals(SmaCrossSignals(fast=row["fast"], slow=20), data, symbol=row["symbol"])
        assert_row_is_the_run(row, fast.stats, fast.rejected)
        assert math.isfinite(row["Sharpe ratio"]), k


def test_a_sweep_refuses_a_combination_the_engine_would_liquidate() -> None:
    # test_margin's short of all equity at 2x and a spike past the zero-equity price: the
    # engine liquidates with size 1.0, not with size 0.1
    series = bars([*FLAT, (100.0, 101.0, 99.0, 100.0), (100.0, 250.0, 99.0, 240.0)])
    options: dict[str, Any] = {"cash": 10_000.0, "allow_short": True, "leverage": 2.0}
    safe = sweep(Scripted, series, [{"short_entries": (2,), "size": 0.1}], **options)
    assert safe["Final equity"].iloc[0] > 0
    with pytest.raises(ConfigError, match=r"inside bar 4 \(combination .*'size': 1.0"):
        sweep(Scripted, series, {"short_entries": [(2,)], "size": [0.1, 1.0]}, **options)


def test_a_perpetual_market_is_refused_rather_than_swept_as_spot() -> None:
    series = _gbm(50, 7)
    perp = Market(series.symbol, "BTC", "USDT", perpetual=PerpetualSpec("USDT"))
    with pytest.raises(ConfigError, match="is a perpetual; sweeps do not simulate funding"):
        sweep(SmaCrossSignals, series, {"fast": [3], "slow": [9]}, market=perp)


def test_nothing_to_sweep_gives_an_empty_table() -> None:
    series = _gbm(50, 7)
    assert sweep(SmaCrossSignals, series, []).empty
    assert sweep(SmaCrossSignals, series, {"fast": [3], "slow": [9]}, symbols=[]).empty


def _uncompiled(kernel: Any) -> Any:
    """A compiled kernel's Python source, given records it can read fields of by name."""

    def run(*args: Any) -> Any:
        named = [a.view(np.recarray) if getattr(a, "dtype", None) is not None
                 and a.dtype.names else a for a in args]  # fmt: skip
        return kernel.py_func(*named)

    return run


def test_the_sweep_kernels_run_as_plain_python_give_the_compiled_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compiled sweep kernels equal their own source run uncompiled (as `simulate` does)."""
    from quantkit.vector import sweep_kernel

    series = _gbm(160, 7)
    sma_grid = {"fast": [3, 5], "slow": [12], "sl_pct": [None, 0.02], "short": [False, True]}
    user_grid = {"lookback": [3, 8], "threshold": [0.005]}
    compiled_sma = sweep(SmaCrossSignals, series, sma_grid, slippage_bps=2.0)
    compiled_user = sweep(Momentum, series, user_grid, slippage_bps=2.0)
    monkeypatch.setattr(sweep_kernel, "sweep_sma", _uncompiled(sweep_kernel.sweep_sma))
    monkeypatch.setattr(sweep_kernel, "sweep_signals", _uncompiled(sweep_kernel.sweep_signals))
    monkeypatch.setattr(sweep_kernel, "run_one", sweep_kernel.run_one.py_func)  # their callees
    monkeypatch.setattr(sweep_kernel, "_benchmark", sweep_kernel._benchmark.py_func)
    plain_sma = sweep(SmaCrossSignals, series, sma_grid, slippage_bps=2.0)
    plain_user = sweep(Momentum, series, user_grid, slippage_bps=2.0)
    assert len(plain_sma) == 8 and len(plain_user) == 2
    pd.testing.assert_frame_equal(plain_sma, compiled_sma, rtol=1e-12)
    pd.testing.assert_frame_equal(plain_user, compiled_user, rtol=1e-12)
    assert (compiled_sma["Trades"] > 0).all()
