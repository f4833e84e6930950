"""LiveBarStream: closed bars exactly once and in order, through drops, replays and reconnects.

The venue is faked by `FakeVenue` (a dependency, not the stream under test): it holds the rows
that exist (the last one is forming) and a queue of websocket updates that the test fills.
"""

from __future__ import annotations

from collections import deque
from collections.abc import MutableMapping, Sequence
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from quantkit.data.fetch import RetryPolicy
from quantkit.data.live import LiveBarStream, LiveRow, StreamStatus
from quantkit.domain.bars import Bar
from quantkit.errors import (
    ConfigError,
    DataError,
    ExchangeError,
    RequestTimeoutError,
    VenueUnavailableError,
)
from tests.strategies import LiveOp, live_ops

STEP = 60_000  # 1m in ms
START = 1_704_067_200_000  # 2024-01-01T00:00:00Z
FAST = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0, jitter=0.0)


def row_at(opened: int, bump: float = 0.0) -> LiveRow:
    level = 100.0 + (opened - START) / STEP + bump
    return (opened, level, level + 2.0, level - 1.0, level + 1.0, 3.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeVenue:
    """Rows per symbol (the last one forming) and queued websocket updates."""

    id = "fake"

    def __init__(self, symbols: Sequence[str] = ("BTC/USDT",), bars: int = 20) -> None:
        self.rows = {s: [row_at(START + i * STEP) for i in range(bars + 1)] for s in symbols}
        self.updates: dict[str, deque[list[LiveRow] | Exception]] = {s: deque() for s in symbols}
        self.arrived = {s: anyio.Event() for s in symbols}
        self.websocket = True
        self.fetches: list[tuple[str, int, int]] = []
        self.fetch_errors: deque[Exception] = deque()
        self.holes: set[int] = set()  # open times REST does not serve
        self.fetched = anyio.Event()
        self.empty_answers = 0  # REST answers with nothing this many times
        self.single_rows = False  # updates carry one row each, as ccxt's newUpdates mode does

    def now(self) -> float:
        """Wall clock in seconds: half-way through the forming bar of the first symbol."""
        first = next(iter(self.rows.values()))
        return (first[-1][0] + STEP // 2) / 1000

    def closed(self, symbol: str) -> list[int]:
        return [row[0] for row in self.rows[symbol][:-1] if row[0] not in self.holes]

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[LiveRow]:
        assert timeframe == "1m"
        self.fetches.append((symbol, since_ms, limit))
        self.fetched.set()
        if self.fetch_errors:
            raise self.fetch_errors.popleft()
        if self.empty_answers:
            self.empty_answers -= 1
            return []
        rows = [r for r in self.rows[symbol] if r[0] >= since_ms and r[0] not in self.holes]
        return rows[:limit]

    async def watch_ohlcv(self, symbol: str, timeframe: str) -> list[LiveRow]:
        assert timeframe == "1m"
        await anyio.lowlevel.checkpoint()  # a real venue awaits its socket
        if not self.websocket:
            raise ExchangeError("fake has no websocket (watchOHLCV not supported)", exchange="fake")
        while not self.updates[symbol]:
            self.arrived[symbol] = anyio.Event()
            await self.arrived[symbol].wait()
        update = self.updates[symbol].popleft()
        if isinstance(update, Exception):
            raise update
        return update

    def push(self, symbol: str, update: list[LiveRow] | Exception) -> None:
        self.updates[symbol].append(update)
        self.arrived[symbol].set()

    def advance(self, symbol: str = "BTC/USDT", *, push: bool = True) -> None:
        """The forming bar closes and a new one starts; the update is sent unless dropped."""
        rows = self.rows[symbol]
        rows.append(row_at(rows[-1][0] + STEP))
        if push and self.single_rows:  # the closed bar's final values, then the new bar
            self.push(symbol, rows[-2:-1])
            self.push(symbol, rows[-1:])
        elif push:
            self.push(symbol, rows[-2:])

    def tick(self, symbol: str = "BTC/USDT", bump: float = 0.5) -> None:
        """The forming bar changes (an update with the forming row only)."""
        rows = self.rows[symbol]
        rows[-1] = row_at(rows[-1][0], bump)
        self.push(symbol, rows[-1:])

    def replay(self, symbol: str = "BTC/USDT", count: int = 3) -> None:
        self.push(symbol, self.rows[symbol][-count:])


def make_stream(
    venue: FakeVenue, symbols: Sequence[str] = ("BTC/USDT",), **kwargs: object
) -> LiveBarStream:
    options: dict[str, object] = {"retry": FAST, "poll_interval": 0.01, "wall_clock": venue.now}
    options.update(kwargs)
    return LiveBarStream(venue, symbols, "1m", **options)  # type: ignore[arg-type]


async def take(stream: LiveBarStream, count: int, timeout: float = 60) -> list[Bar | StreamStatus]:
    items: list[Bar | StreamStatus] = []
    with anyio.fail_after(timeout):
        for _ in range(count):
            items.append(await stream.__anext__())
    return items


def opens(items: Sequence[Bar | StreamStatus]) -> list[int]:
    return [item.open_time // 1_000_000 for item in items if isinstance(item, Bar)]


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [log for log in logs if log["event"] == name]


# -- warm-up --


@pytest.mark.anyio
async def test_warmup_returns_the_last_closed_bars_paging_over_rest() -> None:
    venue = FakeVenue(bars=30)
    async with make_stream(venue, page_size=7) as stream:
        history = await stream.warmup(12)
    series = history["BTC/USDT"]
    closed = venue.closed("BTC/USDT")
    assert [t // 1_000_000 for t in series.open_time] == closed[-12:]
    assert all(series.close_time - series.open_time == STEP * 1_000_000)
    assert series.bar(-1).close == row_at(closed[-1])[4]
    assert len(venue.fetches) >= 2  # paged


@pytest.mark.anyio
async def test_the_memory_of_handed_out_rows_is_bounded() -> None:
    venue = FakeVenue(bars=1002)
    with capture_logs() as logs:
        async with make_stream(venue) as stream:
            history = await stream.warmup(1001)
            venue.advance()
            venue.replay(count=1003)  # the oldest row is forgotten; the rest are known
            venue.advance()
            items = await take(stream, 2)
    assert len(history["BTC/USDT"]) == 1001
    assert opens(items) == venue.closed("BTC/USDT")[-2:]
    assert not events(logs, "live_bar_changed")


@pytest.mark.anyio
async def test_warmup_refuses_bad_counts_and_empty_venues() -> None:
    venue = FakeVenue(bars=0)  # only a forming bar
    stream = make_stream(venue)
    with pytest.raises(ConfigError, match="bars must be a positive integer"):
        await stream.warmup(0)
    with pytest.raises(DataError, match="fake BTC/USDT 1m warm-up"):
        await stream.warmup(5)


@pytest.mark.anyio
async def test_warmup_after_iteration_started_is_refused() -> None:
    venue = FakeVenue()
    async with make_stream(venue) as stream:
        await stream.warmup(3)
        venue.advance()
        await take(stream, 1)
        with pytest.raises(RuntimeError, match="before iterating"):
            await stream.warmup(3)


# -- the closed-bar rule, duplicates, changes --


@pytest.mark.anyio
async def test_forming_row_is_handed_out_only_once_closed_with_its_final_values() -> None:
    venue = FakeVenue()
    async with make_stream(venue) as stream:
        await stream.warmup(5)
        forming = venue.rows["BTC/USDT"][-1][0]
        venue.tick(bump=0.25)
        venue.tick(bump=0.75)  # the forming bar's latest values
        venue.advance()
        (bar,) = await take(stream, 1)
    assert isinstance(bar, Bar)
    assert bar.open_time == forming * 1_000_000
    assert bar.close_time == (forming + STEP) * 1_000_000
    assert bar.close == row_at(forming, 0.75)[4]
    assert bar.symbol == "BTC/USDT"


@pytest.mark.anyio
async def test_replayed_rows_are_yielded_once_and_changes_are_only_logged() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue) as stream:
            await stream.warmup(5)
            venue.advance()
            venue.replay(count=6)
            venue.replay(count=2)
            venue.push("BTC/USDT", [])  # an empty update
            venue.advance()
            items = await take(stream, 2)
            changed = venue.rows["BTC/USDT"][-2][0]
            venue.push("BTC/USDT", [row_at(changed, 9.0), venue.rows["BTC/USDT"][-1]])
            venue.push("BTC/USDT", [row_at(changed, 9.0), venue.rows["BTC/USDT"][-1]])
            venue.advance()
            items += await take(stream, 1)
    assert opens(items) == venue.closed("BTC/USDT")[-3:]
    (warning,) = events(logs, "live_bar_changed")
    assert warning["open_ms"] == changed
    assert warning["log_level"] == "warning"


@pytest.mark.anyio
async def test_final_values_sent_alone_before_the_next_bar_opens() -> None:
    venue = FakeVenue()
    venue.single_rows = True  # like ccxt's watch_ohlcv: only what changed since the last call
    async with make_stream(venue) as stream:
        await stream.warmup(5)
        venue.tick(bump=0.5)
        forming = venue.rows["BTC/USDT"][-1][0]
        venue.rows["BTC/USDT"][-1] = row_at(forming, 0.9)  # the final values
        venue.advance()
        venue.advance()
        items = await take(stream, 2)
    assert opens(items) == [forming, forming + STEP]
    first = items[0]
    assert isinstance(first, Bar)
    assert first.close == row_at(forming, 0.9)[4]


# -- gaps and reconnects --


@pytest.mark.anyio
async def test_dropped_updates_are_back_filled_in_order() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue, page_size=2) as stream:
            await stream.warmup(5)
            last = venue.closed("BTC/USDT")[-1]
            venue.advance(push=False)
            venue.advance(push=False)
            venue.advance(push=False)
            venue.advance()
            items = await take(stream, 4)
    assert opens(items) == [last + STEP * i for i in range(1, 5)]
    assert ("BTC/USDT", last + STEP, 2) in venue.fetches  # from the first missing bar, paged
    (log,) = events(logs, "live_backfilled")
    assert log["reason"] == "gap"
    assert log["bars"] == 3


@pytest.mark.anyio
async def test_disconnects_reconnect_with_backoff_and_lose_nothing() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue) as stream:
            await stream.warmup(5)
            venue.advance()
            first = await take(stream, 1)
            venue.push("BTC/USDT", VenueUnavailableError("socket closed"))
            venue.push("BTC/USDT", OSError("connection reset"))
            venue.push("BTC/USDT", ExchangeError("connection lost", exchange="fake"))
            venue.push("BTC/USDT", DataError("malformed kline", source="fake"))
            venue.advance(push=False)
            venue.advance(push=False)
            venue.push("BTC/USDT", venue.rows["BTC/USDT"][-1:])  # resumes with the forming row
            rest = await take(stream, 2)
    assert opens(first + rest) == venue.closed("BTC/USDT")[-3:]
    attempts = [log["attempt"] for log in events(logs, "live_reconnecting")]
    assert attempts == [1, 2, 3, 4]
    assert events(logs, "live_reconnected")[0]["after_failures"] == 4
    reasons = [log["reason"] for log in events(logs, "live_backfilled")]
    assert "reconnect" in reasons


@pytest.mark.anyio
async def test_a_hole_in_the_venue_data_is_skipped_with_a_warning() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue) as stream:
            await stream.warmup(5)
            venue.advance(push=False)
            venue.holes.add(venue.rows["BTC/USDT"][-2][0])
            venue.advance()
            items = await take(stream, 1)
    assert opens(items) == venue.closed("BTC/USDT")[-1:]
    assert len(events(logs, "live_venue_hole")) == 1


@pytest.mark.anyio
async def test_a_failed_back_fill_keeps_bars_back_until_it_succeeds() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue, retry=RetryPolicy(max_attempts=1)) as stream:
            await stream.warmup(5)
            venue.advance(push=False)
            venue.fetch_errors.append(RequestTimeoutError("slow"))
            venue.advance()
            venue.replay(count=2)  # the next update retries the back-fill
            items = await take(stream, 2)
    assert opens(items) == venue.closed("BTC/USDT")[-2:]
    assert len(events(logs, "live_backfill_failed")) == 1


# -- polling --


@pytest.mark.anyio
async def test_no_websocket_falls_back_to_polling_and_logs_once() -> None:
    venue = FakeVenue(("BTC/USDT", "ETH/USDT"))
    venue.websocket = False
    with capture_logs() as logs:
        async with make_stream(venue, ("BTC/USDT", "ETH/USDT")) as stream:
            await stream.warmup(3)
            venue.advance("BTC/USDT", push=False)
            venue.advance("ETH/USDT", push=False)
            items = await take(stream, 2)
    assert [(item.symbol, item.open_time) for item in items if isinstance(item, Bar)] == [
        ("BTC/USDT", venue.closed("BTC/USDT")[-1] * 1_000_000),
        ("ETH/USDT", venue.closed("ETH/USDT")[-1] * 1_000_000),
    ]
    assert len(events(logs, "live_polling_fallback")) == 1


@pytest.mark.anyio
async def test_polling_mode_survives_transient_failures() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue, websocket=False, retry=RetryPolicy(max_attempts=1)) as stream:
            await stream.warmup(3)
            venue.empty_answers = 1
            venue.fetch_errors.append(VenueUnavailableError("502"))
            venue.advance(push=False)
            venue.advance(push=False)
            items = await take(stream, 2)
    assert opens(items) == venue.closed("BTC/USDT")[-2:]
    assert events(logs, "live_poll_failed")[0]["error"].endswith("502")


@pytest.mark.anyio
async def test_without_warmup_only_bars_closing_after_the_start_come_out() -> None:
    venue = FakeVenue()
    items: list[Bar | StreamStatus] = []

    async def collect(stream: LiveBarStream) -> None:
        items.extend(await take(stream, 1))

    async with make_stream(venue) as stream, anyio.create_task_group() as group:
        closed_before = venue.closed("BTC/USDT")
        group.start_soon(collect, stream)
        with anyio.fail_after(60):
            await venue.fetched.wait()  # the stream has found where it starts
        venue.advance()
    assert opens(items) == [closed_before[-1] + STEP]


@pytest.mark.anyio
async def test_a_venue_with_nothing_closed_yet_starts_with_the_first_bar_that_closes() -> None:
    venue = FakeVenue(bars=0)
    items: list[Bar | StreamStatus] = []

    async def collect(stream: LiveBarStream) -> None:
        items.extend(await take(stream, 1))

    async with make_stream(venue, websocket=False) as stream, anyio.create_task_group() as group:
        group.start_soon(collect, stream)
        with anyio.fail_after(60):
            await venue.fetched.wait()
        venue.advance(push=False)
    assert opens(items) == [START]


# -- stale detection --


@pytest.mark.anyio
async def test_silence_yields_stale_once_then_fresh_before_the_next_bar() -> None:
    venue = FakeVenue()
    clock = FakeClock()
    with capture_logs() as logs:
        async with make_stream(venue, clock=clock, stale_timeout=30.0) as stream:
            await stream.warmup(3)
            venue.advance()
            await take(stream, 1)
            fetches = len(venue.fetches)
            clock.now += 31
            (stale,) = await take(stream, 1)
            assert len(venue.fetches) > fetches  # recovery polled REST first
            fetches = len(venue.fetches)
            with anyio.fail_after(60):
                while len(venue.fetches) == fetches:  # it keeps trying over REST
                    venue.fetched = anyio.Event()
                    await venue.fetched.wait()
            venue.advance()
            fresh, bar = await take(stream, 2)
    assert isinstance(stale, StreamStatus)
    assert stale == StreamStatus(stale=True, reason=stale.reason, symbol="BTC/USDT")
    assert "no new closed 1m bar" in stale.reason
    assert isinstance(fresh, StreamStatus)
    assert not fresh.stale
    assert fresh.symbol == "BTC/USDT"
    assert isinstance(bar, Bar)
    assert [log["event"] for log in logs if log["event"] in ("live_stale", "live_fresh")] == [
        "live_stale",
        "live_fresh",
    ]
    assert len(events(logs, "live_recovering")) == 1


@pytest.mark.anyio
async def test_recovery_over_rest_avoids_a_stale_status() -> None:
    venue = FakeVenue()
    clock = FakeClock()
    async with make_stream(venue, clock=clock, stale_timeout=30.0) as stream:
        await stream.warmup(3)
        venue.advance()
        items = await take(stream, 1)
        venue.advance(push=False)  # the websocket missed it
        clock.now += 30
        items += await take(stream, 1)
    assert opens(items) == venue.closed("BTC/USDT")[-2:]


@pytest.mark.anyio
async def test_real_short_stale_timeout() -> None:
    venue = FakeVenue()
    async with make_stream(venue, stale_timeout=0.1, poll_interval=0.02) as stream:
        await stream.warmup(3)
        (status,) = await take(stream, 1)
    assert isinstance(status, StreamStatus)
    assert status.stale


# -- several symbols --


@pytest.mark.anyio
async def test_several_symbols_come_out_by_close_time_then_symbol_order() -> None:
    symbols = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    venue = FakeVenue(symbols)
    async with make_stream(venue, symbols) as stream:
        await stream.warmup(3)
        for _ in range(2):
            for symbol in reversed(symbols):  # updates arrive in reverse symbol order
                venue.advance(symbol)
        items = await take(stream, 6)
    keys = [(item.close_time, item.symbol) for item in items if isinstance(item, Bar)]
    assert keys == sorted(keys, key=lambda key: (key[0], symbols.index(key[1])))
    assert len(keys) == 6


@pytest.mark.anyio
async def test_a_silent_symbol_holds_the_others_only_briefly() -> None:
    venue = FakeVenue(("BTC/USDT", "ETH/USDT"))
    async with make_stream(venue, ("BTC/USDT", "ETH/USDT")) as stream:
        await stream.warmup(3)
        venue.advance("ETH/USDT")
        items = await take(stream, 1)
    assert [item.symbol for item in items if isinstance(item, Bar)] == ["ETH/USDT"]


# -- errors and lifecycle --


@pytest.mark.anyio
async def test_a_permanent_refusal_reaches_the_consumer() -> None:
    venue = FakeVenue()
    venue.websocket = False
    async with make_stream(venue) as stream:
        await stream.warmup(3)
        venue.fetch_errors.append(ExchangeError("unknown symbol BTC/USDT", exchange="fake"))
        with pytest.raises(ExchangeError, match="unknown symbol"):
            await take(stream, 1)
        with pytest.raises(StopAsyncIteration):  # the stream has ended
            await stream.__anext__()


@pytest.mark.anyio
async def test_an_invalid_bar_is_logged_and_dropped() -> None:
    venue = FakeVenue()
    with capture_logs() as logs:
        async with make_stream(venue) as stream:
            await stream.warmup(3)
            rows = venue.rows["BTC/USDT"]
            opened = rows[-1][0]
            rows[-1] = (opened, 100.0, 90.0, 95.0, 100.0, 1.0)  # high below open
            venue.advance()
            venue.advance()
            items = await take(stream, 1)
    assert opens(items) == [opened + STEP]
    assert events(logs, "live_invalid_bar")[0]["open_ms"] == opened


@pytest.mark.anyio
async def test_iteration_needs_async_with_and_ends_after_aclose() -> None:
    venue = FakeVenue()
    stream = make_stream(venue)
    await stream.aclose()  # harmless before use
    stream = make_stream(venue)
    with pytest.raises(RuntimeError, match="async with"):
        await stream.__anext__()
    async with stream:
        assert stream.__aiter__() is stream
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"symbols": []}, "symbols must be a non-empty list"),
        ({"symbols": "BTC/USDT"}, "symbols must be a non-empty list"),
        ({"symbols": ["A/B", "A/B"]}, "must not repeat"),
        ({"timeframe": "1x"}, "not understood"),
        ({"poll_interval": 0}, "poll_interval must be a positive"),
        ({"poll_interval": "1"}, "poll_interval must be a number"),
        ({"stale_timeout": float("nan")}, "stale_timeout must be a positive"),
        ({"page_size": 1}, "page_size must be an integer >= 2"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"symbols": ["BTC/USDT"], "timeframe": "1m", **kwargs}
    with pytest.raises(ConfigError, match=match):
        LiveBarStream(FakeVenue(), **arguments)  # type: ignore[arg-type]


def test_defaults_follow_the_timeframe() -> None:
    stream = LiveBarStream(FakeVenue(), ["BTC/USDT"], "1m")
    assert stream._interval == 6.0
    assert stream._stale_after == 120.0
    assert LiveBarStream(FakeVenue(), ["BTC/USDT"], "1s")._interval == 0.1
    assert LiveBarStream(FakeVenue(), ["BTC/USDT"], "1d")._interval == 15.0


# -- the property --


def apply(venue: FakeVenue, op: LiveOp) -> None:
    kind, value = op
    if kind == "advance":
        venue.advance(push=bool(value))
    elif kind == "replay":
        venue.replay(count=value)
    elif kind == "disconnect":
        venue.push("BTC/USDT", OSError("connection reset by peer"))
    else:
        venue.tick()


@settings(max_examples=60)
@given(ops=live_ops, single_rows=st.booleans())
def test_any_mix_of_drops_replays_and_reconnects_yields_each_closed_bar_once_in_order(
    ops: list[LiveOp], single_rows: bool
) -> None:
    async def scenario() -> tuple[list[Bar | StreamStatus], list[LiveRow]]:
        venue = FakeVenue(bars=8)
        venue.single_rows = single_rows
        with capture_logs():
            async with make_stream(venue) as stream:
                await stream.warmup(4)
                start = venue.closed("BTC/USDT")[-1]
                for op in ops:
                    apply(venue, op)
                venue.advance()
                expected = [t for t in venue.closed("BTC/USDT") if t > start]
                items = await take(stream, len(expected))
                venue.advance()  # nothing repeated before the next new bar
                items += await take(stream, 1)
        final = {row[0]: row for row in venue.rows["BTC/USDT"]}
        return items, [final[t] for t in [*expected, venue.closed("BTC/USDT")[-1]]]

    items, expected = anyio.run(scenario)
    assert opens(items) == [row[0] for row in expected]
    assert [(bar.open, bar.close) for bar in items if isinstance(bar, Bar)] == [
        (row[1], row[4]) for row in expected
    ]


# -- unfinished bars after an outage (issue 11 item 9) --


@pytest.mark.anyio
async def test_a_forming_row_seen_before_an_outage_is_never_handed_out_as_closed() -> None:
    venue = FakeVenue()
    venue.single_rows = True  # ccxt hands out one row per update
    async with make_stream(venue) as stream:
        await stream.warmup(5)
        forming = venue.rows["BTC/USDT"][-1][0]
        flat = (forming, 7.0, 7.0, 7.0, 7.0, 0.0)  # the bar's first tick
        venue.push("BTC/USDT", [flat])
        venue.advance(push=False)  # the socket is silent when the bar closes ...
        venue.advance(push=False)
        venue.push("BTC/USDT", venue.rows["BTC/USDT"][-2:-1])  # ... and resumes a bar later
        items = await take(stream, 2)
    expected = [row_at(forming), row_at(forming + STEP)]
    assert [(b.open_time // 1_000_000, b.open, b.high, b.low, b.close, b.volume) for b in items
            if isinstance(b, Bar)] == expected  # fmt: skip


@pytest.mark.anyio
async def test_a_stale_cached_row_after_a_silent_socket_is_confirmed_over_rest() -> None:
    venue = FakeVenue()
    async with make_stream(venue) as stream:
        await stream.warmup(5)
        forming = venue.rows["BTC/USDT"][-1][0]
        venue.advance(push=False)
        venue.advance(push=False)
        stale = (forming, 7.0, 7.0, 7.0, 7.0, 0.0)  # what a client cached before the outage
        venue.push("BTC/USDT", [stale, *venue.rows["BTC/USDT"][-2:]])
        items = await take(stream, 2)
    assert [b.close for b in items if isinstance(b, Bar)] == [
        row_at(forming)[4],
        row_at(forming + STEP)[4],
    ]


@pytest.mark.anyio
async def test_a_muted_websocket_on_the_local_exchange_hands_out_no_unfinished_bar() -> None:
    from quantkit.exchanges import CcxtExchange
    from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

    local = LocalExchange(start="2024-01-01", end="2024-01-01 01:00", live=True, warmup=10)
    async with (
        local,
        CcxtExchange(
            "binance", api_url=local.url, options=LOCAL_CCXT_OPTIONS, rate_limit=False
        ) as venue,
    ):
        published = local.candles("BTC/USDT").index[local.published - 1].timestamp() + 30
        stream = LiveBarStream(
            venue, ["BTC/USDT"], "1m", poll_interval=0.05, stale_timeout=60.0,
            wall_clock=lambda: published,
        )  # fmt: skip
        async with stream:
            await stream.warmup(3)
            bars: list[Bar] = []
            arrived = anyio.Event()

            async def consume() -> None:
                nonlocal arrived
                async for item in stream:
                    if isinstance(item, Bar):
                        bars.append(item)
                        arrived.set()

            async def wait_for(count: int) -> None:
                nonlocal arrived
                with anyio.fail_after(60):
                    while len(bars) < count:
                        arrived = anyio.Event()
                        await arrived.wait()

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(consume)
                with anyio.fail_after(60):
                    while not local.ws_api.subscriptions():
                        await anyio.sleep(0.005)
                await anyio.to_thread.run_sync(local.publish)
                await wait_for(1)
                local.mute_websockets(True)  # the socket stays open but goes silent ...
                await anyio.to_thread.run_sync(local.publish)
                local.mute_websockets(False)  # ... for the close of one bar
                await anyio.to_thread.run_sync(local.publish)
                await wait_for(3)
                tasks.cancel_scope.cancel()
    candles = local.candles("BTC/USDT")
    expected = candles.iloc[local.published - 3 : local.published]
    got = [(b.open, b.high, b.low, b.close, b.volume) for b in bars]
    columns = expected[["open", "high", "low", "close", "volume"]]
    want = [tuple(float(v) for v in row) for row in columns.itertuples(index=False)]
    assert got == want
    assert all(b.volume > 0 and b.high > b.low for b in bars)
