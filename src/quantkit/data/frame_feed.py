"""DataFrameFeed: bars from pandas or Polars DataFrames already in memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeAlias

from quantkit.data._polars import is_polars_frame, polars_columns
from quantkit.data._tabular import TabularFeed, sources_by_symbol
from quantkit.data.gaps import DEFAULT_GAP_POLICY, GapPolicy

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd
    import polars as pl

    Frame: TypeAlias = pd.DataFrame | pl.DataFrame | pl.LazyFrame

    from quantkit.data._timestamps import TimeLike, TimeUnit
    from quantkit.data.validation import BarLabel

__all__ = ["DataFrameFeed"]


def _is_frame(value: object) -> bool:
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    return isinstance(value, pd.DataFrame) or is_polars_frame(value)


def _symbol_attribute(frame: Frame) -> str | None:
    attrs = getattr(frame, "attrs", None)  # pandas frames carry one; Polars frames do not
    symbol = attrs.get("symbol") if isinstance(attrs, dict) else None
    return symbol if isinstance(symbol, str) else None


class DataFrameFeed(TabularFeed["Frame"]):
    """Bars from one pandas DataFrame (or Polars ``DataFrame``/``LazyFrame``) per symbol.

    Each frame needs columns ``open``, ``high``, ``low``, ``close`` and ``volume`` (any case;
    other columns are ignored) and timestamps: a ``DatetimeIndex``, or a column named ``time``,
    ``timestamp``, ``date``, ``datetime`` or ``open_time``, or the column named by
    ``time_column``. The frames are validated by
    `validate_bars` when `load` is first called; error
    messages name the symbol as the source. Polars frames are validated exactly like pandas
    ones, with the same errors (a ``LazyFrame`` is collected once, when `load` is first
    called); their timestamps come from a column.

    Args:
        data: One DataFrame, or a mapping of symbol to DataFrame (served in the mapping's order);
            pandas or Polars.
        symbol: The symbol of a single DataFrame. Optional when the frame carries it in
            ``frame.attrs["symbol"]`` (as `load_sample` frames do);
            not allowed with a mapping.
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
        ConfigError: If the arguments are inconsistent (no symbol for a single frame, a
            non-frame value, a bad timeframe, label, time unit or window).

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame(
        ...     {"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [1.0, 2.0],
        ...      "close": [2.0, 3.0], "volume": [10.0, 12.0]},
        ...     index=pd.date_range("2024-01-01", periods=2, freq="h"),
        ... )
        >>> feed = DataFrameFeed(frame, symbol="BTC/USDT")
        >>> feed.symbols
        ('BTC/USDT',)
        >>> len(feed.load()["BTC/USDT"])
        2
    """

    def __init__(
        self,
        data: Frame | Mapping[str, Frame],
        *,
        symbol: str | None = None,
        timeframe: str | int | None = None,
        label: BarLabel = "open",
        time_column: str | None = None,
        time_unit: TimeUnit | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        gap_policy: GapPolicy = DEFAULT_GAP_POLICY,
    ) -> None:
        frames: dict[str, Frame] = sources_by_symbol(
            data,
            symbol=symbol,
            is_single=_is_frame,
            default_symbol=_symbol_attribute,
            what="a pandas or Polars DataFrame",
        )
        super().__init__(
            frames,
            timeframe=timeframe,
            label=label,
            time_column=time_column,
            time_unit=time_unit,
            start=start,
            end=end,
            gap_policy=gap_policy,
        )

    def _read(
        self, symbol: str, source: Frame
    ) -> tuple[pd.DataFrame | Mapping[str, npt.ArrayLike], str]:
        if is_polars_frame(source):
            return polars_columns(source, symbol), symbol
        return source, symbol  # type: ignore[return-value]  # a pandas frame here
