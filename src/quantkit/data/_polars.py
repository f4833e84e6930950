"""Polars at the edge: the optional import, and Polars frames turned into columns to validate.

Feeds and `validate_bars` accept Polars ``DataFrame`` and ``LazyFrame`` objects wherever they
accept pandas frames: a lazy frame is collected once, and the columns are handed to the same
validation as a mapping of numpy arrays, so errors name the same columns and (zero-based) rows.
polars is never imported unless the data is a Polars frame or a Polars result is asked for.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from quantkit.data._extras import import_extra
from quantkit.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["import_polars", "is_polars_frame", "polars_columns"]


def import_polars(where: str) -> Any:
    """Import polars, or say how to install it.

    Args:
        where: What needs it, for the message.

    Returns:
        The ``polars`` module.

    Raises:
        ConfigError: If polars is not installed.
    """
    return import_extra("polars", where)


def is_polars_frame(value: object) -> bool:
    """Whether ``value`` is a Polars ``DataFrame`` or ``LazyFrame`` (without importing polars).

    Args:
        value: Anything.

    Returns:
        True for Polars frames.
    """
    polars = sys.modules.get("polars")
    if polars is None:  # no Polars frame can exist before polars is imported
        return False
    return isinstance(value, polars.DataFrame | polars.LazyFrame)


def polars_columns(frame: Any, source: str) -> dict[str, npt.NDArray[Any]]:
    """The columns of a Polars frame as numpy arrays, in the frame's order.

    Timestamps come out as ``datetime64`` in UTC (a time zone is converted, a naive column is
    read as UTC, as everywhere in quantkit); missing values become NaN (numbers) or NaT
    (timestamps), which validation then reports with their row.

    Args:
        frame: A Polars ``DataFrame`` or ``LazyFrame`` (collected once).
        source: The data's name, for messages.

    Returns:
        Column name to values.

    Raises:
        DataError: If the lazy frame cannot be collected.
    """
    polars = sys.modules["polars"]
    if isinstance(frame, polars.LazyFrame):
        try:
            frame = frame.collect()
        except polars.exceptions.PolarsError as exc:
            raise DataError(f"cannot collect the Polars LazyFrame: {exc}", source=source) from exc
    return {name: _numpy(frame.get_column(name), polars) for name in frame.columns}


def _numpy(column: Any, polars: Any) -> npt.NDArray[np.generic]:
    dtype = column.dtype
    if isinstance(dtype, polars.Datetime) and dtype.time_zone is not None:
        column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    result: npt.NDArray[np.generic] = column.to_numpy()
    return result
