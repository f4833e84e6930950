"""kill -9 between any two durable writes of the journal leaves a journal that opens.

A real writer process dies (SIGKILL of itself) before every write, flush, fsync and rename of
an intent, ack, fill, cancel, state and head sync, and once more with the line being written
cut in half; the test reopens each journal and checks it against what the writer was told.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import quantkit
from quantkit.brokers.journal import Journal, replay
from quantkit.domain.order import OrderStatus

_EXPECTED = [
    ("intent", "a"),
    ("ack", "a"),
    ("fill", "a"),
    ("fill", "a"),
    ("intent", "b"),
    ("cancel", "b"),
    ("state", None),
    ("intent", "c"),
]


def _env() -> dict[str, str]:
    src = str(Path(quantkit.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    base = tmp_path_factory.mktemp("crash")
    script = Path(__file__).with_name("journal_crasher.py")
    subprocess.run([sys.executable, str(script), str(base)], env=_env(), check=True, timeout=600)
    return base, json.loads((base / "summary.json").read_text())


def _check_reopens(directory: Path, *, torn: bool) -> None:
    path = directory / "j.jsonl"
    returned = [int(x) for x in (directory / "returned").read_text().split()]
    assert returned == list(range(1, len(returned) + 1))
    report = Journal.verify(path)  # read-only first: nothing changed yet
    assert report.torn_tail > 0 if torn else report.torn_tail == 0
    with Journal(path, run_id="r") as journal:
        count = len(journal)
        records = list(journal.records())
    # every append that returned is there; at most the one in flight besides (none if torn)
    assert count == len(returned) if torn else count in (len(returned), len(returned) + 1)
    got = [(r.kind, r.data.get("client_id")) for r in records]
    assert got == _EXPECTED[:count]
    state = replay(path)
    assert len(state.fills) == sum(kind == "fill" for kind, _ in _EXPECTED[:count])
    if count >= 6:
        assert state.orders["b"].status is OrderStatus.CANCELED
    if count >= 4:
        assert state.orders["a"].status is OrderStatus.FILLED
        assert state.trade_ids == {"t1", "t2"}
    # the journal goes on: one more record, and it verifies clean with the head at its end
    with Journal(path, run_id="r") as journal:
        journal.append("state", {"after": count})
    final = Journal.verify(path)
    assert final.ok and final.records == count + 1 and final.head_seq == count + 1


def test_every_step_is_enumerated(crashes: tuple[Path, dict[str, object]]) -> None:
    base, summary = crashes
    steps = summary["steps"]
    assert isinstance(steps, list)
    assert summary["full"] == 0
    # per record: write, flush, fsync; per head sync: write, fsync, replace, dir fsync
    assert steps.count("write") == len(_EXPECTED)
    # head replaced at creation and after ack, fill, fill, cancel, state, intent c (the two
    # intents with sync_head=False leave it one behind, the next record catches up)
    assert steps.count("head replace") == 7
    assert {"create", "flush", "fsync", "head write", "head fsync", "head dir fsync"} <= set(steps)
    full = Journal.verify(base / "full" / "j.jsonl")
    assert full.ok and full.records == len(_EXPECTED) and full.head_seq == len(_EXPECTED)


def test_kill_9_before_any_step_leaves_a_journal_that_opens(
    crashes: tuple[Path, dict[str, object]],
) -> None:
    base, summary = crashes
    runs = summary["runs"]
    assert isinstance(runs, dict)
    plain = [name for name in runs if not name.startswith("tear-")]
    assert len(plain) == len(summary["steps"])  # type: ignore[arg-type]
    for name in plain:
        status = runs[name]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, name
        _check_reopens(base / name, torn=False)


def test_a_line_torn_by_the_crash_is_cut_and_its_append_never_returned(
    crashes: tuple[Path, dict[str, object]],
) -> None:
    base, summary = crashes
    runs = summary["runs"]
    assert isinstance(runs, dict)
    torn = [name for name in runs if name.startswith("tear-")]
    assert len(torn) == len(_EXPECTED)  # one per line fsync
    for name in torn:
        assert os.WTERMSIG(runs[name]) == signal.SIGKILL, name
        _check_reopens(base / name, torn=True)
