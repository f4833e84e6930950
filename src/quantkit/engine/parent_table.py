"""`Result.parents`: one row per parent order (pandas at the edge)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from quantkit.algos.parent import ParentOrder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PARENT_COLUMNS", "parents_frame"]

PARENT_COLUMNS = [
    "parent_id", "kind", "symbol", "side", "amount", "filled", "remaining", "average_price",
    "arrival_price", "vwap", "slippage_bps", "vwap_slippage_bps", "fees", "children", "skipped",
    "status", "reason", "created_at", "ended_at", "spec",
]  # fmt: skip
"""The columns of `parents_frame`, in order."""


def parents_frame(parents: Sequence[ParentOrder]) -> pd.DataFrame:
    """One row per parent order: amounts, prices, slippage, status and its spec.

    Times are UTC timestamps (``ended_at`` is NaT while working); slippage is in basis points,
    positive when the parent paid more (buys) or received less (sells) than the reference.

    Args:
        parents: The run's parents, oldest first.

    Returns:
        The table, with `PARENT_COLUMNS`.
    """
    import pandas as pd  # noqa: PLC0415

    rows = [parent.as_row() for parent in parents]
    frame = pd.DataFrame(rows, columns=PARENT_COLUMNS)
    for column in ("created_at", "ended_at"):
        stamps = frame[column].astype("int64")
        frame[column] = pd.to_datetime(stamps.where(stamps >= 0), unit="ns", utc=True)
    return frame
