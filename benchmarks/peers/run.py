"""Peer benchmarks: quantkit, vectorbt, backtesting.py and backtrader on the same workloads.

Each tool runs in its own long-lived worker process (``worker.py``). For every workload:

1. check: quantkit runs it, then every peer that has the workload runs it once and must give
   the same trades (closed round trips and final equity within the peer's stated tolerance,
   every combination of a sweep); a peer that does not is reported and never timed, and the
   command exits with status 1;
2. time: ``--repeats`` rounds, each running every checked tool once, in an order that rotates
   from round to round (interleaved, so a burst of load hits every tool alike); every timed run
   must give the checked trades again.

The table shows medians, bars per second (bars x combinations / time), each tool's time as a
multiple of quantkit's, and the peak resident memory of the worker during the run.

Run (in a venv built from ``benchmarks/peers/requirements.txt`` plus quantkit, or with
``nox -s peers``, which builds it)::

    python benchmarks/peers/run.py                       # every workload, 3 rounds
    python benchmarks/peers/run.py --repeats 5 --workloads event-10k fast-1m
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tool_backtesting
import tool_backtrader
import tool_quantkit
import tool_vectorbt
from check import PeerMismatchError, RunSummary, check_same_trades
from workloads import WORKLOADS, Workload

HERE = Path(__file__).resolve().parent
TOOLS = (tool_quantkit, tool_vectorbt, tool_backtesting, tool_backtrader)
DISTRIBUTIONS = {
    "quantkit": "quantkit",
    "vectorbt": "vectorbt",
    "backtesting.py": "backtesting",
    "backtrader": "backtrader",
}
NOTES = """\
notes:
- ratio = the tool's median time / quantkit's median time on the same workload (> 1: quantkit
  is faster). Times: median of the rounds; each tool's data is built before its timer starts.
- every peer first reproduced quantkit's trades (closed round trips, final equity) on the
  workload, every sweep combination included, before it was timed; the tolerances and the fill
  conventions are stated in benchmarks/peers/tool_*.py.
- vectorbt: Portfolio.from_signals over all combinations in one call, on a naive index (its fast
  case; a UTC index is several times slower); the single run includes Portfolio.stats(); cash
  in units of 1e-30 USDT and min_size=0 (the workload's fees take the equity below 1e-12).
- backtesting.py trades whole units: FractionalBacktest with 1e-30 BTC units.
- backtesting.py's optimize and backtrader's optstrategy are not in the sweeps: hundreds of times
  slower than the vectorised tools on this grid (backtrader's event loop alone is 35-50 times
  slower than quantkit's on the event workloads).
- QuantConnect LEAN is a C# engine, not pip-installable: it is not in this table.
- peak memory: the worker's resident high-water mark during the run (data and libraries
  included)."""


@dataclass
class Row:
    """One (workload, tool) line of the table."""

    workload: Workload
    tool: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    status: str = "ok"

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


class Worker:
    """A tool's worker process, spoken to one line at a time."""

    def __init__(self, name: str, log: IO[str]) -> None:
        env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py"), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )

    def run(self, workload: Workload) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(workload.name + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} worker died on {workload.name} (see its log)")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.name} on {workload.name}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def summaries(answer: dict[str, Any]) -> list[RunSummary]:
    """The worker's trades as summaries."""
    return [RunSummary(int(t), float(e)) for t, e in answer["summaries"]]


@contextlib.contextmanager
def workers(names: list[str], log: IO[str]) -> Iterator[dict[str, Worker]]:
    """Start one worker per tool; stop them all at the end, whatever happened."""
    started: dict[str, Worker] = {}
    try:
        for name in names:
            started[name] = Worker(name, log)
        yield started
    finally:
        for worker in started.values():
            try:
                worker.close()
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def bench_workload(workload: Workload, pool: dict[str, Worker], repeats: int) -> list[Row]:
    """Check every peer against quantkit, then time the checked ones in interleaved rounds."""
    modules = {t.NAME: t for t in TOOLS if t.NAME in pool and workload.kind in t.KINDS}
    rows = {name: Row(workload, name) for name in modules}
    reference = summaries(pool["quantkit"].run(workload))
    for name, module in modules.items():
        if name == "quantkit":
            continue
        try:
            got = summaries(pool[name].run(workload))
            check_same_trades(f"{workload.name} / {name}", reference, got, module.TOLERANCE)
        except (PeerMismatchError, RuntimeError) as exc:
            print(f"MISMATCH, NOT TIMED: {exc}", file=sys.stderr, flush=True)
            rows[name].status = "MISMATCH (not timed)"
    timed = [name for name in modules if rows[name].status == "ok"]
    for round_ in range(repeats):
        shift = round_ % len(timed)
        for name in timed[shift:] + timed[:shift]:
            answer = pool[name].run(workload)
            label = f"{workload.name} / {name}, round {round_ + 1}"
            check_same_trades(label, reference, summaries(answer), modules[name].TOLERANCE)
            rows[name].seconds.append(answer["seconds"])
            rows[name].peak_mb = max(rows[name].peak_mb, answer["peak_mb"])
    return list(rows.values())


def table(rows: list[Row]) -> str:
    """The side-by-side table, one line per (workload, tool), as Markdown."""
    lines = [
        "| workload | tool | time (median) | bars/s | ratio to quantkit | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    reference = {r.workload.name: r.median for r in rows if r.tool == "quantkit" and r.seconds}
    for row in rows:
        if not row.seconds:
            lines.append(f"| {row.workload.title} | {row.tool} | {row.status} | | | |")
            continue
        rate = row.workload.work / row.median
        ratio = row.median / reference[row.workload.name]
        lines.append(
            f"| {row.workload.title} | {row.tool} | {row.median:.3f} s | {_rate(rate)} "
            f"| {ratio:.2f} | {row.peak_mb:,.0f} MB |"
        )
    return "\n".join(lines)


def _rate(rate: float) -> str:
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:,.0f}k"


def versions(names: list[str]) -> str:
    """The versions the run used."""
    found = []
    for name in [*names, "numpy", "pandas", "numba"]:
        try:
            found.append(f"{name} {importlib.metadata.version(DISTRIBUTIONS.get(name, name))}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def machine() -> str:
    """CPU count, model and the load average (the machine is shared: the load matters)."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} x {model}, Python {platform.python_version()}, load average {load}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--tools", nargs="+", choices=[t.NAME for t in TOOLS[1:]])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = ["quantkit", *(args.tools or [t.NAME for t in TOOLS[1:]])]
    print(f"versions: {versions(names)}")
    print(f"machine at start: {machine()}", flush=True)
    rows: list[Row] = []
    with tempfile.NamedTemporaryFile("w", prefix="peers-", suffix=".log", delete=False) as log:
        print(f"worker log: {log.name}", flush=True)
        with workers(names, log) as pool:
            for name in args.workloads:
                rows += bench_workload(WORKLOADS[name], pool, args.repeats)
                print(f"done: {name}", file=sys.stderr, flush=True)
    print(f"machine at end:   {machine()}")
    print(f"rounds: {args.repeats}\n")
    print(table(rows))
    print()
    print(NOTES)
    return 1 if any(r.status != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
