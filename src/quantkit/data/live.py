"""Closed bars from a live venue, each exactly once and in order: `LiveBarStream`.

A venue's candle feed (websocket or REST) repeats itself, skips updates when a connection drops
and always ends with the bar still forming. The stream turns it into what a strategy needs:

- Closed-bar rule: a bar is handed out only once a row with a later open time has been seen (the
  venue's last row is the forming one), and only with values known to be final: from a REST
  answer that also holds a later row. Websocket updates say promptly that a bar closed, but
  never prove its values: after missed updates a websocket client (ccxt) hands back the version
  it cached, such as the bar's first, flat tick (open = high = low = close, volume 0). So each
  closed bar's values are confirmed over REST (one request per bar and symbol) before it goes
  out.
- Exactly once, in order, no gaps: per symbol, bars come out in strictly increasing open time,
  one timeframe apart. Rows seen again (replays after a reconnect) are dropped; a row that
  changes after it was handed out is logged and not handed out again. When a closed bar skips
  ahead of the last one handed out, the missing ones are back-filled over REST first. Only a
  hole in the venue's own REST data (nothing there, bars after it) is skipped, with a warning.
- Resilience: websocket errors are retried with the `RetryPolicy` backoff, forever, and the
  first update after a reconnect triggers a REST catch-up. A venue without websocket falls back
  to REST polling. A symbol without a new closed bar for ``stale_timeout`` seconds is polled over
  REST; if that brings nothing, the stream yields ``StreamStatus(stale=True)`` once, keeps
  trying, and yields ``StreamStatus(stale=False)`` before the next bar.

Everything is logged on the ``"quantkit.live"`` structlog logger.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Self

import anyio
import numpy as np

from quantkit.data.fetch import RetryPolicy, _Retrier
from quantkit.data.live_merge import BarMerge
from quantkit.data.live_rows import REMEMBERED, LiveRow, SymbolRows, clean_row, live_log
from quantkit.data.live_types import LiveOhlcvSource, StreamStatus, TaskFailure
from quantkit.data.validation import validate_bars
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError, ExchangeError, TransientError

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["LiveBarStream", "LiveOhlcvSource", "LiveRow", "StreamStatus"]


_MS = 1_000_000  # nanoseconds per millisecond
_MERGE_GRACE_S = 0.2  # how long a bar waits for other symbols' bars of the same close time
_CONNECTION_ERRORS = (TransientError, ExchangeError, DataError, OSError)


class LiveBarStream:
    """Closed bars of several symbols from a live venue, each once, in order, without gaps.

    Use it as an async context manager, optionally warm up, then iterate::

        async with LiveBarStream(venue, ["BTC/USDT", "ETH/USDT"], "1m") as stream:
            history = await stream.warmup(200)
            async for item in stream:
                ...  # a Bar, or a StreamStatus when a symbol goes stale or fresh again

    Without `warmup`, iteration starts after the last bar already closed when it begins. Bars of
    several symbols come out ordered by (close time, symbol order) as far as arrival allows: a
    bar waits up to 0.2 s for the other symbols' bars of the same close time. The stream does not
    close ``source``.

    Args:
        source: The venue (structurally a `LiveOhlcvSource`).
        symbols: Unified symbols, e.g. ``["BTC/USDT"]``; their order breaks ties.
        timeframe: Bar length, e.g. ``"1m"``.
        websocket: Wait for websocket updates (``True``) or poll over REST (``False``).
        poll_interval: Seconds between REST polls in polling mode, and between stale checks in
            websocket mode. Default: a tenth of the timeframe, within [0.05, 15] seconds.
        stale_timeout: Seconds without a new closed bar after which a symbol is stale, as
            measured by ``clock``. Default: two timeframes.
        retry: Backoff for REST requests and websocket reconnects; `RetryPolicy()` when ``None``.
        clock: Monotonic seconds, for the stale timeout (inject a fake one in tests).
        wall_clock: Seconds since the Unix epoch, to place the warm-up window.
        page_size: Candles asked for per REST request.

    Raises:
        ConfigError: If an argument is invalid.
    """

    def __init__(
        self,
        source: LiveOhlcvSource,
        symbols: Sequence[str],
        timeframe: str,
        *,
        websocket: bool = True,
        poll_interval: float | None = None,
        stale_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        page_size: int = 500,
    ) -> None:
        step_ns = parse_timeframe(timeframe)
        if isinstance(symbols, str) or not symbols:
            raise ConfigError(f"symbols must be a non-empty list of symbols, got {symbols!r}")
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"symbols must not repeat, got {list(symbols)}")
        seconds = step_ns / 1e9
        self._interval = _positive(
            "poll_interval",
            min(15.0, max(0.05, seconds / 10)) if poll_interval is None else poll_interval,
        )
        self._stale_after = _positive(
            "stale_timeout", 2 * seconds if stale_timeout is None else stale_timeout
        )
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 2:
            raise ConfigError(f"page_size must be an integer >= 2, got {page_size!r}")
        self._source = source
        self._timeframe = timeframe
        self._step_ns = step_ns
        self._symbols = [SymbolRows(name, i, step_ns // _MS) for i, name in enumerate(symbols)]
        self._websocket = websocket
        self._websocket_seen = False  # a watch succeeded once: errors are dropped connections
        self._policy = retry or RetryPolicy()
        self._rng = random.Random(self._policy.seed)
        self._clock = clock
        self._wall_clock = wall_clock
        self._page_size = page_size
        self._group: TaskGroup | None = None
        self._send: MemoryObjectSendStream[Bar | StreamStatus | TaskFailure] | None = None
        self._receive: MemoryObjectReceiveStream[Bar | StreamStatus | TaskFailure] | None = None
        self._started = False
        self._closed = False
        self._ready: deque[StreamStatus] = deque()
        self._merge = BarMerge(_MERGE_GRACE_S)

    # -- lifecycle --

    async def __aenter__(self) -> Self:
        self._send, self._receive = anyio.create_memory_object_stream[
            Bar | StreamStatus | TaskFailure
        ](math.inf)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the symbol tasks and end iteration (the source stays open)."""
        self._closed = True
        group, self._group = self._group, None
        if group is not None:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
        for stream in (self._send, self._receive):
            if stream is not None:
                stream.close()

    # -- warm-up --

    async def warmup(self, bars: int) -> dict[str, BarSeries]:
        """Fetch the last ``bars`` closed bars of each symbol over REST; iteration continues after.

        Args:
            bars: How many closed bars per symbol (fewer where the venue has holes).

        Returns:
            A validated `BarSeries` per symbol, in symbol order.

        Raises:
            ConfigError: If ``bars`` is not a positive integer.
            RuntimeError: If iteration has already started.
            DataError: If the venue has no closed bar for a symbol, or answers bad candles.
            ExchangeError: If the venue refuses the request.
            TransientError: If a request still fails after the retries.
        """
        if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
            raise ConfigError(f"bars must be a positive integer, got {bars!r}")
        if self._started:
            raise RuntimeError("warmup() must be called before iterating the stream")
        return {state.name: await self._warm(state, bars) for state in self._symbols}

    async def _warm(self, state: SymbolRows, bars: int) -> BarSeries:
        step = state.step_ms
        now_ms = int(self._wall_clock() * 1000)
        since = (now_ms // step - bars - 1) * step
        rows: dict[int, LiveRow] = {}
        latest = -1
        while True:
            page = await self._fetch(state.name, since)
            rows.update((row[0], row) for row in map(clean_row, page))
            top = max((row[0] for row in page), default=since)
            latest = max(latest, top)
            if len(page) < self._page_size or top <= since:
                break
            since = top
        closed = sorted(opened for opened in rows if opened < latest)[-bars:]
        columns = np.array([rows[opened] for opened in closed], dtype=np.float64).reshape(-1, 6)
        series = validate_bars(
            {
                "time": np.array(closed, dtype=np.int64),
                **{name: columns[:, i + 1] for i, name in enumerate(_COLUMNS)},
            },
            symbol=state.name,
            source=f"{self._source.id} {state.name} {self._timeframe} warm-up",
            timeframe=self._step_ns,
            time_unit="ms",
        )
        state.last = closed[-1]
        state.latest = max(state.latest, latest)
        state.handed.update((opened, rows[opened]) for opened in closed[-REMEMBERED:])
        return series

    async def _fetch(self, symbol: str, since_ms: int) -> list[LiveRow]:
        """One REST page, retried on transient errors."""
        call = partial(self._source.fetch_ohlcv, symbol, self._timeframe, since_ms, self._page_size)
        context = f"{self._source.id} {symbol} {self._timeframe} candles"
        return await _Retrier(self._policy, context)(call)

    # -- iteration --

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Bar | StreamStatus:
        if self._closed:
            raise StopAsyncIteration
        if self._group is None or self._receive is None:
            raise RuntimeError("iterate a LiveBarStream inside `async with LiveBarStream(...)`")
        if not self._started:
            self._started = True
            for state in self._symbols:
                state.last_new = self._clock()
                self._group.start_soon(self._run, state)
        while True:
            self._drain()
            if self._ready:
                return self._ready.popleft()
            wait = self._merge.wait(self._symbols)
            if wait is not None and wait <= 0:
                return self._merge.pop()
            with anyio.move_on_after(math.inf if wait is None else wait):
                try:
                    self._accept(await self._receive.receive())
                except (anyio.EndOfStream, anyio.ClosedResourceError):  # pragma: no cover
                    # aclose() called from another task while this one waited
                    raise StopAsyncIteration from None

    def _drain(self) -> None:
        assert self._receive is not None
        while True:
            try:
                item = self._receive.receive_nowait()
            except anyio.WouldBlock:
                return
            self._accept(item)

    def _accept(self, item: Bar | StreamStatus | TaskFailure) -> None:
        if isinstance(item, TaskFailure):
            self._closed = True  # a symbol's task died: the stream ends with its error
            raise item.error
        if isinstance(item, StreamStatus):
            self._ready.append(item)
            return
        index = next(state.index for state in self._symbols if state.name == item.symbol)
        self._merge.push(item, index)

    # -- one task per symbol --

    async def _run(self, state: SymbolRows) -> None:
        assert self._send is not None
        try:
            if state.last is None:
                await self._start_after_latest(state)
            while True:
                if self._websocket:
                    await self._watch_step(state)
                else:
                    await self._poll(state)
                    await anyio.sleep(self._interval)
                await self._check_stale(state)
        except Exception as exc:  # handed to the consumer, which re-raises it
            self._send.send_nowait(TaskFailure(exc))

    async def _start_after_latest(self, state: SymbolRows) -> None:
        try:
            await self._warm(state, 1)
        except DataError:  # nothing closed yet: start with the first bar that closes
            return

    async def _watch_step(self, state: SymbolRows) -> None:
        rows: list[LiveRow] | None = None
        error: Exception | None = None
        with anyio.move_on_after(self._interval):  # wake up now and then to check staleness
            try:
                rows = await self._source.watch_ohlcv(state.name, self._timeframe)
            except _CONNECTION_ERRORS as exc:
                error = exc
        if error is not None:
            await self._on_watch_error(state, error)
            return
        if rows is None:
            if state.unconfirmed() is not None:  # REST was behind: try to confirm again
                await self._deliver(state)
            return
        self._websocket_seen = True
        state.ingest(rows, rest=False)
        if state.failures:
            live_log().info("live_reconnected", symbol=state.name, after_failures=state.failures)
            state.failures = 0
            await self._poll(state, why="reconnect")
        else:
            await self._deliver(state)

    async def _on_watch_error(self, state: SymbolRows, error: Exception) -> None:
        no_websocket = getattr(error, "reason", "") == "not_supported"
        if isinstance(error, ExchangeError) and (no_websocket or not self._websocket_seen):
            if self._websocket:
                self._websocket = False
                live_log().warning(
                    "live_polling_fallback",
                    venue=self._source.id,
                    poll_interval_s=self._interval,
                    error=str(error),
                )
            return
        state.failures += 1
        wait = self._policy.delay(min(state.failures, 32), rng=self._rng)
        live_log().warning(
            "live_reconnecting",
            symbol=state.name,
            attempt=state.failures,
            wait_s=round(wait, 3),
            error=f"{type(error).__name__}: {error}",
        )
        await anyio.sleep(wait)

    async def _poll(self, state: SymbolRows, *, why: str = "poll") -> int:
        """Catch up over REST from the last bar handed out; return how many bars came out."""
        since = state.last
        if since is None:  # nothing closed at start: begin around now, not at the epoch
            step = state.step_ms
            since = max(state.latest, (int(self._wall_clock() * 1000) // step - 2) * step)
        before = len(state.pending)
        try:
            await self._fetch_from(state, since)
        except TransientError as exc:
            live_log().warning("live_poll_failed", symbol=state.name, reason=why, error=str(exc))
        if why != "poll" and len(state.pending) > before:
            live_log().info(
                "live_backfilled", symbol=state.name, reason=why, bars=len(state.pending) - before
            )
        return await self._deliver(state)

    async def _fetch_from(self, state: SymbolRows, since: int) -> int:
        """Page over REST from ``since`` into ``state``; return the latest open time answered."""
        latest = -1
        while True:
            page = await self._fetch(state.name, since)
            top = state.ingest(page, rest=True)
            if top is None:
                return latest
            latest = max(latest, top)
            if len(page) < self._page_size or top <= since:
                return latest
            since = top

    async def _deliver(self, state: SymbolRows) -> int:
        """Hand out what is ready, back-filling a gap first; return how many bars came out.

        A gap (a closed bar missing after the last one handed out) and a closed bar whose
        values are not known to be final are both fetched over REST before anything goes out.
        """
        skip_holes = False
        start, reason = state.expected, "gap"
        if not state.has_gap():
            start, reason = state.unconfirmed(), "unconfirmed"
        if start is not None:
            before = len(state.pending)
            try:
                reached = await self._fetch_from(state, start)
            except TransientError as exc:  # keep the bars back; the next update tries again
                live_log().warning("live_backfill_failed", symbol=state.name, error=str(exc))
                reached = -1
            log = live_log().info if reason == "gap" else live_log().debug  # confirming is routine
            log(
                "live_backfilled",
                symbol=state.name,
                reason=reason,
                from_ms=start,
                bars=len(state.pending) - before,
            )
            if reached > start:  # the venue answered past the missing or unconfirmed bar
                state.drop_unconfirmed(reached)
                skip_holes = True
        rows = state.take(skip_holes=skip_holes)
        if rows:
            self._hand_out(state, rows)
        return len(rows)

    def _hand_out(self, state: SymbolRows, rows: list[LiveRow]) -> None:
        assert self._send is not None
        state.last_new = self._clock()
        if state.stale:
            state.stale = False
            reason = f"{state.name}: closed {self._timeframe} bars arrive again"
            live_log().info("live_fresh", symbol=state.name, reason=reason)
            self._send.send_nowait(StreamStatus(stale=False, reason=reason, symbol=state.name))
        for row in rows:
            bar = self._bar(state.name, row)
            if bar is not None:
                self._send.send_nowait(bar)

    def _bar(self, symbol: str, row: LiveRow) -> Bar | None:
        opened = row[0] * _MS
        try:
            validate_bars(
                {"time": [opened], **{name: [row[i + 1]] for i, name in enumerate(_COLUMNS)}},
                symbol=symbol,
                source=f"{self._source.id} {symbol} {self._timeframe} live",
                timeframe=self._step_ns,
                time_unit="ns",
            )
        except DataError as exc:
            live_log().error("live_invalid_bar", symbol=symbol, open_ms=row[0], error=str(exc))
            return None
        return Bar(symbol, opened, opened + self._step_ns, *row[1:])

    async def _check_stale(self, state: SymbolRows) -> None:
        if state.stale:
            await self._poll(state, why="stale")  # keep trying
            return
        silent = self._clock() - state.last_new
        if silent < self._stale_after:
            return
        live_log().warning("live_recovering", symbol=state.name, silent_s=round(silent, 3))
        if await self._poll(state, why="stale"):
            return
        state.stale = True
        reason = (
            f"{state.name}: no new closed {self._timeframe} bar from {self._source.id} "
            f"for {silent:g} s (stale_timeout {self._stale_after:g} s)"
        )
        live_log().warning("live_stale", symbol=state.name, reason=reason)
        assert self._send is not None
        self._send.send_nowait(StreamStatus(stale=True, reason=reason, symbol=state.name))


_COLUMNS = ("open", "high", "low", "close", "volume")


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)
