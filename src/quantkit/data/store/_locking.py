"""Per-series locks between processes: one writer at a time, readers pinned to a version.

Two lock files per series live under ``<root>/.locks/<exchange>/<symbol>/``:

- ``<timeframe>.write``: exclusive, held for a whole write (read, merge, write files, commit),
  so that two writers of one series (two processes, two stores, two threads) never lose each
  other's bars; a second writer waits up to the store's ``lock_timeout`` and then gets a
  `StoreError` naming the holder.
- ``<timeframe>.read``: shared by readers for the time they read one version of the series;
  a writer removes superseded files only when it can take it exclusively, without waiting
  (otherwise a later write does it). So a reader's files never vanish under it.

The OS drops these locks when their holder dies, ``kill -9`` included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from quantkit._locks import FileLock
from quantkit.data.store.layout import SeriesKey, encode_name
from quantkit.errors import StoreError

__all__ = ["LOCK_DIRECTORY", "exclusive_readers", "reading", "writing"]

LOCK_DIRECTORY = ".locks"
_READ_WAIT_S = 60.0


def _lock_path(root: Path, key: SeriesKey, kind: str) -> Path:
    return (
        root
        / LOCK_DIRECTORY
        / encode_name(key.exchange)
        / encode_name(key.symbol)
        / f"{key.timeframe}.{kind}"
    )


@contextlib.contextmanager
def writing(root: Path, key: SeriesKey, timeout: float) -> Iterator[None]:
    """Hold the series' writer lock for the block.

    Args:
        root: The store's root.
        key: The series.
        timeout: Seconds to wait for another writer to finish.

    Yields:
        Nothing.

    Raises:
        StoreError: If another writer holds the series longer than ``timeout``.
    """
    lock = FileLock(_lock_path(root, key, "write"))
    try:
        taken = lock.acquire(timeout)
    except OSError as exc:
        raise StoreError(f"{key.describe()}: cannot create the lock {lock.path}: {exc}") from exc
    if not taken:
        raise StoreError(
            f"{key.describe()}: another writer ({lock.holder()}) has held the series for more "
            f"than {timeout:g} s; nothing was written (raise lock_timeout or try again later)"
        )
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def reading(root: Path, key: SeriesKey) -> Iterator[None]:
    """Hold the series' reader lock (shared) for the block, if the store lets us create it.

    Args:
        root: The store's root.
        key: The series.

    Yields:
        Nothing.
    """
    lock = FileLock(_lock_path(root, key, "read"), shared=True)
    if not root.is_dir():  # nothing to read, and reading creates nothing
        yield
        return
    with contextlib.suppress(OSError):  # OSError: a read-only store, nobody can write it either
        lock.acquire(_READ_WAIT_S)  # only garbage collection holds it exclusively, briefly
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def exclusive_readers(root: Path, key: SeriesKey) -> Iterator[bool]:
    """Try, without waiting, to hold the reader lock exclusively: no reader is reading.

    Args:
        root: The store's root.
        key: The series.

    Yields:
        Whether the lock is held (then superseded files may be removed).
    """
    lock = FileLock(_lock_path(root, key, "read"))
    try:
        taken = lock.acquire()
    except OSError:
        taken = False
    try:
        yield taken
    finally:
        lock.release()
