"""A coin-margined (inverse) perpetual: contracts of 100 USD, margin and P&L in BTC.

Usage: python examples/16_inverse_perpetual.py [REPORT.html]
(default: reports/inverse_perpetual.html)

Binance COIN-M's BTCUSD perpetual is quoted in USD but settled in BTC: one contract is worth
100 USD, the account holds BTC, and margin, fees, funding and P&L are paid in BTC
(``contracts * 100 * (1/entry - 1/exit)``). The market comes from ccxt's own ``binancecoinm``
parser applied to the venue's exchangeInfo and leverage-bracket answers (written out below:
nothing is sent over the network), then `parse_perpetual_market` turns it into a `Market`
with its `PerpetualSpec`. The strategy is an SMA cross, long and short, spending half of the
BTC on each entry. The sample bars are synthetic, so the figures illustrate the workflow,
not an edge.

`Result.equity` of a coin-margined account is in BTC; `Result.equity_quote` values it in USD
at the mark.
"""

import sys

import ccxt
import numpy as np

import quantkit as qk
from quantkit.exchanges.perp_markets import parse_perpetual_market

HOUR = 3_600_000_000_000

# Binance COIN-M's answers for BTCUSD_PERP (exchangeInfo entry and leverageBracket; the
# brackets are in BTC: qtyFloor / qtyCap)
EXCHANGE_INFO = {
    "symbol": "BTCUSD_PERP", "pair": "BTCUSD", "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000, "contractStatus": "TRADING", "contractSize": 100,
    "marginAsset": "BTC", "baseAsset": "BTC", "quoteAsset": "USD",
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "1000", "maxPrice": "4520958",
         "tickSize": "0.1"},
        {"filterType": "LOT_SIZE", "stepSize": "1", "maxQty": "1000000", "minQty": "1"},
    ],
    "orderTypes": ["LIMIT", "MARKET"],
}  # fmt: skip
BRACKETS = {
    "symbol": "BTCUSD_PERP",
    "brackets": [
        {"bracket": 1, "initialLeverage": 125, "qtyCap": 5, "qtyFloor": 0,
         "maintMarginRatio": 0.004, "cum": 0.0},
        {"bracket": 2, "initialLeverage": 100, "qtyCap": 10, "qtyFloor": 5,
         "maintMarginRatio": 0.005, "cum": 0.005},
        {"bracket": 3, "initialLeverage": 50, "qtyCap": 20, "qtyFloor": 10,
         "maintMarginRatio": 0.01, "cum": 0.055},
    ],
}  # fmt: skip


def coin_m_market() -> qk.Market:
    """BTCUSD_PERP as ccxt's binancecoinm parses it, then as a quantkit perpetual market."""
    venue = ccxt.binancecoinm()  # parsing only
    raw = venue.parse_market(EXCHANGE_INFO)
    tiers = venue.parse_market_leverage_tiers(BRACKETS, raw)
    return parse_perpetual_market(
        raw, tiers, precision_mode=venue.precisionMode, exchange="binancecoinm"
    )


def main(report_path: str = "reports/inverse_perpetual.html") -> None:
    market = coin_m_market()
    symbol = market.symbol  # BTC/USD:BTC
    bars = qk.load_sample("BTC/USDT").iloc[: 24 * 90]  # 90 days of hourly bars, read as USD
    bars.attrs["symbol"] = symbol
    feed = qk.DataFrameFeed({symbol: bars})
    series = feed.load()[symbol]
    first = int(series.open_time[0]) // (8 * HOUR) * (8 * HOUR)
    times = np.arange(first, int(series.close_time[-1]), 8 * HOUR)
    rates = 0.0001 + 0.0001 * np.random.default_rng(16).standard_normal(len(times))

    funding = {symbol: qk.FundingRates.history(times.tolist(), rates.tolist())}
    broker = qk.BacktestBroker(
        cash=1.0,  # 1 BTC
        currency="BTC",  # a coin-margined account is kept in its settle coin
        markets={symbol: market},
        leverage=5.0,
        margin_mode="isolated",
        funding=funding,
    )
    strategy = qk.SmaCrossSignals(fast=24, slow=72, short=True, size=0.5)
    result = qk.Engine(feed=feed, strategy=strategy, broker=broker).run()
    print(result)

    # the same run in the fast path's compiled kernel (market entries and signal exits)
    fast = qk.run_signals(
        qk.SmaCrossSignals(fast=24, slow=72, short=True, size=0.5),
        series,
        market=market,
        cash=1.0,
        allow_short=True,
        leverage=5.0,
        margin_mode="isolated",
        funding=funding,
    )
    if not np.allclose(fast.equity.to_numpy(), result.equity.to_numpy(), rtol=1e-9):
        raise SystemExit("the fast path and the event backtest disagree")
    print(f"\nfast path: the same equity at every close, {fast.equity.iloc[-1]:.6f} BTC at the end")

    stats = result.stats
    fills = result.fills
    print(
        f"\n{len(fills)} fills of whole contracts (100 USD each), fees in "
        f"{sorted(set(fills['fee_currency']))}; funding net {stats['Net funding']:.8f} BTC paid"
    )
    print(
        f"equity {result.equity.iloc[-1]:.6f} BTC (from 1 BTC), worth "
        f"{result.equity_quote.iloc[-1]:,.2f} USD at the last mark; liquidations: "
        f"{stats['Liquidations']}"
    )
    if not result.trades.empty:
        best = result.trades.loc[result.trades["pnl"].idxmax()]
        print(
            f"best round trip: {best['direction']} {best['size']:g} contracts, entry "
            f"{best['entry_price']:,.1f}, exit {best['exit_price']:,.1f}, "
            f"P&L {best['pnl']:.6f} BTC"
        )
    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
