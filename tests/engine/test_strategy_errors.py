"""An exception in the strategy's code reaches the user as a StrategyError saying where.

Backtest and paper runs go through the same engine step, so the same hook, bar and symbol are
named in both; the original exception is the cause with its traceback, and the run so far is
attached. Errors while shutting down never replace the strategy's own.
"""

from __future__ import annotations

import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pandas as pd
import pytest
import talib

from quantkit import Engine, Result, Strategy, StrategyError
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.data.replay import ReplayStream
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order
from quantkit.engine.live import LiveEngine, LiveSummary
from quantkit.errors import OrderError, UsageError
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


# -- misuse: a UsageError with a hint, raised as itself with the place noted --


def misuse(on_start: Any = None, on_bar: Any = None) -> pytest.ExceptionInfo[UsageError]:
    class Misuse(Strategy):
        def on_start(self) -> None:
            if on_start is not None:
                on_start(self)

        def on_bar(self, bar: SymbolData) -> None:
            if on_bar is not None and bar.index == 3:
                on_bar(self)

    with pytest.raises(UsageError) as caught:
        run_backtest(Misuse())
    return caught


def test_cancel_with_a_client_id_string_is_a_usage_error_with_a_hint() -> None:
    caught = misuse(on_bar=lambda s: s.cancel("qk-000001"))
    message = str(caught.value)
    assert message.startswith("cancel() takes the Order handle that buy(), sell() or order()")
    assert "got str 'qk-000001'" in message
    assert "self.open_orders()" in message
    assert caught.value.__notes__[0].startswith("raised in Misuse.on_bar (bar 3, closed ")


def test_amend_with_something_else_than_an_order_is_a_usage_error() -> None:
    caught = misuse(on_bar=lambda s: s.amend(42, price=1.0))
    assert "amend() takes the Order handle" in str(caught.value)
    assert "got int 42" in str(caught.value)


def test_an_indicator_returning_strings_is_a_usage_error() -> None:
    def labels(close: np.ndarray) -> np.ndarray:
        return np.array(["up" if c > 100 else "down" for c in close])

    caught = misuse(on_start=lambda s: s.I(labels, s.data.close))
    message = str(caught.value)
    assert message.startswith("indicator 'labels' returned ndarray values that are not numbers")
    assert "must return numbers" in message
    assert caught.value.__notes__ == ["raised in Misuse.on_start (before the first bar)"]


def test_a_parameter_out_of_range_that_reaches_pandas_is_a_usage_error() -> None:
    def mean(close: np.ndarray, window: int) -> Any:
        return pd.Series(close).rolling(window).mean()

    caught = misuse(on_start=lambda s: s.I(mean, s.data.close, window=-3))
    message = str(caught.value)
    assert message.startswith("indicator 'mean(window=-3)' refused its arguments: ValueError:")
    assert "window=-3" in message.split("check the parameters")[1]
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_talib_parameter_out_of_range_is_a_usage_error() -> None:
    caught = misuse(on_start=lambda s: s.I(talib.SMA, s.data.close, timeperiod=-1))
    assert "indicator 'SMA(timeperiod=-1)' refused its arguments" in str(caught.value)


# -- the command line: one line, the full traceback with --debug --

FAILING_FILE = """
from quantkit import Strategy


class Explodes(Strategy):
    def on_bar(self, data: object) -> None:
        if len(self.data) == 5:
            raise ZeroDivisionError("division by zero in my code")
"""


def cli(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = "import sys\nfrom quantkit.cli import main\nsys.exit(main())\n"
    return subprocess.run(
        [sys.executable, "-c", command, *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_cli_prints_one_line_and_the_traceback_with_debug(tmp_path: Path) -> None:
    (tmp_path / "exploding.py").write_text(FAILING_FILE)
    done = cli(tmp_path, "backtest", "-s", "exploding:Explodes")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        "error: Explodes.on_bar raised ZeroDivisionError: division by zero in my code (bar 4, "
    )
    debug = cli(tmp_path, "--debug", "backtest", "-s", "exploding:Explodes")
    assert debug.returncode != 0
    assert 'raise ZeroDivisionError("division by zero in my code")' in debug.stderr
    assert "The above exception was the direct cause of the following exception" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("quantkit.errors.StrategyError: ")


@pytest.mark.parametrize("hook", ["on_order", "on_fill", "on_stop", "on_start"])
def test_a_paper_run_names_every_hook_like_the_backtest(hook: str) -> None:
    series = walk()
    backtested = raised(lambda: run_backtest(Failing(fail_in=hook), series))
    live = raised(lambda: paper(Failing(fail_in=hook), series).run())
    assert (live.hook, live.symbol) == (backtested.hook, backtested.symbol)
    if hook in ("on_order", "on_fill"):
        assert (live.bar_index, live.bar_time) == (backtested.bar_index, backtested.bar_time)
    elif hook == "on_start":  # live: after the warm-up history loaded, on its last bar
        assert (live.bar_index, live.bar_time) == (WARMUP - 1, series.close_time[WARMUP - 1])
    else:  # on_stop: after the last bar
        assert (live.bar_index, live.bar_time) == (59, series.close_time[59])
    assert isinstance(live.__cause__, ZeroDivisionError)


# -- a live run against the local exchange: the journal is closed, the error stays the user's --


@pytest.mark.anyio
async def test_a_live_run_raises_the_strategys_error_and_still_closes_the_journal(
    tmp_path: Path,
) -> None:
    from quantkit.brokers.journal import Journal
    from quantkit.brokers.live import LiveBroker
    from quantkit.data.live import LiveBarStream
    from quantkit.exchanges import CcxtExchange
    from quantkit.secrets import Credentials
    from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

    class BuyThenFail(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            if self.position().is_flat and not self.open_orders():
                self.buy(amount=0.01)
            elif not self.position().is_flat:
                raise ZeroDivisionError("my bug, with a position open")

    journal = tmp_path / "journal.jsonl"
    start = datetime.fromtimestamp((int(time.time()) // 60 - 30) * 60, UTC)  # the stream's "now"
    async with LocalExchange(
        live=True,
        warmup=30,
        start=start,
        end=start + timedelta(hours=2),
        accounts={"k-err": ("s-err", {"USDT": 10_000})},
        publish_every=0.05,
    ) as local:
        venue = CcxtExchange(
            "binance",
            credentials=Credentials(exchange="binance", api_key="k-err", secret="s-err"),
            api_url=local.url,
            options=LOCAL_CCXT_OPTIONS,
            rate_limit=False,
        )
        engine = LiveEngine(
            stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
            strategy=BuyThenFail(),
            broker=LiveBroker(venue, journal=journal, run_id="err", confirm_live=True),
            warmup=10,
            handle_signals=False,
            max_bars=40,
            closing=[venue],
        )
        with anyio.fail_after(60), pytest.raises(StrategyError) as caught:
            await engine.arun()
    error = caught.value
    assert (error.hook, error.symbol) == ("on_bar", "BTC/USDT")
    assert isinstance(error.__cause__, ZeroDivisionError)
    assert not getattr(error, "__notes__", [])  # the shutdown went through
    summary = error.result
    assert isinstance(summary, LiveSummary)
    assert summary.fills == 1
    assert summary.positions == {"BTC/USDT": pytest.approx(0.01 * 0.999)}  # fee in BTC
    Journal(journal, run_id="err").close()  # the writer lock was released: the journal closed


def test_a_failed_on_start_is_not_followed_by_on_stop_or_a_state_save() -> None:
    class StartFails(Failing):
        persistent = ("stopped",)

        def on_start(self) -> None:
            self.stopped = False
            raise LookupError("no such indicator")

        def on_stop(self) -> None:
            self.stopped = True

    strategy = StartFails()
    error = raised(lambda: paper(strategy, walk()).run())
    assert error.hook == "on_start"
    assert isinstance(error.__cause__, LookupError)
    assert strategy.stopped is False
    assert not getattr(error, "__notes__", [])


def test_an_order_on_an_unknown_symbol_is_a_usage_error_and_an_order_error() -> None:
    caught = misuse(on_bar=lambda s: s.buy(symbol="BTC/USDC", amount=1.0))
    assert isinstance(caught.value, OrderError)
    assert str(caught.value) == "unknown symbol 'BTC/USDC'; did you mean BTC/USDT?"
    assert caught.value.__notes__[0].startswith("raised in Misuse.on_bar (bar 3, ")
