"""Shared machinery of the feeds that read tables: options, validation, caching, time window."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from quantkit.data._timestamps import TimeLike, TimeUnit, format_ns, parse_instant
from quantkit.data.feed import DataFeed
from quantkit.data.gaps import (
    DEFAULT_GAP_POLICY,
    GAP_POLICIES,
    GapPolicy,
    apply_gap_policy_to_series,
)
from quantkit.data.validation import BarLabel, validate_bars
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe, parse_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["FileFeed", "PathLike", "TabularFeed", "file_symbol", "is_path", "sources_by_symbol"]

PathLike = str | os.PathLike[str]
"""A file system path."""

SourceT = TypeVar("SourceT")


def sources_by_symbol(
    data: SourceT | Mapping[str, SourceT],
    *,
    symbol: str | None,
    is_single: Callable[[object], bool],
    default_symbol: Callable[[SourceT], str | None],
    what: str,
) -> dict[str, SourceT]:
    """Normalise the "one source, or symbol -> source" argument of a feed into a dict.

    Args:
        data: One source or a mapping of symbol to source.
        symbol: The ``symbol=`` argument, for the single-source form only.
        is_single: Whether an object is one source (as opposed to a mapping).
        default_symbol: The symbol a single source implies when ``symbol`` is not given.
        what: Name of one source in messages, e.g. ``"a CSV path"``.

    Returns:
        Symbol to source, in the order given.

    Raises:
        ConfigError: If the argument has the wrong shape or no symbol can be determined.
    """
    if is_single(data):
        single: SourceT = data  # type: ignore[assignment]
        chosen = symbol if symbol is not None else default_symbol(single)
        if not isinstance(chosen, str) or not chosen:
            raise ConfigError(f"pass symbol= to name the market of {what}, e.g. symbol='BTC/USDT'")
        return {chosen: single}
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected {what} or a mapping of symbol to {what}, got {data!r:.80}")
    if symbol is not None:
        raise ConfigError("symbol= only applies to a single source; the mapping keys are symbols")
    if not data:
        raise ConfigError("the mapping of symbol to source is empty; give at least one symbol")
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"symbols must be non-empty strings, got {key!r}")
        if not is_single(value):
            raise ConfigError(f"the source for {key!r} must be {what}, got {value!r:.80}")
    return dict(data)


def is_path(value: object) -> bool:
    """Whether ``value`` is a file system path (a string or an ``os.PathLike``)."""
    return isinstance(value, str | os.PathLike)


def file_symbol(path: PathLike, suffixes: tuple[str, ...]) -> str:
    """The default symbol of a file: its name without the given suffixes, e.g. ``BTCUSDT``.

    Args:
        path: The file's path.
        suffixes: Lower-case suffixes to strip from the end, repeatedly (``".gz"``, ``".csv"``).

    Returns:
        The remaining file name.
    """
    name = os.path.basename(os.fspath(path))
    stripped = True
    while stripped:
        stripped = False
        for suffix in suffixes:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                stripped = True
    return name


class TabularFeed(DataFeed, Generic[SourceT]):
    """A feed whose symbols each come from one table (DataFrame, CSV file, Parquet file).

    Subclasses implement `_read`; this class validates, checks that all symbols share a
    timeframe, applies the ``start``/``end`` window and caches the result.
    """

    def __init__(
        self,
        sources: dict[str, SourceT],
        *,
        timeframe: str | int | None,
        label: BarLabel,
        time_column: str | None,
        time_unit: TimeUnit | None,
        start: TimeLike | None,
        end: TimeLike | None,
        gap_policy: GapPolicy = DEFAULT_GAP_POLICY,
    ) -> None:
        if gap_policy not in GAP_POLICIES:
            raise ConfigError(f"gap_policy must be one of {GAP_POLICIES}, got {gap_policy!r}")
        self._gap_policy: GapPolicy = gap_policy
        if label not in ("open", "close"):
            raise ConfigError(f"label must be 'open' or 'close', got {label!r}")
        if time_unit is not None and time_unit not in ("s", "ms", "us", "ns"):
            raise ConfigError(f"time_unit must be one of 's', 'ms', 'us', 'ns', got {time_unit!r}")
        self._sources = sources
        self._timeframe = None if timeframe is None else parse_timeframe(timeframe)
        self._label: BarLabel = label
        self._time_column = time_column
        self._time_unit: TimeUnit | None = time_unit
        self._start = None if start is None else parse_instant(start, name="start")
        self._end = None if end is None else parse_instant(end, name="end")
        if self._start is not None and self._end is not None and self._start >= self._end:
            raise ConfigError(f"start ({start!r}) must be before end ({end!r})")
        self._loaded: dict[str, BarSeries] | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols this feed serves, in the order given."""
        return tuple(self._sources)

    def load(self) -> dict[str, BarSeries]:
        """Read and validate every symbol on the first call; later calls return the same series.

        Returns:
            Symbol to validated `BarSeries`, in `symbols`
            order, restricted to bars whose open time is in ``[start, end)``.

        Raises:
            DataError: If a source cannot be read, breaks a validation rule, has no bars in the
                window, or its timeframe differs from the other symbols'.
        """
        if self._loaded is None:
            named: dict[str, tuple[BarSeries, str]] = {}
            for symbol, source in self._sources.items():
                table, where = self._read(symbol, source)
                series = validate_bars(
                    table,
                    symbol=symbol,
                    source=where,
                    timeframe=self._timeframe,
                    label=self._label,
                    time_column=self._time_column,
                    time_unit=self._time_unit,
                )
                series = apply_gap_policy_to_series(series, self._gap_policy, source=where)
                named[symbol] = (series, where)
            _check_same_timeframe(named)
            self._loaded = {symbol: self._window(*pair) for symbol, pair in named.items()}
        return dict(self._loaded)

    @abstractmethod
    def _read(
        self, symbol: str, source: SourceT
    ) -> tuple[pd.DataFrame | Mapping[str, npt.ArrayLike], str]:
        """Return the raw table of ``symbol`` and the name of its source for messages."""

    def _window(self, series: BarSeries, where: str) -> BarSeries:
        """Keep the bars whose open time is in ``[start, end)``."""
        if self._start is None and self._end is None:
            return series
        times = series.open_time
        first = 0 if self._start is None else int(np.searchsorted(times, self._start, "left"))
        stop = len(times) if self._end is None else int(np.searchsorted(times, self._end, "left"))
        if first >= stop:
            start = "the beginning" if self._start is None else format_ns(self._start)
            end = "the end" if self._end is None else format_ns(self._end)
            raise DataError(
                f"no bars open between {start} and {end}; the data covers "
                f"{format_ns(int(times[0]))} to {format_ns(int(times[-1]))}",
                source=where,
            )
        part = slice(first, stop)
        return BarSeries(
            series.symbol,
            series.timeframe,
            series.open_time[part],
            series.close_time[part],
            series.open[part],
            series.high[part],
            series.low[part],
            series.close[part],
            series.volume[part],
        )

    def __repr__(self) -> str:
        timeframe = None if self._timeframe is None else format_timeframe(self._timeframe)
        return f"{type(self).__name__}(symbols={self.symbols!r}, timeframe={timeframe!r})"


def _check_same_timeframe(named: Mapping[str, tuple[BarSeries, str]]) -> None:
    """Raise if the symbols of one feed do not share a timeframe."""
    items = list(named.items())
    first_symbol, (first_series, _) = items[0]
    for symbol, (series, where) in items[1:]:
        if series.timeframe != first_series.timeframe:
            raise DataError(
                "all symbols of a feed must share one timeframe, but "
                f"{first_symbol} has {format_timeframe(first_series.timeframe)} bars and "
                f"{symbol} has {format_timeframe(series.timeframe)} bars; pass timeframe= "
                "or resample one of them",
                source=where,
            )


class FileFeed(TabularFeed[PathLike]):
    """A tabular feed reading one file per symbol (CSV, Parquet).

    Subclasses set `suffixes` (stripped from a file name to make its default symbol) and
    `kind` (named in error messages), and implement `_read`.
    """

    suffixes: tuple[str, ...] = ()
    kind: str = "a file path"

    def __init__(
        self,
        path: PathLike | Mapping[str, PathLike],
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
        suffixes = self.suffixes
        paths: dict[str, PathLike] = sources_by_symbol(
            path,
            symbol=symbol,
            is_single=is_path,
            default_symbol=lambda one: file_symbol(one, suffixes),
            what=self.kind,
        )
        super().__init__(
            paths,
            timeframe=timeframe,
            label=label,
            time_column=time_column,
            time_unit=time_unit,
            start=start,
            end=end,
            gap_policy=gap_policy,
        )
