"""Several venues in one backtest: own balances, markets and fees per venue, and the total."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import (
    BacktestBroker,
    Engine,
    Market,
    OrderStatus,
    PaperBroker,
    SeriesFeed,
    Strategy,
    SymbolData,
)
from quantkit.brokers.venues import Venues
from quantkit.engine.venue_table import venue_summary
from quantkit.errors import ConfigError, UnknownSymbolError
from tests.builders import make_series

# Bars (open, high, low, close, volume); orders placed at bar 0 fill at bar 1's open.
BINANCE_BTC = [
    (100.0, 100.0, 100.0, 100.0, 1e6),
    (101.0, 103.0, 100.0, 102.0, 1e6),
    (102.0, 102.0, 102.0, 102.0, 1e6),
]
KRAKEN_BTC = [
    (100.5, 100.5, 100.5, 100.5, 1e6),
    (102.0, 104.0, 101.0, 103.0, 1e6),
    (104.0, 104.0, 104.0, 104.0, 1e6),
]
KRAKEN_ETH = [
    (10.0, 10.0, 10.0, 10.0, 1e6),
    (11.0, 11.0, 11.0, 11.0, 1e6),
    (12.0, 12.0, 12.0, 12.0, 1e6),
]


def _feed() -> SeriesFeed:
    return SeriesFeed(
        [
            make_series(BINANCE_BTC, "binance:BTC/USDT"),
            make_series(KRAKEN_BTC, "kraken:BTC/USDT"),
            make_series(KRAKEN_ETH, "kraken:ETH/USDT"),
        ]
    )


def _venues() -> dict[str, BacktestBroker]:
    binance = BacktestBroker(
        cash=10_000.0, markets={"BTC/USDT": Market("BTC/USDT", "BTC", "USDT", taker_fee=0.001)}
    )
    kraken = BacktestBroker(
        cash=5_000.0,
        markets={
            "BTC/USDT": Market("BTC/USDT", "BTC", "USDT", taker_fee=0.0026),
            "ETH/USDT": Market("ETH/USDT", "ETH", "USDT", taker_fee=0.0026, amount_increment=1.0),
        },
    )
    return {"binance": binance, "kraken": kraken}


class Script(Strategy):
    """Places scripted orders on the first bar of a given symbol."""

    def on_start(self) -> None:
        self.placed: list[object] = []

    def on_bar(self, bar: SymbolData) -> None:
        if len(bar) == 1 and bar.symbol == self.symbols[-1]:
            self.act()

    def act(self) -> None:
        self.placed.append(self.buy(symbol="BTC/USDT", venue="binance", amount=10.0))
        self.placed.append(self.buy(symbol="kraken:BTC/USDT", amount=5.0))
        self.placed.append(self.buy(symbol="ETH/USDT", amount=20.7))  # only kraken lists ETH
        self.placed.append(self.buy(symbol="BTC/USDT", venue="kraken", amount=60.0))


def test_each_venue_fills_at_its_own_price_fee_and_balance() -> None:
    strategy = Script()
    venues = Venues(_venues())
    result = Engine(feed=_feed(), strategy=strategy, broker=venues).run()

    binance_btc, kraken_btc, kraken_eth, too_big = strategy.placed
    assert binance_btc.symbol == "binance:BTC/USDT"
    assert kraken_btc.symbol == "kraken:BTC/USDT"
    assert kraken_eth.symbol == "kraken:ETH/USDT"
    # 60 BTC at ~100 on kraken needs ~6,000 USDT: kraken has 5,000 (binance's cash is not
    # kraken's), so the venue refuses it although the run holds 15,000 in total.
    assert too_big.status is OrderStatus.REJECTED
    assert "insufficient USDT" in too_big.reason

    fills = result.fills.set_index("symbol")
    assert fills.loc["binance:BTC/USDT", "price"] == 101.0  # binance's bar 1 open
    assert fills.loc["kraken:BTC/USDT", "price"] == 102.0  # kraken's bar 1 open
    assert fills.loc["kraken:ETH/USDT", "amount"] == 20.0  # kraken's ETH step of 1
    assert fills.loc["binance:BTC/USDT", "fee"] == pytest.approx(10 * 101 * 0.001)
    assert fills.loc["kraken:BTC/USDT", "fee"] == pytest.approx(5 * 102 * 0.0026)

    binance_cash = 10_000 - 1010 - 1.01
    kraken_cash = 5_000 - 510 - 1.326 - 220 - 0.572
    summary = venue_summary(venues, result)
    assert summary.loc["binance", "cash"] == pytest.approx(binance_cash)
    assert summary.loc["kraken", "cash"] == pytest.approx(kraken_cash)
    assert summary.loc["binance", "equity"] == pytest.approx(binance_cash + 10 * 102)
    assert summary.loc["kraken", "equity"] == pytest.approx(kraken_cash + 5 * 104 + 20 * 12)
    assert summary.loc["kraken", "fills"] == 2
    assert summary.loc["total", "fills"] == 3
    total = summary.loc["binance"] + summary.loc["kraken"]
    for column in ("cash", "equity", "fees"):
        assert summary.loc["total", column] == pytest.approx(total[column])
    # The engine's own equity curve (valued independently, from the run's closes) agrees.
    assert result.equity.iloc[-1] == pytest.approx(binance_cash + kraken_cash + 1020 + 520 + 240)
    assert result.equity.iloc[0] == pytest.approx(15_000.0)


class Ambiguous(Strategy):
    def on_bar(self, bar: SymbolData) -> None:
        self.buy(symbol="BTC/USDT", amount=1.0)


def test_a_bare_symbol_two_venues_list_is_refused_naming_them() -> None:
    # A usage error reaches the caller as it is (not wrapped as the strategy's own failure).
    with pytest.raises(UnknownSymbolError, match="ambiguous: venues binance, kraken list it"):
        Engine(feed=_feed(), strategy=Ambiguous(), brokers=_venues()).run()


class WrongVenue(Strategy):
    def on_bar(self, bar: SymbolData) -> None:
        self.buy(symbol="ETH/USDT", venue="binance", amount=1.0)


def test_a_venue_that_does_not_list_the_symbol_is_named() -> None:
    with pytest.raises(UnknownSymbolError) as caught:
        Engine(feed=_feed(), strategy=WrongVenue(), brokers=_venues()).run()
    assert "venue 'binance' does not list 'ETH/USDT' in this run" in str(caught.value)
    assert "it is listed on kraken" in str(caught.value)


def test_a_series_without_a_known_venue_is_refused() -> None:
    feed = SeriesFeed(
        [make_series(BINANCE_BTC, "BTC/USDT"), make_series(KRAKEN_BTC, "kraken:BTC/USDT")]
    )
    with pytest.raises(ConfigError, match="'BTC/USDT' names no venue"):
        Engine(feed=feed, strategy=Script(), brokers=_venues()).run()


def test_a_venue_without_series_is_refused() -> None:
    feed = SeriesFeed([make_series(BINANCE_BTC, "binance:BTC/USDT")])
    with pytest.raises(ConfigError, match=r"no series for venue\(s\) \['kraken'\]"):
        Engine(feed=feed, strategy=Script(), brokers=_venues()).run()


def test_margin_venues_and_shared_brokers_are_refused() -> None:
    with pytest.raises(ConfigError, match="venue 'kraken' trades on margin"):
        Venues({"binance": BacktestBroker(), "kraken": BacktestBroker(allow_short=True)})
    with pytest.raises(ConfigError, match="venue 'kraken' needs a BacktestBroker"):
        Venues({"binance": BacktestBroker(), "kraken": PaperBroker()})  # type: ignore[dict-item]
    shared = BacktestBroker()
    with pytest.raises(ConfigError, match="shares its broker"):
        Venues({"a": shared, "b": shared})
    with pytest.raises(ConfigError, match="venue name 'bad:name'"):
        Venues({"bad:name": BacktestBroker()})
    with pytest.raises(ConfigError, match="not both"):
        Engine(feed=_feed(), strategy=Script(), broker=BacktestBroker(), brokers=_venues())


class RoundTrip(Strategy):
    """Buys on both venues at bar 0 and sells both at bar 1."""

    def on_bar(self, bar: SymbolData) -> None:
        if bar.symbol != self.symbols[-1]:
            return
        if len(bar) == 1:
            self.buy(symbol="BTC/USDT", venue="binance", amount=1.0)
            self.buy(symbol="BTC/USDT", venue="kraken", amount=1.0)
        elif len(bar) == 2:
            self.close("BTC/USDT", venue="binance")
            self.close("kraken:BTC/USDT")


def test_trades_and_positions_stay_per_venue() -> None:
    venues = Venues(_venues())
    result = Engine(feed=_feed(), strategy=RoundTrip(), broker=venues).run()
    trades = result.trades.set_index("symbol")
    # binance: in at 101, out at 102; kraken: in at 102, out at 104 (each bar 1/2 open).
    assert trades.loc["binance:BTC/USDT", "pnl"] == pytest.approx(1 - 0.101 - 0.102)
    assert trades.loc["kraken:BTC/USDT", "pnl"] == pytest.approx(2 - (102 + 104) * 0.0026)
    summary = venue_summary(venues, result)
    assert summary.loc["binance", "trades"] == 1
    assert summary.loc["kraken", "positions"] == 0.0
    assert math.isclose(summary.loc["total", "equity"], result.equity.iloc[-1], rel_tol=1e-12)


class RandomTrader(Strategy):
    """Places a scripted list of (bar, venue, side, amount) market orders."""

    def on_start(self) -> None:
        self.plan: list[tuple[int, str, str, float]] = []

    def on_bar(self, bar: SymbolData) -> None:
        if bar.symbol != self.symbols[-1]:
            return
        for at, venue, side, amount in self.plan:
            if at == len(bar) - 1:
                self.order(side, symbol="BTC/USDT", venue=venue, amount=amount)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.sampled_from(["binance", "kraken"]),
            st.sampled_from(["buy", "sell"]),
            st.floats(0.5, 40.0),
        ),
        max_size=8,
    )
)
def test_the_venues_accounts_add_up_to_the_total(plan: list[tuple[int, str, str, float]]) -> None:
    venues = Venues(_venues())
    strategy = RandomTrader()
    original = strategy.on_start

    def start() -> None:
        original()
        strategy.plan = plan

    strategy.on_start = start  # type: ignore[method-assign]
    result = Engine(feed=_feed(), strategy=strategy, broker=venues).run()
    binance, kraken = venues.brokers["binance"].portfolio, venues.brokers["kraken"].portfolio
    total = venues.portfolio
    assert total.balance == pytest.approx(binance.balance + kraken.balance, abs=1e-6)
    for symbol in ("binance:BTC/USDT", "kraken:BTC/USDT"):
        own = (binance if symbol.startswith("binance") else kraken).position(symbol).amount
        assert total.position(symbol).amount == pytest.approx(own, abs=1e-9)
        assert own >= -1e-9  # spot venues: never short, whatever the other venue holds
    assert binance.balance >= -1e-6 and kraken.balance >= -1e-6  # each venue's own cash
    # every fill is booked once, on its own venue: each venue's cash is its start less its fills
    fills = result.fills
    for name, start_cash, account in (("binance", 10_000.0, binance), ("kraken", 5_000.0, kraken)):
        own = fills[fills["symbol"].str.startswith(f"{name}:")]
        signed = own["amount"].where(own["side"] == "buy", -own["amount"])
        spent = float((signed * own["price"]).sum() + own["fee"].sum())
        assert account.balance == pytest.approx(start_cash - spent, abs=1e-6)
    table = venue_summary(venues, result)
    assert table.loc["total", "equity"] == pytest.approx(result.equity.iloc[-1], abs=1e-6)
