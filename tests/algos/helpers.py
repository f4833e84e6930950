"""A strategy that starts one parent order at a chosen bar, and a free broker to run it on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from quantkit import BacktestBroker, Engine, Market, SeriesFeed, Strategy, SymbolData
from quantkit.algos import ParentOrder
from quantkit.engine.result import Result
from tests.builders import make_series

Starter = Callable[[Strategy], ParentOrder]


class StartsParent(Strategy):
    """Calls ``start(self)`` at bar ``at`` (once); ``then(self, index)`` at every later bar."""

    at: int = 0

    def __init__(self, start: Starter, then: Callable[[Strategy, int], None] | None = None,
                 **params: Any) -> None:  # fmt: skip
        super().__init__(**params)
        self.start = start
        self.then = then
        self.parent: ParentOrder | None = None

    def on_bar(self, bar: SymbolData) -> None:
        if bar.index == self.at and self.parent is None:
            self.parent = self.start(self)
        elif self.then is not None and bar.index > self.at:
            self.then(self, bar.index)


def free_broker(cash: float = 100_000.0, **kw: Any) -> BacktestBroker:
    """A BTC/USDT account without fees or precision limits."""
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.0, taker_fee=0.0)
    return BacktestBroker(cash=cash, markets={"BTC/USDT": market}, **kw)


def run(
    rows: Sequence[tuple[float, float, float, float, float]],
    start: Starter,
    *,
    then: Callable[[Strategy, int], None] | None = None,
    at: int = 0,
    broker: BacktestBroker | None = None,
    **engine: Any,
) -> tuple[StartsParent, Result]:
    """Backtest ``rows`` with a `StartsParent`; returns the strategy and the result."""
    strategy = StartsParent(start, then, at=at)
    result = Engine(
        feed=SeriesFeed(make_series(rows)),
        strategy=strategy,
        broker=broker or free_broker(),
        **engine,
    ).run()
    return strategy, result


def flat_rows(
    n: int, price: float = 100.0, volume: float = 10.0
) -> list[tuple[float, float, float, float, float]]:
    """``n`` bars with open = close = ``price``, a 1 % range, ``volume`` each."""
    return [(price, price * 1.01, price * 0.99, price, volume) for _ in range(n)]
