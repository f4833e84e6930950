"""A whole run as configuration: strategy, data, mode, risk, costs and outputs.

`RunConfig` is a frozen pydantic model. It loads from YAML or JSON (`load_config`), from
environment variables with the ``QUANTKIT_`` prefix and ``__`` between nested keys
(``QUANTKIT_STRATEGY__PARAMS__FAST=12`` overrides ``strategy.params.fast``), or from Python
values; validation errors name the exact field path. The mode is a discriminated union
(``mode: backtest | paper | live``), and `build_run` is the one place that turns a mode into
components: nothing else in quantkit branches on it.

Secrets never appear in a configuration: live keys come from the environment, a ``.env`` file
or the keyring (`quantkit.secrets.load_credentials`), named by where to look.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from quantkit.domain.portfolio import MAX_LEVERAGE
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.brokers.base import Broker
    from quantkit.data.feed import DataFeed
    from quantkit.engine.engine import Engine
    from quantkit.engine.live import LiveEngine
    from quantkit.risk.policy import RiskChain
    from quantkit.strategy.base import Strategy

__all__ = [
    "BacktestMode",
    "CsvData",
    "ExchangeData",
    "LiveMode",
    "OutputConfig",
    "PaperMode",
    "ParquetData",
    "RunConfig",
    "SampleData",
    "StoreData",
    "StrategyConfig",
    "build_run",
    "config_schema",
    "load_config",
]

ENV_PREFIX = "QUANTKIT_"
"""Prefix of the environment variables that override configuration fields."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrategyConfig(_Model):
    """Which strategy and its parameters.

    Attributes:
        name: A registered name (``quantkit strategies`` lists them) or ``"module:Class"``.
        params: Parameter values, validated by the strategy.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class SampleData(_Model):
    """The bundled sample bars.

    Attributes:
        type: ``"sample"``.
        symbols: Sample symbols.
        start: First bar (UTC).
        end: End, exclusive (UTC).
    """

    type: Literal["sample"] = "sample"
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT"])
    start: str | None = None
    end: str | None = None


class CsvData(_Model):
    """Bars from a CSV file.

    Attributes:
        type: ``"csv"``.
        path: The file.
        symbol: Its symbol (default: from the file name).
        timeframe: Bar length (default: inferred).
    """

    type: Literal["csv"]
    path: Path
    symbol: str | None = None
    timeframe: str | None = None


class ParquetData(_Model):
    """Bars from a Parquet file.

    Attributes:
        type: ``"parquet"``.
        path: The file.
        symbol: Its symbol (default: from the file name).
        timeframe: Bar length (default: inferred).
    """

    type: Literal["parquet"]
    path: Path
    symbol: str | None = None
    timeframe: str | None = None


class StoreData(_Model):
    """Bars from a local `ParquetStore`.

    Attributes:
        type: ``"store"``.
        root: The store's folder.
        exchange: Exchange key in the store.
        symbols: Symbols.
        timeframe: Bar length.
        start: First bar (UTC).
        end: End, exclusive (UTC).
    """

    type: Literal["store"]
    root: Path
    exchange: str
    symbols: list[str]
    timeframe: str
    start: str | None = None
    end: str | None = None


class ExchangeData(_Model):
    """Live bars from a venue through ccxt (paper and live modes).

    Attributes:
        type: ``"exchange"``.
        exchange: ccxt exchange id.
        symbols: Symbols.
        timeframe: Bar length.
        api_url: Another server for the venue's API (the local exchange: loopback only with
            keys).
        sandbox: Use the venue's test network.
        websocket: Wait for websocket updates (else poll over REST).
    """

    type: Literal["exchange"]
    exchange: str
    symbols: list[str]
    timeframe: str
    api_url: str | None = None
    sandbox: bool = False
    websocket: bool = True


DataConfig = Annotated[
    SampleData | CsvData | ParquetData | StoreData | ExchangeData, Field(discriminator="type")
]


class CostsConfig(_Model):
    """Fees and slippage of the simulated modes.

    Attributes:
        taker_fee: Taker fee rate on every market (default: each market's own rates).
        maker_fee: Maker fee rate on every market (default: the taker rate when only that is
            given, else each market's own rates).
        per_order_fee: Fixed fee per order, in quote currency.
        slippage_bps: Fixed slippage of market and stop fills, in basis points.
    """

    taker_fee: float | None = None
    maker_fee: float | None = None
    per_order_fee: float = Field(default=0.0, ge=0)
    slippage_bps: float = Field(default=0.0, ge=0)


class BacktestMode(_Model):
    """A backtest over the data.

    Attributes:
        mode: ``"backtest"``.
        cash: Starting cash.
        currency: Account currency.
        allow_short: Whether positions may go short.
        leverage: Largest gross exposure as a multiple of equity, from 1 to 125.
        warmup: Leading bars that are history only.
    """

    mode: Literal["backtest"] = "backtest"
    cash: float = Field(default=10_000.0, gt=0)
    currency: str = "USDT"
    allow_short: bool = False
    leverage: float = Field(default=1.0, ge=1, le=MAX_LEVERAGE)
    warmup: int = Field(default=0, ge=0)


class PaperMode(_Model):
    """Paper trading: a virtual account, the backtest's matching, bars as they close.

    Attributes:
        mode: ``"paper"``.
        cash: Starting cash.
        currency: Account currency.
        latency: Seconds an order takes to reach the simulated venue.
        warmup: Closed bars of history loaded before the first live bar.
        max_bars: Stop after this many bars.
        run_id: The run's identifier.
    """

    mode: Literal["paper"]
    cash: float = Field(default=10_000.0, gt=0)
    currency: str = "USDT"
    latency: float = Field(default=0.0, ge=0)
    warmup: int = Field(default=100, ge=0)
    max_bars: int | None = Field(default=None, ge=1)
    run_id: str = "paper"


class LiveMode(_Model):
    """Live trading on a real account.

    Attributes:
        mode: ``"live"``.
        confirm: Must be ``true``: a live run refuses to start otherwise.
        run_id: The run's identifier (client order ids derive from it).
        journal: The order journal file.
        currency: Account currency.
        warmup: Closed bars of history loaded before the first live bar.
        max_bars: Stop after this many bars.
        cancel_on_shutdown: Cancel working orders when the run stops.
        credentials_prefix: Environment prefix of the keys (``<PREFIX>_<EXCHANGE>_API_KEY``).
        dotenv: A ``.env`` file to read keys from.
        keyring_service: An OS keyring service to read keys from.
    """

    mode: Literal["live"]
    confirm: bool = False
    run_id: str
    journal: Path
    currency: str = "USDT"
    warmup: int = Field(default=100, ge=0)
    max_bars: int | None = Field(default=None, ge=1)
    cancel_on_shutdown: bool = True
    credentials_prefix: str = "QUANTKIT"
    dotenv: Path | None = Path(".env")
    keyring_service: str | None = None


ModeConfig = Annotated[BacktestMode | PaperMode | LiveMode, Field(discriminator="mode")]


class OutputConfig(_Model):
    """Where results go.

    Attributes:
        report: HTML report path (backtests).
        tape: Event tape folder (paper and live runs).
    """

    report: Path | None = None
    tape: Path | None = None


class RunConfig(_Model):
    """A whole run.

    Attributes:
        strategy: The strategy and its parameters.
        data: Where bars come from.
        broker: The mode and its account settings.
        risk: Risk policies, first applied first (see `quantkit.risk.config`).
        costs: Fees and slippage of the simulated modes.
        output: Where results go.
    """

    strategy: StrategyConfig
    data: DataConfig = Field(default_factory=SampleData)
    broker: ModeConfig = Field(default_factory=BacktestMode)
    risk: list[dict[str, Any]] = Field(default_factory=list)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("risk")
    @classmethod
    def _valid_risk(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from quantkit.risk.config import build_risk  # noqa: PLC0415

        try:
            build_risk(value)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("risk configuration: ")) from None
        return value


def _env_overrides(environ: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """``QUANTKIT_A__B=1`` -> ``{"a": {"b": 1}}`` (values parsed as JSON when they are JSON)."""
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(prefix):
            continue
        path = [part.lower() for part in key[len(prefix) :].split("__") if part]
        if not path:
            continue
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment {key}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


_SECTIONS = frozenset(RunConfig.model_fields)


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "config"
        lines.append(f"{where}: {problem['msg']}")
    return "; ".join(lines)


def parse_config(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None, source: str = "config"
) -> RunConfig:
    """Validate a configuration given as Python values, with environment overrides.

    Args:
        data: The configuration.
        environ: Environment variables (default: ``os.environ``); ``QUANTKIT_<SECTION>__...``
            ones override fields. Other ``QUANTKIT_`` variables are ignored.
        source: What to call the configuration in errors (e.g. its file name).

    Returns:
        The configuration.

    Raises:
        ConfigError: If a field is invalid; the message names its path.
    """
    env = _env_overrides(os.environ if environ is None else environ, ENV_PREFIX)
    overrides = {key: value for key, value in env.items() if key in _SECTIONS}
    try:
        return RunConfig.model_validate(_merge(dict(data), overrides))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def load_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> RunConfig:
    """Load a configuration from a YAML or JSON file, with environment overrides.

    Args:
        path: The file.
        environ: Environment variables (default: ``os.environ``).

    Returns:
        The configuration.

    Raises:
        ConfigError: If the file cannot be read or parsed or a field is invalid.
    """
    from quantkit._documents import load_document  # noqa: PLC0415

    target = Path(path)
    data = load_document(target)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{target}: expected a mapping of sections (strategy, data, ...)")
    return parse_config(data, environ=environ, source=str(target))


def config_schema() -> dict[str, Any]:
    """The JSON Schema of `RunConfig`, for editors that validate configuration files.

    Returns:
        The schema.
    """
    schema: dict[str, Any] = RunConfig.model_json_schema()
    from quantkit.risk.config import risk_config_schema  # noqa: PLC0415

    risk = risk_config_schema()
    schema.setdefault("$defs", {}).update(risk.get("$defs", {}))
    schema["properties"]["risk"] = risk["properties"]["policies"]
    return schema


@dataclass(frozen=True, slots=True)
class Run:
    """A configured run, ready to go.

    Attributes:
        config: The configuration it was built from.
        engine: An `Engine` (backtest) or a `LiveEngine` (paper, live).
    """

    config: RunConfig
    engine: Engine | LiveEngine


def _strategy(config: StrategyConfig) -> Strategy:
    from quantkit.strategy.registry import get_strategy  # noqa: PLC0415

    return get_strategy(config.name)(**config.params)


def _feed(config: SampleData | CsvData | ParquetData | StoreData) -> DataFeed:
    if isinstance(config, SampleData):
        from quantkit.data.samples import sample_feed  # noqa: PLC0415

        return sample_feed(config.symbols, start=config.start, end=config.end)
    if isinstance(config, CsvData):
        from quantkit.data.csv_feed import CsvFeed  # noqa: PLC0415

        return CsvFeed(config.path, symbol=config.symbol, timeframe=config.timeframe)
    if isinstance(config, ParquetData):
        from quantkit.data.parquet_feed import ParquetFeed  # noqa: PLC0415

        return ParquetFeed(config.path, symbol=config.symbol, timeframe=config.timeframe)
    from quantkit.data.store import ParquetStore  # noqa: PLC0415

    store = ParquetStore(config.root)
    return store.feed(config.exchange, config.symbols, config.timeframe, config.start, config.end)


def _simulated_broker(config: RunConfig) -> Broker:
    from quantkit.brokers.backtest import BacktestBroker  # noqa: PLC0415
    from quantkit.brokers.paper import PaperBroker  # noqa: PLC0415
    from quantkit.sim.fees import FeeModel, FlatFees  # noqa: PLC0415
    from quantkit.sim.slippage import FixedBps, NoSlippage  # noqa: PLC0415

    costs = config.costs
    fees: FeeModel | None = None
    if costs.taker_fee is not None or costs.maker_fee is not None or costs.per_order_fee:
        taker = costs.taker_fee if costs.taker_fee is not None else 0.001
        maker = costs.maker_fee if costs.maker_fee is not None else taker
        fees = FlatFees(maker=maker, taker=taker, per_order=costs.per_order_fee)
    slippage = FixedBps(costs.slippage_bps) if costs.slippage_bps else NoSlippage()
    mode = config.broker
    if isinstance(mode, BacktestMode):
        return BacktestBroker(
            cash=mode.cash,
            currency=mode.currency,
            fees=fees,
            slippage=slippage,
            allow_short=mode.allow_short,
            leverage=mode.leverage,
        )
    if not isinstance(mode, PaperMode):
        raise ConfigError("broker: a live account is not simulated")
    return PaperBroker(
        cash=mode.cash, currency=mode.currency, fees=fees, slippage=slippage, latency=mode.latency
    )


def _risk(config: RunConfig) -> RiskChain | None:
    if not config.risk:
        return None
    from quantkit.risk.config import build_risk  # noqa: PLC0415

    return build_risk(config.risk)


def build_run(config: RunConfig) -> Run:
    """Build the components a configuration describes (the one place that looks at the mode).

    Args:
        config: The configuration.

    Returns:
        The run; call ``run.engine.run()``.

    Raises:
        ConfigError: If the components refuse the settings (e.g. live without ``confirm``).
        RegistryError: If the strategy is not registered.
    """
    strategy = _strategy(config.strategy)
    risk = _risk(config)
    mode = config.broker
    if isinstance(mode, BacktestMode):
        if isinstance(config.data, ExchangeData):
            raise ConfigError("data: a backtest needs stored bars, not an exchange stream")
        from quantkit.engine.engine import Engine  # noqa: PLC0415

        engine: Engine | LiveEngine = Engine(
            feed=_feed(config.data),
            strategy=strategy,
            broker=_simulated_broker(config),
            risk=risk,
            warmup=mode.warmup,
        )
        return Run(config, engine)
    return Run(config, _live_engine(config, strategy, risk))


def _live_engine(config: RunConfig, strategy: Strategy, risk: RiskChain | None) -> LiveEngine:
    from quantkit.data.replay import ReplayStream  # noqa: PLC0415
    from quantkit.engine.live import LiveEngine  # noqa: PLC0415
    from quantkit.engine.tape import EventTape  # noqa: PLC0415

    mode = config.broker
    if not isinstance(mode, PaperMode | LiveMode):
        raise ConfigError("broker: a backtest runs on the Engine, not live")
    data = config.data
    venue: Any = None
    stream: Any
    if isinstance(data, ExchangeData):
        venue = _venue(data, mode)
        from quantkit.data.live import LiveBarStream  # noqa: PLC0415

        stream = LiveBarStream(venue, data.symbols, data.timeframe, websocket=data.websocket)
    else:
        if isinstance(mode, LiveMode):
            raise ConfigError("data: live trading needs an exchange stream (type: exchange)")
        stream = ReplayStream(_feed(data))
    if isinstance(mode, LiveMode):
        from quantkit.brokers.live import LiveBroker  # noqa: PLC0415

        broker: Broker = LiveBroker(
            venue,
            journal=mode.journal,
            run_id=mode.run_id,
            confirm_live=mode.confirm,
            currency=mode.currency,
        )
    else:
        broker = _simulated_broker(config)
    tape = None
    if config.output.tape is not None:
        tape = EventTape(config.output.tape, run_id=mode.run_id)
    return LiveEngine(
        stream=stream,
        strategy=strategy,
        broker=broker,
        risk=risk,
        warmup=mode.warmup,
        run_id=mode.run_id,
        max_bars=mode.max_bars,
        tape=tape,
        cancel_on_shutdown=getattr(mode, "cancel_on_shutdown", True),
    )


def _venue(data: ExchangeData, mode: PaperMode | LiveMode) -> Any:
    from quantkit.exchanges import CcxtExchange  # noqa: PLC0415

    credentials = None
    if isinstance(mode, LiveMode):
        from quantkit.secrets import load_credentials  # noqa: PLC0415

        credentials = load_credentials(
            data.exchange,
            prefix=mode.credentials_prefix,
            dotenv=mode.dotenv,
            keyring_service=mode.keyring_service,
        )
    options = None
    if data.api_url is not None:
        from quantkit.testing import LOCAL_CCXT_OPTIONS  # noqa: PLC0415

        options = LOCAL_CCXT_OPTIONS
    return CcxtExchange(
        data.exchange,
        credentials=credentials,
        sandbox=data.sandbox,
        api_url=data.api_url,
        options=options,
    )
