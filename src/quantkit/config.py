"""A whole run as configuration: strategy, data, mode, risk, costs and outputs.

`RunConfig` is a frozen pydantic model. It loads from YAML or JSON (`load_config`), from
environment variables with the ``QUANTKIT_`` prefix and ``__`` between nested keys
(``QUANTKIT_STRATEGY__PARAMS__FAST=12`` overrides ``strategy.params.fast``), or from Python
values; validation errors name the exact field path, and the variable when a value came from
the environment. The mode is a discriminated union (``mode: backtest | paper | live``), so is
the data source (``type``) and each risk policy (``type``). Building the components a
configuration describes is `quantkit.run_builder.build_run`'s job, the one place that looks at
the mode.

Secrets never appear in a configuration: live keys come from the environment, a ``.env`` file
or the keyring (`quantkit.secrets.load_credentials`), named by where to look.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from quantkit.config_perp import PerpetualConfig, perpetual_problem
from quantkit.domain.portfolio import MAX_LEVERAGE
from quantkit.errors import ConfigError
from quantkit.risk.config import PolicyConfig

if TYPE_CHECKING:
    from quantkit._overrides import EnvOverrides

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
    "config_schema",
    "load_config",
]

ENV_PREFIX = "QUANTKIT_"
"""Prefix of the environment variables that override configuration fields."""


def _time_text(value: object) -> object:
    """YAML/JSON dates and datetimes (and Python ones) as ISO text; anything else unchanged."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


TimeText = Annotated[str, BeforeValidator(_time_text)]
"""An instant as ISO text; a ``date`` or ``datetime`` value is accepted and written as ISO."""


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
    start: TimeText | None = None
    end: TimeText | None = None


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
    start: TimeText | None = None
    end: TimeText | None = None


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
        fees_charged_in: Which asset pays the fees: ``"quote"`` (default: every fee in the
            quote currency) or ``"received"`` (a buy's fee in the base asset it receives, as
            Binance spot charges it; spot accounts only, no ``per_order_fee``).
    """

    taker_fee: float | None = None
    maker_fee: float | None = None
    per_order_fee: float = Field(default=0.0, ge=0)
    slippage_bps: float = Field(default=0.0, ge=0)
    fees_charged_in: Literal["quote", "received"] = "quote"


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
        perpetual: Trade the data's symbols as linear perpetual futures (see
            `quantkit.config_perp.PerpetualConfig`); absent: spot.
    """

    strategy: StrategyConfig
    data: DataConfig = Field(default_factory=SampleData)
    broker: ModeConfig = Field(default_factory=BacktestMode)
    risk: tuple[SerializeAsAny[PolicyConfig], ...] = ()
    costs: CostsConfig = Field(default_factory=CostsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    perpetual: PerpetualConfig | None = None

    @model_validator(mode="after")
    def _perpetual_fits(self) -> RunConfig:
        if self.perpetual is None:
            return self
        data = self.data
        symbols = getattr(data, "symbols", None)
        if symbols is None and getattr(data, "symbol", None):
            symbols = [data.symbol]  # type: ignore[union-attr]
        problem = perpetual_problem(
            self.perpetual, self.broker.mode, data.type, symbols, getattr(data, "exchange", "")
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    @field_validator("risk", mode="before")
    @classmethod
    def _typed_risk(cls, value: object) -> tuple[PolicyConfig, ...]:
        from quantkit.risk.config import parse_policies  # noqa: PLC0415

        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError("must be a list of policies, each with a type (- type: sane_order)")
        try:
            return parse_policies(value)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("risk configuration: ")) from None


_TAGS: dict[str, frozenset[str]] = {
    "broker": frozenset({"backtest", "paper", "live"}),
    "data": frozenset({"sample", "csv", "parquet", "store", "exchange"}),
}


def _where(location: tuple[int | str, ...]) -> tuple[str, ...]:
    """A validation error's location without the union tag (``broker.backtest.cash``)."""
    parts = tuple(str(part) for part in location)
    if len(parts) > 1 and parts[0] in _TAGS and parts[1] in _TAGS[parts[0]]:
        return (parts[0], *parts[2:])
    return parts


def _describe(error: ValidationError, source: str, env: EnvOverrides) -> str:
    from quantkit._overrides import suggest_field  # noqa: PLC0415

    lines = []
    for problem in error.errors():
        where = _where(problem["loc"])
        variable = env.variable_for(where)
        path = ".".join(str(part) for part in problem["loc"]) or "config"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message += suggest_field(RunConfig, problem["loc"])
        if variable is not None:
            lines.append(f"environment {variable} ({path}): {message}")
        elif not problem["loc"]:  # a rule across sections: its message names the field
            lines.append(f"{source}: {message.removeprefix('Value error, ')}")
        else:
            lines.append(f"{source}: {path}: {message}")
    return "; ".join(lines)


def parse_config(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None, source: str = "config"
) -> RunConfig:
    """Validate a configuration given as Python values, with environment overrides.

    Args:
        data: The configuration.
        environ: Environment variables (default: ``os.environ``). ``QUANTKIT_<SECTION>__...``
            ones override fields (see `quantkit._overrides`); one naming an unknown section or
            field is an error. Other ``QUANTKIT_`` variables without ``__`` are ignored.
        source: What to call the configuration in errors (e.g. its file name).

    Returns:
        The configuration.

    Raises:
        ConfigError: If a field is invalid; the message names its path, and the environment
            variable when the value came from one.
    """
    from quantkit._overrides import env_overrides  # noqa: PLC0415

    merged, env = env_overrides(
        RunConfig, data, os.environ if environ is None else environ, ENV_PREFIX
    )
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, env)) from None


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
