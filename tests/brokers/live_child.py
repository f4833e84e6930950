"""A live run in a child process, read line by line with deadlines, killed with SIGKILL.

Used by the kill -9 tests: the parent publishes candles in lockstep with the bars the child
reports (``BAR n`` lines), so the child can neither run out of data nor outrun the test, and a
child that ends by itself is told apart from one that was killed.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Protocol

import pytest

from quantkit.testing import LocalExchange

LINE_TIMEOUT_S = 60.0


class Child:
    """A child run whose output lines are read by a thread, so reads can have a deadline."""

    def __init__(self, script: Path, url: str, journal: Path, max_bars: int, log: Path) -> None:
        self.log = log
        with log.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(script), url, str(journal), str(max_bars)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self) -> str | None:
        """The next line, or ``None`` once the child closed its output."""
        try:
            return self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"the child said nothing for {LINE_TIMEOUT_S:g}s; {self.tail()}")

    def until(self, prefix: str) -> str | None:
        """Read up to the next line starting with ``prefix``; ``None`` if the child ended."""
        while (line := self.next_line()) is not None:
            if line.startswith(prefix):
                return line
        self.process.wait(timeout=30)
        return None

    def kill(self) -> bool:
        """SIGKILL the child; return whether it was still running (else it had crashed)."""
        alive = self.process.poll() is None
        if alive:
            self.process.send_signal(signal.SIGKILL)
        return alive and self.finish() == -signal.SIGKILL

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the child to end, close its output; return its exit status."""
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.process.returncode

    def tail(self) -> str:
        return "stderr tail: " + self.log.read_text(errors="replace")[-3000:]


class Lines(Protocol):
    """A child whose messages can be read up to a prefix (`Child`, or a forked one)."""

    def until(self, prefix: str) -> str | None:
        """Read up to the next message starting with ``prefix``; ``None`` if it ended."""


def run_session(child: Lines, local: LocalExchange, bars: int) -> bool:
    """Publish one candle per bar the child reports, ``bars`` times; ``False`` if it ended.

    The first candle is published once the child said ``READY`` (its warmup history loaded):
    published earlier, it would be part of that history and the child would wait forever.
    """
    if child.until("READY") is None:
        return False
    for _ in range(bars):
        local.publish()
        if child.until("BAR") is None:
            return False
    return True
