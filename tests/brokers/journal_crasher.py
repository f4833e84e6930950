"""A journal writer that kills itself (SIGKILL) at a chosen step; run as a script by the tests.

``python journal_crasher.py BASE`` first runs the scenario once to the end in a forked child to
count and name its steps (every write, flush, fsync, rename of the journal and its head), then,
for every step k, forks a child that runs the scenario in ``BASE/k`` and SIGKILLs itself just
before step k. For each step that ``fsync``s a journal line it also runs a ``BASE/tear-k``
child that, before dying, cuts that line in half as a power loss might. Each child appends the
seq of every record whose append returned to ``returned`` (page cache survives ``kill -9``).
The steps and the children's exit statuses go to ``BASE/summary.json``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path

from quantkit.brokers.journal import Journal
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest, Side

_STEPS: list[str] = []
_PLAN = {"die_at": -1, "tear": False}


class CrashingJournal(Journal):
    """Counts the steps across objects; dies before step ``die_at``."""

    def _boundary(self, step: str) -> None:
        _STEPS.append(step)
        if step == "write":
            self._size_before = self.path.stat().st_size
        if len(_STEPS) != _PLAN["die_at"]:
            return
        if _PLAN["tear"]:
            self._file.flush()
            size = self.path.stat().st_size
            os.truncate(self.path, self._size_before + (size - self._size_before) // 2)
        os.kill(os.getpid(), signal.SIGKILL)


def scenario(directory: Path) -> None:
    """Write the records the test expects, in two runs of the writer."""
    path = directory / "j.jsonl"
    returned = os.open(directory / "returned", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def done(seq: int) -> None:
        os.write(returned, f"{seq}\n".encode())

    request = OrderRequest("BTC/USDT", Side.BUY, amount=2.0)
    journal = CrashingJournal(path, run_id="r")
    done(journal.intent(request, "a", sync_head=False).seq)
    done(journal.ack("a", "x-1").seq)
    done(journal.fill(Fill("a", "BTC/USDT", Side.BUY, 100.0, 0.5, 0.01, "USDT", 1), "t1").seq)
    done(journal.fill(Fill("a", "BTC/USDT", Side.BUY, 101.0, 1.5, 0.02, "USDT", 2), "t2").seq)
    done(journal.intent(request, "b", sync_head=False).seq)
    done(journal.cancel("b").seq)
    done(journal.state({"bar": 7, "equity": 0.1 + 0.2}).seq)
    journal.close()
    journal = CrashingJournal(path, run_id="r")
    done(journal.intent(request, "c").seq)
    journal.close()


def _run_child(directory: Path, die_at: int, tear: bool) -> int:
    directory.mkdir(parents=True)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            _PLAN.update(die_at=die_at, tear=tear)
            scenario(directory)
            (directory / "steps.json").write_text(json.dumps(_STEPS))
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    return os.waitpid(pid, 0)[1]


def main(base: Path) -> None:
    """Run the whole scenario once, then once per step dying there; write the summary."""
    status = _run_child(base / "full", -1, False)
    steps = json.loads((base / "full" / "steps.json").read_text())
    runs = {}
    for k in range(1, len(steps) + 1):
        runs[str(k)] = _run_child(base / str(k), k, False)
        if steps[k - 1] == "fsync":
            runs[f"tear-{k}"] = _run_child(base / f"tear-{k}", k, True)
    summary = {"full": status, "steps": steps, "runs": runs}
    (base / "summary.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
