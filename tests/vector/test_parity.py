"""Parity of the fast path with the event-driven engine: the tested guarantee (issue #6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.market import Market
from quantkit.engine.engine import Engine
from quantkit.engine.result import Result
from quantkit.errors import ConfigError
from quantkit.sim.slippage import FixedBps
from quantkit.vector import FastResult, FastSettings, SignalData, Signals, kernel, run_signals
from quantkit.vector.strategy import SignalStrategy

HOUR = 3600 * 10**9
START = 1_704_067_200 * 10**9
SYMBOL = "BTC/USDT"


def bars(rows: list[tuple[float, float, float, float]], symbol: str = SYMBOL) -> BarSeries:
    """Hourly bars from ``(open, high, low, close)`` rows."""
    table = np.asarray(rows, dtype=np.float64)
    times = START + HOUR * np.arange(len(rows), dtype=np.int64)
    return BarSeries(
        symbol,
        HOUR,
        times,
        times + HOUR,
        table[:, 0].copy(),
        table[:, 1].copy(),
        table[:, 2].copy(),
        table[:, 3].copy(),
        np.full(len(rows), 100.0),
    )


def walk(open_: Any, high: Any, low: Any, close: Any, symbol: str = SYMBOL) -> BarSeries:
    """Hourly bars from columns (e.g. a `WalkBars` of tests.strategies)."""
    rows = list(zip(open_, high, low, close, strict=True))
    return bars(rows, symbol)


class Scripted(SignalStrategy):
    """Signals at fixed bar indices (causal: each depends on its own index only)."""

    entries: tuple[int, ...] = ()
    exits: tuple[int, ...] = ()
    short_entries: tuple[int, ...] = ()
    short_exits: tuple[int, ...] = ()
    size: float = 1.0
    sl_pct: float | None = None
    tp_pct: float | None = None
    entry_type: str = "market"
    entry_offset: float = 0.0
    entry_valid_bars: int = 1
    trail_pct: float | None = None

    def signals(self, data: SignalData) -> Signals:
        """Set the listed bars."""

        def mask(indices: tuple[int, ...]) -> np.ndarray:
            out = np.zeros(len(data), np.bool_)
            out[[i for i in indices if i < len(data)]] = True
            return out

        return Signals(
            mask(self.entries),
            mask(self.exits),
            mask(self.short_entries),
            mask(self.short_exits),
            size=self.size,
            sl_pct=self.sl_pct,
            tp_pct=self.tp_pct,
            entry_type=self.entry_type,  # type: ignore[arg-type]
            entry_offset=self.entry_offset,
            entry_valid_bars=self.entry_valid_bars,
            trail_pct=self.trail_pct,
        )


def engine_run(series: BarSeries, strategy: SignalStrategy, settings: FastSettings) -> Result:
    """The event-driven run with the same settings."""
    market = settings.market or Market.from_symbol(series.symbol)
    broker = BacktestBroker(
        cash=settings.cash,
        markets={series.symbol: market},
        fees=settings.fees,
        slippage=FixedBps(settings.slippage_bps),
        allow_short=settings.allow_short,
        leverage=settings.leverage,
        intrabar=settings.intrabar,
    )
    engine = Engine(
        feed=SeriesFeed(series), strategy=strategy, broker=broker, warmup=settings.warmup
    )
    return engine.run()


def assert_parity(result: Result, fast: FastResult, series: BarSeries) -> None:
    """Same fills (bar, side, price, amount, fee, ambiguity), equity and statistics."""
    engine_fills, fast_fills = result.fills, fast.fills
    assert len(engine_fills) == len(fast_fills), (engine_fills, fast_fills)
    times = np.array([stamp.value for stamp in engine_fills["time"]], dtype=np.int64)
    assert np.array_equal(np.searchsorted(series.open_time, times), fast_fills["bar"].to_numpy())
    assert list(engine_fills["side"]) == list(fast_fills["side"])
    for column in ("price", "amount", "fee"):
        np.testing.assert_allclose(
            fast_fills[column].to_numpy(np.float64),
            engine_fills[column].to_numpy(np.float64),
            rtol=1e-9,
            atol=0,
        )
    assert list(engine_fills["ambiguous"]) == list(fast_fills["ambiguous"])
    assert list(engine_fills["is_maker"]) == list(fast_fills["is_maker"])
    np.testing.assert_allclose(fast.equity.to_numpy(), result.equity.to_numpy(), rtol=1e-9)
    assert fast.equity.index.equals(result.equity.index)
    assert len(fast.trades) == len(result.trades)
    np.testing.assert_allclose(
        fast.trades["pnl"].to_numpy(np.float64),
        result.trades["pnl"].to_numpy(np.float64),
        rtol=1e-9,
        atol=1e-9,
    )
    for name, expected in result.stats.items():
        got = fast.stats[str(name)]
        if isinstance(expected, float):
            assert got == expected or np.isclose(got, expected, rtol=1e-9, equal_nan=True), name
        else:
            assert got == expected or (pd.isna(got) and pd.isna(expected)), name


def kernel_outputs(
    series: BarSeries, signals: Signals, params: np.ndarray, *, compiled: bool = True
) -> tuple[Any, ...]:
    """Run the kernel compiled or as plain Python; return its counts and output arrays."""
    bars_count = len(series)
    fills = np.zeros((3 * bars_count + 3, len(kernel.FILL_COLUMNS)))
    trades = np.zeros((bars_count + 1, len(kernel.TRADE_COLUMNS)))
    equity = np.zeros(bars_count)
    exposed = np.zeros(bars_count, np.bool_)
    run = kernel.simulate if compiled else kernel.simulate.py_func
    assert signals.short_entries is not None
    assert signals.short_exits is not None
    counts = run(
        series.open, series.high, series.low, series.close, signals.entries, signals.exits,
        signals.short_entries, signals.short_exits, params, fills, trades, equity, exposed,
    )  # fmt: skip
    return counts, fills, trades, equity, exposed


def assert_python_kernel_agrees(
    series: BarSeries, fast: FastResult, settings: FastSettings
) -> None:
    """The uncompiled kernel (same source) gives the compiled kernel's outputs exactly."""
    params = settings.params(series.symbol, fast.signals)
    compiled = kernel_outputs(series, fast.signals, params)
    python = kernel_outputs(series, fast.signals, params, compiled=False)
    assert compiled[0] == python[0]
    for mine, theirs in zip(compiled[1:], python[1:], strict=True):
        assert np.array_equal(mine, theirs)


def both(series: BarSeries, strategy: SignalStrategy, **options: Any) -> tuple[Result, FastResult]:
    """Run ``strategy`` both ways, check parity and return both results."""
    settings = FastSettings(**options)
    fast = run_signals(strategy, series, settings=settings)
    assert_python_kernel_agrees(series, fast, settings)
    clone = type(strategy)(**strategy.params)
    result = engine_run(series, clone, settings)
    assert_parity(result, fast, series)
    return result, fast


# -- the property: any generated bars and settings give the same fills both ways --

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from quantkit.sim.fees import FlatFees  # noqa: E402
from quantkit.vector.strategy import SmaCrossSignals  # noqa: E402
from tests.strategies import bar_series, sma_periods  # noqa: E402

pcts = st.one_of(st.none(), st.floats(0.002, 0.08))
# (entry_type, entry_offset, entry_valid_bars): market entries, or limit/stop entries placed
# from on the close to a few percent away, working one bar or several
entry_orders = st.one_of(
    st.just(("market", 0.0, 1)),
    st.tuples(
        st.sampled_from(["limit", "stop"]),
        st.one_of(st.just(0.0), st.floats(0.0005, 0.05)),
        st.integers(1, 6),
    ),
)


@st.composite
def fast_settings(draw: st.DrawFn) -> FastSettings:
    """Account and venue settings the fast path supports, drawn broadly."""
    market = draw(
        st.sampled_from(
            [
                Market(SYMBOL, "BTC", "USDT"),
                Market(SYMBOL, "BTC", "USDT", maker_fee=0.0002, taker_fee=0.0007),
                Market(
                    SYMBOL,
                    "BTC",
                    "USDT",
                    amount_increment=0.001,
                    price_increment=0.01,
                    min_amount=0.002,
                    min_notional=5.0,
                ),
            ]
        )
    )
    fees = draw(st.sampled_from([None, FlatFees(maker=-0.0001, taker=0.0005, per_order=0.5)]))
    return FastSettings(
        cash=draw(st.sampled_from([1_000.0, 100_000.0])),
        market=market,
        fees=fees,
        slippage_bps=draw(st.sampled_from([0.0, 2.0, 25.0, 400.0])),
        allow_short=draw(st.booleans()),
        leverage=draw(st.sampled_from([1.0, 2.0])),
        intrabar=draw(st.sampled_from(["adverse", "favorable", "nearest"])),
        warmup=draw(st.sampled_from([0, 0, 25])),
    )


@settings(max_examples=50)
@given(
    walk_bars=bar_series(min_size=30, max_size=120),
    periods=sma_periods(max_slow=15),
    sl_pct=pcts,
    tp_pct=pcts,
    short=st.booleans(),
    size=st.sampled_from([1.0, 0.5, 0.05]),
    entry=entry_orders,
    trail_pct=st.one_of(st.none(), st.floats(0.002, 0.05)),
    config=fast_settings(),
)
def test_fast_path_gives_the_engines_fills_and_equity(
    walk_bars: Any,
    periods: tuple[int, int],
    sl_pct: float | None,
    tp_pct: float | None,
    short: bool,
    size: float,
    entry: tuple[str, float, int],
    trail_pct: float | None,
    config: FastSettings,
) -> None:
    series = walk(walk_bars.open, walk_bars.high, walk_bars.low, walk_bars.close)
    fast_period, slow_period = periods
    entry_type, entry_offset, entry_valid_bars = entry
    strategy = SmaCrossSignals(
        fast=fast_period,
        slow=slow_period,
        sl_pct=sl_pct,
        tp_pct=tp_pct,
        short=short,
        size=size,
        entry_type=entry_type,
        entry_offset=entry_offset,
        entry_valid_bars=entry_valid_bars,
        trail_pct=trail_pct,
    )
    result = engine_run(series, SmaCrossSignals(**strategy.params), config)
    if len(result.liquidations):
        # the engine liquidated a margin account: the fast path refuses the run instead
        with pytest.raises(ConfigError, match="would reach zero inside bar"):
            run_signals(strategy, series, settings=config)
        return
    fast = run_signals(strategy, series, settings=config)
    assert_parity(result, fast, series)


def test_parity_holds_where_brackets_decide_often() -> None:
    # Tight brackets on a volatile walk: many bars with both exits inside (R15), gaps (R14).
    from tests.strategies import gbm_bars

    walk_bars = gbm_bars(400, 7, start=100.0, sigma=0.03, drift=0.0)
    series = walk(walk_bars.open, walk_bars.high, walk_bars.low, walk_bars.close)
    strategy = SmaCrossSignals(fast=2, slow=5, sl_pct=0.01, tp_pct=0.012, short=True, size=0.5)
    result, fast = both(series, strategy, allow_short=True, slippage_bps=5.0)
    kinds = set(fast.fills["kind"])
    assert {"entry", "exit", "stop_loss", "take_profit"} <= kinds
    assert fast.fills["ambiguous"].any()
    assert (fast.fills["side"] == "sell").any()
    assert result.stats["Ambiguous fills"] == fast.stats["Ambiguous fills"] > 0


def test_parity_holds_for_limit_and_stop_entries_where_brackets_decide_often() -> None:
    # Entries that fill inside bars, then brackets and trailing stops that trigger in the same
    # bar or later (R4, R5, R13, R15).
    from tests.strategies import gbm_bars

    walk_bars = gbm_bars(400, 11, start=100.0, sigma=0.03, drift=0.0)
    series = walk(walk_bars.open, walk_bars.high, walk_bars.low, walk_bars.close)
    market = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0002, taker_fee=0.0007)
    for entry_type, makers in (("limit", True), ("stop", False)):
        strategy = SmaCrossSignals(
            fast=2,
            slow=5,
            sl_pct=0.01,
            tp_pct=0.012,
            short=True,
            size=0.5,
            entry_type=entry_type,
            entry_offset=0.005,
            entry_valid_bars=3,
            trail_pct=0.015,
        )
        _, fast = both(series, strategy, allow_short=True, slippage_bps=5.0, market=market)
        entries = fast.fills[fast.fills["kind"] == "entry"]
        assert len(entries) > 10
        assert entries["is_maker"].any() == makers
        assert fast.fills["ambiguous"].any()
        exits = set(fast.fills["kind"])
        assert {"stop_loss", "take_profit", "trailing_stop"} <= exits
