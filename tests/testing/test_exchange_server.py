"""LocalExchange: Binance spot's public REST subset, fault injection, lifecycle, entry point."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import anyio
import numpy as np
import pandas as pd
import pytest

from quantkit.errors import ConfigError, DataError
from quantkit.testing import DEFAULT_MARKETS, LocalExchange, LocalMarket
from quantkit.testing.exchange_server import main
from tests.sigint import INHERITED, preexec

JAN_1 = 1704067200000
MINUTE = 60_000


pytestmark = pytest.mark.usefixtures("clean_local")


def get(url: str) -> tuple[int, Any, dict[str, str]]:
    """GET a URL; return status, decoded JSON (or text) and headers."""
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            status, body, headers = answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        status, body, headers = error.code, error.read().decode(), dict(error.headers)
    try:
        return status, json.loads(body), headers
    except json.JSONDecodeError:
        return status, body, headers


def klines(local: LocalExchange, query: str) -> tuple[int, Any]:
    status, body, _ = get(f"{local.url}/api/v3/klines?{query}")
    return status, body


# ---------------------------------------------------------------------------- endpoints


def test_ping_and_time(local: LocalExchange) -> None:
    assert get(local.url + "/api/v3/ping")[:2] == (200, {})
    before = int(time.time() * 1000)
    status, body, _ = get(local.url + "/api/v3/time")
    assert status == 200
    assert before <= body["serverTime"] <= int(time.time() * 1000)


def test_exchange_info_declares_the_markets_with_their_filters(local: LocalExchange) -> None:
    status, body, _ = get(local.url + "/api/v3/exchangeInfo")
    assert status == 200
    assert body["timezone"] == "UTC"
    symbols = body["symbols"]
    assert [s["symbol"] for s in symbols] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    btc = symbols[0]
    assert (btc["status"], btc["baseAsset"], btc["quoteAsset"]) == ("TRADING", "BTC", "USDT")
    assert "LIMIT" in btc["orderTypes"] and "MARKET" in btc["orderTypes"]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
    assert filters["LOT_SIZE"] == {
        "filterType": "LOT_SIZE",
        "minQty": "0.00001",
        "maxQty": "9000",
        "stepSize": "0.00001",
    }
    assert filters["NOTIONAL"]["minNotional"] == "5"


def test_klines_rows_have_twelve_values_with_prices_as_strings(local: LocalExchange) -> None:
    status, rows = klines(local, f"symbol=BTCUSDT&interval=1m&startTime={JAN_1}&limit=3")
    assert status == 200
    assert len(rows) == 3
    first = rows[0]
    assert len(first) == 12
    assert first[0] == JAN_1
    assert first[6] == JAN_1 + MINUTE - 1
    assert all(isinstance(v, str) for v in first[1:6])
    served = local.candles("BTC/USDT").iloc[:3]
    assert [[float(v) for v in row[1:6]] for row in rows] == served.to_numpy().tolist()
    assert first[8] == 1  # one base candle


def test_klines_limits_default_to_500_and_stop_at_1000(local: LocalExchange) -> None:
    assert len(klines(local, f"symbol=ETHUSDT&interval=1m&startTime={JAN_1}")[1]) == 500
    assert len(klines(local, f"symbol=ETHUSDT&interval=1m&startTime={JAN_1}&limit=1000")[1]) == 1000
    assert klines(local, "symbol=ETHUSDT&interval=1m&limit=1001") == (
        400,
        {"code": -1130, "msg": "Invalid data sent for a parameter."},
    )


def test_klines_honour_start_and_end_time(local: LocalExchange) -> None:
    window = f"startTime={JAN_1 + 30_000}&endTime={JAN_1 + 5 * MINUTE}"
    rows = klines(local, f"symbol=BTCUSDT&interval=1m&{window}")[1]
    assert [r[0] for r in rows] == [JAN_1 + n * MINUTE for n in range(1, 6)]
    latest = klines(local, f"symbol=BTCUSDT&interval=1m&endTime={JAN_1 + 9 * MINUTE}&limit=2")[1]
    assert [r[0] for r in latest] == [JAN_1 + 8 * MINUTE, JAN_1 + 9 * MINUTE]
    last = klines(local, "symbol=BTCUSDT&interval=1d&limit=1")[1]
    assert last[0][0] == pd.Timestamp("2024-01-14", tz="UTC").value // 1_000_000
    assert klines(local, f"symbol=BTCUSDT&interval=1m&startTime={JAN_1 * 2}")[1] == []


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("interval=1m", -1102, "Mandatory parameter 'symbol' was not sent"),
        ("symbol=FOOBAR&interval=1m", -1121, "Invalid symbol."),
        ("symbol=BTCUSDT&interval=7m", -1120, "Invalid interval."),
        ("symbol=BTCUSDT&interval=1s", -1120, "Invalid interval."),  # finer than the data
        ("symbol=BTCUSDT", -1120, "Invalid interval."),
        (
            "symbol=BTCUSDT&interval=1m&startTime=soon",
            -1100,
            "Illegal characters found in parameter 'startTime'",
        ),
        ("symbol=BTCUSDT&interval=1m&limit=0", -1130, "Invalid data"),
    ],
)
def test_klines_errors_are_answered_the_binance_way(
    local: LocalExchange, query: str, code: int, message: str
) -> None:
    status, body = klines(local, query)
    assert status == 400
    assert body["code"] == code
    assert body["msg"].startswith(message)


def test_coarser_klines_aggregate_the_data_as_pandas_would(local: LocalExchange) -> None:
    minutes = local.candles("ETH/USDT")
    for interval, rule in [("5m", "5min"), ("1h", "1h"), ("1d", "1D")]:
        expected = minutes.resample(rule).agg(
            {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
        )
        served = local.candles("ETH/USDT", interval)
        assert (served.index == expected.index).all()
        np.testing.assert_allclose(served.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_weekly_klines_open_on_monday_and_monthly_on_the_first(local: LocalExchange) -> None:
    weekly = local.candles("BTC/USDT", "1w")
    assert list(pd.DatetimeIndex(weekly.index).strftime("%A %d")) == ["Monday 01", "Monday 08"]
    rows = klines(local, "symbol=BTCUSDT&interval=1w")[1]
    assert rows[1][6] - rows[1][0] == 7 * 86_400_000 - 1
    monthly = klines(local, "symbol=BTCUSDT&interval=1M")[1]
    assert len(monthly) == 1
    assert monthly[0][0] == JAN_1
    assert monthly[0][6] == pd.Timestamp("2024-02-01", tz="UTC").value // 1_000_000 - 1
    assert monthly[0][8] == 14 * 1440  # aggregated one-minute candles
    with pytest.raises(ConfigError, match="does not serve '2w' candles"):
        local.candles("BTC/USDT", "2w")


def test_agg_trades_by_time_window_and_by_id(local: LocalExchange) -> None:
    url = f"{local.url}/api/v3/aggTrades?symbol=ETHUSDT"
    status, window, _ = get(f"{url}&startTime={JAN_1}&endTime={JAN_1 + 3_600_000}&limit=5")
    assert status == 200
    served = local.trades("ETH/USDT")
    assert [t["T"] for t in window] == [t.value // 1_000_000 for t in served.index[:5]]
    first = window[0]
    assert set(first) == {"a", "p", "q", "f", "l", "T", "m", "M"}
    assert (first["p"], first["q"]) == (str(served["price"].iloc[0]), str(served["amount"].iloc[0]))
    assert first["m"] == (served["side"].iloc[0] == "sell")
    by_id = get(f"{url}&fromId={first['a'] + 2}&limit=2")[1]
    assert [t["a"] for t in by_id] == [first["a"] + 2, first["a"] + 3]
    latest = get(url)[1]
    assert len(latest) == 500
    assert latest[-1]["T"] == served.index[-1].value // 1_000_000


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (f"startTime={JAN_1}&endTime={JAN_1 + 3_600_001}", -1127),
        (f"fromId=1&startTime={JAN_1}", -1128),
        ("limit=5000", -1130),
    ],
)
def test_agg_trades_refuse_what_binance_refuses(
    local: LocalExchange, query: str, code: int
) -> None:
    status, body, _ = get(f"{local.url}/api/v3/aggTrades?symbol=BTCUSDT&{query}")
    assert (status, body["code"]) == (400, code)


def test_unknown_paths_are_404_and_logged(local: LocalExchange) -> None:
    assert get(local.url + "/sapi/v1/capital/config/getall")[0] == 404
    assert local.requests()[0].path == "/sapi/v1/capital/config/getall"


# ------------------------------------------------------------------------------- faults


def test_a_rate_limit_fault_answers_429_with_retry_after(local: LocalExchange) -> None:
    local.faults.rate_limit("/api/v3/ping", retry_after=0.25)
    status, body, headers = get(local.url + "/api/v3/ping")
    assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "0.25")
    assert get(local.url + "/api/v3/ping")[0] == 200
    assert [r.fault for r in local.requests()] == ["429", None]


def test_status_faults_with_their_own_body_and_on_any_path(local: LocalExchange) -> None:
    local.faults.fail(status=502, times=2, body="bad gateway")
    local.faults.fail("/api/v3/time", status=418)
    assert get(local.url + "/api/v3/ping")[:2] == (502, "bad gateway")
    assert get(local.url + "/api/v3/time")[:2] == (502, "bad gateway")
    status, body, headers = get(local.url + "/api/v3/time")
    assert (status, body["code"], "Retry-After" in headers) == (418, -1003, False)
    assert get(local.url + "/api/v3/time")[0] == 200
    assert local.faults.pending == 0


def test_a_server_error_fault_answers_plain_text(local: LocalExchange) -> None:
    local.faults.fail("/api/v3/ping", status=503, retry_after=2)
    status, body, headers = get(local.url + "/api/v3/ping")
    assert (status, body, headers["Retry-After"]) == (503, "Service unavailable.", "2")


def test_a_delay_fault_answers_late_but_normally(local: LocalExchange) -> None:
    local.faults.delay("/api/v3/ping", seconds=0.3)
    started = time.monotonic()
    assert get(local.url + "/api/v3/ping")[:2] == (200, {})
    assert time.monotonic() - started >= 0.3
    assert local.requests()[0].fault == "delay 0.3s"


def test_a_truncate_fault_cuts_a_page(local: LocalExchange) -> None:
    local.faults.truncate(keep=2)
    query = f"symbol=BTCUSDT&interval=1m&startTime={JAN_1}&limit=10"
    assert len(klines(local, query)[1]) == 2
    assert len(klines(local, query)[1]) == 10


def test_the_log_can_be_awaited_from_another_thread(local: LocalExchange) -> None:
    # the answer comes 5 s after arrival: a margin no scheduling delay on a busy machine eats
    local.faults.delay("/api/v3/ping", seconds=5)
    answers: list[int] = []
    worker = threading.Thread(target=lambda: answers.append(get(local.url + "/api/v3/ping")[0]))
    worker.start()
    (record,) = local.log.wait_for(1, path="/api/v3/ping", timeout=60)
    assert (record.fault, answers) == ("delay 5s", [])  # logged on arrival, not yet answered
    worker.join(timeout=60)
    assert answers == [200]
    with pytest.raises(
        TimeoutError, match=r"1 of 2 requests to /api/v3/ping arrived within 0\.05s"
    ):
        local.log.wait_for(2, path="/api/v3/ping", timeout=0.05)


# ----------------------------------------------------------------------------- the data


def test_synthetic_data_is_the_same_for_the_same_seed_in_any_process() -> None:
    code = (
        "from quantkit.testing import LocalExchange\n"
        "c = LocalExchange(seed='abc').candles('ETH/BTC')\n"
        "t = LocalExchange(seed='abc').trades('ETH/BTC')\n"
        "print(repr(float(c['close'].sum())), repr(float(t['price'].sum())), len(t))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    here = LocalExchange(seed="abc")
    candles, trades = here.candles("ETH/BTC"), here.trades("ETH/BTC")
    expected = f"{float(candles['close'].sum())!r} {float(trades['price'].sum())!r} {len(trades)}\n"
    assert outputs == {expected}
    other = LocalExchange(seed="abd").candles("ETH/BTC")
    assert not other.equals(candles)


def test_synthetic_candles_are_consistent_and_on_the_grid(local: LocalExchange) -> None:
    for market in DEFAULT_MARKETS:
        frame = local.candles(market.symbol)
        assert len(frame) == 14 * 1440
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
        assert (frame["low"] > 0).all() and (frame["volume"] >= 0).all()
        ticks = frame[["open", "high", "low", "close"]].to_numpy() / market.tick_size
        np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-6)
        assert (frame["open"].iloc[1:].to_numpy() == frame["close"].iloc[:-1].to_numpy()).all()


def test_caller_candles_with_holes_are_served_as_given() -> None:
    times = pd.date_range("2024-05-01", periods=6, freq="1h", tz="Europe/Paris")
    frame = pd.DataFrame(
        {"open": 1.5, "high": 2.0, "low": 1.0, "close": 1.25, "volume": [1.0, 2, 3, 4, 5, 6]},
        index=times,
    ).drop(times[2:4])
    local = LocalExchange(candles={"ABC/DEF": frame}, timeframe="1h")
    assert local.timeframe == "1h"
    assert local.markets[-1] == LocalMarket("ABC/DEF", price=1.5)
    served = local.candles("ABCDEF")
    assert list(served["volume"]) == [1.0, 2.0, 5.0, 6.0]
    assert served.index[0] == pd.Timestamp("2024-04-30 22:00", tz="UTC")
    assert list(local.candles("ABC/DEF", "4h")["volume"]) == [3.0, 11.0]


def test_caller_trades_without_a_side_are_taker_buys() -> None:
    frame = pd.DataFrame(
        {"price": [2.0, 1.0], "amount": [1.0, 3.0]},
        index=pd.DatetimeIndex(["2024-01-01 00:00:02", "2024-01-01 00:00:01"]),
    )
    local = LocalExchange(trades={"ABC/DEF": frame})
    trades = local.trades("ABC/DEF")
    assert list(trades["price"]) == [1.0, 2.0]  # served in time order
    assert list(trades["side"]) == ["buy", "buy"]
    assert trades.index[0] == pd.Timestamp("2024-01-01 00:00:01", tz="UTC")
    empty = LocalExchange(
        candles={"XYZ/DEF": frame.iloc[:0].assign(open=[], high=[], low=[], close=[], volume=[])}
    )
    assert empty.markets[-1].price == 100.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"timeframe": "7x"}, ConfigError, "not understood"),
        ({"timeframe": "2m"}, ConfigError, "timeframe must be one of"),
        ({"timeframe": "1M"}, ConfigError, "not understood"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, ConfigError, "must be after start"),
        ({"candles": {"A/B": pd.DataFrame({"open": [1.0]})}}, DataError, "DatetimeIndex"),
        (
            {
                "candles": {
                    "A/B": pd.DataFrame({"open": [1.0]}, index=pd.DatetimeIndex(["2024-01-01"]))
                }
            },
            DataError,
            "A/B candles: the frame has no 'high' column",
        ),
        (
            {
                "candles": {
                    "A/B": pd.DataFrame(
                        {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0},
                        index=pd.DatetimeIndex(["2024-01-02", "2024-01-01"]),
                    )
                }
            },
            DataError,
            "strictly increasing",
        ),
    ],
)
def test_bad_settings_are_refused(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        LocalExchange(**kwargs)


def test_unknown_markets_are_config_errors(local: LocalExchange) -> None:
    with pytest.raises(ConfigError, match="no market 'DOGE/USDT'; it has BTC/USDT, ETH/USDT"):
        local.trades("DOGE/USDT")


# ---------------------------------------------------------------------------- lifecycle


@pytest.mark.anyio
async def test_it_serves_from_the_callers_event_loop() -> None:
    exchange = LocalExchange()
    assert repr(exchange).startswith("LocalExchange(stopped")
    with pytest.raises(RuntimeError, match="not running"):
        _ = exchange.url
    async with exchange:
        assert repr(exchange).startswith(f"LocalExchange(url='{exchange.url}'")
        with pytest.raises(RuntimeError, match="already running"):
            await exchange.astart()
        with pytest.raises(RuntimeError, match="already running"):
            exchange.start()
        async with (
            aiohttp.ClientSession() as session,
            session.get(exchange.url + "/api/v3/ping") as answer,
        ):
            assert await answer.json() == {}
        exchange.faults.delay(seconds=3600)
        async with aiohttp.ClientSession() as session:
            pending = session.get(exchange.url + "/api/v3/time")
            task = asyncio.ensure_future(pending)
            with anyio.fail_after(60):  # bounds a hang only
                while len(exchange.requests()) < 2:
                    await asyncio.sleep(0)
            with anyio.fail_after(60):  # does not wait an hour for the delayed answer
                await exchange.aclose()
            with pytest.raises(aiohttp.ClientError):
                await task
    await exchange.aclose()  # closing twice is harmless


def test_a_port_in_use_fails_to_start_in_both_modes(local: LocalExchange) -> None:
    taken = LocalExchange(port=local.port)
    with pytest.raises(OSError, match="address already in use"):
        taken.start()
    with pytest.raises(OSError, match="address already in use"):
        anyio.run(taken.astart)
    taken.stop()  # nothing to stop


def test_a_fixed_port_is_honoured() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalExchange(port=port) as exchange:
        assert exchange.url == f"http://127.0.0.1:{port}"


def test_main_prints_the_url_and_stops_when_told(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    stop.set()
    assert main(["--seed", "x", "--timeframe", "5m"], stop=stop) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("inherited", INHERITED)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_module_runs_in_the_foreground_until_interrupted(
    inherited: str, signum: signal.Signals
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "quantkit.testing.exchange_server", "--end", "2024-01-02"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=preexec(inherited),  # noqa: PLW1509 - sets one signal disposition, no locks
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert get(url + "/api/v3/ping")[:2] == (200, {})
        process.send_signal(signum)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
