"""Parquet files of the store through pyarrow: the schema, atomic writes, whole-partition reads.

pyarrow is imported inside functions only (with `quantkit.data.store._reader`, these are the
modules of quantkit that use it), so that ``import quantkit`` stays light.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantkit.data.store._columns import VALUE_COLUMNS, Columns
from quantkit.errors import StoreError

if TYPE_CHECKING:
    pass

__all__ = [
    "ROW_GROUP_ROWS",
    "TEMP_PREFIX",
    "StoreChangedError",
    "arrow_errors",
    "atomic_write",
    "check_schema",
    "read_partition",
    "read_row_count",
    "schema",
    "time_bounds",
    "write_partition",
]

ROW_GROUP_ROWS = 16_384
"""Rows per Parquet row group: a week of one-minute bars is about one row group."""

TEMP_PREFIX = ".tmp-"
"""Temporary files start with this; they are never read as data."""

_FORMAT_VERSION = b"1"


class StoreChangedError(StoreError):
    """A partition changed or vanished while it was being read (another writer); retry."""


def schema() -> Any:
    """The Arrow schema of a partition file: ``time`` (ns, UTC) and five float64 columns.

    Returns:
        A ``pyarrow.Schema``; no column may hold nulls.
    """
    import pyarrow as pa  # noqa: PLC0415 - pyarrow stays out of `import quantkit`

    fields = [pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False)]
    fields += [pa.field(name, pa.float64(), nullable=False) for name in VALUE_COLUMNS]
    return pa.schema(fields, metadata={b"quantkit.store": _FORMAT_VERSION})


def check_schema(where: str, found: Any) -> None:
    """Raise unless a file's Arrow schema has the store's columns with the store's types.

    Args:
        where: The file, for the message.
        found: Its ``pyarrow.Schema``.

    Raises:
        StoreError: Naming the file and the first column missing or of another type.
    """
    for field in schema():
        index = found.get_field_index(field.name)
        if index < 0:
            problem = f"it has no column {field.name!r} (columns: {', '.join(found.names)})"
        elif not found.field(index).type.equals(field.type):
            problem = f"column {field.name!r} is {found.field(index).type}, not {field.type}"
        else:
            continue
        raise StoreError(
            f"{where}: not a partition of this store ({problem}); "
            "move it out of the store's directory"
        )


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file so that readers see either the old file or the complete new one.

    ``write`` fills a temporary file in the same directory; it is flushed to disk, then
    renamed over ``path`` (an atomic replace on POSIX and Windows) and the directory entry is
    flushed too. If anything fails the temporary file is removed and ``path`` is untouched.

    Args:
        path: The file to create or replace.
        write: Writes the content to the path it is given.

    Raises:
        StoreError: If the file cannot be written.
    """
    temp = path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(temp)
        _fsync(temp, os.O_RDWR)
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write {path}: {exc}") from exc
        raise
    _fsync(path.parent, os.O_RDONLY)


def _fsync(path: Path, flags: int) -> None:
    """Flush a file or a directory to disk (directories cannot be opened on Windows)."""
    try:
        descriptor = os.open(path, flags)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_partition(path: Path, columns: Columns, *, compression: str) -> None:
    """Write one partition atomically.

    Args:
        path: The partition file.
        columns: Its bars, strictly increasing in time.
        compression: Parquet compression codec (``"snappy"``, ``"zstd"``, ``"none"``...).

    Raises:
        StoreError: If the file cannot be written.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    layout = schema()
    arrays = [pa.array(columns.time.view("datetime64[ns]"), type=layout.field("time").type)]
    arrays += [pa.array(values) for values in columns.values()]
    table = pa.Table.from_arrays(arrays, schema=layout)

    def write(target: Path) -> None:
        pq.write_table(
            table,
            target,
            compression=compression,
            row_group_size=ROW_GROUP_ROWS,
            use_dictionary=list(VALUE_COLUMNS),
            column_encoding={"time": "DELTA_BINARY_PACKED"},
        )

    atomic_write(path, write)


def read_partition(path: Path) -> Columns:
    """Read a whole partition file.

    Args:
        path: The file.

    Returns:
        Its bars.

    Raises:
        StoreChangedError: If the file vanished.
        StoreError: If it cannot be read.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    with arrow_errors(str(path)):
        check_schema(str(path), pq.read_schema(path))
        table = pq.read_table(path, schema=schema())
    return Columns.from_arrays(
        {name: table.column(name).to_numpy() for name in ("time", *VALUE_COLUMNS)}
    )


def read_row_count(path: Path) -> int:
    """Number of bars in a partition, from its footer.

    Args:
        path: The file.

    Returns:
        The row count.

    Raises:
        StoreChangedError: If the file vanished.
        StoreError: If it cannot be read.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    with arrow_errors(str(path)):
        return int(pq.read_metadata(path).num_rows)


def time_bounds(path: Path) -> tuple[int, int]:
    """First and last open time of a partition, from its footer's statistics when present.

    Args:
        path: The file.

    Returns:
        ``(first, last)`` in nanoseconds.

    Raises:
        StoreChangedError: If the file vanished.
        StoreError: If it cannot be read or holds no bars.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    with arrow_errors(str(path)):
        metadata = pq.read_metadata(path)
        check_schema(str(path), metadata.schema.to_arrow_schema())
        groups = [
            metadata.row_group(i).column(0).statistics for i in range(metadata.num_row_groups)
        ]
        if metadata.num_rows and all(s is not None and s.has_min_max for s in groups):
            return int(groups[0].min_raw), int(groups[-1].max_raw)
    from quantkit.data.store._reader import read_times  # noqa: PLC0415 - a cycle otherwise

    times = read_times([path], None, None, timeframe=1, source=str(path))
    if times.size == 0:
        raise StoreError(f"{path}: the partition holds no bars")
    return int(times[0]), int(times[-1])


@contextlib.contextmanager
def arrow_errors(source: str) -> Iterator[None]:
    """Turn pyarrow's and the OS's errors into store errors.

    Args:
        source: What is being read, for messages.

    Yields:
        Nothing; errors raised in the block are translated.

    Raises:
        StoreChangedError: For a file that vanished.
        StoreError: For any other pyarrow or OS error.
    """
    import pyarrow as pa  # noqa: PLC0415

    try:
        yield
    except FileNotFoundError as exc:
        raise StoreChangedError(f"{source}: a partition vanished while being read") from exc
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{source}: cannot read the store's files: {exc}") from exc
