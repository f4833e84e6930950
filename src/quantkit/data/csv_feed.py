"""CsvFeed: bars from CSV files (optionally compressed), one file per symbol."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from quantkit.data._csv_dialect import sniff_csv
from quantkit.data._tabular import FileFeed, PathLike
from quantkit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["CsvFeed"]

_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".csv", ".txt")


class CsvFeed(FileFeed):
    r"""Bars from CSV files, one per symbol, read with pandas.

    Each file has a header line with the columns ``open``, ``high``, ``low``, ``close`` and
    ``volume`` (any case; other columns are ignored) and a timestamp column named ``time``,
    ``timestamp``, ``date``, ``datetime`` or ``open_time`` (or ``time_column``). Timestamps may
    be ISO 8601 strings (naive ones are UTC) or epoch numbers. Compression (``.gz``, ``.bz2``,
    ``.xz``, ``.zip``) is recognised from the file name. The separator (``,`` ``;`` tab ``|``),
    decimal commas (with a separator other than ``,``), a UTF-8 byte order mark and trailing
    separators are detected from the file's first lines; day-first dates (``31/01/2024``)
    are read day-first when only that reading is valid and refused when both readings are
    (see the data guide). Files are read and validated
    when `load` is first called; error messages name the file, and row ``N`` is the
    ``N+1``-th data line after the header (blank lines are not counted).

    Args:
        path: One CSV path, or a mapping of symbol to CSV path (served in the mapping's order).
        symbol: The symbol of a single file; defaults to the file name without its extensions
            (``BTCUSDT.csv.gz`` -> ``"BTCUSDT"``). Not allowed with a mapping.
        timeframe: Bar length such as ``"1h"``; ``None`` infers it from the timestamps.
        label: ``"open"`` if timestamps are bar open times (default), ``"close"`` if they are
            bar close times.
        time_column: Name of the timestamp column when it is not a recognised name.
        time_unit: Unit of integer epoch timestamps; ``None`` detects it from their magnitude.
        start: Keep bars opening at or after this instant (UTC when naive).
        end: Keep bars opening before this instant (UTC when naive).
        gap_policy: What to do with missing bars: ``"keep"`` (the default: leave them out,
            as the venue did), ``"fail"`` (raise `DataError` at the first gap) or ``"ffill"``
            (insert flat zero-volume bars at the previous close).

    Raises:
        ConfigError: If the arguments are inconsistent (a non-path value, a bad timeframe,
            label, time unit or window).

    Examples:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "BTCUSDT.csv").write_text(
        ...     "time,open,high,low,close,volume\n"
        ...     "2024-01-01T00:00:00Z,100,101,99,100.5,3\n"
        ...     "2024-01-01T01:00:00Z,100.5,102,100,101,4\n"
        ... )
        >>> feed = CsvFeed(folder / "BTCUSDT.csv")
        >>> feed.symbols, len(feed.load()["BTCUSDT"])
        (('BTCUSDT',), 2)
    """

    suffixes = _SUFFIXES
    kind = "a CSV file path"

    def _read(self, symbol: str, source: PathLike) -> tuple[pd.DataFrame, str]:
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        where = os.fspath(source)
        dialect = sniff_csv(where)
        try:
            table = pd.read_csv(
                source,
                sep=dialect.delimiter,
                decimal=dialect.decimal,
                thousands=dialect.thousands,
                encoding="utf-8-sig",
                index_col=False,  # a trailing separator must not turn the time into the index
            )
            return table, where
        except FileNotFoundError as exc:
            raise DataError("file not found", source=where) from exc
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"cannot read CSV file: {exc}", source=where) from exc
