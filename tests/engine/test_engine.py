"""The engine loop: timing of orders, multi-symbol alignment, accounting identity, determinism."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit import (
    BacktestBroker,
    Engine,
    Market,
    MultiTimeframeFeed,
    OrderStatus,
    SeriesFeed,
    SmaCross,
    Strategy,
    SymbolData,
    sample_feed,
)
from quantkit.errors import ConfigError
from tests.builders import HOUR, T0, make_series
from tests.strategies import bar_rows


class Recorder(Strategy):
    """Buys on a schedule and records what it saw at each bar."""

    buy_at: tuple[int, ...] = (1,)
    sell_at: tuple[int, ...] = ()

    def on_start(self) -> None:
        self.seen: list[tuple[str, int, float, float]] = []
        self.events: list[str] = []

    def on_bar(self, bar: SymbolData) -> None:
        self.seen.append((bar.symbol, bar.index, bar.close[-1], self.equity))
        if bar.index in self.buy_at:
            self.buy(symbol=bar.symbol, amount=1.0)
        if bar.index in self.sell_at:
            self.sell(symbol=bar.symbol, amount=1.0)

    def on_order(self, order) -> None:  # type: ignore[no-untyped-def]
        self.events.append(f"order {order.client_id} {order.status}")

    def on_fill(self, fill) -> None:  # type: ignore[no-untyped-def]
        self.events.append(f"fill {fill.client_id} {fill.price}")


def free_broker(cash: float = 1000.0, **kw: object) -> BacktestBroker:
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.0, taker_fee=0.0)
    return BacktestBroker(cash=cash, markets={"BTC/USDT": market}, **kw)  # type: ignore[arg-type]


ROWS = [
    (10.0, 11.0, 9.0, 10.5, 100.0),
    (10.5, 12.0, 10.0, 11.0, 100.0),
    (11.5, 12.5, 11.0, 12.0, 100.0),
    (12.0, 13.0, 11.5, 12.5, 100.0),
]


def test_order_on_bar_t_fills_at_open_of_t_plus_1_and_events_arrive_in_order() -> None:
    strategy = Recorder(buy_at=(1,), sell_at=(2,))
    result = Engine(
        feed=SeriesFeed(make_series(ROWS)), strategy=strategy, broker=free_broker()
    ).run()
    assert list(result.fills["price"]) == [11.5, 12.0]  # opens of bars 2 and 3
    assert list(result.fills["time"].astype("int64")) == [T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert strategy.events == [
        "order qk-000001 open",
        "fill qk-000001 11.5",
        "order qk-000001 filled",
        "order qk-000002 open",
        "fill qk-000002 12.0",
        "order qk-000002 filled",
    ]
    # equity seen in on_bar of bar 2 (after the fill at 11.5): 1000 - 11.5 + 12.0
    assert strategy.seen[2][3] == pytest.approx(1000.5)
    assert list(result.equity) == pytest.approx([1000.0, 1000.0, 1000.5, 1000.5])
    assert result.trades["pnl"].iloc[0] == pytest.approx(0.5)


def test_equity_series_equals_cash_plus_marked_positions_seen_in_the_loop() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    rows = [(c, c * 1.01, c * 0.99, c, 50.0) for c in close]
    strategy = Recorder(buy_at=(5, 50, 51, 120), sell_at=(30, 100, 200, 201))
    result = Engine(
        feed=SeriesFeed(make_series(rows)), strategy=strategy, broker=free_broker(cash=10_000.0)
    ).run()
    assert len(result.fills) == 8
    np.testing.assert_allclose(result.equity.to_numpy(), [s[3] for s in strategy.seen], rtol=1e-12)


def test_two_symbols_are_aligned_on_close_time_and_see_only_closed_bars() -> None:
    btc = make_series(ROWS)
    eth_rows = [(1.0, 1.1, 0.9, 1.0 + k / 10, 10.0) for k in range(3)]
    eth = make_series(eth_rows, symbol="ETH/USDT", start=T0 + HOUR)  # starts one bar later
    strategy = Recorder(buy_at=())
    markets = {
        s: Market(s, s.split("/")[0], "USDT", maker_fee=0.0, taker_fee=0.0)
        for s in ("BTC/USDT", "ETH/USDT")
    }
    Engine(
        feed=SeriesFeed([btc, eth]), strategy=strategy, broker=BacktestBroker(markets=markets)
    ).run()
    order = [(s, i) for s, i, _, _ in strategy.seen]
    assert order == [
        ("BTC/USDT", 0),
        ("BTC/USDT", 1),
        ("ETH/USDT", 0),
        ("BTC/USDT", 2),
        ("ETH/USDT", 1),
        ("BTC/USDT", 3),
        ("ETH/USDT", 2),
    ]


def test_multi_symbol_path_matches_single_symbol_path() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    rows = [(c, c * 1.005, c * 0.995, c, 10.0) for c in close]
    btc = make_series(rows)
    quiet = make_series([(5.0, 5.0, 5.0, 5.0, 1.0)] * 400, symbol="ETH/USDT")
    single = Engine(feed=SeriesFeed(btc), strategy=SmaCross(fast=5, slow=20)).run()
    both = Engine(feed=SeriesFeed([btc, quiet]), strategy=SmaCross(fast=5, slow=20)).run()
    assert len(single.fills) > 10
    assert single.fills.equals(both.fills)
    np.testing.assert_array_equal(single.equity.to_numpy(), both.equity.to_numpy())


def test_same_inputs_give_byte_identical_results() -> None:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
    rows = [(c, c * 1.01, c * 0.99, c, 10.0) for c in close]

    def run() -> tuple[bytes, ...]:
        result = Engine(
            feed=SeriesFeed(make_series(rows)), strategy=SmaCross(fast=5, slow=15)
        ).run()
        return (
            result.orders.to_csv().encode(),
            result.fills.to_csv().encode(),
            result.trades.to_csv().encode(),
            result.equity.to_csv().encode(),
            result.stats.to_csv().encode(),
        )

    assert run() == run()


def test_an_engine_runs_once_and_checks_its_parts() -> None:
    feed = SeriesFeed(make_series(ROWS))
    engine = Engine(feed=feed, strategy=Recorder())
    engine.run()
    with pytest.raises(ConfigError, match="already ran"):
        engine.run()
    with pytest.raises(ConfigError, match="feed must be a DataFeed"):
        Engine(feed=object(), strategy=Recorder())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="strategy must be a Strategy"):
        Engine(feed=feed, strategy=SmaCross)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="broker must be a Broker"):
        Engine(feed=feed, strategy=Recorder(), broker="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="risk must be a RiskPolicy"):
        Engine(feed=feed, strategy=Recorder(), risk=1)  # type: ignore[arg-type]


def test_on_start_orders_fill_at_the_first_open_and_on_stop_orders_never_fill() -> None:
    class Edges(Strategy):
        def on_start(self) -> None:
            self.first = self.buy(amount=1.0)

        def on_bar(self, bar: SymbolData) -> None:
            pass

        def on_stop(self) -> None:
            self.last = self.sell(amount=1.0)

    strategy = Edges()
    result = Engine(
        feed=SeriesFeed(make_series(ROWS)), strategy=strategy, broker=free_broker()
    ).run()
    assert strategy.first.status is OrderStatus.FILLED and strategy.first.average_price == 10.0
    assert strategy.last.status is OrderStatus.OPEN  # no bar left to fill it
    assert result.positions.loc["BTC/USDT", "amount"] == 1.0
    assert len(result.open_trades) == 1 and result.trades.empty


@settings(max_examples=40)
@given(rows=bar_rows(min_size=8, max_size=40), data=st.data())
def test_changing_bars_after_t_never_changes_what_was_decided_up_to_t(rows, data) -> None:  # type: ignore[no-untyped-def]
    cut = data.draw(st.integers(2, len(rows) - 2))
    tail = data.draw(bar_rows(min_size=len(rows) - cut, max_size=len(rows) - cut))
    changed = rows[:cut] + tail

    class Contrarian(Strategy):
        def on_start(self) -> None:
            self.fast = self.I(talib.SMA, self.data.close, timeperiod=2)
            self.decisions: list[tuple[int, str, float]] = []

        def on_bar(self, bar: SymbolData) -> None:
            if math.isnan(self.fast[-1]):
                return
            if bar.close[-1] < self.fast[-1] and self.position().is_flat:
                order = self.buy(cost=100.0, sl_pct=0.05, tp_pct=0.05)
                self.decisions.append((bar.index, str(order.status), self.fast[-1]))
            elif bar.close[-1] > self.fast[-1] and not self.position().is_flat:
                self.close()
                self.decisions.append((bar.index, "close", self.fast[-1]))

    def decisions(series_rows):  # type: ignore[no-untyped-def]
        strategy = Contrarian()
        result = Engine(feed=SeriesFeed(make_series(series_rows)), strategy=strategy).run()
        fills = result.fills[
            result.fills["time"] < pd.Timestamp(T0 + cut * HOUR, unit="ns", tz="UTC")
        ]
        kept = [d for d in strategy.decisions if d[0] < cut]
        return kept, fills.to_csv()

    assert decisions(rows) == decisions(changed)


def test_informative_series_are_read_but_never_traded_or_called() -> None:
    hourly = sample_feed(start="2021-01-01", end="2021-03-01")
    plain = Engine(feed=hourly, strategy=SmaCross(fast=5, slow=20)).run()
    strategy = Recorder(buy_at=())
    Engine(feed=MultiTimeframeFeed(hourly, ["1d"]), strategy=strategy).run()
    assert {s for s, _, _, _ in strategy.seen} == {"BTC/USDT"}
    assert strategy.symbols == ("BTC/USDT",)
    assert "BTC/USDT@1d" in strategy.datas
    both = Engine(feed=MultiTimeframeFeed(hourly, ["1d"]), strategy=SmaCross(fast=5, slow=20)).run()
    pd.testing.assert_frame_equal(plain.trades, both.trades)
    assert both.symbols == ("BTC/USDT",)
    assert list(both.positions.index) == ["BTC/USDT"]


def test_a_feed_of_informative_series_only_is_refused() -> None:
    daily = make_series(ROWS, symbol="BTC/USDT@1d", timeframe=24 * HOUR)
    with pytest.raises(ConfigError, match="at least one tradable symbol"):
        Engine(feed=SeriesFeed(daily), strategy=Recorder()).run()
