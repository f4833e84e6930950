"""Hypothesis strategies and bar builders shared by the whole test suite (one module)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from quantkit.domain.bars import BarSeries
from quantkit.domain.order import OrderRequest, OrderType, Side, TimeInForce

# -- Bars as rows, and order requests (simulator properties) --

Row = tuple[float, float, float, float, float]

prices = st.floats(min_value=50.0, max_value=150.0, allow_nan=False, allow_infinity=False)
extents = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False)


@st.composite
def bar_rows(draw: st.DrawFn, min_size: int = 2, max_size: int = 30) -> list[Row]:
    """Consistent OHLCV rows: high >= max(open, close), low <= min(open, close), all > 0."""
    size = draw(st.integers(min_size, max_size))
    rows: list[Row] = []
    for _ in range(size):
        o, c = draw(prices), draw(prices)
        h = max(o, c) + draw(extents)
        low = min(o, c) - draw(extents)
        v = draw(st.floats(min_value=0.0, max_value=50.0, allow_nan=False))
        rows.append((o, h, low, c, v))
    return rows


@st.composite
def order_requests(draw: st.DrawFn, symbol: str = "BTC/USDT") -> OrderRequest:
    """Random valid requests of every type, sized to sometimes exceed the account."""
    kind = draw(st.sampled_from(list(OrderType)))
    side = draw(st.sampled_from(list(Side)))
    limit = draw(prices) if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = draw(prices) if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    use_cost = kind is OrderType.MARKET and draw(st.booleans())
    amount = None if use_cost else draw(st.floats(min_value=0.01, max_value=20.0))
    cost = draw(st.floats(min_value=10.0, max_value=3000.0)) if use_cost else None
    tif = draw(st.sampled_from(list(TimeInForce))) if kind is not OrderType.STOP else None
    bracket = draw(st.booleans()) and kind is not OrderType.STOP_LIMIT
    return OrderRequest(
        symbol,
        side,
        kind,
        amount=amount,
        cost=cost,
        limit_price=limit,
        stop_price=stop,
        time_in_force=tif or TimeInForce.GTC,
        reduce_only=draw(st.booleans()) if not bracket else False,
        stop_loss_pct=draw(st.floats(0.01, 0.3)) if bracket else None,
        take_profit_pct=draw(st.floats(0.01, 0.3)) if bracket else None,
    )


# -- Valid bar data and the forms it arrives in (validation and feeds) --

NS = 10**9
TIMEFRAMES_NS = (1 * NS, 60 * NS, 300 * NS, 3600 * NS, 86400 * NS)
# Instants between 2001 and 2096, whole seconds, so every epoch unit is detected unambiguously.
START_SECONDS = st.integers(min_value=1_000_000_000, max_value=4_000_000_000)
PRICE = st.floats(min_value=1e-4, max_value=1e7, allow_nan=False, allow_infinity=False)
FRACTION = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)
VOLUME = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class BarArrays:
    """A valid series, held as plain numpy arrays (the expected result of validation)."""

    times: np.ndarray  # int64 ns, bar open times
    timeframe: int  # ns; the most common gap (or the given one for a single bar)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {
            "open": self.open.copy(),
            "high": self.high.copy(),
            "low": self.low.copy(),
            "close": self.close.copy(),
            "volume": self.volume.copy(),
        }

    def __len__(self) -> int:
        return len(self.times)


def make_bars(times_ns: list[int] | np.ndarray, timeframe: int, seed: int = 0) -> BarArrays:
    """Build a valid series at the given open times with seeded, consistent OHLCV values."""
    times = np.asarray(times_ns, dtype=np.int64)
    rng = np.random.default_rng(seed)
    count = len(times)
    opens = rng.uniform(90.0, 110.0, count)
    closes = rng.uniform(90.0, 110.0, count)
    highs = np.maximum(opens, closes) + rng.uniform(0.0, 2.0, count)
    lows = np.minimum(opens, closes) - rng.uniform(0.0, 2.0, count)
    volume = rng.uniform(0.0, 1000.0, count)
    return BarArrays(times, timeframe, opens, highs, lows, closes, volume)


def hourly_bars(count: int, start: str = "2024-01-01", seed: int = 0) -> BarArrays:
    """``count`` consecutive hourly bars from ``start`` (UTC)."""
    first = pd.Timestamp(start, tz="UTC").value
    return make_bars(first + np.arange(count) * 3600 * NS, 3600 * NS, seed)


def bars_frame(bars: BarArrays, *, index: bool = True) -> pd.DataFrame:
    """The bars as a DataFrame: UTC DatetimeIndex named time, or a ``time`` column."""
    times = pd.DatetimeIndex(pd.to_datetime(bars.times, unit="ns", utc=True), name="time")
    frame = pd.DataFrame(bars.columns(), index=times)
    return frame if index else frame.reset_index()


@st.composite
def gap_multiples(draw: st.DrawFn, max_others: int = 10) -> list[int]:
    """Gaps between bars in timeframes; 1 is strictly the most common, so it is the mode."""
    others = draw(st.lists(st.integers(2, 6), max_size=max_others))
    ones = draw(st.integers(len(others) + 1, len(others) + 25))
    permuted: list[int] = draw(st.permutations([1] * ones + others))
    return permuted


@st.composite
def valid_bars(draw: st.DrawFn, single: bool | None = None) -> BarArrays:
    """Any valid bar series: positive prices, consistent OHLC, gaps of whole timeframes."""
    timeframe = draw(st.sampled_from(TIMEFRAMES_NS))
    start = draw(START_SECONDS) * NS
    is_single = draw(st.booleans()) if single is None else single
    gaps = [] if is_single else draw(gap_multiples())
    times = start + np.concatenate(([0], np.cumsum(gaps, dtype=np.int64))) * timeframe
    count = len(times)
    opens = np.array(draw(st.lists(PRICE, min_size=count, max_size=count)))
    closes = np.array(draw(st.lists(PRICE, min_size=count, max_size=count)))
    up = np.array(draw(st.lists(FRACTION, min_size=count, max_size=count)))
    down = np.array(draw(st.lists(FRACTION, min_size=count, max_size=count)))
    volume = np.array(draw(st.lists(VOLUME, min_size=count, max_size=count)))
    # x * (1 + u) >= x and x * (1 - d) <= x hold exactly in floating point for u, d >= 0.
    highs = np.maximum(opens, closes) * (1.0 + up)
    lows = np.minimum(opens, closes) * (1.0 - down)
    return BarArrays(times.astype(np.int64), timeframe, opens, highs, lows, closes, volume)


TIME_FORMS = (
    "datetime64[ns]",
    "datetime64[s]",
    "iso-z",
    "iso-naive",
    "aware-minus-5h",
    "aware-india",
    "epoch-s",
    "epoch-ms",
    "epoch-us",
    "epoch-ns",
    "epoch-ms-given",
    "epoch-float-s",
    "index",
)


def time_values(times_ns: np.ndarray, form: str) -> object:
    """The open times written in one of the forms users hand to validate_bars."""
    stamps = pd.DatetimeIndex(pd.to_datetime(times_ns, unit="ns", utc=True))
    if form == "datetime64[ns]":
        return times_ns.astype("datetime64[ns]")
    if form == "datetime64[s]":
        return (times_ns // NS).astype("datetime64[s]")
    if form == "iso-z":
        return list(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if form == "iso-naive":
        return list(stamps.strftime("%Y-%m-%d %H:%M:%S"))
    if form == "aware-minus-5h":
        return pd.Series(stamps.tz_convert(dt.timezone(dt.timedelta(hours=-5))))
    if form == "aware-india":
        return pd.Series(stamps.tz_convert("Asia/Kolkata"))
    divisors = {"epoch-s": NS, "epoch-ms": 10**6, "epoch-us": 10**3, "epoch-ns": 1}
    if form in divisors:
        return times_ns // divisors[form]
    if form == "epoch-ms-given":
        return times_ns // 10**6
    if form == "epoch-float-s":
        return (times_ns // NS).astype(np.float64)
    raise AssertionError(form)


def bars_input(bars: BarArrays, form: str) -> tuple[object, dict[str, object]]:
    """(data, extra keyword arguments) for validate_bars holding ``bars`` in ``form``."""
    if form == "index":
        return bars_frame(bars), {}
    data: dict[str, object] = {"time": time_values(bars.times, form), **bars.columns()}
    extra = {"time_unit": "ms"} if form == "epoch-ms-given" else {}
    return data, extra


# -- Series with gaps (quality, resampling, multi-timeframe, fusion) --

MINUTE = 60 * NS
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# 2024-01-01 00:00 UTC, a Monday.
MONDAY = pd.Timestamp("2024-01-01", tz="UTC").value


def series(
    times: list[int] | np.ndarray,
    closes: list[float] | np.ndarray,
    *,
    timeframe: int = MINUTE,
    symbol: str = "BTC/USDT",
    volumes: list[float] | np.ndarray | None = None,
    spread: float = 1.0,
) -> BarSeries:
    """Bars at ``times`` whose open is the previous close and whose high/low are close +- spread."""
    open_time = np.asarray(times, dtype=np.int64)
    close = np.asarray(closes, dtype=np.float64)
    opens = np.concatenate(([close[0]], close[:-1])) if len(close) else close
    volume = np.ones(len(close)) if volumes is None else np.asarray(volumes, dtype=np.float64)
    return BarSeries(
        symbol,
        timeframe,
        open_time,
        open_time + timeframe,
        opens,
        np.maximum(opens, close) + spread,
        np.minimum(opens, close) - spread / 2,
        close,
        volume,
    )


def random_series(
    times: np.ndarray, seed: int, *, timeframe: int = MINUTE, symbol: str = "BTC/USDT"
) -> BarSeries:
    """A seeded random walk at ``times`` with consistent OHLC and random volumes."""
    rng = np.random.default_rng(seed)
    count = len(times)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    opens = closes * np.exp(rng.normal(0.0, 0.002, count))
    highs = np.maximum(opens, closes) * (1 + rng.uniform(0.0, 0.01, count))
    lows = np.minimum(opens, closes) * (1 - rng.uniform(0.0, 0.01, count))
    volumes = rng.uniform(0.0, 10.0, count).round(3)
    open_time = np.asarray(times, dtype=np.int64)
    return BarSeries(
        symbol, timeframe, open_time, open_time + timeframe, opens, highs, lows, closes, volumes
    )


@st.composite
def gappy_times(draw: st.DrawFn, timeframe: int = MINUTE, max_slots: int = 400) -> np.ndarray:
    """Increasing open times on a ``timeframe`` grid (aligned to the epoch) with random holes."""
    start = draw(st.integers(27_000_000, 29_000_000)) * MINUTE
    start -= start % timeframe
    slots = draw(st.integers(1, max_slots))
    holes = draw(st.floats(0.0, 0.6))
    seed = draw(st.integers(0, 2**32 - 1))
    present = np.random.default_rng(seed).random(slots) >= holes
    present[draw(st.integers(0, slots - 1))] = True
    return (start + np.flatnonzero(present) * timeframe).astype(np.int64)


@st.composite
def gappy_series(draw: st.DrawFn, timeframe: int = MINUTE, max_slots: int = 400) -> BarSeries:
    """A random walk on a ``timeframe`` grid with random holes."""
    times = draw(gappy_times(timeframe, max_slots))
    return random_series(times, draw(st.integers(0, 2**32 - 1)), timeframe=timeframe)


def frame_of(bars: BarSeries) -> pd.DataFrame:
    """The series as a frame with a UTC DatetimeIndex of open times."""
    index = pd.DatetimeIndex(pd.to_datetime(bars.open_time, unit="ns", utc=True), name="time")
    frame = pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=index,
    )
    frame.attrs["symbol"] = bars.symbol
    return frame


# -- Random walks and parameter pairs (strategy tests) --


@dataclass(frozen=True)
class WalkBars:
    """OHLCV columns of a valid series (high >= max(open, close), low <= min(open, close))."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)

    def rows(self) -> list[tuple[float, float, float, float, float]]:
        table = np.column_stack([self.open, self.high, self.low, self.close, self.volume])
        return [tuple(row) for row in table.tolist()]

    def scaled(self, factor: float) -> WalkBars:
        """The same bars with every price multiplied by ``factor``."""
        return WalkBars(
            self.open * factor,
            self.high * factor,
            self.low * factor,
            self.close * factor,
            self.volume,
        )

    def splice(self, keep: int, other: WalkBars) -> WalkBars:
        """This series with every bar from ``keep`` on taken from ``other`` (as long or longer)."""
        end = len(self)

        def join(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
            return np.concatenate([mine[:keep], theirs[keep:end]])

        return WalkBars(
            join(self.open, other.open),
            join(self.high, other.high),
            join(self.low, other.low),
            join(self.close, other.close),
            join(self.volume, other.volume),
        )


def gbm_bars(count: int, seed: int, *, start: float, sigma: float, drift: float) -> WalkBars:
    """``count`` bars of a geometric Brownian motion with small gaps between close and open."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(drift, sigma, count)))
    previous = np.concatenate([[start], close[:-1]])
    open_ = previous * np.exp(rng.normal(0.0, sigma / 4, count))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, sigma, count))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, sigma, count))
    volume = rng.uniform(100.0, 1_000.0, count)
    return WalkBars(open_, high, low, close, volume)


@st.composite
def bar_series(draw: st.DrawFn, min_size: int = 60, max_size: int = 200) -> WalkBars:
    """A GBM-like series: hypothesis picks size, seed, level, volatility and drift."""
    return gbm_bars(
        draw(st.integers(min_size, max_size)),
        draw(st.integers(0, 2**32 - 1)),
        start=draw(st.floats(1.0, 50_000.0)),
        sigma=draw(st.floats(0.002, 0.05)),
        drift=draw(st.floats(-0.002, 0.002)),
    )


@st.composite
def sma_periods(draw: st.DrawFn, max_slow: int = 40) -> tuple[int, int]:
    """A ``(fast, slow)`` pair with ``2 <= fast < slow <= max_slow``."""
    fast = draw(st.integers(2, max_slow - 1))
    slow = draw(st.integers(fast + 1, max_slow))
    return fast, slow


# -- Live bar stream: what a venue's websocket does between two closed bars --

LiveOp = tuple[str, int]
"""``("advance", 1)`` a bar closes and its update arrives; ``("advance", 0)`` its update is
dropped; ``("replay", k)`` the last ``k`` rows are sent again; ``("disconnect", 0)`` the next
watch fails; ``("tick", 0)`` the forming bar changes."""

live_ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 1)),
        st.tuples(st.just("replay"), st.integers(1, 6)),
        st.tuples(st.just("disconnect"), st.just(0)),
        st.tuples(st.just("tick"), st.just(0)),
    ),
    max_size=25,
)


# -- Circuit breakers: equity paths over irregular bar times, and reset rules --

BreakerStep = tuple[int, float]
"""``(hours since the previous bar close, price at this bar's close)``."""

breaker_steps = st.lists(
    st.tuples(
        st.integers(1, 30),
        st.floats(min_value=50.0, max_value=150.0, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=60,
)

breaker_resets = st.one_of(
    st.tuples(st.sampled_from(["manual", "next_day"]), st.none()),
    st.tuples(st.just("cooldown"), st.integers(1, 6)),
)
"""``(reset, cooldown)`` arguments of a breaker."""


# -- Position sizing (risk sizers) --


@dataclass(frozen=True)
class SizingCase:
    """An account holding ``held`` at ``price``, and an order on it (amount >= 0.01)."""

    cash: float
    held: float
    price: float
    side: Side
    amount: float
    increment: float
    reduce_only: bool


@st.composite
def sizing_cases(draw: st.DrawFn) -> SizingCase:
    """Accounts long, short or flat, with entry, reducing and flipping orders."""
    return SizingCase(
        cash=draw(st.floats(min_value=-5_000.0, max_value=100_000.0)),
        held=draw(st.one_of(st.just(0.0), st.floats(min_value=-50.0, max_value=50.0))),
        price=draw(st.floats(min_value=0.5, max_value=5_000.0)),
        side=draw(st.sampled_from(list(Side))),
        amount=draw(st.floats(min_value=0.01, max_value=100.0)),
        increment=draw(st.sampled_from([0.0, 0.001, 0.01, 0.1, 1.0])),
        reduce_only=draw(st.booleans()),
    )


# -- Accounts and entry requests (exposure-limit properties) --

RISK_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


@dataclass(frozen=True)
class RiskBook:
    """A hand-built account: cash, signed positions with entry prices, and the latest prices."""

    cash: float
    positions: dict[str, tuple[float, float]]  # symbol -> (signed amount, entry price)
    prices: dict[str, float]


@st.composite
def risk_books(draw: st.DrawFn) -> RiskBook:
    """Cash, 0-3 positions (long or short, sometimes flat) and a latest price for every symbol."""
    price = st.floats(min_value=1.0, max_value=1_000.0)
    prices = {s: draw(price) for s in RISK_SYMBOLS}
    held = draw(st.lists(st.sampled_from(RISK_SYMBOLS), unique=True, max_size=3))
    positions = {
        s: (draw(st.floats(-50.0, 50.0).filter(lambda a: abs(a) > 1e-3)), draw(price)) for s in held
    }
    return RiskBook(draw(st.floats(-5_000.0, 100_000.0)), positions, prices)


@st.composite
def entry_requests(draw: st.DrawFn, symbols: tuple[str, ...] = RISK_SYMBOLS) -> OrderRequest:
    """Market (amount or cost), limit or reduce-only requests of any size on ``symbols``."""
    symbol = draw(st.sampled_from(symbols))
    side = draw(st.sampled_from(list(Side)))
    form = draw(st.sampled_from(["amount", "cost", "limit", "reduce_only"]))
    if form == "cost":
        return OrderRequest(symbol, side, cost=draw(st.floats(1.0, 200_000.0)))
    amount = draw(st.floats(1e-3, 200.0))
    if form == "limit":
        limit = draw(st.floats(min_value=1.0, max_value=1_000.0))
        return OrderRequest(symbol, side, OrderType.LIMIT, amount=amount, limit_price=limit)
    return OrderRequest(symbol, side, amount=amount, reduce_only=form == "reduce_only")


# -- Return streams (rolling VaR estimators and VaR limits) --


@st.composite
def return_streams(
    draw: st.DrawFn, max_assets: int = 4, max_rows: int = 60, scale: float = 0.1
) -> np.ndarray:
    """A ``(rows, assets)`` float array of per-bar simple returns in ``[-scale, scale]``."""
    assets = draw(st.integers(1, max_assets))
    rows = draw(st.integers(1, max_rows))
    value = st.floats(-scale, scale, allow_nan=False, allow_infinity=False)
    flat = draw(st.lists(value, min_size=rows * assets, max_size=rows * assets))
    return np.asarray(flat, dtype=np.float64).reshape(rows, assets)


FUNDING_STEP_NS = 8 * 3_600 * 10**9
FUNDING_ORIGIN_NS = 1_703_980_800 * 10**9  # 2023-12-31 00:00 UTC: chunks cross a year


@st.composite
def funding_chunks(
    draw: st.DrawFn, max_slots: int = 12
) -> tuple[list[int], list[float], list[tuple[int, int]]]:
    """Funding slots on the 8-hour grid (some left out), their rates, and overlapping chunks
    of them (``(first, stop)`` positions) in the order they are written."""
    slots = sorted(draw(st.sets(st.integers(0, max_slots - 1), min_size=1, max_size=max_slots)))
    times = [FUNDING_ORIGIN_NS + k * FUNDING_STEP_NS for k in slots]
    rates = draw(
        st.lists(
            st.floats(-0.003, 0.003, allow_nan=False).map(lambda r: round(r, 8)),
            min_size=len(times),
            max_size=len(times),
        )
    )
    bounds = st.tuples(st.integers(0, len(times) - 1), st.integers(1, len(times)))
    chunks = [
        (min(a, b - 1), max(a + 1, b)) for a, b in draw(st.lists(bounds, min_size=1, max_size=6))
    ]
    chunks.append((0, len(times)))  # everything is written at least once
    return times, rates, draw(st.permutations(chunks))
