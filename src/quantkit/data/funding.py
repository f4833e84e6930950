"""Funding rates of a perpetual as plain arrays, their validation, and the venue interface.

`FundingSeries` is the shape the rest of quantkit exchanges funding history in: ``time``
(int64 nanoseconds since the epoch, UTC, strictly increasing), ``rate`` (float64, a fraction:
``0.0001`` is 0.01 %, positive when longs pay shorts) and ``mark_price`` (float64, the mark price
at the funding timestamp, NaN where the venue did not give one). ``series.time`` and
``series.rate`` are what a backtest takes; `FundingSeries.frame` gives a DataFrame.

`validate_funding` is the single gate funding rows pass on their way into the store: like
`validate_bars` it never drops, reorders or repairs anything, and the first problem stops it
with one `DataError` naming the source, the zero-based row and what is wrong:

1. times strictly increase (no duplicate, nothing earlier than the row before);
2. the rate is a finite number with ``|rate| < 1`` (no venue charges 100 % per interval);
3. the mark price, when given, is a finite number > 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from quantkit.data._timestamps import first_true, format_ns
from quantkit.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["FundingRow", "FundingSeries", "FundingSource", "validate_funding"]

FundingRow = tuple[int, float, float | None]
"""One funding rate: time in ms since the epoch (UTC), rate, mark price (``None`` if not given)."""


@dataclass(frozen=True, slots=True)
class FundingSeries:
    """Funding rates of one perpetual as columns.

    Attributes:
        time: Funding timestamps, int64 ns since the epoch (UTC), strictly increasing.
        rate: The rates (fractions; positive: longs pay shorts).
        mark_price: Mark price at each timestamp; NaN where unknown.

    Examples:
        >>> s = FundingSeries.from_rows([(0, 0.0001, 100.0), (28_800_000, -0.0002, None)])
        >>> s.time.tolist(), s.rate.tolist(), len(s)
        ([0, 28800000000000], [0.0001, -0.0002], 2)
    """

    time: IntArray
    rate: FloatArray
    mark_price: FloatArray

    def __len__(self) -> int:
        return int(self.time.size)

    @classmethod
    def empty(cls) -> FundingSeries:
        """A series without rates.

        Returns:
            Empty arrays of the right dtypes.
        """
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))

    @classmethod
    def from_rows(cls, rows: Sequence[FundingRow], *, source: str = "") -> FundingSeries:
        """Build a validated series from venue rows (times in ms).

        Args:
            rows: ``(time_ms, rate, mark_price or None)`` tuples.
            source: Names the rows in error messages.

        Returns:
            The series.

        Raises:
            DataError: If a row breaks a rule of `validate_funding`.
        """
        time = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)) * 1_000_000
        rate = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        mark = np.fromiter(
            (np.nan if r[2] is None else r[2] for r in rows), dtype=np.float64, count=len(rows)
        )
        return validate_funding(time, rate, mark, source=source)

    def window(self, start: int | None = None, end: int | None = None) -> FundingSeries:
        """The rates with ``start <= time < end`` (ns; ``None`` leaves that side open).

        Args:
            start: First time kept.
            end: Times at or after this are left out.

        Returns:
            A series sharing this one's arrays.
        """
        low = 0 if start is None else int(np.searchsorted(self.time, start, "left"))
        high = len(self) if end is None else int(np.searchsorted(self.time, end, "left"))
        return FundingSeries(self.time[low:high], self.rate[low:high], self.mark_price[low:high])

    def frame(self) -> pd.DataFrame:
        """The rates as a DataFrame.

        Returns:
            A UTC ``DatetimeIndex`` named ``"time"`` and float columns ``rate`` and
            ``mark_price``.
        """
        import pandas as pd  # noqa: PLC0415 - pandas only when a frame is asked for

        index = pd.DatetimeIndex(self.time.astype("datetime64[ns]"), name="time").tz_localize("UTC")
        return pd.DataFrame({"rate": self.rate, "mark_price": self.mark_price}, index=index)


def validate_funding(
    time: IntArray, rate: FloatArray, mark_price: FloatArray, *, source: str = ""
) -> FundingSeries:
    """Check funding columns and return them as a `FundingSeries` (nothing is changed).

    Args:
        time: Timestamps, int64 ns since the epoch (UTC).
        rate: Rates.
        mark_price: Mark prices, NaN where unknown.
        source: Names the data in error messages.

    Returns:
        The series, on copies of the arrays, read-only.

    Raises:
        DataError: For the earliest row that breaks a rule (see the module docstring), or
            columns of different lengths.

    Examples:
        >>> validate_funding(np.array([5, 5]), np.zeros(2), np.ones(2), source="x")
        Traceback (most recent call last):
        ...
        quantkit.errors.DataError: x: row 1: funding time 1970-01-01T00:00:00.000000005Z \
is not after the previous row's (duplicate or out of order)
    """
    time = np.array(time, dtype=np.int64)
    rate = np.array(rate, dtype=np.float64)
    mark = np.array(mark_price, dtype=np.float64)
    if not time.shape == rate.shape == mark.shape or time.ndim != 1:
        raise DataError(
            f"time, rate and mark_price must be 1-D of one length, got {time.shape}, "
            f"{rate.shape}, {mark.shape}",
            source=source,
        )
    problems: list[tuple[int, str]] = []
    steps = np.diff(time) <= 0
    if steps.any():
        row = first_true(steps) + 1
        problems.append((row, f"funding time {format_ns(int(time[row]))} is not after the "
                              "previous row's (duplicate or out of order)"))  # fmt: skip
    bad_rate = ~np.isfinite(rate) | (np.abs(rate) >= 1)
    if bad_rate.any():
        row = first_true(bad_rate)
        problems.append((row, f"funding rate {float(rate[row])!r} is not a finite fraction below 1 "
                              "in size (0.0001 is 0.01 %)"))  # fmt: skip
    bad_mark = ~np.isnan(mark) & ~(np.isfinite(mark) & (mark > 0))
    if bad_mark.any():
        row = first_true(bad_mark)
        problems.append((row, f"mark price {float(mark[row])!r} is not a finite number > 0"))
    if problems:
        row, problem = min(problems)
        raise DataError(problem, source=source, row=row)
    for array in (time, rate, mark):
        array.flags.writeable = False
    return FundingSeries(time, rate, mark)


class FundingSource(Protocol):
    """A venue that serves funding-rate history (for example ``CcxtExchange``).

    Errors are quantkit errors (``TransientError`` subclasses for failures worth retrying,
    ``ExchangeError`` for refusals).
    """

    @property
    def id(self) -> str:
        """The venue's id (the store's exchange key)."""
        ...

    @property
    def funding_limit(self) -> int:
        """Most funding rates one request returns."""
        ...

    async def fetch_funding_rates(self, symbol: str, since_ms: int, limit: int) -> list[FundingRow]:
        """Funding rates at or after ``since_ms``, oldest first, at most ``limit``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
