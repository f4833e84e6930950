"""Downloads through the real ccxt client against the local exchange on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import io
import sys
import time
from collections.abc import Sequence

import anyio
import numpy as np
import pandas as pd
import pytest

from quantkit.data.fetch import RetryPolicy, afetch_ohlcv_range, fetch_ohlcv_range
from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.data.trades import afetch_trades_range, fetch_trades_range, trades_to_bars
from quantkit.errors import (
    ConfigError,
    DataError,
    ExchangeError,
    RateLimitedError,
    RequestTimeoutError,
    TransientError,
    VenueUnavailableError,
)
from quantkit.exchanges import CcxtExchange
from quantkit.testing import LocalExchange

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.5, jitter=0.0)
KLINES = "/api/v3/klines"
AGG_TRADES = "/api/v3/aggTrades"
DAY_ONE = pd.Timestamp("2024-01-01", tz="UTC")


pytestmark = pytest.mark.usefixtures("clean_local")


@pytest.fixture
def venue(local: LocalExchange) -> CcxtExchange:
    return local.ccxt_exchange()


def truth(local: LocalExchange, start: str, end: str, symbol: str = "BTC/USDT") -> pd.DataFrame:
    frame = local.candles(symbol)
    return frame[(frame.index >= pd.Timestamp(start, tz="UTC")) & (frame.index < end)]


def times(frame: pd.DataFrame) -> pd.DatetimeIndex:
    assert isinstance(frame.index, pd.DatetimeIndex)
    return frame.index


def assert_bar_frame(frame: pd.DataFrame) -> None:
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.name == "time"
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert frame.index.is_monotonic_increasing
    assert frame.index.is_unique


# ------------------------------------------------------------------------------- paging


def test_pages_of_1000_bring_2500_bars_equal_to_the_servers(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    bars = fetch_ohlcv_range(venue, "BTC/USDT", "1m", "2024-01-01", "2024-01-02 17:40", retry=FAST)
    assert_bar_frame(bars)
    assert len(bars) == 2500
    pd.testing.assert_frame_equal(bars, truth(local, "2024-01-01", "2024-01-02 17:40"))
    pages = local.requests(KLINES)
    assert [r.query["limit"] for r in pages] == ["1000", "1000", "500"]
    assert [int(r.query["startTime"]) for r in pages] == [
        1704067200000,
        1704067200000 + 1000 * 60_000,
        1704067200000 + 2000 * 60_000,
    ]
    assert bars.attrs == {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m"}


def test_bounds_are_half_open_on_bar_open_times(local: LocalExchange, venue: CcxtExchange) -> None:
    bars = fetch_ohlcv_range(
        venue, "ETH/USDT", "1h", "2024-01-01 00:30", dt.datetime(2024, 1, 2, 5), retry=FAST
    )
    assert bars.index[0] == pd.Timestamp("2024-01-01 01:00", tz="UTC")
    assert bars.index[-1] == pd.Timestamp("2024-01-02 04:00", tz="UTC")
    expected = local.candles("ETH/USDT", "1h").loc["2024-01-01 01:00":"2024-01-02 04:00"]
    pd.testing.assert_frame_equal(bars, expected)


def test_a_range_beyond_the_data_ends_at_the_first_empty_page(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    bars = fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-14 20:00", "2024-03-01", retry=FAST)
    assert list(times(bars).strftime("%d %H")) == ["14 20", "14 21", "14 22", "14 23"]
    assert len(local.requests(KLINES)) == 2  # the page with the data, then an empty one


def test_holes_in_the_venues_data_stay_holes_and_do_not_stop_the_download() -> None:
    times = pd.date_range("2024-03-01", periods=4000, freq="1min", tz="UTC", unit="ns")
    keep = np.ones(times.size, dtype=bool)
    keep[100:103] = False  # a three-minute hole
    keep[1200:2900] = False  # a hole longer than a page
    keep[3990:] = False  # the data ends early
    prices = np.round(np.linspace(100, 200, times.size), 2)
    frame = pd.DataFrame(
        {"open": prices, "high": prices + 1, "low": prices - 1, "close": prices, "volume": 1.5},
        index=times,
    )[keep]
    with LocalExchange(candles={"SOL/USDT": frame}) as local:
        bars = fetch_ohlcv_range(
            local.ccxt_exchange(), "SOL/USDT", "1m", "2024-03-01", "2024-03-04", retry=FAST
        )
        pages = local.requests(KLINES)
    pd.testing.assert_frame_equal(bars, frame.rename_axis("time"), check_freq=False)
    # 1000 bars, a page across the long hole, the rest, then the empty page past the data.
    assert len(pages) == 4


def test_a_truncated_page_is_not_taken_for_the_end(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    local.faults.truncate(KLINES, keep=10)
    bars = fetch_ohlcv_range(venue, "BTC/USDT", "1m", "2024-01-03", "2024-01-03 20:00", retry=FAST)
    pd.testing.assert_frame_equal(bars, truth(local, "2024-01-03", "2024-01-03 20:00"))
    pages = local.requests(KLINES)
    assert [r.fault for r in pages] == ["truncate 10", None, None]
    assert int(pages[1].query["startTime"]) - int(pages[0].query["startTime"]) == 10 * 60_000


# ------------------------------------------------------------------------------ retries


def test_rate_limit_answers_are_retried_after_the_venues_retry_after(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    local.faults.rate_limit(KLINES, times=2, retry_after=0.2)
    bars = fetch_ohlcv_range(venue, "BTC/USDT", "5m", "2024-01-05", "2024-01-06", retry=FAST)
    pd.testing.assert_frame_equal(
        bars, local.candles("BTC/USDT", "5m").loc["2024-01-05":"2024-01-05 23:55"]
    )
    pages = local.requests(KLINES)
    assert [r.fault for r in pages] == ["429", "429", None]
    gaps = np.diff([r.time for r in pages])
    assert (gaps >= 0.2).all(), gaps  # the policy's own backoff is 1-2 ms


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(local: LocalExchange, venue: CcxtExchange, status: int) -> None:
    local.faults.fail(KLINES, status=status, times=2)
    bars = fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", retry=FAST)
    assert len(bars) == 24
    assert [r.fault for r in local.requests(KLINES)] == [str(status), str(status), None]


def test_exhausted_retries_on_server_errors_raise_venue_unavailable(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    local.faults.fail(KLINES, status=503, times=10)
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, jitter=0.0)
    with pytest.raises(VenueUnavailableError) as caught:
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", retry=policy)
    message = str(caught.value)
    assert message.startswith("binance BTC/USDT 1h candles: gave up after 3 attempts: binance:")
    assert "ExchangeNotAvailable" in message
    assert isinstance(caught.value.__cause__, VenueUnavailableError)
    assert len(local.requests(KLINES)) == 3


def test_exhausted_retries_on_rate_limits_raise_rate_limited(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    local.faults.rate_limit(KLINES, times=10, retry_after=0.01)
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, jitter=0.0)
    with pytest.raises(RateLimitedError, match="gave up after 2 attempts") as caught:
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", retry=policy)
    assert caught.value.retry_after == pytest.approx(0.01)


def test_a_retry_after_longer_than_max_delay_fails_at_once(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    local.faults.rate_limit(KLINES, times=1, retry_after=120)
    with pytest.raises(RateLimitedError, match=r"asks to wait 120 s, longer than") as caught:
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", retry=FAST)
    assert caught.value.retry_after == 120
    assert len(local.requests(KLINES)) == 1


def test_slow_answers_time_out_and_are_retried(local: LocalExchange) -> None:
    # an answer an hour late against a 3 s timeout: the prompt answers keep a margin under load
    local.faults.delay(KLINES, seconds=3600, times=1)
    venue = local.ccxt_exchange(timeout=3.0)
    bars = fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", retry=FAST)
    assert len(bars) == 24
    assert [r.fault for r in local.requests(KLINES)] == ["delay 3600s", None]


def test_exhausted_retries_on_timeouts_raise_request_timeout(local: LocalExchange) -> None:
    local.faults.delay(KLINES, seconds=3600, times=2)
    venue = local.ccxt_exchange(timeout=3.0)
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, jitter=0.0)
    with pytest.raises(RequestTimeoutError, match="gave up after 2 attempts: binance: Request"):
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", retry=policy)


# ------------------------------------------------------------------ permanent failures


def test_an_unknown_symbol_fails_at_once_naming_venue_symbol_and_timeframe(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    with pytest.raises(ExchangeError) as caught:
        fetch_ohlcv_range(venue, "BTC/USDC", "1h", "2024-01-02", "2024-01-03", retry=FAST)
    assert str(caught.value) == (
        "binance: cannot download BTC/USDC 1h candles: unknown symbol 'BTC/USDC'; "
        "did you mean 'BTC/USDT', 'ETH/USDT'?"
    )
    assert caught.value.exchange == "binance"
    assert [r.path for r in local.requests()] == ["/api/v3/exchangeInfo"]


def test_an_unsupported_timeframe_fails_before_any_request(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    with pytest.raises(
        ExchangeError, match=r"cannot download BTC/USDT 7m candles: timeframe '7m' is"
    ):
        fetch_ohlcv_range(venue, "BTC/USDT", "7m", "2024-01-02", "2024-01-03", retry=FAST)
    assert local.requests() == []


def test_bad_dates_fail_before_any_request(local: LocalExchange, venue: CcxtExchange) -> None:
    with pytest.raises(ConfigError, match="must be after start"):
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-03", "2024-01-02")
    with pytest.raises(ConfigError, match="not a date"):
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "someday", "2024-01-02")
    assert local.requests() == []


# --------------------------------------------------------------------------- end = now


def test_without_an_end_the_bar_still_forming_is_left_out() -> None:
    now = pd.Timestamp.now(tz="UTC").floor("1min")
    with LocalExchange(start=now - pd.Timedelta("2h"), end=now + pd.Timedelta("2h")) as local:
        before = pd.Timestamp.now(tz="UTC")
        bars = fetch_ohlcv_range(
            local.ccxt_exchange(), "BTC/USDT", "1m", now - pd.Timedelta("1h"), retry=FAST
        )
        after = pd.Timestamp.now(tz="UTC")
    assert bars.index[0] == now - pd.Timedelta("1h")
    closes = times(bars) + pd.Timedelta("1min")
    assert closes[-1] <= after
    assert closes[-1] > before - pd.Timedelta("1min")


# ----------------------------------------------------------------------------- progress


def test_progress_can_be_forced_on(venue: CcxtExchange, capsys: pytest.CaptureFixture[str]) -> None:
    fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03", progress=True)
    assert "binance BTC/USDT 1h" in capsys.readouterr().err


def test_progress_is_off_when_not_on_a_terminal(
    venue: CcxtExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    fetch_ohlcv_range(venue, "BTC/USDT", "1m", "2024-01-02", "2024-01-04", retry=FAST)
    assert capsys.readouterr().err == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_for_downloads_of_several_pages(
    venue: CcxtExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminals = [Terminal(), Terminal(), Terminal()]
    monkeypatch.setattr(sys, "stderr", terminals[0])
    fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03")
    assert terminals[0].getvalue() == ""  # one page: no bar
    monkeypatch.setattr(sys, "stderr", terminals[1])
    fetch_ohlcv_range(venue, "BTC/USDT", "1m", "2024-01-02", "2024-01-04", progress=None)
    assert "binance BTC/USDT 1m" in terminals[1].getvalue()
    monkeypatch.setattr(sys, "stderr", terminals[2])
    fetch_ohlcv_range(venue, "BTC/USDT", "1m", "2024-01-02", "2024-01-04", progress=False)
    assert terminals[2].getvalue() == ""


# ---------------------------------------------------------------------------- async use


@pytest.mark.anyio
async def test_async_downloads_run_side_by_side_on_one_client(local: LocalExchange) -> None:
    results: dict[str, pd.DataFrame] = {}
    async with local.ccxt_exchange() as venue:

        async def one(symbol: str) -> None:
            results[symbol] = await afetch_ohlcv_range(
                venue, symbol, "15m", "2024-01-01", "2024-01-12", retry=FAST
            )

        async with anyio.create_task_group() as group:
            for symbol in ("BTC/USDT", "ETH/USDT", "ETH/BTC"):
                group.start_soon(one, symbol)
    for symbol, bars in results.items():
        expected = local.candles(symbol, "15m").loc[:"2024-01-11 23:45"]
        pd.testing.assert_frame_equal(bars, expected)
    assert len(local.requests("/api/v3/exchangeInfo")) == 1


@pytest.mark.anyio
async def test_the_sync_helpers_refuse_to_run_inside_an_event_loop(venue: CcxtExchange) -> None:
    with pytest.raises(RuntimeError, match=r"use `await afetch_ohlcv_range\(...\)`"):
        fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03")
    with pytest.raises(RuntimeError, match=r"fetch_trades_range\(\) cannot run inside"):
        fetch_trades_range(venue, "BTC/USDT", "2024-01-02", "2024-01-03")


def test_a_source_is_reusable_after_a_sync_download(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    first = fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03")
    second = fetch_ohlcv_range(venue, "BTC/USDT", "1h", "2024-01-02", "2024-01-03")
    pd.testing.assert_frame_equal(first, second)
    assert len(local.requests("/api/v3/exchangeInfo")) == 1  # the markets were kept


# --------------------------------------------------------------------- odd sources


class ScriptedSource:
    """An OhlcvSource that answers from a script: used for venue behaviour ccxt hides."""

    def __init__(
        self, pages: Sequence[list[OhlcvRow] | Exception], trades: Sequence[list[TradeRow]] = ()
    ):
        self.pages = list(pages)
        self.trade_pages = list(trades)
        self.calls: list[tuple[int, int]] = []

    @property
    def id(self) -> str:
        return "scripted"

    @property
    def timeframes(self) -> Sequence[str]:
        return ("1m", "1M")

    @property
    def ohlcv_limit(self) -> int:
        return 3

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        self.calls.append((since_ms, limit))
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        return page

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        self.calls.append((since_ms, limit))
        return self.trade_pages.pop(0) if self.trade_pages else []

    async def aclose(self) -> None:
        pass


def row(minute: int, price: float = 1.0) -> OhlcvRow:
    return (1704067200000 + minute * 60_000, price, price, price, price, 1.0)


def test_a_venue_that_ignores_since_ends_the_download() -> None:
    source = ScriptedSource([[row(0), row(1), row(2)], [row(0), row(1), row(2)]])
    bars = fetch_ohlcv_range(source, "X/Y", "1m", "2024-01-01", "2024-01-02")
    assert len(bars) == 3
    assert source.calls == [(1704067200000, 3), (1704067200000 + 180_000, 3)]


def test_duplicates_and_rows_before_the_cursor_are_dropped() -> None:
    source = ScriptedSource([[row(0), row(1), row(1)], [row(1), row(2), row(3)], []])
    bars = fetch_ohlcv_range(source, "X/Y", "1m", "2024-01-01", "2024-01-02")
    assert list(times(bars).minute) == [0, 1, 2, 3]


def test_calendar_timeframes_advance_by_a_millisecond() -> None:
    feb, mar = 1706745600000, 1709251200000
    source = ScriptedSource(
        [[(feb, 1.0, 1.0, 1.0, 1.0, 1.0)], [(mar, 2.0, 2.0, 2.0, 2.0, 1.0)], []]
    )
    bars = fetch_ohlcv_range(source, "X/Y", "1M", "2024-02-01", "2024-04-01")
    assert list(bars["open"]) == [1.0, 2.0]
    assert [since for since, _ in source.calls] == [feb, feb + 1, mar + 1]


class OddTransientError(TransientError):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")


def test_a_transient_error_with_its_own_constructor_keeps_its_family() -> None:
    source = ScriptedSource([OddTransientError(7, "odd"), OddTransientError(7, "odd")])
    policy = RetryPolicy(max_attempts=2, base_delay=0.0, jitter=0.0)
    with pytest.raises(TransientError, match="scripted X/Y 1m candles: gave up after 2 attempts"):
        fetch_ohlcv_range(source, "X/Y", "1m", "2024-01-01", "2024-01-02", retry=policy)


def test_a_refusal_without_a_venue_prefix_is_named_too() -> None:
    source = ScriptedSource([ExchangeError("no such market")])
    with pytest.raises(ExchangeError, match=r"^scripted: cannot download X/Y 1m candles: no such"):
        fetch_ohlcv_range(source, "X/Y", "1m", "2024-01-01", "2024-01-02")


def test_trades_before_the_cursor_are_ignored() -> None:
    start = 1704067200000
    early = (start - 5, 1.0, 1.0, "buy")
    source = ScriptedSource([], trades=[[early, (start + 1, 2.0, 1.0, "sell")]])
    trades = fetch_trades_range(source, "X/Y", "2024-01-01", "2024-01-01 00:00:01")
    assert list(trades["price"]) == [2.0]


def test_malformed_rows_are_data_errors() -> None:
    source = ScriptedSource([DataError("bad candle", source="scripted X/Y candles", row=0)])
    with pytest.raises(DataError, match="scripted X/Y candles: row 0: bad candle"):
        fetch_ohlcv_range(source, "X/Y", "1m", "2024-01-01", "2024-01-02")


# ---------------------------------------------------------------------------- retry policy


def test_retry_policy_backs_off_exponentially_up_to_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(1, retry_after=2.5) == 2.5
    assert policy.delay(3, retry_after=0.1) == 2.0


def test_retry_policy_jitter_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=0.5, seed=7)
    first = [policy.delay(n) for n in range(1, 5)]
    assert first == [policy.delay(n) for n in range(1, 5)]
    assert all(0.5 * 2 ** (n - 1) <= d <= 1.5 * 2 ** (n - 1) for n, d in enumerate(first, 1))
    assert len(set(first)) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"max_attempts": 2.0}, "max_attempts must be an integer"),
        ({"max_attempts": True}, "max_attempts must be an integer"),
        ({"base_delay": -1.0}, "base_delay must be >= 0"),
        ({"base_delay": float("nan")}, "base_delay must be >= 0"),
        ({"base_delay": 2.0, "max_delay": 1.0}, "max_delay must be >= base_delay"),
        ({"jitter": 1.0}, r"jitter must be in \[0, 1\)"),
    ],
)
def test_retry_policy_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- trades


def test_trades_over_several_windows_equal_the_servers(
    local: LocalExchange, venue: CcxtExchange
) -> None:
    trades = fetch_trades_range(venue, "ETH/USDT", "2024-01-01", "2024-01-01 05:00", retry=FAST)
    served = local.trades("ETH/USDT")
    expected = served[served.index < "2024-01-01 05:00"]
    pd.testing.assert_frame_equal(trades, expected)
    assert trades.attrs == {"exchange": "binance", "symbol": "ETH/USDT"}
    assert len(local.requests(AGG_TRADES)) >= 5  # Binance searches one hour per request


def test_trades_sharing_a_millisecond_across_pages_are_kept_once() -> None:
    stamps = pd.to_datetime(
        ["2024-01-01 00:00:01"] * 3 + ["2024-01-01 00:00:02"] * 2 + ["2024-01-01 03:30:00"],
        utc=True,
    )
    frame = pd.DataFrame(
        {
            "price": [10.0, 10.5, 10.25, 11.0, 11.5, 12.0],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "side": ["buy", "sell", "buy", "sell", "buy", "sell"],
        },
        index=stamps,
    )
    with LocalExchange(trades={"DOGE/USDT": frame}) as local:
        trades = fetch_trades_range(
            local.ccxt_exchange(),
            "DOGE/USDT",
            "2024-01-01",
            "2024-01-01 04:00",
            limit=4,
            retry=FAST,
        )
        pages = local.requests(AGG_TRADES)
    expected = frame.set_axis(times(frame).as_unit("ns")).rename_axis("time")
    pd.testing.assert_frame_equal(trades, expected)
    # four trades, the fifth (sharing :02 with the fourth), nothing new, two empty hours,
    # the 03:30 trade, nothing new after it.
    assert len(pages) == 7


def test_a_full_page_of_one_millisecond_warns_and_moves_on() -> None:
    stamps = pd.to_datetime(["2024-01-01 00:00:01"] * 5 + ["2024-01-01 00:00:02"], utc=True)
    frame = pd.DataFrame({"price": [1.0, 2, 3, 4, 5, 6], "amount": 1.0}, index=stamps)
    with (
        LocalExchange(trades={"DOGE/USDT": frame}) as local,
        pytest.warns(UserWarning, match="more than 2 trades at 1704067201000 ms"),
    ):
        trades = fetch_trades_range(
            local.ccxt_exchange(), "DOGE/USDT", "2024-01-01", "2024-01-01 00:01", limit=2
        )
    assert list(trades["price"]) == [1.0, 2.0, 6.0]


@pytest.mark.anyio
async def test_async_trades_and_a_bad_symbol(local: LocalExchange) -> None:
    async with local.ccxt_exchange() as venue:
        trades = await afetch_trades_range(
            venue, "BTC/USDT", "2024-01-02", "2024-01-02 00:30", progress=False
        )
        with pytest.raises(ExchangeError, match="cannot download BTC/EUR trades: unknown symbol"):
            await afetch_trades_range(venue, "BTC/EUR", "2024-01-02", "2024-01-02 00:30")
    assert len(trades) == len(
        local.trades("BTC/USDT").loc["2024-01-02 00:00":"2024-01-02 00:29:59.999"]
    )


def test_trade_arguments_are_checked(venue: CcxtExchange) -> None:
    with pytest.raises(ConfigError, match="limit must be at least 1"):
        fetch_trades_range(venue, "BTC/USDT", "2024-01-02", "2024-01-03", limit=0)
    with pytest.raises(ConfigError, match="timeframe 'soon' is not understood"):
        fetch_trades_range(venue, "BTC/USDT", "2024-01-02", "2024-01-03", window="soon")


def test_trades_without_end_run_up_to_now() -> None:
    source = ScriptedSource([], trades=[[(int(time.time() * 1000) - 5_000, 1.0, 2.0, "buy")]])
    trades = fetch_trades_range(source, "X/Y", pd.Timestamp.now(tz="UTC") - pd.Timedelta("10s"))
    assert len(trades) == 1
    assert list(trades.columns) == ["price", "amount", "side"]


# ----------------------------------------------------------------------- trades to bars


def hand_trades() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "price": [101.0, 100.0, 103.0, 99.0, 102.0, 105.0, 104.0],
            "amount": [0.5, 1.0, 0.25, 2.0, 1.0, 0.5, 0.75],
        },
        index=pd.to_datetime(
            [
                "2024-01-01 00:00:59",  # given out of order on purpose
                "2024-01-01 00:00:00",
                "2024-01-01 00:00:30",
                "2024-01-01 00:01:00",
                "2024-01-01 00:01:59.999",
                "2024-01-01 00:05:00",
                "2024-01-01 00:05:00",
            ],
            utc=True,
            format="ISO8601",
        ),
    )


def test_trades_become_bars_as_computed_by_hand() -> None:
    bars = trades_to_bars(hand_trades(), "1m")
    assert_bar_frame(bars)
    assert list(times(bars).strftime("%H:%M")) == ["00:00", "00:01", "00:05"]
    assert bars.to_numpy().tolist() == [
        # open, high, low, close, volume
        [100.0, 103.0, 100.0, 101.0, 1.75],
        [99.0, 102.0, 99.0, 102.0, 3.0],
        [105.0, 105.0, 104.0, 104.0, 1.25],  # ties keep their order: 105 then 104
    ]
    five = trades_to_bars(hand_trades(), "5m")
    assert five.to_numpy().tolist() == [
        [100.0, 103.0, 99.0, 102.0, 4.75],
        [105.0, 105.0, 104.0, 104.0, 1.25],
    ]


def test_weekly_bars_open_on_monday_and_days_at_utc_midnight() -> None:
    trades = pd.DataFrame(
        {"price": [1.0, 2.0, 3.0], "amount": 1.0},
        index=pd.to_datetime(["2024-01-07 23:00", "2024-01-08 01:00", "2024-01-10 12:00"]),
    )  # naive times are UTC; 2024-01-08 is a Monday
    weekly = trades_to_bars(trades, "1w")
    assert list(weekly.index) == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-08", tz="UTC"),
    ]
    daily = trades_to_bars(trades.tz_localize("Asia/Tokyo"), "1d")  # 2024-01-07 14:00 UTC first
    assert list(times(daily).strftime("%m-%d")) == ["01-07", "01-10"]


def test_trades_to_bars_matches_a_pandas_resample_of_served_trades(local: LocalExchange) -> None:
    trades = local.trades("BTC/USDT").loc[:"2024-01-01 23:59"]
    bars = trades_to_bars(trades, "15m")
    resampled = trades.resample("15min").agg(
        {"price": ["first", "max", "min", "last"], "amount": "sum"}
    )
    resampled.columns = ["open", "high", "low", "close", "volume"]
    expected = resampled.dropna(subset=["open"])
    np.testing.assert_allclose(bars.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert (bars.index == expected.index).all()


def test_trades_to_bars_of_nothing_is_an_empty_bar_frame() -> None:
    empty = pd.DataFrame({"price": [], "amount": []}, index=pd.DatetimeIndex([], tz="UTC"))
    bars = trades_to_bars(empty, "1h")
    assert_bar_frame(bars)
    assert bars.empty


def test_trades_to_bars_refuses_what_it_cannot_aggregate() -> None:
    with pytest.raises(DataError, match="DatetimeIndex"):
        trades_to_bars(pd.DataFrame({"price": [1.0], "amount": [1.0]}), "1m")
    frame = hand_trades()
    with pytest.raises(DataError, match="no 'amount' column"):
        trades_to_bars(frame.drop(columns="amount"), "1m")
    frame.iloc[2, 0] = np.nan
    with pytest.raises(DataError, match="row 2: price is not finite"):
        trades_to_bars(frame, "1m")
    with pytest.raises(ConfigError, match="timeframe"):
        trades_to_bars(hand_trades(), "1 month")


def test_downloaded_trades_aggregate_like_the_servers_own_candles_would() -> None:
    frame = hand_trades().sort_index(kind="stable")
    with LocalExchange(trades={"DOGE/USDT": frame}) as local:
        trades = fetch_trades_range(
            local.ccxt_exchange(), "DOGE/USDT", "2024-01-01", "2024-01-01 00:10"
        )
    pd.testing.assert_frame_equal(
        trades_to_bars(trades, "1m"), trades_to_bars(frame, "1m"), check_like=True
    )
    assert trades.index[0] == DAY_ONE
