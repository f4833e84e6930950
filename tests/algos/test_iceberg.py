"""Iceberg parent orders in the backtest: display slices, refills after (partial) fills."""

from __future__ import annotations

import pytest

from quantkit import Strategy
from quantkit.algos import ParentStatus
from quantkit.algos.schedule import display_size
from quantkit.algos.specs import IcebergSpec
from quantkit.errors import OrderError
from tests.algos.helpers import flat_rows, free_broker, run
from tests.builders import HOUR, T0


def test_each_slice_is_placed_at_the_close_after_the_previous_one_filled() -> None:
    strategy, result = run(flat_rows(8), lambda s: s.iceberg("buy", 1.0, display=0.4, limit=100.0))
    parent = strategy.parent
    assert parent is not None
    children = parent.children
    assert [c.amount for c in children] == pytest.approx([0.4, 0.4, 0.2])  # the rest last
    assert [c.request.limit_price for c in children] == [100.0, 100.0, 100.0]
    assert [c.created_at for c in children] == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert all(str(c.status) == "filled" for c in children)
    assert parent.status is ParentStatus.FILLED and parent.filled == pytest.approx(1.0)
    assert parent.ended_at == T0 + 4 * HOUR
    assert list(result.orders["tag"]) == ["algo:qk-000001"] * 3


def test_a_partly_filled_slice_keeps_working_and_the_refill_waits_for_it() -> None:
    # the simulator fills at most 2 % of a bar's volume (10): 0.2 of each 0.4 slice per bar
    broker = free_broker(participation=0.02)
    strategy, _ = run(
        flat_rows(10), lambda s: s.iceberg("buy", 1.0, display=0.4, limit=100.0), broker=broker
    )
    parent = strategy.parent
    assert parent is not None
    children = parent.children
    # 0.4 placed at bar 0, fills 0.2 in bars 1 and 2; the next 0.4 at bar 2's close fills in
    # bars 3 and 4; the last 0.2 at bar 4's close fills in bar 5
    assert [c.amount for c in children] == pytest.approx([0.4, 0.4, 0.2])
    assert [c.created_at for c in children] == [T0 + HOUR, T0 + 3 * HOUR, T0 + 5 * HOUR]
    assert parent.filled == pytest.approx(1.0) and parent.status is ParentStatus.FILLED


def test_remaining_after_partial_fills_is_the_total_minus_every_fill() -> None:
    broker = free_broker(participation=0.02)
    seen: list[tuple[int, float, float]] = []

    def watch(strategy: object, index: int) -> None:
        parent = strategy.parent  # type: ignore[attr-defined]
        seen.append((index, parent.filled, parent.remaining))

    run(
        flat_rows(5),
        lambda s: s.iceberg("buy", 1.0, display=0.4, limit=100.0),
        then=watch,
        broker=broker,
    )
    assert [index for index, _, _ in seen] == [1, 2, 3, 4]
    assert [filled for _, filled, _ in seen] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert [left for _, _, left in seen] == pytest.approx([0.8, 0.6, 0.4, 0.2])


def test_a_limit_below_the_market_waits_without_refilling() -> None:
    strategy, _ = run(flat_rows(6), lambda s: s.iceberg("buy", 1.0, display=0.4, limit=98.0))
    parent = strategy.parent
    assert parent is not None
    assert len(parent.children) == 1 and parent.filled == 0.0
    assert parent.status is ParentStatus.WORKING


def test_display_jitter_stays_within_bounds_and_repeats_with_the_seed() -> None:
    spec = IcebergSpec(display=1.0, limit=100.0, display_jitter=0.3, seed=11)
    sizes = [display_size(spec, k) for k in range(200)]
    assert all(0.7 <= size <= 1.3 for size in sizes)
    assert min(sizes) < 0.75 and max(sizes) > 1.25  # the bounds are used, not just respected
    assert sizes == [display_size(spec, k) for k in range(200)]


def test_three_refused_slices_in_a_row_end_the_iceberg_with_the_reason() -> None:
    broker = free_broker(cash=50.0)  # 0.4 x 100 = 40 fits, the next slices do not
    strategy, _ = run(
        flat_rows(8), lambda s: s.iceberg("buy", 1.0, display=0.4, limit=100.0), broker=broker
    )
    parent = strategy.parent
    assert parent is not None
    # slice 1 at bar 0 fills in bar 1; slices 2-4 (bars 1-3) are refused; it ends at bar 4
    assert [str(c.status) for c in parent.children] == ["filled"] + ["rejected"] * 3
    assert parent.status is ParentStatus.EXPIRED and parent.ended_at == T0 + 5 * HOUR
    assert parent.filled == pytest.approx(0.4)
    assert parent.reason.startswith(f"child {parent.children[-1].client_id}: ")
    assert parent.reason.endswith(parent.children[-1].reason)


def test_a_refused_amend_of_the_working_slice_does_not_end_the_iceberg() -> None:
    def amend_while_halted(strategy: Strategy, index: int) -> None:
        parent = strategy.parent  # type: ignore[attr-defined]
        if index == 1:
            strategy._ctx.halted = "a test halt"  # type: ignore[attr-defined]
            strategy.amend_parent(parent, limit=99.5)  # refused: trading is halted
            strategy._ctx.halted = ""  # type: ignore[attr-defined]
        if index == 2:
            strategy.amend_parent(parent, limit=100.0)  # the slice can fill now

    strategy, _ = run(
        flat_rows(8),
        lambda s: s.iceberg("buy", 0.8, display=0.4, limit=98.0),
        then=amend_while_halted,
    )
    parent = strategy.parent
    assert parent is not None
    statuses = [str(c.status) for c in parent.children]
    assert statuses == ["filled", "rejected", "filled"]  # slice, refused amend, slice
    assert parent.status is ParentStatus.FILLED


def test_bad_iceberg_arguments_are_one_order_error() -> None:
    with pytest.raises(OrderError, match="display must be a finite number > 0"):
        run(flat_rows(3), lambda s: s.iceberg("buy", 1.0, display=0.0, limit=100.0))
    with pytest.raises(OrderError, match="display_jitter must be a number in"):
        run(flat_rows(3), lambda s: s.iceberg("buy", 1.0, display=0.1, limit=1.0,
                                                display_jitter=-0.1))  # fmt: skip
