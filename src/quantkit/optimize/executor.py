"""Where evaluations run: in process, in a local process pool, any Executor, or on Dask.

The bars go to each worker once: a process pool receives them through its initializer (a
module-level global set in each worker process), a Dask cluster through
``client.scatter(..., broadcast=True)`` with every task taking the scattered handle. Tasks are
batches of combinations, and results come back in submission order whatever order they finish.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import pickle
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError
from quantkit.optimize.evaluate import Evaluator

__all__ = [
    "ExecutorLike",
    "Outcome",
    "Payload",
    "Runner",
    "make_batches",
    "open_runner",
    "progress_bar",
    "run_batch",
    "show_progress",
]

Params = dict[str, Any]
Outcome = tuple[dict[str, Any] | None, str | None]
"""One combination's statistics, or None and the error it raised."""

ExecutorLike = Executor | str | Any
"""``None``/``"serial"``, a `concurrent.futures.Executor`, or a ``dask.distributed.Client``."""

# Below this many combinations, executor=None evaluates in process (a pool costs more).
_SERIAL_BELOW = 4
# Batches per worker: enough to balance uneven runs, few enough to amortise task overhead.
_BATCHES_PER_WORKER = 4
# executor=None / progress=None: show a bar for sweeps of at least this many combinations.
PROGRESS_MIN_COMBINATIONS = 16


@dataclass(frozen=True, eq=False)
class Payload:
    """What every worker needs, shipped once: the evaluator and the bars.

    Attributes:
        evaluator: Evaluates one combination.
        data: The bars, by symbol.
    """

    evaluator: Evaluator
    data: Mapping[str, BarSeries]

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "evaluator", state["evaluator"])
        object.__setattr__(self, "data", {k: _owned(s) for k, s in state["data"].items()})


def _owned(series: BarSeries) -> BarSeries:
    """A series whose columns own their memory (copied once, on arrival in a worker).

    Arrays rebuilt from Dask's network frames are views over a buffer that exports the
    format ``'=q'``, which ``memoryview`` cannot index; the engine reads columns through
    memoryviews, so such views are copied into arrays of their own.
    """
    times = (series.open_time, series.close_time)
    prices = (series.open, series.high, series.low, series.close, series.volume)
    if all(c.flags.owndata for c in (*times, *prices)):
        return series
    return BarSeries(
        series.symbol,
        series.timeframe,
        series.open_time.copy(),
        series.close_time.copy(),
        *(c.copy() for c in prices),
    )


def run_batch(payload: Payload, batch: Sequence[Params]) -> list[Outcome]:
    """Evaluate a batch of combinations; an error fails its combination, not the batch.

    Args:
        payload: The evaluator and the bars.
        batch: The combinations.

    Returns:
        One outcome per combination, in order.
    """
    out: list[Outcome] = []
    for params in batch:
        try:
            out.append((payload.evaluator(payload.data, params), None))
        except Exception as exc:
            out.append((None, f"{type(exc).__name__}: {exc}"))
    return out


# Set once in each worker process of a local pool by its initializer.
_WORKER_PAYLOAD: Payload | None = None


def _init_worker(blob: bytes) -> None:
    global _WORKER_PAYLOAD  # noqa: PLW0603 - the per-process copy of the shipped data
    _WORKER_PAYLOAD = pickle.loads(blob)


def _run_in_worker(batch: Sequence[Params]) -> list[Outcome]:
    if _WORKER_PAYLOAD is None:  # pragma: no cover - the initializer always ran
        raise AssertionError("worker payload missing: the pool initializer did not run")
    return run_batch(_WORKER_PAYLOAD, batch)


def _dumps(obj: object) -> bytes:
    """Pickle with cloudpickle when installed (lambdas and notebook classes travel too)."""
    dumps: Callable[..., bytes]
    try:
        dumps = importlib.import_module("cloudpickle").dumps  # comes with dask
    except ImportError:  # pragma: no cover - cloudpickle is installed with the test extra
        dumps = pickle.dumps
    try:
        return dumps(obj, protocol=5)
    except Exception as exc:
        raise ConfigError(
            f"optimize: cannot send the evaluator to worker processes ({exc}); define the "
            "strategy, objective and broker_factory at module level, or use executor='serial'"
        ) from exc


class Runner(ABC):
    """Runs batches of combinations somewhere and returns their outcomes in order.

    Attributes:
        workers: How many batches can run at once.
    """

    workers: int = 1

    @abstractmethod
    def map(
        self, batches: Sequence[Sequence[Params]], done: Callable[[int], None]
    ) -> list[list[Outcome]]:
        """Evaluate batches; call ``done(len(batch))`` as each one is collected.

        Args:
            batches: The batches.
            done: Progress callback.

        Returns:
            The outcomes of each batch, in the order of ``batches``.
        """

    def close(self) -> None:
        """Release what the runner holds (its pool, its scattered data)."""


class SerialRunner(Runner):
    """Evaluates in the calling process."""

    def __init__(self, payload: Payload) -> None:
        self._payload = payload

    def map(
        self, batches: Sequence[Sequence[Params]], done: Callable[[int], None]
    ) -> list[list[Outcome]]:
        """Evaluate batches one after the other (see `Runner.map`)."""
        out = []
        for batch in batches:
            out.append(run_batch(self._payload, batch))
            done(len(batch))
        return out


def _collect(
    futures: Sequence[Future[list[Outcome]]] | Sequence[Any],
    batches: Sequence[Sequence[Params]],
    done: Callable[[int], None],
) -> list[list[Outcome]]:
    out: list[list[Outcome]] = []
    for future, batch in zip(futures, batches, strict=True):
        out.append(future.result())
        done(len(batch))
    return out


class PoolRunner(Runner):
    """A process pool of its own whose workers receive the payload once, at start."""

    def __init__(self, payload: Payload, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(),
            initializer=_init_worker,
            initargs=(_dumps(payload),),
        )

    def map(
        self, batches: Sequence[Sequence[Params]], done: Callable[[int], None]
    ) -> list[list[Outcome]]:
        """Evaluate batches in the pool (see `Runner.map`)."""
        futures = [self._pool.submit(_run_in_worker, list(batch)) for batch in batches]
        return _collect(futures, batches, done)

    def close(self) -> None:
        """Shut the pool down."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class ExecutorRunner(Runner):
    """A user's `concurrent.futures.Executor`: the payload travels with each batch."""

    def __init__(self, payload: Payload, executor: Executor) -> None:
        self.workers = int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1)
        self._payload = payload
        self._executor = executor

    def map(
        self, batches: Sequence[Sequence[Params]], done: Callable[[int], None]
    ) -> list[list[Outcome]]:
        """Evaluate batches on the executor (see `Runner.map`)."""
        futures = [self._executor.submit(run_batch, self._payload, list(b)) for b in batches]
        return _collect(futures, batches, done)


class _DaskClient(Protocol):
    def scatter(self, data: Any, **kwargs: Any) -> Any: ...
    def submit(self, func: Any, *args: Any, **kwargs: Any) -> Any: ...
    def nthreads(self) -> Mapping[str, int]: ...
    def cancel(self, futures: Any) -> Any: ...


class DaskRunner(Runner):
    """A ``dask.distributed.Client``: the payload is scattered to every worker once."""

    def __init__(self, payload: Payload, client: _DaskClient) -> None:
        self._client = client
        self.workers = max(1, sum(client.nthreads().values()))
        self._handle = client.scatter(payload, broadcast=True, hash=False)

    def map(
        self, batches: Sequence[Sequence[Params]], done: Callable[[int], None]
    ) -> list[list[Outcome]]:
        """Evaluate batches on the cluster (see `Runner.map`)."""
        futures = [
            self._client.submit(run_batch, self._handle, list(batch), pure=False)
            for batch in batches
        ]
        return _collect(futures, batches, done)

    def close(self) -> None:
        """Release the scattered payload on the cluster."""
        self._client.cancel([self._handle])


def _is_dask_client(executor: object) -> bool:
    return all(callable(getattr(executor, n, None)) for n in ("scatter", "submit", "nthreads"))


@contextmanager
def open_runner(executor: ExecutorLike, payload: Payload, combinations: int) -> Iterator[Runner]:
    """Choose and open the runner for an executor argument.

    Args:
        executor: ``None`` (a process pool on all cores, or in process below 4 combinations),
            ``"serial"``, a `concurrent.futures.Executor`, or a ``dask.distributed.Client``.
        payload: The evaluator and the bars.
        combinations: How many combinations the sweep evaluates (first batch, for optuna).

    Yields:
        The runner; closed on exit.

    Raises:
        ConfigError: If ``executor`` is none of the above.
    """
    runner: Runner
    if executor == "serial" or (executor is None and combinations < _SERIAL_BELOW):
        runner = SerialRunner(payload)
    elif executor is None:
        runner = PoolRunner(payload, os.cpu_count() or 1)
    elif isinstance(executor, Executor):
        runner = ExecutorRunner(payload, executor)
    elif _is_dask_client(executor):
        runner = DaskRunner(payload, cast("_DaskClient", executor))
    else:
        raise ConfigError(
            f"optimize: executor must be None, 'serial', a concurrent.futures.Executor or a "
            f"dask.distributed.Client, got {executor!r}"
        )
    try:
        yield runner
    finally:
        runner.close()


def make_batches(points: Sequence[Params], workers: int) -> list[list[Params]]:
    """Split combinations into about four batches per worker, keeping their order.

    Args:
        points: The combinations.
        workers: How many run at once.

    Returns:
        The batches; concatenated they give ``points``.
    """
    size = max(1, math.ceil(len(points) / (max(1, workers) * _BATCHES_PER_WORKER)))
    return [list(points[i : i + size]) for i in range(0, len(points), size)]


def show_progress(progress: bool | None, combinations: int, stream: IO[str] | None = None) -> bool:
    """Decide whether a sweep shows a progress bar.

    Args:
        progress: ``False`` never, ``True`` always, ``None`` (auto) when ``stream`` is a
            terminal and the sweep has at least `PROGRESS_MIN_COMBINATIONS` combinations.
        combinations: How many combinations the sweep evaluates.
        stream: Where the bar would go (default: ``sys.stderr``).

    Returns:
        Whether to show it.
    """
    if progress is not None:
        return bool(progress)
    target = sys.stderr if stream is None else stream
    isatty = getattr(target, "isatty", None)
    terminal = bool(isatty()) if callable(isatty) else False
    return terminal and combinations >= PROGRESS_MIN_COMBINATIONS


class _NoBar:
    def update(self, n: int) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


@contextmanager
def progress_bar(enabled: bool, total: int, description: str) -> Iterator[Any]:
    """Open a tqdm bar on stderr, or an object with the same ``update`` that shows nothing.

    Args:
        enabled: Whether to show it (see `show_progress`).
        total: Number of combinations.
        description: Label of the bar.

    Yields:
        An object with ``update(n)``.
    """
    bar: Any
    if enabled:
        from tqdm.auto import tqdm  # noqa: PLC0415 - loaded only when shown

        bar = tqdm(total=total, desc=description, unit="combo", leave=False)
    else:
        bar = _NoBar()
    try:
        yield bar
    finally:
        bar.close()
