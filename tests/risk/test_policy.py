"""Decisions and the RiskChain: applied in order, resizes passed on, refusals stop the chain."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable

import pytest

from quantkit.domain.order import OrderRequest
from quantkit.errors import ConfigError
from quantkit.risk.policy import Decision, RiskAction, RiskChain, RiskContext, RiskPolicy

from .helpers import FakeContext, request


class Recording(RiskPolicy):
    """Applies ``decide`` and records each request it saw (in a log shared across policies)."""

    def __init__(
        self,
        label: str,
        log: list[tuple[str, OrderRequest]],
        decide: Callable[[OrderRequest, str], Decision] | None = None,
    ) -> None:
        self.label = label
        self.log = log
        self.decide = decide or Decision.approve
        self.resets = 0

    @property
    def name(self) -> str:
        return self.label

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        self.log.append((self.label, request))
        return self.decide(request, self.label)

    def reset(self) -> None:
        self.resets += 1


def resize_to(amount: float) -> Callable[[OrderRequest, str], Decision]:
    return lambda r, name: Decision.resize(
        dataclasses.replace(r, amount=amount), name, f"to {amount}"
    )


def reject(r: OrderRequest, name: str) -> Decision:
    return Decision.reject(name, "no")


def halt(r: OrderRequest, name: str) -> Decision:
    return Decision.halt(name, "stop everything")


# -- Decision ----------------------------------------------------------------------------------


def test_decision_constructors() -> None:
    original, smaller = request(amount=2.0), request(amount=1.0)
    approved = Decision.approve(original, "P")
    resized = Decision.resize(smaller, "P", "too big")
    rejected = Decision.reject("P", "no room")
    halted = Decision.halt("P", "drawdown")
    assert (approved.action, approved.request, approved.policy, approved.reason) == (
        RiskAction.APPROVE,
        original,
        "P",
        "",
    )
    assert (resized.action, resized.request, resized.reason) == (
        RiskAction.RESIZE,
        smaller,
        "too big",
    )
    assert (rejected.action, rejected.request, rejected.reason) == (
        RiskAction.REJECT,
        None,
        "no room",
    )
    assert (halted.action, halted.request, halted.reason) == (RiskAction.HALT, None, "drawdown")
    assert [d.allowed for d in (approved, resized, rejected, halted)] == [True, True, False, False]
    assert Decision.approve(original).policy == ""


def test_decisions_are_frozen() -> None:
    decision = Decision.reject("P", "no")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.reason = "yes"  # type: ignore[misc]


def test_decisions_built_field_by_field_behave_as_dataclasses() -> None:
    by_keyword = Decision(action=RiskAction.REJECT, request=None, policy="P", reason="no")
    by_position = Decision(RiskAction.REJECT, None, "P", "no")
    assert by_keyword == by_position == pickle.loads(pickle.dumps(by_position))
    assert hash(by_keyword) == hash(by_position)
    assert Decision(RiskAction.APPROVE, None) == Decision(RiskAction.APPROVE, None, "", "")
    assert dataclasses.replace(by_keyword, reason="yes").reason == "yes"
    assert repr(by_keyword) == (
        "Decision(action=<RiskAction.REJECT: 'reject'>, request=None, policy='P', reason='no')"
    )
    with pytest.raises(TypeError):
        Decision(RiskAction.APPROVE)  # type: ignore[call-arg]


def test_risk_actions_are_strings() -> None:
    assert [str(a) for a in RiskAction] == ["approve", "resize", "reject", "halt", "resume"]


def test_risk_policy_is_abstract_and_named_after_its_class() -> None:
    with pytest.raises(TypeError, match="abstract"):
        RiskPolicy()  # type: ignore[abstract]

    class Nothing(RiskPolicy):
        def check(self, request: OrderRequest, context: RiskContext) -> Decision:
            return Decision.approve(request, self.name)

    assert Nothing().name == "Nothing"
    assert Nothing().reset() is None


# -- RiskChain ---------------------------------------------------------------------------------


def test_a_chain_of_approvals_approves_the_original_request() -> None:
    log: list[tuple[str, OrderRequest]] = []
    chain = RiskChain([Recording("A", log), Recording("B", log), Recording("C", log)])
    original = request(amount=2.0)
    decision = chain.check(original, FakeContext())
    assert [label for label, _ in log] == ["A", "B", "C"]
    assert all(seen is original for _, seen in log)
    assert decision.action is RiskAction.APPROVE
    assert decision.request is original
    assert decision.policy == "RiskChain"


def test_a_resize_passes_the_smaller_request_on() -> None:
    log: list[tuple[str, OrderRequest]] = []
    chain = RiskChain([Recording("A", log, resize_to(1.5)), Recording("B", log)])
    decision = chain.check(request(amount=4.0), FakeContext())
    assert [(label, seen.amount) for label, seen in log] == [("A", 4.0), ("B", 1.5)]
    assert decision.action is RiskAction.RESIZE
    assert decision.policy == "A"
    assert decision.reason == "to 1.5"
    assert decision.request is not None
    assert decision.request.amount == 1.5


def test_the_last_resize_wins() -> None:
    log: list[tuple[str, OrderRequest]] = []
    chain = RiskChain(
        [
            Recording("A", log, resize_to(3.0)),
            Recording("B", log, resize_to(2.0)),
            Recording("C", log),
        ]
    )
    decision = chain.check(request(amount=4.0), FakeContext())
    assert [(label, seen.amount) for label, seen in log] == [("A", 4.0), ("B", 3.0), ("C", 2.0)]
    assert (decision.action, decision.policy) == (RiskAction.RESIZE, "B")
    assert decision.request is not None
    assert decision.request.amount == 2.0


@pytest.mark.parametrize(
    ("refuse", "action"), [(reject, RiskAction.REJECT), (halt, RiskAction.HALT)]
)
def test_a_refusal_stops_the_chain(
    refuse: Callable[[OrderRequest, str], Decision], action: RiskAction
) -> None:
    log: list[tuple[str, OrderRequest]] = []
    chain = RiskChain(
        [Recording("A", log, resize_to(1.0)), Recording("B", log, refuse), Recording("C", log)]
    )
    decision = chain.check(request(amount=4.0), FakeContext())
    assert [label for label, _ in log] == ["A", "B"]
    assert decision.action is action
    assert decision.policy == "B"
    assert decision.request is None
    assert not decision.allowed


def test_an_empty_chain_approves() -> None:
    original = request()
    decision = RiskChain([]).check(original, FakeContext())
    assert (decision.action, decision.request) == (RiskAction.APPROVE, original)


def test_chains_nest() -> None:
    log: list[tuple[str, OrderRequest]] = []
    inner = RiskChain([Recording("A", log, resize_to(2.0)), Recording("B", log)])
    outer = RiskChain([inner, Recording("C", log)])
    decision = outer.check(request(amount=5.0), FakeContext())
    assert [(label, seen.amount) for label, seen in log] == [("A", 5.0), ("B", 2.0), ("C", 2.0)]
    assert decision.request is not None
    assert decision.request.amount == 2.0


def test_reset_resets_every_policy() -> None:
    log: list[tuple[str, OrderRequest]] = []
    first, second = Recording("A", log), Recording("B", log)
    RiskChain([first, RiskChain([second])]).reset()
    assert (first.resets, second.resets) == (1, 1)


@pytest.mark.parametrize("bad", [object(), "MaxPositionSize", RiskPolicy])
def test_a_chain_of_non_policies_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="is not a RiskPolicy"):
        RiskChain([Recording("A", []), bad])  # type: ignore[list-item]


def test_chain_repr_lists_its_policies() -> None:
    log: list[tuple[str, OrderRequest]] = []
    policy = Recording("A", log)
    assert repr(RiskChain([policy])) == f"RiskChain([{policy!r}])"
