"""The same Strategy code trades perpetuals live: LiveEngine + PerpetualLiveBroker (issue 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import anyio
import numpy as np
import pytest

from quantkit import Strategy
from quantkit.data.replay import ReplayStream
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.order import Order, OrderStatus, Side
from quantkit.engine.live import LiveEngine
from quantkit.strategy.data import SymbolData
from quantkit.testing.futures import LocalFuturesExchange
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    futures_exchange,
    order_posts,
    perp_broker,
    perp_venue,
)

pytestmark = pytest.mark.anyio

MINUTE_NS = 60_000_000_000
WARMUP = 2
PRICES = [40_000.0, 40_000.0, 40_000.0, 39_000.0, 39_000.0, 39_500.0]  # closes: warm-up, live


class GatedStream(ReplayStream):
    """Recorded bars, each handed out once the test opens the gate (the venue's price set)."""

    gate: anyio.Event

    async def __anext__(self) -> Bar:
        await self.gate.wait()
        self.gate = anyio.Event()
        return await super().__anext__()


class ShortThenLong(Strategy):
    """Short to a target, close it, buy, then target flat: the backtest's own calls."""

    persistent: ClassVar[tuple[str, ...]] = ("bars",)

    def on_start(self) -> None:
        self.bars = 0
        self.handled = anyio.Event()
        self.orders: list[Order | None] = []

    def on_bar(self, bar: SymbolData) -> None:
        self.bars += 1
        step = {
            1: lambda: self.order_target_amount(-0.1),
            2: self.close,
            3: lambda: self.buy(amount=0.1),
            4: lambda: self.order_target_amount(0.0),
        }[self.bars]
        self.orders.append(step())
        self.handled.set()


def bars() -> BarSeries:
    opens = np.arange(len(PRICES), dtype=np.int64) * MINUTE_NS + 1_704_067_200_000_000_000
    close = np.array(PRICES)
    return BarSeries(
        BTC, MINUTE_NS, opens, opens + MINUTE_NS, close, close, close, close, np.ones(len(close))
    )


@pytest.fixture
async def local() -> AsyncIterator[LocalFuturesExchange]:
    async with futures_exchange() as exchange:
        yield exchange


async def test_one_strategy_opens_and_closes_a_short_and_a_long(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    strategy = ShortThenLong()
    stream = GatedStream({BTC: bars()})
    stream.gate = anyio.Event()
    async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
        broker = perp_broker(venue, tmp_path / "j.jsonl", leverage=10)
        engine = LiveEngine(
            stream=stream, strategy=strategy, broker=broker, warmup=WARMUP,
            max_bars=len(PRICES) - WARMUP, handle_signals=False, run_id="perp-run",
        )  # fmt: skip
        tasks.start_soon(engine.arun)
        for price in PRICES[WARMUP:]:
            local.trading.move(BTC, last=price, mark=price)
            with anyio.fail_after(60):
                while not hasattr(strategy, "handled"):
                    await anyio.sleep(0.01)
                strategy.handled = anyio.Event()
                stream.gate.set()
                await strategy.handled.wait()
                order = strategy.orders[-1]
                assert order is not None
                while order.status is not OrderStatus.FILLED:  # fills at the price set
                    assert order.is_active, order.reason
                    await anyio.sleep(0.01)
    sides = [(o.side, o.filled, o.request.reduce_only) for o in strategy.orders if o]
    assert sides == [
        (Side.SELL, 0.1, False),
        (Side.BUY, 0.1, True),
        (Side.BUY, 0.1, False),
        (Side.SELL, 0.1, True),
    ]  # fmt: skip  (close and a flat target are reduce-only exits)
    assert [o.average_price for o in strategy.orders if o] == [40_000, 39_000, 39_000, 39_500]
    # short 40,000 -> 39,000: +100; long 39,000 -> 39,500: +50; taker fees 0.05 % of each
    fees = 0.0005 * (4_000 + 3_900 + 3_900 + 3_950)
    assert broker.portfolio.position(BTC).amount == 0
    assert broker.portfolio.fees_paid == pytest.approx(fees)
    assert broker.futures.wallet_balance() == pytest.approx(10_000 + 150 - fees)
    assert float(local.trading.accounts.account(KEY).wallet) == pytest.approx(10_000 + 150 - fees)
    assert order_posts(local) == 4
    assert broker.divergences == []
