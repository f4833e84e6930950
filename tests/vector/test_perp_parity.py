"""Parity of the fast path with the event backtest on a perpetual: marks, funding, liquidation.

For random prices, mark paths, funding schedules, signals, leverage and margin modes, the
compiled kernel (`kernel_perp`) and the event backtest (`BacktestBroker` over
`sim.perpetual.PerpetualExchange`) give the same fills (bar, side, price, amount, fee), the same
funding payment at each bar, the same liquidations and the same equity at every close.
Tolerance: relative 1e-9 (the two sum the same terms in a slightly different order), with an
absolute 1e-6 for equity that a liquidation took to about zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.funding import FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.engine.engine import Engine
from quantkit.engine.result import Result
from quantkit.vector import FastResult, run_signals
from quantkit.vector.strategy import SmaCrossSignals
from tests.strategies import bar_series, sma_periods
from tests.vector.test_parity import HOUR, START, walk

SYMBOL = "BTC/USDT:USDT"
# Every bracket allows 125x, so admission never depends on the bracket; the maintenance rates
# and amounts differ, so the liquidation price is solved across brackets.
SPEC = PerpetualSpec(
    "USDT",
    brackets=brackets_with_cum(
        [(0, 2_000, 125, 0.004), (2_000, 20_000, 125, 0.01), (20_000, 1e12, 125, 0.025)]
    ),
)
PERP = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0002, taker_fee=0.0005, perpetual=SPEC)
# Brackets whose maximum leverage falls (Binance's shape): an entry whose notional reaches a
# bracket below the run's leverage is refused by both paths.
TIERED = PerpetualSpec(
    "USDT",
    brackets=brackets_with_cum(
        [(0, 2_000, 125, 0.004), (2_000, 20_000, 50, 0.01), (20_000, 1e12, 10, 0.025)]
    ),
)
PERP_TIERED = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0002, taker_fee=0.0005, perpetual=TIERED)
# Contracts of 0.01 BTC: amounts in contracts, P&L, fees and funding on 0.01 * price each.
CONTRACTS = Market(
    SYMBOL,
    "BTC",
    "USDT",
    maker_fee=0.0002,
    taker_fee=0.0005,
    perpetual=PerpetualSpec("USDT", contract_size=0.01, brackets=SPEC.brackets),
)
# Coin-margined: contracts of 100 USD, the account in BTC (brackets in BTC).
INVERSE_SYMBOL = "BTC/USD:BTC"
INVERSE = Market(
    INVERSE_SYMBOL,
    "BTC",
    "USD",
    maker_fee=0.0001,
    taker_fee=0.0005,
    perpetual=PerpetualSpec(
        "BTC",
        inverse=True,
        contract_size=100.0,
        brackets=brackets_with_cum(
            [(0, 20, 125, 0.004), (20, 200, 125, 0.01), (200, 1e9, 125, 0.025)]
        ),
    ),
)


def mark_bars(series: BarSeries, skew: np.ndarray, wick: float) -> BarSeries:
    """A mark series near the trade bars: each bar moved by ``skew`` and widened by ``wick``."""
    o = series.open * (1 + skew)
    c = series.close * (1 + skew)
    h = np.maximum(series.high * (1 + skew), np.maximum(o, c)) * (1 + wick)
    lo = np.minimum(series.low * (1 + skew), np.minimum(o, c)) * (1 - wick)
    return BarSeries(
        series.symbol, HOUR, series.open_time, series.close_time, o, h, lo, c, series.volume
    )


def event_run(
    series: BarSeries,
    strategy: SmaCrossSignals,
    options: dict[str, Any],
    market: Market = PERP,
) -> tuple[Result, FuturesPortfolio]:
    symbol = market.symbol
    currency = market.perpetual.settle if market.perpetual is not None else "USDT"
    broker = BacktestBroker(
        markets={symbol: market}, currency=currency, allow_short=True, **options
    )
    result = Engine(feed=SeriesFeed(series), strategy=strategy, broker=broker).run()
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    return result, portfolio


def assert_perp_parity(
    result: Result, portfolio: FuturesPortfolio, fast: FastResult, series: BarSeries
) -> None:
    engine_fills, fast_fills = result.fills, fast.fills
    assert len(engine_fills) == len(fast_fills), (engine_fills, fast_fills)
    times = np.array([stamp.value for stamp in engine_fills["time"]], dtype=np.int64)
    assert np.array_equal(np.searchsorted(series.open_time, times), fast_fills["bar"].to_numpy())
    assert list(engine_fills["side"]) == list(fast_fills["side"])
    for column in ("price", "amount", "fee"):
        np.testing.assert_allclose(
            fast_fills[column].to_numpy(np.float64),
            engine_fills[column].to_numpy(np.float64),
            rtol=1e-9,
            atol=1e-12,
        )
    # funding: each event payment lands on the bar it was booked in
    assert fast.perp is not None
    expected = np.zeros(len(series))
    for payment in portfolio.funding:
        expected[int(np.searchsorted(series.open_time, payment.booked_at))] += payment.amount
    np.testing.assert_allclose(fast.perp.funding, expected, rtol=1e-9, atol=1e-12)
    # liquidations: as many, at the same bars and prices (they are fills of kind liquidation)
    assert fast.perp.liquidations == portfolio.liquidations
    assert int((fast_fills["kind"] == "liquidation").sum()) == portfolio.liquidations
    np.testing.assert_allclose(
        fast.equity.to_numpy(), result.equity.to_numpy(), rtol=1e-9, atol=1e-6
    )
    for name in ("Final equity", "Fees paid", "Funding paid", "Funding received", "Net funding"):
        assert np.isclose(float(fast.stats[name]), float(result.stats[name]), rtol=1e-9, atol=1e-9)
    assert fast.stats["Liquidations"] == result.stats["Liquidations"]
    # round trips net of the funding they paid, and every figure built on them
    assert len(fast.trades) == len(result.trades)
    for column in ("funding", "pnl"):
        np.testing.assert_allclose(
            fast.trades[column].to_numpy(np.float64),
            result.trades[column].to_numpy(np.float64),
            rtol=1e-9,
            atol=1e-9,
        )
    for name in ("Expectancy", "Best trade", "Worst trade", "Win rate [%]", "Profit factor"):
        assert np.isclose(
            float(fast.stats[name]), float(result.stats[name]), rtol=1e-9, atol=1e-9,
            equal_nan=True,
        ), name  # fmt: skip
    assert fast.stats["Funding source"] == result.stats["Funding source"]


_rates = st.one_of(st.floats(0.0001, 0.01), st.floats(-0.01, -0.0001))


@st.composite
def funding_schedules(draw: st.DrawFn, bars: int) -> FundingRates | None:
    """No funding, a constant rate, or a history at random times (not only at bar opens)."""
    kind = draw(st.sampled_from(["constant", "history", "none"]))
    if kind == "none":
        return None
    if kind == "constant":
        hours = draw(st.sampled_from([1, 3, 8]))
        return FundingRates.constant(draw(_rates), hours * HOUR)
    offsets = draw(st.lists(st.integers(-HOUR, bars * HOUR), min_size=5, max_size=40, unique=True))
    rates = draw(st.lists(_rates, min_size=len(offsets), max_size=len(offsets)))
    return FundingRates.history([START + t for t in sorted(offsets)], rates)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    walk_bars=bar_series(min_size=30, max_size=120),
    periods=sma_periods(max_slow=12),
    sl_pct=st.one_of(st.none(), st.floats(0.005, 0.2)),
    size=st.sampled_from([1.0, 0.5]),
    leverage=st.sampled_from([125.0, 50.0, 20.0, 5.0, 2.0]),
    margin_mode=st.sampled_from(["isolated", "cross"]),
    wick=st.sampled_from([0.0, 0.002, 0.03]),
    cash=st.sampled_from([1_000.0, 10_000.0, 100_000.0]),
    market=st.sampled_from([PERP, PERP_TIERED, CONTRACTS, INVERSE]),
)
def test_fast_path_gives_the_event_backtests_perpetual_run(
    data: st.DataObject,
    walk_bars: Any,
    periods: tuple[int, int],
    sl_pct: float | None,
    size: float,
    leverage: float,
    margin_mode: str,
    wick: float,
    cash: float,
    market: Market,
) -> None:
    symbol = market.symbol
    if market is INVERSE:  # market entries and signal exits only (perp_contracts)
        sl_pct = None
    series = walk(walk_bars.open, walk_bars.high, walk_bars.low, walk_bars.close, symbol)
    skew = np.asarray(
        data.draw(st.lists(st.floats(-0.02, 0.02), min_size=len(series), max_size=len(series)))
    )
    marks = mark_bars(series, skew, wick)
    funding = data.draw(funding_schedules(len(series)))
    fast_period, slow_period = periods
    params = {"fast": fast_period, "slow": slow_period, "short": True, "size": size}
    options: dict[str, Any] = {
        "cash": cash,
        "leverage": leverage,
        "margin_mode": margin_mode,
        "marks": {symbol: marks},
        "funding": {symbol: funding} if funding is not None else None,
    }
    strategy = SmaCrossSignals(**params, sl_pct=sl_pct)
    result, portfolio = event_run(series, strategy, options, market)
    fast = run_signals(
        SmaCrossSignals(**params, sl_pct=sl_pct),
        series,
        market=market,
        allow_short=True,
        check_causal=False,
        **options,
    )
    assert_perp_parity(result, portfolio, fast, series)
    event(f"market: {market.symbol} of size {market.perpetual.contract_size:g}")  # type: ignore[union-attr]
    by_bracket = result.orders["reason"].astype(str).str.contains("allows").sum()
    assert fast.rejected == (result.orders["status"] == "rejected").sum()
    event(f"refused by a bracket's leverage: {by_bracket > 0}")
    event(f"liquidated: {portfolio.liquidations > 0}")
    event(f"funding paid: {bool(portfolio.funding)}")
    if margin_mode == "isolated":
        assert (fast.equity.to_numpy() >= -1e-9).all()
