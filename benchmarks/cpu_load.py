"""Keep every core busy for a bounded time: the load under which ``nox -s flake`` runs the suite.

Usage: ``python benchmarks/cpu_load.py [--seconds N] [--workers N]``. Each worker spins until the
deadline and then exits; SIGTERM to the parent stops the workers at once. Prints how many
workers ran and for how long.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import time
from types import FrameType


def _spin(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for _ in range(100_000):
            x += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    workers = [mp.Process(target=_spin, args=(deadline,), daemon=True) for _ in range(args.workers)]

    def stop(signum: int, frame: FrameType | None) -> None:
        for worker in workers:
            worker.terminate()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(f"cpu_load: {args.workers} workers for {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
