"""StoreSnapshot: one committed version of several stored series, served as lazy Polars frames.

A snapshot reads each series' manifest once, under the series' reader lock, and keeps that lock
until it is closed; the store's writers never delete a file while a reader holds the lock (see
``quantkit.data.store._locking``), and never change a file a manifest names. So every file the
snapshot lists stays on disk, unchanged, for as long as the snapshot is open, and a lazy frame
built from it reads exactly that version however many writes commit in the meantime.

Polars reads the files through a private directory of symbolic links laid out as Hive
partitions (``symbol=BTC%2FUSDT/2024-01.parquet``): a filter on ``symbol`` prunes whole
series without opening their files, and a filter on ``time`` is checked against each row
group's min/max statistics. polars is imported only when `StoreSnapshot.scan` is called.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantkit.data._timestamps import parse_instant
from quantkit.data.store import _catalog, _locking
from quantkit.data.store._arrow import arrow_errors, check_schema
from quantkit.data.store.layout import Partition, SeriesKey, list_partitions, overlapping
from quantkit.errors import ConfigError, DataError, StoreError

if TYPE_CHECKING:
    import polars as pl

    from quantkit.data._timestamps import TimeLike

__all__ = ["StoreSnapshot"]

_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_WORKERS = 4


class StoreSnapshot:
    """One committed version of stored series, for lazy Polars queries larger than memory.

    Made by `ParquetStore.snapshot`; use it as a context manager and run every query built
    from it before it closes. While it is open, writers of its series go on committing (they
    never wait for it), but the snapshot and every frame it gave keep seeing the version it
    pinned: never a mix of versions, never a half-done write. Closing it lets the next write
    remove the files it pinned.

    Attributes:
        exchange: Exchange id.
        timeframe: Canonical timeframe, e.g. ``"1m"``.
        symbols: The series pinned, in the order given.

    Examples:
        >>> import tempfile
        >>> import pandas as pd
        >>> from quantkit.data.store import ParquetStore
        >>> store = ParquetStore(tempfile.mkdtemp())
        >>> bars = pd.DataFrame(
        ...     {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0},
        ...     index=pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC"),
        ... )
        >>> _ = store.write("binance", "BTC/USDT", "1h", bars)
        >>> with store.snapshot("binance", ["BTC/USDT"], "1h") as snap:
        ...     daily = snap.scan(start="2024-01-02").select("volume").sum().collect()
        >>> daily.item()
        240.0
    """

    def __init__(
        self,
        root: Path,
        exchange: str,
        symbols: Sequence[str],
        timeframe: str | int,
    ) -> None:
        if isinstance(symbols, str):
            symbols = [symbols]
        keys = [SeriesKey.make(exchange, symbol, timeframe) for symbol in symbols]
        if not keys:
            raise ConfigError("a snapshot needs at least one symbol")
        seen = [key.symbol for key in keys]
        twice = sorted({symbol for symbol in seen if seen.count(symbol) > 1})
        if twice:
            raise ConfigError(f"symbols given more than once: {twice}")
        self.exchange = keys[0].exchange
        self.timeframe = keys[0].timeframe
        self.symbols: tuple[str, ...] = tuple(seen)
        self._stack = contextlib.ExitStack()
        self._links: Path | None = None
        try:
            self._partitions = {key.symbol: self._pin(root, key) for key in keys}
            _check_files(keys, self._partitions)
            self._links = Path(tempfile.mkdtemp(prefix="quantkit-snapshot-"))
            self._paths = {s: self._link(s, parts) for s, parts in self._partitions.items()}
        except BaseException:
            self.close()
            raise

    def _pin(self, root: Path, key: SeriesKey) -> list[Partition]:
        """Take the series' reader lock for the snapshot's life and read its version."""
        self._stack.enter_context(_locking.reading(root, key))
        partitions = list_partitions(key, root)
        if not partitions:
            raise DataError(
                f"the store at {os.fspath(root)} holds no bars of this series"
                + _catalog.suggest(root, key),
                source=key.describe(),
            )
        return partitions

    def _link(self, symbol: str, partitions: list[Partition]) -> dict[str, Path]:
        """Lay the series' files out as one Hive partition of links; partition name to link."""
        if self._links is None:  # pragma: no cover - set before the first call
            raise AssertionError("the link directory is made first")
        directory = self._links / f"symbol={urllib.parse.quote(symbol, safe='')}"
        directory.mkdir()
        links = {}
        for part in partitions:
            link = directory / part.name
            try:
                os.symlink(part.path.resolve(), link)
            except OSError as exc:
                raise StoreError(
                    f"cannot link {part.path} into the snapshot directory {directory}: {exc} "
                    "(snapshots need symbolic links)"
                ) from exc
            links[part.name] = link
        return links

    @property
    def closed(self) -> bool:
        """Whether the snapshot has been closed (its frames must not be collected any more)."""
        return self._links is None

    def files(self, symbol: str) -> tuple[Path, ...]:
        """The files holding one series in this version, oldest first.

        Args:
            symbol: One of `symbols`.

        Returns:
            The partition files the manifest named when the snapshot was taken.

        Raises:
            ConfigError: If the snapshot does not hold ``symbol``.
        """
        self._check_symbols([symbol])
        return tuple(part.path for part in self._partitions[symbol])

    def scan(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        symbols: Sequence[str] | None = None,
    ) -> pl.LazyFrame:
        """A lazy Polars frame of the pinned bars opening in ``[start, end)``.

        Only the partition files whose period meets the window, of the symbols asked for, are
        in the frame's plan; the window's edges are a predicate Polars checks against each row
        group's statistics. Filters added to the frame later are pushed down too: one on
        ``symbol`` skips whole series, one on ``time`` skips row groups.

        Args:
            start: First open time to include (``None``: from the first bar).
            end: Open times at or after this are excluded (``None``: to the last bar).
            symbols: Symbols to include (default: all of `symbols`).

        Returns:
            Columns ``time`` (``Datetime("ns", "UTC")``, bar open times), ``open``, ``high``,
            ``low``, ``close``, ``volume`` (``Float64``) and ``symbol`` (``String``); each series
            in time order, the series in the order asked for.

        Raises:
            StoreError: If the snapshot is closed.
            ConfigError: If a symbol is not in the snapshot, the window is empty, or polars is
                not installed (``pip install 'quantkit[polars]'``).
        """
        from quantkit.data._polars import import_polars  # noqa: PLC0415 - optional extra

        if self.closed:
            raise StoreError("the snapshot is closed; take a new one with store.snapshot(...)")
        polars = import_polars("StoreSnapshot.scan")
        chosen = list(self.symbols if symbols is None else symbols)
        self._check_symbols(chosen)
        window = _window(start, end)
        paths = [
            os.fspath(self._paths[symbol][part.name])
            for symbol in chosen
            for part in overlapping(self._partitions[symbol], window)
        ]
        schema = _schema(polars)
        if not paths:
            empty: pl.LazyFrame = polars.LazyFrame(schema=schema)
            return empty
        # the files' schema is given: polars opens no file it does not need
        frame: pl.LazyFrame = polars.scan_parquet(
            paths,
            schema={name: schema[name] for name in _COLUMNS},
            hive_partitioning=True,
            hive_schema={"symbol": polars.String},
        )
        first, stop = window
        if first is not None:
            frame = frame.filter(polars.col("time") >= _instant(polars, first))
        if stop is not None:
            frame = frame.filter(polars.col("time") < _instant(polars, stop))
        return frame.select(*_COLUMNS, "symbol")

    def _check_symbols(self, symbols: Sequence[str]) -> None:
        unknown = [symbol for symbol in symbols if symbol not in self._partitions]
        if unknown:
            raise ConfigError(
                f"the snapshot holds {list(self.symbols)}, not {unknown}; "
                "take a snapshot of those symbols"
            )

    def close(self) -> None:
        """Release the series and remove the snapshot's links; idempotent."""
        links, self._links = self._links, None
        if links is not None:
            shutil.rmtree(links, ignore_errors=True)
        self._stack.close()

    def __enter__(self) -> StoreSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"StoreSnapshot({self.exchange!r}, {list(self.symbols)!r}, {self.timeframe!r}, {state})"
        )


def _check_files(keys: list[SeriesKey], partitions: dict[str, list[Partition]]) -> None:
    """Raise unless every pinned file has the store's schema (footers read a few at a time)."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow stays in the store, loaded late

    def check(job: tuple[SeriesKey, Partition]) -> None:
        key, part = job
        where = f"{key.describe()}: {part.path}"
        with arrow_errors(where):
            check_schema(where, pq.read_schema(os.fspath(part.path)))

    jobs = [(key, part) for key in keys for part in partitions[key.symbol]]
    with ThreadPoolExecutor(_WORKERS) as pool:  # reading a footer mostly waits on the disk
        for _ in pool.map(check, jobs):  # in order: the first bad file is the one reported
            pass


def _schema(pl: Any) -> dict[str, Any]:
    return {
        "time": pl.Datetime("ns", "UTC"),
        **{name: pl.Float64 for name in _COLUMNS[1:]},
        "symbol": pl.String,
    }


def _window(start: TimeLike | None, end: TimeLike | None) -> tuple[int | None, int | None]:
    first = None if start is None else parse_instant(start, name="start")
    stop = None if end is None else parse_instant(end, name="end")
    if first is not None and stop is not None and first >= stop:
        raise ConfigError(f"start ({start!r}) must be before end ({end!r})")
    return first, stop


def _instant(pl: Any, nanoseconds: int) -> Any:
    """A UTC nanosecond timestamp literal that Polars compares with row-group statistics."""
    return pl.lit(nanoseconds, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))
