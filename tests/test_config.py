"""Whole runs as configuration: files, environment overrides, errors by path, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.config import (
    BacktestMode,
    PaperMode,
    config_schema,
    load_config,
    parse_config,
)
from quantkit.engine.engine import Engine
from quantkit.engine.live import LiveEngine
from quantkit.errors import ConfigError
from quantkit.risk.breakers import MaxDrawdownBreaker
from quantkit.risk.limits import MaxPositionSize
from quantkit.risk.validation import SaneOrder
from quantkit.run_builder import build_run
from quantkit.sim.fees import FlatFees
from quantkit.sim.slippage import FixedBps
from quantkit.strategy.library.sma_cross import SmaCross

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "examples" / "configs").glob("*.yaml"))


def test_example_configs_are_found() -> None:
    assert {path.name for path in CONFIGS} >= {"backtest.yaml", "paper.yaml", "live.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_example_config_validates(path: Path) -> None:
    config = load_config(path, environ={})
    assert config.strategy.name == "sma_cross"
    schema = config_schema()
    assert set(config.model_dump()) <= set(schema["properties"])


def test_backtest_config_builds_the_described_components() -> None:
    config = load_config(ROOT / "examples" / "configs" / "backtest.yaml", environ={})
    run = build_run(config)
    engine = run.engine
    assert isinstance(engine, Engine)
    assert isinstance(engine.strategy, SmaCross)
    assert engine.strategy.params == {"fast": 12, "slow": 48, "fraction": 0.5}
    broker = engine.broker
    assert isinstance(broker, BacktestBroker)
    assert broker.initial_cash == 10_000
    assert broker.rules.fees == FlatFees(maker=0.001, taker=0.001)
    assert broker.rules.slippage == FixedBps(2)
    assert engine.risk is not None
    sane, policy, breaker = engine.risk.policies  # type: ignore[attr-defined]
    assert isinstance(sane, SaneOrder)
    assert isinstance(policy, MaxPositionSize) and policy.max_notional == 8000
    assert isinstance(breaker, MaxDrawdownBreaker) and breaker.max_drawdown == 0.25
    result = engine.run()
    assert result.stats["Bars"] > 0


def test_environment_variables_override_nested_fields() -> None:
    environ = {
        "QUANTKIT_STRATEGY__PARAMS__FAST": "20",
        "QUANTKIT_BROKER__CASH": "2500.5",
        "QUANTKIT_BINANCE_API_KEY": "not a section: ignored",
        "OTHER": "ignored",
    }
    config = load_config(ROOT / "examples" / "configs" / "backtest.yaml", environ=environ)
    assert config.strategy.params["fast"] == 20
    assert config.strategy.params["slow"] == 48
    assert isinstance(config.broker, BacktestMode) and config.broker.cash == 2500.5


def test_paper_config_runs_the_live_engine_on_replayed_bars() -> None:
    config = load_config(ROOT / "examples" / "configs" / "paper.yaml", environ={})
    assert isinstance(config.broker, PaperMode)
    run = build_run(config)
    assert isinstance(run.engine, LiveEngine)
    assert isinstance(run.engine.broker, PaperBroker)
    assert run.engine.broker.latency == 0.2
    run.engine.handle_signals = False
    summary = run.engine.run()
    assert summary.bars > 0 and summary.stop_reason == "end of data"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"data": {"type": "sample"}}, r"strategy: Field required"),
        (
            {"strategy": {"name": "sma_cross"}, "broker": {"mode": "backtest", "cash": -5}},
            r"broker\.backtest\.cash: Input should be greater than 0",
        ),
        (
            {"strategy": {"name": "sma_cross"}, "broker": {"mode": "margin"}},
            r"broker: Input tag 'margin' found using 'mode' does not match",
        ),
        (
            {"strategy": {"name": "sma_cross"}, "data": {"type": "csv"}},
            r"data\.csv\.path: Field required",
        ),
        (
            {
                "strategy": {"name": "sma_cross"},
                "risk": [{"type": "max_position_size", "max_amount": "x"}],
            },
            r"risk: Value error, policies\[0\] \(max_position_size\): max_amount",
        ),
        ({"strategy": {"name": "sma_cross"}, "colour": "blue"}, r"colour: Extra inputs"),
    ],
)
def test_errors_name_the_field_path(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, environ={})


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listing)


def test_live_needs_an_exchange_and_a_backtest_refuses_one() -> None:
    live = {
        "strategy": {"name": "sma_cross"},
        "broker": {"mode": "live", "run_id": "x", "journal": "j.jsonl", "confirm": True},
    }
    with pytest.raises(ConfigError, match="live trading needs an exchange stream"):
        build_run(parse_config(live, environ={}))
    exchange = {
        "type": "exchange",
        "exchange": "binance",
        "symbols": ["BTC/USDT"],
        "timeframe": "1m",
    }
    with pytest.raises(ConfigError, match="a backtest needs stored bars"):
        build_run(parse_config({"strategy": {"name": "sma_cross"}, "data": exchange}, environ={}))


def quantkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantkit.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_run_backtest_and_report(tmp_path: Path) -> None:
    done = quantkit("run", str(ROOT / "examples" / "configs" / "backtest.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Sharpe ratio" in done.stdout
    assert (tmp_path / "reports" / "backtest.html").is_file()


def test_cli_backtest_schema_and_strategies(tmp_path: Path) -> None:
    done = quantkit("backtest", "-p", "fast=5", "-p", "slow=20", "--fee", "0.0005", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SmaCross(fast=5, slow=20" in done.stdout
    schema = json.loads(quantkit("schema", cwd=tmp_path).stdout)
    assert schema["title"] == "RunConfig"
    assert "policies" not in schema["properties"] and "risk" in schema["properties"]
    listing = quantkit("strategies", cwd=tmp_path).stdout
    assert listing.startswith("sma_cross") and "[fast, slow, fraction]" in listing


def test_cli_errors_are_one_line_with_exit_code_1_and_debug_shows_the_traceback(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategy: {name: sma_cross}\nbroker: {mode: backtest, cash: 0}\n")
    done = quantkit("run", str(bad), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "broker.backtest.cash: Input should be greater than 0" in done.stderr
    debug = quantkit("--debug", "run", str(bad), cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    usage = quantkit("backtest", "-p", "novalue", cwd=tmp_path)
    assert usage.returncode == 2 and "NAME=VALUE" in usage.stderr


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_configs_satisfy_the_published_json_schema(path: Path) -> None:
    import jsonschema
    import yaml

    schema = config_schema()
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)  # what an editor checks against `quantkit schema`
    broken = {**document, "broker": {"mode": "backtest", "cash": "lots"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


MINIMAL = {"strategy": {"name": "sma_cross"}}


def test_an_override_needs_no_discriminator_in_the_file() -> None:
    config = parse_config(MINIMAL, environ={"QUANTKIT_BROKER__CASH": "5000"})
    assert isinstance(config.broker, BacktestMode) and config.broker.cash == 5000
    paper = parse_config(
        MINIMAL, environ={"QUANTKIT_BROKER__MODE": "paper", "QUANTKIT_BROKER__LATENCY": "0.5"}
    )
    assert isinstance(paper.broker, PaperMode) and paper.broker.latency == 0.5
    data = parse_config(MINIMAL, environ={"QUANTKIT_DATA__SYMBOLS": '["ETH/USDT"]'})
    assert data.data.type == "sample" and data.data.symbols == ["ETH/USDT"]  # type: ignore[union-attr]


def test_an_override_keeps_the_files_discriminator(tmp_path: Path) -> None:
    path = tmp_path / "paper.yaml"
    path.write_text("strategy: {name: sma_cross}\nbroker: {mode: paper, latency: 0.2}\n")
    config = load_config(path, environ={"QUANTKIT_BROKER__CASH": "700"})
    assert isinstance(config.broker, PaperMode)
    assert (config.broker.cash, config.broker.latency) == (700, 0.2)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"QUANTKIT_BROKER__CASH": "lots"},
            r"^environment QUANTKIT_BROKER__CASH \(broker\.backtest\.cash\): Input should be a "
            r"valid number",
        ),
        (
            {"QUANTKIT_BROKER__CASH": "-1"},
            r"^environment QUANTKIT_BROKER__CASH .*greater than 0",
        ),
        ({"QUANTKIT_BROKR__CASH": "1"}, r"QUANTKIT_BROKR__CASH: unknown section 'brokr'; did you "),
        (
            {"QUANTKIT_BROKER__CASHH": "1"},
            r"QUANTKIT_BROKER__CASHH: unknown field of broker 'cashh'; did you mean 'cash'\?",
        ),
        (
            {"QUANTKIT_BROKER__MODE": "paper", "QUANTKIT_BROKER__ALLOW_SHORT": "true"},
            r"QUANTKIT_BROKER__ALLOW_SHORT: broker\.allow_short is a field of mode backtest, but "
            r"broker\.mode is 'paper'",
        ),
        (
            {"QUANTKIT_COSTS__TAKER_FEE__X": "1"},
            r"QUANTKIT_COSTS__TAKER_FEE__X: costs\.taker_fee is a single value, not a section",
        ),
        (
            {"QUANTKIT_RISK__0__TYPE": "x"},
            r"QUANTKIT_RISK__0__TYPE: risk is a list, not a section; set it whole, "
            r"e.g. QUANTKIT_RISK=",
        ),
        ({"QUANTKIT_BROKER____CASH": "1"}, r"QUANTKIT_BROKER____CASH: an empty name"),
        (
            {"QUANTKIT_DATA__PATH": "x.csv"},
            r"^environment QUANTKIT_DATA__PATH: data\.path is a field of type csv or parquet, but "
            r"data\.type is 'sample' \(set it with QUANTKIT_DATA__TYPE or in the file\)$",
        ),
        (
            {"QUANTKIT_BROKER_ALLOW_SHORT": "true"},
            r"^environment QUANTKIT_BROKER_ALLOW_SHORT: looks like broker\.allow_short, but nested "
            r"names take two underscores: QUANTKIT_BROKER__ALLOW_SHORT$",
        ),
    ],
)
def test_bad_overrides_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(MINIMAL, environ=environ)


def test_a_bad_file_value_names_the_file_not_a_variable(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("strategy: {name: sma_cross}\nbroker: {cash: -3, mode: backtest}\n")
    with pytest.raises(ConfigError, match=r"^.*c\.yaml: broker\.backtest\.cash: Input should be"):
        load_config(path, environ={"QUANTKIT_STRATEGY__PARAMS__FAST": "5"})


def test_other_prefixed_variables_are_left_alone() -> None:
    environ = {"QUANTKIT_STORE": "/data", "QUANTKIT_BINANCE_API_KEY": "k", "QUANTKIT_X": "1"}
    assert parse_config(MINIMAL, environ=environ) == parse_config(MINIMAL, environ={})
    whole = parse_config(
        MINIMAL, environ={"QUANTKIT_STRATEGY": '{"name": "sma_cross", "params": {"fast": 3}}'}
    )
    assert whole.strategy.params == {"fast": 3}


def test_risk_sections_are_typed_policy_models() -> None:
    data = {
        **MINIMAL,
        "risk": [{"type": "max_position_size", "max_amount": 2}, {"type": "sane_order"}],
    }
    config = parse_config(data, environ={})
    first, second = config.risk
    assert type(first).__name__ == "MaxPositionSizeConfig" and first.type == "max_position_size"
    assert first.max_amount == 2.0  # type: ignore[attr-defined]
    assert isinstance(first.build(), MaxPositionSize) and isinstance(second.build(), SaneOrder)
    dumped = config.model_dump()["risk"]
    assert dumped[0] == {"type": "max_position_size", "max_amount": 2.0, "max_notional": None}
    again = parse_config({**MINIMAL, "risk": dumped}, environ={})
    assert again == config
    with pytest.raises(
        ConfigError,
        match=r"risk: Value error, policies\[0\]: unknown type "
        r"'max_posiiton_size'; did you mean 'max_position_size'",
    ):
        parse_config({**MINIMAL, "risk": [{"type": "max_posiiton_size"}]}, environ={})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {**MINIMAL, "brokr": {}},
            r"^config: brokr: Extra inputs are not permitted; did you mean "
            r"'broker'\?$",
        ),
        (
            {**MINIMAL, "broker": {"mode": "paper", "latncy": 1}},
            r"^config: broker\.paper\.latncy: Extra inputs are not permitted; did you mean "
            r"'latency'\?$",
        ),
        (
            {**MINIMAL, "data": {"type": "sample", "symbol": ["X"]}},
            r"data\.sample\.symbol: Extra inputs are not permitted; did you mean 'symbols'\?$",
        ),
        ({**MINIMAL, "zzzz": 1}, r"^config: zzzz: Extra inputs are not permitted$"),
    ],
)
def test_misspelled_keys_get_a_close_match(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, environ={})
