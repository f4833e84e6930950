"""Evaluators: how one parameter combination becomes a row of statistics."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.engine.result import Result
    from quantkit.vector.run import FastResult, FastSettings

__all__ = [
    "OBJECTIVE",
    "RETURNS",
    "Evaluator",
    "EventEvaluator",
    "FastEvaluator",
    "Objective",
    "bar_returns",
    "check_objective",
    "objective_value",
    "settings_broker",
    "stat_names",
]

OBJECTIVE = "objective"
"""The key under which an evaluator returns the objective value of a combination."""

RETURNS = "_returns"
"""The key under which an evaluator returns a combination's per-bar returns (float32 array)."""

Objective = str | Callable[["Result"], float]
"""A stat name of `Result.stats`, or a function of the whole `Result`."""


@runtime_checkable
class Evaluator(Protocol):
    """Turns one parameter combination into a dict of statistics.

    An evaluator is shipped to worker processes (pickled), so it must be small: the bars are
    passed to each call, not held. It returns the run's statistics by name and, under the key
    ``"objective"`` (`OBJECTIVE`), the value the optimisation ranks by, and optionally, under
    ``"_returns"`` (`RETURNS`), the per-bar returns of the run's equity as a 1-D float array
    (`bar_returns`), which the overfitting diagnostics of `OptimizationResult` use.
    `EventEvaluator` runs the event-driven `Engine`, `FastEvaluator` the compiled fast path;
    another evaluator with the same call signature plugs into ``optimize(..., evaluator=...)``.
    """

    def __call__(self, data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluate one combination.

        Args:
            data: The bars of the run, by symbol.
            params: The strategy's parameters.

        Returns:
            Statistics by name, with the objective value under ``"objective"``.
        """


@functools.cache
def stat_names() -> tuple[str, ...]:
    """Return the names of the statistics a `Result` holds (``Result.stats`` labels).

    Returns:
        The labels, in table order.
    """
    import pandas as pd  # noqa: PLC0415 - pandas at the edge

    from quantkit.metrics.stats import compute_stats  # noqa: PLC0415

    times = pd.date_range("2024-01-01", periods=2, freq="1h", tz="UTC")
    stats = compute_stats(
        pd.Series([1.0, 1.0], index=times), pd.DataFrame({"pnl": []}), periods_per_year=1.0
    )
    return tuple(str(k) for k in stats.index)


def bar_returns(equity: pd.Series) -> npt.NDArray[np.float32]:
    """Return the per-bar returns of an equity curve, compact: float32, NaN and inf as 0.

    Args:
        equity: Equity at each bar close.

    Returns:
        ``equity.pct_change()`` as a float32 array (the first bar's return is 0).

    Examples:
        >>> import pandas as pd
        >>> bar_returns(pd.Series([100.0, 110.0, 99.0])).tolist()
        [0.0, 0.10000000149011612, -0.10000000149011612]
    """
    values = np.asarray(equity, dtype=np.float64)
    out = np.zeros(values.shape, dtype=np.float64)
    if values.size > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = values[1:] / values[:-1] - 1.0
    out[~np.isfinite(out)] = 0.0
    return out.astype(np.float32)


def check_objective(objective: object) -> None:
    """Check that an objective is a known stat name or a callable.

    Args:
        objective: The objective given to the optimisation.

    Raises:
        ConfigError: If it is neither (close stat names are suggested).
    """
    if callable(objective):
        return
    names = stat_names()
    if isinstance(objective, str) and objective in names:
        return
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(str(objective), names, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(
        f"optimize: objective {objective!r} is not a statistic of a Result{hint} "
        "(give a stat name such as 'Sharpe ratio' or a function of the Result)"
    )


def objective_value(value: object) -> float:
    """Return an objective value as a float; NaN when it is not a finite number.

    Args:
        value: What the objective gave.

    Returns:
        The value, or NaN (ranked last) when it is missing, infinite or not a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # type: ignore[arg-type]  # numpy scalars and the like
        except (TypeError, ValueError):
            return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


class EventEvaluator:
    """Evaluate combinations with the event-driven `Engine` (the default evaluator).

    Each call builds a fresh strategy, broker (``broker_factory()``) and a deep copy of
    ``risk``, so no state leaks from one combination to the next.

    Args:
        strategy_class: The strategy to run.
        objective: A stat name of `Result.stats` or a function of the `Result`.
        broker_factory: Builds a broker per run (default: ``BacktestBroker()``).
        risk: Risk policy, copied for each run.
        warmup: Leading bars that are history only (see `Engine`).
        keep_returns: Also return the run's per-bar returns under ``"_returns"``.

    Raises:
        ConfigError: If an argument has the wrong type.

    Examples:
        >>> from quantkit import SmaCross, sample_feed
        >>> evaluate = EventEvaluator(SmaCross, "Total return [%]")
        >>> row = evaluate(sample_feed(end="2021-03-01").load(), {"fast": 5, "slow": 20})
        >>> row["objective"] == row["Total return [%]"]
        True
    """

    def __init__(
        self,
        strategy_class: type[Strategy],
        objective: Objective = "Sharpe ratio",
        *,
        broker_factory: Callable[[], Broker] | None = None,
        risk: RiskPolicy | None = None,
        warmup: int = 0,
        keep_returns: bool = True,
    ) -> None:
        if not isinstance(strategy_class, type) or not issubclass(strategy_class, Strategy):
            raise ConfigError(
                "EventEvaluator: strategy_class must be a Strategy subclass, "
                f"got {strategy_class!r}"
            )
        check_objective(objective)
        if broker_factory is not None and not callable(broker_factory):
            raise ConfigError(
                f"EventEvaluator: broker_factory must be callable, got {broker_factory!r}"
            )
        if risk is not None and not isinstance(risk, RiskPolicy):
            raise ConfigError(f"EventEvaluator: risk must be a RiskPolicy, got {risk!r}")
        self.strategy_class = strategy_class
        self.objective = objective
        self.broker_factory = broker_factory
        self.risk = risk
        self.warmup = warmup
        self.keep_returns = keep_returns

    def run(self, data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> Result:
        """Run one combination and return the full `Result`.

        Args:
            data: The bars, by symbol.
            params: The strategy's parameters.

        Returns:
            The run's Result.
        """
        from quantkit.engine.engine import Engine  # noqa: PLC0415 - keeps the import light

        broker = self.broker_factory() if self.broker_factory is not None else BacktestBroker()
        engine = Engine(
            feed=SeriesFeed(data),
            strategy=self.strategy_class(**params),
            broker=broker,
            risk=copy.deepcopy(self.risk),
            warmup=self.warmup,
        )
        return engine.run()

    def __call__(self, data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> dict[str, Any]:
        """Run one combination and return its statistics with the objective value.

        Args:
            data: The bars, by symbol.
            params: The strategy's parameters.

        Returns:
            ``dict(result.stats)`` plus ``"objective"`` (and ``"_returns"`` with
            ``keep_returns``).
        """
        return make_row(self.run(data, params), self.objective, self.keep_returns)


def make_row(
    result: Result | FastResult, objective: Objective, keep_returns: bool
) -> dict[str, Any]:
    """Return the row of one run: its statistics, the objective value and its returns.

    Args:
        result: The run (a `Result`, or a `FastResult` of the fast path).
        objective: A stat name, or a function of the run's result.
        keep_returns: Whether to add the per-bar returns under ``"_returns"``.

    Returns:
        The row.
    """
    row: dict[str, Any] = dict(result.stats)
    raw = objective(result) if callable(objective) else result.stats[objective]  # type: ignore[arg-type]
    row[OBJECTIVE] = objective_value(raw)
    if keep_returns:
        row[RETURNS] = bar_returns(result.equity)
    return row


class FastEvaluator:
    """Evaluate combinations of a `SignalStrategy` with the compiled fast path.

    Each call runs ``quantkit.vector.run_signals`` and returns the same row as
    `EventEvaluator` (the fast path gives the Engine's fills, equity and statistics). The data
    must hold one symbol without informative series; anything the fast path cannot run raises
    `ConfigError` when the combination runs. A callable objective receives the `FastResult`
    (it has ``stats``, ``equity``, ``trades`` and ``fills``, not ``orders``).

    Args:
        strategy_class: A `SignalStrategy` subclass.
        objective: A stat name or a function of the `FastResult`.
        settings: The account and venue settings (default: those of ``BacktestBroker()``).
        warmup: Leading bars that are history only (overrides ``settings.warmup`` when > 0).
        keep_returns: Also return the run's per-bar returns under ``"_returns"``.

    Raises:
        ConfigError: If the strategy is not a `SignalStrategy` subclass, or an argument has the
            wrong type.

    Examples:
        >>> from quantkit import sample_feed
        >>> from quantkit.vector.strategy import SmaCrossSignals
        >>> evaluate = FastEvaluator(SmaCrossSignals, "Total return [%]")
        >>> row = evaluate(sample_feed(end="2021-03-01").load(), {"fast": 5, "slow": 20})
        >>> row["objective"] == row["Total return [%]"]
        True
    """

    def __init__(
        self,
        strategy_class: type[Strategy],
        objective: Objective = "Sharpe ratio",
        *,
        settings: FastSettings | None = None,
        warmup: int = 0,
        keep_returns: bool = True,
    ) -> None:
        import dataclasses  # noqa: PLC0415

        from quantkit.vector.run import FastSettings  # noqa: PLC0415
        from quantkit.vector.strategy import SignalStrategy  # noqa: PLC0415

        if not isinstance(strategy_class, type) or not issubclass(strategy_class, SignalStrategy):
            raise ConfigError(
                "FastEvaluator: strategy_class must be a SignalStrategy subclass, "
                f"got {strategy_class!r}"
            )
        check_objective(objective)
        if settings is not None and not isinstance(settings, FastSettings):
            raise ConfigError(f"FastEvaluator: settings must be a FastSettings, got {settings!r}")
        chosen = settings if settings is not None else FastSettings()
        if warmup:
            chosen = dataclasses.replace(chosen, warmup=warmup)
        self.strategy_class = strategy_class
        self.objective = objective
        self.settings = chosen
        self.keep_returns = keep_returns

    def run(self, data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> FastResult:
        """Run one combination through the fast path.

        Args:
            data: The bars (one symbol).
            params: The strategy's parameters.

        Returns:
            The `FastResult`.

        Raises:
            ConfigError: If the fast path cannot run the strategy, the data or the settings.
        """
        from quantkit.vector.run import run_signals  # noqa: PLC0415 - numba loads when used

        strategy = self.strategy_class(**params)
        return run_signals(strategy, data, settings=self.settings)

    def __call__(self, data: Mapping[str, BarSeries], params: Mapping[str, Any]) -> dict[str, Any]:
        """Run one combination and return its statistics with the objective value.

        Args:
            data: The bars (one symbol).
            params: The strategy's parameters.

        Returns:
            ``dict(result.stats)`` plus ``"objective"`` (and ``"_returns"`` with
            ``keep_returns``), as `EventEvaluator` gives.
        """
        return make_row(self.run(data, params), self.objective, self.keep_returns)

    def broker_factory(self) -> BacktestBroker:
        """Build the `BacktestBroker` with this evaluator's settings (for Engine re-runs).

        Returns:
            A broker whose fills equal the fast path's (see `settings_broker`).
        """
        return settings_broker(self.settings)


def settings_broker(settings: FastSettings) -> BacktestBroker:
    """Build the `BacktestBroker` that matches fast-path settings.

    Args:
        settings: The fast path's account and venue settings.

    Returns:
        A broker whose fills equal the fast path's (``FixedBps`` slippage).
    """
    from quantkit.sim.slippage import FixedBps  # noqa: PLC0415

    market = settings.market
    extra: dict[str, Any] = {}
    if market is not None:
        extra = {"currency": market.quote, "markets": {market.symbol: market}}
    return BacktestBroker(
        cash=settings.cash,
        fees=settings.fees,
        slippage=FixedBps(settings.slippage_bps) if settings.slippage_bps else None,
        allow_short=settings.allow_short,
        leverage=settings.leverage,
        intrabar=settings.intrabar,
        **extra,
    )
