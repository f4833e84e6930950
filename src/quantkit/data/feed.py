"""The DataFeed interface: where a run's bars come from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from quantkit.domain.bars import BarSeries

__all__ = ["DataFeed"]


class DataFeed(ABC):
    """A source of validated, time-ordered, closed bars for one or more symbols.

    Subclass it to bring your own data; implement `load`. Every series a feed returns
    has passed `quantkit.data.validation.validate_bars` (timestamps UTC, strictly
    increasing and unique, OHLC consistent, prices > 0, volume >= 0, no NaN).
    """

    @property
    @abstractmethod
    def symbols(self) -> tuple[str, ...]:
        """The symbols this feed serves, in the order the engine calls ``on_bar`` for them."""

    @abstractmethod
    def load(self) -> Mapping[str, BarSeries]:
        """Return the history of every symbol, keyed by symbol in `symbols` order.

        Returns:
            One validated `BarSeries` per symbol.

        Raises:
            DataError: If the data is invalid; the message names source, row and problem.
        """
