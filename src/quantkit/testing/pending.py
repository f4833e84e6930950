"""PendingOutcomes: requests the local exchange answered ``-1007`` and carries out later.

Binance answers ``-1007`` ("Send status unknown; execution status unknown.") when its backend
did not answer in time; the order may still execute seconds later. The local exchange keeps such
requests here: each runs after its delay (a timer on the server's event loop), never (no
delay), or at once when a test calls `LocalExchange.execute_pending`, which is how tests make
"executed later" deterministic instead of waiting on the wall clock.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

__all__ = ["PendingOutcomes"]

Action = Callable[[], Awaitable[None]]
"""Carries a deferred request out (runs on the server's event loop)."""
_log = structlog.get_logger("quantkit.testing")


@dataclass(slots=True)
class _Item:
    action: Action
    label: str
    timer: asyncio.TimerHandle | None


class PendingOutcomes:
    """Deferred requests, each carried out after a delay, on demand, or never."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, _Item] = {}
        self._ids = itertools.count(1)
        self._running: set[asyncio.Task[None]] = set()
        self._done = 0

    def defer(self, action: Action, after: float | None, label: str = "") -> None:
        """Keep ``action`` to run ``after`` seconds from now, or only on demand (``None``).

        Call it from the server's event loop.

        Args:
            action: What carries the request out.
            after: Delay in seconds; ``None`` waits for `run_all`.
            label: What the request was, for the log.
        """
        key = next(self._ids)
        timer = None
        if after is not None:
            timer = asyncio.get_running_loop().call_later(after, self._fire, key)
        with self._lock:
            self._items[key] = _Item(action, label, timer)

    def _fire(self, key: int) -> None:
        with self._lock:
            item = self._items.pop(key, None)
        if item is not None:
            task = asyncio.ensure_future(self._run(item))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, item: _Item) -> None:
        try:
            await item.action()
        except Exception:  # a bug of the test server: say so, and keep serving
            _log.exception("deferred request failed", request=item.label)
        finally:
            with self._lock:
                self._done += 1
        _log.info("deferred request carried out", request=item.label)

    async def run_all(self) -> int:
        """Carry out every pending request now, oldest first (on the server's event loop).

        Returns:
            How many were carried out.
        """
        with self._lock:
            items = [self._items[k] for k in sorted(self._items)]
            self._items.clear()
        for item in items:
            if item.timer is not None:
                item.timer.cancel()
            await self._run(item)
        return len(items)

    def drop_all(self) -> None:
        """Forget every pending request and stop those already running (server shutdown)."""
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
        for item in items:
            if item.timer is not None:
                item.timer.cancel()
        for task in list(self._running):
            task.cancel()

    @property
    def count(self) -> int:
        """How many requests wait to be carried out."""
        with self._lock:
            return len(self._items)

    @property
    def done(self) -> int:
        """How many deferred requests were carried out so far."""
        with self._lock:
            return self._done
