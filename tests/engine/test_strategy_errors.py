"""An exception in the strategy's code reaches the user as a StrategyError saying where.

Backtest and paper runs go through the same engine step, so the same hook, bar and symbol are
named in both; the original exception is the cause with its traceback, and the run so far is
attached. Errors while shutting down never replace the strategy's own.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quantkit import Engine, Result, Strategy, StrategyError
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.data.replay import ReplayStream
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order
from quantkit.engine.live import LiveEngine, LiveSummary
from quantkit.errors import OrderError
from quantkit.strategy.data import SymbolData
from tests.builders import make_series

FAIL_AT = 41  # bar index where the strategies below fail
WARMUP = 20


def walk(count: int = 60, symbol: str = "BTC/USDT") -> BarSeries:
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    opens = np.concatenate([[100.0], close[:-1]])
    rows = [
        (o, max(o, c) * 1.002, min(o, c) * 0.998, c, 50.0)
        for o, c in zip(opens, close, strict=True)
    ]
    return make_series(rows, symbol=symbol)


class Failing(Strategy):
    """Buys on bar 30; raises in the hook named ``fail_in`` (at bar FAIL_AT for on_bar)."""

    fail_in: str = "on_bar"

    def on_start(self) -> None:
        self.raise_if("on_start")

    def on_bar(self, bar: SymbolData) -> None:
        if bar.index == 30:
            self.buy(amount=1.0)
        if bar.index == FAIL_AT:
            self.raise_if("on_bar")

    def on_fill(self, fill: Fill) -> None:
        self.raise_if("on_fill")

    def on_order(self, order: Order) -> None:
        self.raise_if("on_order")

    def on_stop(self) -> None:
        self.raise_if("on_stop")

    def raise_if(self, hook: str) -> None:
        if self.fail_in == hook:
            raise ZeroDivisionError(f"boom in {hook}\nsecond line")


def run_backtest(strategy: Strategy, series: BarSeries | None = None) -> Result:
    feed = SeriesFeed(series if series is not None else walk())
    return Engine(feed=feed, strategy=strategy, broker=BacktestBroker(cash=10_000)).run()


def raised(call: Any) -> StrategyError:
    with pytest.raises(StrategyError) as caught:
        call()
    return caught.value


def test_an_exception_in_on_bar_names_the_hook_bar_time_and_symbol() -> None:
    series = walk()
    error = raised(lambda: run_backtest(Failing(), series))
    assert (error.strategy, error.hook, error.symbol) == ("Failing", "on_bar", "BTC/USDT")
    assert error.bar_index == FAIL_AT
    assert error.bar_time == int(series.close_time[FAIL_AT])
    message = str(error)
    assert "\n" not in message  # the CLI prints it as one line
    assert message.startswith("Failing.on_bar raised ZeroDivisionError: boom in on_bar (bar 41,")
    assert message.endswith("BTC/USDT)")


def test_the_original_exception_is_the_cause_with_its_traceback() -> None:
    error = raised(lambda: run_backtest(Failing()))
    cause = error.__cause__
    assert isinstance(cause, ZeroDivisionError)
    frames = traceback.extract_tb(cause.__traceback__)
    assert frames[-1].name == "raise_if"  # where the user's code raised ...
    assert frames[-2].name == "on_bar"  # ... called from the user's hook
    assert frames[-1].filename == __file__


def test_the_partial_result_is_attached() -> None:
    error = raised(lambda: run_backtest(Failing()))
    result = error.result
    assert isinstance(result, Result)
    (order,) = result.orders.itertuples()  # the buy on bar 30, filled at bar 31's open
    assert order.filled == 1.0
    assert len(result.fills) == 1


@pytest.mark.parametrize(
    ("hook", "index", "symbol"),
    [
        ("on_start", -1, ""),
        ("on_order", 30, "BTC/USDT"),  # the buy is accepted on bar 30
        ("on_fill", 31, "BTC/USDT"),  # and fills on bar 31
        ("on_stop", 59, ""),
    ],
)
def test_every_hook_is_named(hook: str, index: int, symbol: str) -> None:
    series = walk()
    error = raised(lambda: run_backtest(Failing(fail_in=hook), series))
    assert (error.hook, error.bar_index, error.symbol) == (hook, index, symbol)
    expected_time = -1 if index < 0 else int(series.close_time[index])
    assert error.bar_time == expected_time
    assert isinstance(error.__cause__, ZeroDivisionError)


def test_the_symbol_of_a_multi_symbol_run_is_the_one_whose_bar_failed() -> None:
    class FailOnEth(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            if bar.symbol == "ETH/USDT" and bar.index == 7:
                raise KeyError("missing")

    btc, eth = walk(20), walk(20, symbol="ETH/USDT")
    feed = SeriesFeed({"BTC/USDT": btc, "ETH/USDT": eth})
    error = raised(lambda: Engine(feed=feed, strategy=FailOnEth()).run())
    assert (error.hook, error.symbol, error.bar_index) == ("on_bar", "ETH/USDT", 7)
    assert error.bar_time == int(eth.close_time[7])


def test_quantkit_errors_keep_their_type_and_get_a_note_saying_where() -> None:
    class BadOrder(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            if bar.index == 12:
                self.buy(amount=-1.0)

    series = walk()
    with pytest.raises(OrderError) as caught:
        run_backtest(BadOrder(), series)
    (note,) = caught.value.__notes__
    assert note.startswith("raised in BadOrder.on_bar (bar 12, closed ")
    assert note.endswith(", BTC/USDT)")


# -- paper and live runs: the same step, the same error --


def paper(strategy: Strategy, series: BarSeries, **kwargs: Any) -> LiveEngine:
    return LiveEngine(
        stream=ReplayStream({series.symbol: series}),
        strategy=strategy,
        broker=kwargs.pop("broker", None) or PaperBroker(cash=10_000),
        warmup=WARMUP,
        handle_signals=False,
        **kwargs,
    )


def test_a_paper_run_names_the_same_hook_bar_and_symbol_as_the_backtest() -> None:
    series = walk()
    live = raised(lambda: paper(Failing(), series).run())
    assert (live.hook, live.symbol, live.bar_time) == ("on_bar", "BTC/USDT", series.close_time[41])
    assert live.bar_index == FAIL_AT  # warm-up bars count: the same index as in the backtest
    assert isinstance(live.__cause__, ZeroDivisionError)
    assert traceback.extract_tb(live.__cause__.__traceback__)[-2].name == "on_bar"
    summary = live.result
    assert isinstance(summary, LiveSummary)
    assert (summary.orders, summary.fills) == (1, 1)
    assert summary.bars == FAIL_AT - WARMUP  # bars 20..40 went through; 41 failed


class BrokenShutdown(PaperBroker):
    """A paper broker whose shutdown fails (a venue that went away, a full disk)."""

    async def ashutdown(self, *, cancel_open: bool) -> None:
        await super().ashutdown(cancel_open=cancel_open)
        raise OSError("journal: no space left on device")


def test_shutdown_failures_never_mask_the_strategys_error(tmp_path: Path) -> None:
    class FailingAndStopFails(Failing):
        def on_stop(self) -> None:
            raise RuntimeError("on_stop failed too")

    series = walk()
    engine = paper(FailingAndStopFails(), series, broker=BrokenShutdown(cash=10_000))
    error = raised(engine.run)
    assert error.hook == "on_bar"
    assert isinstance(error.__cause__, ZeroDivisionError)
    notes = error.__notes__
    assert any("the broker's shutdown also failed: OSError: journal: no space" in n for n in notes)
    stop = "on_stop also failed: StrategyError: FailingAndStopFails.on_stop raised RuntimeError"
    assert any(stop in n for n in notes)


def test_a_shutdown_failure_alone_is_raised() -> None:
    class Quiet(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            pass

    engine = paper(Quiet(), walk(), broker=BrokenShutdown(cash=10_000))
    with pytest.raises(OSError, match="no space left"):
        engine.run()


def test_a_live_indicator_update_that_raises_is_named() -> None:
    def fragile(close: np.ndarray) -> np.ndarray:
        if len(close) > 45:
            raise FloatingPointError("too long")
        return close * 2

    class WithIndicator(Strategy):
        def on_start(self) -> None:
            self.twice = self.I(fragile, self.data.close, name="twice", lookback=100)

        def on_bar(self, bar: SymbolData) -> None:
            pass

    series = walk()
    error = raised(lambda: paper(WithIndicator(), series).run())
    assert (error.hook, error.symbol) == ("indicator twice", "BTC/USDT")
    assert error.bar_index == 45  # the 46th bar made the input too long
    assert isinstance(error.__cause__, FloatingPointError)
