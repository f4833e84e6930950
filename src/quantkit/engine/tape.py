"""The event tape: what a paper or live run saw and did, written to Parquet in parts.

A run records every bar, every order intent, every order status change and every fill as
one row of a flat table. Rows are kept in memory as plain tuples (a live engine records on
each bar; no pandas per event) and written every ``flush_every`` rows as one Parquet file
``part-000001.parquet``, ``part-000002.parquet``, ... in the tape's directory. Each part is
written under a temporary name, synced, and renamed into place, so a crash loses at most the
rows not yet flushed and never leaves a half-written part behind.

Every row has the same columns (see `COLUMNS`); a value a kind does not use is ``NaN`` for
floats, ``""`` for strings and ``-1`` for integers. pandas (and through it pyarrow) is
imported only by the functions that write or read parts.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order
from quantkit.errors import ConfigError, DataError, StoreError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "EventTape", "read_tape", "tape_bars"]

COLUMNS: dict[str, str] = {
    "seq": "int64",
    "wall_ns": "int64",
    "kind": "str",
    "time": "int64",
    "symbol": "str",
    "client_id": "str",
    "side": "str",
    "order_type": "str",
    "status": "str",
    "reason": "str",
    "amount": "float64",
    "cost": "float64",
    "price": "float64",
    "stop_price": "float64",
    "filled": "float64",
    "fee": "float64",
    "fee_currency": "str",
    "is_maker": "bool",
    "open_time": "int64",
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "volume": "float64",
    "timeframe": "int64",
    "run_id": "str",
}
"""The tape's columns and their dtypes, in order."""

_PART = re.compile(r"part-(\d{6,})\.parquet")
_NAN = math.nan


def _part_name(number: int) -> str:
    return f"part-{number:06d}.parquet"


def _parts(directory: Path) -> list[tuple[int, Path]]:
    """The tape's parts in ``directory``, by number (temporary files are ignored)."""
    found = []
    for entry in directory.iterdir():
        match = _PART.fullmatch(entry.name)
        if match is not None and entry.is_file():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def _number(value: float | None) -> float:
    return _NAN if value is None else float(value)


class EventTape:
    """Records a run's bars, order intents, order updates and fills, and writes them to Parquet.

    Opening a tape on a directory that already holds parts continues it: new parts are
    numbered after the last one and ``seq`` goes on from the last row written (a run restarted
    after a crash appends instead of overwriting).

    Args:
        path: The tape's directory (created if missing).
        run_id: Identifier of the run, stored in every row.
        flush_every: Rows kept in memory before a part is written.

    Raises:
        ConfigError: If ``run_id`` is empty or ``flush_every`` is not an integer >= 1.
        StoreError: If the directory cannot be created or its last part cannot be read.

    Examples:
        >>> import tempfile
        >>> from quantkit.domain.bars import Bar
        >>> with EventTape(tempfile.mkdtemp(), run_id="demo") as tape:
        ...     bar = Bar("BTC/USDT", 0, 60 * 10**9, 1.0, 2.0, 0.5, 1.5, 10.0)
        ...     tape.record_bar(bar, 60 * 10**9)
        >>> len(read_tape(tape.path))
        1
    """

    def __init__(
        self, path: str | os.PathLike[str], *, run_id: str, flush_every: int = 1000
    ) -> None:
        if not isinstance(run_id, str) or not run_id:
            raise ConfigError(f"EventTape: run_id must be a non-empty string, got {run_id!r}")
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ConfigError(
                f"EventTape: flush_every must be an integer >= 1, got {flush_every!r}"
            )
        self.path = Path(path)
        self.run_id = run_id
        self.flush_every = flush_every
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"event tape {self.path}: cannot create the directory: {exc}") from exc
        existing = _parts(self.path)
        self._part = existing[-1][0] if existing else 0
        self._seq = _last_seq(existing[-1][1]) if existing else 0
        self._rows: list[tuple[Any, ...]] = []
        self._closed = False

    @property
    def pending(self) -> int:
        """Rows recorded but not yet written."""
        return len(self._rows)

    @property
    def parts_written(self) -> int:
        """Number of the last part on disk (0 before the first)."""
        return self._part

    # -- recording (the hot path: tuples only) --------------------------------------------------

    def _add(self, row: tuple[Any, ...]) -> None:
        if self._closed:
            raise ConfigError(f"event tape {self.path}: closed; open a new EventTape to record")
        self._rows.append(row)
        if len(self._rows) >= self.flush_every:
            self.flush()

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def record_bar(self, bar: Bar, timeframe: int) -> None:
        """Record a closed bar.

        Args:
            bar: The bar.
            timeframe: Its length in nanoseconds.

        Raises:
            ConfigError: If the tape is closed.
        """
        self._add(
            (
                self._next(), time.time_ns(), "bar", bar.close_time, bar.symbol, "", "", "", "",
                "", _NAN, _NAN, bar.close, _NAN, _NAN, _NAN, "", False, bar.open_time, bar.open,
                bar.high, bar.low, bar.close, bar.volume, timeframe, self.run_id,
            )
        )  # fmt: skip

    def record_intent(self, order: Order) -> None:
        """Record an order as submitted: id, symbol, side, type, amount or cost, prices, time.

        Args:
            order: The order, as created at submission (``created_at`` is the row's time).

        Raises:
            ConfigError: If the tape is closed.
        """
        r = order.request
        self._add(
            (
                self._next(), time.time_ns(), "intent", order.created_at, r.symbol,
                order.client_id, r.side.value, r.type.value, order.status.value, order.reason,
                _number(r.amount), _number(r.cost), _number(r.limit_price),
                _number(r.stop_price), order.filled, _NAN, "", False, -1, _NAN, _NAN, _NAN,
                _NAN, _NAN, -1, self.run_id,
            )
        )  # fmt: skip

    def record_order(self, order: Order) -> None:
        """Record an order's status change: status, reason, amount, filled, average price, fees.

        Args:
            order: The order after the change (``updated_at`` is the row's time).

        Raises:
            ConfigError: If the tape is closed.
        """
        r = order.request
        self._add(
            (
                self._next(), time.time_ns(), "order", order.updated_at, r.symbol,
                order.client_id, r.side.value, r.type.value, order.status.value, order.reason,
                _number(order.amount), _number(r.cost),
                order.average_price if order.filled else _NAN, _number(r.stop_price),
                order.filled, order.fee, "", False, -1, _NAN, _NAN, _NAN, _NAN, _NAN, -1,
                self.run_id,
            )
        )  # fmt: skip

    def record_fill(self, fill: Fill, at: int | None = None) -> None:
        """Record a fill.

        Args:
            fill: The fill.
            at: The row's time, ns (default: the fill's ``timestamp``); the live engine gives
                its own bar-clock reading when the venue stamps fills on another clock.

        Raises:
            ConfigError: If the tape is closed.
        """
        self._add(
            (
                self._next(), time.time_ns(), "fill", fill.timestamp if at is None else at,
                fill.symbol,
                fill.client_id, fill.side.value, "", "", "", fill.amount, _NAN, fill.price,
                _NAN, _NAN, fill.fee, fill.fee_currency, fill.is_maker, -1, _NAN, _NAN, _NAN,
                _NAN, _NAN, -1, self.run_id,
            )
        )  # fmt: skip

    # -- writing --------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the rows in memory as the next part (nothing happens if there are none).

        The part is written under a temporary name, synced to disk and renamed into place.

        Raises:
            StoreError: If the part cannot be written (the rows stay in memory).
        """
        if not self._rows:
            return
        frame = _frame(self._rows)
        number = self._part + 1
        final = self.path / _part_name(number)
        temp = self.path / f".{final.name}.tmp"
        try:
            with temp.open("wb") as handle:
                frame.to_parquet(handle, index=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
            _fsync_directory(self.path)
        except (OSError, ValueError) as exc:
            raise StoreError(f"event tape {self.path}: cannot write {final.name}: {exc}") from exc
        self._part = number
        self._rows = []

    def close(self) -> None:
        """Flush what is left and refuse further records (closing twice is harmless).

        Raises:
            StoreError: If the last part cannot be written.
        """
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EventTape({str(self.path)!r}, run_id={self.run_id!r}, parts={self._part}, "
            f"pending={len(self._rows)})"
        )


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX; directories cannot be opened for syncing on Windows)."""
    if os.name == "nt":  # pragma: no cover - not exercised on the POSIX test machines
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows as a DataFrame with the tape's fixed dtypes (every part has the same schema)."""
    import pandas as pd  # noqa: PLC0415 - pandas only when a part is written

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=dtype)
            for (name, dtype), values in zip(COLUMNS.items(), columns, strict=True)
        }
    )


def _last_seq(part: Path) -> int:
    """The largest ``seq`` in ``part``."""
    frame = _read_part(part, columns=["seq"])
    return int(frame["seq"].max()) if len(frame) else 0


def _read_part(part: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415 - pandas only when a part is read

    try:
        return pd.read_parquet(part, columns=columns)
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(f"event tape part {part}: cannot be read: {exc}") from exc


def read_tape(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read every part of a tape, in ``seq`` order.

    Temporary files left by a crash are ignored. A directory with no parts gives an empty
    frame with the tape's columns.

    Args:
        path: The tape's directory.

    Returns:
        One row per recorded event, with the columns and dtypes of `COLUMNS`.

    Raises:
        StoreError: If the directory does not exist, a part cannot be read or lacks a column,
            or ``seq`` does not strictly increase within and across parts (a duplicated,
            reordered or tampered part); the message names the part.
    """
    import pandas as pd  # noqa: PLC0415 - pandas only when a tape is read

    directory = Path(path)
    if not directory.is_dir():
        raise StoreError(f"event tape {directory}: no such directory")
    frames = []
    last = 0
    for _, part in _parts(directory):
        frame = _read_part(part)
        missing = [name for name in COLUMNS if name not in frame.columns]
        if missing:
            raise StoreError(f"event tape part {part}: missing columns {missing}")
        seq = frame["seq"].to_numpy()
        if len(seq) and (seq[0] <= last or (seq[1:] <= seq[:-1]).any()):
            raise StoreError(
                f"event tape part {part}: seq does not strictly increase after {last} "
                "(a duplicated, reordered or edited part)"
            )
        last = int(seq[-1]) if len(seq) else last
        frames.append(frame[list(COLUMNS)].astype(COLUMNS))
    if not frames:
        return _frame([])
    return pd.concat(frames, ignore_index=True)


def tape_bars(frame: pd.DataFrame) -> dict[str, BarSeries]:
    """Rebuild each symbol's bars from a tape's ``"bar"`` rows, validated.

    Rows are ordered by open time; exact repeats of a bar (a restarted run recording the last
    bar again) are kept once. Anything else wrong (two different bars at one time, a bad
    price) fails validation.

    Args:
        frame: A tape as `read_tape` returns it.

    Returns:
        The bars by symbol, in order of first appearance.

    Raises:
        DataError: If the tape has no bars, a symbol's bars mix timeframes, or they fail
            `quantkit.data.validation.validate_bars`.
    """
    from quantkit.data.validation import validate_bars  # noqa: PLC0415 - keeps import light

    bars = frame[frame["kind"] == "bar"]
    if bars.empty:
        raise DataError("the tape has no bar rows", source="event tape")
    out: dict[str, BarSeries] = {}
    ohlcv = ["open", "high", "low", "close", "volume"]
    for symbol, group in bars.groupby("symbol", sort=False):
        name = str(symbol)
        timeframes = group["timeframe"].unique()
        if len(timeframes) != 1:
            raise DataError(
                f"bars of {name} mix timeframes {sorted(int(t) for t in timeframes)}",
                source="event tape",
            )
        rows = group.drop_duplicates(["open_time", *ohlcv]).sort_values("open_time", kind="stable")
        data = {"open_time": rows["open_time"].to_numpy(), **{c: rows[c].to_numpy() for c in ohlcv}}
        out[name] = validate_bars(
            data,
            symbol=name,
            source=f"event tape bars of {name}",
            timeframe=int(timeframes[0]),
            time_column="open_time",
            time_unit="ns",
        )
    return out
