"""Parents in a run of several symbols: each acts on its own symbol's bars."""

from __future__ import annotations

import pytest

from quantkit import BacktestBroker, Engine, Market, SeriesFeed
from quantkit.algos import ParentStatus
from tests.algos.helpers import StartsParent
from tests.builders import HOUR, T0, make_series

BTC = [(100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 10.0) for i in range(8)]
ETH = [(10.0 + i, 10.5 + i, 9.5 + i, 10.2 + i, 50.0) for i in range(8)]


def test_a_twap_on_the_second_symbol_slices_at_its_bars_and_fills_at_its_opens() -> None:
    markets = {
        s: Market(s, s.split("/")[0], "USDT", maker_fee=0.0, taker_fee=0.0)
        for s in ("BTC/USDT", "ETH/USDT")
    }
    strategy = StartsParent(
        lambda s: s.twap("buy", 2.0, horizon="2h", slices=2, symbol="ETH/USDT"), at=1
    )
    Engine(
        feed=SeriesFeed([make_series(BTC), make_series(ETH, symbol="ETH/USDT")]),
        strategy=strategy,
        broker=BacktestBroker(cash=1_000.0, markets=markets),
    ).run()
    parent = strategy.parent
    assert parent is not None
    # started at the close of bar 1 (T0 + 2h), from BTC's on_bar: ETH's bar 1 has closed too
    assert parent.symbol == "ETH/USDT" and parent.arrival_price == 11.2
    assert [c.amount for c in parent.children] == [1.0, 1.0]
    assert [c.created_at for c in parent.children] == [T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert [c.average_price for c in parent.children] == [12.0, 13.0]  # ETH's next opens
    assert parent.status is ParentStatus.FILLED and parent.ended_at == T0 + 4 * HOUR
    # the interval VWAP is ETH's: bars 2 and 3, typical (10.5 + 9.5 + 10.2) / 3 + k
    assert parent.vwap == pytest.approx((30.2 / 3 + 2 + 30.2 / 3 + 3) / 2)
