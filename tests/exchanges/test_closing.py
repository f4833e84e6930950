"""Every exit path of a live run closes the ccxt client: no unclosed-session warnings.

The run is the real thing: `LiveEngine` + `LiveBroker` + `CcxtExchange` (handed to the engine in
``closing``, as `quantkit.config` does) against a live `LocalExchange`. After each run the ccxt
client's HTTP session must be gone, and dropping the client must neither make ccxt log "requires
to release all resources" nor make aiohttp warn about an unclosed session or connector.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from quantkit import Strategy
from quantkit.brokers.live import LiveBroker
from quantkit.data.fetch import RetryPolicy
from quantkit.data.live import LiveBarStream
from quantkit.engine.live import LiveEngine
from quantkit.errors import ExchangeError
from quantkit.exchanges import CcxtExchange
from quantkit.secrets import Credentials
from quantkit.strategy.data import SymbolData
from quantkit.testing import LocalExchange

pytestmark = pytest.mark.anyio

KEY, SECRET = "close-key-77", "close-secret-d41f"
WARMUP = 30
UNCLOSED = ("requires to release all resources", "Unclosed client session", "Unclosed connector")


def local_exchange() -> LocalExchange:
    start = (int(time.time()) // 60 - WARMUP) * 60
    return LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 80 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000.0})},
        seed="closing",
    )


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    async with local_exchange() as exchange:
        yield exchange


class Buyer(Strategy):
    """Buys 0.01 BTC each bar; raises ``fail`` (if set) on the first bar."""

    fail: Any = None

    def on_start(self) -> None:
        self.handled = anyio.Event()

    def on_bar(self, bar: SymbolData) -> None:
        self.buy(amount=0.01)
        self.handled.set()
        if self.fail is not None:
            raise self.fail


def engine_for(
    local: LocalExchange, tmp_path: Path, strategy: Strategy, *, secret: str = SECRET
) -> tuple[LiveEngine, CcxtExchange]:
    keys = Credentials(exchange="binance", api_key=KEY, secret=secret)
    venue = CcxtExchange("binance", credentials=keys, api_url=local.url, rate_limit=False)
    broker = LiveBroker(
        venue,
        journal=tmp_path / "journal.jsonl",
        run_id="close-1",
        confirm_live=True,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, jitter=0.0),
        poll_interval=0.05,
    )
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
        strategy=strategy,
        broker=broker,
        warmup=WARMUP,
        max_bars=2,
        handle_signals=False,
        run_id="close-1",
        closing=(venue,),
    )
    return engine, venue


async def publish_until_handled(local: LocalExchange, strategy: Buyer, bars: int) -> None:
    for _ in range(bars):
        with anyio.fail_after(20):
            while not hasattr(strategy, "handled"):
                await anyio.sleep(0.01)
            handled = strategy.handled
            local.publish()
            await handled.wait()
        strategy.handled = anyio.Event()


def assert_released(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The session is closed, and dropping the client warns about nothing."""
    assert client.session is None
    with caplog.at_level(logging.WARNING):
        del client
        gc.collect()
    assert not [r for r in caplog.records if any(u in r.getMessage() for u in UNCLOSED)]


async def _client_of(venue: CcxtExchange) -> Any:
    await venue.markets()  # opens the client in this loop (markets load over HTTP)
    return venue._client


async def test_a_run_that_ends_normally_closes_the_client(
    local: LocalExchange, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = Buyer()
    engine, venue = engine_for(local, tmp_path, strategy)
    client = await _client_of(venue)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(engine.arun)
        await publish_until_handled(local, strategy, 2)
    assert len(local.accounts.orders(KEY)) == 2  # the run did trade
    assert venue._client is None
    assert_released(client, caplog)


async def test_a_strategy_exception_closes_the_client(
    local: LocalExchange, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = Buyer(fail=ValueError("bad bar"))
    engine, venue = engine_for(local, tmp_path, strategy)
    client = await _client_of(venue)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(publish_until_handled, local, strategy, 1)
        with pytest.raises(Exception, match="bad bar"):
            await engine.arun()
    assert venue._client is None
    assert_released(client, caplog)


async def test_a_cancelled_run_closes_the_client(
    local: LocalExchange, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = Buyer()
    engine, venue = engine_for(local, tmp_path, strategy)
    client = await _client_of(venue)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(engine.arun)
        await publish_until_handled(local, strategy, 1)
        tasks.cancel_scope.cancel()  # the task running the engine is cancelled mid-run
    assert venue._client is None
    assert_released(client, caplog)


async def test_a_failed_start_closes_the_client(
    local: LocalExchange, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = Buyer()
    engine, venue = engine_for(local, tmp_path, strategy)
    engine.stream = LiveBarStream(venue, ["BTC/USDX"], "1m", websocket=False)  # no such market
    client = await _client_of(venue)
    with pytest.raises(ExchangeError) as caught:
        await engine.arun()
    assert caught.value.reason == "bad_symbol"
    assert venue._client is None
    assert_released(client, caplog)


CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from datetime import UTC, datetime
    from quantkit import Strategy
    from quantkit.brokers.live import LiveBroker
    from quantkit.data.live import LiveBarStream
    from quantkit.engine.live import LiveEngine
    from quantkit.exchanges import CcxtExchange
    from quantkit.secrets import Credentials
    from quantkit.testing import LocalExchange

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores it

    class Announce(Strategy):
        def on_bar(self, bar):
            print("bar", flush=True)

    start = (int(time.time()) // 60 - 30) * 60
    with LocalExchange(
        live=True, warmup=30, publish_every=0.2, accounts={"k": ("s", {"USDT": 1000})},
        start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(start + 4800, UTC),
    ) as local:
        keys = Credentials(exchange="binance", api_key="k", secret="s")
        venue = CcxtExchange("binance", credentials=keys, api_url=local.url, rate_limit=False)
        engine = LiveEngine(
            stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
            strategy=Announce(), broker=LiveBroker(venue, journal=sys.argv[1], run_id="kb",
            confirm_live=True, poll_interval=0.05), warmup=30, handle_signals=False,
            run_id="kb", closing=(venue,),
        )
        try:
            engine.run()
        except KeyboardInterrupt:
            print("interrupted", venue._client is None, flush=True)
    """
)


def test_ctrl_c_closes_the_client(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-W", "error::ResourceWarning", "-c", CHILD, str(tmp_path / "j.jsonl")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # blocks until the first live bar was handled
        assert first.strip() == "bar"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert "interrupted True" in out
    assert not [u for u in UNCLOSED if u in err], err


def test_a_client_opened_in_another_loop_is_refused_clearly() -> None:
    """Using a venue from a second event loop names the problem instead of a raw RuntimeError."""
    import threading

    from quantkit.errors import UsageError

    opened, release = threading.Event(), threading.Event()
    with LocalExchange() as exchange:
        venue = exchange.ccxt_exchange()

        async def first_loop() -> None:
            await venue.markets()  # the client binds to this loop
            opened.set()
            await anyio.to_thread.run_sync(release.wait)
            await venue.aclose()  # closed in its own loop: nothing leaks

        thread = threading.Thread(target=anyio.run, args=(first_loop,))
        thread.start()
        try:
            assert opened.wait(20)

            async def second_loop() -> None:
                await venue.markets()

            with pytest.raises(
                UsageError, match="opened in another event loop \\(still running\\)"
            ):
                anyio.run(second_loop)
        finally:
            release.set()
            thread.join(20)
        assert not thread.is_alive()

        async def after_close() -> int:
            async with venue:
                return len(await venue.markets())  # a new client in this loop

        assert anyio.run(after_close) == 3
