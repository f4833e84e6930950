"""Trailing stops live: held by the broker, journaled at every move, restored after a restart.

The real ccxt client, a LiveBroker and a LiveEngine against LocalExchange in live mode, with
hand-made candles: every level below is computed by hand from the rule of
`quantkit.domain.trailing` (the backtest's).
"""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

import quantkit as qk
from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus, Side
from quantkit.domain.trailing import TrailingStop
from quantkit.engine.live import LiveEngine
from quantkit.testing import LocalExchange
from tests.brokers.live_child import Child, run_session
from tests.brokers.test_live_brackets import WARMUP, candles, local_with, run_until, until
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


KILL_KEY, KILL_SECRET = "trail-key", "trail-secret"
CHILD = textwrap.dedent(
    """
    import sys
    from quantkit import Strategy
    from quantkit.brokers.live import LiveBroker
    from quantkit.data.fetch import RetryPolicy
    from quantkit.data.live import LiveBarStream
    from quantkit.engine.live import LiveEngine
    from quantkit.exchanges import CcxtExchange
    from quantkit.secrets import Credentials
    from quantkit.testing import LOCAL_CCXT_OPTIONS

    url, journal, max_bars = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class OneTrail(Strategy):
        persistent = ("entered",)

        def on_start(self):
            self.entered = False
            self.bars = 0
            print("READY", flush=True)

        def on_bar(self, bar):
            self.bars += 1
            if not self.entered and self.position().is_flat:
                self.entered = True
                self.buy(amount=0.1, trail_pct=0.05)
            print("BAR", self.bars, flush=True)

        def on_stop(self):
            print("POSITION", self.position().amount, flush=True)

    venue = CcxtExchange(
        "binance",
        credentials=Credentials(exchange="binance", api_key="KEY", secret="SECRET"),
        api_url=url,
        options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
    )
    retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
        strategy=OneTrail(),
        broker=LiveBroker(
            venue, journal=journal, run_id="trail", confirm_live=True, retry=retry,
            poll_interval=0.02,
        ),
        warmup=WARMUP,
        run_id="trail",
        max_bars=max_bars,
        handle_signals=False,
    )
    print(engine.run(), flush=True)
    """.replace("KEY", KILL_KEY)
    .replace("SECRET", KILL_SECRET)
    .replace("WARMUP", str(WARMUP))
)


def journal_kinds(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def wait_for_record(journal: Path, kind: str, count: int, child: Child) -> None:
    """Poll the journal (fsynced by the child) until it holds ``count`` records of ``kind``."""
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        if sum(r["kind"] == kind for r in journal_kinds(journal)) >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"no {count} {kind!r} records in the journal; {child.tail()}")


def test_kill_9_after_the_trailing_stop_moved_restores_its_level_not_a_fresh_one(
    tmp_path: Path,
) -> None:
    rows = [
        QUIET,  # buys 0.1 BTC at 40,000
        (40_000.0, 42_000.0, 39_900.0, 41_800.0),  # fill bar: 39,900 from now
        (41_800.0, 44_000.0, 41_500.0, 43_500.0),  # -> 41,800 (journaled), then kill -9
        (43_500.0, 43_900.0, 42_000.0, 42_500.0),  # misses 41,800
        # low 41,750 reaches the restored 41,800 but not 41,705 (43,900 x 0.95), the level a
        # trailing stop started afresh after the restart would have: sold at market, 41,780
        (42_500.0, 42_600.0, 41_750.0, 41_780.0),
        QUIET,
        QUIET,  # (the local exchange's last candle is never published)
    ]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal, log = tmp_path / "journal.jsonl", tmp_path / "child.log"
    start = (int(time.time()) // 60 - WARMUP) * 60
    flat = [QUIET] * WARMUP
    with LocalExchange(
        live=True,
        warmup=WARMUP,
        candles={"BTC/USDT": candles(flat + rows, start)},
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + (WARMUP + len(rows)) * 60, UTC),
        accounts={KILL_KEY: (KILL_SECRET, {"USDT": 10_000})},
    ) as local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, 1), child.tail()  # bar 0: the entry
        wait_for_record(journal, "bracket", 1, child)  # held before the fill bar closes
        assert run_session_more(child, local, 2), child.tail()
        wait_for_record(journal, "bracket_trail", 2, child)
        assert child.kill(), child.tail()  # SIGKILL while running, after the second move

        final = Child(script, local.url, journal, 3, log)
        assert run_session(final, local, 1), final.tail()
        local.publish()  # the bar that reaches the restored level
        assert final.until("BAR") is not None, final.tail()
        exit_id = wait_for_exit(journal, final)
        local.publish()
        position = final.until("POSITION")
        assert position is not None, final.tail()
        assert final.finish() == 0, final.tail()
        placed = {o.client_id: o for o in local.accounts.orders(KILL_KEY)}
    sold = placed[exit_id]
    assert (sold.side, sold.executed_qty) == ("SELL", Decimal("0.0999"))
    assert sold.quote_qty == Decimal("0.0999") * Decimal("41780")  # at the market after it
    assert float(position.split()[1]) == pytest.approx(0.0, abs=1e-9)  # flat
    records = journal_kinds(journal)
    moves = [
        (r["data"]["extreme"], r["data"]["level"]) for r in records if r["kind"] == "bracket_trail"
    ]
    assert moves == [(42_000.0, 39_900.0), (44_000.0, 41_800.0)]  # no move after the restart
    assert [r["data"]["role"] for r in records if r["kind"] == "bracket_done"] == ["trail"]


def run_session_more(child: Child, local: LocalExchange, bars: int) -> bool:
    """Publish ``bars`` more candles in lockstep with the child's ``BAR`` lines."""
    for _ in range(bars):
        local.publish()
        if child.until("BAR") is None:
            return False
    return True


def wait_for_exit(journal: Path, child: Child) -> str:
    """The client id of the trailing exit, once the journal shows it filled."""
    wait_for_record(journal, "bracket_done", 1, child)
    (done,) = [r["data"] for r in journal_kinds(journal) if r["kind"] == "bracket_done"]
    exit_id = f"{done['client_id']}-trail"
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        state = replay(journal)
        if exit_id in state.orders and state.orders[exit_id].status is OrderStatus.FILLED:
            return exit_id
        time.sleep(0.05)
    pytest.fail(f"the trailing exit {exit_id} did not fill; {child.tail()}")
