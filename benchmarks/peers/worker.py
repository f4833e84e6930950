"""One tool's worker process: runs workloads on request and reports time, memory and trades.

``run.py`` starts one worker per tool and sends it one workload name per line on stdin; the
worker answers one JSON line per request on its own pipe (stdout is moved to stderr, so nothing
a library prints can garble the answer). Before a workload kind's first timed run the worker
runs it once on 2,000 bars, untimed: numba compilation and first imports are not the run.

Timed: from the tool's own input (quantkit's `BarSeries`, the peers' pandas frame, both built
beforehand) to the summary. Peak memory: the process's resident high-water mark during the run
(``VmHWM`` after resetting it through ``/proc/self/clear_refs``), the data included.

Run: ``python worker.py TOOL`` (``quantkit``, ``vectorbt``, ``backtesting.py``, ``backtrader``).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import WORKLOADS, Workload, series

TOOLS = {
    "quantkit": "tool_quantkit",
    "vectorbt": "tool_vectorbt",
    "backtesting.py": "tool_backtesting",
    "backtrader": "tool_backtrader",
}
WARMUP_BARS = 2_000


def peak_rss_mb() -> float:
    """The resident high-water mark since the last reset, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Start a new high-water mark (Linux: write 5 to clear_refs)."""
    # not Linux, or not allowed: the peak then covers the process so far
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Worker:
    """Holds one tool, its prepared data and which kinds it has warmed up."""

    def __init__(self, tool: Any) -> None:
        self.tool = tool
        self.warm: set[str] = set()
        self.data: tuple[str, Any] | None = None

    def _prepared(self, workload: Workload) -> Any:
        if self.data is None or self.data[0] != workload.name:
            self.data = None
            gc.collect()
            self.data = (workload.name, self.tool.prepare(workload, series(workload.bars)))
        return self.data[1]

    def run(self, name: str) -> dict[str, Any]:
        workload = WORKLOADS[name]
        if workload.kind not in self.warm:
            small = Workload("warm-up", workload.kind, WARMUP_BARS, "warm-up")
            self.tool.run(small, self.tool.prepare(small, series(WARMUP_BARS)))
            self.warm.add(workload.kind)
        data = self._prepared(workload)
        gc.collect()
        reset_peak_rss()
        start = time.perf_counter()
        summaries = self.tool.run(workload, data)
        seconds = time.perf_counter() - start
        peak = peak_rss_mb()
        return {
            "seconds": seconds,
            "peak_mb": peak,
            "summaries": [[s.trades, s.final_equity] for s in summaries],
        }


def main() -> None:
    tool = importlib.import_module(TOOLS[sys.argv[1]])
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    worker = Worker(tool)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        try:
            answer = worker.run(name)
        except Exception as exc:  # reported to run.py, which fails loudly
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
