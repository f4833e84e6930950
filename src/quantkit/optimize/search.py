"""`optimize`: search a strategy's parameters by grid, random sampling or optuna's TPE."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from quantkit.brokers.base import Broker
from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.optimize.evaluate import (
    OBJECTIVE,
    Evaluator,
    EventEvaluator,
    Objective,
    check_objective,
)
from quantkit.optimize.executor import (
    ExecutorLike,
    Outcome,
    Payload,
    Runner,
    make_batches,
    open_runner,
    progress_bar,
    show_progress,
)
from quantkit.optimize.report import OptimizationResult, build_optimization_result
from quantkit.optimize.space import (
    Choice,
    Dimension,
    FloatRange,
    IntRange,
    check_combinations,
    check_params,
    grid_points,
    normalize_space,
    random_points,
)
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy

if TYPE_CHECKING:
    import optuna

__all__ = ["Method", "optimize"]

Method = Literal["grid", "random", "optuna"]
Params = dict[str, Any]
Constraint = Callable[[Params], bool]

DEFAULT_TRIALS = 50
# optuna proposes this many trials at a time (fixed, so a seed gives the same trials whatever
# the executor and the number of its workers).
OPTUNA_BATCH = 8


def load_data(feed: DataFeed | Mapping[str, BarSeries], where: str) -> dict[str, BarSeries]:
    """Return a feed's bars (loaded once), or a mapping of bars as they are.

    Args:
        feed: A `DataFeed`, or bars by symbol.
        where: Caller name for messages.

    Returns:
        The bars by symbol.

    Raises:
        ConfigError: If ``feed`` is neither, or holds no bars.
    """
    if isinstance(feed, DataFeed):
        data = dict(feed.load())
    elif isinstance(feed, Mapping) and all(isinstance(s, BarSeries) for s in feed.values()):
        data = dict(feed)
    else:
        raise ConfigError(f"{where}: feed must be a DataFeed, got {type(feed).__name__}")
    if not data:
        raise ConfigError(f"{where}: the feed has no symbols")
    return data


def optimize(
    strategy_class: type[Strategy],
    feed: DataFeed | Mapping[str, BarSeries],
    space: Mapping[str, Any],
    *,
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
    evaluator: Evaluator | None = None,
) -> OptimizationResult:
    """Search a strategy's parameters for the best value of an objective.

    Every combination is checked before anything runs: the ``constraint`` prunes some (they
    never run; `OptimizationResult.pruned` counts them) and the strategy must accept all the
    others, or a `ConfigError` names the first it rejects (exclude such combinations with the
    constraint). A combination whose run raises is counted in ``failed``; one whose objective
    is not a finite number (a Sharpe ratio without trades) ranks last.

    Args:
        strategy_class: The `Strategy` subclass to optimise.
        feed: The data (loaded once and shipped to each worker once).
        space: Parameter name -> a list of values, `IntRange`, `FloatRange` or `Choice`.
        objective: A statistic of `Result.stats` or a function ``Result -> float``.
        maximize: Whether larger objective values are better.
        constraint: ``params -> bool``; combinations where it is False are pruned.
        method: ``"grid"`` (every combination), ``"random"`` (``trials`` seeded draws,
            repeats evaluated once) or ``"optuna"`` (optuna's seeded TPE sampler, ``trials``
            trials proposed eight at a time, pruned ones included).
        trials: Draws or trials of random and optuna search (default 50).
        seed: Seed of random and optuna search.
        executor: ``None`` (a local process pool on every core; in process below four
            combinations), ``"serial"``, a `concurrent.futures.Executor`, or a
            ``dask.distributed.Client``.
        progress: Progress bar: ``None`` shows one on a terminal for larger sweeps, ``True``
            always, ``False`` never.
        broker_factory: Builds the broker of each run (default ``BacktestBroker()``).
        risk: Risk policy, copied for each run.
        warmup: Leading bars that are history only (see `Engine`).
        evaluator: Replaces the event-driven `EventEvaluator` (e.g. a vectorised one).

    Returns:
        The `OptimizationResult`.

    Raises:
        ConfigError: If the space, objective, method, constraint or executor is invalid, the
            strategy rejects a combination, the constraint prunes everything, or every
            combination fails.

    Examples:
        >>> from quantkit import SmaCross, sample_feed
        >>> found = optimize(
        ...     SmaCross, sample_feed(end="2021-03-01"), {"fast": [5, 10], "slow": [20, 40]},
        ...     executor="serial",
        ... )
        >>> len(found.frame), sorted(found.best_params)
        (4, ['fast', 'slow'])
    """
    dims = normalize_space(strategy_class, space)
    check_objective(objective)
    if constraint is not None and not callable(constraint):
        raise ConfigError(f"optimize: constraint must be callable, got {constraint!r}")
    count = _trials(method, trials)
    data = load_data(feed, "optimize")
    rerun = EventEvaluator(
        strategy_class, objective, broker_factory=broker_factory, risk=risk, warmup=warmup
    )
    payload = Payload(evaluator if evaluator is not None else rerun, data)
    if method == "optuna":
        points, outcomes, pruned = _optuna(
            strategy_class, dims, payload, count, seed, maximize, constraint, executor, progress
        )
    else:
        drawn = grid_points(dims) if method == "grid" else random_points(dims, count, seed)
        points, pruned = check_combinations(strategy_class, drawn, constraint)
        if not points:
            raise ConfigError(
                f"optimize: the constraint pruned all {pruned} combinations; nothing to run"
            )
        with (
            open_runner(executor, payload, len(points)) as runner,
            progress_bar(show_progress(progress, len(points)), len(points), "optimize") as bar,
        ):
            outcomes = _run(runner, points, bar.update)
    return build_optimization_result(
        points, outcomes, objective=objective, maximize=maximize, pruned=pruned,
        method=method, rerun=rerun, data=data,
    )  # fmt: skip


def _trials(method: str, trials: int | None) -> int:
    if method not in ("grid", "random", "optuna"):
        raise ConfigError(f"optimize: method must be 'grid', 'random' or 'optuna', got {method!r}")
    if trials is None:
        return DEFAULT_TRIALS
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"optimize: trials must be an integer >= 1, got {trials!r}")
    return trials


def _run(runner: Runner, points: Sequence[Params], done: Callable[[int], None]) -> list[Outcome]:
    batches = make_batches(points, runner.workers)
    return [outcome for batch in runner.map(batches, done) for outcome in batch]


# -- optuna -------------------------------------------------------------------------------------


def _optuna(
    strategy_class: type[Strategy],
    dims: Mapping[str, Dimension],
    payload: Payload,
    trials: int,
    seed: int | None,
    maximize: bool,
    constraint: Constraint | None,
    executor: ExecutorLike,
    progress: bool | None,
) -> tuple[list[Params], list[Outcome], int]:
    import optuna  # noqa: PLC0415 - heavy, loaded only for this method
    from optuna.trial import TrialState  # noqa: PLC0415

    sampler = optuna.samplers.TPESampler(seed=seed)
    points: list[Params] = []
    outcomes: list[Outcome] = []
    pruned = 0
    with (
        _quiet_optuna(optuna),
        open_runner(executor, payload, trials) as runner,
        progress_bar(show_progress(progress, trials), trials, "optimize (optuna)") as bar,
    ):
        study = optuna.create_study(
            direction="maximize" if maximize else "minimize", sampler=sampler
        )
        asked = 0
        while asked < trials:
            proposed = [study.ask() for _ in range(min(OPTUNA_BATCH, trials - asked))]
            asked += len(proposed)
            ready: list[tuple[optuna.trial.Trial, Params]] = []
            for trial in proposed:
                params = {name: _suggest(trial, name, dim) for name, dim in dims.items()}
                if constraint is not None and not _keep(constraint, params):
                    study.tell(trial, state=TrialState.PRUNED)
                    pruned += 1
                    bar.update(1)
                    continue
                check_params(strategy_class, params)
                ready.append((trial, params))
            results = _run(runner, [p for _, p in ready], bar.update)
            for (trial, params), outcome in zip(ready, results, strict=True):
                row = outcome[0]
                value = math.nan if row is None else float(row.get(OBJECTIVE, math.nan))
                if math.isfinite(value):
                    study.tell(trial, value)
                else:
                    study.tell(trial, state=TrialState.FAIL)
                points.append(params)
                outcomes.append(outcome)
    if not points:
        raise ConfigError(f"optimize: the constraint pruned all {pruned} trials; nothing to run")
    return points, outcomes, pruned


def _keep(constraint: Constraint, params: Params) -> bool:
    try:
        return bool(constraint(dict(params)))
    except Exception as exc:
        raise ConfigError(f"optimize: the constraint failed on {params}: {exc!r}") from exc


def _suggest(trial: optuna.trial.Trial, name: str, dim: Dimension) -> Any:
    if isinstance(dim, IntRange):
        return trial.suggest_int(name, dim.low, dim.high, step=dim.step)
    if isinstance(dim, FloatRange):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        return trial.suggest_categorical(name, list(dim.values))
    raise AssertionError(dim)  # pragma: no cover - Dimension is one of the three


@contextmanager
def _quiet_optuna(optuna: Any) -> Iterator[None]:
    """Silence optuna's per-trial INFO lines while the search runs, then restore its level."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)
