"""The results of `quantkit.data.quality.quality_report`: one `SymbolQuality` per symbol.

`QualityReport` holds them, prints a summary and turns into tables (`QualityReport.to_frame`,
`QualityReport.gaps_frame`); the checks themselves live in `quantkit.data.quality`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._frames import utc_index
from quantkit.data._timestamps import format_ns
from quantkit.data.gaps import Gap
from quantkit.domain.timeframe import format_timeframe

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    IntArray = npt.NDArray[np.int64]

__all__ = ["QualityReport", "SymbolQuality"]

_SHOWN_ROWS = 5


@dataclass(frozen=True, slots=True, eq=False)
class SymbolQuality:
    """The quality of one symbol's bars. Row positions are zero-based, in the input's order.

    Attributes:
        symbol: Market symbol.
        timeframe: Bar length checked against, ns (``None`` if it could not be inferred).
        rows: Number of rows.
        first: Earliest timestamp, ns since the epoch (``None`` without rows).
        last: Latest timestamp, ns since the epoch (``None`` without rows).
        expected_bars: Bars a complete series from ``first`` to ``last`` would have.
        missing_bars: Bars missing in the gaps.
        gaps: Every gap, in time order.
        duplicates: Rows whose timestamp appeared in an earlier row.
        out_of_order: Rows whose timestamp is earlier than the previous row's.
        overlapping: Rows starting less than one timeframe after the previous distinct time.
        off_grid: Rows not a whole number of timeframes after the first timestamp.
        ohlc: Rows where high or low is inconsistent with open and close.
        non_positive: Rows with a price <= 0.
        non_finite: Rows with a NaN or infinite value.
        negative_volume: Rows with volume < 0.
        outliers: Rows whose log return is beyond ``outlier_sigma`` robust deviations.
        zero_volume: Rows with volume == 0.
        filled: Rows marked as filled (a true ``filled`` column).
        outlier_sigma: The outlier threshold used.
    """

    symbol: str
    timeframe: int | None
    rows: int
    first: int | None
    last: int | None
    expected_bars: int
    missing_bars: int
    gaps: tuple[Gap, ...]
    duplicates: IntArray
    out_of_order: IntArray
    overlapping: IntArray
    off_grid: IntArray
    ohlc: IntArray
    non_positive: IntArray
    non_finite: IntArray
    negative_volume: IntArray
    outliers: IntArray
    zero_volume: IntArray
    filled: IntArray
    outlier_sigma: float

    @property
    def is_valid(self) -> bool:
        """Whether `validate_bars` would accept the data (rows and no problem)."""
        return self.rows > 0 and not self.errors

    @property
    def errors(self) -> tuple[str, ...]:
        """One line per kind of problem found that `validate_bars` rejects."""
        found = [
            _rows_line("duplicate timestamp", self.duplicates),
            _rows_line("row out of time order", self.out_of_order, plural="rows out of time order"),
            _rows_line("overlapping bar", self.overlapping),
            _rows_line(
                "bar with inconsistent OHLC", self.ohlc, plural="bars with inconsistent OHLC"
            ),
            _rows_line("bar with a price <= 0", self.non_positive, plural="bars with a price <= 0"),
            _rows_line("bar with NaN or inf", self.non_finite, plural="bars with NaN or inf"),
            _rows_line("negative volume", self.negative_volume, plural="negative volumes"),
        ]
        if self.rows == 0:
            found.append("no rows")
        return tuple(line for line in found if line)

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per kind of suspicious but allowed finding (gaps, outliers, ...)."""
        found = [
            self._gap_line(),
            _rows_line("bar off the grid", self.off_grid, plural="bars off the grid"),
            _rows_line(
                f"outlier beyond {self.outlier_sigma:g} sigma",
                self.outliers,
                plural=f"outliers beyond {self.outlier_sigma:g} sigma",
            ),
            _rows_line("zero-volume bar", self.zero_volume),
            _rows_line("filled bar", self.filled),
        ]
        return tuple(line for line in found if line)

    def _gap_line(self) -> str:
        if not self.gaps:
            return ""
        largest = max(self.gaps, key=lambda gap: gap.missing)
        count = len(self.gaps)
        return (
            f"{self.missing_bars} missing bar{'s' if self.missing_bars > 1 else ''} in {count} "
            f"gap{'s' if count > 1 else ''}; the largest: {largest}"
        )

    def __str__(self) -> str:
        timeframe = "?" if self.timeframe is None else format_timeframe(self.timeframe)
        if self.first is None or self.last is None:
            span = ""
        else:
            span = f" from {format_ns(self.first)} to {format_ns(self.last)}"
        head = (
            f"{self.symbol}: {timeframe} bars, {self.rows:,} rows{span} "
            f"({self.expected_bars:,} expected)"
        )
        lines = [head]
        lines += [f"  error: {line}" for line in self.errors]
        lines += [f"  warning: {line}" for line in self.warnings]
        if len(lines) == 1:
            lines.append("  ok: no problems, no warnings")
        return "\n".join(lines)


def _rows_line(what: str, rows: IntArray, *, plural: str | None = None) -> str:
    """``"3 duplicate timestamps (rows 4, 9, 12)"``, or ``""`` when there are none."""
    count = len(rows)
    if count == 0:
        return ""
    shown = ", ".join(str(int(row)) for row in rows[:_SHOWN_ROWS])
    more = f", ... {count - _SHOWN_ROWS} more" if count > _SHOWN_ROWS else ""
    noun = what if count == 1 else (plural or f"{what}s")
    return f"{count:,} {noun} (row{'s' if count > 1 else ''} {shown}{more})"


class QualityReport:
    """Data quality of one or more symbols, as returned by `quality_report`.

    Index it by symbol (``report["BTC/USDT"]``), iterate over its `SymbolQuality` items, print
    it, or turn it into a table with `to_frame`.

    Args:
        symbols: The per-symbol results, in order.
    """

    def __init__(self, symbols: Mapping[str, SymbolQuality]) -> None:
        self._symbols = dict(symbols)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols reported on, in order."""
        return tuple(self._symbols)

    @property
    def ok(self) -> bool:
        """Whether every symbol passes validation (warnings allowed)."""
        return all(item.is_valid for item in self._symbols.values())

    def __getitem__(self, symbol: str) -> SymbolQuality:
        return self._symbols[symbol]

    def __iter__(self) -> Iterator[SymbolQuality]:
        return iter(self._symbols.values())

    def __len__(self) -> int:
        return len(self._symbols)

    def __str__(self) -> str:
        bad = sum(not item.is_valid for item in self)
        warned = sum(bool(item.warnings) for item in self)
        head = (
            f"Data quality: {len(self)} symbol{'s' if len(self) != 1 else ''}, "
            f"{bad} with problems, {warned} with warnings"
        )
        return "\n".join([head, *(str(item) for item in self)])

    def __repr__(self) -> str:
        return f"<QualityReport symbols={list(self._symbols)} ok={self.ok}>"

    def to_frame(self) -> pd.DataFrame:
        """Return one row per symbol with the counts of every check.

        Returns:
            A frame indexed by ``symbol`` with columns ``timeframe`` (e.g. ``"1h"``), ``rows``,
            ``first`` and ``last`` (UTC timestamps), ``expected_bars``, ``missing_bars``,
            ``gaps``, one count column per check (``duplicates`` ... ``filled``) and ``valid``.
        """
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        records = [_record(item) for item in self]
        frame = pd.DataFrame.from_records(records, columns=_FRAME_COLUMNS)
        for column in ("first", "last"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame.set_index("symbol")

    def gaps_frame(self) -> pd.DataFrame:
        """Return every gap of every symbol, one row per gap.

        Returns:
            Columns ``symbol``, ``start`` (first missing timestamp), ``end`` (the timestamp
            after the gap), both UTC, and ``missing`` (bars).
        """
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        rows = [
            (item.symbol, gap.start, gap.end, gap.missing) for item in self for gap in item.gaps
        ]
        frame = pd.DataFrame(rows, columns=["symbol", "start", "end", "missing"])
        frame["missing"] = frame["missing"].astype("int64")
        for column in ("start", "end"):
            frame[column] = utc_index(frame[column].to_numpy(dtype=np.int64), name=column)
        return frame


_COUNTED = (
    "duplicates",
    "out_of_order",
    "overlapping",
    "off_grid",
    "ohlc",
    "non_positive",
    "non_finite",
    "negative_volume",
    "outliers",
    "zero_volume",
    "filled",
)
_FRAME_COLUMNS = [
    "symbol",
    "timeframe",
    "rows",
    "first",
    "last",
    "expected_bars",
    "missing_bars",
    "gaps",
    *_COUNTED,
    "valid",
]


def _record(item: SymbolQuality) -> dict[str, object]:
    """One row of `QualityReport.to_frame`."""
    record: dict[str, object] = {
        "symbol": item.symbol,
        "timeframe": None if item.timeframe is None else format_timeframe(item.timeframe),
        "rows": item.rows,
        "first": item.first,
        "last": item.last,
        "expected_bars": item.expected_bars,
        "missing_bars": item.missing_bars,
        "gaps": len(item.gaps),
        "valid": item.is_valid,
    }
    record.update({name: len(getattr(item, name)) for name in _COUNTED})
    return record
