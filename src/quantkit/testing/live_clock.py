"""LiveClock: reveals a local venue's candles one at a time, as if the market were live.

At the start only the first ``warmup`` steps of the data are published. Each `LiveClock.advance`
publishes the next step of every market: it walks the market's price through the candle with
`LocalAccounts.set_price` (open, then the low and the high in the order the candle's direction
suggests, then the close), so resting limit orders fill as the candle passes, and then reveals
the candle on the venue (see `LocalVenue.reveal`). The price is left at the candle's close, so a
market order placed before the next step fills there.

A step is one open time of the data's own timeframe; markets with a hole at that time simply
have nothing to publish in it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.testing.accounts import LocalAccounts
    from quantkit.testing.market_data import LocalMarket
    from quantkit.testing.venue import LocalVenue

__all__ = ["LiveClock", "price_path"]


def price_path(open_: float, high: float, low: float, close: float) -> tuple[float, ...]:
    """The prices a candle passes through: open, low then high (or high then low), close.

    A candle that closes at or above its open is taken to dip first; one that closes below its
    open to rise first.

    Args:
        open_: The open price.
        high: The high price.
        low: The low price.
        close: The close price.

    Returns:
        The four prices in the order they are visited.

    Examples:
        >>> price_path(10, 12, 9, 11), price_path(10, 12, 9, 9.5)
        ((10, 9, 12, 11), (10, 12, 9, 9.5))
    """
    if close >= open_:
        return (open_, low, high, close)
    return (open_, high, low, close)


class LiveClock:
    """Publishes a venue's data step by step and moves the accounts' prices along.

    Thread-safe: the timer of a running `LocalExchange` and a test may both advance it.

    Args:
        venue: The venue whose data is revealed.
        accounts: The book whose prices follow the published candles.
        warmup: How many steps are published at the start (at least 1).

    Raises:
        ConfigError: If ``warmup`` is not between 1 and the number of steps in the data.

    Examples:
        >>> from quantkit.testing.venue import LocalVenue
        >>> from quantkit.testing.accounts import LocalAccounts
        >>> venue = LocalVenue(start="2024-01-01", end="2024-01-01 00:10")
        >>> clock = LiveClock(venue, LocalAccounts(venue), warmup=3)
        >>> clock.published, clock.total, len(venue.served_candles(venue.markets[0], "1m"))
        (3, 10, 4)
    """

    def __init__(self, venue: LocalVenue, accounts: LocalAccounts, *, warmup: int) -> None:
        self.venue = venue
        self.accounts = accounts
        self._steps = venue.open_times()
        if not 1 <= warmup <= self._steps.size:
            raise ConfigError(
                f"warmup must be between 1 and the {self._steps.size} candles of the data, "
                f"got {warmup}"
            )
        self._lock = threading.Lock()
        self._published = warmup
        through = int(self._steps[warmup - 1])
        for market in venue.markets:
            self._start_price(market, through)
        venue.reveal(through)

    @property
    def published(self) -> int:
        """How many steps of the data are published."""
        return self._published

    @property
    def total(self) -> int:
        """How many steps the data has."""
        return int(self._steps.size)

    @property
    def remaining(self) -> int:
        """How many steps are left to publish."""
        return self.total - self._published

    def _start_price(self, market: LocalMarket, through: int) -> None:
        base = self.venue.candles(market, self.venue.timeframe)
        closed = self.venue.closed_count(market, through)
        if closed:
            self.accounts.set_price(market.symbol, float(base.close[closed - 1]), now=through)
        elif len(base):
            self.accounts.set_price(market.symbol, float(base.open[0]), now=through)

    def advance(self) -> int:
        """Publish the next step: walk each market's price through its candle, then reveal it.

        Returns:
            The open time (ms) of the step published.

        Raises:
            ConfigError: If every step is already published.
        """
        with self._lock:
            if self._published >= self._steps.size:
                raise ConfigError(
                    f"the local exchange's data is used up: all {self.total} candles are "
                    "published; give it a longer range (start/end) or more candles"
                )
            step = int(self._steps[self._published])
            for market in self.venue.markets:
                self._walk(market, step)
            self._published += 1
            self.venue.reveal(step)
            return step

    def _walk(self, market: LocalMarket, step: int) -> None:
        base = self.venue.candles(market, self.venue.timeframe)
        i = int(np.searchsorted(base.time, step, "left"))
        if i == len(base) or int(base.time[i]) != step:
            return  # a hole in this market's data
        path = price_path(
            float(base.open[i]), float(base.high[i]), float(base.low[i]), float(base.close[i])
        )
        close_ms = int(base.close_time[i])
        for n, price in enumerate(path):
            self.accounts.set_price(market.symbol, price, now=step if n == 0 else close_ms)
