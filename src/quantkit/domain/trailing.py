"""Trailing stops as values: one rule shared by the simulator, the paper and the live broker.

An entry placed with ``trail_pct`` gets a reduce-only stop that follows the price. The rule
(the vector path's, `quantkit.vector.Signals`):

* At each bar CLOSE while the position is open, starting with the close of the bar the entry
  filled in, the extreme is the highest high (a long) or the lowest low (a short) of the bars
  since that bar, this bar included.
* The stop level is ``extreme x (1 - trail_pct)`` for a long and ``extreme x (1 + trail_pct)``
  for a short, rounded to the nearest tick. It works from the NEXT bar on: the bar that sets
  a new extreme never triggers the stop computed from it (no look-ahead inside a bar).
* The extreme only moves in the position's favour, so the level never loosens.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.errors import OrderError

__all__ = ["TrailingStop"]


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """Where a trailing stop stands after a bar's close.

    Attributes:
        side: Side of the exit (``SELL`` protects a long, ``BUY`` a short).
        trail_pct: Distance from the extreme, a fraction in (0, 1).
        extreme: Highest high (long) or lowest low (short) since the entry's fill bar.
        level: The stop's trigger price for the next bar, on the tick.

    Examples:
        >>> m = Market("BTC/USDT", "BTC", "USDT", price_increment=0.01)
        >>> t = TrailingStop.start(Side.SELL, 0.05, high=110.0, low=99.0, market=m)
        >>> t.level
        104.5
        >>> t.follow(high=108.0, low=100.0, market=m).level  # a lower high: the stop stays
        104.5
        >>> t.follow(high=120.0, low=100.0, market=m).level
        114.0
    """

    side: Side
    trail_pct: float
    extreme: float
    level: float

    @classmethod
    def start(
        cls, side: Side, trail_pct: float, *, high: float, low: float, market: Market
    ) -> TrailingStop:
        """The trailing stop at the close of the bar its entry filled in.

        Args:
            side: Side of the exit (the opposite of the entry's).
            trail_pct: Distance from the extreme.
            high: The fill bar's high.
            low: The fill bar's low.
            market: The market (the level rounds to its tick).

        Returns:
            The stop, working from the next bar.
        """
        extreme = high if side is Side.SELL else low
        return cls(side, trail_pct, extreme, _level(side, trail_pct, extreme, market))

    def follow(self, *, high: float, low: float, market: Market) -> TrailingStop:
        """The stop after one more closed bar: the extreme moves only in the position's favour.

        Args:
            high: The closed bar's high.
            low: The closed bar's low.
            market: The market.

        Returns:
            ``self`` if the extreme did not move, else the ratcheted stop.
        """
        sell = self.side is Side.SELL
        far = high if sell else low
        if (far <= self.extreme) if sell else (far >= self.extreme):
            return self
        level = _level(self.side, self.trail_pct, far, market)
        tighter = max(level, self.level) if sell else min(level, self.level)
        return TrailingStop(self.side, self.trail_pct, far, tighter)

    def hit(self, low: float, high: float) -> bool:
        """Whether a price range reaches the stop.

        Args:
            low: Lowest price seen.
            high: Highest price seen.

        Returns:
            True if the range touches or crosses the level against the position.
        """
        return low <= self.level if self.side is Side.SELL else high >= self.level

    def as_json(self) -> dict[str, object]:
        """The journaled form (see `from_json`)."""
        return {
            "side": self.side.value,
            "trail_pct": self.trail_pct,
            "extreme": self.extreme,
            "level": self.level,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TrailingStop:
        """Rebuild a trailing stop from its journaled form.

        Args:
            data: What `as_json` returned.

        Returns:
            The stop.
        """
        return cls(
            Side(str(data["side"])),
            _number(data["trail_pct"]),
            _number(data["extreme"]),
            _number(data["level"]),
        )


def _level(side: Side, trail_pct: float, extreme: float, market: Market) -> float:
    sign = 1.0 if side is Side.SELL else -1.0  # the sign of the position it protects
    return market.round_price(extreme * (1.0 - sign * trail_pct))


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OrderError(f"trailing stop record: expected a number, got {value!r}")
    return float(value)
