"""The perpetual bar gate's schedule: which bars of a held perpetual the backtest loop processes.

Hourly bars from ``T0`` (22:00 UTC), funding every 8 hours at 00:00, 08:00 and 16:00 UTC, so
the funding bars are 2, 10 and 18. A 10x isolated long of 10 contracts bought at 100 (margin
100) has its liquidation price at (100 - 1000) / (10 * 0.004 - 10) = 90.36.
"""

from __future__ import annotations

from typing import Any

import pytest

from quantkit import BacktestBroker, Engine
from quantkit.brokers.perp_gate import PerpetualBarGate
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.funding import FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from tests.builders import HOUR, make_series
from tests.strategy.helpers import Scripted

SYM = "BTC/USDT:USDT"
SPEC = PerpetualSpec("USDT", brackets=brackets_with_cum([(0, 50_000, 125, 0.004)]))
PERP = Market(SYM, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0, perpetual=SPEC)
START = int(make_series([(1.0, 1.0, 1.0, 1.0, 1.0)], SYM).open_time[0])


class GateBroker(BacktestBroker):
    """Keeps the gate the engine got, to read its schedule after the run."""

    gates: list[Any]

    def working(self, symbol: str) -> Any:
        gate = super().working(symbol)
        self.gates = [*getattr(self, "gates", []), gate]
        return gate


def run(mark_lows: dict[int, float]) -> tuple[GateBroker, PerpetualBarGate]:
    trade = make_series([(100.0, 100.5, 99.5, 100.0, 1e6)] * 24, SYM)
    mark = make_series([(100.0, 100.5, mark_lows.get(k, 99.5), 100.0, 0.0) for k in range(24)], SYM)
    broker = GateBroker(
        cash=10_000.0, markets={SYM: PERP}, marks={SYM: mark}, margin_mode="isolated",
        leverage=10.0, funding={SYM: FundingRates.constant(0.0001, 8 * HOUR)},
    )  # fmt: skip
    strategy = Scripted({0: lambda s: s.buy(amount=10.0)})
    Engine(feed=SeriesFeed([trade]), strategy=strategy, broker=broker).run()
    (gate,) = broker.gates
    assert isinstance(gate, PerpetualBarGate)
    return broker, gate


def funding_bars(broker: BacktestBroker) -> list[int]:
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    return [(p.booked_at - START) // HOUR for p in portfolio.funding]


def test_a_held_position_is_processed_only_at_its_funding_bars() -> None:
    broker, gate = run({5: 95.0})  # a dip that stays above the liquidation price
    assert [k for k, flag in enumerate(gate.due) if flag] == [2, 10, 18]
    assert funding_bars(broker) == [2, 10, 18]
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    assert [p.amount for p in portfolio.funding] == pytest.approx([0.1, 0.1, 0.1])


def test_the_bar_whose_mark_reaches_the_liquidation_price_is_processed_and_liquidates() -> None:
    broker, gate = run({12: 85.0})
    assert [k for k, flag in enumerate(gate.due) if flag] == [2, 10, 12]
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    assert portfolio.liquidations == 1
    assert funding_bars(broker) == [2, 10]
    (liquidation,) = [f for f in broker.fills if "liquidation" in f.client_id]
    wallet = 100.0 - 0.2  # the margin less the two funding payments
    assert liquidation.price == pytest.approx((wallet - 1000.0) / (10 * 0.004 - 10), rel=1e-12)
    assert liquidation.timestamp == START + 12 * HOUR
