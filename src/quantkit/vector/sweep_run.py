"""Parameter sweeps on the fast path: every combination of a grid in one compiled call per symbol.

For each symbol, the combinations are one block: their settings are records (one per
combination), their signals either made inside the compiled call (`SmaCrossSignals`: each
distinct moving-average window is computed once per symbol and shared) or computed by the
strategy per combination and stacked (any other `SignalStrategy`, in blocks that bound the
memory). The kernel reduces each run to its statistics; the tidy table is built once at the end.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.strategy.base import Strategy
from quantkit.vector.causal_cache import checked_signals
from quantkit.vector.layout import new_states
from quantkit.vector.run import (
    FastSettings,
    _check_strategy,
    _data_of,
    _one_series,
    _pick,
    _read_only,
    _settings,
)
from quantkit.vector.signals import Signals

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.vector.strategy import SignalStrategy

__all__ = ["sweep"]

# Signal rows of the generic path held at once: 4 boolean arrays per combination.
_SIGNAL_BYTES = 256 * 2**20
_SIGNAL_NAMES = ("entries", "exits", "short_entries", "short_exits")
# The parameters of `SmaCrossSignals` that set its orders (the `Signals` fields of the same
# names), not its signals.
_ORDER_SETTINGS = (
    "size", "sl_pct", "tp_pct", "entry_type", "entry_offset", "entry_valid_bars", "trail_pct",
)  # fmt: skip


def _combinations(
    params: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    if isinstance(params, Mapping):
        names = list(params)
        for name in names:
            values = params[name]
            if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
                raise ConfigError(
                    f"sweep: the values of {name!r} must be a sequence, got {values!r}"
                )
        grid = itertools.product(*(list(params[name]) for name in names))
        return [dict(zip(names, combo, strict=True)) for combo in grid]
    combos = [dict(combo) for combo in params]
    if not all(isinstance(combo, dict) for combo in combos):  # pragma: no cover - dict() above
        raise ConfigError("sweep: params must be a grid mapping or a list of dicts")
    return combos


def _worker_count(workers: int | None, tasks: int) -> int:
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"sweep: workers must be an integer >= 1, got {workers!r}")
    return max(1, min(workers, tasks))


def _is_builtin_sma(strategies: Sequence[SignalStrategy]) -> bool:
    """Whether every strategy computes its signals as `SmaCrossSignals` does (no override)."""
    from quantkit.vector.strategy import SignalStrategy, SmaCrossSignals  # noqa: PLC0415

    return all(
        isinstance(strategy, SmaCrossSignals)
        and type(strategy).signals is SmaCrossSignals.signals
        and type(strategy).compute_signals is SignalStrategy.compute_signals
        for strategy in strategies
    )


def _settings_of(attrs: Mapping[str, Any]) -> Signals:
    """The order settings a `SmaCrossSignals` with parameters ``attrs`` puts in its signals."""
    none = np.zeros(0, np.bool_)
    return Signals(entries=none, exits=none, **{name: attrs[name] for name in _ORDER_SETTINGS})


def _sma_params(
    config: FastSettings, symbol: str, attrs: Sequence[Mapping[str, Any]]
) -> np.recarray[Any, Any]:
    """The settings records of the crossover combinations, one per combination.

    A grid varies the averages far more often than the order settings: each distinct set of
    settings is checked and made into a record once (`FastSettings.params`), then shared.
    """
    made: dict[tuple[Any, ...], int] = {}
    records: list[np.recarray[Any, Any]] = []
    rows = np.empty(len(attrs), np.int64)
    for k, values in enumerate(attrs):
        key = tuple(values[name] for name in _ORDER_SETTINGS)
        if key not in made:
            made[key] = len(records)
            records.append(config.params(symbol, _settings_of(values)))
        rows[k] = made[key]
    chosen: np.recarray[Any, Any] = np.concatenate(records)[rows].view(np.recarray)
    return chosen


class _Block:
    """One symbol's sweep: its bars as the kernels take them, and the outputs."""

    def __init__(self, series: BarSeries, combos: int, names: int) -> None:
        from quantkit.metrics.stats import periods_per_year  # noqa: PLC0415

        self.series = series
        self.data = _data_of(series)
        self.open_time = np.ascontiguousarray(series.open_time, np.int64)
        self.close_time = np.ascontiguousarray(series.close_time, np.int64)
        close = self.data.close
        self.benchmark = close if len(close) and close[0] > 0 else np.empty(0)
        self.ppy = periods_per_year(series.timeframe)
        self.stats = np.empty((combos, names))

    def bars(self) -> tuple[np.ndarray, ...]:
        """The bars read-only, as `run_signals` passes them: one compiled `kernel.run_bars`."""
        data = self.data
        return tuple(map(_read_only, (data.open, data.high, data.low, data.close)))

    def tail(self) -> tuple[Any, ...]:
        return self.open_time, self.close_time, self.benchmark, self.ppy


def _run_sma(block: _Block, strategies: Sequence[SignalStrategy], config: FastSettings) -> Any:
    """The built-in crossover: averages once per distinct window, signals inside the kernel."""
    import talib  # noqa: PLC0415 - the same SMA as `SmaCrossSignals.signals`

    from quantkit.vector import sweep_kernel  # noqa: PLC0415 - numba loads only when used

    attrs = [strategy.params for strategy in strategies]
    params = _sma_params(config, block.series.symbol, attrs)
    windows = sorted({w for values in attrs for w in (values["fast"], values["slow"])})
    row = {window: k for k, window in enumerate(windows)}
    close = np.ascontiguousarray(block.data.close, np.float64)
    averages = np.empty((len(windows), len(close)))
    for window, k in row.items():
        averages[k] = talib.SMA(close, timeperiod=window)
    fast = np.array([row[values["fast"]] for values in attrs], np.int64)
    slow = np.array([row[values["slow"]] for values in attrs], np.int64)
    short = np.array([bool(values["short"]) for values in attrs], np.bool_)
    states = new_states(params)
    run: Any = sweep_kernel.sweep_sma  # (a numba dispatcher: typed by its own signature)
    run(*block.bars(), averages, fast, slow, short, params, states, *block.tail(), block.stats)
    return states


def _run_generic(
    block: _Block, strategies: Sequence[SignalStrategy], config: FastSettings, check: bool
) -> Any:
    """Any signal strategy: its signals per combination, stacked in bounded blocks."""
    from quantkit.vector import sweep_kernel  # noqa: PLC0415 - numba loads only when used

    symbol, data = block.series.symbol, block.data
    bars = max(1, len(data))
    step = max(1, _SIGNAL_BYTES // (4 * bars))
    states = []
    for start in range(0, len(strategies), step):
        part = strategies[start : start + step]
        made = [checked_signals(strategy, data, check_causal=check) for strategy in part]
        params = np.concatenate([config.params(symbol, signals) for signals in made])
        stacked = [np.stack([getattr(m, name) for m in made]) for name in _SIGNAL_NAMES]
        part_states = new_states(params)
        run: Any = sweep_kernel.sweep_signals  # (a numba dispatcher)
        run(
            *block.bars(), *stacked, params, part_states, *block.tail(),
            block.stats[start : start + len(part)],
        )  # fmt: skip
        states.append(part_states)
    return np.concatenate(states).view(np.recarray)


def _refuse_liquidations(states: Any, combos: Sequence[Mapping[str, Any]], symbol: str) -> None:
    """Raise as `run_signals` does when the engine would liquidate a margin run."""
    bars = np.asarray(states["liquidation_bar"])  # (by key: a record array's attribute is slow)
    hit = np.flatnonzero(bars >= 0)
    if hit.size:
        k = int(hit[0])
        raise ConfigError(
            f"fast path: the margin account's equity would reach zero inside bar "
            f"{int(bars[k])} (combination {combos[k]} on {symbol}), where "
            "the event engine liquidates it; the fast path does not simulate liquidation, run "
            "this on the Engine (or lower the leverage or size)"
        )


def sweep(
    strategy_class: type[SignalStrategy],
    data: BarSeries | DataFeed | Mapping[str, BarSeries],
    params: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    *,
    symbols: Sequence[str] | None = None,
    settings: FastSettings | None = None,
    check_causal: bool = True,
    workers: int | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Run many parameter combinations on many symbols through the compiled simulator.

    Each (combination, symbol) is one independent single-symbol run with the same settings,
    exactly what `run_signals` gives for it. All combinations of a symbol run in one compiled
    call (in parallel over combinations), which reduces each run to its statistics.

    Args:
        strategy_class: A `SignalStrategy` subclass.
        data: One series, a feed, or series by symbol.
        params: A grid (``{"fast": [5, 10], "slow": [20, 40]}``: every combination) or a list
            of parameter dicts.
        symbols: Symbols to run (default: all of the data).
        settings: Account and venue settings; or give them as keyword ``options``.
        check_causal: Check each combination's signals for look-ahead (the built-in
            `SmaCrossSignals` is causal by construction and computed inside the kernel).
        workers: Threads to run on (default: one per CPU); the results do not depend on it.
        **options: Fields of `FastSettings`.

    Returns:
        A tidy DataFrame: one row per (combination, symbol), with the parameters, ``symbol``,
        the statistics of `compute_stats` and ``Rejected orders``.

    Raises:
        ConfigError: If a parameter combination is invalid, the strategy or a setting is not
            supported (a perpetual market among them), a symbol is not in the data, or the
            engine would liquidate a margin run.
        LookAheadError: If the signals use later bars.

    Examples:
        >>> from quantkit import sample_feed
        >>> from quantkit.vector.strategy import SmaCrossSignals
        >>> table = sweep(SmaCrossSignals, sample_feed(), {"fast": [5, 10], "slow": [30]})
        >>> table[["fast", "slow", "symbol"]].shape
        (2, 3)
    """
    if not isinstance(strategy_class, type) or not issubclass(strategy_class, Strategy):
        raise ConfigError(
            f"sweep: strategy_class must be a SignalStrategy class, got {strategy_class!r}"
        )
    config = _settings(settings, options)
    if config.market is not None and config.market.perpetual is not None:
        raise ConfigError(
            f"sweep: {config.market.symbol} is a perpetual; sweeps do not simulate funding, "
            "liquidation or margin brackets yet (run_signals does, one combination at a time)"
        )
    loaded = _one_series(data)
    chosen = list(loaded) if symbols is None else [_pick(loaded, s).symbol for s in symbols]
    combos = _combinations(params)
    strategies = [_check_strategy(strategy_class(**combo)) for combo in combos]
    threads = _worker_count(workers, len(combos) * len(chosen))
    if not combos or not chosen:  # nothing to run: an empty table (as before)
        import pandas as pd  # noqa: PLC0415

        return pd.DataFrame()
    from quantkit.vector import sweep_kernel  # noqa: PLC0415 - numba loads only when used

    blocks = []
    with sweep_kernel.threads(threads):
        for symbol in chosen:
            block = _Block(loaded[symbol], len(combos), len(sweep_kernel.STAT_NAMES))
            if _is_builtin_sma(strategies):
                states = _run_sma(block, strategies, config)
            else:
                states = _run_generic(block, strategies, config, check_causal)
            _refuse_liquidations(states, combos, symbol)
            blocks.append((block, states))
    return _table(combos, chosen, blocks)


def _table(
    combos: Sequence[Mapping[str, Any]], symbols: Sequence[str], blocks: Sequence[Any]
) -> pd.DataFrame:
    """The tidy table, built once: rows combination-major, symbols within a combination."""
    import pandas as pd  # noqa: PLC0415

    from quantkit.vector import sweep_kernel  # noqa: PLC0415
    from quantkit.vector.sweep_table import stats_columns  # noqa: PLC0415

    parts = []
    for symbol, (block, states) in zip(symbols, blocks, strict=True):
        part = stats_columns(block.stats, block.close_time, sweep_kernel.STAT_NAMES)
        part.insert(0, "symbol", symbol)
        part["Rejected orders"] = np.asarray(states["rejected"], np.int64)
        parts.append(part)
    # block j holds combination k at row k; the table wants it at row k * symbols + j
    source = np.arange(len(symbols))[None, :] * len(combos) + np.arange(len(combos))[:, None]
    stats = pd.concat(parts, ignore_index=True).iloc[source.ravel()].reset_index(drop=True)
    params = pd.DataFrame([combos[k] for k in range(len(combos)) for _ in symbols])
    return pd.concat([params, stats], axis=1)
