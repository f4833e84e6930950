"""What the local exchange serves: its markets, and candles and trades as plain numpy columns.

Synthetic data is deterministic: each series draws from a random generator seeded with a
SHA-256 digest of a string key (``seed|kind|symbol|timeframe``), never with Python's salted
``hash()``, so every process and every run sees the same numbers. Prices are rounded to the
market's tick and volumes to its step, so their shortest decimal rendering (what the server
sends) reads back as exactly the same floats.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]
    BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "BINANCE_INTERVALS",
    "DEFAULT_MARKETS",
    "Candles",
    "LocalMarket",
    "Trades",
    "aggregate_candles",
    "candles_from_frame",
    "check_positive",
    "format_number",
    "forming_head",
    "interval_buckets",
    "synthetic_candles",
    "synthetic_trades",
    "trades_from_frame",
]

BINANCE_INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
)  # fmt: skip
"""The kline intervals Binance spot accepts."""

_MS_PER_DAY = 86_400_000
_MONDAY_MS = 4 * _MS_PER_DAY  # 1970-01-01 was a Thursday; weeks open on Monday 1970-01-05.


def format_number(value: float) -> str:
    """Render a float as the shortest plain decimal that reads back as the same float.

    Args:
        value: The number.

    Returns:
        For example ``"40000"``, ``"0.00001"`` (never exponent notation).

    Examples:
        >>> format_number(1e-05), format_number(42000.5), format_number(3.0)
        ('0.00001', '42000.5', '3')
    """
    return np.format_float_positional(value, trim="-")


def check_positive(what: str, values: Mapping[str, float]) -> None:
    """Refuse a market setting that is not a positive, finite number.

    Args:
        what: Names the market in the error (``"local market BTC/USDT"``).
        values: The settings by name, checked in order.

    Raises:
        ConfigError: For the first that is zero, negative, infinite or NaN.
    """
    for name, value in values.items():
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{what}: {name} must be > 0, got {value}")


def _decimals(increment: float) -> int:
    text = format_number(increment)
    return len(text.partition(".")[2])


def _round_to(values: FloatArray, increment: float) -> FloatArray:
    rounded: FloatArray = np.round(np.round(values / increment) * increment, _decimals(increment))
    return rounded


@dataclass(frozen=True, slots=True)
class LocalMarket:
    """A spot market of the local exchange, declared in ``exchangeInfo``.

    Args:
        symbol: Unified symbol ``BASE/QUOTE``, e.g. ``"BTC/USDT"``; the venue id is
            ``BASEQUOTE``.
        price: First price of the synthetic series.
        tick_size: Price increment (``PRICE_FILTER.tickSize``).
        step_size: Amount increment (``LOT_SIZE.stepSize``).
        min_qty: Smallest amount (``LOT_SIZE.minQty``).
        max_qty: Largest amount (``LOT_SIZE.maxQty``).
        min_notional: Smallest order value in quote currency (``NOTIONAL.minNotional``).
        status: ``"TRADING"``, or e.g. ``"BREAK"`` for a halted market.
        order_types: The order types ``exchangeInfo`` lists (and the venue takes); Binance's
            full spot list by default. Leave out e.g. ``"STOP_LOSS"`` to model a market
            without stop-market orders.

    Raises:
        ConfigError: If the symbol is not ``BASE/QUOTE`` or a number is not positive.
    """

    symbol: str
    price: float = 100.0
    tick_size: float = 0.01
    step_size: float = 0.001
    min_qty: float = 0.001
    max_qty: float = 100_000.0
    min_notional: float = 5.0
    status: str = "TRADING"
    order_types: tuple[str, ...] = (
        "LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    )  # fmt: skip

    def __post_init__(self) -> None:
        base, sep, quote = self.symbol.partition("/")
        if not sep or not base.isalnum() or not quote.isalnum():
            raise ConfigError(f"local market symbol {self.symbol!r} is not BASE/QUOTE")
        names = ("price", "tick_size", "step_size", "min_qty", "max_qty", "min_notional")
        check_positive(f"local market {self.symbol}", {n: getattr(self, n) for n in names})

    @property
    def base(self) -> str:
        """The base currency, e.g. ``"BTC"``."""
        return self.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        """The quote currency, e.g. ``"USDT"``."""
        return self.symbol.partition("/")[2]

    @property
    def venue_id(self) -> str:
        """The exchange's own market id, e.g. ``"BTCUSDT"``."""
        return self.base + self.quote


DEFAULT_MARKETS = (
    LocalMarket("BTC/USDT", price=42_000.0, tick_size=0.01, step_size=0.00001, min_qty=0.00001,
                max_qty=9_000.0, min_notional=5.0),
    LocalMarket("ETH/USDT", price=2_300.0, tick_size=0.01, step_size=0.0001, min_qty=0.0001,
                max_qty=9_000.0, min_notional=5.0),
    LocalMarket("ETH/BTC", price=0.055, tick_size=0.00001, step_size=0.0001, min_qty=0.0001,
                max_qty=100_000.0, min_notional=0.0001),
)  # fmt: skip
"""Markets served when none are given: BTC/USDT, ETH/USDT and ETH/BTC."""


@dataclass(frozen=True, slots=True)
class Candles:
    """Candles as columns; ``time`` holds open times in ms since the epoch (UTC), increasing.

    Attributes:
        time: Open times.
        open: Open prices.
        high: High prices.
        low: Low prices.
        close: Close prices.
        volume: Base volumes.
        close_time: Last millisecond of each candle.
        count: How many base candles (or trades) each candle aggregates.
    """

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    close_time: IntArray
    count: IntArray

    def __len__(self) -> int:
        return int(self.time.size)

    def frame(self) -> pd.DataFrame:
        """Return the candles as a DataFrame like `fetch_ohlcv_range` returns.

        Returns:
            A frame indexed by a UTC ``DatetimeIndex`` named ``"time"`` (open times) with float
            columns ``open``, ``high``, ``low``, ``close``, ``volume``.
        """
        import pandas as pd  # noqa: PLC0415 - pandas only when a frame is asked for

        index = pd.DatetimeIndex(
            (self.time * 1_000_000).astype("datetime64[ns]"), name="time"
        ).tz_localize("UTC")
        columns = {
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }
        return pd.DataFrame({k: v.astype(np.float64) for k, v in columns.items()}, index=index)


@dataclass(frozen=True, slots=True)
class Trades:
    """Trades as columns, ordered by ``time`` (ms since the epoch, UTC) then ``id``.

    Attributes:
        id: Increasing trade ids (Binance's aggregate trade ids).
        time: Trade times.
        price: Prices.
        amount: Base amounts.
        buyer_maker: ``True`` when the buyer was the maker, i.e. the taker sold.
    """

    id: IntArray
    time: IntArray
    price: FloatArray
    amount: FloatArray
    buyer_maker: BoolArray

    def __len__(self) -> int:
        return int(self.time.size)

    def frame(self) -> pd.DataFrame:
        """Return the trades as a DataFrame like `fetch_trades_range` returns.

        Returns:
            A frame indexed by a UTC ``DatetimeIndex`` named ``"time"`` with columns ``price``,
            ``amount`` (floats) and ``side`` (``"buy"`` or ``"sell"``, the taker's side).
        """
        import pandas as pd  # noqa: PLC0415 - pandas only when a frame is asked for

        index = pd.DatetimeIndex(
            (self.time * 1_000_000).astype("datetime64[ns]"), name="time"
        ).tz_localize("UTC")
        side = np.where(self.buyer_maker, "sell", "buy")
        return pd.DataFrame(
            {"price": self.price, "amount": self.amount, "side": side.astype(object)},
            index=index,
        )


def _rng(*parts: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def synthetic_candles(
    market: LocalMarket, timeframe: str, start_ms: int, end_ms: int, *, seed: str
) -> Candles:
    """Generate a deterministic random walk of candles opening in ``[start_ms, end_ms)``.

    Args:
        market: The market (first price, tick and step sizes).
        timeframe: Candle length such as ``"1m"``.
        start_ms: First open time; candles open at multiples of the timeframe from it.
        end_ms: End of the series (exclusive).
        seed: The string key the generator is seeded with (with the symbol and timeframe).

    Returns:
        The candles.
    """
    step_ms = parse_timeframe(timeframe) // 1_000_000
    count = max(0, -(-(end_ms - start_ms) // step_ms))
    rng = _rng(seed, "candles", market.symbol, timeframe)
    sigma = 0.001 * math.sqrt(step_ms / 60_000)
    walk = market.price * np.exp(np.cumsum(rng.normal(0.0, sigma, count)))
    closes = np.maximum(_round_to(walk, market.tick_size), market.tick_size)
    first = _round_to(np.array([market.price]), market.tick_size)
    opens = np.concatenate((first, closes[:-1]))
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, count)))
    high = np.maximum(_round_to(np.maximum(opens, closes) * (1 + wick[0]), market.tick_size),
                      np.maximum(opens, closes))  # fmt: skip
    low = np.minimum(_round_to(np.minimum(opens, closes) * (1 - wick[1]), market.tick_size),
                     np.minimum(opens, closes))  # fmt: skip
    low = np.maximum(low, market.tick_size)
    volume = _round_to(rng.gamma(2.0, 5.0, count), market.step_size)
    time = start_ms + step_ms * np.arange(count, dtype=np.int64)
    return Candles(time, opens, high, low, closes, volume, time + step_ms - 1,
                   np.ones(count, dtype=np.int64))  # fmt: skip


def synthetic_trades(
    market: LocalMarket, start_ms: int, end_ms: int, *, seed: str, per_minute: float = 2.0
) -> Trades:
    """Generate deterministic random trades in ``[start_ms, end_ms)``.

    Args:
        market: The market (first price, tick and step sizes).
        start_ms: Earliest trade time.
        end_ms: End of the series (exclusive).
        seed: The string key the generator is seeded with (with the symbol).
        per_minute: Average number of trades a minute.

    Returns:
        The trades, ids counting from 1.
    """
    rng = _rng(seed, "trades", market.symbol)
    count = max(0, round((end_ms - start_ms) / 60_000 * per_minute))
    time = np.sort(rng.integers(start_ms, max(end_ms, start_ms + 1), count, dtype=np.int64))
    walk = market.price * np.exp(np.cumsum(rng.normal(0.0, 0.0005, count)))
    price = np.maximum(_round_to(walk, market.tick_size), market.tick_size)
    amount = np.maximum(_round_to(rng.gamma(2.0, 0.5, count), market.step_size), market.step_size)
    buyer_maker = rng.random(count) < 0.5
    return Trades(np.arange(1, count + 1, dtype=np.int64), time, price, amount, buyer_maker)


def _utc_ms(frame: pd.DataFrame, source: str) -> IntArray:
    """Open times of a frame's ``DatetimeIndex`` in ms since the epoch (naive means UTC)."""
    import pandas as pd  # noqa: PLC0415 - pandas only with caller frames

    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError("the frame needs a DatetimeIndex of times", source=source)
    index = frame.index if frame.index.tz is None else frame.index.tz_convert("UTC")
    ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    return ns // 1_000_000


def _column(frame: pd.DataFrame, name: str, source: str) -> FloatArray:
    if name not in frame.columns:
        raise DataError(f"the frame has no {name!r} column", source=source)
    return np.asarray(frame[name], dtype=np.float64)


def candles_from_frame(frame: pd.DataFrame, timeframe: str, *, source: str) -> Candles:
    """Take caller-supplied candles (holes allowed) as the local exchange's data.

    Args:
        frame: Open times as a ``DatetimeIndex`` (naive means UTC), strictly increasing, and
            columns ``open``, ``high``, ``low``, ``close``, ``volume``.
        timeframe: The candles' length, e.g. ``"1m"``.
        source: Names the frame in error messages (e.g. the symbol).

    Returns:
        The candles.

    Raises:
        DataError: If the index or a column is missing, or times do not increase.
    """
    name = f"{source} candles"
    time = _utc_ms(frame, name)
    if time.size and not np.all(np.diff(time) > 0):
        raise DataError("candle times must be strictly increasing", source=name)
    step_ms = parse_timeframe(timeframe) // 1_000_000
    o, h, lo, c, v = (
        _column(frame, col, name) for col in ("open", "high", "low", "close", "volume")
    )
    return Candles(time, o, h, lo, c, v, time + step_ms - 1, np.ones(time.size, dtype=np.int64))


def trades_from_frame(frame: pd.DataFrame, *, source: str) -> Trades:
    """Take caller-supplied trades as the local exchange's data.

    Args:
        frame: Trade times as a ``DatetimeIndex`` (naive means UTC) and columns ``price`` and
            ``amount``, plus optionally ``side`` (``"buy"``/``"sell"``: the taker's side, default
            ``"buy"``). Rows are served sorted by time, keeping the frame's order within a time.
        source: Names the frame in error messages (e.g. the symbol).

    Returns:
        The trades, ids counting from 1.

    Raises:
        DataError: If the index or a column is missing.
    """
    name = f"{source} trades"
    time = _utc_ms(frame, name)
    order = np.argsort(time, kind="stable")
    price = _column(frame, "price", name)[order]
    amount = _column(frame, "amount", name)[order]
    sides = np.asarray(frame["side"], dtype=object) if "side" in frame.columns else None
    buyer_maker = np.zeros(time.size, dtype=bool) if sides is None else sides[order] == "sell"
    ids = np.arange(1, time.size + 1, dtype=np.int64)
    return Trades(ids, time[order], price, amount, np.asarray(buyer_maker, dtype=bool))


def interval_buckets(time_ms: IntArray, interval: str) -> tuple[IntArray, IntArray]:
    """Open and close times of the ``interval`` candle each time falls in.

    Fixed intervals are aligned to the Unix epoch, weeks open on Monday 00:00 UTC and months
    (``"1M"``) on the first of the month, as Binance labels its klines.

    Args:
        time_ms: Times in ms since the epoch.
        interval: One of `BINANCE_INTERVALS`.

    Returns:
        ``(open_ms, close_ms)`` for each time; ``close_ms`` is the candle's last millisecond.

    Raises:
        ConfigError: If the interval is not one Binance serves.
    """
    if interval not in BINANCE_INTERVALS:
        raise ConfigError(f"interval {interval!r} is not one of {', '.join(BINANCE_INTERVALS)}")
    if interval == "1M":
        months = time_ms.astype("datetime64[ms]").astype("datetime64[M]")
        opens = months.astype("datetime64[ms]").astype(np.int64)
        closes = (months + 1).astype("datetime64[ms]").astype(np.int64) - 1
        return opens, closes
    step = parse_timeframe(interval) // 1_000_000
    origin = _MONDAY_MS if interval.endswith("w") else 0
    opens = (time_ms - origin) // step * step + origin
    return opens, opens + step - 1


def aggregate_candles(candles: Candles, interval: str) -> Candles:
    """Aggregate candles into coarser ones, labelled by open time.

    First open, highest high, lowest low, last close and summed volume; intervals without any
    candle are left out.

    Args:
        candles: Candles at a finer timeframe that divides ``interval``.
        interval: One of `BINANCE_INTERVALS`.

    Returns:
        The aggregated candles.

    Raises:
        ConfigError: If the interval is not one Binance serves.
    """
    opens, closes = interval_buckets(candles.time, interval)
    if not len(candles):
        return candles
    starts = np.flatnonzero(np.concatenate(([True], opens[1:] != opens[:-1])))
    ends = np.concatenate((starts[1:], [opens.size])) - 1
    return Candles(
        opens[starts],
        candles.open[starts],
        np.maximum.reduceat(candles.high, starts),
        np.minimum.reduceat(candles.low, starts),
        candles.close[ends],
        np.round(np.add.reduceat(candles.volume, starts), 10).astype(np.float64),
        closes[starts],
        np.add.reduceat(candles.count, starts),
    )


def forming_head(candles: Candles, count: int) -> Candles:
    """The first ``count`` candles, plus the next one as it looks when it has just opened.

    This is what a venue serves while its data is revealed over time: the closed candles, then
    the current unfinished one, whose open, high, low and close are all its open price and whose
    volume (and ``count``) is zero.

    Args:
        candles: The whole series.
        count: How many leading candles are closed (0 to ``len(candles)``).

    Returns:
        ``count`` closed candles, plus one forming candle unless the series is used up.

    Examples:
        >>> one = np.ones(2)
        >>> series = Candles(np.array([0, 60_000]), one, one * 3, one / 2, one * 2, one,
        ...                  np.array([59_999, 119_999]), np.ones(2, dtype=np.int64))
        >>> head = forming_head(series, 1)
        >>> head.close.tolist(), head.high.tolist(), head.volume.tolist()
        ([2.0, 1.0], [3.0, 1.0], [1.0, 0.0])
    """
    if count >= len(candles):
        return candles
    n = count + 1
    price = np.full(1, candles.open[count])
    zero = np.zeros(1)

    def join(column: FloatArray, last: FloatArray) -> FloatArray:
        return np.concatenate((column[:count], last))

    return Candles(
        candles.time[:n],
        candles.open[:n],
        join(candles.high, price),
        join(candles.low, price),
        join(candles.close, price),
        join(candles.volume, zero),
        candles.close_time[:n],
        np.concatenate((candles.count[:count], np.zeros(1, dtype=np.int64))),
    )
