"""The cross-venue arbitrage example's strategy, by hand on a few bars."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from quantkit import BacktestBroker, Engine, Market, OrderStatus, SeriesFeed
from quantkit.brokers.venues import Venues
from tests.builders import make_series

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "19_venue_arbitrage.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("venue_arbitrage_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flat(*prices: float) -> list[tuple[float, float, float, float, float]]:
    return [(p, p, p, p, 1e6) for p in prices]


def _run(kraken_cash: float, kraken_bars: list[tuple[float, ...]]) -> tuple[object, Venues]:
    module = _example()

    def venue(cash: float) -> BacktestBroker:
        market = Market("BTC/USDT", "BTC", "USDT", taker_fee=0.001)
        return BacktestBroker(cash=cash, markets={"BTC/USDT": market})

    venues = Venues({"binance": venue(1_000.0), "kraken": venue(kraken_cash)})
    strategy = module.VenueGapArbitrage(inventory=2.0, trade=1.0, allowance=0.0)
    strategy.venues = venues
    # binance: 100 (bar 0), then open 100 / close 102 (bar 1), open 102 / close 101, 101
    binance = [(100.0, 100.0, 100.0, 100.0, 1e6), (100.0, 102.0, 100.0, 102.0, 1e6)]
    binance += [(102.0, 102.0, 101.0, 101.0, 1e6), (101.0, 101.0, 101.0, 101.0, 1e6)]
    feed = SeriesFeed(
        [make_series(binance, "binance:BTC/USDT"), make_series(kraken_bars, "kraken:BTC/USDT")]
    )
    Engine(feed=feed, strategy=strategy, broker=venues).run()
    return strategy, venues


def test_an_opportunity_taken_on_both_venues() -> None:
    # Bar 1 closes: binance 102, kraken 100; 102 x 0.999 - 100 x 1.001 = 1.798 > 0: sell 1 on
    # binance, buy 1 on kraken, filled at bar 2's opens (102 and 100).
    kraken = [*_flat(100.0, 100.0), (100.0, 101.0, 100.0, 101.0, 1e6), *_flat(101.0)]
    strategy, venues = _run(1_000.0, kraken)
    assert strategy.figures == {"seen": 1, "taken": 1, "skipped": 0, "legged": 0, "unwound": 0}
    assert strategy.gaps == [pytest.approx(1.798)]
    binance = venues.brokers["binance"].portfolio
    kraken = venues.brokers["kraken"].portfolio
    # each venue: 2 BTC at 100 (+0.2 fee) first; then binance sells 1 at 102, kraken buys 1 at 100
    assert binance.balance == pytest.approx(1_000 - 200.2 + 102 * 0.999)
    assert kraken.balance == pytest.approx(1_000 - 200.2 - 100 * 1.001)
    assert binance.position("binance:BTC/USDT").amount == pytest.approx(1.0)
    assert kraken.position("kraken:BTC/USDT").amount == pytest.approx(3.0)
    # the run's equity at the end (4 BTC at 101): the start, less the inventory's fees, plus
    # the arbitrage's 1.798, plus the inventory's move from 100 to 101
    assert venues.portfolio.balance + 4 * 101 == pytest.approx(2_000 - 0.4 + 1.798 + 4)


def test_a_legged_pair_is_unwound_on_the_filled_venue() -> None:
    # kraken holds 301 USDT: 100.8 left after its inventory covers 1 BTC at the close seen
    # (100 x 1.001), but kraken opens at 101 next (101.101 needed): its leg is refused, the
    # binance sale fills; the sale is reversed at market on binance at bar 3's open (101).
    strategy, venues = _run(301.0, _flat(100.0, 100.0, 101.0, 101.0))
    assert strategy.figures == {"seen": 1, "taken": 1, "skipped": 0, "legged": 1, "unwound": 1}
    sell, buy = strategy_pairs(strategy)
    assert sell.status is OrderStatus.FILLED
    assert buy.status is OrderStatus.REJECTED
    assert "insufficient USDT" in buy.reason
    binance = venues.brokers["binance"].portfolio
    assert binance.position("binance:BTC/USDT").amount == pytest.approx(2.0)  # as before
    assert binance.balance == pytest.approx(1_000 - 200.2 + 102 * 0.999 - 101 * 1.001)
    assert venues.brokers["kraken"].portfolio.balance == pytest.approx(301 - 200.2)


def strategy_pairs(strategy: object) -> tuple[object, object]:
    """The one pair the strategy placed (kept on the side for the test)."""
    placed = list(strategy.placed_pairs)  # type: ignore[attr-defined]
    assert len(placed) == 1
    return placed[0]
