"""The event tape: exact round trips, parts, crash safety, refusal of tampered parts, bars."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from quantkit.domain.bars import Bar
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.engine.tape import COLUMNS, EventTape, read_tape, tape_bars
from quantkit.errors import ConfigError, DataError, StoreError
from tests.builders import HOUR, T0, make_series

BAR = Bar("BTC/USDT", T0, T0 + HOUR, 100.0, 110.0, 95.0, 105.0, 12.5)


def stop_limit_order() -> Order:
    request = OrderRequest(
        "BTC/USDT",
        Side.SELL,
        OrderType.STOP_LIMIT,
        amount=0.25,
        limit_price=99.5,
        stop_price=100.0,
    )
    return Order("live-000007", request, T0 + HOUR)


def bar_at(i: int, symbol: str = "BTC/USDT", close: float = 105.0) -> Bar:
    start = T0 + i * HOUR
    return Bar(symbol, start, start + HOUR, 100.0, 110.0, 95.0, close, 1.0 + i)


def test_every_kind_round_trips_with_exact_values(tmp_path: Path) -> None:
    order = stop_limit_order()
    fill = Fill(
        "live-000007", "BTC/USDT", Side.SELL, 99.5, 0.1, 0.0995, "USDT", T0 + 2 * HOUR, True
    )
    before = time.time_ns()
    with EventTape(tmp_path, run_id="run-1") as tape:
        tape.record_bar(BAR, HOUR)
        tape.record_intent(order)
        order.transition(OrderStatus.OPEN, T0 + HOUR + 5)
        order.record_fill(99.5, 0.1, 0.0995, T0 + 2 * HOUR)
        tape.record_fill(fill)
        order.transition(OrderStatus.CANCELED, T0 + 3 * HOUR, "user canceled")
        tape.record_order(order)
    after = time.time_ns()
    frame = read_tape(tmp_path)

    assert list(frame.columns) == list(COLUMNS)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        name: "object" if dtype == "str" and pd.__version__ < "3" else dtype
        for name, dtype in COLUMNS.items()
    }
    assert frame["seq"].tolist() == [1, 2, 3, 4]
    assert frame["kind"].tolist() == ["bar", "intent", "fill", "order"]
    assert frame["run_id"].unique().tolist() == ["run-1"]
    walls = frame["wall_ns"].tolist()
    assert before <= walls[0] <= walls[-1] <= after
    bar, intent, filled, update = (frame.iloc[k].to_dict() for k in range(4))

    assert bar["time"] == T0 + HOUR and bar["open_time"] == T0 and bar["timeframe"] == HOUR
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (
        100.0, 110.0, 95.0, 105.0, 12.5
    )  # fmt: skip
    assert bar["price"] == 105.0 and bar["symbol"] == "BTC/USDT"
    assert bar["client_id"] == bar["side"] == bar["status"] == bar["fee_currency"] == ""
    assert math.isnan(bar["amount"]) and math.isnan(bar["fee"]) and math.isnan(bar["filled"])

    assert intent["time"] == T0 + HOUR and intent["client_id"] == "live-000007"
    assert (intent["side"], intent["order_type"], intent["status"]) == ("sell", "stop_limit", "new")
    assert (intent["amount"], intent["price"], intent["stop_price"]) == (0.25, 99.5, 100.0)
    assert math.isnan(intent["cost"]) and intent["filled"] == 0.0
    assert intent["open_time"] == -1 and intent["timeframe"] == -1 and math.isnan(intent["open"])

    assert filled["time"] == T0 + 2 * HOUR and filled["client_id"] == "live-000007"
    assert (filled["price"], filled["amount"], filled["fee"]) == (99.5, 0.1, 0.0995)
    assert filled["fee_currency"] == "USDT" and filled["is_maker"] is True
    assert filled["side"] == "sell" and filled["order_type"] == ""

    assert update["time"] == T0 + 3 * HOUR
    assert (update["status"], update["reason"]) == ("canceled", "user canceled")
    assert (update["amount"], update["filled"], update["price"]) == (0.25, 0.1, 99.5)
    assert update["fee"] == 0.0995 and update["is_maker"] is False


def test_cost_orders_record_cost_and_no_amount(tmp_path: Path) -> None:
    order = Order("x-1", OrderRequest("BTC/USDT", Side.BUY, cost=500.0), T0)
    with EventTape(tmp_path, run_id="r") as tape:
        tape.record_intent(order)
        tape.record_order(order)
    intent, update = (row for _, row in read_tape(tmp_path).iterrows())
    assert intent["cost"] == 500.0 and math.isnan(intent["amount"])
    assert math.isnan(intent["price"]) and math.isnan(intent["stop_price"])
    assert math.isnan(update["price"])  # no fill yet: no average price


def test_a_part_is_written_every_flush_every_rows(tmp_path: Path) -> None:
    tape = EventTape(tmp_path / "tape", run_id="r", flush_every=3)

    def names() -> list[str]:
        return sorted(p.name for p in (tmp_path / "tape").iterdir())

    for i in range(2):
        tape.record_bar(bar_at(i), HOUR)
    assert names() == [] and tape.pending == 2
    tape.record_bar(bar_at(2), HOUR)
    assert names() == ["part-000001.parquet"] and tape.pending == 0
    for i in range(3, 7):
        tape.record_bar(bar_at(i), HOUR)
    assert names() == ["part-000001.parquet", "part-000002.parquet"] and tape.pending == 1
    tape.close()
    assert names() == [f"part-00000{k}.parquet" for k in (1, 2, 3)]
    assert [len(pd.read_parquet(tmp_path / "tape" / n)) for n in names()] == [3, 3, 1]
    assert read_tape(tmp_path / "tape")["seq"].tolist() == list(range(1, 8))
    assert tape.parts_written == 3
    assert "parts=3" in repr(tape)


def test_flush_with_nothing_pending_writes_nothing(tmp_path: Path) -> None:
    tape = EventTape(tmp_path, run_id="r")
    tape.flush()
    tape.close()
    tape.close()  # twice is harmless
    assert list(tmp_path.iterdir()) == []
    empty = read_tape(tmp_path)
    assert empty.empty and list(empty.columns) == list(COLUMNS)


def test_a_crash_leaves_only_whole_parts_and_a_reopened_tape_continues(tmp_path: Path) -> None:
    tape = EventTape(tmp_path, run_id="r", flush_every=2)
    for i in range(5):
        tape.record_bar(bar_at(i), HOUR)
    # The process dies here: row 5 was never flushed, and a part was being written.
    (tmp_path / ".part-000003.parquet.tmp").write_bytes(b"PAR1 half a part")
    del tape
    frame = read_tape(tmp_path)
    assert frame["seq"].tolist() == [1, 2, 3, 4]
    assert frame["open_time"].tolist() == [T0 + i * HOUR for i in range(4)]

    with EventTape(tmp_path, run_id="r", flush_every=2) as again:
        again.record_bar(bar_at(4), HOUR)
    assert again.parts_written == 3
    assert read_tape(tmp_path)["seq"].tolist() == [1, 2, 3, 4, 5]


def test_a_duplicated_part_is_refused_naming_it(tmp_path: Path) -> None:
    with EventTape(tmp_path, run_id="r", flush_every=2) as tape:
        for i in range(4):
            tape.record_bar(bar_at(i), HOUR)
    shutil.copy(tmp_path / "part-000001.parquet", tmp_path / "part-000003.parquet")
    with pytest.raises(StoreError, match=r"part-000003\.parquet.*seq does not strictly increase"):
        read_tape(tmp_path)


def test_a_part_with_edited_seq_is_refused(tmp_path: Path) -> None:
    with EventTape(tmp_path, run_id="r", flush_every=3) as tape:
        for i in range(6):
            tape.record_bar(bar_at(i), HOUR)
    part = tmp_path / "part-000002.parquet"
    frame = pd.read_parquet(part)
    frame["seq"] = [4, 6, 5]
    frame.to_parquet(part, index=False)
    with pytest.raises(StoreError, match="part-000002"):
        read_tape(tmp_path)


def test_unreadable_and_incomplete_parts_are_refused(tmp_path: Path) -> None:
    with EventTape(tmp_path, run_id="r") as tape:
        tape.record_bar(BAR, HOUR)
    part = tmp_path / "part-000001.parquet"
    pd.read_parquet(part).drop(columns=["fee"]).to_parquet(part, index=False)
    with pytest.raises(StoreError, match=r"part-000001\.parquet: missing columns \['fee'\]"):
        read_tape(tmp_path)
    part.write_bytes(b"not parquet at all")
    with pytest.raises(StoreError, match=r"part-000001\.parquet: cannot be read"):
        read_tape(tmp_path)
    with pytest.raises(StoreError, match="cannot be read"):
        EventTape(tmp_path, run_id="r")  # continuing needs the last part's seq


def test_parts_share_one_schema_whatever_they_hold(tmp_path: Path) -> None:
    order = stop_limit_order()
    with EventTape(tmp_path, run_id="r", flush_every=2) as tape:
        tape.record_bar(bar_at(0), HOUR)
        tape.record_bar(bar_at(1), HOUR)  # part 1: bars only
        tape.record_intent(order)
        tape.record_fill(Fill("live-000007", "BTC/USDT", Side.SELL, 99.0, 0.25, 0.1, "USDT", T0))
        tape.record_order(order)  # part 3: one order update
    schemas = [pq.read_schema(p) for p in sorted(tmp_path.glob("part-*.parquet"))]
    assert len(schemas) == 3
    assert all(schema.equals(schemas[0], check_metadata=True) for schema in schemas)
    assert schemas[0].names == list(COLUMNS)


def test_bad_arguments_and_use_after_close_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run_id"):
        EventTape(tmp_path, run_id="")
    for bad in (0, True, 2.5):
        with pytest.raises(ConfigError, match="flush_every"):
            EventTape(tmp_path, run_id="r", flush_every=bad)  # type: ignore[arg-type]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the directory"):
        EventTape(blocker / "tape", run_id="r")
    with pytest.raises(StoreError, match="no such directory"):
        read_tape(tmp_path / "missing")
    tape = EventTape(tmp_path / "t", run_id="r")
    tape.close()
    with pytest.raises(ConfigError, match="closed"):
        tape.record_bar(BAR, HOUR)


def test_a_failed_flush_keeps_the_rows(tmp_path: Path) -> None:
    tape = EventTape(tmp_path / "t", run_id="r")
    tape.record_bar(BAR, HOUR)
    shutil.rmtree(tmp_path / "t")
    with pytest.raises(StoreError, match=r"cannot write part-000001\.parquet"):
        tape.flush()
    assert tape.pending == 1
    (tmp_path / "t").mkdir()
    tape.close()
    assert read_tape(tmp_path / "t")["seq"].tolist() == [1]


def test_tape_bars_rebuilds_validated_series_per_symbol(tmp_path: Path) -> None:
    btc = make_series(
        [(1.0, 2.0, 0.5, 1.5, 3.0), (1.5, 2.5, 1.0, 2.0, 4.0), (2.0, 2.0, 1.0, 1.0, 0.0)]
    )
    eth = make_series([(10.0, 11.0, 9.0, 10.5, 1.0), (10.5, 12.0, 10.0, 11.0, 2.0)], "ETH/USDT")
    with EventTape(tmp_path, run_id="r") as tape:
        for i in range(2):
            tape.record_bar(btc.bar(i), HOUR)
            tape.record_bar(eth.bar(i), HOUR)
        tape.record_bar(btc.bar(1), HOUR)  # a restarted run records the last bar again
        tape.record_bar(btc.bar(2), HOUR)
    bars = tape_bars(read_tape(tmp_path))
    assert list(bars) == ["BTC/USDT", "ETH/USDT"]
    for got, want in ((bars["BTC/USDT"], btc), (bars["ETH/USDT"], eth)):
        assert got.timeframe == HOUR and got.symbol == want.symbol
        for column in ("open_time", "close_time", "open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(got, column), getattr(want, column))


def test_tape_bars_refuses_bad_bars(tmp_path: Path) -> None:
    frame = read_tape(tmp_path)
    with pytest.raises(DataError, match="no bar rows"):
        tape_bars(frame)
    with EventTape(tmp_path / "mixed", run_id="r") as tape:
        tape.record_bar(bar_at(0), HOUR)
        tape.record_bar(bar_at(1), 2 * HOUR)
    with pytest.raises(DataError, match="mix timeframes"):
        tape_bars(read_tape(tmp_path / "mixed"))
    with EventTape(tmp_path / "clash", run_id="r") as tape:
        tape.record_bar(bar_at(0), HOUR)
        tape.record_bar(bar_at(0, close=101.0), HOUR)  # two different bars at one time
    with pytest.raises(DataError, match="event tape bars of BTC/USDT"):
        tape_bars(read_tape(tmp_path / "clash"))


def test_importing_the_tape_and_the_report_does_not_load_pandas() -> None:
    modules = "quantkit.engine.tape, quantkit.analysis.divergence"
    code = f"import sys, {modules}; sys.exit('pandas' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
