"""One writer per journal, enforced by an OS lock; readers are never refused or confused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import quantkit
from quantkit.brokers.journal import Journal, replay
from quantkit.errors import StoreError

_HOLDER = """
import sys
from quantkit.brokers.journal import Journal
journal = Journal(sys.argv[1], run_id="r")
print("opened", flush=True)
pause = int(sys.argv[3]) if len(sys.argv) > 3 else -1
for i in range(int(sys.argv[2])):
    if i == pause:  # let the parent read once mid-run, whatever the scheduler does
        print("half", flush=True)
        sys.stdin.readline()
    journal.append("state", {"i": i})
print("ready", flush=True)
sys.stdin.readline()
journal.close()
"""

_CONTENDER = """
import sys
from quantkit.brokers.journal import Journal
from quantkit.errors import StoreError
try:
    Journal(sys.argv[1], run_id="r")
except StoreError as exc:
    print(exc)
    sys.exit(3)
"""


def _env() -> dict[str, str]:
    src = str(Path(quantkit.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A real process that wrote 5 records and keeps the journal open until told."""
    path = tmp_path / "j.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert child.stdout is not None and child.stdout.readline() == "opened\n"
    assert child.stdout.readline() == "ready\n"
    yield child
    if child.poll() is None:
        child.kill()
    child.communicate(timeout=60)


def test_a_second_writer_process_is_refused_at_once_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    path = tmp_path / "j.jsonl"
    who = rf"pid {holder.pid} on host {socket.gethostname()} since \d{{4}}-\d\d-\d\dT"
    with pytest.raises(StoreError, match=rf"j.jsonl: another writer holds it \({who}"):
        Journal(path, run_id="r")
    contender = subprocess.run(
        [sys.executable, "-c", _CONTENDER, str(path)],
        capture_output=True,
        check=False,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert contender.returncode == 3
    assert f"pid {holder.pid} on host" in contender.stdout
    # reading is never refused, and the refused writers changed nothing
    report = Journal.verify(path)
    assert report.ok and report.records == 5
    assert replay(path).state == {"i": 4}
    holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    with Journal(path, run_id="r") as journal:  # released on close
        assert len(journal) == 5


def test_kill_9_of_the_writer_does_not_block_a_restart(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    path = tmp_path / "j.jsonl"
    holder.kill()
    holder.wait(timeout=60)
    with Journal(path, run_id="r") as journal:
        assert len(journal) == 5
        journal.append("state", {"i": 5})
    assert Journal.verify(path).records == 6


def test_a_second_journal_object_in_one_process_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    first = Journal(path, run_id="r")
    first.append("state", {"i": 0})
    with pytest.raises(StoreError, match=rf"another writer holds it \(pid {os.getpid()} "):
        Journal(path, run_id="r")
    assert len(first.append("state", {"i": 1}).data) == 1  # the first one is unharmed
    first.close()
    with Journal(path, run_id="r") as second:
        assert len(second) == 2


def test_readers_never_fail_while_a_writer_process_appends(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    count, half = 300, 150
    writer = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), str(count), str(half)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    seen = [0]

    def read_once() -> int:
        report = Journal.verify(path)
        assert report.records >= seen[-1] and not report.truncated
        seen.append(report.records)
        assert len(replay(path).fills) == 0
        return report.records

    try:
        assert writer.stdout is not None and writer.stdout.readline() == "opened\n"
        while writer.poll() is None and read_once() < half:
            pass
        assert writer.stdout.readline() == "half\n"  # paused mid-run: one read sees that
        assert read_once() == half
        assert writer.stdin is not None
        writer.stdin.write("\n")
        writer.stdin.flush()
        while writer.poll() is None:  # the writer stops at "ready" waiting for stdin
            if read_once() == count:
                break
    finally:
        writer.communicate("\n", timeout=120)
    assert writer.returncode == 0
    assert any(0 < n < count for n in seen), "no read happened while the writer appended"
    final = Journal.verify(path)
    assert final.ok and final.records == count


def test_a_failed_append_releases_the_lock_so_the_journal_can_be_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path, run_id="r")
    journal.append("state", {"i": 0})

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError, match=r"append failed, reopen it: .*No space left"):
        journal.append("state", {"i": 1})
    monkeypatch.undo()
    with Journal(path, run_id="r") as reopened:  # not refused: the failed writer let go
        # the line reached the page cache though its fsync failed: it is there, intact
        assert [r.data for r in reopened.records()] == [{"i": 0}, {"i": 1}]
