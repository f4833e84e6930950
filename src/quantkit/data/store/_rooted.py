"""What the bar store and the funding store share: a root directory, a codec and writer locks.

`RootedStore` checks ``lock_timeout``, keeps the root, the codec of new files and a
thread lock, and gives `RootedStore._writing`: this thread's lock plus the series' writer lock
across processes (`_locking.writing`), held for a block.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from quantkit.data._tabular import PathLike
from quantkit.data.store import _locking
from quantkit.data.store.layout import SeriesKey
from quantkit.errors import ConfigError

__all__ = ["RootedStore"]


class RootedStore:
    """Base of the stores kept under one directory.

    Args:
        root: The store's directory.
        compression: Parquet codec of new files.
        lock_timeout: Seconds a write waits for another writer of the same series.

    Raises:
        ConfigError: If ``lock_timeout`` is negative.
    """

    def __init__(self, root: PathLike, *, compression: str, lock_timeout: float) -> None:
        if not lock_timeout >= 0:
            raise ConfigError(f"lock_timeout must be >= 0 seconds, got {lock_timeout!r}")
        self._root = Path(root)
        self._compression = compression
        self._lock_timeout = float(lock_timeout)
        self._lock = threading.RLock()

    @property
    def root(self) -> Path:
        """The store's directory."""
        return self._root

    def __repr__(self) -> str:
        return f"{type(self).__name__}({os.fspath(self._root)!r})"

    @contextlib.contextmanager
    def _writing(self, key: SeriesKey) -> Iterator[None]:
        with self._lock, _locking.writing(self._root, key, self._lock_timeout):
            yield
