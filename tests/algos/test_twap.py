"""TWAP parent orders in the backtest: slice sizes and times, catch-up, limits, jitter."""

from __future__ import annotations

import pytest

from quantkit import Engine, SeriesFeed
from quantkit.algos import ParentStatus
from quantkit.algos.schedule import twap_schedule
from quantkit.algos.specs import TwapSpec
from quantkit.errors import OrderError
from tests.algos.helpers import StartsParent, flat_rows, free_broker, run
from tests.builders import HOUR, T0, make_series

# bar i: open 100+i, high 102+i, low 99+i, close 101+i, volume 10
RISING = [(100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 10.0) for i in range(8)]


def test_market_twap_places_equal_slices_at_each_slice_time_and_fills_at_the_next_opens() -> None:
    strategy, result = run(RISING, lambda s: s.twap("buy", 1.0, horizon="4h", slices=4))
    parent = strategy.parent
    assert parent is not None
    children = parent.children
    assert [c.client_id for c in children] == [f"qk-000001-{n}" for n in (1, 2, 3, 4)]
    assert [c.amount for c in children] == [0.25, 0.25, 0.25, 0.25]
    # started at bar 0's close (T0 + 1h); slice k due at T0 + (k + 1)h, placed at that close
    assert [c.created_at for c in children] == [T0 + (k + 1) * HOUR for k in range(4)]
    # each fills at the next bar's open: 101, 102, 103, 104
    assert [c.average_price for c in children] == [101.0, 102.0, 103.0, 104.0]
    assert parent.status is ParentStatus.FILLED
    assert parent.filled == 1.0 and parent.remaining == 0.0
    assert parent.average_price == pytest.approx(102.5)
    assert parent.arrival_price == 101.0  # bar 0's close
    assert parent.slippage_bps == pytest.approx((102.5 - 101.0) / 101.0 * 1e4)
    # interval VWAP over bars 1..4 (the parent ended at bar 4's close): typical (302 + 3i) / 3
    assert parent.vwap == pytest.approx(sum((302.0 + 3 * i) / 3 for i in range(1, 5)) / 4)
    assert parent.ended_at == T0 + 5 * HOUR
    assert set(result.orders["tag"]) == {"algo:qk-000001"}
    row = result.parents.iloc[0]
    assert row["parent_id"] == "qk-000001" and row["status"] == "filled"
    assert row["filled"] == 1.0 and row["children"] == 4
    assert row["average_price"] == pytest.approx(102.5)


def test_a_twap_with_more_slices_than_bars_merges_the_due_slices() -> None:
    # 8 slices over 4h (every 30 min from bar 0's close) on 1h bars: slice 0 at the start,
    # slices 1-2, 3-4 and 5-6 together at the next three closes, slice 7 at the fourth
    strategy, _ = run(RISING, lambda s: s.twap("buy", 1.0, horizon="4h", slices=8))
    assert strategy.parent is not None
    assert [c.amount for c in strategy.parent.children] == [0.125, 0.25, 0.25, 0.25, 0.125]
    assert strategy.parent.status is ParentStatus.FILLED


def test_slices_beyond_the_limit_are_skipped_and_caught_up_by_the_next_slice() -> None:
    # closes 101, 102, 103, 104, ...: a buy limit of 102.5 skips the slices due at the
    # closes 103 and 104; the schedule then ends with half the amount left
    strategy, _ = run(RISING, lambda s: s.twap("buy", 1.0, horizon="4h", slices=4, limit=102.5))
    parent = strategy.parent
    assert parent is not None
    assert [c.amount for c in parent.children] == [0.25, 0.25]
    assert parent.skipped == 2
    assert parent.status is ParentStatus.EXPIRED
    assert parent.remaining == pytest.approx(0.5)
    assert "0.5 left" in parent.reason and "2 skipped" in parent.reason


def test_a_skipped_slice_rolls_into_the_next_slice_placed() -> None:
    # closes: 101, 105 (beyond the limit 104), 103, 103, ...
    rows = [
        (100.0, 102.0, 99.0, 101.0, 10.0),
        (101.0, 106.0, 100.0, 105.0, 10.0),
        (105.0, 106.0, 102.0, 103.0, 10.0),
        (103.0, 104.0, 102.0, 103.0, 10.0),
        (103.0, 104.0, 102.0, 103.0, 10.0),
        (103.0, 104.0, 102.0, 103.0, 10.0),
    ]
    strategy, _ = run(rows, lambda s: s.twap("buy", 1.0, horizon="4h", slices=4, limit=104.0))
    parent = strategy.parent
    assert parent is not None
    # slice 0 at bar 0 (0.25), slice 1 skipped at bar 1, slice 2 at bar 2: 0.75 - 0.25 due
    assert [c.amount for c in parent.children] == [0.25, 0.5, 0.25]
    assert [c.created_at for c in parent.children] == [T0 + HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    assert parent.skipped == 1 and parent.status is ParentStatus.FILLED


def test_limit_children_left_unfilled_are_canceled_and_their_amount_caught_up() -> None:
    # limit children 1 % below the close: bar lows are 1 % below 100, so a child at 99.0 fills
    # only when a bar's low reaches 99; bar 1's low is 99.5 (no fill), bars 2-4 reach 98.5.
    rows = [
        (100.0, 101.0, 99.0, 100.0, 10.0),
        (100.0, 101.0, 99.5, 100.0, 10.0),
        (100.0, 101.0, 98.5, 100.0, 10.0),
        (100.0, 101.0, 98.5, 100.0, 10.0),
        (100.0, 101.0, 98.5, 100.0, 10.0),
        (100.0, 101.0, 98.5, 100.0, 10.0),
    ]
    strategy, _ = run(rows, lambda s: s.twap("buy", 1.0, horizon="4h", slices=4, limit_offset=0.01))
    parent = strategy.parent
    assert parent is not None
    children = parent.children
    # slice 0 (0.25 @ 99) misses bar 1 and is canceled at bar 1's close, where slice 1 asks
    # 0.5 (its 0.25 plus the unfilled 0.25); then 0.25 at bars 2 and 3.
    assert [(c.amount, c.request.limit_price) for c in children] == [
        (0.25, 99.0), (0.5, 99.0), (0.25, 99.0), (0.25, 99.0)
    ]  # fmt: skip
    assert [str(c.status) for c in children] == ["canceled", "filled", "filled", "filled"]
    assert parent.filled == 1.0 and parent.status is ParentStatus.FILLED
    assert parent.average_price == 99.0


def test_the_last_limit_slice_is_canceled_when_the_horizon_ends() -> None:
    rows = flat_rows(8)  # lows 99.0: a child 2 % below (98.0) never fills
    strategy, _ = run(rows, lambda s: s.twap("buy", 1.0, horizon="2h", slices=2, limit_offset=0.02))
    parent = strategy.parent
    assert parent is not None
    assert [str(c.status) for c in parent.children] == ["canceled", "canceled"]
    assert [c.amount for c in parent.children] == [0.5, 1.0]
    assert parent.status is ParentStatus.EXPIRED and parent.filled == 0.0
    assert parent.ended_at == T0 + 3 * HOUR  # the close at the horizon's end (start + 2h)


def test_jittered_schedules_stay_in_bounds_and_repeat_with_the_seed() -> None:
    spec = TwapSpec(horizon=1000, slices=10, time_jitter=0.5, size_jitter=0.4, seed=7)
    times, cumulative = twap_schedule(0, spec)
    assert all(100 * k <= t < 100 * k + 50 for k, t in enumerate(times))
    fractions = [b - a for a, b in zip([0.0, *cumulative], cumulative, strict=False)]
    # weights in [0.6, 1.4]: a slice's share is at least 0.6 / (0.6 + 9 x 1.4) and at most
    # 1.4 / (1.4 + 9 x 0.6)
    assert all(0.6 / 13.2 - 1e-12 <= f <= 1.4 / 6.8 + 1e-12 for f in fractions)
    assert len(set(fractions)) > 1  # the sizes did vary
    assert cumulative[-1] == 1.0
    assert twap_schedule(0, spec) == (times, cumulative)
    other = twap_schedule(0, TwapSpec(horizon=1000, slices=10, time_jitter=0.5, seed=8))[0]
    assert other != times


def test_a_twap_without_jitter_has_exact_equal_slices() -> None:
    assert twap_schedule(5, TwapSpec(horizon=300, slices=3)) == ([5, 105, 205], [1 / 3, 2 / 3, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": "4h", "slices": 0}, "slices must be an int >= 1"),
        ({"horizon": "0h", "slices": 2}, "horizon"),
        ({"horizon": "4h", "slices": 2, "time_jitter": 1.0}, "time_jitter must be a number in"),
        ({"horizon": "4h", "slices": 2, "limit": -1.0}, "limit must be a finite number > 0"),
    ],
)
def test_bad_twap_arguments_are_one_order_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(OrderError, match=message):
        run(RISING, lambda s: s.twap("buy", 1.0, **kwargs))  # type: ignore[arg-type]


def test_a_bad_amount_or_side_is_one_order_error() -> None:
    with pytest.raises(OrderError, match="amount must be a finite number > 0"):
        run(RISING, lambda s: s.twap("buy", -1.0, horizon="4h", slices=2))
    with pytest.raises(OrderError, match="side must be 'buy' or 'sell'"):
        run(RISING, lambda s: s.twap("hold", 1.0, horizon="4h", slices=2))


def test_a_parent_before_the_first_bar_is_one_order_error() -> None:
    class TooEarly(StartsParent):
        def on_start(self) -> None:
            self.twap("buy", 1.0, horizon="4h", slices=2)

    with pytest.raises(OrderError, match="no bar of BTC/USDT has closed yet"):
        Engine(feed=SeriesFeed(make_series(RISING)), strategy=TooEarly(lambda s: None),
               broker=free_broker()).run()  # fmt: skip


def test_an_unknown_symbol_is_one_error_naming_it() -> None:
    with pytest.raises(OrderError, match="ETH/USDT"):
        run(RISING, lambda s: s.twap("buy", 1.0, horizon="4h", slices=2, symbol="ETH/USDT"))


def test_the_journal_record_says_what_filled_what_is_left_and_the_next_slice_time() -> None:
    from quantkit.algos.state import parent_from_json, parent_to_json

    records: list[dict[str, object]] = []

    def watch(strategy: StartsParent, index: int) -> None:
        if index == 2:
            assert strategy.parent is not None
            records.append(parent_to_json(strategy.parent))

    run(RISING, lambda s: s.twap("buy", 1.0, horizon="4h", slices=4), then=watch)  # type: ignore[arg-type]
    record = records[0]
    # at bar 2's close: slices 0-2 handled, 0.5 filled (bars 1 and 2), slice 3 due at T0 + 4h
    assert record["slices_done"] == 3 and record["filled"] == 0.5 and record["remaining"] == 0.5
    assert record["next_slice_at"] == T0 + 4 * HOUR
    assert record["children"] == ["qk-000001-1", "qk-000001-2", "qk-000001-3"]
    again = parent_from_json(record)
    assert (again.id, again.amount, again.slices_done, again.spec) == (
        "qk-000001", 1.0, 3, TwapSpec(horizon=4 * HOUR, slices=4)
    )  # fmt: skip


def test_the_parents_table_of_a_run_that_ends_mid_schedule_and_of_one_without_parents() -> None:
    import pandas as pd

    from quantkit.engine.parent_table import PARENT_COLUMNS

    _, result = run(flat_rows(4), lambda s: s.twap("buy", 1.0, horizon="20h", slices=4))
    row = result.parents.iloc[0]
    assert row["status"] == "working" and pd.isna(row["ended_at"])
    assert row["created_at"] == pd.Timestamp(T0 + HOUR, unit="ns", tz="UTC")
    assert row["filled"] == 0.25 and row["remaining"] == 0.75  # slice 0 of 4 (every 5 h)
    _, empty = run(flat_rows(3), lambda s: None)  # type: ignore[arg-type,return-value]
    assert empty.parents.empty and list(empty.parents.columns) == PARENT_COLUMNS


def test_a_timedelta_or_nanoseconds_horizon_is_the_same_schedule() -> None:
    import datetime

    made = []
    for horizon in ("4h", datetime.timedelta(hours=4), 4 * HOUR):
        strategy, _ = run(RISING, lambda s, h=horizon: s.twap("buy", 1.0, horizon=h, slices=4))  # type: ignore[misc]
        assert strategy.parent is not None
        made.append([(c.created_at, c.amount) for c in strategy.parent.children])
    assert made[0] == made[1] == made[2]
    with pytest.raises(OrderError, match="horizon must be positive"):
        run(RISING, lambda s: s.twap("buy", 1.0, horizon=datetime.timedelta(0), slices=4))
