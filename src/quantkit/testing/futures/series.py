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

from quantkit.errors import DataError
from quantkit.testing.market_data import Candles

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.testing.futures.markets import FuturesMarket

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = [
    "FundingRates",
    "basis_path",
    "mark_at",
    "scaled_candles",
    "supplied_funding",
    "synthetic_funding",
]

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
    return FundingRates(time, rate.astype(np.float64), mark_at(mark, time))


def mark_at(mark: Candles, time: IntArray) -> FloatArray:
    """The mark price at each time.

    That is the open of the candle starting then, else the close of the last candle before
    it (NaN before the first candle).

    Args:
        mark: Mark candles.
        time: Times in ms.

    Returns:
        One price per time.
    """
    if not len(mark):
        return np.full(time.size, np.nan)
    at = np.searchsorted(mark.time, time, "right") - 1
    safe = np.clip(at, 0, len(mark) - 1)
    price = np.where(mark.time[safe] == time, mark.open[safe], mark.close[safe])
    return np.where(at >= 0, price, np.nan).astype(np.float64)


def supplied_funding(frame: pd.DataFrame, mark: Candles, *, source: str) -> FundingRates:
    """Caller-supplied funding rates, checked; the mark price filled in where not given.

    Args:
        frame: Funding times as ``DatetimeIndex`` (naive: UTC), a ``rate`` column and
            optionally ``mark_price``.
        mark: The market's mark candles.
        source: Names the frame in error messages.

    Returns:
        The rates.

    Raises:
        DataError: If the index or the ``rate`` column is missing, or a row is invalid
            (see `validate_funding`).
    """
    import pandas as pd  # noqa: PLC0415 - pandas only with caller frames

    from quantkit.data.funding import validate_funding  # noqa: PLC0415

    if not isinstance(frame.index, pd.DatetimeIndex) or "rate" not in frame.columns:
        raise DataError("funding needs a DatetimeIndex and a 'rate' column", source=source)
    index = frame.index if frame.index.tz is None else frame.index.tz_convert("UTC")
    time = np.asarray(index.as_unit("ms").asi8, dtype=np.int64)
    given = frame["mark_price"] if "mark_price" in frame.columns else np.full(time.size, np.nan)
    price = np.asarray(given, dtype=np.float64)
    price = np.where(np.isnan(price), mark_at(mark, time), price)
    checked = validate_funding(time * 1_000_000, np.asarray(frame["rate"]), price, source=source)
    return FundingRates(time, np.array(checked.rate), np.array(checked.mark_price))
