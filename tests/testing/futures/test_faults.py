"""Faults of the local futures exchange's FaultPlan, as the real ccxt clients meet them."""

from __future__ import annotations

from typing import Any

import ccxt
import ccxt.async_support
import pytest

from quantkit.exchanges.client import rewrite_api_urls
from quantkit.testing.futures import LocalFuturesExchange

JAN_1 = 1_704_067_200_000
BTC = "BTC/USDT:USDT"


def test_rate_limit_then_recovery(client: Any, clean: LocalFuturesExchange) -> None:
    clean.faults.rate_limit("/fapi/v1/fundingRate", retry_after=2)
    with pytest.raises(ccxt.DDoSProtection):
        client.fetch_funding_rate_history(BTC, JAN_1, 5)
    assert len(client.fetch_funding_rate_history(BTC, JAN_1, 5)) == 5
    faults = [r.fault for r in clean.requests("/fapi/v1/fundingRate")]
    assert faults[0] is not None and "429" in faults[0] and faults[1] is None


def test_server_error_on_mark_klines(client: Any, clean: LocalFuturesExchange) -> None:
    clean.faults.server_error("/fapi/v1/markPriceKlines", status=503)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_mark_ohlcv(BTC, "1m", JAN_1, 10)
    assert len(client.fetch_mark_ohlcv(BTC, "1m", JAN_1, 10)) == 10


def test_truncated_page(client: Any, clean: LocalFuturesExchange) -> None:
    clean.faults.truncate("/fapi/v1/fundingRate", keep=3)
    assert len(client.fetch_funding_rate_history(BTC, JAN_1, 10)) == 3
    assert len(client.fetch_funding_rate_history(BTC, JAN_1, 10)) == 10


@pytest.mark.anyio
async def test_async_client_in_the_servers_loop() -> None:
    async with LocalFuturesExchange(end="2024-01-03") as local:
        client = ccxt.async_support.binanceusdm(local.ccxt_options())
        client.urls["api"] = rewrite_api_urls(client.urls["api"], local.url)
        try:
            await client.load_markets()
            rows = await client.fetch_index_ohlcv(BTC, "8h", JAN_1, 6)
            funding = await client.fetch_funding_rate_history(BTC, JAN_1, 100)
        finally:
            await client.close()
        expected = local.candles(BTC, "8h", "index")
        assert [r[4] for r in rows] == expected["close"].tolist()
        assert [f["fundingRate"] for f in funding] == local.funding_rates(BTC)["rate"].tolist()
        assert len(funding) == 6


def test_serve_runs_the_futures_exchange_until_stopped() -> None:
    """The entry point's loop (`quantkit exchange --futures`) serves /fapi until stopped."""
    import threading
    import urllib.request

    from quantkit.testing.exchange_server import serve

    lines: list[str] = []
    announced, stop = threading.Event(), threading.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("account:"):
            announced.set()

    local = LocalFuturesExchange(end="2024-01-02", accounts={"k": ("s", {"USDT": 1})})
    thread = threading.Thread(target=serve, args=(local,), kwargs={"echo": echo, "keys": ["k"],
                              "stop": stop})  # fmt: skip
    thread.start()
    try:
        assert announced.wait(60)
        with urllib.request.urlopen(lines[0] + "/fapi/v1/ping", timeout=60) as answer:
            assert answer.read() == b"{}"
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert lines[1:] == ["USD-M perpetuals: BTC/USDT:USDT, ETH/USDT:USDT", "account: k"]
