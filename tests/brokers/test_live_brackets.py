"""Brackets live (issue 11 item 8): the README's Breakout, unchanged, against the local exchange.

The strategy's code is read from README.md's "Example" section and executed as it is; the run
uses the real ccxt client, a LiveBroker and a LiveEngine against LocalExchange (live mode) with
hand-made candles, so every figure below is computed by hand.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pandas as pd
import pytest

import quantkit as qk
from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus
from quantkit.engine.live import LiveEngine, LiveSummary
from quantkit.exchanges import CcxtExchange
from quantkit.testing import LocalExchange
from tests.brokers.test_live_broker import KEY, SECRET, broker_for, stream_for, venue_for

pytestmark = pytest.mark.anyio

PRICE_RELATION = "The relationship of the prices for the orders is not correct."
README = Path(__file__).resolve().parents[2] / "README.md"
WARMUP = 80  # > the README's period of 72


def readme_breakout() -> type[qk.Strategy]:
    """The Breakout class exactly as README.md's Example defines it."""
    text = README.read_text()
    section = text[text.index("## Example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    source = code.group(1).split("\nresult = ")[0]  # the definitions, not the backtest run
    assert "sl_pct=0.03, tp_pct=0.06" in source
    namespace: dict[str, Any] = {}
    exec(compile(source, str(README), "exec"), namespace)  # our own README
    strategy: type[qk.Strategy] = namespace["Breakout"]
    return strategy


def candles(rows: list[tuple[float, float, float, float]], start_s: int) -> pd.DataFrame:
    index = pd.date_range(datetime.fromtimestamp(start_s, UTC), periods=len(rows), freq="1min")
    frame = pd.DataFrame(
        rows, index=index.tz_localize(None), columns=["open", "high", "low", "close"]
    )
    frame["volume"] = 10.0
    return frame


def local_with(live_rows: list[tuple[float, float, float, float]]) -> LocalExchange:
    start = (int(time.time()) // 60 - WARMUP) * 60
    flat = [(40_000.0, 40_010.0, 39_990.0, 40_000.0)] * WARMUP
    return LocalExchange(
        live=True,
        warmup=WARMUP,
        candles={"BTC/USDT": candles(flat + live_rows, start)},
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + (WARMUP + len(live_rows)) * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
    )


def live_engine(
    local: LocalExchange, journal: Path, strategy: qk.Strategy, *, max_bars: int, **kwargs: Any
) -> tuple[CcxtExchange, qk.LiveBroker, LiveEngine]:
    """The venue, a broker journaling to ``journal`` and a LiveEngine running ``strategy``."""
    venue = venue_for(local)
    broker = broker_for(venue, journal)
    engine = LiveEngine(
        stream=stream_for(venue), strategy=strategy, broker=broker, warmup=WARMUP,
        max_bars=max_bars, handle_signals=False, run_id="run-1", **kwargs,
    )  # fmt: skip
    return venue, broker, engine


async def until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Wait for ``condition`` (state the background tasks change), failing after a deadline."""
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)
    assert condition(), what


def legs(broker: qk.LiveBroker, entry: str) -> tuple[qk.Order, qk.Order]:
    orders = broker.sync.orders
    return orders[f"{entry}-tp"], orders[f"{entry}-sl"]


async def test_readme_breakout_runs_live_with_its_brackets_as_a_venue_oco(tmp_path: Path) -> None:
    breakout = readme_breakout()
    live_rows = [
        (40_000.0, 40_150.0, 39_995.0, 40_100.0),  # closes above the 72-bar high of 40,010
    ] + [(40_100.0, 40_120.0, 40_080.0, 40_100.0)] * 6
    journal = tmp_path / "journal.jsonl"
    async with local_with(live_rows) as local:
        strategy = breakout(period=72)
        venue, broker, engine = live_engine(local, journal, strategy, max_bars=4)
        summary: list[LiveSummary] = []
        async with venue, anyio.create_task_group() as tasks:

            async def run() -> None:
                summary.append(await engine.arun())

            tasks.start_soon(run)
            await until(lambda: hasattr(strategy, "top"), "the engine started")
            local.publish()  # the breakout bar: the strategy buys with cost=0.5 x cash
            lists = local.accounts.order_lists.lists
            await until(lambda: len(lists) == 1, "the bracket reached the venue as an OCO list")
            (entry,) = [o for o in broker.sync.orders.values() if o.request.has_bracket]
            await until(lambda: f"{entry.client_id}-sl" in broker.sync.orders, "legs tracked")
            tp, sl = legs(broker, entry.client_id)
            await until(lambda: tp.status is OrderStatus.OPEN, "both legs acknowledged")

            # The entry: 5,000 USDT at 40,100 -> 0.124688... rounded DOWN to 0.12468 BTC.
            assert entry.status is OrderStatus.FILLED
            assert (entry.amount, entry.average_price) == (0.12468, 40_100.0)
            # The list: TP 40,100 x 1.06 = 42,506.00, SL 40,100 x 0.97 = 38,897.00, both on the
            # tick. Its amount is what the account RECEIVED: the venue took its 0.1 % fee in
            # BTC, 0.12468 x 0.999 = 0.12455532, rounded down to 0.12455; all of it is locked
            # by the list, the 0.00000532 left free is below one step: dust.
            (made,) = lists.values()
            btc_free, btc_locked = local.accounts.balances(KEY)["BTC"]
            assert made.above.type == "LIMIT_MAKER" and made.below.type == "STOP_LOSS"
            assert (made.above.price, made.below.stop_price) == (Decimal("42506"), Decimal("38897"))
            assert made.above.qty == btc_locked == made.below.qty == Decimal("0.12455")
            assert btc_free == Decimal("0.00000532")
            assert (sl.request.stop_price, tp.request.limit_price) == (38_897.0, 42_506.0)
            assert [o.status for o in (made.above, made.below)] == ["NEW", "NEW"]

            local.publish()  # a quiet bar: nothing triggers, the strategy holds (not flat)
            await until(lambda: len(strategy.data) == WARMUP + 2, "second bar handled")
            assert len(lists) == 1 and not strategy.position().is_flat

            local.set_price("BTC/USDT", 38_800)  # through the stop: the venue sells at 38,800
            await until(lambda: not tp.is_active and not sl.is_active, "both legs ended")
            assert sl.status is OrderStatus.FILLED and sl.average_price == 38_800.0
            assert tp.status is OrderStatus.EXPIRED  # canceled by the venue, seen by the tracker
            assert made.as_json()["listOrderStatus"] == "ALL_DONE"
            await until(lambda: strategy.position().is_flat, "the position is closed")
            assert strategy.position().is_dust  # 0.00000532 BTC: flat, the strategy may buy
            local.set_price("BTC/USDT", 40_100)
            local.publish(2)
        assert summary[0].bars == 4
        assert summary[0].dust == {"BTC/USDT": pytest.approx(0.00000532, abs=1e-12)}
        assert "dust (below the minimum amount): BTC/USDT 5.32e-06" in str(summary[0])

    # The journal holds what the venue received, to the last digit, and both legs' fates.
    state = replay(journal)
    venue_qty = {o.client_id: o.qty for o in local.accounts.orders(KEY)}
    for client_id in (entry.client_id, sl.client_id, tp.client_id):
        journaled = state.orders[client_id].amount
        assert Decimal(repr(journaled)) == venue_qty[client_id], client_id
    assert state.orders[sl.client_id].status is OrderStatus.FILLED
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    (bracket,) = [r["data"] for r in records if r["kind"] == "bracket"]
    assert bracket == {
        "client_id": entry.client_id,
        "mode": "oco",
        "amount": 0.12455,
        "stop_loss": 38_897.0,
        "take_profit": 42_506.0,
    }


class OneStop(qk.Strategy):
    """Buys 0.1 BTC once with a 3 % stop-loss only (no take-profit: the broker holds it)."""

    persistent: ClassVar[tuple[str, ...]] = ("entered",)

    def on_start(self) -> None:
        self.entered = False

    def on_bar(self, bar: qk.SymbolData) -> None:
        if not self.entered and self.position().is_flat:
            self.entered = True
            self.buy(amount=0.1, sl_pct=0.03)


async def run_until(
    local: LocalExchange, engine: LiveEngine, steps: Callable[[], Awaitable[None]]
) -> LiveSummary:
    summary: list[LiveSummary] = []
    async with anyio.create_task_group() as tasks:

        async def run() -> None:
            summary.append(await engine.arun())

        tasks.start_soon(run)
        await steps()
    return summary[0]


async def test_a_held_bracket_is_journaled_restored_after_a_restart_and_still_triggers(
    tmp_path: Path,
) -> None:
    quiet = (40_000.0, 40_010.0, 39_990.0, 40_000.0)
    live_rows = [quiet, quiet, (40_000.0, 40_005.0, 38_700.0, 38_750.0)] + [quiet] * 4
    journal = tmp_path / "journal.jsonl"
    async with local_with(live_rows) as local:
        # -- first run: the entry fills, its stop is held by the broker and journaled
        strategy = OneStop()
        venue, broker, engine = live_engine(local, journal, strategy, max_bars=2)

        async def first() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine started")
            local.publish()
            await until(lambda: bool(broker.working("BTC/USDT")), "the stop is held")
            local.publish()

        async with venue:
            await run_until(local, engine, first)
        (held,) = broker.brackets.held["BTC/USDT"]
        # 40,000 x 0.97 = 38,800 on the tick; 0.1 BTC less the venue's 0.1 % fee in BTC
        levels = (held.levels.stop_loss, held.levels.take_profit, held.amount)
        assert levels == (38_800.0, None, 0.0999)
        assert local.accounts.open_orders(KEY) == []  # nothing rests on the venue for it

        # -- restart: a new broker and engine on the same journal
        strategy = OneStop()
        venue, broker, engine = live_engine(local, journal, strategy, max_bars=2)
        exit_id = f"{held.entry_id}-sl"

        async def second() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine restarted")
            (restored,) = broker.brackets.held["BTC/USDT"]
            assert restored == held
            local.publish()  # low 38,700 reaches the 38,800 stop; the bar closes at 38,750
            await until(lambda: exit_id in broker.sync.orders, "the stop triggered")
            exit_order = broker.sync.orders[exit_id]
            await until(lambda: not exit_order.is_active, "the exit ended")
            local.publish()

        async with venue:
            summary = await run_until(local, engine, second)
        exit_order = broker.sync.orders[exit_id]
        assert exit_order.status is OrderStatus.FILLED
        assert (exit_order.filled, exit_order.average_price) == (0.0999, 38_750.0)
        assert exit_order.request.reduce_only and exit_order.request.tag == "stop_loss"
        assert strategy.entered and strategy.position().is_flat
        assert broker.brackets.held["BTC/USDT"] == []
        # the strategy placed nothing new; the exit's fill reached it; cash
        # 10,000 - 4,000 + 0.0999 x 38,750 x (1 - 0.001) = 9,867.253875
        assert (summary.orders, summary.fills) == (0, 1)
        assert summary.cash == pytest.approx(9_867.253875, abs=1e-9)
    kinds = [json.loads(line)["kind"] for line in journal.read_text().splitlines()]
    assert kinds.count("bracket") == 1 and kinds.count("bracket_done") == 1


@pytest.mark.parametrize("outcome", ["answer lost", "refused"])
async def test_an_oco_is_sent_once_found_when_its_answer_is_lost_held_when_refused(
    outcome: str, tmp_path: Path
) -> None:
    from tests.brokers.test_live_broker import started

    async with local_with([(40_000.0, 40_010.0, 39_990.0, 40_000.0)] * 3) as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
            if outcome == "answer lost":  # the venue places the list, the answer is a 503
                local.faults.accept_then_fail("/api/v3/orderList/oco", status=503)
            else:  # Binance refuses it (say the price moved past a level meanwhile)
                refusal = json.dumps({"code": -2010, "msg": PRICE_RELATION})
                local.faults.fail("/api/v3/orderList/oco", status=400, body=refusal)
            request = qk.OrderRequest(
                "BTC/USDT", qk.Side.BUY, amount=0.1, stop_loss=39_000.0, take_profit=41_000.0
            )
            entry = broker.submit(request, "qk-test-000001", 40_000.0)
            await until(lambda: f"{entry.client_id}-sl" in broker.sync.orders, "legs tracked")
            tp, sl = legs(broker, entry.client_id)
            await until(lambda: sl.status is not OrderStatus.NEW, "the list's outcome settled")
            assert len(local.requests("/api/v3/orderList/oco")) == 1  # never sent twice
            if outcome == "answer lost":
                assert tp.status is sl.status is OrderStatus.OPEN  # found by client id
                assert len(local.accounts.order_lists.lists) == 1
                assert not broker.working("BTC/USDT")  # nothing held: the venue has it
            else:
                assert tp.status is sl.status is OrderStatus.REJECTED
                assert "relationship of the prices" in tp.reason
                await until(lambda: bool(broker.working("BTC/USDT")), "held instead")
                (held,) = broker.brackets.held["BTC/USDT"]
                # 0.1 BTC less the 0.1 % fee taken in BTC
                assert (held.levels.stop_loss, held.levels.take_profit, held.amount) == (
                    39_000.0, 41_000.0, 0.0999,
                )  # fmt: skip
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()


class OneBracket(OneStop):
    """Buys 0.1 BTC once with a 3 % stop-loss and a 6 % take-profit (a venue OCO)."""

    def on_bar(self, bar: qk.SymbolData) -> None:
        if not self.entered and self.position().is_flat:
            self.entered = True
            self.buy(amount=0.1, sl_pct=0.03, tp_pct=0.06)


async def test_venue_oco_legs_resume_after_a_restart_and_the_stop_still_closes(
    tmp_path: Path,
) -> None:
    quiet = (40_000.0, 40_010.0, 39_990.0, 40_000.0)
    journal = tmp_path / "journal.jsonl"
    async with local_with([quiet] * 8) as local:
        strategy = OneBracket()
        venue, broker, engine = live_engine(
            local, journal, strategy, max_bars=2, cancel_on_shutdown=False
        )
        lists = local.accounts.order_lists.lists

        async def first() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine started")
            local.publish()
            await until(lambda: len(lists) == 1, "the OCO is on the venue")
            local.publish()

        async with venue:
            await run_until(local, engine, first)
        (entry,) = [o for o in broker.sync.orders.values() if o.request.has_bracket]
        (made,) = lists.values()
        assert [o.status for o in made.legs] == ["NEW", "NEW"]  # left working on the venue

        # -- restart: the legs come back from the journal, still tracked
        strategy = OneBracket()
        venue, broker, engine = live_engine(local, journal, strategy, max_bars=2)

        async def second() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine restarted")
            tp, sl = legs(broker, entry.client_id)
            assert tp.status is sl.status is OrderStatus.OPEN
            # 40,000 x 0.97 = 38,800 and x 1.06 = 42,400 on the tick, as journaled
            assert (sl.request.stop_price, tp.request.limit_price) == (38_800.0, 42_400.0)
            local.set_price("BTC/USDT", 38_700)
            await until(lambda: not tp.is_active and not sl.is_active, "the list ended")
            assert (sl.status, sl.average_price) == (OrderStatus.FILLED, 38_700.0)
            assert tp.status is OrderStatus.EXPIRED
            await until(lambda: strategy.position().is_flat, "flat again")
            local.set_price("BTC/USDT", 40_000)
            local.publish(2)

        async with venue:
            summary = await run_until(local, engine, second)
        assert summary.orders == 0  # the strategy did not enter again (persistent state)
        assert len(lists) == 1
        assert local.accounts.open_orders(KEY) == []


class BracketThenClose(OneStop):
    """Buys 0.1 BTC with a venue OCO bracket, then closes the position itself two bars later."""

    def on_bar(self, bar: qk.SymbolData) -> None:
        if not self.entered:
            self.entered = True
            self.bought_at = len(bar)
            self.buy(amount=0.1, sl_pct=0.03, tp_pct=0.06)
        elif len(bar) == self.bought_at + 2:
            self.closing = self.close()


async def test_closing_a_position_its_venue_oco_holds_cancels_the_list_first(
    tmp_path: Path,
) -> None:
    quiet = (40_000.0, 40_010.0, 39_990.0, 40_000.0)
    async with local_with([quiet] * 6) as local:
        strategy = BracketThenClose()
        venue, broker, engine = live_engine(local, tmp_path / "journal.jsonl", strategy, max_bars=4)
        lists = local.accounts.order_lists.lists

        async def steps() -> None:
            await until(lambda: hasattr(strategy, "entered"), "the engine started")
            local.publish()
            await until(lambda: len(lists) == 1, "the OCO is on the venue")
            # (the portfolio holds the gross 0.1 until the balance refresh after the fill)
            await until(lambda: not broker.sync.balances_behind, "balances refreshed")
            local.publish(2)  # the strategy closes on the second of these bars
            await until(lambda: hasattr(strategy, "closing"), "close() called")
            closing = strategy.closing
            await until(lambda: not closing.is_active, "the close order ended")
            local.publish()

        async with venue:
            await run_until(local, engine, steps)
    closing = strategy.closing
    (made,) = lists.values()
    # the list was canceled on the venue BEFORE the sell went out, so the sell was not refused
    assert [o.status for o in made.legs] == ["CANCELED", "CANCELED"]
    assert closing.status is OrderStatus.FILLED
    # close() sells the 0.0999 BTC received (0.1 less the 0.1 % fee taken in BTC)
    assert (closing.filled, closing.average_price) == (0.0999, 40_000.0)
    sell = next(o for o in local.accounts.orders(KEY) if o.client_id == closing.client_id)
    assert sell.order_id > max(o.order_id for o in made.legs)
    assert max(o.update_time for o in made.legs) <= sell.time
    assert strategy.position().is_flat
