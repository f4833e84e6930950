"""Funding-rate and mark/index candle downloads into the store, from the local futures exchange
through the real ccxt ``binanceusdm`` client: complete, separate, resumable after faults."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from quantkit.data import (
    FundingStore,
    ParquetStore,
    RetryPolicy,
    adownload_funding,
    adownload_prices,
    download_funding,
    download_prices,
    price_symbol,
    read_price_bars,
)
from quantkit.data.perp_download import PriceKind
from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.errors import ConfigError, DataError, ExchangeError, VenueUnavailableError
from quantkit.exchanges import CcxtExchange
from quantkit.testing import LocalExchange, LocalFuturesExchange

EX, BTC = "binanceusdm", "BTC/USDT:USDT"
NO_RETRY = RetryPolicy(max_attempts=1)
JAN_1_MS = 1_704_067_200_000
H8_MS = 28_800_000


@pytest.fixture(scope="module")
def local() -> Iterator[LocalFuturesExchange]:
    with LocalFuturesExchange(start="2024-01-30", end="2024-02-02") as exchange:
        yield exchange


@pytest.fixture(scope="module")
def fortnight() -> Iterator[LocalFuturesExchange]:
    with LocalFuturesExchange(timeframe="1h") as exchange:
        yield exchange


@pytest.fixture(autouse=True)
def _clean(local: LocalFuturesExchange, fortnight: LocalFuturesExchange) -> Iterator[None]:
    for exchange in (local, fortnight):
        exchange.faults.clear()
        exchange.log.clear()
    yield
    for exchange in (local, fortnight):
        exchange.faults.clear()


def test_funding_history_downloads_whole_and_once(
    fortnight: LocalFuturesExchange, tmp_path: Path
) -> None:
    store = FundingStore(tmp_path)
    report = download_funding(fortnight.ccxt_exchange(), store, BTC, "2024-01-01", "2024-01-15")
    assert (report.added, report.rows, report.complete) == (42, 42, True)
    assert report.requests == 2  # one page of 42, then an empty one
    stored = store.read(EX, BTC)
    expected = fortnight.funding_rates(BTC)
    assert stored.time.tolist() == [t.value for t in expected.index]
    assert stored.rate.tolist() == expected["rate"].tolist()
    assert stored.mark_price.tolist() == expected["mark_price"].tolist()
    again = download_funding(fortnight.ccxt_exchange(), store, BTC, "2024-01-01", "2024-01-15")
    assert (again.requests, again.added, again.fetched) == (0, 0, ())


def test_funding_download_resumes_after_a_fault_mid_way(
    fortnight: LocalFuturesExchange, tmp_path: Path
) -> None:
    store = FundingStore(tmp_path)
    path = "/fapi/v1/fundingRate"
    fortnight.faults.truncate(path, keep=10, times=2)  # two short pages arrive...
    fortnight.faults.fail(path, status=503)  # ...then the venue fails
    with pytest.raises(VenueUnavailableError):
        download_funding(
            fortnight.ccxt_exchange(), store, BTC, "2024-01-01", "2024-01-15", retry=NO_RETRY
        )
    kept = store.read(EX, BTC)
    assert len(kept) == 20  # both pages were stored as they arrived
    fortnight.log.clear()
    report = download_funding(fortnight.ccxt_exchange(), store, BTC, "2024-01-01", "2024-01-15")
    first = fortnight.requests(path)[0]
    assert int(first.query["startTime"]) == int(kept.time[-1]) // 1_000_000 + 1
    assert (report.added, report.complete) == (22, True)
    whole = store.read(EX, BTC)
    assert whole.rate.tolist() == fortnight.funding_rates(BTC)["rate"].tolist()
    assert np.all(np.diff(whole.time) == H8_MS * 1_000_000)  # no duplicate, no hole


def test_funding_window_ends_and_unknown_symbols(
    fortnight: LocalFuturesExchange, tmp_path: Path
) -> None:
    store = FundingStore(tmp_path)
    report = download_funding(
        fortnight.ccxt_exchange(), store, BTC, "2024-01-14 12:00", "2024-01-20"
    )
    assert store.read(EX, BTC).time.tolist() == [(JAN_1_MS + 41 * H8_MS) * 1_000_000]
    assert not report.complete  # the venue has nothing after its data ends
    assert report.still_missing[0].start.isoformat() == "2024-01-14T16:00:00.000000001+00:00"
    with pytest.raises(ExchangeError, match="cannot download DOGE/USDT:USDT funding rates"):
        download_funding(fortnight.ccxt_exchange(), store, "DOGE/USDT:USDT", "2024-01-01")
    with pytest.raises(ConfigError, match="must be after start"):
        download_funding(fortnight.ccxt_exchange(), store, BTC, "2024-01-02", "2024-01-01")


@pytest.mark.parametrize("price", ["mark", "index"])
def test_mark_and_index_candles_are_their_own_series(
    fortnight: LocalFuturesExchange, tmp_path: Path, price: PriceKind
) -> None:
    store = ParquetStore(tmp_path)
    report = download_prices(
        fortnight.ccxt_exchange(), store, BTC, "1h", "2024-01-01", "2024-01-15", price=price
    )
    assert (report.symbol, report.added, report.complete) == (f"{BTC}#{price}", 336, True)
    bars = read_price_bars(store, EX, BTC, "1h", price=price)
    expected = fortnight.candles(BTC, "1h", price)
    assert bars.close.tolist() == expected["close"].tolist()
    assert bars.high.tolist() == expected["high"].tolist()
    assert bars.volume.tolist() == [0.0] * 336
    assert {r.path for r in fortnight.requests()} >= {
        "/fapi/v1/markPriceKlines" if price == "mark" else "/fapi/v1/indexPriceKlines"
    }
    with pytest.raises(DataError, match="holds no bars of this series"):  # no last prices
        store.read_series(EX, BTC, "1h")
    download_prices(fortnight.ccxt_exchange(), store, BTC, "1h", "2024-01-01", "2024-01-15",
                    price="last")  # fmt: skip
    last = read_price_bars(store, EX, BTC, "1h", price="last")
    assert last.close.tolist() == fortnight.candles(BTC, "1h")["close"].tolist()
    assert last.close.tolist() != bars.close.tolist()


def test_mark_candles_resume_at_the_partition_a_fault_interrupted(
    local: LocalFuturesExchange, tmp_path: Path
) -> None:
    """Jan 30-31 and Feb 1 of one-minute mark candles: January is stored, then a fault."""
    store = ParquetStore(tmp_path)
    venue = local.ccxt_exchange()
    january_pages = -(-2 * 1440 // venue.ohlcv_limit)
    path = "/fapi/v1/markPriceKlines"
    local.faults.delay(path, seconds=0, times=january_pages)
    local.faults.fail(path, status=502, times=1)
    with pytest.raises(VenueUnavailableError):
        download_prices(venue, store, BTC, "1m", "2024-01-30", "2024-02-02", retry=NO_RETRY)
    assert len(read_price_bars(store, EX, BTC, "1m")) == 2 * 1440
    local.log.clear()
    report = download_prices(local.ccxt_exchange(), store, BTC, "1m", "2024-01-30", "2024-02-02")
    assert int(local.requests(path)[0].query["startTime"]) == 1_706_745_600_000  # Feb 1
    assert (report.added, report.complete) == (1440, True)
    bars = read_price_bars(store, EX, BTC, "1m")
    assert bars.close.tolist() == local.candles(BTC, "1m", "mark")["close"].tolist()


class _LastOnly:
    """A spot venue that says it has no mark or index candles (most spot venues)."""

    def __init__(self, venue: CcxtExchange) -> None:
        self.venue = venue

    @property
    def id(self) -> str:
        return self.venue.id

    @property
    def timeframes(self) -> Sequence[str]:
        return self.venue.timeframes

    @property
    def ohlcv_limit(self) -> int:
        return self.venue.ohlcv_limit

    def offers_price(self, price: PriceKind) -> bool:
        return price == "last"

    async def fetch_price_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int, price: PriceKind
    ) -> list[OhlcvRow]:
        raise AssertionError("never asked")  # pragma: no cover

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        return await self.venue.fetch_ohlcv(symbol, timeframe, since_ms, limit)

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        raise AssertionError("never asked")  # pragma: no cover

    async def aclose(self) -> None:
        await self.venue.aclose()


def test_last_prices_are_the_documented_fallback(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    with LocalExchange(end="2024-01-02") as spot:
        with pytest.raises(ExchangeError, match="serves none; pass fallback_to_last=True"):
            download_prices(_LastOnly(spot.ccxt_exchange()), store, "BTC/USDT", "1h",
                            "2024-01-01", "2024-01-02")  # fmt: skip
        with pytest.warns(UserWarning, match="serves no mark candles; downloading last-price"):
            report = download_prices(_LastOnly(spot.ccxt_exchange()), store, "BTC/USDT", "1h",
                                     "2024-01-01", "2024-01-02", fallback_to_last=True)  # fmt: skip
        expected = spot.candles("BTC/USDT", "1h")["close"].tolist()
    assert (report.symbol, report.added) == ("BTC/USDT", 24)
    with pytest.raises(DataError, match=r"download_prices\(price='mark'\), or read price='last'"):
        read_price_bars(store, "binance", "BTC/USDT", "1h")
    assert read_price_bars(store, "binance", "BTC/USDT", "1h", price="last").close.tolist() == (
        expected
    )


def test_price_symbols() -> None:
    assert price_symbol(BTC, "index") == "BTC/USDT:USDT#index"
    with pytest.raises(ConfigError, match="'last', 'mark' or 'index'"):
        price_symbol(BTC, "premium")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_async_downloads_share_the_servers_event_loop(tmp_path: Path) -> None:
    """Store writes run in worker threads: the server, in the same loop, keeps answering."""
    async with (
        LocalFuturesExchange(end="2024-01-04") as local,
        local.ccxt_exchange() as venue,
    ):
        funding = await adownload_funding(
            venue, FundingStore(tmp_path), "ETH/USDT:USDT", "2024-01-01", "2024-01-04"
        )
        marks = await adownload_prices(
            venue, ParquetStore(tmp_path), "ETH/USDT:USDT", "1h", "2024-01-01", "2024-01-04"
        )
    assert (funding.added, funding.complete) == (9, True)
    assert (marks.added, marks.symbol) == (72, "ETH/USDT:USDT#mark")
