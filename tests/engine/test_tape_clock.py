"""The divergence report's latencies are the run's own, even when the venue's clock is off.

The local exchange here serves bars from 2024 while it stamps its fills with today's clock:
a venue whose fill clock is years away from its bar clock. The live run tapes such fills at
its own reading of the bar clock, so the replay's latencies are the run's real delays.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from quantkit import Strategy
from quantkit.analysis.divergence import divergence_report
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.live import LiveBroker
from quantkit.data.live import LiveBarStream
from quantkit.domain.fill import Fill
from quantkit.engine.live import LiveEngine
from quantkit.engine.tape import EventTape, read_tape
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.strategy.data import SymbolData
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

KEY, SECRET = "clock-key", "clock-secret"
WARMUP, BARS = 10, 6
DAY_NS = 86_400 * 10**9


class BuySellBuy(Strategy):
    """Buys on the 1st live bar, sells on the 3rd, buys on the 5th; keeps fills and bars."""

    def on_start(self) -> None:
        self.bars = 0
        self.fills: list[Fill] = []
        self.handled = anyio.Event()

    def on_bar(self, bar: SymbolData) -> None:
        self.bars += 1
        if self.bars in (1, 5):
            self.buy(amount=0.01)
        elif self.bars == 3:
            self.sell(amount=self.position().amount)
        self.handled.set()

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


@pytest.mark.anyio
async def test_latency_is_the_runs_own_when_the_venue_stamps_fills_on_another_clock(
    tmp_path: Path,
) -> None:
    async with LocalExchange(
        live=True,
        warmup=WARMUP,
        start="2024-01-01",
        end="2024-01-01 01:00",
        accounts={KEY: (SECRET, {"USDT": 10_000})},
    ) as local:
        venue = CcxtExchange(
            "binance",
            credentials=Credentials(exchange="binance", api_key=KEY, secret=SECRET),
            api_url=local.url,
            options=LOCAL_CCXT_OPTIONS,
            rate_limit=False,
        )
        published = local.candles("BTC/USDT").index

        def bar_clock_now() -> float:  # the stream's "now": within the bar being formed
            return published[local.published - 1].timestamp() + 30

        strategy = BuySellBuy()
        tape = EventTape(tmp_path / "tape", run_id="clock")
        engine = LiveEngine(
            stream=LiveBarStream(
                venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02,
                wall_clock=bar_clock_now,
            ),
            strategy=strategy,
            broker=LiveBroker(
                venue, journal=tmp_path / "journal.jsonl", run_id="clock", confirm_live=True,
                poll_interval=0.02,
            ),
            warmup=WARMUP - 1,
            max_bars=BARS,
            handle_signals=False,
            tape=tape,
        )  # fmt: skip
        async with venue, anyio.create_task_group() as tasks:
            tasks.start_soon(engine.arun)
            for _ in range(BARS):
                with anyio.fail_after(20):
                    while not hasattr(strategy, "handled"):
                        await anyio.sleep(0.01)
                    while engine.broker.open_orders():  # filled before the next bar
                        await anyio.sleep(0.01)
                    strategy.handled = anyio.Event()
                    await anyio.to_thread.run_sync(local.publish)
                    await strategy.handled.wait()
            with anyio.fail_after(20):
                while engine.broker.open_orders() or len(strategy.fills) < 3:
                    await anyio.sleep(0.01)
    bar_times = read_tape(tmp_path / "tape").query("kind == 'bar'")["time"]
    assert all(abs(f.timestamp - bar_times.max()) > DAY_NS for f in strategy.fills)  # off clock
    report = divergence_report(
        tmp_path / "tape",
        BuySellBuy(),
        broker=BacktestBroker(cash=10_000),
        warmup=WARMUP - 1,
    )
    latencies = report.orders["latency_s"].tolist()
    assert len(latencies) == 3
    assert all(0.0 <= latency < 20.0 for latency in latencies), latencies  # seconds, not years
    assert report.summary["latency"] == 0
