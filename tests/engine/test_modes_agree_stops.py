"""Stop entries agree in backtest, paper and live on the same bars (issue 11, stop orders).

The live run places its stops on the local exchange as Binance spot ``STOP_LOSS`` orders; the
venue fills a triggered stop at the first price of the candle's path at or beyond the stop, the
simulator at the stop (rule R5). The candles below reach each stop exactly at their high, so
both fill at the stop and the runs agree fill for fill; in general the live fill is worse by
the gap between the stop and the first trade beyond it. Timing: the strategy sees a fill at
a bar's close when the broker booked it before the close arrived, which is how a fill made
while the bar forms reaches it; the harness trades each bar's path (but its close) first, waits
until the broker knows what the venue did, then publishes the candle. A fill in the last instant
of a bar can reach the strategy one bar later than in a backtest.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from quantkit import DataFrameFeed, Engine, Strategy
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.brokers.settings import SimSettings
from quantkit.data.replay import ReplayStream
from quantkit.domain.order import Order
from quantkit.engine.live import LiveEngine
from quantkit.strategy.data import SymbolData
from quantkit.testing import LocalExchange
from quantkit.testing.live_clock import price_path
from tests.brokers.test_live_brackets import WARMUP, local_with
from tests.brokers.test_live_broker import KEY, broker_for, stream_for, venue_for

SIM = SimSettings(cash=10_000, fees_charged_in="received")  # Binance spot: fee in what's received
ROWS = [
    (40_000.0, 40_010.0, 39_990.0, 40_000.0),  # flat: a buy stop at 40,000 + 50
    (40_000.0, 40_050.0, 39_990.0, 40_020.0),  # reaches 40,050 at its high: bought there
    (40_020.0, 40_030.0, 40_010.0, 40_020.0),  # the market sell fills at 40,020; stop 40,070
    (40_020.0, 40_060.0, 40_000.0, 40_020.0),  # stop not reached: it keeps working
    (40_020.0, 40_070.0, 40_010.0, 40_060.0),  # reached at its high: bought at 40,070
    (40_060.0, 40_080.0, 40_040.0, 40_060.0),  # the market sell fills at 40,060; stop 40,110
]


class StopEntry(Strategy):
    """Flat: a buy stop 50 above the close (once working, left alone); long: sell at market."""

    def on_start(self) -> None:
        self.sent: list[tuple[int, str, float, float | None]] = []
        self.orders: list[Order] = []
        self.handled = anyio.Event()

    def on_bar(self, bar: SymbolData) -> None:
        held = self.position().amount
        if held > 0:
            self._note(self.sell(amount=held), bar)
        elif not self.open_orders():
            self._note(self.buy(amount=0.01, stop=bar.close[-1] + 50), bar)
        self.handled.set()

    def _note(self, order: Order, bar: SymbolData) -> None:
        self.orders.append(order)
        stop = order.request.stop_price
        self.sent.append((bar.open_time, str(order.side), order.amount or 0.0, stop))


def fills(strategy: StopEntry) -> list[tuple[float, float]]:
    return [(round(o.average_price, 6), round(o.filled, 12)) for o in strategy.orders if o.filled]


async def run_live(local: LocalExchange, journal: Path) -> StopEntry:
    live = StopEntry()
    async with venue_for(local) as venue:
        broker = broker_for(venue, journal)
        engine = LiveEngine(
            stream=stream_for(venue), strategy=live, broker=broker, warmup=WARMUP,
            max_bars=len(ROWS), handle_signals=False, run_id="stops",
        )  # fmt: skip

        def settled() -> bool:  # the broker knows every order and fill the venue has
            venue_open = {o.client_id for o in local.accounts.open_orders(KEY)}
            mine = {o.client_id for o in broker.open_orders()}
            return mine == venue_open and len(local.accounts.orders(KEY)) == len(live.sent)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(engine.arun)
            for row in ROWS:
                with anyio.fail_after(60):
                    while not hasattr(live, "handled") or not settled():
                        await anyio.sleep(0.01)
                    for price in price_path(*row)[:-1]:  # trades while the bar forms
                        local.set_price("BTC/USDT", price)
                    while not settled():  # a fill within the bar is booked before its close
                        await anyio.sleep(0.01)
                    live.handled = anyio.Event()
                    local.publish()
                    await live.handled.wait()
            with anyio.fail_after(60):
                while not settled():
                    await anyio.sleep(0.01)
    return live


@pytest.mark.anyio
async def test_stop_entries_fill_alike_in_backtest_paper_and_live(tmp_path: Path) -> None:
    async with local_with([*ROWS, ROWS[-1]]) as local:  # one more: the last row then closes
        frame = local.candles("BTC/USDT").iloc[: WARMUP + len(ROWS)]
        live = await run_live(local, tmp_path / "journal.jsonl")
        venue_types = [o.type for o in local.accounts.orders(KEY)]
    feed = DataFrameFeed(frame, symbol="BTC/USDT", timeframe="1m")
    backtest = StopEntry()
    Engine(feed=feed, strategy=backtest, broker=BacktestBroker(SIM), warmup=WARMUP).run()
    paper = StopEntry()
    await LiveEngine(
        stream=ReplayStream(feed), strategy=paper, broker=PaperBroker(SIM), warmup=WARMUP,
        handle_signals=False,
    ).arun()  # fmt: skip

    # by hand: buy stop 40,050 filled at 40,050 (0.01 less 0.1 % = 0.00999 BTC held), sold at
    # 40,020; buy stop 40,070 left working a bar, filled at 40,070, sold at 40,060
    expected = [(40_050.0, 0.01), (40_020.0, 0.00999), (40_070.0, 0.01), (40_060.0, 0.00999)]
    assert fills(backtest) == expected
    assert paper.sent == backtest.sent and fills(paper) == expected
    assert live.sent == backtest.sent
    assert fills(live) == expected
    assert len(backtest.sent) == 5  # the last stop, 40,110, is still working at the end
    assert venue_types == ["STOP_LOSS", "MARKET", "STOP_LOSS", "MARKET", "STOP_LOSS"]
