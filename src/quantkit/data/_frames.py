"""Conversions between `BarSeries` and the DataFrames quantkit hands back to users."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quantkit.data.validation import REQUIRED_COLUMNS
from quantkit.domain.bars import BarSeries

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["frame_symbol", "series_to_frame", "utc_index"]


def utc_index(nanoseconds: npt.NDArray[np.int64], name: str = "time") -> pd.DatetimeIndex:
    """Return nanosecond timestamps as a UTC ``DatetimeIndex`` in nanosecond resolution.

    Args:
        nanoseconds: Nanoseconds since the Unix epoch.
        name: Name of the index.

    Returns:
        The index.
    """
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    values = np.asarray(nanoseconds, dtype=np.int64).view("datetime64[ns]")
    return pd.DatetimeIndex(values, name=name).tz_localize("UTC")


def series_to_frame(series: BarSeries) -> pd.DataFrame:
    """Return a series as the frame quantkit hands out.

    Args:
        series: The bars.

    Returns:
        A frame with a UTC ``DatetimeIndex`` named ``time`` holding bar open times, float
        columns ``open``, ``high``, ``low``, ``close``, ``volume`` (copies, writable), and the
        symbol in ``frame.attrs["symbol"]``.
    """
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    columns = {name: np.array(getattr(series, name), dtype=np.float64) for name in REQUIRED_COLUMNS}
    frame = pd.DataFrame(columns, index=utc_index(series.open_time))
    frame.attrs["symbol"] = series.symbol
    return frame


def frame_symbol(frame: pd.DataFrame, default: str) -> str:
    """The symbol a frame carries in ``frame.attrs["symbol"]``, else ``default``.

    Args:
        frame: A DataFrame.
        default: What to use when the frame names no symbol.

    Returns:
        The symbol.
    """
    symbol = frame.attrs.get("symbol")
    return symbol if isinstance(symbol, str) and symbol else default
