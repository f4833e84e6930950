"""FaultPlan and RequestLog on their own: queue order, validation, waiting."""

from __future__ import annotations

import doctest
import importlib
import threading

import pytest

from quantkit.errors import ConfigError
from quantkit.testing import Fault, FaultPlan, RequestLog, RequestRecord


def test_faults_are_used_in_order_per_path() -> None:
    plan = FaultPlan()
    plan.rate_limit("/a", times=2, retry_after=None)
    plan.truncate("/a", keep=3)
    plan.delay(seconds=0.5)  # any path
    assert plan.pending == 4
    assert plan.take("/b") == Fault("delay", None, seconds=0.5)
    assert [plan.take("/a") for _ in range(3)] == [
        Fault("status", "/a", status=429),
        Fault("status", "/a", status=429),
        Fault("truncate", "/a", keep=3),
    ]
    assert plan.take("/a") is None
    assert plan.pending == 0


def test_clear_drops_every_fault() -> None:
    plan = FaultPlan()
    plan.fail(status=500, times=3)
    plan.clear()
    assert (plan.pending, plan.take("/x")) == (0, None)


@pytest.mark.parametrize(
    ("plan_it", "message"),
    [
        (lambda p: p.fail(status=200), "HTTP error status"),
        (lambda p: p.fail(status=500, times=0), "times must be at least 1"),
        (lambda p: p.delay(seconds=-1), "seconds must be >= 0"),
        (lambda p: p.truncate(keep=-1), "keep must be >= 0"),
    ],
)
def test_bad_faults_are_config_errors(plan_it: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_it(FaultPlan())  # type: ignore[operator]


def test_fault_labels() -> None:
    assert Fault("status", status=503).describe() == "503"
    assert Fault("delay", seconds=1.5).describe() == "delay 1.5s"
    assert Fault("truncate", keep=0).describe() == "truncate 0"


def test_the_log_filters_clears_and_wakes_waiters() -> None:
    log = RequestLog()
    waiter_saw: list[int] = []
    ready = threading.Event()

    def wait() -> None:
        ready.set()
        waiter_saw.append(len(log.wait_for(2, path="/b", timeout=10)))

    thread = threading.Thread(target=wait)
    thread.start()
    ready.wait()
    log.add(RequestRecord("GET", "/a"))
    log.add(RequestRecord("GET", "/b"))
    log.add(RequestRecord("GET", "/b", {"x": "1"}, 2.0, "500"))
    thread.join()
    assert waiter_saw == [2]
    assert [r.path for r in log.records()] == ["/a", "/b", "/b"]
    assert log.records("/b")[1].query == {"x": "1"}
    log.clear()
    assert log.records() == []


@pytest.mark.parametrize(
    "name",
    [
        "quantkit.testing.faults",
        "quantkit.testing.market_data",
        "quantkit.testing.local_exchange",
        "quantkit.exchanges.errors",
        "quantkit.exchanges.parse",
        "quantkit.exchanges.ccxt_exchange",
        "quantkit.data.fetch",
    ],
)
def test_the_examples_in_the_docstrings_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
