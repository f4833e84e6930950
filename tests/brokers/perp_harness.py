"""Shared pieces of the perpetual live broker tests: the local futures venue and the broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from quantkit.brokers.live import LiveBroker
from quantkit.brokers.live_perpetual import PerpetualLiveBroker
from quantkit.brokers.live_reconcile import LiveSafety
from quantkit.data.fetch import RetryPolicy
from quantkit.domain.bars import BarSeries
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.exchanges.perpetuals import CcxtPerpetualExchange
from quantkit.secrets import Credentials
from quantkit.testing.futures import LOCAL_USDM_CCXT_OPTIONS, LocalFuturesExchange

KEY, SECRET = "perp-live-key", "perp-live-secret"
BTC = "BTC/USDT:USDT"
ORDER = "/fapi/v1/order"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)
FAST_SAFETY = LiveSafety(
    unknown_deadline=1.0, startup_deadline=60.0, shutdown_deadline=60.0, reconcile_interval=3600
)


def futures_exchange(usdt: float = 10_000.0, *, price: float | None = None) -> LocalFuturesExchange:
    """The local USD-M venue with one account; at ``price`` (last and mark) when given."""
    exchange = LocalFuturesExchange(end="2024-01-02", accounts={KEY: (SECRET, {"USDT": usdt})})
    if price is not None:
        exchange.trading.move(BTC, last=price, mark=price)
    return exchange


def perp_venue(local: LocalFuturesExchange, *, timeout: float = 10.0) -> CcxtPerpetualExchange:
    return CcxtPerpetualExchange(
        "binanceusdm",
        credentials=Credentials(exchange="binanceusdm", api_key=KEY, secret=SECRET),
        api_url=local.url,
        options=dict(LOCAL_USDM_CCXT_OPTIONS),
        rate_limit=False,
        timeout=timeout,
    )


def perp_broker(venue: CcxtPerpetualExchange, path: Path, **kwargs: Any) -> PerpetualLiveBroker:
    return PerpetualLiveBroker(
        venue,
        journal=path,
        run_id=kwargs.pop("run_id", "perp-run"),
        confirm_live=True,
        retry=FAST_RETRY,
        poll_interval=kwargs.pop("poll_interval", 0.05),
        safety=kwargs.pop("safety", FAST_SAFETY),
        watch_trades=kwargs.pop("watch_trades", False),
        **kwargs,
    )


class _Clock:
    now = 0


def _no_bars(symbol: str) -> BarSeries:
    empty = np.empty(0)
    times = np.empty(0, dtype=np.int64)
    return BarSeries(symbol, 60_000_000_000, times, times, empty, empty, empty, empty, empty)


async def started(broker: PerpetualLiveBroker, tasks: Any) -> PerpetualLiveBroker:
    broker.prepare({BTC: _no_bars(BTC)}, _Clock())
    await broker.astart(tasks)
    return broker


async def until(broker: LiveBroker, done: Callable[[], bool], timeout: float = 60.0) -> None:
    with anyio.fail_after(timeout):
        while not done():
            await broker.events_ready()


def market(side: Side, amount: float, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(BTC, side, OrderType.MARKET, amount, reduce_only=reduce_only)


def order_posts(local: LocalFuturesExchange) -> int:
    return sum(1 for r in local.requests(ORDER) if r.method == "POST")
