"""Trade a perpetual live against quantkit's local USD-M futures exchange: shorts, funding.

The local futures exchange speaks Binance USD-M's REST and user-data APIs on 127.0.0.1. Its
own one-minute candles are replayed as the run's bars, and the venue's last and mark prices
follow each bar, so the strategy's market orders fill at the bar's close. The strategy goes
short below its moving average and long above it, through `PerpetualLiveBroker` (journal,
client ids, reconciliation against ``positionRisk``); a funding timestamp passes mid-run.
Against the real venue, drop ``api_url`` and the local exchange and load real keys.

Afterwards the same strategy is backtested on the same bars with the venue's market (its
margin brackets and fees, no funding history), for comparison; its report is written.

Run: ``python examples/15_live_perpetual.py [report.html]``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

import quantkit as qk
from quantkit.testing.futures import LOCAL_USDM_CCXT_OPTIONS, LocalFuturesExchange

SYMBOL, BARS, WARMUP = "BTC/USDT:USDT", 40, 10
report_path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/live_perpetual.html")


class TrendBothWays(qk.Strategy):
    """Holds 0.05 BTC short below the 5-bar mean of the close, long above it."""

    def on_bar(self, bar: qk.SymbolData) -> None:
        mean = float(bar.close[-5:].mean())
        self.order_target_amount(0.05 if bar.close[-1] > mean else -0.05)


with (
    LocalFuturesExchange(
        end="2024-01-02", accounts={"demo": ("demo-secret", {"USDT": 10_000})}
    ) as exchange,
    tempfile.TemporaryDirectory() as folder,
):
    frame = exchange.candles(SYMBOL).iloc[: WARMUP + BARS]

    class VenueFollows(qk.ReplayStream):
        """The bars of the run; the venue's prices move to each bar's close as it is handed out."""

        async def __anext__(self) -> qk.Bar:
            bar = await super().__anext__()
            exchange.trading.move(SYMBOL, last=bar.close, mark=bar.close)
            if bar.open_time == frame.index[WARMUP + BARS // 2].value:  # a funding timestamp
                exchange.trading.settle_funding(SYMBOL, "0.0001")
            await anyio.sleep(0.1)  # let the previous bar's order fill at its price
            return bar

    # Keys from the environment (QUANTKIT_BINANCEUSDM_API_KEY / _SECRET), a .env file or the
    # keyring; here a dict stands in for the environment of the demo account.
    keys = qk.load_credentials(
        "binanceusdm",
        env={"QUANTKIT_BINANCEUSDM_API_KEY": "demo", "QUANTKIT_BINANCEUSDM_SECRET": "demo-secret"},
        dotenv=None,
    )
    venue = qk.CcxtPerpetualExchange(
        "binanceusdm",
        credentials=keys,
        api_url=exchange.url,  # only a loopback URL may stand in for the venue
        options=dict(LOCAL_USDM_CCXT_OPTIONS),
        rate_limit=False,
    )
    broker = qk.PerpetualLiveBroker(
        venue,
        journal=Path(folder) / "journal.jsonl",
        run_id="perp-demo",
        confirm_live=True,  # required: live trading never starts by accident
        leverage=5,
        margin_mode="isolated",
        poll_interval=0.05,
        safety=qk.LiveSafety(reconcile_interval=0.5),
    )
    exchange.trading.move(SYMBOL, last=float(frame.close.iloc[WARMUP - 1]))
    engine = qk.LiveEngine(
        stream=VenueFollows(qk.DataFrameFeed({SYMBOL: frame})),
        strategy=TrendBothWays(),
        broker=broker,
        warmup=WARMUP,
        run_id="perp-demo",
        max_bars=BARS,
        handle_signals=False,
    )

    async def trade() -> dict[str, qk.Market]:
        async with venue:
            print(await engine.arun())
            await broker.reconciler.check_account()
            return await venue.markets()

    markets = anyio.run(trade)
    futures = broker.futures
    print(
        f"position {futures.position(SYMBOL).amount:+g} BTC, wallet {futures.wallet_balance():.4f}"
    )
    print(f"funding paid {futures.funding_paid:+.4f} USDT, divergences: {broker.divergences}")
    venue_wallet = float(exchange.trading.accounts.account("demo").wallet)
    print(f"the venue's wallet {venue_wallet:.4f}")

    backtest = qk.Engine(
        feed=qk.DataFrameFeed({SYMBOL: frame}),
        strategy=TrendBothWays(),
        broker=qk.BacktestBroker(
            cash=10_000, markets={SYMBOL: markets[SYMBOL]}, leverage=5, margin_mode="isolated"
        ),
        warmup=WARMUP,
    ).run()
    print(backtest)
    print(f"report written to {backtest.report(report_path)}")
