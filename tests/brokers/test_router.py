"""The Router in a two-venue backtest: its choices, balances, health and the orders it places."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quantkit import BacktestBroker, Engine, Market, SeriesFeed, Strategy, SymbolData
from quantkit.brokers.router import Router, VenueHealth
from quantkit.brokers.venues import Venues
from quantkit.errors import ConfigError
from tests.builders import make_series

# Closes at bar 0: binance 100 (fee 0.1 % -> a buy pays 100.1), kraken 100.5 (0.26 % -> 100.7613)
BINANCE = [(100.0, 100.0, 100.0, 100.0, 1e6), (101.0, 101.0, 101.0, 101.0, 1e6)]
KRAKEN = [(100.5, 100.5, 100.5, 100.5, 1e6), (102.0, 102.0, 102.0, 102.0, 1e6)]


def _venues() -> Venues:
    def broker(cash: float, fee: float) -> BacktestBroker:
        market = Market("BTC/USDT", "BTC", "USDT", taker_fee=fee)
        return BacktestBroker(cash=cash, markets={"BTC/USDT": market})

    return Venues({"binance": broker(10_000.0, 0.001), "kraken": broker(5_000.0, 0.0026)})


class Routed(Strategy):
    """Runs its ``plan`` once, on the first bar of the last venue's series."""

    def on_bar(self, bar: SymbolData) -> None:
        if len(bar) == 1 and bar.symbol == self.symbols[-1]:
            self.plan(self)  # type: ignore[attr-defined]


def _run(router_of: Callable[[Venues], Router], plan: Callable[[Routed], object]) -> Router:
    venues = _venues()
    router = router_of(venues)
    strategy = Routed()
    strategy.plan = plan  # type: ignore[attr-defined]
    feed = SeriesFeed(
        [make_series(BINANCE, "binance:BTC/USDT"), make_series(KRAKEN, "kraken:BTC/USDT")]
    )
    Engine(feed=feed, strategy=strategy, broker=venues).run()
    return router


def test_best_fee_adjusted_price_picks_binance_and_the_order_fills_there() -> None:
    holder: dict[str, Router] = {}

    def make(venues: Venues) -> Router:
        holder["r"] = Router(venues)
        return holder["r"]

    router = _run(make, lambda s: holder["r"].order(s, "buy", "BTC/USDT", 1.0))
    (decision,) = router.decisions
    (order,) = decision.orders
    assert order.symbol == "binance:BTC/USDT"
    assert order.filled == 1.0
    assert order.average_price == 101.0  # binance's next open
    assert decision.decision.reasons[0] == "binance: 100, fee 0.1000% -> 100.1: takes 1"
    assert decision.decision.reasons[1] == "kraken: 100.5, fee 0.2600% -> 100.7613: not needed"
    assert router.rows()[0]["venues"] == "binance=1"


def test_preference_and_a_venue_that_is_down() -> None:
    holder: dict[str, Router] = {}
    health = VenueHealth(max_errors=2)

    def make(venues: Venues) -> Router:
        holder["r"] = Router(venues, "preference", preference=["binance"], health=health)
        return holder["r"]

    def script(s: Routed) -> None:
        holder["r"].order(s, "buy", "BTC/USDT", 1.0)  # binance, preferred
        health.record_error("binance", s.now - 1)
        health.record_error("binance", s.now)
        holder["r"].order(s, "buy", "BTC/USDT", 1.0)  # binance down: kraken

    router = _run(make, script)
    first, second = router.decisions
    assert [o.symbol for o in first.orders] == ["binance:BTC/USDT"]
    assert [o.symbol for o in second.orders] == ["kraken:BTC/USDT"]
    assert second.decision.reasons[0].endswith("skipped, venue down")
    assert second.orders[0].average_price == 102.0


def test_an_order_larger_than_one_venues_cash_is_split() -> None:
    holder: dict[str, Router] = {}

    def make(venues: Venues) -> Router:
        holder["r"] = Router(venues, cash_buffer=0.05)
        return holder["r"]

    router = _run(make, lambda s: holder["r"].order(s, "buy", "BTC/USDT", 120.0))
    (decision,) = router.decisions
    on_binance = 10_000 * 0.95 / 100.1  # binance's cash less the buffer, at 100.1 a unit
    amounts = {o.symbol: o.filled for o in decision.orders}
    assert amounts["binance:BTC/USDT"] == pytest.approx(on_binance)
    assert amounts["kraken:BTC/USDT"] == pytest.approx(120.0 - on_binance)
    assert decision.decision.unrouted == 0.0


def test_router_settings_are_checked() -> None:
    venues = _venues()
    with pytest.raises(ConfigError, match=r"unknown venue\(s\) \['okx'\]"):
        Router(venues, "preference", preference=["okx"])
    with pytest.raises(ConfigError, match="policy must be one of"):
        Router(venues, "fastest")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cash_buffer"):
        Router(venues, cash_buffer=1.0)
    with pytest.raises(ConfigError, match="must be a Venues broker"):
        Router(BacktestBroker())  # type: ignore[arg-type]


def test_health_recovers_after_the_window_or_a_success() -> None:
    health = VenueHealth(max_errors=2, window=10)
    health.record_error("x", 100)
    assert health.is_up("x", 101)
    health.record_error("x", 105)
    assert not health.is_up("x", 110)
    assert health.is_up("x", 116)  # the older error is more than 10 ns before
    health.record_success("x")
    assert health.is_up("x", 110)
