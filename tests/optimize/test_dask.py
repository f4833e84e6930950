"""optimize on a real Dask cluster (two worker processes on 127.0.0.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from quantkit import SmaCross, sample_feed
from quantkit.optimize import EventEvaluator, IntRange, optimize
from quantkit.optimize.executor import Payload, make_batches, open_runner

distributed = pytest.importorskip("distributed")

FEED = sample_feed(end="2021-01-13")
SPACE = {"fast": [5, 10], "slow": [20, 30, 40]}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_results_equal_local_results(client: Any) -> None:
    local = optimize(SmaCross, FEED, SPACE, executor="serial")
    remote = optimize(SmaCross, FEED, SPACE, executor=client)
    pd.testing.assert_frame_equal(remote.frame, local.frame)
    assert remote.best_params == local.best_params


def test_dask_optuna_equals_local_optuna(client: Any) -> None:
    space = {"fast": IntRange(3, 12), "slow": IntRange(20, 40, step=5)}
    kwargs: dict[str, Any] = {"method": "optuna", "trials": 9, "seed": 5}
    local = optimize(SmaCross, FEED, space, executor="serial", **kwargs)
    remote = optimize(SmaCross, FEED, space, executor=client, **kwargs)
    pd.testing.assert_frame_equal(remote.frame, local.frame)


def _payload_keys(client: Any) -> dict[str, tuple[str, ...]]:
    return {
        str(key): tuple(workers)
        for key, workers in client.who_has().items()
        if str(key).startswith("Payload-")
    }


def test_the_data_is_scattered_once_to_every_worker(client: Any) -> None:
    payload = Payload(EventEvaluator(SmaCross), FEED.load())
    points = [{"fast": f, "slow": s} for f in (5, 10) for s in (20, 30, 40)]
    with open_runner(client, payload, len(points)) as runner:
        assert runner.workers == 2
        before = _payload_keys(client)
        batches = make_batches(points, runner.workers)
        assert len(batches) == 6  # several tasks ...
        outcomes = runner.map(batches, lambda n: None)
        after = _payload_keys(client)
    # ... but one copy of the data, on both workers before the first task, never sent again
    # (the same single key after the tasks; Dask's active memory manager may drop a replica
    # that no waiting task needs any more, so the holders afterwards are a subset)
    assert len(before) == 1
    (first,) = before.values()
    assert len(first) == 2
    assert after.keys() == before.keys()
    (holders,) = after.values()
    assert holders and set(holders) <= set(first)
    assert all(row is not None and error is None for batch in outcomes for row, error in batch)
    # released when the runner closes (the scheduler hears of it asynchronously)
    deadline = time.monotonic() + 60.0  # bounds a hang only
    released = threading.Event()
    while not released.wait(0.05) and time.monotonic() < deadline:
        if not _payload_keys(client):
            released.set()
    assert released.is_set()
