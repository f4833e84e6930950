"""`optimize`: search a strategy's parameters by grid, random sampling or optuna's TPE."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import structlog

from quantkit.brokers.base import Broker
from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, LookAheadError, ParameterError
from quantkit.optimize.evaluate import (
    OBJECTIVE,
    Evaluator,
    EventEvaluator,
    FastEvaluator,
    Objective,
    check_objective,
    settings_broker,
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

    from quantkit.vector.run import FastSettings

__all__ = ["EngineChoice", "Method", "optimize"]

_log = structlog.get_logger("quantkit.optimize")

Method = Literal["grid", "random", "optuna"]
EngineChoice = Literal["auto", "event", "fast"]
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
    engine: EngineChoice = "auto",
    fast_settings: FastSettings | None = None,
    keep_returns: bool = True,
) -> OptimizationResult:
    """Search a strategy's parameters for the best value of an objective.

    Every combination is checked before anything runs: the ``constraint`` prunes some (they
    never run; `OptimizationResult.pruned` counts them) and the strategy must accept all the
    others, or a `ConfigError` names the first it rejects (exclude such combinations with the
    constraint). A combination whose run raises is counted in ``failed``; one whose objective
    is not a finite number (a Sharpe ratio without trades) ranks last.

    A `SignalStrategy` runs through the compiled fast path (``quantkit.vector``; the same
    fills as the Engine) unless the sweep needs the Engine: a ``broker_factory``, a ``risk``
    policy, a callable objective, or data the fast path does not take (several symbols,
    informative series): ``engine="auto"`` then falls back to the Engine and logs why.

    Every sweep keeps each combination's per-bar returns (float32) for its overfitting
    diagnostics, `OptimizationResult.overfitting` (deflated Sharpe ratio and PBO); a sweep of
    ``N`` combinations over ``T`` bars holds ``4 * T * N`` bytes of them
    (``keep_returns=False`` skips them).

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
        evaluator: Replaces the built-in evaluators (``engine`` is then ignored).
        engine: ``"auto"`` (the fast path for a `SignalStrategy` it supports, else the
            Engine), ``"event"`` (always the Engine) or ``"fast"`` (the fast path, or a
            `ConfigError`).
        fast_settings: Account and venue settings of the fast path (``FastSettings``; default
            those of ``BacktestBroker()``); `best_result` re-runs with the same settings.
            Not together with ``broker_factory``.
        keep_returns: Keep each combination's per-bar returns for the overfitting
            diagnostics.

    Returns:
        The `OptimizationResult`.

    Raises:
        ConfigError: If the space, objective, method, constraint, engine or executor is
            invalid, the strategy rejects a combination, the constraint prunes everything,
            every combination fails, or ``engine="fast"`` cannot run the sweep.

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
    fast = _fast_evaluator(
        strategy_class, objective, engine, evaluator, broker_factory, risk, fast_settings,
        warmup, keep_returns,
    )  # fmt: skip
    if fast_settings is not None:  # the Engine runs with the same settings
        broker_factory = functools.partial(settings_broker, fast_settings)
        warmup = warmup or fast_settings.warmup
    rerun = EventEvaluator(
        strategy_class, objective, broker_factory=broker_factory, risk=risk, warmup=warmup,
        keep_returns=keep_returns,
    )  # fmt: skip
    if method == "optuna":
        probes = _optuna_probes(strategy_class, dims, seed, constraint)
    else:
        drawn = grid_points(dims) if method == "grid" else random_points(dims, count, seed)
        points, pruned = check_combinations(strategy_class, drawn, constraint)
        if not points:
            raise ConfigError(
                f"optimize: the constraint pruned all {pruned} combinations; nothing to run"
            )
        probes = points[:1]
    first: list[Outcome] = []
    if fast is not None:
        supported, first = _probe(fast, data, probes, engine)
        if not supported:
            fast = None
    chosen: Evaluator = evaluator or fast or rerun
    used = "custom" if evaluator is not None else "fast" if fast is not None else "event"
    payload = Payload(chosen, data)
    if method == "optuna":
        points, outcomes, pruned = _optuna(
            strategy_class, dims, payload, count, seed, maximize, constraint, executor, progress
        )
    else:
        rest = points[len(first) :]
        with (
            open_runner(executor, payload, len(rest)) as runner,
            progress_bar(show_progress(progress, len(points)), len(points), "optimize") as bar,
        ):
            bar.update(len(first))
            outcomes = first + (_run(runner, rest, bar.update) if rest else [])
    return build_optimization_result(
        points, outcomes, objective=objective, maximize=maximize, pruned=pruned,
        method=method, rerun=rerun, data=data, engine=used,
    )  # fmt: skip


def _fast_evaluator(
    strategy_class: type[Strategy],
    objective: Objective,
    engine: str,
    evaluator: Evaluator | None,
    broker_factory: Callable[[], Broker] | None,
    risk: RiskPolicy | None,
    settings: FastSettings | None,
    warmup: int,
    keep_returns: bool,
) -> FastEvaluator | None:
    """The fast-path evaluator the sweep should try, or None for the Engine (and why, logged)."""
    from quantkit.vector.strategy import SignalStrategy  # noqa: PLC0415 - import cycle

    if engine not in ("auto", "event", "fast"):
        raise ConfigError(f"optimize: engine must be 'auto', 'event' or 'fast', got {engine!r}")
    if settings is not None and broker_factory is not None:
        raise ConfigError(
            "optimize: give fast_settings= or broker_factory=, not both (fast_settings also "
            "builds the broker of best_result)"
        )
    _check_settings(settings)
    if evaluator is not None or engine == "event":
        return None
    if not (isinstance(strategy_class, type) and issubclass(strategy_class, SignalStrategy)):
        if engine == "fast":
            raise ConfigError(
                f"optimize: engine='fast' needs a SignalStrategy, got {strategy_class.__name__} "
                "(strategies with their own on_bar run on the Engine)"
            )
        return None  # the ordinary case: nothing to note
    reason = None
    if broker_factory is not None:
        reason = "a broker_factory needs the Engine (give fast_settings= instead)"
    elif risk is not None:
        reason = "risk policies need the Engine"
    elif callable(objective):
        reason = "a callable objective is a function of the Engine's Result"
    if reason is None:
        return FastEvaluator(
            strategy_class, objective, settings=settings, warmup=warmup, keep_returns=keep_returns
        )
    if engine == "fast":
        raise ConfigError(f"optimize: engine='fast' cannot run this sweep: {reason}")
    _log.info("optimize_engine", engine="event", reason=reason)
    return None


def _check_settings(settings: object) -> None:
    if settings is not None:
        from quantkit.vector.run import FastSettings  # noqa: PLC0415 - numpy only, no numba

        if not isinstance(settings, FastSettings):
            raise ConfigError(f"optimize: fast_settings must be a FastSettings, got {settings!r}")


def _probe(
    fast: FastEvaluator, data: Mapping[str, BarSeries], probes: Sequence[Params], engine: str
) -> tuple[bool, list[Outcome]]:
    """Run the first combination on the fast path: whether it can, and the outcome to keep.

    With ``engine="auto"`` a `ConfigError` of the fast path is a logged note and the sweep
    runs on the Engine; with ``engine="fast"`` it is raised.
    """
    if not probes:
        return True, []
    try:
        row = fast(data, probes[0])
    except (LookAheadError, ParameterError) as exc:  # the Engine would raise them too
        return True, [(None, f"{type(exc).__name__}: {exc}")]
    except ConfigError as exc:
        if engine == "fast":
            raise ConfigError(f"optimize: engine='fast' cannot run this sweep: {exc}") from exc
        _log.info("optimize_engine", engine="event", reason=str(exc))
        return False, []
    except Exception as exc:  # a failing combination, as run_batch records it
        return True, [(None, f"{type(exc).__name__}: {exc}")]
    return True, [(row, None)]


def _optuna_probes(
    strategy_class: type[Strategy],
    dims: Mapping[str, Dimension],
    seed: int | None,
    constraint: Constraint | None,
) -> list[Params]:
    """A combination to try the fast path with before an optuna search (none if none is valid)."""
    for params in random_points(dims, OPTUNA_BATCH, seed):
        if constraint is not None and not _keep(constraint, params):
            continue
        try:
            check_params(strategy_class, params)
        except ConfigError:
            continue
        return [params]
    return []


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
