"""ParquetFeed: bars from Parquet files, one file (or dataset directory) per symbol."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from quantkit.data._tabular import FileFeed, PathLike
from quantkit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["ParquetFeed"]

_SUFFIXES = (".parquet", ".pq")


class ParquetFeed(FileFeed):
    """Bars from Parquet files, one per symbol, read with pyarrow.

    Each file holds the columns ``open``, ``high``, ``low``, ``close`` and ``volume`` (any case;
    other columns are ignored) and timestamps: a timestamp column named ``time``,
    ``timestamp``, ``date``, ``datetime`` or ``open_time`` (or ``time_column``), or a
    ``DatetimeIndex`` stored by `pandas.DataFrame.to_parquet`. Zone-aware timestamps are
    converted to UTC, naive ones are taken as UTC. Files are read and validated when
    `load` is first called; error messages name the file.

    Args:
        path: One Parquet path (a file or a dataset directory), or a mapping of symbol to path
            (served in the mapping's order).
        symbol: The symbol of a single file; defaults to the file name without its extension
            (``BTCUSDT.parquet`` -> ``"BTCUSDT"``). Not allowed with a mapping.
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
        >>> import pandas as pd
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "ETHUSDT.parquet"
        >>> pd.DataFrame(
        ...     {"time": pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"),
        ...      "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1.0},
        ... ).to_parquet(path)
        >>> ParquetFeed(path).load()["ETHUSDT"].timeframe == 3600 * 10**9
        True
    """

    suffixes = _SUFFIXES
    kind = "a Parquet file path"

    def _read(self, symbol: str, source: PathLike) -> tuple[pd.DataFrame, str]:
        import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow stays out of `import quantkit`

        where = os.fspath(source)
        try:
            table = pq.read_table(where)
        except FileNotFoundError as exc:
            raise DataError("file not found", source=where) from exc
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(f"cannot read Parquet file: {exc}", source=where) from exc
        frame: pd.DataFrame = table.to_pandas()
        return frame, where
