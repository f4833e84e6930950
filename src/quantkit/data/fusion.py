"""One feed from several sources: `FusedFeed` and its `FusionRules`.

Two exchanges, or an exchange and a file, can serve the same symbol. `FusedFeed` merges them
bar by bar, matching bars on their open time, with one rule per field:

* **priority** (the default for every field): take the field from the first source, in the
  priority order, that has the bar. A source's gap is filled by the next source that has the
  bar, so the fused series has a bar wherever *any* source has one; nothing is dropped.
* **vwap** (prices only): the volume-weighted mean over the sources that have the bar,
  ``sum(volume_s * price_s) / sum(volume_s)``. When all of them have zero volume, the plain
  mean. Open, high, low and close weighted by the same volumes stay consistent (a weighted mean
  of highs is at least the weighted mean of closes), and one thin venue's bad print moves the
  composite only by its share of the volume.
* **sum** (volume only): the total volume of the sources that have the bar. The default for
  volume is priority even in a composite, because a backtest trades on one venue and its fill
  limits should not count liquidity from the others; choose ``"sum"`` for a market-wide view.

Mixing rules (a composite close with a priority high, or different priority orders per field)
can break ``low <= open, close <= high``. After the fields are fused, ``high`` is raised to
``max(high, open, close)`` and ``low`` lowered to ``min(low, open, close)``; the provenance
marks such bars ``adjusted``.

Provenance: `FusedFeed.provenance` returns, per fused bar, the source of each field (a source
name, or ``"vwap"``/``"sum"`` for composites), the sources that had the bar and whether high or
low was adjusted. The `BarSeries` the engine gets stays plain floats.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from quantkit.data._frames import utc_index
from quantkit.data._timestamps import first_true, format_ns
from quantkit.data.feed import DataFeed
from quantkit.data.frame_feed import DataFrameFeed
from quantkit.data.validation import REQUIRED_COLUMNS
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    BoolArray = npt.NDArray[np.bool_]
    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["FieldRule", "FusedFeed", "FusionRules"]

FieldRule = Literal["priority", "vwap", "sum"] | tuple[str, ...]
"""How one field is fused: ``"priority"``, ``"vwap"`` (prices), ``"sum"`` (volume), or a
tuple of source names: a priority order for this field alone."""

_PRICES = ("open", "high", "low", "close")
_COMPOSITE = -1
_MAX_SOURCES = 63  # provenance packs "which sources had the bar" into an int64 bit mask


@dataclass(frozen=True, slots=True)
class FusionRules:
    """Per-field rules of a `FusedFeed`.

    Attributes:
        priority: Source names, most trusted first, for every field fused by priority. Sources
            not listed follow in the order given to `FusedFeed`; empty means that order.
        open: ``"priority"``, ``"vwap"`` or a tuple of source names (its own priority order,
            completed by `priority`).
        high: Like ``open``.
        low: Like ``open``.
        close: Like ``open``.
        volume: ``"priority"``, ``"sum"`` or a tuple of source names.

    Raises:
        ConfigError: If a rule is unknown or does not apply to its field.

    Examples:
        >>> FusionRules(priority=("binance", "kraken")).close
        'priority'
        >>> FusionRules.composite().high
        'vwap'
    """

    priority: tuple[str, ...] = ()
    open: FieldRule = "priority"
    high: FieldRule = "priority"
    low: FieldRule = "priority"
    close: FieldRule = "priority"
    volume: FieldRule = "priority"

    def __post_init__(self) -> None:
        object.__setattr__(self, "priority", _names(self.priority, "priority"))
        for field in REQUIRED_COLUMNS:
            rule = getattr(self, field)
            composite = "sum" if field == "volume" else "vwap"
            if isinstance(rule, str):
                if rule not in ("priority", composite):
                    raise ConfigError(
                        f"FusionRules: {field} must be 'priority', {composite!r} or a tuple of "
                        f"source names, got {rule!r}"
                    )
            else:
                object.__setattr__(self, field, _names(rule, field))

    @classmethod
    def composite(
        cls, *, priority: Sequence[str] = (), volume: FieldRule = "priority"
    ) -> FusionRules:
        """Rules for a volume-weighted composite of every price field.

        Args:
            priority: Source order for the fields fused by priority (the volume by default).
            volume: Rule for the volume: ``"priority"`` (default) or ``"sum"``.

        Returns:
            The rules.
        """
        return cls(tuple(priority), "vwap", "vwap", "vwap", "vwap", volume)


def _names(value: object, field: str) -> tuple[str, ...]:
    """A tuple of distinct non-empty source names, or a ConfigError."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"FusionRules: {field} must be a sequence of source names, got {value!r}")
    names = tuple(value)
    if not all(isinstance(name, str) and name for name in names):
        raise ConfigError(f"FusionRules: {field} holds a name that is not a string: {names!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"FusionRules: {field} names a source twice: {names!r}")
    return names


@dataclass(frozen=True, slots=True)
class _Provenance:
    """Where each field of each fused bar came from (source index, or ``_COMPOSITE``)."""

    times: IntArray
    fields: dict[str, npt.NDArray[np.int8]]
    present: BoolArray  # (source, bar)
    adjusted: BoolArray


class FusedFeed(DataFeed):
    """One feed built from several sources with a rule per field.

    Every source must serve a symbol in the same timeframe, on the same time grid; bars are
    matched on their open time. The fused feed serves the union of the sources' symbols (in the
    order they first appear) and, per symbol, a bar wherever any source has one.

    Args:
        sources: Source name to a `DataFeed` or a DataFrame (read with `DataFrameFeed`; its
            symbol comes from ``symbol=`` or ``frame.attrs["symbol"]``), most trusted first.
        rules: The per-field rules (default: priority in the order of ``sources``).
        symbol: The symbol of DataFrame sources that do not carry one in their ``attrs``.

    Raises:
        ConfigError: If there is no source or more than 63, a name is empty or contains a
            comma, a source has the wrong type, or the rules name an unknown source.

    Examples:
        >>> import pandas as pd
        >>> def frame(closes, volumes):
        ...     index = pd.date_range("2024-01-01", periods=len(closes), freq="h", tz="UTC")
        ...     return pd.DataFrame({"open": closes, "high": closes, "low": closes,
        ...                          "close": closes, "volume": volumes}, index=index)
        >>> feed = FusedFeed(
        ...     {"a": frame([10.0, 11.0], [1.0, 1.0]), "b": frame([12.0, 12.0], [3.0, 1.0])},
        ...     FusionRules.composite(),
        ...     symbol="BTC/USDT",
        ... )
        >>> feed.load()["BTC/USDT"].close.tolist()
        [11.5, 11.5]
        >>> feed.provenance("BTC/USDT")[["close", "volume", "sources"]].iloc[0].tolist()
        ['vwap', 'a', 'a,b']
    """

    def __init__(
        self,
        sources: Mapping[str, DataFeed | pd.DataFrame],
        rules: FusionRules | None = None,
        *,
        symbol: str | None = None,
    ) -> None:
        if not isinstance(sources, Mapping) or not sources:
            raise ConfigError("FusedFeed needs a non-empty mapping of source name to source")
        if rules is None:
            rules = FusionRules()
        if not isinstance(rules, FusionRules):
            raise ConfigError(f"FusedFeed: rules must be FusionRules, got {type(rules).__name__}")
        if len(sources) > _MAX_SOURCES:
            raise ConfigError(f"FusedFeed fuses at most {_MAX_SOURCES} sources")
        self._feeds = {name: _as_feed(name, source, symbol) for name, source in sources.items()}
        self._names = tuple(self._feeds)
        self._rules = rules
        self._plan = {field: self._field_plan(getattr(rules, field)) for field in REQUIRED_COLUMNS}
        self._loaded: dict[str, BarSeries] | None = None
        self._provenance: dict[str, _Provenance] = {}

    def _order(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Source indices: ``names`` first, then the rules' priority, then the given order."""
        for name in (*names, *self._rules.priority):
            if name not in self._feeds:
                close = difflib.get_close_matches(name, self._names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"FusionRules name source {name!r}, but the sources are "
                    f"{list(self._names)}{hint}"
                )
        ranked = [*names, *self._rules.priority, *self._names]
        return tuple(self._names.index(name) for name in dict.fromkeys(ranked))

    def _field_plan(self, rule: FieldRule) -> tuple[int, ...] | str:
        if rule == "priority":
            return self._order(())
        if isinstance(rule, tuple):
            return self._order(rule)
        return rule

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every source's symbols, in the order they first appear."""
        return tuple(dict.fromkeys(s for feed in self._feeds.values() for s in feed.symbols))

    @property
    def rules(self) -> FusionRules:
        """The fusion rules."""
        return self._rules

    def load(self) -> dict[str, BarSeries]:
        """Load every source and fuse each symbol (once; later calls reuse the result).

        Returns:
            Symbol to fused series, in `symbols` order.

        Raises:
            DataError: If a source's data is invalid, or the sources of a symbol differ in
                timeframe or time grid.
        """
        if self._loaded is None:
            histories = [feed.load() for feed in self._feeds.values()]
            loaded: dict[str, BarSeries] = {}
            for symbol in self.symbols:
                present = {k: h[symbol] for k, h in enumerate(histories) if symbol in h}
                loaded[symbol], self._provenance[symbol] = self._fuse(symbol, present)
            self._loaded = loaded
        return dict(self._loaded)

    def provenance(self, symbol: str) -> pd.DataFrame:
        """Where every field of every fused bar of ``symbol`` came from.

        Args:
            symbol: A symbol of the feed.

        Returns:
            A frame with a UTC ``DatetimeIndex`` named ``time`` (bar open times, as in the
            fused series) and columns ``open``, ``high``, ``low``, ``close``, ``volume`` (the
            source name, or ``"vwap"``/``"sum"`` for a composite), ``sources`` (the names of
            the sources that had the bar, comma-separated, in the order given) and
            ``adjusted`` (``True`` where high or low was widened to keep OHLC consistent).

        Raises:
            ConfigError: If the feed does not serve ``symbol``.
            DataError: If loading fails.
        """
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        if symbol not in self.symbols:
            close = difflib.get_close_matches(symbol, self.symbols, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"FusedFeed serves no {symbol!r}{hint}")
        self.load()
        record = self._provenance[symbol]
        names = np.array(self._names, dtype=object)
        columns: dict[str, object] = {}
        for field, codes in record.fields.items():
            rule = self._plan[field]
            columns[field] = (
                np.full(len(codes), rule, dtype=object) if isinstance(rule, str) else names[codes]
            )
        columns["sources"] = _joined_names(record.present, self._names)
        columns["adjusted"] = record.adjusted
        return pd.DataFrame(columns, index=utc_index(record.times))

    def _fuse(self, symbol: str, present: dict[int, BarSeries]) -> tuple[BarSeries, _Provenance]:
        """Fuse one symbol's series from the sources that serve it."""
        timeframe = self._check_grid(symbol, present)
        times = np.unique(np.concatenate([s.open_time for s in present.values()]))
        has = np.zeros((len(self._names), len(times)), dtype=np.bool_)
        matrix = {f: np.zeros((len(self._names), len(times))) for f in REQUIRED_COLUMNS}
        for k, series in present.items():
            positions = np.searchsorted(times, series.open_time)
            has[k, positions] = True
            for field in REQUIRED_COLUMNS:
                matrix[field][k, positions] = getattr(series, field)
        values: dict[str, FloatArray] = {}
        codes: dict[str, npt.NDArray[np.int8]] = {}
        for field in REQUIRED_COLUMNS:
            values[field], codes[field] = _apply(self._plan[field], field, matrix, has)
        high = np.maximum(values["high"], np.maximum(values["open"], values["close"]))
        low = np.minimum(values["low"], np.minimum(values["open"], values["close"]))
        adjusted = (high != values["high"]) | (low != values["low"])
        values["high"], values["low"] = high, low
        # Valid by construction: source bars are valid and on one grid, composites are
        # convex combinations of positive prices, and high/low were just made consistent.
        arrays = (times, times + np.int64(timeframe), *(values[f] for f in REQUIRED_COLUMNS))
        for array in arrays:
            array.flags.writeable = False
        series = BarSeries(symbol, timeframe, *arrays)
        return series, _Provenance(times, codes, has, adjusted)

    def _check_grid(self, symbol: str, present: dict[int, BarSeries]) -> int:
        """The common timeframe of a symbol's sources; raise if they differ or are offset."""
        (first, reference), *others = present.items()
        for k, series in others:
            where = f"{self._names[k]}: {symbol}"
            if series.timeframe != reference.timeframe:
                raise DataError(
                    f"has {format_timeframe(series.timeframe)} bars but source "
                    f"{self._names[first]!r} has {format_timeframe(reference.timeframe)} bars; "
                    "resample one of them (ResampledFeed) before fusing",
                    source=where,
                )
            offset = (series.open_time - reference.open_time[0]) % np.int64(reference.timeframe)
            row = first_true(offset != 0)
            if row != -1:
                raise DataError(
                    f"bar opens at {format_ns(int(series.open_time[row]))}, off the time grid of "
                    f"source {self._names[first]!r} (which opens at "
                    f"{format_ns(int(reference.open_time[0]))}); fused bars must line up",
                    source=where,
                    row=row,
                )
        return reference.timeframe

    def __repr__(self) -> str:
        return f"FusedFeed(sources={list(self._names)!r}, symbols={self.symbols!r})"


def _as_feed(name: object, source: object, symbol: str | None) -> DataFeed:
    """Check a source's name and wrap a DataFrame source in a `DataFrameFeed`."""
    if not isinstance(name, str) or not name or "," in name:
        raise ConfigError(
            f"FusedFeed: source names must be non-empty strings without ',': {name!r}"
        )
    if isinstance(source, DataFeed):
        return source
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if isinstance(source, pd.DataFrame):
        return DataFrameFeed(source, symbol=symbol)
    raise ConfigError(
        f"FusedFeed: source {name!r} must be a DataFeed or a DataFrame, got {type(source).__name__}"
    )


def _apply(
    plan: tuple[int, ...] | str,
    field: str,
    matrix: dict[str, FloatArray],
    has: BoolArray,
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """One fused field and, per bar, the source it came from (or ``_COMPOSITE``)."""
    count = has.shape[1]
    if isinstance(plan, str):
        weights = np.where(has, matrix["volume"], 0.0)
        if plan == "sum":
            return weights.sum(axis=0), np.full(count, _COMPOSITE, dtype=np.int8)
        prices = np.where(has, matrix[field], 0.0)
        total = weights.sum(axis=0)
        plain = prices.sum(axis=0) / has.sum(axis=0)
        weighted = (weights * prices).sum(axis=0) / np.where(total > 0, total, 1.0)
        return np.where(total > 0, weighted, plain), np.full(count, _COMPOSITE, dtype=np.int8)
    chosen = np.full(count, _COMPOSITE, dtype=np.int8)
    for k in plan:
        chosen[(chosen == _COMPOSITE) & has[k]] = k
    return matrix[field][chosen, np.arange(count)], chosen


def _joined_names(present: BoolArray, names: tuple[str, ...]) -> npt.NDArray[np.object_]:
    """Per bar, the names of the sources that had it, comma-separated."""
    masks = np.zeros(present.shape[1], dtype=np.int64)
    for k in range(len(names)):
        masks |= present[k].astype(np.int64) << k
    unique, inverse = np.unique(masks, return_inverse=True)
    labels = [",".join(n for k, n in enumerate(names) if int(mask) >> k & 1) for mask in unique]
    return np.array(labels, dtype=object)[inverse]
