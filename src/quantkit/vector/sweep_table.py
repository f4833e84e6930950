"""A sweep's statistics vectors as table columns: every combination at once, no pandas per run.

The sweep kernel leaves one statistics vector per combination (slots of
`stats_kernel.STAT_NAMES`; times as bar positions). `stats_columns` turns a block of them into
the columns of `quantkit.metrics.compute_stats`, with its labels, its order and its value types
(timestamps, durations, integer counts, "not recovered"), column by column over the block,
exactly as `stats_kernel.stats_series` does for one vector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["stats_columns"]

_COUNTS = ("Bars", "Trades", "Ambiguous fills", "Ambiguous trades")


def _times(times: IntArray, positions: FloatArray) -> pd.DatetimeIndex:
    """The close times at bar positions (NaT where the position is NaN or -1)."""
    import pandas as pd  # noqa: PLC0415

    known = np.isfinite(positions) & (positions >= 0)
    stamps = np.full(positions.shape, np.iinfo(np.int64).min, np.int64)  # NaT
    stamps[known] = times[positions[known].astype(np.int64)]
    return pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")


def _spans(times: IntArray, start: FloatArray, end: FloatArray) -> pd.TimedeltaIndex:
    """``times[end] - times[start]``, zero where ``start`` is NaN (no spell)."""
    import pandas as pd  # noqa: PLC0415

    known = np.isfinite(start)
    spans = np.zeros(start.shape, np.int64)
    spans[known] = times[end[known].astype(np.int64)] - times[start[known].astype(np.int64)]
    return pd.to_timedelta(spans, unit="ns")


def _drawdown_columns(v: dict[str, FloatArray], times: IntArray) -> dict[str, Any]:
    """The drawdown rows that are times, from their bar positions."""
    from quantkit.metrics.stats import _NOT_RECOVERED  # noqa: PLC0415

    last = v["Bars"].astype(np.int64) - 1
    peak, recovery = v["Max drawdown peak bar"], v["Max drawdown recovery bar"]
    length_end = np.where(recovery == -1.0, last, recovery)
    recovered = _times(times, recovery).to_numpy(dtype=object)
    recovered[recovery == -1.0] = _NOT_RECOVERED
    return {
        "Max drawdown duration": _spans(
            times, v["Max drawdown duration start bar"], v["Max drawdown duration end bar"]
        ),
        "Max drawdown peak": _times(times, peak),
        "Max drawdown trough": _times(times, v["Max drawdown trough bar"]),
        "Max drawdown recovery": recovered,
        "Max drawdown length": _spans(times, peak, length_end.astype(np.float64)),
    }


def stats_columns(matrix: FloatArray, close_time: IntArray, names: tuple[str, ...]) -> pd.DataFrame:
    """Return the `compute_stats` columns of a block of statistics vectors (one row each).

    Args:
        matrix: ``(runs, len(names))`` statistics vectors of runs over the same bars.
        close_time: The bars' close times in ns.
        names: The vector's slots (`stats_kernel.STAT_NAMES`).

    Returns:
        A DataFrame with the labels of `compute_stats`, in its order, one row per vector.
    """
    import pandas as pd  # noqa: PLC0415

    from quantkit.metrics.stats import _LABELS  # noqa: PLC0415

    times = np.asarray(close_time, np.int64)
    v = {name: matrix[:, k] for k, name in enumerate(names)}
    runs = len(matrix)
    last = v["Bars"].astype(np.int64) - 1 if runs else np.zeros(0, np.int64)
    columns: dict[str, Any] = {name: v[name] for name in names if name in _LABELS}
    columns["Start"] = _times(times, np.zeros(runs))
    columns["End"] = _times(times, last.astype(np.float64))
    columns["Duration"] = pd.to_timedelta(times[last] - times[0], unit="ns")
    for name in _COUNTS:
        columns[name] = v[name].astype(np.int64)
    columns.update(_drawdown_columns(v, times))
    holding = v["Average holding time [ns]"]
    known = np.isfinite(holding)
    nanos = np.full(runs, np.iinfo(np.int64).min, np.int64)  # NaT
    nanos[known] = np.rint(holding[known]).astype(np.int64)
    columns["Average holding time"] = pd.to_timedelta(nanos.view("timedelta64[ns]"))
    return pd.DataFrame({label: columns[label] for label in _LABELS})
