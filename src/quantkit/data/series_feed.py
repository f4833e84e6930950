"""A feed over bar series already in memory (tests, audits, users with their own loaders)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quantkit.data.feed import DataFeed
from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError

__all__ = ["SeriesFeed"]


class SeriesFeed(DataFeed):
    """Serve `BarSeries` objects as they are.

    Args:
        series: One series, or several (all of one timeframe, distinct symbols).

    Raises:
        ConfigError: If no series is given, symbols repeat or timeframes differ.
    """

    def __init__(self, series: BarSeries | Sequence[BarSeries] | Mapping[str, BarSeries]) -> None:
        if isinstance(series, BarSeries):
            items = [series]
        elif isinstance(series, Mapping):
            items = list(series.values())
        else:
            items = list(series)
        if not items:
            raise ConfigError("SeriesFeed needs at least one BarSeries")
        symbols = [s.symbol for s in items]
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"SeriesFeed: symbols repeat: {symbols}")
        if len({s.timeframe for s in items}) != 1:
            raise ConfigError("SeriesFeed: all series must share one timeframe")
        self._series = {s.symbol: s for s in items}

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols, in the order given."""
        return tuple(self._series)

    def load(self) -> dict[str, BarSeries]:
        """Return the series by symbol.

        Returns:
            The series.
        """
        return dict(self._series)
