"""Inverse (COIN-M) perpetuals and contract sizes through the Engine: results in the settle coin.

The equity curve is checked against an independent replay of the fills and the funding ledger
written here: each contract's P&L is ``CS * (exit - entry)`` (linear) or
``CS * (1/entry - 1/exit)`` (inverse), the entry averaged as the venue does (by contracts for
linear, the harmonic mean for inverse), valued at the mark close of each bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit import BacktestBroker, Engine
from quantkit.brokers.paper import PaperBroker
from quantkit.data.replay import ReplayStream
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.funding import FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.engine.live import LiveEngine
from quantkit.engine.result import Result
from tests.builders import HOUR, T0, make_series
from tests.strategy.helpers import Scripted

INV = "BTC/USD:BTC"
INV_SPEC = PerpetualSpec(
    "BTC",
    inverse=True,
    contract_size=100.0,
    brackets=brackets_with_cum([(0, 5, 125, 0.004), (5, 10, 100, 0.005)]),  # in BTC
)
INV_MARKET = Market(
    INV, "BTC", "USD", amount_increment=1.0, maker_fee=0.0001, taker_fee=0.0005,
    perpetual=INV_SPEC,
)  # fmt: skip
LIN = "BTC/USDT:USDT"
LIN_SPEC = PerpetualSpec(
    "USDT",
    contract_size=0.001,
    brackets=brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005)]),
)
LIN_MARKET = Market(
    LIN, "BTC", "USDT", amount_increment=1.0, maker_fee=0.0002, taker_fee=0.0004,
    perpetual=LIN_SPEC,
)  # fmt: skip
CASES = {  # symbol: market, account currency, cash, contracts tradeable
    INV: (INV_MARKET, "BTC", 1.0, 120.0),
    LIN: (LIN_MARKET, "USDT", 10_000.0, 1_500.0),
}


def run(
    symbol: str, closes: list[float], marks: list[float], script: dict[int, Any], **options: Any
) -> tuple[Result, BacktestBroker]:
    market, currency, cash, _ = CASES[symbol]
    trade = make_series([(c, c * 1.001, c * 0.999, c, 1e9) for c in closes], symbol)
    mark = make_series([(m, m * 1.002, m * 0.998, m, 0.0) for m in marks], symbol)
    broker = BacktestBroker(
        cash=cash, currency=currency, markets={symbol: market}, marks={symbol: mark}, **options
    )
    result = Engine(feed=SeriesFeed([trade]), strategy=Scripted(script), broker=broker).run()
    return result, broker


def replay_equity(symbol: str, broker: BacktestBroker, marks: list[float]) -> np.ndarray:
    """Equity at each bar close from the fills and funding alone, with the venue's averaging."""
    return replay(symbol, broker, marks)[0]


def replay(
    symbol: str, broker: BacktestBroker, marks: list[float]
) -> tuple[np.ndarray, float, float]:
    """`replay_equity`, with the final wallet balance and entry price."""
    spec = CASES[symbol][0].perpetual
    assert spec is not None
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    fills = sorted(broker.fills, key=lambda f: f.timestamp)
    cs = spec.contract_size

    def gain(entry: float, price: float) -> float:  # one long contract's P&L
        return cs * (1 / entry - 1 / price) if spec.inverse else cs * (price - entry)

    out = []
    for k, mark in enumerate(marks):
        bar_open = T0 + k * HOUR
        wallet, amount, entry = CASES[symbol][2], 0.0, 0.0
        for f in (f for f in fills if f.timestamp <= bar_open):
            signed = f.amount if f.side is Side.BUY else -f.amount
            wallet -= f.fee
            if amount == 0 or (amount > 0) == (signed > 0):
                held, added = abs(amount), abs(signed)
                if spec.inverse:  # harmonic mean of the contracts' prices
                    entry = (held + added) / ((held / entry if held else 0.0) + added / f.price)
                else:
                    entry = (held * entry + added * f.price) / (held + added)
                amount += signed
                continue
            closed = min(abs(signed), abs(amount))
            wallet += closed * gain(entry, f.price) * (1 if amount > 0 else -1)
            new = amount + signed
            if abs(new) < 1e-9:
                new, entry = 0.0, 0.0
            elif (new > 0) != (amount > 0):
                entry = f.price
            amount = new
        wallet -= sum(p.amount for p in portfolio.funding if p.booked_at <= bar_open)
        out.append(wallet + (amount * gain(entry, mark) if amount else 0.0))
    return np.asarray(out), wallet, entry


def test_a_coin_margined_run_reports_equity_in_btc_and_in_usd() -> None:
    closes = [20_000.0, 20_000.0, 22_000.0, 25_000.0, 25_000.0, 25_000.0]
    script = {0: lambda s: s.buy(amount=100.0), 2: lambda s: s.sell(amount=100.0)}
    result, broker = run(INV, closes, closes, script)
    # bought 100 contracts at bar 1's open 20,000 (fee 0.0005 * 0.5 BTC = 0.00025), sold at
    # bar 3's open 25,000 (fee 0.0005 * 0.4 = 0.0002): P&L 10,000 * (1/20,000 - 1/25,000)
    assert result.equity.iloc[-1] == pytest.approx(1.0 + 0.1 - 0.00045)
    # at bar 2's close the position is marked at 22,000
    assert result.equity.iloc[2] == pytest.approx(
        1.0 - 0.00025 + 10_000 * (1 / 20_000 - 1 / 22_000)
    )
    # the quote-valued curve: BTC equity times the mark close
    np.testing.assert_allclose(result.equity_quote.to_numpy(), result.equity.to_numpy() * closes)
    (trade,) = result.trades.itertuples()
    assert (trade.entry_price, trade.exit_price) == (
        pytest.approx(20_000.0),
        pytest.approx(25_000.0),
    )
    assert trade.fees == pytest.approx(0.00045)
    assert trade.pnl == pytest.approx(0.1 - 0.00045)
    # return on the entry notional of 0.5 BTC
    assert trade.return_pct == pytest.approx(100 * (0.1 - 0.00045) / 0.5)
    assert set(result.fills["fee_currency"]) == {"BTC"}
    # turnover on the notional in BTC (0.5 in, 0.4 out), not contracts times USD
    years = (len(closes) - 1) * HOUR / (365 * 24 * HOUR)
    turnover = 0.9 / result.equity.mean() / years
    assert result.stats["Turnover (ann.)"] == pytest.approx(turnover)
    np.testing.assert_allclose(result.equity.to_numpy(), replay_equity(INV, broker, closes))


def test_a_coin_margined_trade_averages_its_entry_harmonically() -> None:
    closes = [20_000.0, 20_000.0, 30_000.0, 30_000.0, 24_000.0, 24_000.0]
    script = {
        0: lambda s: s.buy(amount=10.0),
        1: lambda s: s.buy(amount=10.0),
        3: lambda s: s.close(),
    }
    result, _ = run(INV, closes, closes, script)
    (trade,) = result.trades.itertuples()
    # 20 contracts / (10/20,000 + 10/30,000) = 24,000; sold at 24,000: P&L 0, fees only
    assert trade.entry_price == pytest.approx(24_000.0)
    assert trade.pnl == pytest.approx(-trade.fees)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from([INV, LIN]),
    steps=st.lists(st.floats(-0.06, 0.06), min_size=12, max_size=30),
    basis=st.lists(st.floats(-0.01, 0.01), min_size=30, max_size=30),
    orders=st.dictionaries(st.integers(0, 10), st.floats(-1.0, 1.0), min_size=1, max_size=6),
    rate=st.floats(-0.002, 0.002),
    mode=st.sampled_from(["isolated", "cross"]),
    leverage=st.sampled_from([2.0, 20.0]),
)
def test_equity_is_wallet_plus_unrealised_at_the_mark_every_bar(
    symbol: str,
    steps: list[float],
    basis: list[float],
    orders: dict[int, float],
    rate: float,
    mode: str,
    leverage: float,
) -> None:
    closes = list(20_000.0 * np.cumprod(1.0 + np.asarray(steps)))
    marks = [c * (1.0 + b) for c, b in zip(closes, basis, strict=False)]
    most = CASES[symbol][3]
    contracts = {k: float(round(f * most)) for k, f in orders.items()}
    script = {
        k: (lambda s, a=a: s.buy(amount=a) if a > 0 else s.sell(amount=-a))
        for k, a in contracts.items()
        if abs(a) >= 1
    }
    rates = {symbol: FundingRates.constant(rate, 2 * HOUR)}
    result, broker = run(
        symbol, closes, marks, script, funding=rates, margin_mode=mode, leverage=leverage
    )
    portfolio = broker.portfolio
    assert isinstance(portfolio, FuturesPortfolio)
    cash = CASES[symbol][2]
    equity, wallet, entry = replay(symbol, broker, marks)
    np.testing.assert_allclose(result.equity.to_numpy(), equity, rtol=1e-9, atol=cash * 1e-10)
    # the account's own figures: the wallet (realised P&L through the entry price), the entry
    assert portfolio.wallet_balance() == pytest.approx(wallet, rel=1e-9, abs=cash * 1e-10)
    assert portfolio.position(symbol).entry_price == pytest.approx(entry, rel=1e-9)
    if mode == "isolated":
        assert (result.equity.to_numpy() >= -cash * 1e-10).all()
    spec = CASES[symbol][0].perpetual
    assert spec is not None
    for p in portfolio.funding:  # in the settle currency; longs pay a positive rate
        notional = spec.notional(p.position, p.mark)
        assert p.amount == pytest.approx(np.sign(p.position) * notional * p.rate)
    # the trades table's P&L adds up to the change of equity once flat
    if portfolio.position(symbol).amount == 0.0 and not result.trades.empty:
        total = result.trades["pnl"].sum()
        assert total == pytest.approx(result.equity.iloc[-1] - cash, abs=cash * 1e-9)


def test_paper_trading_a_coin_margined_perpetual_matches_the_backtest() -> None:
    # no fees, no mark series. Isolated 10x long of 100 contracts at 25,000: 0.4 BTC of
    # notional, margin 0.04 BTC; funding 0.0001 every hour on 100 * 100 / 25,000 = 0.4 BTC,
    # 0.00004 BTC a time, paid out of the isolated margin; the bar at index 4 trades down to
    # 20,000, through the inverse liquidation price: the account loses exactly its 0.04 BTC
    free = Market(INV, "BTC", "USD", amount_increment=1.0, maker_fee=0.0, taker_fee=0.0,
                  perpetual=INV_SPEC)  # fmt: skip
    rows = [(25_000.0, 25_000.0, 25_000.0, 25_000.0, 1e9)] * 4 + [
        (25_000.0, 25_000.0, 20_000.0, 21_000.0, 1e9)
    ] * 2
    series = make_series(rows, INV)
    options: dict[str, Any] = {
        "cash": 1.0,
        "currency": "BTC",
        "markets": {INV: free},
        "leverage": 10.0,
        "margin_mode": "isolated",
        "funding": {INV: FundingRates.constant(0.0001, HOUR)},
    }
    paper = PaperBroker(**options)
    summary = LiveEngine(
        stream=ReplayStream({INV: series}),
        strategy=Scripted({0: lambda s: s.buy(amount=100.0)}),
        broker=paper,
        warmup=0,
        handle_signals=False,
    ).run()
    backtest = BacktestBroker(**options)
    Engine(
        feed=SeriesFeed([series]),
        strategy=Scripted({0: lambda s: s.buy(amount=100.0)}),
        broker=backtest,
    ).run()
    for broker in (paper, backtest):
        portfolio = broker.portfolio
        assert isinstance(portfolio, FuturesPortfolio)
        assert portfolio.liquidations == 1
        assert [p.amount for p in portfolio.funding] == pytest.approx([0.00004] * 3)
        assert {f.fee_currency for f in broker.fills} == {"BTC"}
    assert summary.equity == pytest.approx(1.0 - 0.04)
    assert backtest.portfolio.equity() == pytest.approx(summary.equity)
