"""The order journal: chaining, tamper detection, crash recovery, replay, secrets, ids."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.brokers.journal import GENESIS, Journal, client_order_id, replay
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.errors import ConfigError, StoreError


def _write(path: Path, n: int) -> None:
    with Journal(path, run_id="r") as journal:
        for i in range(n):
            journal.append("state", {"i": i})


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_round_trip_keeps_floats_exact(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    values = [0.1 + 0.2, 1e-17, 5e-324, 1.7976931348623157e308, -0.0, 123456789.123456789]
    with Journal(path, run_id="r") as journal:
        for v in values:
            journal.append("state", {"v": v, "nested": [{"x": v}], "none": None})
        assert len(journal) == len(values)
    with Journal(path, run_id="r") as journal:
        got = [r.data for r in journal.records()]
    assert [d["v"] for d in got] == values
    assert all(d["nested"][0]["x"] == d["v"] and d["none"] is None for d in got)
    assert repr(got[4]["v"]) == "-0.0"


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_any_finite_float_round_trips(
    tmp_path_factory: pytest.TempPathFactory, values: list[float]
) -> None:
    path = tmp_path_factory.mktemp("j") / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        for v in values:
            journal.append("state", {"v": v})
    with Journal(path, run_id="r") as journal:
        assert [r.data["v"] for r in journal.records()] == values


def test_chain_and_format(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 3)
    records = [json.loads(line) for line in _lines(path)]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    assert set(records[0]) == {"seq", "time", "kind", "data", "prev", "hash"}
    report = Journal.verify(path)
    assert report.ok and report.records == 3 and report.head_seq == 3


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 2)
    with Journal(path, run_id="r") as journal:
        assert len(journal) == 2
        assert journal.last is not None and journal.last.seq == 2
        assert journal.append("state", {}).seq == 3
    report = Journal.verify(path)
    assert report.ok and report.records == 3


def test_nan_and_inf_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.jsonl", run_id="r") as journal:
        for bad in (float("nan"), float("inf"), -float("inf")):
            with pytest.raises(ConfigError, match="NaN and inf"):
                journal.append("state", {"x": [bad]})
        with pytest.raises(ConfigError, match="JSON"):
            journal.append("state", {"x": object()})
        assert len(journal) == 0


def test_edited_value_detected(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 4)
    lines = _lines(path)
    lines[2] = lines[2].replace(b'"i":2', b'"i":9')
    path.write_bytes(b"".join(lines))
    with pytest.raises(StoreError, match=r"j\.jsonl: line 3: hash mismatch"):
        Journal.verify(path)
    with pytest.raises(StoreError, match="line 3"):
        Journal(path, run_id="r")


def test_deleted_middle_line_detected(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 4)
    lines = _lines(path)
    del lines[1]
    path.write_bytes(b"".join(lines))
    with pytest.raises(StoreError, match="line 2: seq is 3, expected 2"):
        Journal.verify(path)


def test_swapped_lines_detected(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 4)
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"".join(lines))
    with pytest.raises(StoreError, match=r"line 2: seq is 3.*removed or reordered"):
        Journal.verify(path)


def test_rehashed_edit_breaks_the_next_prev(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 3)
    lines = _lines(path)
    obj = json.loads(lines[0])
    del obj["hash"]
    obj["data"] = {"i": 42}
    from quantkit.brokers.journal import _canonical, _sha

    obj["hash"] = _sha(_canonical(obj))
    lines[0] = _canonical(obj) + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(StoreError, match="line 2: prev does not match"):
        Journal.verify(path)


def test_dropped_last_record_is_truncation(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 4)
    path.write_bytes(b"".join(_lines(path)[:-1]))
    report = Journal.verify(path)
    assert report.truncated and not report.ok and report.records == 3 and report.head_seq == 4
    with pytest.raises(StoreError, match=r"j\.jsonl: line 4: truncated"):
        Journal(path, run_id="r")
    with pytest.raises(StoreError, match="truncated"):
        replay(path)


def test_missing_head_sidecar_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 3)
    Path(f"{path}.head").unlink()
    with pytest.raises(StoreError, match=r"head sidecar \S+j.jsonl.head is missing"):
        Journal.verify(path)


def test_a_new_journal_has_a_head_before_its_first_record(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        assert json.loads(Path(f"{path}.head").read_text()) == {"seq": 0, "hash": GENESIS}
        journal.append("state", {}, sync_head=False)
        journal.append("state", {}, sync_head=False)
        # the second append syncs the head to record 2 after writing it: in between, on disk,
        # the head trailed by two records, which a crash may leave and opening accepts
        assert Journal.verify(path).head_seq == 2


def test_torn_tail_reported_and_cut_on_open(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 3)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"seq":4,"time":1,"ki')  # a crash mid-write
    report = Journal.verify(path)
    assert report.torn_tail == len(b'{"seq":4,"time":1,"ki') and not report.truncated
    assert report.records == 3 and not report.ok
    assert replay(path).orders == {}  # replay reads, never cuts
    with Journal(path, run_id="r") as journal:
        assert journal.report.torn_tail > 0
        assert path.read_bytes() == whole
        assert journal.append("state", {}).seq == 4
    assert Journal.verify(path).ok


def test_fsync_happens_before_append_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        calls: list[tuple[int, int]] = []
        real_fsync = os.fsync

        def observe(fd: int) -> None:
            calls.append((fd, path.stat().st_size))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", observe)
        journal.append("state", {"x": 1})
        size = path.stat().st_size
        fileno = journal._file.fileno()
    assert calls[0] == (fileno, size)  # the journal's own fd, the line already written


def _request(amount: float = 1.0) -> OrderRequest:
    return OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, amount=amount, limit_price=100.0)


def _fill(client_id: str, amount: float) -> Fill:
    return Fill(client_id, "BTC/USDT", Side.BUY, 100.0, amount, 0.01, "USDT", 1, is_maker=True)


def test_intent_serialises_the_request(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.jsonl", run_id="r") as journal:
        record = journal.intent(_request())
    request = record.data["request"]
    assert record.data["client_id"] == client_order_id("r", 1)
    assert request["side"] == "buy" and request["type"] == "limit" and request["cost"] is None
    assert request["time_in_force"] == "gtc" and "sign" not in request


def test_replay_rebuilds_orders(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        a = journal.intent(_request(1.0)).data["client_id"]
        b = journal.intent(_request(2.0)).data["client_id"]
        c = journal.intent(_request(3.0)).data["client_id"]
        d = journal.intent(_request(4.0), "custom-d").data["client_id"]
        journal.ack(a, "X1")
        journal.fill(_fill(a, 0.4))
        journal.reject(b, "insufficient funds")
        journal.ack(d, "X4")
        journal.fill(_fill(d, 1.0))
        journal.append("state", {"equity": 1.0})
    state = replay(path)
    assert state.orders[a].status is OrderStatus.PARTIALLY_FILLED
    assert state.orders[a].exchange_id == "X1"
    assert state.orders[b].status is OrderStatus.REJECTED
    assert state.orders[b].reason == "insufficient funds"
    assert state.orders[c].status is OrderStatus.NEW
    assert state.orders[d].status is OrderStatus.PARTIALLY_FILLED
    assert state.in_doubt == {c}
    with Journal(path, run_id="r") as journal:
        journal.fill(_fill(a, 0.6))
        journal.cancel(d)
    state = replay(path)
    assert state.orders[a].status is OrderStatus.FILLED
    assert state.orders[a].filled == pytest.approx(1.0)
    assert state.orders[d].status is OrderStatus.CANCELED
    assert state.fills == [_fill(a, 0.4), _fill(d, 1.0), _fill(a, 0.6)]


@pytest.mark.parametrize(
    "data",
    [
        {"secret": "x"},
        {"API_KEY": "x"},
        {"apiKey": "x"},
        {"outer": {"Password": "x"}},
        {"outer": [{"inner": {"accessToken": "x"}}]},
    ],
)
def test_secret_keys_refused(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        with pytest.raises(ConfigError, match="secrets are never journaled") as info:
            journal.append("state", data)
        assert "'x'" not in str(info.value)
        assert len(journal) == 0
    assert path.read_bytes() == b""


def test_repr_shows_only_path_and_length(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="run-with-a-name") as journal:
        journal.append("state", {"note": "hidden"})
        text = repr(journal)
    assert text == f"Journal(path={str(path)!r}, records=1)"


_VENUE_SAFE = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")


@given(run_id=st.text(max_size=50), seq=st.integers(min_value=0, max_value=10**20 - 2))
def test_client_order_id_is_deterministic_and_venue_safe(run_id: str, seq: int) -> None:
    cid = client_order_id(run_id, seq)
    assert cid == client_order_id(run_id, seq)
    assert _VENUE_SAFE.fullmatch(cid)
    assert client_order_id(run_id + "x", seq) != cid
    assert client_order_id(run_id, seq + 1) != cid


def test_client_order_id_rejects_bad_seq() -> None:
    for bad in (-1, 10**20, True, 1.0):
        with pytest.raises(ConfigError):
            client_order_id("r", bad)  # type: ignore[arg-type]


def test_head_one_record_behind_is_a_crash_between_line_and_head(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 3)
    second = json.loads(_lines(path)[1])
    Path(f"{path}.head").write_text(json.dumps({"seq": 2, "hash": second["hash"]}))
    assert Journal.verify(path).ok
    with Journal(path, run_id="r") as journal:
        journal.append("state", {})
    assert Journal.verify(path).head_seq == 4


def test_head_disagreeing_with_the_file_is_tampering(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, 3)
    Path(f"{path}.head").write_text(json.dumps({"seq": 3, "hash": "0" * 64}))
    with pytest.raises(StoreError, match="line 3: hash differs from the head sidecar"):
        Journal.verify(path)


def test_replay_names_a_malformed_record(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        journal.append("state", {})
        journal.append("fill", {"client_id": "x"})
    with pytest.raises(StoreError, match=r"line 2: malformed fill record"):
        replay(path)


def test_an_unsynced_head_trails_by_one_record_at_most_and_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    request = OrderRequest("BTC/USDT", Side.BUY, amount=1.0)
    journal = Journal(path, run_id="r")
    journal.intent(request, "a", sync_head=False)
    assert Journal.verify(path).head_seq is None or Journal.verify(path).head_seq == 0
    journal.intent(request, "b", sync_head=False)  # the head catches up to record 2 here
    assert Journal.verify(path).head_seq == 2
    journal.intent(request, "c", sync_head=False)
    # "crash": the process dies with the head one record behind (the OS drops its lock)
    journal._file.close()
    journal._lock.release()
    report = Journal.verify(path)
    assert (report.records, report.head_seq, report.ok) == (3, 2, True)
    reopened = Journal(path, run_id="r")
    assert len(reopened) == 3
    reopened.close()
    assert Journal.verify(path).head_seq == 3


def test_replay_tells_a_parked_order_never_released_from_one_in_doubt(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="r") as journal:
        for cid in ("a", "b", "c"):
            journal.intent(OrderRequest("BTC/USDT", Side.SELL, amount=0.1), cid)
            journal.append("park", {"client_id": cid, "legs": [f"{cid}-tp"]})
        journal.append("unpark", {"client_id": "b"})  # released: it may have been sent
        journal.append("unpark", {"client_id": "c"})
        journal.ack("c", "7")
    state = replay(path)
    assert state.never_sent == frozenset({"a"})
    assert state.in_doubt == frozenset({"b"})
    assert state.parked == {"a"}
