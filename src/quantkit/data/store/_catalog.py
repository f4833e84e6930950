"""What a store holds: the series found on disk, a summary table and hints for typos."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from quantkit.data.store import _locking, _reader
from quantkit.data.store.layout import SeriesKey, decode_name, list_partitions
from quantkit.data.store.ranges import runs
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENTRY_COLUMNS", "entries", "held_series", "suggest"]

ENTRY_COLUMNS = (
    "exchange",
    "symbol",
    "timeframe",
    "first",
    "last",
    "rows",
    "gaps",
    "partitions",
    "bytes",
)


def held_series(root: Path) -> list[tuple[str, str, str]]:
    """Every series of the store with at least one partition.

    Directories that the store did not make (names it cannot decode) are ignored.

    Args:
        root: The store's root.

    Returns:
        Sorted ``(exchange, symbol, timeframe)`` triples.
    """
    found = []
    for exchange_dir in _subdirectories(root):
        for symbol_dir in _subdirectories(exchange_dir):
            for timeframe_dir in _subdirectories(symbol_dir):
                key = _key_of(exchange_dir.name, symbol_dir.name, timeframe_dir.name)
                if key is not None and list_partitions(key, root):
                    found.append((key.exchange, key.symbol, key.timeframe))
    return sorted(found)


def _key_of(exchange_dir: str, symbol_dir: str, timeframe_dir: str) -> SeriesKey | None:
    exchange, symbol = decode_name(exchange_dir), decode_name(symbol_dir)
    if exchange is None or symbol is None:
        return None
    try:
        key = SeriesKey.make(exchange, symbol, timeframe_dir)
    except ConfigError:
        return None
    return key if key.timeframe == timeframe_dir else None


def entries(root: Path) -> pd.DataFrame:
    """One row per series: first and last open time, bars, holes, files and bytes.

    Args:
        root: The store's root.

    Returns:
        A DataFrame with the columns of `ENTRY_COLUMNS`.

    Raises:
        StoreError: If a file is corrupt.
    """
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    rows = []
    for exchange, symbol, timeframe in held_series(root):
        key = SeriesKey.make(exchange, symbol, timeframe)
        with _locking.reading(root, key):  # one version of the series, its files kept
            partitions = list_partitions(key, root)
            paths = [part.path for part in partitions]
            times = _reader.read_times(
                paths, None, None, timeframe=key.timeframe_ns, source=key.describe()
            )
            size = sum(path.stat().st_size for path in paths)
        if times.size == 0:
            continue  # emptied since it was listed
        rows.append(
            (
                exchange,
                symbol,
                key.timeframe,
                pd.Timestamp(int(times[0]), unit="ns", tz="UTC"),
                pd.Timestamp(int(times[-1]), unit="ns", tz="UTC"),
                len(times),
                len(runs(times, key.timeframe_ns)) - 1,
                len(partitions),
                size,
            )
        )
    return pd.DataFrame(rows, columns=list(ENTRY_COLUMNS))


def suggest(root: Path, key: SeriesKey) -> str:
    """A hint for an error about a series the store does not hold.

    Args:
        root: The store's root.
        key: The series asked for.

    Returns:
        The timeframes held for the same symbol, else close symbol names, else advice.
    """
    held = held_series(root)
    same = [tf for (ex, sym, tf) in held if (ex, sym) == (key.exchange, key.symbol)]
    if same:
        return f"; it holds {key.exchange} {key.symbol} in timeframes {', '.join(same)}"
    names = sorted({f"{ex} {sym}" for (ex, sym, _) in held})
    close = difflib.get_close_matches(f"{key.exchange} {key.symbol}", names, n=3)
    if close:
        return " (did you mean " + " or ".join(repr(name) for name in close) + "?)"
    return "; download or import it first"


def _subdirectories(directory: Path) -> list[Path]:
    try:
        return sorted(entry for entry in directory.iterdir() if entry.is_dir())
    except FileNotFoundError:
        return []
