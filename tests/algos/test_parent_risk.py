"""Risk policies see a parent once (its whole amount) and each child (rate limits)."""

from __future__ import annotations

import pytest

from quantkit import MaxPositionSize, OrderRateLimit
from quantkit.algos import ParentStatus
from quantkit.domain.order import OrderRequest
from quantkit.risk.policy import Decision, RiskAction, RiskContext, RiskPolicy
from tests.algos.helpers import flat_rows, run
from tests.builders import T0


def test_one_decision_resizes_the_whole_parent_and_each_child_is_checked() -> None:
    strategy, result = run(
        flat_rows(8),
        lambda s: s.twap("buy", 1.0, horizon="4h", slices=4),
        risk=MaxPositionSize(max_amount=0.6),
    )
    parent = strategy.parent
    assert parent is not None
    assert parent.amount == pytest.approx(0.6)  # resized once, on the whole amount
    assert [c.amount for c in parent.children] == pytest.approx([0.15] * 4)
    events = result.risk_events
    assert list(events["client_id"]) == ["qk-000001"] + [f"qk-000001-{n}" for n in (1, 2, 3, 4)]
    assert events["action"].iloc[0] == "resize"
    assert parent.status is ParentStatus.FILLED


def test_the_parent_decision_values_a_limited_parent_at_its_limit() -> None:
    strategy, _ = run(
        flat_rows(4),
        lambda s: s.twap("buy", 1.0, horizon="4h", slices=4, limit=50.0),
        risk=MaxPositionSize(max_notional=10.0),
    )
    parent = strategy.parent
    assert parent is not None
    assert parent.amount == pytest.approx(0.2)  # 10 / 50, the parent's limit price


class RefusesParents(RiskPolicy):
    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        if request.tag.startswith("parent:"):
            return Decision.reject(self.name, "no algorithms today")
        return Decision(RiskAction.APPROVE, request, self.name)


def test_a_refused_parent_places_no_child_and_says_why() -> None:
    strategy, result = run(
        flat_rows(4),
        lambda s: s.iceberg("buy", 1.0, display=0.5, limit=100.0),
        risk=RefusesParents(),
    )
    parent = strategy.parent
    assert parent is not None
    assert parent.status is ParentStatus.REJECTED and parent.children == []
    assert parent.reason == "risk: RefusesParents: no algorithms today"
    assert result.orders.empty
    assert result.parents["status"].tolist() == ["rejected"]


def test_rate_limits_count_children_not_the_parent() -> None:
    # 2 orders per 10 h: children 1 and 2 pass, 3 and 4 are refused; the parent takes no slot
    strategy, result = run(
        flat_rows(8),
        lambda s: s.twap("buy", 1.0, horizon="4h", slices=4),
        risk=OrderRateLimit(max_orders=2, per_seconds=36_000),
    )
    parent = strategy.parent
    assert parent is not None
    statuses = [str(c.status) for c in parent.children]
    assert statuses == ["filled", "filled", "rejected", "rejected"]
    assert "OrderRateLimit" in parent.children[2].reason
    assert parent.filled == pytest.approx(0.5)
    assert parent.status is ParentStatus.EXPIRED
    assert result.orders["created_at"].iloc[0].value == parent.children[0].created_at
    assert parent.created_at == T0 + 3_600_000_000_000
