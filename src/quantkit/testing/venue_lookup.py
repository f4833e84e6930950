"""What the spot and futures local venues share: finding a market, telling which klines serve.

`find_market` looks a market up by venue id or unified symbol and names the venue and its
markets when there is none; `serves_interval` says whether a Binance kline interval can be
aggregated from candles of a given length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError
from quantkit.testing.market_data import BINANCE_INTERVALS

__all__ = ["MS_PER_DAY", "find_market", "serves_interval"]

MS_PER_DAY = 86_400_000
"""Milliseconds in a day (the ``"1M"`` interval needs candles that divide one)."""


class _Listed(Protocol):
    @property
    def symbol(self) -> str: ...


M = TypeVar("M", bound=_Listed)


def find_market(markets: Sequence[M], by_id: Mapping[str, M], symbol: str, *, venue: str) -> M:
    """Look a market up by venue id (``"BTCUSDT"``) or unified symbol.

    Args:
        markets: The markets, in listing order.
        by_id: The same markets by venue id.
        symbol: The id or symbol.
        venue: Names the venue in the error (``"local exchange"``).

    Returns:
        The market.

    Raises:
        ConfigError: If there is no such market.
    """
    found = by_id.get(symbol) or next((m for m in markets if m.symbol == symbol), None)
    if found is None:
        raise ConfigError(
            f"the {venue} has no market {symbol!r}; it has {', '.join(m.symbol for m in markets)}"
        )
    return found


def serves_interval(interval: str, step_ms: int, *, seconds: bool = True) -> bool:
    """Whether candles of ``interval`` can be aggregated from candles ``step_ms`` long.

    Args:
        interval: A kline interval such as ``"1h"``.
        step_ms: Length of the data's candles in milliseconds.
        seconds: Whether the venue serves ``"1s"`` klines at all (USD-M futures do not).

    Returns:
        ``True`` for a Binance interval that is a multiple of ``step_ms`` (``"1M"`` when
        ``step_ms`` divides a day).
    """
    if interval not in BINANCE_INTERVALS or (interval == "1s" and not seconds):
        return False
    if interval == "1M":
        return MS_PER_DAY % step_ms == 0
    return (parse_timeframe(interval) // 1_000_000) % step_ms == 0
