"""Trailing stops live: held by the broker, journaled at every move, restored after a restart.

The real ccxt client, a LiveBroker and a LiveEngine against LocalExchange in live mode, with
hand-made candles: every level below is computed by hand from the rule of
`quantkit.domain.trailing` (the backtest's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

import quantkit as qk
from quantkit.domain.order import OrderStatus, Side
from quantkit.domain.trailing import TrailingStop
from quantkit.engine.live import LiveEngine
from quantkit.testing import LocalExchange
from tests.brokers.test_live_brackets import WARMUP, local_with, run_until, until
from tests.brokers.test_live_broker import KEY, broker_for, stream_for, venue_for

pytestmark = pytest.mark.anyio

QUIET = (40_000.0, 40_010.0, 39_990.0, 40_000.0)


class OneTrail(qk.Strategy):
    """Buys 0.1 BTC once with a 5 % trailing stop (held by the broker)."""

    persistent: ClassVar[tuple[str, ...]] = ("entered",)

    def on_start(self) -> None:
        self.entered = False
        self.seen = 0  # bars handled by this run (not persistent)

    def on_bar(self, bar: qk.SymbolData) -> None:
        self.seen += 1
        if not self.entered and self.position().is_flat:
            self.entered = True
            self.buy(amount=0.1, trail_pct=0.05)


def engine_for(
    local: LocalExchange, journal: Path, bars: int
) -> tuple[OneTrail, qk.LiveBroker, LiveEngine]:
    venue = venue_for(local)
    strategy = OneTrail()
    broker = broker_for(venue, journal)
    engine = LiveEngine(
        stream=stream_for(venue), strategy=strategy, broker=broker, warmup=WARMUP,
        max_bars=bars, handle_signals=False, run_id="run-1",
    )  # fmt: skip
    return strategy, broker, engine


async def test_a_live_trailing_stop_rises_with_the_price_survives_a_restart_and_exits(
    tmp_path: Path,
) -> None:
    live_rows = [
        QUIET,  # the strategy buys 0.1 BTC at 40,000
        (40_000.0, 42_000.0, 39_900.0, 41_800.0),  # fill bar: 42,000 x 0.95 = 39,900 from now
        (41_800.0, 44_000.0, 41_500.0, 43_500.0),  # misses 39,900; new high -> 41,800
        # -- restart here --
        (43_500.0, 43_900.0, 42_000.0, 42_500.0),  # misses 41,800; 43,900 < 44,000: stays
        (42_500.0, 42_600.0, 41_000.0, 41_200.0),  # reaches 41,800: sold at market, 41,200
        QUIET,
        QUIET,  # (the local exchange's last candle is never published)
    ]
    journal = tmp_path / "journal.jsonl"
    async with local_with(live_rows) as local:
        strategy, broker, engine = engine_for(local, journal, 3)

        async def first() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine started")
            local.publish()
            await until(lambda: bool(broker.working("BTC/USDT")), "the trailing stop is held")
            (held,) = broker.brackets.held["BTC/USDT"]
            assert held.trail is None  # no level before the fill bar closes
            local.publish()
            # the fill bar's low touches 39,900, but that level is the fill bar's own: no exit
            await until(lambda: strategy.seen == 2, "fill bar handled")
            assert broker.brackets.held["BTC/USDT"][0].trail == TrailingStop(
                Side.SELL, 0.05, 42_000.0, 39_900.0
            )
            local.publish()

        async with broker.venue:
            await run_until(local, engine, first)
        (held,) = broker.brackets.held["BTC/USDT"]
        assert held.trail == TrailingStop(Side.SELL, 0.05, 44_000.0, 41_800.0)
        assert held.amount == 0.0999  # 0.1 BTC less the venue's 0.1 % fee taken in BTC
        assert local.accounts.open_orders(KEY) == []  # nothing rests on the venue for it

        # -- restart: a new broker and engine on the same journal
        strategy, broker, engine = engine_for(local, journal, 3)
        exit_id = f"{held.entry_id}-trail"

        async def second() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine restarted")
            (restored,) = broker.brackets.held["BTC/USDT"]
            assert restored == held  # the level and extreme come back from the journal
            local.publish()
            await until(lambda: strategy.seen == 1, "quiet bar handled")
            assert broker.brackets.held["BTC/USDT"] == [held]  # never loosened, no exit
            local.publish()  # low 41,000 reaches 41,800
            await until(lambda: exit_id in broker.sync.orders, "the trailing stop triggered")
            exit_order = broker.sync.orders[exit_id]
            await until(lambda: not exit_order.is_active, "the exit ended")
            local.publish()

        async with broker.venue:
            summary = await run_until(local, engine, second)
    exit_order = broker.sync.orders[exit_id]
    assert exit_order.status is OrderStatus.FILLED
    assert (exit_order.filled, exit_order.average_price) == (0.0999, 41_200.0)
    assert exit_order.request.reduce_only and exit_order.request.tag == "trailing_stop"
    assert strategy.entered and strategy.position().is_flat
    assert broker.brackets.held["BTC/USDT"] == []
    # cash: 10,000 - 4,000 + 0.0999 x 41,200 x (1 - 0.001) = 10,111.669..
    assert summary.cash == pytest.approx(10_000 - 4_000 + 0.0999 * 41_200 * 0.999, abs=1e-9)
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    moves = [r["data"] for r in records if r["kind"] == "bracket_trail"]
    assert [(m["extreme"], m["level"]) for m in moves] == [
        (42_000.0, 39_900.0),
        (44_000.0, 41_800.0),
    ]
    (bracket,) = [r["data"] for r in records if r["kind"] == "bracket"]
    assert (bracket["mode"], bracket["trail_pct"], bracket["stop_loss"]) == ("held", 0.05, None)
    (done,) = [r["data"] for r in records if r["kind"] == "bracket_done"]
    assert done == {"client_id": held.entry_id, "role": "trail"}
