"""Funding-rate and mark/index candle downloads into the store, from the local futures exchange
through the real ccxt ``binanceusdm`` client: complete, separate, resumable after faults."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
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


class _StubbornVenue:
    """A funding venue that ignores ``since`` and always answers its first rates (a broken
    venue), listed from 2024-01-02 only."""

    id = "stubborn"
    funding_limit = 2

    def __init__(self) -> None:
        self.calls = 0

    async def fetch_funding_rates(
        self, symbol: str, since_ms: int, limit: int
    ) -> list[tuple[int, float, float | None]]:
        self.calls += 1
        first = JAN_1_MS + 3 * H8_MS
        return [(first + k * H8_MS, 1e-4, None) for k in range(limit)]

    async def aclose(self) -> None:
        return None


def test_a_venue_that_ignores_the_cursor_cannot_loop_forever(tmp_path: Path) -> None:
    venue, store = _StubbornVenue(), FundingStore(tmp_path)
    report = anyio.run(adownload_funding, venue, store, BTC, "2024-01-01", "2024-01-04")
    assert store.read("stubborn", BTC).time.tolist() == [
        (JAN_1_MS + k * H8_MS) * 1_000_000 for k in (3, 4)
    ]
    assert venue.calls == report.requests == 2  # the second page made no progress: stop
    assert [r.start.isoformat() for r in report.still_missing] == [
        "2024-01-01T00:00:00+00:00",  # before the listing: asked again next time
        "2024-01-02T08:00:00.000000001+00:00",
    ]


def test_reading_last_prices_that_are_not_stored(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no bars") as caught:
        read_price_bars(ParquetStore(tmp_path), EX, BTC, "1h", price="last")
    assert "download_prices" not in str(caught.value)


def test_stored_series_drive_a_perpetual_backtest(
    fortnight: LocalFuturesExchange, tmp_path: Path
) -> None:
    """Download last, mark and funding; hand them to the event backtest as stored: each funding
    payment is the position times the stored mark times the stored rate."""
    from quantkit import BacktestBroker, Engine
    from quantkit.data.series_feed import SeriesFeed
    from quantkit.domain.funding import FundingRates
    from quantkit.domain.futures_portfolio import FuturesPortfolio
    from quantkit.domain.market import Market
    from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
    from tests.strategy.helpers import Scripted

    bars, funding = ParquetStore(tmp_path), FundingStore(tmp_path)
    window = ("2024-01-01", "2024-01-03")
    kinds: tuple[PriceKind, ...] = ("last", "mark")
    for price in kinds:
        download_prices(fortnight.ccxt_exchange(), bars, BTC, "1h", *window, price=price)
    download_funding(fortnight.ccxt_exchange(), funding, BTC, *window)
    last = bars.read_series(EX, BTC, "1h")
    mark = read_price_bars(bars, EX, BTC, "1h")
    rates = funding.read(EX, BTC)
    spec = PerpetualSpec("USDT", brackets=brackets_with_cum([(0, 1e7, 50, 0.01)]))
    broker = BacktestBroker(
        cash=100_000.0,
        markets={BTC: Market(BTC, "BTC", "USDT", amount_increment=0.001, perpetual=spec)},
        marks={BTC: mark},
        funding={BTC: FundingRates.history(rates.time.tolist(), rates.rate.tolist())},
    )
    script = {0: lambda s: s.sell(amount=0.5)}
    Engine(feed=SeriesFeed([last]), strategy=Scripted(script), broker=broker).run()
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    payments = portfolio.funding
    held_from = int(last.open_time[1])  # the short fills at the second bar's open
    due = [(int(t), float(r)) for t, r in zip(rates.time, rates.rate, strict=True)
           if t >= held_from]  # fmt: skip
    assert [(p.time, p.rate) for p in payments] == due
    mark_open = dict(zip(mark.open_time.tolist(), mark.open.tolist(), strict=True))
    for payment in payments:
        assert payment.position == -0.5
        assert payment.mark == mark_open[payment.time]
        assert payment.amount == pytest.approx(-0.5 * mark_open[payment.time] * payment.rate)
