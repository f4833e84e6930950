"""kill -9 a perpetuals live run while its order is in doubt; the restart sends nothing twice."""

from __future__ import annotations

import textwrap
from pathlib import Path

import anyio
import pytest

from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus
from tests.brokers.live_child import Child
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    ORDER,
    SECRET,
    futures_exchange,
    order_posts,
    perp_broker,
    perp_venue,
    started,
    until,
)

pytestmark = pytest.mark.anyio

CHILD = textwrap.dedent(
    """
    import sys
    import anyio
    import numpy as np
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker
    from quantkit.domain.bars import BarSeries
    from quantkit.domain.order import OrderRequest, OrderType, Side
    from quantkit.exchanges import CcxtPerpetualExchange
    from quantkit.secrets import Credentials
    from quantkit.testing.futures import LOCAL_USDM_CCXT_OPTIONS

    url, journal = sys.argv[1], sys.argv[2]
    SYMBOL = "BTC/USDT:USDT"

    class Clock:
        now = 0

    async def main():
        keys = Credentials(exchange="binanceusdm", api_key=%(key)r, secret=%(secret)r)
        venue = CcxtPerpetualExchange(
            "binanceusdm", credentials=keys, api_url=url,
            options=dict(LOCAL_USDM_CCXT_OPTIONS), rate_limit=False, timeout=120,
        )
        empty, times = np.empty(0), np.empty(0, dtype=np.int64)
        bars = BarSeries(SYMBOL, 60_000_000_000, times, times, empty, empty, empty, empty, empty)
        async with venue, anyio.create_task_group() as tasks:
            broker = PerpetualLiveBroker(
                venue, journal=journal, run_id="perp-run", confirm_live=True, leverage=5,
                watch_trades=False,
            )
            broker.prepare({SYMBOL: bars}, Clock())
            await broker.astart(tasks)
            order = OrderRequest(SYMBOL, Side.SELL, OrderType.MARKET, 0.1)
            broker.submit(order, "perp-run-000001", 40_000)
            print("SUBMITTED", flush=True)  # the intent is on disk; the POST is on its way
            await anyio.sleep_forever()

    anyio.run(main)
    """
) % {"key": KEY, "secret": SECRET}


async def test_kill_9_with_an_order_in_doubt_then_restart_books_it_once(tmp_path: Path) -> None:
    script, journal = tmp_path / "child.py", tmp_path / "j.jsonl"
    script.write_text(CHILD)
    # the venue runs in its own thread, outliving the child
    with futures_exchange(price=40_000) as local:
        local.faults.timeout(ORDER, method="POST", acted=True, seconds=20.0)
        child = Child(script, local.url, journal, 0, tmp_path / "child.err")
        assert child.until("SUBMITTED") is not None, child.tail()
        with anyio.fail_after(60):
            while order_posts(local) < 1:  # the venue has acted; the child waits for the answer
                await anyio.sleep(0.01)
        assert child.kill(), child.tail()
        assert replay(journal).orders["perp-run-000001"].status is OrderStatus.NEW
        local.faults.clear()
        async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(perp_broker(venue, journal, leverage=5), tasks)
            resumed = broker.sync.orders["perp-run-000001"]
            await until(broker, lambda: resumed.status is OrderStatus.FILLED)
            await broker.reconciler.check_account()
            assert broker.portfolio.position(BTC).amount == pytest.approx(-0.1)
            assert broker.divergences == []
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
        assert order_posts(local) == 1  # placed by the child once, never by the restart
        position = local.trading.accounts.account(KEY).positions["BTCUSDT"]
        assert float(position.amount) == pytest.approx(-0.1)
    state = replay(journal)
    assert state.orders["perp-run-000001"].status is OrderStatus.FILLED
    assert len(state.trade_ids) == 1
