"""A backtest in which no trade is possible is refused before the first bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantkit.config import load_config
from quantkit.data import SeriesFeed
from quantkit.engine.engine import Engine
from quantkit.errors import ConfigError
from quantkit.run_builder import build_run
from quantkit.strategy.library.sma_cross import SmaCross
from tests.builders import make_series

ROWS = [(100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1.0) for i in range(40)]


def engine(strategy: SmaCross, warmup: int = 0) -> Engine:
    return Engine(feed=SeriesFeed(make_series(ROWS)), strategy=strategy, warmup=warmup)


@pytest.mark.parametrize("warmup", [40, 41, 1000])
def test_a_warmup_that_swallows_the_data_is_an_error(warmup: int) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^warmup \({warmup} bars\) leaves no bar to trade: the data has 40 bars "
        r"\(BTC/USDT, 2023-11-14T22:00:00Z to 2023-11-16T13:00:00Z\)",
    ):
        engine(SmaCross(fast=2, slow=3), warmup).run()


def test_a_warmup_leaving_one_bar_runs() -> None:
    result = engine(SmaCross(fast=2, slow=3), warmup=39).run()
    assert result.stats["Bars"] == 40


def test_an_indicator_longer_than_the_data_is_an_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^indicator SMA\(timeperiod=41\) of BTC/USDT has no value on any of the 40 bars: "
        r"its period is longer than the data",
    ):
        engine(SmaCross(fast=2, slow=41)).run()


def test_an_indicator_without_a_value_after_the_warmup_is_an_error() -> None:
    # SMA(30) has its first value at bar 29; a warm-up of 35 leaves bars 35..39, all valued.
    assert engine(SmaCross(fast=2, slow=30), warmup=35).run().stats["Bars"] == 40
    # SMA(40) has its one value at bar 39, inside the traded bars of a warm-up of 39.
    assert engine(SmaCross(fast=2, slow=40), warmup=39).run().stats["Bars"] == 40
    with pytest.raises(ConfigError, match=r"SMA\(timeperiod=41\) .* 40 bars \(warmup 5\)"):
        engine(SmaCross(fast=2, slow=41), warmup=5).run()


def test_a_configured_run_reports_the_same(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "strategy: {name: sma_cross, params: {fast: 5, slow: 20}}\n"
        "data: {type: sample, symbols: [BTC/USDT], start: 2021-01-01, end: 2021-01-02}\n"
        "broker: {mode: backtest, warmup: 30}\n"
    )
    with pytest.raises(ConfigError, match=r"warmup \(30 bars\) leaves no bar to trade"):
        build_run(load_config(path, environ={})).engine.run()


def test_a_paper_run_over_recorded_bars_refuses_a_warmup_that_swallows_them() -> None:
    from quantkit.config import parse_config

    config = {
        "strategy": {"name": "sma_cross", "params": {"fast": 2, "slow": 5}},
        "data": {"type": "sample", "end": "2021-01-03"},
        "broker": {"mode": "paper", "warmup": 48},
    }
    with pytest.raises(
        ConfigError,
        match=r"warmup \(48 bars\) leaves no bar to trade: the data "
        r"has 48 bars",
    ):
        build_run(parse_config(config, environ={}))
    config["broker"] = {"mode": "paper", "warmup": 47}
    run = build_run(parse_config(config, environ={}))
    run.engine.handle_signals = False  # type: ignore[union-attr]
    summary = run.engine.run()
    assert summary.bars == 1 and summary.stop_reason == "end of data"  # type: ignore[union-attr]
