"""Live trading when the venue misbehaves: an unknown outcome, failing lookups, venue-held brackets.

The README's Breakout strategy runs unchanged under the live engine against quantkit's local
exchange, which behaves like Binance spot, failures included:

- the entry order is answered ``503 -1007`` ("execution status unknown") and only executes a
  moment later: quantkit never sends it again, it looks it up by client id until the venue
  shows it, and books its fill once;
- the first lookups of it fail with server errors: a failing lookup never counts as "the order
  does not exist";
- the fee of the buy is charged in the BTC received, as Binance does, so the brackets protect
  what the account really holds;
- the ``sl_pct``/``tp_pct`` brackets go out as one venue OCO list.

At the end the script checks the invariants against the venue's own records (every client id
placed once, the portfolio equal to the venue's balances) and runs the same strategy as a
backtest over the same candles for its statistics and report.

Run: ``python examples/11_live_safety.py [report.html]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pandas as pd
import talib

import quantkit as qk
from quantkit.testing import LocalExchange


class Breakout(qk.Strategy):  # the README's example, unchanged
    period: int = 48  # parameters are typed class attributes, validated by pydantic

    def on_start(self) -> None:
        self.top = self.I(talib.MAX, self.data.high, timeperiod=self.period)

    def on_bar(self, bar: qk.SymbolData) -> None:
        if len(bar) > self.period and bar.close[-1] > self.top[-2] and self.position().is_flat:
            self.buy(cost=0.5 * self.cash, sl_pct=0.03, tp_pct=0.06)


report_path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/live_safety.html")
WARMUP, PERIOD = 80, 72
KEY, SECRET = "demo-key", "demo-secret"

# Flat history, a breakout above the 72-bar high, quiet bars, then a fall through the 3 % stop.
flat = [(40_000.0, 40_010.0, 39_990.0, 40_000.0)] * WARMUP
breakout = [(40_000.0, 40_150.0, 39_995.0, 40_100.0)]
quiet = [(40_100.0, 40_120.0, 40_080.0, 40_100.0)]
fall = [(40_100.0, 40_100.0, 38_700.0, 38_800.0), (38_800.0, 38_850.0, 38_750.0, 38_800.0)]
forming = [(38_800.0, 38_850.0, 38_750.0, 38_800.0)]  # the bar still open when the run ends
rows = flat + breakout + quiet + fall + forming
LIVE_BARS = len(rows) - WARMUP - len(forming)
start = datetime.fromtimestamp((int(time.time()) // 60 - WARMUP) * 60, UTC)
index = pd.date_range(start, periods=len(rows), freq="1min").tz_localize(None)
candles = pd.DataFrame(rows, index=index, columns=["open", "high", "low", "close"])
candles["volume"] = 10.0

keys = qk.load_credentials(
    "binance",
    env={"QUANTKIT_BINANCE_API_KEY": KEY, "QUANTKIT_BINANCE_SECRET": SECRET},
    dotenv=None,
)


async def until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Wait for what the live run's tasks do, with a deadline that only bounds a hang."""
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)
    print(f"- {what}")


with (
    LocalExchange(
        live=True,
        warmup=WARMUP,
        candles={"BTC/USDT": candles},
        start=start,
        end=start + timedelta(minutes=len(rows)),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
    ) as exchange,
    tempfile.TemporaryDirectory() as folder,
):
    # The entry order: answered -1007 and carried out 0.5 s later; its first lookups fail.
    exchange.faults.unknown_outcome("/api/v3/order", method="POST", execute_after=0.5)
    exchange.faults.server_error("/api/v3/order", method="GET", times=2)
    venue = qk.CcxtExchange("binance", credentials=keys, api_url=exchange.url, rate_limit=False)
    broker = qk.LiveBroker(
        venue,
        journal=Path(folder) / "journal.jsonl",
        run_id="safety-demo",
        confirm_live=True,  # required: live trading never starts by accident
        poll_interval=0.05,
    )
    strategy = Breakout(period=PERIOD)
    engine = qk.LiveEngine(
        stream=qk.LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
        strategy=strategy,
        broker=broker,
        warmup=WARMUP,
        run_id="safety-demo",
        max_bars=LIVE_BARS,
        handle_signals=False,
    )
    summaries: list[qk.LiveSummary] = []

    async def run() -> None:
        summaries.append(await engine.arun())

    async def market() -> None:
        """The market moves: each candle closes when the previous one has been handled."""
        lists = exchange.accounts.order_lists.lists
        await until(lambda: hasattr(strategy, "top"), "the live run started")
        exchange.publish()  # the breakout bar: the strategy buys with half its cash
        await until(lambda: len(lists) == 1, "entry resolved and filled; brackets sent as OCO")
        exchange.publish()  # a quiet bar
        await until(lambda: len(strategy.data) == WARMUP + 2, "quiet bar handled, still long")
        exchange.set_price("BTC/USDT", 38_800)  # through the stop: the venue sells
        await until(lambda: strategy.position().is_flat, "stop filled on the venue; flat")
        exchange.publish(2)

    async def trade() -> None:
        async with venue, anyio.create_task_group() as tasks:  # the client is closed at the end
            tasks.start_soon(run)
            tasks.start_soon(market)

    anyio.run(trade)
    print(summaries[0])

    # What the venue went through, from its request log.
    for request in exchange.requests("/api/v3/order"):
        if request.fault is not None:
            print(f"venue fault: {request.method} {request.path}: {request.fault}")
    faults = [r for r in exchange.requests("/api/v3/order") if r.fault is not None]
    assert len(faults) == 3, "the -1007 and the two failed lookups were not all provoked"

    # The invariants, checked against the venue's own records.
    placed = Counter(order.client_id for order in exchange.accounts.orders(KEY))
    print("orders on the venue (client id: times placed):", dict(placed))
    assert placed, "no order reached the venue"
    assert max(placed.values()) == 1, "an order was placed twice"
    free, locked = exchange.accounts.balances(KEY).get("BTC", (Decimal(0), Decimal(0)))
    held = broker.portfolio.position("BTC/USDT").amount
    print(f"BTC: portfolio {held:.8f}, venue {float(free + locked):.8f}")
    assert abs(held - float(free + locked)) < 1e-9, "the portfolio does not follow the venue"

# The same strategy as a backtest over the same candles: its statistics and report.
feed = qk.DataFrameFeed({"BTC/USDT": candles}, timeframe="1m")
broker = qk.BacktestBroker(cash=10_000)
result = qk.Engine(feed=feed, strategy=Breakout(period=PERIOD), broker=broker, warmup=WARMUP).run()
print(result)
print(f"report written to {result.report(report_path)}")
