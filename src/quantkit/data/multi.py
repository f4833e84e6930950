"""Several timeframes for one strategy: `MultiTimeframeFeed`.

The feed serves a base feed's series under their own symbols (the bars the strategy trades on)
and, for each higher timeframe, an *informative* series under the key ``"SYMBOL@TF"``, e.g.
``"BTC/USDT@1d"``. Informative series are not markets: a strategy reads them, it does not trade
them.

No look-ahead comes from the higher timeframe: the engine moves each series' cursor when a bar
*closes*, so the daily bar that opens at 00:00 becomes visible at 00:00 the next day, together
with the hourly bar that closes then, and never earlier. Resampled higher timeframes also drop
a last bin the data ends inside (see `quantkit.data.resample`), so an unfinished day is never
served.

Reading the higher timeframe in a strategy::

    class TrendFilter(Strategy):
        def on_bar(self, bar):
            daily = self.datas["BTC/USDT@1d"]
            if len(daily) == 0:  # no daily bar has closed yet
                return
            if bar.close[-1] > daily.close[-1] and self.position().is_flat:
                self.buy(amount=0.1)

``daily.close[-1]`` is the close of the last daily bar that closed at or before the current
hourly bar's close time; ``daily.close[-2]`` the one before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from quantkit.data.feed import DataFeed
from quantkit.data.resample import PartialBin, resample_bars
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe, parse_timeframe
from quantkit.errors import ConfigError, DataError

__all__ = [
    "INFORMATIVE_SEPARATOR",
    "MultiTimeframeFeed",
    "informative_key",
    "is_informative",
    "split_informative",
]

INFORMATIVE_SEPARATOR = "@"
"""Separates the symbol from the timeframe in the key of an informative series."""


def informative_key(symbol: str, timeframe: str | int) -> str:
    """Return the key of a symbol's series on another timeframe.

    Args:
        symbol: Market symbol, e.g. ``"BTC/USDT"``.
        timeframe: The timeframe, e.g. ``"1d"`` or nanoseconds.

    Returns:
        ``"SYMBOL@TF"`` with the timeframe in its shortest form.

    Raises:
        ConfigError: If the timeframe is not understood.

    Examples:
        >>> informative_key("BTC/USDT", "24h")
        'BTC/USDT@1d'
    """
    return f"{symbol}{INFORMATIVE_SEPARATOR}{format_timeframe(parse_timeframe(timeframe))}"


def is_informative(key: str) -> bool:
    """Whether a series key names an informative (not tradable) series.

    Args:
        key: A key of a feed's `load` result.

    Returns:
        ``True`` for ``"SYMBOL@TF"`` keys.

    Examples:
        >>> is_informative("BTC/USDT@1d"), is_informative("BTC/USDT")
        (True, False)
    """
    return INFORMATIVE_SEPARATOR in key


def split_informative(key: str) -> tuple[str, int | None]:
    """Split a series key into its symbol and its timeframe.

    Args:
        key: ``"SYMBOL"`` or ``"SYMBOL@TF"``.

    Returns:
        The symbol, and the timeframe in ns for an informative key (else ``None``).

    Raises:
        ConfigError: If the part after ``@`` is not a timeframe.

    Examples:
        >>> split_informative("BTC/USDT@1h")
        ('BTC/USDT', 3600000000000)
    """
    symbol, separator, timeframe = key.rpartition(INFORMATIVE_SEPARATOR)
    if not separator:
        return key, None
    return symbol, parse_timeframe(timeframe)


class MultiTimeframeFeed(DataFeed):
    """Serve a feed's series plus each symbol's series on higher timeframes.

    `symbols` lists the base symbols first, in the base feed's order, then one key
    ``"SYMBOL@TF"`` per symbol and higher timeframe (timeframes in increasing order).

    Args:
        feed: The base feed: the bars the strategy trades on.
        timeframes: The higher timeframes. A sequence (``["4h", "1d"]``) resamples the base
            bars with `quantkit.data.resample.resample_bars`. A mapping of timeframe to a feed
            or ``None`` (``{"1d": daily_feed, "4h": None}``) takes that timeframe's bars from
            the given feed instead of resampling (its series must have that timeframe; bars
            that close after the base series' last bar are left out, because the run ends
            before they close).
        partial: What resampling does with a last bin the data ends inside (default
            ``"drop"``: it has not closed, so it is not served).

    Raises:
        ConfigError: If no timeframe is given, one repeats, a feed is not a `DataFeed`, or a
            base symbol already contains ``"@"``.

    Examples:
        >>> from quantkit.data import sample_feed
        >>> feed = MultiTimeframeFeed(sample_feed(), ["1d"])
        >>> feed.symbols
        ('BTC/USDT', 'BTC/USDT@1d')
        >>> bars = feed.load()
        >>> len(bars["BTC/USDT"]), len(bars["BTC/USDT@1d"])
        (17520, 730)
    """

    def __init__(
        self,
        feed: DataFeed,
        timeframes: Iterable[str | int] | Mapping[str | int, DataFeed | None],
        *,
        partial: PartialBin = "drop",
    ) -> None:
        if not isinstance(feed, DataFeed):
            raise ConfigError(
                f"MultiTimeframeFeed: feed must be a DataFeed, got {type(feed).__name__}"
            )
        if partial not in ("drop", "keep"):
            raise ConfigError(f"partial must be 'drop' or 'keep', got {partial!r}")
        self._feed = feed
        self._partial: PartialBin = partial
        self._higher = _parse_timeframes(timeframes)
        for symbol in feed.symbols:
            if is_informative(symbol):
                raise ConfigError(
                    f"MultiTimeframeFeed: symbol {symbol!r} contains {INFORMATIVE_SEPARATOR!r}, "
                    "which marks informative series"
                )
        self._loaded: dict[str, BarSeries] | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """Base symbols, then the informative keys."""
        base = self._feed.symbols
        extra = [informative_key(s, tf) for s in base for tf in self._higher]
        return (*base, *extra)

    @property
    def timeframes(self) -> tuple[int, ...]:
        """The higher timeframes in ns, in increasing order."""
        return tuple(self._higher)

    def load(self) -> dict[str, BarSeries]:
        """Load the base feed and build every higher-timeframe series (once).

        Returns:
            Key to series, in `symbols` order.

        Raises:
            ConfigError: If a higher timeframe is not a multiple of the base timeframe, or a
                given feed lacks a symbol.
            DataError: If data is invalid or misaligned, a given feed's timeframe is not the one
                it is given for, or a higher timeframe has no closed bar.
        """
        if self._loaded is None:
            base = dict(self._feed.load())
            loaded = dict(base)
            native = {
                tf: source.load() for tf, source in self._higher.items() if source is not None
            }
            for symbol, series in base.items():
                for timeframe, source in self._higher.items():
                    key = informative_key(symbol, timeframe)
                    if source is None:
                        loaded[key] = self._resampled(series, timeframe)
                    else:
                        loaded[key] = _native(native[timeframe], symbol, timeframe, series, source)
            self._loaded = loaded
        return dict(self._loaded)

    def _resampled(self, series: BarSeries, timeframe: int) -> BarSeries:
        if timeframe <= series.timeframe:
            raise ConfigError(
                f"MultiTimeframeFeed: {format_timeframe(timeframe)} is not higher than the "
                f"{format_timeframe(series.timeframe)} bars of {series.symbol}"
            )
        resampled = resample_bars(series, timeframe, partial=self._partial)
        return _relabel(resampled, informative_key(series.symbol, timeframe))

    def __repr__(self) -> str:
        timeframes = [format_timeframe(tf) for tf in self._higher]
        return f"MultiTimeframeFeed({self._feed!r}, {timeframes!r})"


def _parse_timeframes(
    timeframes: Iterable[str | int] | Mapping[str | int, DataFeed | None],
) -> dict[int, DataFeed | None]:
    """Timeframe in ns to its source feed (``None``: resample), sorted by timeframe."""
    if isinstance(timeframes, str | int):
        raise ConfigError(
            f"timeframes must be a list or a mapping, e.g. ['1d'], got {timeframes!r}"
        )
    if isinstance(timeframes, Mapping):
        pairs = list(timeframes.items())
    else:
        pairs = [(tf, None) for tf in timeframes]
    parsed: dict[int, DataFeed | None] = {}
    for timeframe, source in pairs:
        length = parse_timeframe(timeframe)
        if length in parsed:
            raise ConfigError(f"MultiTimeframeFeed: timeframe {timeframe!r} is given twice")
        if source is not None and not isinstance(source, DataFeed):
            raise ConfigError(
                f"MultiTimeframeFeed: the source of {timeframe!r} must be a DataFeed or None, "
                f"got {type(source).__name__}"
            )
        parsed[length] = source
    if not parsed:
        raise ConfigError("MultiTimeframeFeed needs at least one higher timeframe, e.g. ['1d']")
    return dict(sorted(parsed.items()))


def _native(
    history: Mapping[str, BarSeries],
    symbol: str,
    timeframe: int,
    base: BarSeries,
    source: DataFeed,
) -> BarSeries:
    """A given feed's series of ``symbol``, checked and cut at the base series' last close."""
    series = history.get(symbol)
    if series is None:
        raise ConfigError(
            f"MultiTimeframeFeed: the {format_timeframe(timeframe)} feed {source!r} has no "
            f"{symbol!r}; it serves {list(history)}"
        )
    key = informative_key(symbol, timeframe)
    if series.timeframe != timeframe:
        raise DataError(
            f"given as the {format_timeframe(timeframe)} series but has "
            f"{format_timeframe(series.timeframe)} bars",
            source=key,
        )
    if timeframe <= base.timeframe:
        raise ConfigError(
            f"MultiTimeframeFeed: {format_timeframe(timeframe)} is not higher than the "
            f"{format_timeframe(base.timeframe)} bars of {symbol}"
        )
    count = int(np.searchsorted(series.close_time, base.close_time[-1], side="right"))
    if count == 0:
        raise DataError(
            "no bar closes before the base series ends; the higher timeframe would be empty",
            source=key,
        )
    return _relabel(series.head(count), key)


def _relabel(series: BarSeries, key: str) -> BarSeries:
    """The same arrays under another symbol."""
    return BarSeries(
        key,
        series.timeframe,
        series.open_time,
        series.close_time,
        series.open,
        series.high,
        series.low,
        series.close,
        series.volume,
    )
