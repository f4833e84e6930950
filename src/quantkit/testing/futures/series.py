"""Synthetic price paths of a perpetual: last, index and mark candles, and funding rates.

All deterministic, seeded by string keys through SHA-256 (never Python's salted ``hash()``):

* last-price candles are the spot random walk of `synthetic_candles` for the same market;
* a basis ``b`` per candle (a moving average of seeded noise, a few basis points, both signs)
  separates the prices: the index (the spot reference) is ``last * (1 - b)`` and the mark is
  ``index * (1 + b / 2)``, so last, mark and index all differ, the mark lying between the
  other two; each candle's open, high, low and close are scaled by the same factor, so the
  candles stay well formed, then rounded to the tick;
* funding rates fall at every multiple of the funding interval since the epoch (00:00, 08:00
  and 16:00 UTC for 8 hours) within the data's range, drawn around Binance's 0.01 % interest
  rate with both signs, rounded to 8 decimals as Binance publishes them, each with the mark
  price at its timestamp (the open of the mark candle starting then).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from quantkit.testing.market_data import Candles

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.testing.futures.markets import FuturesMarket

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["FundingRates", "basis_path", "scaled_candles", "synthetic_funding"]

_RATE_CAP = 0.003
"""Synthetic rates stay within +-0.3 % (Binance caps most perpetuals at 0.75 % or more)."""


def _rng(*parts: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _round_to(values: FloatArray, increment: float) -> FloatArray:
    decimals = len(np.format_float_positional(increment, trim="-").partition(".")[2])
    rounded: FloatArray = np.round(np.round(values / increment) * increment, decimals)
    return rounded


@dataclass(frozen=True, slots=True)
class FundingRates:
    """Funding rates of one perpetual as columns, ordered by time.

    Attributes:
        time: Funding timestamps in ms since the epoch (UTC).
        rate: The rates (positive: longs pay shorts).
        mark_price: The mark price at each timestamp.
    """

    time: IntArray
    rate: FloatArray
    mark_price: FloatArray

    def __len__(self) -> int:
        return int(self.time.size)

    def frame(self) -> pd.DataFrame:
        """Return the rates as a frame indexed by UTC funding time.

        Returns:
            Columns ``rate`` and ``mark_price`` (floats), index ``time``.
        """
        import pandas as pd  # noqa: PLC0415 - pandas only when a frame is asked for

        index = pd.DatetimeIndex(
            (self.time * 1_000_000).astype("datetime64[ns]"), name="time"
        ).tz_localize("UTC")
        return pd.DataFrame({"rate": self.rate, "mark_price": self.mark_price}, index=index)


def basis_path(market: FuturesMarket, count: int, *, seed: str, timeframe: str) -> FloatArray:
    """The basis of each candle: smooth seeded noise of a few basis points, both signs.

    Args:
        market: The perpetual.
        count: How many candles.
        seed: The data's string key.
        timeframe: The candles' timeframe (part of the key).

    Returns:
        ``count`` fractions, about 5e-4 in size, never beyond +-0.5 %.
    """
    rng = _rng(seed, "basis", market.symbol, timeframe)
    width = 30
    noise = rng.normal(0.0, 5e-4 * np.sqrt(width), count + width - 1)
    smooth = np.convolve(noise, np.ones(width) / width, mode="valid")
    clipped: FloatArray = np.clip(smooth, -0.005, 0.005)
    return clipped


def scaled_candles(last: Candles, factor: FloatArray, tick: float) -> Candles:
    """Candles whose prices are ``last``'s times ``factor`` (one per candle), on the tick.

    Volumes are zero (Binance's mark and index klines carry none); ``count`` is kept.

    Args:
        last: The last-price candles.
        factor: Positive multipliers, one per candle.
        tick: The price increment to round to.

    Returns:
        The scaled candles.
    """

    def scale(column: FloatArray) -> FloatArray:
        return np.maximum(_round_to(column * factor, tick), tick)

    zeros = np.zeros(len(last))
    return Candles(last.time, scale(last.open), scale(last.high), scale(last.low),
                   scale(last.close), zeros, last.close_time, last.count.copy())  # fmt: skip


def synthetic_funding(
    market: FuturesMarket, start_ms: int, end_ms: int, mark: Candles, *, seed: str
) -> FundingRates:
    """Funding rates at each funding timestamp in ``[start_ms, end_ms)``.

    Args:
        market: The perpetual (its funding interval).
        start_ms: Start of the data.
        end_ms: End of the data (exclusive).
        mark: The mark candles (their opens give the mark price at each timestamp).
        seed: The data's string key.

    Returns:
        The rates: mean 0.01 %, both signs, within +-0.3 %, 8 decimals.
    """
    step = market.funding_interval_ms
    first = -(-start_ms // step) * step
    time = np.arange(first, end_ms, step, dtype=np.int64)
    rng = _rng(seed, "funding", market.symbol)
    rate = np.round(np.clip(rng.normal(1e-4, 2.5e-4, time.size), -_RATE_CAP, _RATE_CAP), 8)
    at = np.clip(np.searchsorted(mark.time, time, "right") - 1, 0, max(len(mark) - 1, 0))
    inside = (len(mark) > 0) & (mark.time[at] == time) if len(mark) else np.zeros(0, bool)
    price = np.where(inside, mark.open[at], mark.close[at]) if len(mark) else np.zeros(0)
    return FundingRates(time, rate.astype(np.float64), np.asarray(price, dtype=np.float64))
