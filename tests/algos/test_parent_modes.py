"""One implementation in every mode: the paper broker's parents equal the backtest's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quantkit import BacktestBroker, Engine, Market, PaperBroker, SeriesFeed
from quantkit.data.replay import ReplayStream
from quantkit.domain.bars import BarSeries
from quantkit.engine.live import LiveEngine
from tests.algos.helpers import Starter, StartsParent
from tests.builders import make_series

WARMUP = 5
MARKET = {"BTC/USDT": Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.002)}


def walk(count: int = 60, seed: int = 5) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    opens = np.concatenate([[100.0], close[:-1]])
    volume = rng.uniform(5, 50, count)
    rows = [
        (o, max(o, c) * 1.004, min(o, c) * 0.996, c, v)
        for o, c, v in zip(opens, close, volume, strict=True)
    ]
    return make_series(rows)


def children_of(strategy: StartsParent) -> list[tuple[Any, ...]]:
    parent = strategy.parent
    assert parent is not None
    return [
        (c.client_id.split("-", 1)[1], str(c.status), c.created_at, c.amount, c.filled,
         c.average_price)
        for c in parent.children
    ]  # fmt: skip


STARTS: dict[str, Starter] = {
    "twap-limit": lambda s: s.twap("buy", 2.0, horizon="12h", slices=6, limit_offset=0.002,
                                   time_jitter=0.5, size_jitter=0.3, seed=4),
    "iceberg": lambda s: s.iceberg("buy", 1.5, display=0.4, limit=float(s.data.close[-1]),
                                   display_jitter=0.2, seed=9),
    "participation": lambda s: s.participate("buy", 3.0, rate=0.02, max_slice=0.5),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(STARTS))
def test_paper_places_and_fills_the_backtests_children(name: str) -> None:
    series = walk()
    back = StartsParent(STARTS[name], at=WARMUP + 2)
    Engine(
        feed=SeriesFeed(series),
        strategy=back,
        broker=BacktestBroker(cash=10_000, markets=MARKET),
        warmup=WARMUP,
    ).run()
    live = StartsParent(STARTS[name], at=WARMUP + 2)
    LiveEngine(
        stream=ReplayStream({series.symbol: series}),
        strategy=live,
        broker=PaperBroker(cash=10_000, markets=MARKET),
        warmup=WARMUP,
        handle_signals=False,
    ).run()
    assert back.parent is not None and live.parent is not None
    assert len(back.parent.children) >= 3  # the case slices
    assert children_of(live) == children_of(back)
    assert live.parent.status is back.parent.status
    assert live.parent.average_price == back.parent.average_price
    assert live.parent.vwap == back.parent.vwap
