"""run_signals, sweep, Signals validation, the causality check and what the fast path refuses."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

import quantkit.vector
import quantkit.vector.run
import quantkit.vector.signals
import quantkit.vector.strategy
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.market import Market
from quantkit.errors import ConfigError, LookAheadError, ParameterError
from quantkit.strategy.data import SymbolData
from quantkit.strategy.library.sma_cross import SmaCross
from quantkit.vector import FastSettings, SignalData, Signals, run_signals, sweep
from quantkit.vector.strategy import SignalStrategy, SmaCrossSignals
from tests.strategies import gbm_bars
from tests.vector.test_parity import SYMBOL, Scripted, engine_run, walk


def _series(symbol: str = SYMBOL, seed: int = 1, count: int = 200) -> Any:
    w = gbm_bars(count, seed, start=100.0, sigma=0.02, drift=0.0)
    return walk(w.open, w.high, w.low, w.close, symbol)


class Peeking(SignalStrategy):
    """Looks one bar ahead: entries[i] uses close[i + 1]."""

    def signals(self, data: SignalData) -> Signals:
        """Enter before a rise."""
        ahead = np.zeros(len(data), np.bool_)
        ahead[:-1] = data.close[1:] > data.close[:-1]
        return Signals(ahead, ~ahead)


class WrongType(SignalStrategy):
    def signals(self, data: SignalData) -> Signals:
        """Return the wrong thing."""
        return data.close > 0  # type: ignore[return-value]


class WrongLength(SignalStrategy):
    def signals(self, data: SignalData) -> Signals:
        """One value short."""
        flags = np.zeros(len(data) - 1, np.bool_)
        return Signals(flags, flags)


class CustomBar(SmaCrossSignals):
    def on_bar(self, bar: SymbolData) -> None:
        """Logic the fast path cannot see."""


class Sized(SignalStrategy):
    """The signals' settings depend on the data length (to test the prefix comparison)."""

    def signals(self, data: SignalData) -> Signals:
        """Size shrinks with history: not causal."""
        flags = np.zeros(len(data), np.bool_)
        return Signals(flags, flags, size=1.0 / len(data))


def test_the_docstring_examples_run() -> None:
    for module in (
        quantkit.vector.signals,
        quantkit.vector.run,
        quantkit.vector.strategy,
    ):
        outcome = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert outcome.attempted > 0
        assert outcome.failed == 0


def test_the_package_exports_its_sorted_public_names() -> None:
    names = quantkit.vector.__all__
    assert names == sorted(names)
    assert all(hasattr(quantkit.vector, name) for name in names)


def test_run_signals_accepts_a_feed_and_a_mapping_and_picks_a_symbol() -> None:
    one, two = _series("BTC/USDT"), _series("ETH/USDT", seed=2)
    strategy = SmaCrossSignals(fast=3, slow=9)
    from_feed = run_signals(strategy, SeriesFeed([one, two]), symbol="ETH/USDT", cash=5_000.0)
    from_map = run_signals(strategy, {"ETH/USDT": two}, cash=5_000.0)
    assert from_feed.symbol == "ETH/USDT"
    assert from_feed.equity.equals(from_map.equity)
    assert from_feed.equity.iloc[0] == pytest.approx(5_000.0, rel=0.01)
    assert from_feed.strategy == repr(strategy)
    assert from_feed.signals.entries.any()
    assert set(from_feed.trades["direction"]) == {"long"}


def test_a_multi_symbol_feed_needs_a_symbol() -> None:
    feed = SeriesFeed([_series("BTC/USDT"), _series("ETH/USDT")])
    with pytest.raises(ConfigError, match="pick one with symbol="):
        run_signals(SmaCrossSignals(), feed)
    with pytest.raises(ConfigError, match="no symbol 'SOL/USDT'"):
        run_signals(SmaCrossSignals(), feed, symbol="SOL/USDT")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2, 3], "must be a BarSeries"),
        ({}, "no symbols"),
        ({"BTC/USDT@1d": None}, "informative series"),
    ],
)
def test_unsupported_data_is_refused(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_signals(SmaCrossSignals(), data)


def test_unsupported_strategies_are_refused_with_the_reason() -> None:
    series = _series()
    with pytest.raises(ConfigError, match="must be a SignalStrategy, got SmaCross"):
        run_signals(SmaCross(), series)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="CustomBar overrides on_bar"):
        run_signals(CustomBar(), series)
    with pytest.raises(ConfigError, match="must return Signals, got ndarray"):
        run_signals(WrongType(), series)
    with pytest.raises(ConfigError, match="returned 199 values for 200 bars"):
        run_signals(WrongLength(), series)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cash": 0.0}, "cash must be"),
        ({"cash": True}, "cash must be"),
        ({"slippage_bps": -1.0}, "slippage_bps must be"),
        ({"leverage": 0.5}, "leverage must be"),
        ({"intrabar": "random"}, "intrabar must be"),
        ({"fees": 0.001}, "fees must be a FeeModel"),
        ({"market": Market("ETH/USDT", "ETH", "USDT")}, "the market is 'ETH/USDT'"),
        ({"slipage_bps": 1.0}, "did you mean slippage_bps"),
        ({"colour": 1.0}, "known:"),
        ({"participation": 0.1}, "unknown setting"),
        ({"warmup": -1}, "warmup must be"),
        ({"warmup": 1.5}, "warmup must be"),
    ],
)
def test_bad_or_unsupported_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_signals(SmaCrossSignals(), _series(), **options)


def test_settings_come_either_as_an_object_or_as_keywords() -> None:
    with pytest.raises(ConfigError, match="not both"):
        run_signals(SmaCrossSignals(), _series(), settings=FastSettings(), cash=1.0)


def test_look_ahead_is_caught_in_both_paths() -> None:
    series = _series()
    with pytest.raises(LookAheadError, match=r"Peeking\.signals looks ahead on BTC/USDT"):
        run_signals(Peeking(), series)
    with pytest.raises(LookAheadError, match="looks ahead"):
        engine_run(series, Peeking(), FastSettings())
    with pytest.raises(LookAheadError, match="at bar 0"):
        run_signals(Sized(), series)
    unchecked = run_signals(Peeking(), series, check_causal=False)
    assert unchecked.stats["Total return [%]"] > 0  # knowing the future pays


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"entries": np.array([1, 0]), "exits": np.array([False, True])}, "boolean array"),
        ({"entries": np.zeros((2, 2), bool), "exits": np.zeros(2, bool)}, "one-dimensional"),
        ({"entries": np.zeros(3, bool), "exits": np.zeros(2, bool)}, "has 2 values"),
        ({"size": 0.0}, "size must be in"),
        ({"size": 1.5}, "size must be in"),
        ({"size": None}, "size is required"),
        ({"size": True}, "size must be a number"),
        ({"sl_pct": 1.0}, "sl_pct must be below 1"),
        ({"tp_pct": float("nan")}, "tp_pct must be in"),
        ({"entry_type": "trailing"}, "entry_type must be 'market', 'limit' or 'stop'"),
        ({"entry_offset": 1.0}, r"entry_offset must be in \[0, 1\)"),
        ({"entry_offset": -0.01}, "entry_offset must be in"),
        ({"entry_offset": True}, "entry_offset must be in"),
        ({"entry_offset": float("nan")}, "entry_offset must be in"),
        ({"entry_valid_bars": 0}, "entry_valid_bars must be an integer >= 1"),
        ({"entry_valid_bars": 1.5}, "entry_valid_bars must be an integer"),
        ({"entry_valid_bars": True}, "entry_valid_bars must be an integer"),
        ({"trail_pct": 1.0}, "trail_pct must be below 1"),
        ({"trail_pct": 0.0}, "trail_pct must be in"),
    ],
)
def test_signals_are_validated(arguments: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"entries": np.zeros(2, bool), "exits": np.zeros(2, bool)}
    with pytest.raises(ConfigError, match=message):
        Signals(**{**base, **arguments})


def test_signals_accept_pandas_series_and_default_the_short_side() -> None:
    import pandas as pd

    flags = pd.Series([True, False])
    made = Signals(flags, ~flags, tp_pct=2)  # type: ignore[arg-type]
    assert made.tp_pct == 2.0
    assert made.short_entries is not None
    assert not made.short_entries.any()
    assert made.entries.dtype == np.bool_


def test_sweep_runs_every_combination_on_every_symbol() -> None:
    feed = SeriesFeed([_series("BTC/USDT"), _series("ETH/USDT", seed=5)])
    grid: dict[str, list[Any]] = {"fast": [3, 5], "slow": [10, 20], "sl_pct": [None, 0.02]}
    table = sweep(SmaCrossSignals, feed, grid, workers=2)
    assert len(table) == 2 * 2 * 2 * 2
    assert {"fast", "slow", "sl_pct", "symbol", "Sharpe ratio", "Rejected orders"} <= set(
        table.columns
    )
    row = table[(table["fast"] == 5) & (table["slow"] == 20) & (table["symbol"] == "ETH/USDT")]
    single = run_signals(SmaCrossSignals(fast=5, slow=20, sl_pct=0.02), feed, symbol="ETH/USDT")
    assert single.stats["Final equity"] in set(row["Final equity"])
    serial = sweep(SmaCrossSignals, feed, grid, workers=1)
    assert serial.equals(table)


def test_sweep_takes_a_list_of_dicts_and_a_symbol_subset() -> None:
    feed = SeriesFeed([_series("BTC/USDT"), _series("ETH/USDT", seed=5)])
    combos: list[dict[str, Any]] = [{"fast": 3, "slow": 8}, {"fast": 4, "slow": 12, "short": True}]
    table = sweep(SmaCrossSignals, feed, combos, symbols=["BTC/USDT"], allow_short=True)
    assert list(table["symbol"]) == ["BTC/USDT", "BTC/USDT"]
    assert list(table["fast"]) == [3, 4]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        ({"params": {"fast": 5}}, ConfigError, "must be a sequence"),
        ({"params": {"fast": "5"}}, ConfigError, "must be a sequence"),
        ({"params": {"fast": [40], "slow": [20]}}, ParameterError, "must be below slow"),
        ({"workers": 0}, ConfigError, "workers must be"),
        ({"strategy_class": SmaCross}, ConfigError, "must be a SignalStrategy, got SmaCross"),
        ({"strategy_class": CustomBar}, ConfigError, "overrides on_bar"),
        ({"strategy_class": 3}, ConfigError, "must be a SignalStrategy class"),
    ],
)
def test_sweep_refuses_bad_input(
    call: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {
        "strategy_class": SmaCrossSignals,
        "data": _series(),
        "params": {"fast": [3]},
    }
    arguments.update(call)
    with pytest.raises(error, match=message):
        sweep(**arguments)


def test_the_event_path_recomputes_signals_when_live_bars_arrive() -> None:
    series = _series(count=60)
    strategy = Scripted(exits=(60,))
    result = engine_run(series, strategy, FastSettings())
    assert result.fills.empty
    assert len(strategy._signal_cache[SYMBOL]) == 60
    data = strategy.data
    data._append_bar(int(series.open_time[-1]) + 3_600 * 10**9, 100.0, 101.0, 99.0, 100.0, 1.0)
    strategy.on_bar(data)
    assert len(strategy._signal_cache[SYMBOL]) == 61
    assert strategy._signal_cache[SYMBOL].exits[60]
