"""The trades tables of a Result: round trips gathered into columns as they close.

A long run closes hundreds of thousands of trades; keeping a `Trade` object (and its list of
order ids) for each until the table is built costs several hundred bytes a trade at the
result's memory peak. `TradeColumns.add` takes each trade as `round_trips` closes it and keeps
only its row: numbers in typed arrays, the order ids joined into one string. Trades are moved
into the columns a block at a time (one pass per column, not a dozen appends per trade), so
at most `_BLOCK` of them are alive at once.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, overload

import numpy as np

from quantkit.engine.trades import Trade

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

__all__ = ["TradeColumns", "TradeSpan"]

_BLOCK = 4096  # trades kept as objects before they are moved into the columns


class TradeSpan(NamedTuple):
    """When a trade held its symbol (what funding is attributed by)."""

    symbol: str
    entry_time: int
    exit_time: int


class TradeColumns:
    """Round trips as columns, one row per trade, in the order they were added.

    Examples:
        >>> trade = Trade("BTC/USDT", "long", 0, 60, 1.0, 100.0, 1.0, 110.0, 1.0, 0.5)
        >>> table = TradeColumns.of([trade]).frame()
        >>> float(table["pnl"].iloc[0]), str(table["duration"].iloc[0])
        (9.5, '0 days 00:00:00.000000060')
    """

    __slots__ = (
        "_pending",
        "ambiguous",
        "direction",
        "entry_amount",
        "entry_time",
        "entry_value",
        "exit_amount",
        "exit_time",
        "exit_value",
        "fees",
        "orders",
        "size",
        "symbol",
    )

    def __init__(self) -> None:
        self.symbol: list[str] = []
        self.direction: list[str] = []
        self.entry_time = array("q")
        self.exit_time = array("q")
        self.size = array("d")
        self.entry_value = array("d")
        self.entry_amount = array("d")
        self.exit_value = array("d")
        self.exit_amount = array("d")
        self.fees = array("d")
        self.ambiguous: list[bool] = []
        self.orders: list[str] = []
        self._pending: list[Trade] = []

    @classmethod
    def of(cls, trades: Iterable[Trade]) -> TradeColumns:
        """The columns of ``trades``.

        Args:
            trades: Round trips, in table order.

        Returns:
            The columns.
        """
        columns = cls()
        for trade in trades:
            columns.add(trade)
        return columns

    def add(self, trade: Trade) -> None:
        """Append ``trade`` as the next row (the trade itself is not kept).

        Args:
            trade: A round trip (closed, or still open with ``exit_time == -1``).
        """
        pending = self._pending
        pending.append(trade)
        if len(pending) >= _BLOCK:
            self._move()

    def _move(self) -> None:
        """Move the pending trades into the columns, one pass per column."""
        trades = self._pending
        if not trades:
            return
        self.symbol.extend([t.symbol for t in trades])
        self.direction.extend([t.direction for t in trades])
        self.entry_time.extend([t.entry_time for t in trades])
        self.exit_time.extend([t.exit_time for t in trades])
        self.size.extend([t.size for t in trades])
        self.entry_value.extend([t.entry_value for t in trades])
        self.entry_amount.extend([t.entry_amount for t in trades])
        self.exit_value.extend([t.exit_value for t in trades])
        self.exit_amount.extend([t.exit_amount for t in trades])
        self.fees.extend([t.fees for t in trades])
        self.ambiguous.extend([t.ambiguous for t in trades])
        self.orders.extend([",".join(t.client_ids) for t in trades])
        trades.clear()

    def __len__(self) -> int:
        return len(self.symbol) + len(self._pending)

    def spans(self) -> Sequence[TradeSpan]:
        """Each trade's symbol, entry and exit time, made on demand as it is read.

        Returns:
            A sequence with one `TradeSpan` per row.
        """
        self._move()
        return _Spans(self)

    def figures(self, funding: FloatArray | None = None) -> dict[str, FloatArray]:
        """Entry and exit prices, PnL and return of each trade, computed on whole columns.

        The same IEEE operations in the same order as `Trade`'s properties, so the same values.

        Args:
            funding: What each trade paid in funding (perpetuals), taken from its PnL.

        Returns:
            ``entry_price``, ``exit_price``, ``pnl``, ``return_pct`` and ``fees`` by name.
        """
        self._move()
        entry_value = np.array(self.entry_value, dtype=np.float64)
        entry_amount = np.array(self.entry_amount, dtype=np.float64)
        exit_value = np.array(self.exit_value, dtype=np.float64)
        exit_amount = np.array(self.exit_amount, dtype=np.float64)
        fees = np.array(self.fees, dtype=np.float64)
        sign = np.array([1.0 if d == "long" else -1.0 for d in self.direction], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            entry_price = np.where(entry_amount != 0.0, entry_value / entry_amount, np.nan)
            exit_price = np.where(exit_amount != 0.0, exit_value / exit_amount, np.nan)
            closed = np.minimum(exit_amount, entry_amount)
            gross = np.where(closed != 0.0, sign * (exit_value - entry_price * closed), 0.0)
            pnl = gross - fees if funding is None else gross - fees - funding
            basis = entry_price * exit_amount
            ok = (basis != 0.0) & ~np.isnan(basis)  # a NaN basis is truthy in Python: NaN anyway
            return_pct = np.where(ok, 100.0 * pnl / basis, np.nan)
        return {
            "entry_price": entry_price,
            "exit_price": exit_price,
            "pnl": pnl,
            "return_pct": return_pct,
            "fees": fees,
        }

    def frame(self, funding: FloatArray | None = None) -> pd.DataFrame:
        """The trades table (`Result.trades`, `Result.open_trades`).

        Args:
            funding: What each trade paid in funding (perpetuals): a ``funding`` column, and
                ``pnl`` and ``return_pct`` net of it.

        Returns:
            One row per trade; times in UTC, ``exit_time`` NaT while a trade is open.
        """
        import pandas as pd  # noqa: PLC0415

        figures = self.figures(funding)  # moves the pending trades first
        exits: Any = np.array(self.exit_time, dtype=np.int64)
        if not (exits >= 0).all():  # open trades: no exit time yet
            exits = [t if t >= 0 else None for t in exits.tolist()]
        columns: dict[str, Any] = {
            "symbol": self.symbol,
            "direction": self.direction,
            "entry_time": np.array(self.entry_time, dtype=np.int64),
            "exit_time": exits,
            "size": np.array(self.size, dtype=np.float64),
            "entry_price": figures["entry_price"],
            "exit_price": figures["exit_price"],
            "pnl": figures["pnl"],
            "return_pct": figures["return_pct"],
            "fees": figures["fees"],
            "ambiguous": self.ambiguous,
            "orders": self.orders,
        }
        if funding is not None:
            columns["funding"] = funding
        # No rows: the frame an empty list of rows gives, as before.
        frame = pd.DataFrame(columns) if len(self) else pd.DataFrame([], columns=list(columns))
        for column in ("entry_time", "exit_time"):
            frame[column] = pd.to_datetime(frame[column], unit="ns", utc=True)
        frame["duration"] = frame["exit_time"] - frame["entry_time"]
        return frame


class _Spans(Sequence[TradeSpan]):
    """`TradeColumns.spans`: rows read from the columns, no object kept per trade."""

    __slots__ = ("_columns",)

    def __init__(self, columns: TradeColumns) -> None:
        self._columns = columns

    def __len__(self) -> int:
        return len(self._columns)

    @overload
    def __getitem__(self, index: int) -> TradeSpan: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[TradeSpan]: ...

    def __getitem__(self, index: int | slice) -> TradeSpan | Sequence[TradeSpan]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        c = self._columns
        return TradeSpan(c.symbol[index], c.entry_time[index], c.exit_time[index])
