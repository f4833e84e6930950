"""Walk-forward analysis: optimise in sample, trade the choice out of sample, window by window."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.brokers.base import Broker
from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.optimize.evaluate import EventEvaluator, Objective, objective_value
from quantkit.optimize.executor import ExecutorLike
from quantkit.optimize.report import OptimizationResult, objective_name
from quantkit.optimize.search import Constraint, EngineChoice, Method, load_data, optimize
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.engine.result import Result

__all__ = ["WalkForwardResult", "WalkForwardWindow", "make_windows", "walk_forward"]

Span = str | int


@dataclass(frozen=True)
class WalkForwardWindow:
    """One in-sample / out-of-sample split, as bar positions of the first symbol.

    Attributes:
        index: Window number, from 0.
        train_start: First in-sample bar.
        train_end: One past the last in-sample bar.
        test_start: First out-of-sample bar (``== train_end``).
        test_end: One past the last out-of-sample bar.
    """

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def _span(value: Span, name: str) -> int | float:
    """A window length: bars (int) or nanoseconds (float) from a time string like ``"90D"``."""
    if isinstance(value, bool):
        raise ConfigError(f"walk_forward: {name} must be a bar count or a time span, got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"walk_forward: {name} must be >= 1 bar, got {value}")
        return value
    if isinstance(value, str):
        import pandas as pd  # noqa: PLC0415 - pandas at the edge

        try:
            nanos = pd.Timedelta(value).value
        except ValueError as exc:
            raise ConfigError(
                f"walk_forward: {name}={value!r} is not a time span such as '90D' or '12h'"
            ) from exc
        if nanos <= 0:
            raise ConfigError(f"walk_forward: {name}={value!r} must be positive")
        return float(nanos)
    raise ConfigError(f"walk_forward: {name} must be a bar count or a time span, got {value!r}")


def make_windows(
    open_time: np.ndarray[Any, np.dtype[np.int64]],
    train: Span,
    test: Span,
    *,
    anchored: bool = False,
    step: Span | None = None,
) -> list[WalkForwardWindow]:
    """Split a timeline into walk-forward windows.

    Rolling windows keep the in-sample length and move by ``step``; anchored windows start at
    the first bar and grow by ``step``. The last out-of-sample window may be shorter.

    Args:
        open_time: Open times of the bars (ns), increasing.
        train: In-sample length: bars (int) or a time span (``"90D"``).
        test: Out-of-sample length, of the same kind as ``train``.
        anchored: Whether every in-sample window starts at the first bar.
        step: How far consecutive windows move (default: ``test``), same kind.

    Returns:
        The windows, in time order.

    Raises:
        ConfigError: If the lengths are invalid or of mixed kinds, or no window fits.

    Examples:
        >>> times = np.arange(10, dtype=np.int64)
        >>> [(w.train_start, w.test_start, w.test_end) for w in make_windows(times, 4, 3)]
        [(0, 4, 7), (3, 7, 10)]
    """
    spans = [_span(train, "train"), _span(test, "test")]
    spans.append(spans[1] if step is None else _span(step, "step"))
    if len({type(s) for s in spans}) != 1:
        raise ConfigError(
            "walk_forward: train, test and step must all be bar counts or all time spans"
        )
    n = len(open_time)
    bounds = [int(s) for s in spans]
    if isinstance(spans[0], int):
        position = _bar_position
    else:
        origin = int(open_time[0])

        def position(offset: int) -> int:
            return int(np.searchsorted(open_time, origin + offset, side="left"))

    tr, te, st = bounds
    windows: list[WalkForwardWindow] = []
    k = 0
    while True:
        start = 0 if anchored else k * st
        split = (tr + k * st) if anchored else start + tr
        i0, i1, i2 = position(start), min(position(split), n), min(position(split + te), n)
        if i1 >= n:
            break
        if i1 > i0 and i2 > i1:
            windows.append(WalkForwardWindow(len(windows), i0, i1, i1, i2))
        k += 1
    if not windows:
        raise ConfigError(
            f"walk_forward: no window fits in {n} bars with train={train!r}, test={test!r}"
        )
    return windows


def _bar_position(offset: int) -> int:
    return offset


def slice_bars(
    data: Mapping[str, BarSeries], primary: BarSeries, start: int, end: int
) -> dict[str, BarSeries]:
    """Return every series' bars that open in the primary series' bars ``[start, end)``.

    Args:
        data: The bars by symbol.
        primary: The series whose positions ``start`` and ``end`` are.
        start: First bar.
        end: One past the last bar.

    Returns:
        The sliced series (views, no copies).
    """
    lo = int(primary.open_time[start])
    hi = int(primary.open_time[end]) if end < len(primary) else None
    out: dict[str, BarSeries] = {}
    for symbol, series in data.items():
        a = int(np.searchsorted(series.open_time, lo, side="left"))
        b = len(series) if hi is None else int(np.searchsorted(series.open_time, hi, "left"))
        out[symbol] = BarSeries(
            series.symbol,
            series.timeframe,
            series.open_time[a:b],
            series.close_time[a:b],
            series.open[a:b],
            series.high[a:b],
            series.low[a:b],
            series.close[a:b],
            series.volume[a:b],
        )
    return out


@dataclass(frozen=True, eq=False)
class WalkForwardResult:
    """What a walk-forward analysis found.

    Attributes:
        windows: One row per window: its in-sample and out-of-sample first/last bar times,
            the chosen parameters, and the in-sample and out-of-sample objective values.
        equity: The stitched out-of-sample equity curve (returns chained: each window's curve
            rescaled to start where the previous one ended).
        stats: Statistics of the stitched curve and of every out-of-sample trade.
        objective: Name of the objective.
        optimizations: The in-sample search of each window.
        results: The out-of-sample run of each window.
    """

    windows: pd.DataFrame
    equity: pd.Series
    stats: pd.Series
    objective: str
    optimizations: tuple[OptimizationResult, ...]
    results: tuple[Result, ...]

    @property
    def chosen_params(self) -> list[dict[str, Any]]:
        """The parameters chosen in each window, in order."""
        return [dict(o.best_params) for o in self.optimizations]

    def __repr__(self) -> str:
        from quantkit.metrics.stats import format_stats  # noqa: PLC0415

        return (
            f"WalkForwardResult: {len(self.windows)} windows, objective {self.objective}\n"
            f"{self.windows.to_string(index=False)}\n{format_stats(self.stats)}"
        )

    def _repr_html_(self) -> str:
        title = html.escape(f"Walk-forward: {len(self.windows)} windows, {self.objective}")
        return f"<div><strong>{title}</strong>{self.windows.to_html(index=False)}</div>"


def walk_forward(
    strategy_class: type[Strategy],
    feed: DataFeed | Mapping[str, BarSeries],
    space: Mapping[str, Any],
    *,
    train: Span,
    test: Span,
    anchored: bool = False,
    step: Span | None = None,
    objective: Objective = "Sharpe ratio",
    maximize: bool = True,
    constraint: Constraint | None = None,
    method: Method = "grid",
    trials: int | None = None,
    seed: int | None = None,
    executor: ExecutorLike = None,
    progress: bool | None = None,
    broker_factory: Callable[[], Broker] | None = None,
    risk: RiskPolicy | None = None,
    warmup: int = 0,
    engine: EngineChoice = "auto",
    keep_returns: bool = True,
) -> WalkForwardResult:
    """Optimise on each in-sample window, then run the choice on the window after it.

    Each in-sample search sees only its own bars: the data is sliced before the optimiser
    gets it, so no out-of-sample bar can influence a choice. The out-of-sample run gets
    ``warmup`` bars before the test window (from the in-sample side) as indicator history.

    Args:
        strategy_class: The strategy.
        feed: The data.
        space: The search space (see `optimize`).
        train: In-sample length: bars (int) or a time span such as ``"90D"``.
        test: Out-of-sample length, of the same kind.
        anchored: Every in-sample window starts at the first bar (it grows) instead of rolling.
        step: How far windows move (default: ``test``).
        objective: As `optimize`.
        maximize: As `optimize`.
        constraint: As `optimize`.
        method: As `optimize`.
        trials: As `optimize`.
        seed: As `optimize`.
        executor: As `optimize`; with ``None`` one local process pool serves every window.
        progress: As `optimize`.
        broker_factory: As `optimize`.
        risk: As `optimize`.
        warmup: History bars: skipped by ``on_bar`` at the start of each in-sample window,
            and added before each out-of-sample window.
        engine: As `optimize`, for the in-sample searches (the out-of-sample runs use the
            Engine).
        keep_returns: As `optimize`: keep each in-sample search's returns for its
            overfitting diagnostics (``optimizations[i].overfitting``).

    Returns:
        The `WalkForwardResult`.

    Raises:
        ConfigError: If the windows or arguments are invalid (see `optimize`), or ``warmup``
            reaches before the first bar.
    """
    data = load_data(feed, "walk_forward")
    primary = next(iter(data.values()))
    windows = make_windows(primary.open_time, train, test, anchored=anchored, step=step)
    if windows[0].test_start < warmup:
        raise ConfigError(
            f"walk_forward: warmup={warmup} bars reaches before the first bar; the first "
            f"in-sample window has {windows[0].test_start}"
        )
    runner = EventEvaluator(
        strategy_class, objective, broker_factory=broker_factory, risk=risk, warmup=warmup
    )
    searches: list[OptimizationResult] = []
    results: list[Result] = []
    with _shared_pool(executor) as shared:
        for window in windows:
            in_sample = slice_bars(data, primary, window.train_start, window.train_end)
            found = optimize(
                strategy_class, in_sample, space, objective=objective, maximize=maximize,
                constraint=constraint, method=method, trials=trials, seed=seed,
                executor=shared, progress=progress, broker_factory=broker_factory, risk=risk,
                warmup=warmup, engine=engine, keep_returns=keep_returns,
            )  # fmt: skip
            out = slice_bars(data, primary, window.test_start - warmup, window.test_end)
            searches.append(found)
            results.append(runner.run(out, found.best_params))
    return _assemble(windows, searches, results, primary, objective)


@contextmanager
def _shared_pool(executor: ExecutorLike) -> Iterator[ExecutorLike]:
    """With ``executor=None``, one process pool for every window (not one started per window)."""
    if executor is not None:
        yield executor
        return
    import multiprocessing  # noqa: PLC0415
    import os  # noqa: PLC0415

    pool = ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context())
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _assemble(
    windows: list[WalkForwardWindow],
    searches: list[OptimizationResult],
    results: list[Result],
    primary: BarSeries,
    objective: Objective,
) -> WalkForwardResult:
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    from quantkit.metrics.stats import compute_stats, periods_per_year  # noqa: PLC0415

    rows: list[dict[str, Any]] = []
    pieces: list[pd.Series] = []
    level = math.nan
    for window, found, result in zip(windows, searches, results, strict=True):
        first = pd.Timestamp(int(primary.close_time[window.test_start]), tz="UTC")
        curve = result.equity[result.equity.index >= first]
        start = float(result.equity.iloc[0])
        level = start if math.isnan(level) else level
        scaled = curve * (level / start)
        level = float(scaled.iloc[-1])
        pieces.append(scaled)
        raw = objective(result) if callable(objective) else result.stats[objective]
        rows.append(
            {
                "window": window.index,
                "train_start": _stamp(primary.open_time[window.train_start]),
                "train_end": _stamp(primary.close_time[window.train_end - 1]),
                "test_start": _stamp(primary.open_time[window.test_start]),
                "test_end": _stamp(primary.close_time[window.test_end - 1]),
                **found.best_params,
                "in_sample": found.best_value,
                "out_of_sample": objective_value(raw),
            }
        )
    equity = pd.concat(pieces).rename("equity")
    trades = pd.concat([r.trades for r in results], ignore_index=True)
    fees = float(sum(float(r.stats["Fees paid"]) for r in results))
    stats = compute_stats(
        equity, trades, periods_per_year=periods_per_year(primary.timeframe), fees=fees
    )
    return WalkForwardResult(
        windows=pd.DataFrame(rows),
        equity=equity,
        stats=stats,
        objective=objective_name(objective),
        optimizations=tuple(searches),
        results=tuple(results),
    )


def _stamp(nanos: Any) -> pd.Timestamp:
    import pandas as pd  # noqa: PLC0415

    return pd.Timestamp(int(nanos), tz="UTC")
