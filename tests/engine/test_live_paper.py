"""The live engine driven by replayed bars through the paper broker: same as a backtest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import Engine, SmaCross, Strategy
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.data.live import StreamStatus
from quantkit.data.replay import ReplayStream
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.order import Order
from quantkit.engine.live import LiveEngine
from quantkit.errors import ConfigError
from quantkit.strategy.data import SymbolData
from tests.builders import HOUR, make_series
from tests.strategies import bar_series, sma_periods

WARMUP = 40


def walk(count: int = 300, seed: int = 3) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    opens = np.concatenate([[100.0], close[:-1]])
    rows = [
        (o, max(o, c) * 1.002, min(o, c) * 0.998, c, 50.0)
        for o, c in zip(opens, close, strict=True)
    ]
    return make_series(rows)


def paper(
    series: BarSeries | Mapping[str, BarSeries], strategy: Strategy, **kwargs: Any
) -> LiveEngine:
    broker = kwargs.pop("broker", None) or PaperBroker(cash=10_000)
    return LiveEngine(
        stream=ReplayStream(series if isinstance(series, Mapping) else {series.symbol: series}),
        strategy=strategy,
        broker=broker,
        warmup=kwargs.pop("warmup", WARMUP),
        handle_signals=False,
        **kwargs,
    )


def backtest(series: BarSeries, strategy: Strategy, warmup: int = WARMUP) -> Any:
    broker = BacktestBroker(cash=10_000)
    return Engine(feed=SeriesFeed(series), strategy=strategy, broker=broker, warmup=warmup).run()


def fills_of(orders: list[Order]) -> list[tuple[str, str, float, float]]:
    return [(o.client_id.rsplit("-", 1)[1], str(o.side), o.filled, o.average_price) for o in orders]


class Recorder(SmaCross):
    """SmaCross that keeps every order handle it got back."""

    def on_start(self) -> None:
        super().on_start()
        self.handles: list[Order] = []

    def on_order(self, order: Order) -> None:
        if order not in self.handles:
            self.handles.append(order)


def test_paper_run_gives_the_backtests_orders_fills_and_equity() -> None:
    series = walk()
    result = backtest(series, SmaCross(fast=5, slow=20))
    strategy = Recorder(fast=5, slow=20)
    engine = paper(series, strategy)
    summary = engine.run()
    assert len(result.orders) > 4  # the case trades
    assert summary.orders == len(result.orders)
    live = fills_of(strategy.handles)
    back = [
        (cid.rsplit("-", 1)[1], side, filled, price)
        for cid, side, filled, price in zip(
            result.orders.index
            if result.orders.index.name == "client_id"
            else result.orders["client_id"],
            result.orders["side"],
            result.orders["filled"],
            result.orders["average_price"],
            strict=True,
        )
    ]
    assert [(n, s) for n, s, _, _ in live] == [(n, s) for n, s, _, _ in back]
    np.testing.assert_allclose([f for *_, f, _ in live], [f for *_, f, _ in back], rtol=1e-12)
    np.testing.assert_allclose([p for *_, p in live], [p for *_, p in back], rtol=1e-12)
    assert summary.equity == pytest.approx(float(result.equity.iloc[-1]), rel=1e-12)
    assert summary.bars == len(series) - WARMUP
    assert summary.stop_reason == "end of data"


@settings(max_examples=15)
@given(bars=bar_series(min_size=60, max_size=150), periods=sma_periods(max_slow=30))
def test_paper_equals_backtest_for_any_bars_and_parameters(
    bars: Any, periods: tuple[int, int]
) -> None:
    series = make_series(bars.rows())
    fast, slow = periods
    result = backtest(series, SmaCross(fast=fast, slow=slow), warmup=slow)
    summary = paper(series, SmaCross(fast=fast, slow=slow), warmup=slow).run()
    assert summary.orders == len(result.orders)
    assert summary.fills == len(result.fills)
    assert summary.equity == pytest.approx(float(result.equity.iloc[-1]), rel=1e-9, abs=1e-9)


def test_incremental_indicators_equal_the_backtests() -> None:
    series = walk(400)
    live_strategy = SmaCross(fast=7, slow=25)
    paper(series, live_strategy).run()
    back_strategy = SmaCross(fast=7, slow=25)
    backtest(series, back_strategy)
    assert len(live_strategy.indicators) == len(back_strategy.indicators) == 3  # 2 SMAs, cross
    for live, back in zip(live_strategy.indicators, back_strategy.indicators, strict=True):
        assert len(live._array) == len(back._array) == len(series)
        np.testing.assert_allclose(live._array, back._array, rtol=1e-12, equal_nan=True)


def test_paper_latency_of_more_than_a_bar_delays_fills_by_whole_bars() -> None:
    series = walk()
    strategy = Recorder(fast=5, slow=20)
    broker = PaperBroker(cash=10_000, latency=1.5 * HOUR / 1e9)
    paper(series, strategy, broker=broker).run()
    reference = Recorder(fast=5, slow=20)
    paper(series, reference).run()
    first, delayed = reference.handles[0], strategy.handles[0]
    step = int(np.searchsorted(series.close_time, first.created_at))
    # Without latency the entry fills at the next bar's open; with 1.5 bars, one bar later.
    assert first.average_price == pytest.approx(series.open[step + 1])
    assert delayed.average_price == pytest.approx(series.open[step + 2])


class ScriptedStream:
    """A stream that hands out a fixed list of items (bars and health changes)."""

    def __init__(self, history: Mapping[str, BarSeries], items: list[Bar | StreamStatus]) -> None:
        self.history = dict(history)
        self.items = items

    async def __aenter__(self) -> ScriptedStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def warmup(self, bars: int) -> dict[str, BarSeries]:
        return self.history

    async def _items(self) -> AsyncIterator[Bar | StreamStatus]:
        for item in self.items:
            yield item

    def __aiter__(self) -> AsyncIterator[Bar | StreamStatus]:
        return self._items()


class BuyEveryBar(Strategy):
    """Buys a little on every bar; counts the bars it saw."""

    persistent: ClassVar[tuple[str, ...]] = ("seen",)

    def on_start(self) -> None:
        self.seen = 0
        self.rejections: list[str] = []

    def on_bar(self, bar: SymbolData) -> None:
        self.seen += 1
        self.buy(amount=0.01)

    def on_order(self, order: Order) -> None:
        if order.reason:
            self.rejections.append(order.reason)


def test_duplicate_bars_are_ignored_and_stale_data_halts_new_orders() -> None:
    series = walk(60)
    history = {series.symbol: series.head(50)}
    bars = [series.bar(i) for i in range(50, 60)]
    items: list[Bar | StreamStatus] = [
        bars[0],
        bars[0],  # replayed after a reconnect: not seen twice
        StreamStatus(True, "no bar for 120 s", series.symbol),
        bars[1],
        StreamStatus(False, "bars flow again", series.symbol),
        bars[2],
    ]
    strategy = BuyEveryBar()
    engine = LiveEngine(
        stream=ScriptedStream(history, items),
        strategy=strategy,
        broker=PaperBroker(cash=10_000),
        handle_signals=False,
    )
    summary = engine.run()
    assert strategy.seen == 3
    assert summary.bars == 3
    assert summary.stale_periods == 1
    assert summary.rejected == 1
    assert strategy.rejections == [
        "risk: trading halted (stale data: no bar for 120 s)",
        "canceled at shutdown",
    ]
    assert summary.fills == 1  # bar 50's order filled at bar 51; bar 52's order has no next bar
    assert summary.open_orders == 0  # canceled at shutdown
    assert summary.canceled == 1


def test_bar_of_an_unknown_symbol_is_an_error() -> None:
    series = walk(60)
    other = make_series([(1, 1, 1, 1, 1)], symbol="ETH/USDT")
    engine = LiveEngine(
        stream=ScriptedStream({series.symbol: series.head(50)}, [other.bar(0)]),
        strategy=BuyEveryBar(),
        broker=PaperBroker(cash=10_000),
        handle_signals=False,
    )
    with pytest.raises(ConfigError, match="ETH/USDT"):
        engine.run()


def test_max_bars_stops_the_run_and_an_engine_runs_once() -> None:
    series = walk(100)
    engine = paper(series, BuyEveryBar(), max_bars=5)
    summary = engine.run()
    assert (summary.bars, summary.stop_reason) == (5, "max_bars (5)")
    with pytest.raises(ConfigError, match="already ran"):
        engine.run()


def test_snapshot_carries_strategy_state_and_refuses_mismatched_positions(tmp_path: Path) -> None:
    series = walk(100)
    first = paper(series, BuyEveryBar(), max_bars=5, cancel_on_shutdown=True)
    first.run()
    path = first.save_snapshot(tmp_path / "paper.json")
    saved = json.loads(path.read_text())
    assert saved["strategy"] == {"seen": 5}
    assert saved["positions"]["BTC/USDT"] == pytest.approx(0.04)  # four of five orders filled
    # A fresh (flat) account disagrees with the snapshot's position: refused by default.
    refused = paper(series, BuyEveryBar(), max_bars=1, resume_from=path)
    with pytest.raises(
        ConfigError, match=r"BTC/USDT: snapshot 0\.04, account 0 \(account minus snapshot -0\.04\)"
    ):
        refused.run()
    adopted_strategy = BuyEveryBar()
    adopted = paper(
        series, adopted_strategy, max_bars=2, resume_from=path, on_position_mismatch="adopt_account"
    )
    adopted.run()
    assert adopted_strategy.seen == 5 + 2


def test_persistent_attributes_must_exist_and_be_json() -> None:
    class Broken(BuyEveryBar):
        persistent: ClassVar[tuple[str, ...]] = ("missing",)

    with pytest.raises(ConfigError, match="'missing'"):
        paper(walk(60), Broken(), max_bars=1).run()

    class NotJson(BuyEveryBar):
        persistent: ClassVar[tuple[str, ...]] = ("seen",)

        def on_bar(self, bar: SymbolData) -> None:
            self.seen = {1, 2}  # type: ignore[assignment]

    with pytest.raises(ConfigError, match="not JSON-able"):
        paper(walk(60), NotJson(), max_bars=1).run()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"warmup": -1}, "warmup"),
        ({"max_bars": 0}, "max_bars"),
        ({"on_position_mismatch": "ignore"}, "on_position_mismatch"),
        ({"run_id": ""}, "run_id"),
        ({"strategy": object()}, "strategy"),
        ({"broker": object()}, "broker"),
        ({"risk": object()}, "risk"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], match: str) -> None:
    settings_: dict[str, Any] = {
        "stream": ReplayStream({"BTC/USDT": walk(60)}),
        "strategy": BuyEveryBar(),
        "broker": PaperBroker(),
    }
    settings_.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        LiveEngine(**settings_)


@given(st.integers(0, 59))
@settings(max_examples=10)
def test_replay_stream_warmup_then_every_later_bar_once(warmup: int) -> None:
    import anyio

    series = walk(60)

    async def collect() -> tuple[int, list[int]]:
        async with ReplayStream({series.symbol: series}) as stream:
            history = await stream.warmup(warmup)
            seen = [bar.open_time async for bar in stream]
        return len(history[series.symbol]), seen

    count, seen = anyio.run(collect)
    assert count == warmup
    assert seen == series.open_time[warmup:].tolist()


def test_paper_tape_replays_through_the_backtest_without_divergence(tmp_path: Path) -> None:
    from quantkit.analysis.divergence import divergence_report
    from quantkit.engine.tape import EventTape, read_tape

    series = walk()
    with EventTape(tmp_path / "tape", run_id="paper-1", flush_every=50) as tape:
        paper(series, SmaCross(fast=5, slow=20), tape=tape).run()
    frame = read_tape(tmp_path / "tape")
    assert (frame["kind"] == "bar").sum() == len(series)  # warm-up bars included
    report = divergence_report(
        frame, SmaCross(fast=5, slow=20), broker=BacktestBroker(cash=10_000), warmup=WARMUP
    )
    assert report.summary["orders"] > 4
    assert report.summary["match"] == report.summary["orders"]
    assert report.summary["max_abs_slippage_bps"] == 0

    # The same run with a paper latency of 1.5 bars fills each order one bar late.
    delayed = PaperBroker(cash=10_000, latency=1.5 * HOUR / 1e9)
    with EventTape(tmp_path / "late", run_id="paper-2") as tape:
        paper(series, SmaCross(fast=5, slow=20), broker=delayed, tape=tape).run()
    late = divergence_report(
        tmp_path / "late",
        SmaCross(fast=5, slow=20),
        broker=BacktestBroker(cash=10_000),
        warmup=WARMUP,
    )
    first = late.orders.iloc[0]
    assert first["latency_s"] == pytest.approx(HOUR / 1e9)
    assert first["category"] != "match"
