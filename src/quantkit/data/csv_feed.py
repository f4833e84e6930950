"""CsvFeed: bars from CSV files (optionally compressed), one file per symbol."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from quantkit.data._tabular import PathLike, TabularFeed, file_symbol, is_path, sources_by_symbol
from quantkit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.data._timestamps import TimeLike, TimeUnit
    from quantkit.data.validation import BarLabel

__all__ = ["CsvFeed"]

_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".csv", ".txt")


def _default_symbol(path: PathLike) -> str:
    return file_symbol(path, _SUFFIXES)


class CsvFeed(TabularFeed[PathLike]):
    r"""Bars from CSV files, one per symbol, read with pandas.

    Each file has a header line with the columns ``open``, ``high``, ``low``, ``close`` and
    ``volume`` (any case; other columns are ignored) and a timestamp column named ``time``,
    ``timestamp``, ``date``, ``datetime`` or ``open_time`` (or ``time_column``). Timestamps may
    be ISO 8601 strings (naive ones are UTC) or epoch numbers. Compression (``.gz``, ``.bz2``,
    ``.xz``, ``.zip``) is recognised from the file name. Files are read and validated
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

    def __init__(
        self,
        path: PathLike | Mapping[str, PathLike],
        *,
        symbol: str | None = None,
        timeframe: str | int | None = None,
        label: BarLabel = "open",
        time_column: str | None = None,
        time_unit: TimeUnit | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> None:
        paths: dict[str, PathLike] = sources_by_symbol(
            path,
            symbol=symbol,
            is_single=is_path,
            default_symbol=_default_symbol,
            what="a CSV file path",
        )
        super().__init__(
            paths,
            timeframe=timeframe,
            label=label,
            time_column=time_column,
            time_unit=time_unit,
            start=start,
            end=end,
        )

    def _read(self, symbol: str, source: PathLike) -> tuple[pd.DataFrame, str]:
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        where = os.fspath(source)
        try:
            return pd.read_csv(source), where
        except FileNotFoundError as exc:
            raise DataError("file not found", source=where) from exc
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"cannot read CSV file: {exc}", source=where) from exc
