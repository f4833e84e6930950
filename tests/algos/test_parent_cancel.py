"""Cancel and amend of a parent order reach its working child."""

from __future__ import annotations

import pytest

from quantkit import Strategy
from quantkit.algos import ParentOrder, ParentStatus
from quantkit.errors import OrderError, UsageError
from tests.algos.helpers import flat_rows, run
from tests.builders import HOUR, T0


def _at(index: int, action: str, **kwargs: float):  # type: ignore[no-untyped-def]
    def then(strategy: Strategy, bar: int) -> None:
        if bar == index:
            parent = strategy.parent  # type: ignore[attr-defined]
            getattr(strategy, action)(parent, **kwargs)

    return then


def test_cancel_stops_the_schedule_and_cancels_the_working_child() -> None:
    # limit children 2 % below (98) never fill; slices every 2 h; cancel at bar 1
    strategy, _ = run(
        flat_rows(8),
        lambda s: s.twap("buy", 1.0, horizon="6h", slices=3, limit_offset=0.02),
        then=_at(1, "cancel_parent"),
    )
    parent = strategy.parent
    assert parent is not None
    assert parent.status is ParentStatus.CANCELED and parent.reason == "canceled by the strategy"
    assert parent.ended_at == T0 + 2 * HOUR
    assert [str(c.status) for c in parent.children] == ["canceled"]  # slice 1 was not due yet
    assert parent.children[0].amount == pytest.approx(1 / 3)


def test_a_canceled_market_twap_places_nothing_more() -> None:
    strategy, _ = run(
        flat_rows(8),
        lambda s: s.twap("buy", 1.0, horizon="4h", slices=4),
        then=_at(2, "cancel_parent"),
    )
    parent = strategy.parent
    assert parent is not None
    # slices at bars 0 and 1 filled (bars 1 and 2); the cancel at bar 2 comes after bar 2's
    # slice was placed (parents act before the strategy): that child is canceled
    assert [str(c.status) for c in parent.children] == ["filled", "filled", "canceled"]
    assert parent.filled == pytest.approx(0.5) and parent.status is ParentStatus.CANCELED


def test_amend_cuts_the_working_child_to_the_new_rest() -> None:
    # an iceberg of 1.0 showing 0.8 at 98 (never fills); amended to 0.5 at bar 1
    strategy, _ = run(
        flat_rows(4),
        lambda s: s.iceberg("buy", 1.0, display=0.8, limit=98.0),
        then=_at(1, "amend_parent", amount=0.5),
    )
    parent = strategy.parent
    assert parent is not None
    assert parent.amount == 0.5
    assert [c.amount for c in parent.children] == [0.5]  # amended in place by the simulator
    assert parent.status is ParentStatus.WORKING


def test_amend_moves_an_iceberg_child_to_the_new_limit_and_it_fills() -> None:
    strategy, _ = run(
        flat_rows(6),
        lambda s: s.iceberg("buy", 1.0, display=1.0, limit=98.0),
        then=_at(1, "amend_parent", limit=100.0),
    )
    parent = strategy.parent
    assert parent is not None
    child = parent.children[0]
    assert child.request.limit_price == 100.0 and str(child.status) == "filled"
    assert parent.status is ParentStatus.FILLED


def test_bad_amends_and_handles_are_one_clear_error() -> None:
    def amend_to_zero(strategy: Strategy) -> ParentOrder:
        parent = strategy.iceberg("buy", 1.0, display=0.5, limit=98.0)
        strategy.amend_parent(parent, amount=0.0)
        return parent

    with pytest.raises(OrderError, match="amount must be a finite number above what filled"):
        run(flat_rows(3), amend_to_zero)

    def cancel_string(strategy: Strategy) -> ParentOrder:
        strategy.cancel_parent("qk-000001")  # type: ignore[arg-type]
        raise AssertionError("unreachable")

    with pytest.raises(UsageError, match="cancel_parent\\(\\) takes the ParentOrder"):
        run(flat_rows(3), cancel_string)


def _cancel_child_at(index: int):  # type: ignore[no-untyped-def]
    def then(strategy: Strategy, bar: int) -> None:
        if bar == index:
            parent = strategy.parent  # type: ignore[attr-defined]
            strategy.cancel(parent.working_children[0])

    return then


def test_a_child_canceled_outside_its_parent_is_replaced_by_the_next_slice() -> None:
    # an iceberg's slice canceled (as a shutdown's cancel would) is placed again at the next
    # close; the parent keeps working
    strategy, _ = run(
        flat_rows(5),
        lambda s: s.iceberg("buy", 1.0, display=0.4, limit=98.0),
        then=_cancel_child_at(1),
    )
    parent = strategy.parent
    assert parent is not None
    assert [str(c.status) for c in parent.children] == ["canceled", "open"]
    assert [c.created_at for c in parent.children] == [T0 + HOUR, T0 + 3 * HOUR]
    assert parent.status is ParentStatus.WORKING and parent.remaining == 1.0


def test_a_twap_catches_up_a_child_canceled_outside_it_at_the_next_slice() -> None:
    strategy, _ = run(
        flat_rows(8),
        lambda s: s.twap("buy", 1.0, horizon="6h", slices=3, limit_offset=0.02),
        then=_cancel_child_at(1),
    )
    parent = strategy.parent
    assert parent is not None
    # slice 0 (1/3 at 98) canceled at bar 1; slice 1 at bar 2 asks 2/3 (its third and the
    # canceled one); slice 2 at bar 4 asks the rest
    amounts = [c.amount for c in parent.children]
    assert amounts == pytest.approx([1 / 3, 2 / 3, 1.0])
