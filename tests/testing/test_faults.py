"""FaultPlan and RequestLog on their own: queue order, validation, waiting."""

from __future__ import annotations

import doctest
import importlib
import threading

import pytest

from quantkit.errors import ConfigError
from quantkit.testing import LOOKUP_PATHS, Fault, FaultPlan, RequestLog, RequestRecord
from quantkit.testing.random_faults import CHAOS_FAULTS, RandomFaults


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
        "quantkit.testing.fees",
        "quantkit.testing.filters",
        "quantkit.testing.random_faults",
        "quantkit.testing.server_clock",
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


def test_faults_match_method_and_any_of_several_paths() -> None:
    plan = FaultPlan()
    plan.server_error("/api/v3/order", method="DELETE")
    plan.fail(LOOKUP_PATHS, method="GET", status=503)
    assert plan.take("/api/v3/order", "POST") is None  # a create is not a cancel
    assert plan.take("/api/v3/myTrades", "GET") == Fault(
        "status", LOOKUP_PATHS, status=503, method="GET"
    )
    assert plan.take("/api/v3/order", "DELETE") == Fault(
        "status", "/api/v3/order", status=500, method="DELETE"
    )
    assert plan.pending == 0


def test_a_span_fault_answers_every_request_until_its_clock_runs_out() -> None:
    now = [10.0]
    plan = FaultPlan(clock=lambda: now[0])
    plan.fail("/x", status=503, for_seconds=30)
    assert [plan.take("/x") is not None for _ in range(5)] == [True] * 5
    assert plan.pending == 1
    now[0] = 39.99
    assert plan.take("/x") is not None
    now[0] = 40.0
    assert (plan.take("/x"), plan.pending) == (None, 0)


def test_fault_kinds_are_labelled_for_the_request_log() -> None:
    plan = FaultPlan()
    plan.server_error(acted=True)
    plan.timeout(seconds=2)
    plan.timeout(acted=True, seconds=2)
    plan.disconnect()
    plan.disconnect(acted=True)
    plan.unknown_outcome(execute_after=None)
    plan.unknown_outcome(execute_after=1.5)
    plan.overloaded()
    plan.half_replace()
    plan.half_replace(unknown=True, execute_after=0.5)
    labels = [plan.take("/api/v3/order/cancelReplace").describe() for _ in range(10)]
    assert labels == [
        "accept then 500",
        "hold 2s then 504",
        "accept then 504",
        "drop",
        "accept then drop",
        "-1007, executes never",
        "-1007, executes 1.5s",
        "503",
        "cancel only, new order refused",
        "cancel only, new order unknown, executes 0.5s",
    ]


def test_random_faults_keep_their_rate_and_their_sequence() -> None:
    chaos, again = RandomFaults(0.1, CHAOS_FAULTS, seed="s"), RandomFaults(0.1, CHAOS_FAULTS, "s")
    first = [chaos.draw("/p", "GET") for _ in range(5000)]
    assert first == [again.draw("/p", "GET") for _ in range(5000)]  # same seed, same draws
    rate = sum(f is not None for f in first) / len(first)
    assert 0.08 < rate < 0.12, rate  # binomial sd at n=5000: 0.004
    assert {f.kind for f in first if f is not None} == {f.kind for f in CHAOS_FAULTS}
    plan = FaultPlan()
    plan.fail("/p", status=418)
    plan.randomly(RandomFaults(1.0, [Fault("status", "/q", status=500)], seed="t").draw)
    assert [plan.take("/p"), plan.take("/q"), plan.take("/r")] == [
        Fault("status", "/p", status=418),  # a planned fault comes first
        Fault("status", "/q", status=500),
        None,  # no random fault matches
    ]
    plan.randomly(None)
    assert plan.take("/q") is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RandomFaults(1.5, CHAOS_FAULTS, seed="x"), "rate must be within"),
        (lambda: RandomFaults(0.1, [], seed="x"), "at least one fault"),
        (lambda: FaultPlan().fail(status=500, for_seconds=-1), "for_seconds must be >= 0"),
        (lambda: FaultPlan().unknown_outcome(execute_after=-1), "execute_after must be >= 0"),
        (lambda: FaultPlan().timeout(seconds=-1), "seconds must be >= 0"),
        (lambda: FaultPlan().server_error(status=200), "HTTP error status"),
    ],
)
def test_bad_new_faults_are_config_errors(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]
