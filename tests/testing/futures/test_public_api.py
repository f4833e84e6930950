"""The local futures exchange's public ``/fapi/v1`` endpoints, read by the real ccxt client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import ccxt
import numpy as np
import pandas as pd
import pytest

from quantkit.testing.futures import LocalFuturesExchange

JAN_1 = 1_704_067_200_000
JAN_15 = 1_705_276_800_000
EIGHT_HOURS = 8 * 3_600_000
BTC = "BTC/USDT:USDT"


def get(url: str) -> tuple[int, Any]:
    """GET a URL; return the status and the decoded JSON."""
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def resampled(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Aggregate one-minute candles with pandas (independent of the server's aggregation)."""
    return frame.resample(rule).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )


def test_load_markets_parses_linear_perpetuals(client: Any, clean: LocalFuturesExchange) -> None:
    client.load_markets(reload=True)
    assert sorted(client.markets) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    btc = client.markets[BTC]
    assert (btc["id"], btc["type"], btc["swap"], btc["linear"], btc["inverse"]) == (
        "BTCUSDT", "swap", True, True, False,
    )  # fmt: skip
    assert (btc["settle"], btc["contractSize"], btc["active"]) == ("USDT", 1.0, True)
    assert btc["precision"]["price"] == 0.1 and btc["precision"]["amount"] == 0.001
    assert btc["limits"]["amount"] == {"min": 0.001, "max": 1000.0}
    assert btc["limits"]["market"] == {"min": 0.001, "max": 120.0}
    assert btc["limits"]["cost"]["min"] == 100.0
    assert btc["info"]["liquidationFee"] == "0.0125"
    # markets came from the futures exchangeInfo alone: no spot, margin or currency calls
    assert [r.path for r in clean.requests()] == ["/fapi/v1/exchangeInfo"]


@pytest.mark.parametrize("price", ["last", "mark", "index"])
def test_hourly_candles_of_each_price_aggregate_the_minutes(
    client: Any, clean: LocalFuturesExchange, price: str
) -> None:
    params = {} if price == "last" else {"price": price}
    rows = client.fetch_ohlcv(BTC, "1h", JAN_1, 24, params=params)
    minutes = clean.candles(BTC, "1m", price)  # type: ignore[arg-type]
    expected = resampled(minutes, "1h").iloc[:24]
    got = np.array(rows, dtype=float)
    assert got[:, 0].tolist() == [JAN_1 + i * 3_600_000 for i in range(24)]
    want = expected[["open", "high", "low", "close"]].to_numpy()
    assert np.array_equal(got[:, 1:5], want)
    if price == "last":
        assert np.allclose(got[:, 5], expected["volume"].to_numpy(), rtol=0, atol=1e-9)
        assert got[:, 5].min() > 0
    else:
        assert got[:, 5].tolist() == [0.0] * 24  # mark and index klines carry no volume
    endpoint = {"last": "klines", "mark": "markPriceKlines", "index": "indexPriceKlines"}[price]
    (request,) = clean.requests()
    assert request.path == f"/fapi/v1/{endpoint}"
    key = "pair" if price == "index" else "symbol"
    assert request.query[key] == "BTCUSDT"


def test_mark_lies_between_last_and_index_and_differs_from_both(
    clean: LocalFuturesExchange,
) -> None:
    last, mark, index = (clean.candles(BTC, "1m", kind)["close"].to_numpy() for kind in
                         ("last", "mark", "index"))  # fmt: skip
    low, high = np.minimum(last, index), np.maximum(last, index)
    assert np.all((low <= mark) & (mark <= high))
    assert np.mean(mark != last) > 0.9 and np.mean(mark != index) > 0.9
    premium = last / index - 1
    assert premium.min() < 0 < premium.max()  # the basis takes both signs
    assert np.abs(premium).max() < 0.006


def test_funding_rates_fall_every_eight_hours_with_both_signs(
    client: Any, clean: LocalFuturesExchange
) -> None:
    rows = client.fetch_funding_rate_history(BTC, JAN_1, 1000)
    times = [r["timestamp"] for r in rows]
    assert times == list(range(JAN_1, JAN_15, EIGHT_HOURS))  # 14 days: 42 timestamps
    rates = np.array([r["fundingRate"] for r in rows])
    assert rates.min() < 0 < rates.max()
    assert np.all(np.abs(rates) <= 0.003)
    assert all(np.round(rate, 8) == rate for rate in rates)
    mark = clean.candles(BTC, "1m", "mark")
    opens = mark["open"].reindex(pd.to_datetime(times, unit="ms", utc=True)).to_numpy()
    assert [float(r["info"]["markPrice"]) for r in rows] == opens.tolist()
    assert {r["symbol"] for r in rows} == {BTC}


def test_funding_history_pages_by_since_and_limit(client: Any, clean: LocalFuturesExchange) -> None:
    pages: list[list[dict[str, Any]]] = []
    since = JAN_1
    while True:
        page = client.fetch_funding_rate_history(BTC, since, 10)
        if not page:
            break
        pages.append(page)
        since = page[-1]["timestamp"] + 1
    assert [len(p) for p in pages] == [10, 10, 10, 10, 2]
    expected = clean.funding_rates(BTC)
    flat = [r for p in pages for r in p]
    assert [r["fundingRate"] for r in flat] == expected["rate"].tolist()
    assert len(clean.requests("/fapi/v1/fundingRate")) == 6


def test_funding_rate_window_rules(clean: LocalFuturesExchange) -> None:
    base = f"{clean.url}/fapi/v1/fundingRate?symbol=ETHUSDT"
    status, latest = get(f"{base}&endTime={JAN_1 + 10 * EIGHT_HOURS}&limit=3")
    assert status == 200
    assert [r["fundingTime"] for r in latest] == [JAN_1 + k * EIGHT_HOURS for k in (8, 9, 10)]
    assert get(f"{base}&startTime={JAN_1}&endTime={JAN_1 + EIGHT_HOURS}")[1][1]["fundingTime"] == (
        JAN_1 + EIGHT_HOURS
    )
    status, default = get(base)  # neither bound: the latest 100 (here all 42), ascending
    assert status == 200 and len(default) == 42
    assert default[-1]["fundingTime"] == JAN_15 - EIGHT_HOURS
    status, every = get(f"{clean.url}/fapi/v1/fundingRate?startTime={JAN_1}&limit=4")
    assert [(r["symbol"], r["fundingTime"]) for r in every] == [
        ("BTCUSDT", JAN_1), ("ETHUSDT", JAN_1),
        ("BTCUSDT", JAN_1 + EIGHT_HOURS), ("ETHUSDT", JAN_1 + EIGHT_HOURS),
    ]  # fmt: skip
    assert get(f"{base}&limit=1001") == (400, {"code": -1130, "msg": (
        "Data sent for parameter 'limit' is not valid.")})  # fmt: skip
    assert get(f"{base}&limit=1000")[0] == 200


def test_premium_index_reports_the_end_of_the_data(
    client: Any, clean: LocalFuturesExchange
) -> None:
    rate = client.fetch_funding_rate(BTC)
    mark = clean.candles(BTC, "1m", "mark")
    index = clean.candles(BTC, "1m", "index")
    funding = clean.funding_rates(BTC)
    assert rate["markPrice"] == mark["close"].iloc[-1]
    assert rate["indexPrice"] == index["close"].iloc[-1]
    assert rate["fundingRate"] == funding["rate"].iloc[-1]
    assert rate["fundingTimestamp"] == JAN_15  # the one after 2024-01-14 16:00
    both = client.fetch_funding_rates()
    assert sorted(both) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert both[BTC]["markPrice"] == rate["markPrice"]


def test_candle_limits_follow_usdm(clean: LocalFuturesExchange) -> None:
    base = f"{clean.url}/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={JAN_1}"
    assert len(get(base)[1]) == 500  # default
    assert len(get(f"{base}&limit=1500")[1]) == 1500  # USD-M allows 1500, spot 1000
    assert get(f"{base}&limit=1501")[1]["code"] == -1130


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("klines?symbol=BTCUSD&interval=1m", -1121),
        ("klines?symbol=BTCUSDT&interval=7m", -1120),
        ("klines?symbol=BTCUSDT", -1102),
        ("indexPriceKlines?symbol=BTCUSDT&interval=1m", -1102),
        ("markPriceKlines?symbol=BTCUSDT&interval=1m&startTime=x", -1100),
        ("fundingRate?symbol=DOGEUSDT", -1121),
        ("premiumIndex?symbol=DOGEUSDT", -1121),
    ],
)
def test_bad_requests_get_binance_errors(
    clean: LocalFuturesExchange, query: str, code: int
) -> None:
    status, body = get(f"{clean.url}/fapi/v1/{query}")
    assert (status, body["code"]) == (400, code)


def test_ccxt_raises_its_exceptions_for_binance_errors(client: Any) -> None:
    with pytest.raises(ccxt.BadRequest):
        client.fetch_funding_rate_history(BTC, JAN_1, 1001)
    with pytest.raises(ccxt.BadSymbol):
        client.fapiPublicGetFundingRate({"symbol": "NOPEUSDT"})


def test_same_seed_same_data_other_seed_other_data() -> None:
    def data(seed: str) -> tuple[list[float], list[float]]:
        exchange = LocalFuturesExchange(end="2024-01-02", seed=seed)
        return (
            exchange.candles(BTC, "1m", "mark")["close"].tolist(),
            exchange.funding_rates(BTC)["rate"].tolist(),
        )

    assert data("a") == data("a")
    assert data("a")[0] != data("b")[0] and data("a")[1] != data("b")[1]


def test_funding_intervals(client: Any) -> None:
    intervals = client.fetch_funding_intervals()
    assert {symbol: rate["interval"] for symbol, rate in intervals.items()} == {
        "BTC/USDT:USDT": "8h",
        "ETH/USDT:USDT": "8h",
    }
