from __future__ import annotations

import pickle

import numpy as np

from quantkit import SmaCross, sample_feed
from quantkit.optimize import EventEvaluator
from quantkit.optimize import executor as ex
from quantkit.optimize.walkforward import make_windows

BARS = sample_feed(end="2021-01-05").load()


def test_batches_keep_the_order_and_cover_every_combination() -> None:
    points = [{"x": i} for i in range(10)]
    batches = ex.make_batches(points, workers=2)
    assert len(batches) == 5  # about four per worker
    assert [p for b in batches for p in b] == points
    assert len(ex.make_batches(points, workers=0)) == 4  # at least one worker
    assert ex.make_batches([], workers=2) == []


def test_a_worker_process_gets_the_payload_from_its_initializer() -> None:
    payload = ex.Payload(EventEvaluator(SmaCross), BARS)
    before = ex._WORKER_PAYLOAD
    try:
        ex._init_worker(ex._dumps(payload))
        ((row, error),) = ex._run_in_worker([{"fast": 5, "slow": 20}])
    finally:
        ex._WORKER_PAYLOAD = before
    assert error is None and row is not None
    assert row["objective"] == EventEvaluator(SmaCross)(BARS, {"fast": 5, "slow": 20})["objective"]


def test_unpickled_views_are_copied_into_arrays_of_their_own() -> None:
    (series,) = BARS.values()
    view = {series.symbol: series.head(50)}  # views over the full arrays
    assert not view[series.symbol].close.flags.owndata
    copied = pickle.loads(pickle.dumps(ex.Payload(EventEvaluator(SmaCross), view)))
    arrived = copied.data[series.symbol]
    assert all(
        getattr(arrived, c).flags.owndata
        for c in ("open_time", "close_time", "open", "high", "low", "close", "volume")
    )
    np.testing.assert_array_equal(arrived.close, series.close[:50])
    owned = ex._owned(arrived)
    assert owned is arrived  # already owning: kept as is


def test_a_time_gap_skips_the_windows_it_swallows() -> None:
    hour = 3_600_000_000_000
    times = np.concatenate([np.arange(6), np.arange(20, 30)]).astype(np.int64) * hour
    windows = make_windows(times, "2h", "2h")
    # windows whose in-sample or out-of-sample side falls in the gap hold no bars: dropped
    assert all(w.test_end > w.test_start > w.train_start for w in windows)
    assert [times[w.test_start] // hour for w in windows] == [2, 4, 22, 24, 26, 28]
