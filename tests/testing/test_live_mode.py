"""Live mode of the local exchange: data revealed over time, prices walked through each bar."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from quantkit.errors import ConfigError
from quantkit.testing import LocalExchange
from quantkit.testing.exchange_server import main
from quantkit.testing.live_clock import LiveClock

MINUTE = 60_000
JAN_1 = 1704067200000
WARMUP = 30


def get(local: LocalExchange, path: str) -> Any:
    with urllib.request.urlopen(local.url + path, timeout=10) as answer:
        return json.loads(answer.read())


def klines(local: LocalExchange, query: str) -> list[list[Any]]:
    rows: list[list[Any]] = get(local, f"/api/v3/klines?{query}")
    return rows


@pytest.fixture
def live() -> Any:
    accounts = {"key": ("secret", {"USDT": 100_000, "BTC": 1})}
    with LocalExchange(
        live=True, warmup=WARMUP, end="2024-01-01 03:00", accounts=accounts
    ) as exchange:
        yield exchange


def bar(local: LocalExchange, i: int, symbol: str = "BTC/USDT") -> pd.Series:
    return local.candles(symbol).iloc[i]


# ----------------------------------------------------------------------------- klines


def test_klines_serve_the_published_bars_plus_one_forming(live: LocalExchange) -> None:
    rows = klines(live, "symbol=BTCUSDT&interval=1m")
    assert len(rows) == WARMUP + 1
    assert [r[0] for r in rows] == [JAN_1 + i * MINUTE for i in range(WARMUP + 1)]
    data = live.candles("BTC/USDT")
    assert [float(v) for v in rows[-2][1:6]] == list(data.iloc[WARMUP - 1])
    opening = str(data.iloc[WARMUP]["open"]).removesuffix(".0")
    assert rows[-1][1:6] == [opening] * 4 + ["0"]  # forming: open price, no volume yet
    assert (rows[-1][6], rows[-1][8]) == (JAN_1 + (WARMUP + 1) * MINUTE - 1, 0)
    assert live.published == WARMUP
    assert live.publish() == WARMUP + 1 == live.published
    rows = klines(live, "symbol=BTCUSDT&interval=1m&limit=3")
    assert [r[0] for r in rows] == [JAN_1 + i * MINUTE for i in (WARMUP - 1, WARMUP, WARMUP + 1)]
    assert float(rows[1][4]) == data.iloc[WARMUP]["close"]
    later = JAN_1 + (WARMUP + 5) * MINUTE
    assert klines(live, f"symbol=BTCUSDT&interval=1m&startTime={later}") == []
    assert len(live.candles("BTC/USDT")) == 180  # the whole data, published or not


def test_coarser_klines_aggregate_only_what_is_out(live: LocalExchange) -> None:
    rows = klines(live, "symbol=ETHUSDT&interval=1h")
    assert len(rows) == 1  # 00:00 is still forming: 30 bars out of 60, plus the forming 00:30
    data = live.candles("ETH/USDT").iloc[:WARMUP]
    first = data.iloc[0]["open"]
    assert float(rows[0][1]) == first
    assert float(rows[0][2]) == max(data["high"].max(), live.candles("ETH/USDT").iloc[WARMUP, 0])
    assert float(rows[0][5]) == pytest.approx(data["volume"].sum())
    live.publish(30)  # 00:00-00:59 all out: the hour closes and 01:00 forms
    rows = klines(live, "symbol=ETHUSDT&interval=1h")
    hour = live.candles("ETH/USDT", "1h")
    assert [r[0] for r in rows] == [JAN_1, JAN_1 + 60 * MINUTE]
    assert [float(v) for v in rows[0][1:6]] == pytest.approx(list(hour.iloc[0]))
    assert rows[1][5] == "0"


def test_agg_trades_stop_at_the_end_of_the_last_published_bar(live: LocalExchange) -> None:
    end = JAN_1 + WARMUP * MINUTE
    trades = get(live, f"/api/v3/aggTrades?symbol=BTCUSDT&startTime={end - 3_600_000}")
    assert trades and max(t["T"] for t in trades) < end
    assert get(live, f"/api/v3/aggTrades?symbol=BTCUSDT&startTime={end}") == []
    assert len(live.trades("BTC/USDT")) > len(trades)
    live.publish(10)
    assert get(live, f"/api/v3/aggTrades?symbol=BTCUSDT&startTime={end}")


# ----------------------------------------------------------------------------- prices


def test_prices_start_at_the_last_warmup_close(live: LocalExchange) -> None:
    for market in live.markets:
        assert live.price(market.symbol) == Decimal(str(bar(live, WARMUP - 1, market.symbol).close))


def place(local: LocalExchange, side: str, price: float | None, qty: str = "0.01") -> Any:
    kind = "MARKET" if price is None else "LIMIT"
    limit = None if price is None else Decimal(str(price))
    return local.accounts.place(
        "key",
        "BTCUSDT",
        side,
        kind,
        Decimal(qty),
        limit,
        now=0,  # type: ignore[arg-type]
    )


def test_publish_fills_the_limit_orders_the_bar_passes_through(live: LocalExchange) -> None:
    nxt = bar(live, WARMUP)
    assert nxt.low < nxt.open < nxt.high or nxt.low < nxt.close < nxt.high
    reached_buy = place(live, "BUY", round(nxt.low + 0.01, 2))
    missed_buy = place(live, "BUY", round(nxt.low - 0.01, 2))
    reached_sell = place(live, "SELL", round(nxt.high - 0.01, 2))
    missed_sell = place(live, "SELL", round(nxt.high + 0.01, 2))
    assert all(o.status == "NEW" for o in (reached_buy, missed_buy, reached_sell, missed_sell))
    live.publish()
    assert (reached_buy.status, reached_sell.status) == ("FILLED", "FILLED")
    assert (missed_buy.status, missed_sell.status) == ("NEW", "NEW")
    assert reached_buy.fills[0].price == Decimal(str(round(nxt.low + 0.01, 2)))  # its own limit
    assert reached_buy.fills[0].time == JAN_1 + (WARMUP + 1) * MINUTE - 1  # within the bar
    dips_first = nxt.close >= nxt.open
    assert (reached_buy.fills[0].trade_id < reached_sell.fills[0].trade_id) == dips_first
    market = place(live, "BUY", None)  # fills at the close of the bar just published
    assert market.fills[0].price == Decimal(str(nxt.close)) == live.price("BTC/USDT")


def test_publishing_several_bars_walks_each_of_them(live: LocalExchange) -> None:
    bars = live.candles("BTC/USDT").iloc[WARMUP : WARMUP + 5]
    low = bars["low"].min()
    order = place(live, "BUY", low)  # only the lowest of the five bars reaches it
    when = int((bars["low"].idxmin() - pd.Timestamp(JAN_1, unit="ms", tz="UTC")).total_seconds())
    assert live.publish(5) == WARMUP + 5
    assert order.status == "FILLED"
    assert order.fills[0].time == JAN_1 + (when // 60 + 1) * MINUTE - 1
    assert live.price("BTC/USDT") == Decimal(str(bars.iloc[-1]["close"]))


# ----------------------------------------------------------------------- the clock's ends


def test_publishing_past_the_end_raises_and_publishes_nothing() -> None:
    exchange = LocalExchange(live=True, warmup=8, end="2024-01-01 00:10")
    assert exchange.live and exchange.clock is not None
    with pytest.raises(ConfigError, match="only 2 of the data's 10"):
        exchange.publish(3)
    assert exchange.published == 8
    with pytest.raises(ConfigError, match="at least 1"):
        exchange.publish(0)
    assert exchange.publish(2) == 10 and exchange.clock.remaining == 0
    with pytest.raises(ConfigError, match="used up"):
        exchange.clock.advance()


def test_live_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="warmup must be between 1 and the 10"):
        LocalExchange(live=True, warmup=11, end="2024-01-01 00:10")
    with pytest.raises(ConfigError, match="warmup"):
        LocalExchange(live=True, warmup=0)
    with pytest.raises(ConfigError, match="needs live=True"):
        LocalExchange(publish_every=1)
    with pytest.raises(ConfigError, match=">= 0"):
        LocalExchange(live=True, publish_every=-1)
    static = LocalExchange()
    assert not static.live and static.clock is None
    with pytest.raises(ConfigError, match="not live"):
        static.publish()
    with pytest.raises(ConfigError, match="not live"):
        _ = static.published


def test_markets_with_holes_and_without_data_follow_the_common_clock() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="1min", tz="UTC")
    frame = pd.DataFrame(
        {"open": [10.0, 11, 12, 13], "high": [11.0, 12, 13, 14], "low": [9.0, 10, 11, 12],
         "close": [11.0, 12, 13, 14], "volume": 1.0},
        index=index,
    )  # fmt: skip
    holed = frame.drop(index[1])
    late = frame.iloc[2:]
    candles = {"A/USDT": frame, "B/USDT": holed, "C/USDT": late, "D/USDT": frame.iloc[:0]}
    exchange = LocalExchange([], candles=candles, live=True, warmup=1)
    assert exchange.price("B/USDT") == Decimal(11) and exchange.price("C/USDT") == Decimal(12)
    assert exchange.price("D/USDT") == Decimal(100)  # no data at all: the market's own price
    exchange.publish()  # 00:01: B has a hole, C has not started
    assert exchange.price("A/USDT") == Decimal(12)
    assert exchange.price("B/USDT") == Decimal(11) and exchange.price("C/USDT") == Decimal(12)
    served = exchange.venue.served_candles(exchange.venue.market("B/USDT"), "1m")
    assert served.time.tolist() == [JAN_1, JAN_1 + 2 * MINUTE]  # the next one forms
    exchange.publish()
    assert exchange.price("C/USDT") == Decimal(13)


def test_a_clock_over_a_venue_without_markets_has_nothing_to_publish() -> None:
    exchange = LocalExchange([])
    with pytest.raises(ConfigError, match="between 1 and the 0"):
        LiveClock(exchange.venue, exchange.accounts, warmup=1)


def test_the_module_entry_point_runs_live_with_accounts(capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    args = ["--live", "--warmup", "2", "--every", "0.5", "--end", "2024-01-01 00:10"]
    assert main([*args, "--account", "k:s", "--balance", "BTC=1"], stop=stop) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == ["live: 2 of 10 candles published, one more every 0.5s", "account: k"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--live", "--warmup", "0"], stop=stop)
    assert exit_info.value.code == 2
    assert "warmup must be between" in capsys.readouterr().err
