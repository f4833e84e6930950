"""Evaluators: how one parameter combination becomes a row of statistics."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.base import Broker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy

if TYPE_CHECKING:
    from quantkit.engine.result import Result

__all__ = [
    "OBJECTIVE",
    "Evaluator",
    "EventEvaluator",
    "Objective",
    "check_objective",
    "objective_value",
    "stat_names",
]

OBJECTIVE = "objective"
"""The key under which an evaluator returns the objective value of a combination."""

Objective = str | Callable[["Result"], float]
"""A stat name of `Result.stats`, or a function of the whole `Result`."""


@runtime_checkable
class Evaluator(Protocol):
    """Turns one parameter combination into a dict of statistics.

    An evaluator is shipped to worker processes (pickled), so it must be small: the bars are
    passed to each call, not held. It returns the run's statistics by name and, under the key
    ``"objective"`` (`OBJECTIVE`), the value the optimisation ranks by. `EventEvaluator` runs
    the event-driven `Engine`; a faster evaluator with the same call signature plugs into
    ``optimize(..., evaluator=...)`` unchanged.
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

    from quantkit.analysis.stats import compute_stats  # noqa: PLC0415

    times = pd.date_range("2024-01-01", periods=2, freq="1h", tz="UTC")
    stats = compute_stats(
        pd.Series([1.0, 1.0], index=times), pd.DataFrame({"pnl": []}), periods_per_year=1.0
    )
    return tuple(str(k) for k in stats.index)


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
            ``dict(result.stats)`` plus ``"objective"``.
        """
        result = self.run(data, params)
        row: dict[str, Any] = dict(result.stats)
        objective = self.objective
        raw = objective(result) if callable(objective) else result.stats[objective]
        row[OBJECTIVE] = objective_value(raw)
        return row
