"""A failed `LiveBroker.astart` closes everything it opened (issue 11 item 4).

Warnings are errors in this suite, and an unclosed memory stream or journal file warns when it
is collected: each test forces a collection after the failed start, so a leak fails it. The
journal's writer lock is the other witness: a second writer can take it only if the failed start
released it.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from quantkit import Strategy
from quantkit.brokers.journal import Journal
from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.data.live import LiveBarStream
from quantkit.domain.bars import BarSeries
from quantkit.domain.order import OrderRequest, Side
from quantkit.engine.live import LiveEngine
from quantkit.errors import (
    ReconciliationError,
    StoreError,
    UnknownSymbolError,
    VenueUnavailableError,
)
from quantkit.strategy.data import SymbolData
from quantkit.testing import LocalExchange
from tests.brokers.test_live_broker import (
    WARMUP,
    _Clock,
    _empty_series,
    broker_for,
    exchange_orders,
    local_exchange,
    venue_for,
)

pytestmark = pytest.mark.anyio

SYM = "BTC/USDT"


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


async def failed_start(broker: LiveBroker, symbols: tuple[str, ...] = (SYM,)) -> BaseException:
    """Start ``broker`` in a task group, expect the start to fail, collect what it left."""
    history: dict[str, BarSeries] = {s: _empty_series() for s in symbols}
    broker.prepare(history, _Clock())
    with pytest.raises(Exception) as caught:  # noqa: PT011 (each test checks the type)
        async with anyio.create_task_group() as tasks:
            await broker.astart(tasks)
    gc.collect()  # an unclosed stream or file warns now (warnings are errors here)
    error: BaseException = caught.value
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]  # (the task group wraps it)
    return error


class Idle(Strategy):
    """Trades nothing (the start fails before a bar arrives)."""

    def on_bar(self, bar: SymbolData) -> None:
        return


def lock_is_free(path: Path) -> bool:
    with Journal(path, run_id="run-1"):
        return True


async def test_a_refused_reconciliation_closes_the_journal_and_the_queues(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="run-1") as journal:  # acknowledged, unknown to the venue
        journal.intent(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-test-000001")
        journal.ack("qk-test-000001", "999")
    async with venue_for(local) as venue:
        error = await failed_start(broker_for(venue, path))
    assert isinstance(error, ReconciliationError)
    assert lock_is_free(path)
    assert Journal.verify(path).ok
    assert exchange_orders(local) == []


async def test_a_symbol_the_venue_lacks_fails_the_start_cleanly(
    local: LocalExchange, tmp_path: Path
) -> None:
    async with venue_for(local) as venue:
        error = await failed_start(broker_for(venue, tmp_path / "j.jsonl"), ("DOGE/USDT",))
    assert isinstance(error, UnknownSymbolError) and "DOGE/USDT" in str(error)
    assert not (tmp_path / "j.jsonl").exists()  # refused before the journal was opened


async def test_a_venue_that_never_answers_fails_the_start_cleanly(
    local: LocalExchange, tmp_path: Path
) -> None:
    local.faults.fail("/api/v3/exchangeInfo", status=503, times=100_000)
    safety = LiveSafety(startup_deadline=0.2)
    async with venue_for(local) as venue:
        error = await failed_start(broker_for(venue, tmp_path / "j.jsonl", safety=safety))
    assert isinstance(error, VenueUnavailableError) and "markets: still failing" in str(error)


async def test_a_journal_held_by_another_writer_fails_the_start_cleanly(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    async with venue_for(local) as venue:
        with Journal(path, run_id="run-1"):  # another writer holds it
            error = await failed_start(broker_for(venue, path))
    assert isinstance(error, StoreError) and "another writer holds it" in str(error)
    assert lock_is_free(path)


async def test_a_balance_read_failing_past_the_deadline_releases_the_journal(
    local: LocalExchange, tmp_path: Path
) -> None:
    local.faults.fail("/api/v3/account", status=503, times=100_000)
    path = tmp_path / "j.jsonl"
    async with venue_for(local) as venue:
        broker = broker_for(venue, path, safety=LiveSafety(startup_deadline=0.2))
        error = await failed_start(broker)
    assert isinstance(error, VenueUnavailableError) and "balances: still failing" in str(error)
    assert lock_is_free(path)
    assert Journal.verify(path).ok


async def test_a_live_engine_whose_broker_refuses_to_start_closes_everything(
    local: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, run_id="run-1") as journal:
        journal.intent(OrderRequest(SYM, Side.BUY, amount=0.01), "qk-test-000001")
        journal.ack("qk-test-000001", "999")
    venue = venue_for(local)
    engine = LiveEngine(
        stream=LiveBarStream(venue, [SYM], "1m", websocket=False, poll_interval=0.02),
        strategy=Idle(),
        broker=broker_for(venue, path),
        warmup=WARMUP,
        handle_signals=False,
        run_id="run-1",
        closing=[venue],
    )
    with pytest.raises(ReconciliationError, match="qk-test-000001"):
        await engine.arun()
    gc.collect()  # the queues, the journal and the venue's session are closed: no warning
    assert lock_is_free(path)
    assert exchange_orders(local) == []
