"""One strategy, three modes, the same orders: backtest, paper and live on the same bars."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
import talib

from quantkit import DataFrameFeed, Engine, Strategy
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.brokers.settings import SimSettings
from quantkit.data.live import LiveBarStream
from quantkit.data.replay import ReplayStream
from quantkit.domain.order import Order
from quantkit.engine.live import LiveEngine
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.strategy.data import SymbolData
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

KEY, SECRET = "modes-key", "modes-secret"
SIM = SimSettings(cash=10_000, fees_charged_in="received")  # Binance spot: fee in what's received
WARMUP, BARS = 30, 40


class CrossFixed(Strategy):
    """Fixed-size SMA crossover: the orders depend on the bars and on filled positions only."""

    def on_start(self) -> None:
        self.fast = self.I(talib.SMA, self.data.close, timeperiod=3)
        self.slow = self.I(talib.SMA, self.data.close, timeperiod=8)
        self.sent: list[tuple[int, str, float]] = []
        self.handled = anyio.Event()

    def on_bar(self, bar: SymbolData) -> None:
        up = self.fast[-1] > self.slow[-1] and self.fast[-2] <= self.slow[-2]
        down = self.fast[-1] < self.slow[-1] and self.fast[-2] >= self.slow[-2]
        held = self.position().amount
        if up and held == 0:
            self._note(self.buy(amount=0.01), bar)
        elif down and held > 0:
            self._note(self.sell(amount=held), bar)
        self.handled.set()

    def _note(self, order: Order, bar: SymbolData) -> None:
        self.sent.append((bar.open_time, str(order.side), order.amount or 0.0))


@pytest.mark.anyio
async def test_backtest_paper_and_live_send_the_same_orders(tmp_path: Path) -> None:
    start = datetime.fromtimestamp((int(time.time()) // 60 - WARMUP) * 60, UTC)
    async with LocalExchange(
        live=True,
        warmup=WARMUP,
        start=start,
        end=start + timedelta(minutes=WARMUP + BARS + 5),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        seed="modes-agree",
        # The venue's default Binance fees (0.1 %, charged in the asset received: 0.01 BTC
        # bought holds 0.00999); the simulated brokers charge them the same way below.
    ) as local:
        frame = local.candles("BTC/USDT").iloc[: WARMUP + BARS]
        venue = CcxtExchange(
            "binance",
            credentials=Credentials(exchange="binance", api_key=KEY, secret=SECRET),
            api_url=local.url,
            options=LOCAL_CCXT_OPTIONS,
            rate_limit=False,
        )
        live = CrossFixed()
        engine = LiveEngine(
            stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
            strategy=live,
            broker=LiveBroker(
                venue,
                journal=tmp_path / "journal.jsonl",
                run_id="modes",
                confirm_live=True,
                poll_interval=0.02,
            ),
            warmup=WARMUP,
            max_bars=BARS,
            handle_signals=False,
        )
        async with venue, anyio.create_task_group() as tasks:
            tasks.start_soon(engine.arun)
            for _ in range(BARS):
                with anyio.fail_after(60):
                    while not hasattr(live, "handled"):
                        await anyio.sleep(0.01)
                    # the next bar only once this one's orders are filled: as in a backtest
                    while engine.broker.open_orders():
                        await anyio.sleep(0.01)
                    live.handled = anyio.Event()
                    local.publish()
                    await live.handled.wait()
            with anyio.fail_after(60):
                while engine.broker.open_orders():
                    await anyio.sleep(0.01)

    feed = DataFrameFeed(frame, symbol="BTC/USDT", timeframe="1m")
    backtest = CrossFixed()
    Engine(feed=feed, strategy=backtest, broker=BacktestBroker(SIM), warmup=WARMUP).run()
    paper = CrossFixed()
    await LiveEngine(
        stream=ReplayStream(feed),
        strategy=paper,
        broker=PaperBroker(SIM),
        warmup=WARMUP,
        handle_signals=False,
    ).arun()

    assert len(backtest.sent) >= 2  # the case trades both ways
    sells = [amount for _, side, amount in backtest.sent if side == "sell"]
    assert sells and sells[0] == pytest.approx(0.00999)  # 0.01 less the 0.1 % fee in BTC
    assert paper.sent == backtest.sent
    assert live.sent == backtest.sent
