"""Cross-process file locks that the operating system releases when their holder dies.

A lock is an advisory ``flock`` on a small lock file: held for as long as the holder keeps it,
released by `FileLock.release` or by the OS when the process ends, ``kill -9`` included, so a
restart is never blocked by a dead holder. An exclusive lock writes who holds it (pid, host and
since when) into its file, so that a refused second holder can be told whom to look for.
Locks taken through separate `FileLock` objects exclude each other also within one process
and across threads. On systems without ``fcntl`` (Windows) locks are taken with ``msvcrt``,
exclusive only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["FileLock"]

_POLL_S = 0.02


def _try_lock(fd: int, shared: bool) -> bool:
    """Take the lock on ``fd`` without waiting; return whether it was taken."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt  # noqa: PLC0415

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl  # noqa: PLC0415

    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FileLock:
    """An advisory OS lock on ``path`` (created if missing), exclusive or shared.

    Args:
        path: The lock file.
        shared: Take a shared lock (many holders) instead of an exclusive one.
    """

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        self.path = path
        self.shared = shared
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds for the holder to let go.

        Args:
            timeout: Seconds to wait; ``0`` tries once.

        Returns:
            Whether the lock is now held.

        Raises:
            OSError: If the lock file cannot be created or opened.
        """
        if self._fd is not None:
            return True
        fd = self._open()
        deadline = time.monotonic() + timeout
        while not _try_lock(fd, self.shared):
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(_POLL_S)
        self._fd = fd
        if not self.shared:
            self._write_holder(fd)
        return True

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            if not self.shared:
                raise
            return os.open(self.path, os.O_RDONLY)

    @staticmethod
    def _write_holder(fd: int) -> None:
        since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
        with contextlib.suppress(OSError):  # the lock holds; the note is only informative
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)

    def holder(self) -> str:
        """Who holds (or last held) the exclusive lock, in words.

        Returns:
            E.g. ``"pid 4242 on host build-1 since 2026-01-05T10:00:00Z"``, or
            ``"an unknown holder"`` when the lock file names none.
        """
        try:
            obj = json.loads(self.path.read_bytes())
            return f"pid {obj['pid']} on host {obj['host']} since {obj['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown holder"

    def release(self) -> None:
        """Let go of the lock (idempotent); the lock file stays."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock
