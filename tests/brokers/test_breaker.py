"""The circuit breaker: every transition on a hand-driven clock, and its safety properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from quantkit.brokers.breaker import BreakerState, CircuitBreaker
from quantkit.errors import ConfigError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read the state afresh (mypy would keep the narrowed value of ``breaker.state``)."""
    return breaker.state


def make(failures: int = 3, reset_after: float = 10.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(failures=failures, reset_after=reset_after, clock=clock), clock


def test_starts_closed_and_allows() -> None:
    breaker, _ = make()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.reason is None
    assert breaker.opened_at is None
    assert "closed" in repr(breaker)


def test_opens_after_consecutive_failures_only() -> None:
    breaker, clock = make(failures=3)
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    breaker.record_success()  # resets the count
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    assert state_of(breaker) is BreakerState.CLOSED
    with capture_logs() as logs:
        breaker.record_failure("rate limited")
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.opened_at == clock.now
    assert breaker.reason == "3 consecutive failures, last: rate limited"
    assert not breaker.allow()
    assert logs == [
        {
            "event": "circuit_breaker_opened",
            "log_level": "warning",
            "name": "orders",
            "state": "open",
            "reason": "3 consecutive failures, last: rate limited",
        }
    ]


def test_half_open_after_reset_lets_one_trial_through() -> None:
    breaker, clock = make(failures=1, reset_after=10.0)
    breaker.record_failure("down")
    clock.now += 9.999
    assert not breaker.allow()
    assert state_of(breaker) is BreakerState.OPEN
    clock.now += 0.001
    with capture_logs() as logs:
        assert state_of(breaker) is BreakerState.HALF_OPEN
    assert [log["event"] for log in logs] == ["circuit_breaker_half_open"]
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()
    assert breaker.reason == "1 consecutive failures, last: down"


def test_successful_trial_closes() -> None:
    breaker, clock = make(failures=2)
    breaker.record_failure("a")
    breaker.record_failure("b")
    clock.now += 10
    assert breaker.allow()
    with capture_logs() as logs:
        breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.opened_at is None
    assert breaker.reason is None
    assert logs[0]["event"] == "circuit_breaker_closed"
    assert logs[0]["reason"] == "trial call succeeded"
    # the count starts again from zero
    breaker.record_failure("c")
    assert state_of(breaker) is BreakerState.CLOSED


def test_failed_trial_reopens_and_restarts_the_timer() -> None:
    breaker, clock = make(failures=2)
    breaker.record_failure("a")
    breaker.record_failure("b")
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure("still down")
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.opened_at == clock.now
    assert breaker.reason == "3 consecutive failures, last: still down"
    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()


def test_late_outcomes_while_open_change_nothing() -> None:
    breaker, clock = make(failures=1)
    breaker.record_failure("a")
    opened = breaker.opened_at
    breaker.record_success()  # a call sent before it opened
    assert state_of(breaker) is BreakerState.OPEN
    clock.now += 3
    breaker.record_failure("late")
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.opened_at == opened
    assert breaker.reason == "2 consecutive failures, last: late"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"failures": 0}, "failures must be an integer >= 1"),
        ({"failures": True}, "failures must be an integer"),
        ({"failures": 2.0}, "failures must be an integer"),
        ({"reset_after": 0}, "reset_after must be a positive"),
        ({"reset_after": float("inf")}, "reset_after must be a positive"),
        ({"reset_after": "60"}, "reset_after must be a positive"),
        ({"reset_after": False}, "reset_after must be a positive"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        CircuitBreaker(name="venue", **kwargs)  # type: ignore[arg-type]
    assert "'venue'" in str(info.value)


Action = tuple[str, float]
actions = st.lists(
    st.one_of(
        st.tuples(st.just("allow"), st.just(0.0)),
        st.tuples(st.just("success"), st.just(0.0)),
        st.tuples(st.just("failure"), st.just(0.0)),
        st.tuples(st.just("wait"), st.floats(min_value=0.0, max_value=15.0)),
    ),
    max_size=80,
)


@given(actions=actions, failures=st.integers(1, 4))
def test_never_more_than_one_trial_and_nothing_before_reset(
    actions: list[Action], failures: int
) -> None:
    breaker, clock = make(failures=failures, reset_after=10.0)
    trials = 0
    with capture_logs():
        for kind, amount in actions:
            before = breaker.state
            if kind == "wait":
                clock.now += amount
            elif kind == "success":
                breaker.record_success()
                trials = 0
            elif kind == "failure":
                breaker.record_failure("x")
                trials = 0
            else:
                opened_at = breaker.opened_at
                allowed = breaker.allow()
                if before is BreakerState.OPEN and clock.now - (opened_at or 0.0) < 10.0:
                    assert not allowed
                if breaker.state is BreakerState.HALF_OPEN and allowed:
                    trials += 1
                    assert trials <= 1
                if breaker.state is BreakerState.CLOSED:
                    assert allowed
