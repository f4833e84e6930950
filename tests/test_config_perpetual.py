"""Perpetuals in the run configuration: validation, backtest, paper and live (issue #14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pandas as pd
import pytest

import quantkit as qk
from quantkit.brokers.live_perpetual import PerpetualLiveBroker
from quantkit.config import load_config, parse_config
from quantkit.data.funding import FundingSeries
from quantkit.data.store import FundingStore, ParquetStore
from quantkit.domain.funding import FundingRates
from quantkit.domain.perpetual import brackets_with_cum
from quantkit.errors import ConfigError
from quantkit.run_builder import build_run
from quantkit.testing.futures import LocalFuturesExchange

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "configs" / "perpetual.yaml"
HOUR_NS = 3_600_000_000_000
PERP = "BTC/USDT:USDT"


class BuyAtTheStart(qk.Strategy):
    """Buys one contract on the first bar and holds it."""

    def on_bar(self, bar: qk.SymbolData) -> None:
        if self.position(bar.symbol).is_flat and len(bar.close) == 1:
            self.buy(amount=1.0)


def run_config(**sections: Any) -> dict[str, Any]:
    return {"strategy": {"name": "sma_cross"}, **sections}


SAMPLE = {"type": "sample", "symbols": ["BTC/USDT"]}
STORE = {"type": "store", "root": "data", "exchange": "binanceusdm", "symbols": [PERP],
         "timeframe": "1h"}  # fmt: skip
LIVE = {"mode": "live", "run_id": "p", "journal": "j.jsonl", "confirm": True}
USDM = {"type": "exchange", "exchange": "binanceusdm", "symbols": [PERP], "timeframe": "1m"}


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"data": SAMPLE, "perpetual": {"leverage": 200}},
         r"perpetual\.leverage: Value error, must be from 1 to 125, got 200"),
        ({"data": SAMPLE, "perpetual": {"leverage": {"BTC/USDT": 0}}},
         r"perpetual\.leverage: Value error, must be from 1 to 125 \(of BTC/USDT\), got 0"),
        ({"data": SAMPLE, "perpetual": {"leverage": {"ETH/USDT": 3}}},
         r"perpetual\.leverage: 'ETH/USDT' is not a perpetual of this run"),
        ({"data": SAMPLE, "perpetual": {"margin_mode": "hedge"}},
         r"perpetual\.margin_mode: Input should be 'cross' or 'isolated'"),
        ({"data": SAMPLE, "perpetual": {"funding": {"source": "store"}}},
         r"perpetual\.funding\.source: 'store' .* data\.type must be 'store', got 'sample'"),
        ({"data": SAMPLE, "perpetual": {"marks": {"source": "store"}}},
         r"perpetual\.marks\.source: 'store' .* data\.type must be 'store'"),
        ({"data": SAMPLE, "perpetual": {"funding": {"source": "constant", "rate": 2}}},
         r"perpetual\.funding\.constant\.rate: Input should be less than 1"),
        ({"data": SAMPLE, "perpetual": {"funding": {"source": "weekly"}}},
         r"perpetual\.funding: Input tag 'weekly'"),
        ({"data": SAMPLE, "perpetual": {"brackets": [[0, 10, 20, 0.01], [20, 30, 10, 0.02]]}},
         r"perpetual\.brackets: Value error, brackets must be contiguous"),
        ({"data": SAMPLE, "perpetual": {"symbols": ["ETH/USDT"]}},
         r"perpetual\.symbols: 'ETH/USDT' is not a symbol of the data"),
        ({"data": {"type": "csv", "path": "x.csv"}, "perpetual": {}},
         r"perpetual\.symbols: name the perpetual symbols \(the csv data names none\)"),
        ({"data": USDM, "broker": LIVE, "perpetual": {"funding": {"source": "none"}}},
         r"perpetual\.funding: a live run takes it from the venue"),
        ({"data": {**USDM, "exchange": "binance"}, "broker": LIVE, "perpetual": {}},
         r"data\.exchange: live perpetuals trade on 'binanceusdm', got 'binance'"),
        ({"data": SAMPLE, "perpetual": {"leverage": 2, "maring_mode": "cross"}},
         r"perpetual\.maring_mode: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_perpetual_section_is_one_error_naming_the_field(
    sections: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(run_config(**sections), environ={}, source="run.yaml")
    assert str(caught.value).count("run.yaml:") == 1  # one error, one place


def test_the_example_yaml_is_the_same_run_as_the_python_api() -> None:
    config = load_config(EXAMPLE, environ={})
    engine = build_run(config).engine
    assert isinstance(engine, qk.Engine)
    from_yaml = engine.run()
    brackets = brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005),
                                  (250_000, 1_000_000, 50, 0.01),
                                  (1_000_000, 1e12, 20, 0.025)])  # fmt: skip
    spec = qk.PerpetualSpec("USDT", brackets=brackets)
    broker = qk.BacktestBroker(
        cash=10_000.0,
        allow_short=True,
        fees=qk.FlatFees(maker=0.0005, taker=0.0005),
        markets={"BTC/USDT": qk.Market("BTC/USDT", "BTC", "USDT", perpetual=spec)},
        margin_mode="isolated",
        leverages={"BTC/USDT": 3.0},
        funding={"BTC/USDT": FundingRates.constant(0.0001)},
    )
    feed = qk.sample_feed("BTC/USDT", start="2021-06-01", end="2022-01-01")
    strategy = qk.get_strategy("sma_cross")(fast=12, slow=48, fraction=0.5)
    by_hand = qk.Engine(feed=feed, strategy=strategy, broker=broker).run()
    assert from_yaml.stats["Net funding"] == by_hand.stats["Net funding"] != 0
    assert from_yaml.equity.iloc[-1] == by_hand.equity.iloc[-1]
    assert len(from_yaml.trades) == len(by_hand.trades) > 0
    assert "constant 0.0001 every 8h" in str(from_yaml.stats["Funding source"])


def test_quantkit_run_takes_the_example_yaml(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "quantkit.cli", "run", str(EXAMPLE)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Funding source" in done.stdout and "constant 0.0001 every 8h" in done.stdout
    assert (tmp_path / "reports" / "perpetual.html").is_file()


def stored(root: Path) -> None:
    """Six hourly bars at 100 (marks at 101), funding +0.1 % at 02:00 and -0.2 % at 04:00."""
    times = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    flat = {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1.0}
    bars = pd.DataFrame(flat, index=times)
    store = ParquetStore(root)
    store.write("binanceusdm", PERP, "1h", bars)
    store.write("binanceusdm", f"{PERP}#mark", "1h", (bars + 1.0).assign(volume=0.0))
    funding = FundingSeries(
        np.array([times[2].value, times[4].value], dtype=np.int64),
        np.array([0.001, -0.002]),
        np.array([np.nan, np.nan]),
    )
    FundingStore(root).write("binanceusdm", PERP, funding)


@pytest.mark.parametrize("mode", ["backtest", "paper"])
def test_stored_funding_and_marks_reach_backtest_and_paper(tmp_path: Path, mode: str) -> None:
    stored(tmp_path / "data")
    broker = {"mode": mode, "cash": 1_000, "warmup": 0}
    config = parse_config(
        {
            "strategy": {"name": "tests.test_config_perpetual:BuyAtTheStart"},
            "data": {**STORE, "root": str(tmp_path / "data")},
            "broker": broker,
            "costs": {"taker_fee": 0.0},
            "perpetual": {"leverage": 5, "funding": {"source": "store"},
                          "marks": {"source": "store"}},
        },
        environ={},
    )  # fmt: skip
    engine = build_run(config).engine
    if isinstance(engine, qk.Engine):
        stats = engine.run().stats
        assert stats["Funding paid"] == pytest.approx(0.101)
        assert stats["Net funding"] == pytest.approx(0.101 - 0.202)
        assert "history" in str(stats["Funding source"])
    else:
        summary = anyio.run(engine.arun)
        assert summary.positions == {PERP: 1.0}
    # the long of 1 pays 1 x 101 (the stored mark, not the trade price 100) x 0.001 at 02:00
    # and receives 1 x 101 x 0.002 at 04:00
    funding = engine.broker.portfolio.funding  # type: ignore[attr-defined]
    assert [(p.mark, p.amount) for p in funding] == [
        (101.0, pytest.approx(0.101)),
        (101.0, pytest.approx(-0.202)),
    ]


def test_stored_funding_missing_is_one_error_saying_how_to_get_it(tmp_path: Path) -> None:
    stored(tmp_path / "data")
    section = {"funding": {"source": "store"}}
    config = parse_config(
        run_config(data={**STORE, "root": str(tmp_path / "data"), "exchange": "other"},
                   perpetual=section),
        environ={},
    )  # fmt: skip
    with pytest.raises(qk.DataError, match=r"perpetual\.funding: no funding rates stored"):
        build_run(config)


class _Clock:
    now = 0


@pytest.mark.anyio
async def test_a_live_yaml_run_sets_margin_mode_and_leverage_on_binanceusdm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTKIT_BINANCEUSDM_API_KEY", "cfg-key")
    monkeypatch.setenv("QUANTKIT_BINANCEUSDM_SECRET", "cfg-secret")
    accounts = {"cfg-key": ("cfg-secret", {"USDT": 10_000})}
    async with LocalFuturesExchange(end="2024-01-02", accounts=accounts) as local:
        config = parse_config(
            {
                "strategy": {"name": "sma_cross"},
                "data": {**USDM, "api_url": local.url, "websocket": False},
                "broker": {**LIVE, "journal": str(tmp_path / "j.jsonl"), "dotenv": None},
                "perpetual": {"margin_mode": "isolated", "leverage": {PERP: 7}},
            },
            environ={},
        )
        engine = build_run(config).engine
        broker = engine.broker
        assert isinstance(broker, PerpetualLiveBroker)
        times, empty = np.empty(0, dtype=np.int64), np.empty(0)
        bars = qk.BarSeries(PERP, 60_000_000_000, times, times, empty, empty, empty, empty, empty)
        broker.prepare({PERP: bars}, _Clock())
        async with anyio.create_task_group() as tasks:
            await broker.astart(tasks)
            position = local.trading.accounts.account("cfg-key").position("BTCUSDT")
            assert (position.isolated, position.leverage) == (True, 7)
            assert broker.futures.leverage[PERP] == 7.0
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
        await broker.perp_venue.aclose()


def test_the_live_example_yaml_builds_a_perpetual_broker_on_binanceusdm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTKIT_BINANCEUSDM_API_KEY", "demo-key")
    monkeypatch.setenv("QUANTKIT_BINANCEUSDM_SECRET", "demo-secret")
    config = load_config(ROOT / "examples" / "configs" / "perpetual_live.yaml", environ={})
    broker = build_run(config).engine.broker
    assert isinstance(broker, PerpetualLiveBroker)  # nothing is sent before the run starts
    assert (broker.perp_venue.id, broker.margin_mode, broker.leverage) == (
        "binanceusdm",
        "isolated",
        {PERP: 3.0},
    )
