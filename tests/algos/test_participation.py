"""Participation (POV) parent orders in the backtest: a fraction of each bar's volume, capped."""

from __future__ import annotations

import pytest

from quantkit.algos import ParentStatus
from quantkit.errors import OrderError
from tests.algos.helpers import run
from tests.builders import HOUR, T0

# volumes 10, 20, 40, 5, 30, 30, 30; closes 100, 101, 102, 103, 104, 105, 106
ROWS = [
    (100.0 + i, 101.0 + i, 99.0 + i, 100.0 + i, volume)
    for i, volume in enumerate([10.0, 20.0, 40.0, 5.0, 30.0, 30.0, 30.0])
]


def test_each_child_is_the_rate_of_the_bar_that_just_closed_capped() -> None:
    strategy, _ = run(ROWS, lambda s: s.participate("buy", 10.0, rate=0.1, max_slice=3.0))
    parent = strategy.parent
    assert parent is not None
    # nothing at the start (bar 0); then 10 % of bars 1-5: 2, 4 capped at 3, 0.5, 3, and
    # the rest 1.5 instead of 3 at bar 5
    assert [c.amount for c in parent.children] == [2.0, 3.0, 0.5, 3.0, 1.5]
    assert [c.created_at for c in parent.children] == [T0 + k * HOUR for k in (2, 3, 4, 5, 6)]
    # market children fill at the next opens 102 .. 106
    assert [c.average_price for c in parent.children] == [102.0, 103.0, 104.0, 105.0, 106.0]
    assert parent.filled == pytest.approx(10.0)
    assert parent.average_price == pytest.approx(
        (2 * 102 + 3 * 103 + 0.5 * 104 + 3 * 105 + 1.5 * 106) / 10
    )
    assert parent.status is ParentStatus.FILLED and parent.ended_at == T0 + 7 * HOUR


def test_the_parent_fills_and_ends_when_nothing_is_left() -> None:
    strategy, _ = run(ROWS, lambda s: s.participate("buy", 5.0, rate=0.5))
    parent = strategy.parent
    assert parent is not None
    # 50 % of bar 1 (20) = 10, capped at the rest: one child of 5 filling at bar 2's open
    assert [c.amount for c in parent.children] == [5.0]
    assert parent.status is ParentStatus.FILLED
    assert parent.ended_at == T0 + 3 * HOUR
    assert parent.average_price == 102.0


def test_bars_beyond_the_limit_are_skipped() -> None:
    strategy, _ = run(ROWS, lambda s: s.participate("buy", 100.0, rate=0.1, limit=102.0))
    parent = strategy.parent
    assert parent is not None
    # closes 101 and 102 are within the limit (children of 2 and 4), 103.. are not
    assert [c.amount for c in parent.children] == [2.0, 4.0]
    assert parent.skipped == 4


def test_the_horizon_ends_the_parent_with_what_is_left() -> None:
    strategy, _ = run(ROWS, lambda s: s.participate("buy", 100.0, rate=0.1, horizon="2h"))
    parent = strategy.parent
    assert parent is not None
    assert [c.amount for c in parent.children] == [2.0]  # bar 1; bar 2's close is the end
    assert parent.status is ParentStatus.EXPIRED
    assert parent.remaining == pytest.approx(98.0)
    assert parent.ended_at == T0 + 3 * HOUR


def test_a_bad_rate_is_one_order_error() -> None:
    with pytest.raises(OrderError, match=r"rate must be in \(0, 1\]"):
        run(ROWS, lambda s: s.participate("buy", 1.0, rate=1.5))
