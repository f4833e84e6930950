"""The ``perpetual`` section of a run configuration: trade the data's symbols as perpetuals.

`PerpetualConfig` says which symbols are linear perpetual futures, their margin mode and
leverage, and, for the simulated modes (backtest and paper), where funding and mark prices
come from and the contract's margin brackets. A live run takes funding, marks and brackets
from the venue (``binanceusdm``), so those fields are refused there; `check_perpetual` applies
the rules that depend on the rest of the configuration, each as one error naming the field.

```yaml
perpetual:
  margin_mode: isolated
  leverage: {BTC/USDT:USDT: 5}
  funding: {source: constant, rate: 0.0001}   # or {source: store}, {source: none}
  marks: {source: last}                         # or {source: store}
```
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.domain.portfolio import MAX_LEVERAGE
from quantkit.errors import ConfigError

__all__ = [
    "ConstantFunding",
    "MarkSource",
    "NoFunding",
    "PerpetualConfig",
    "StoredFunding",
    "perpetual_problem",
]

LIVE_PERPETUAL_VENUE = "binanceusdm"
"""The ccxt id of the venue a live run trades perpetuals on."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantFunding(_Model):
    """The same funding rate at every funding timestamp (stated in the result).

    Attributes:
        source: ``"constant"``.
        rate: The rate per funding interval (0.0001 is 0.01 %; positive: longs pay).
        interval_hours: Hours between funding timestamps.
    """

    source: Literal["constant"]
    rate: float = Field(gt=-1, lt=1)
    interval_hours: float = Field(default=8.0, gt=0)


class StoredFunding(_Model):
    """The funding-rate history downloaded into the store (``quantkit download --funding``).

    Attributes:
        source: ``"store"`` (the data must be ``type: store``: the history beside its bars).
    """

    source: Literal["store"]


class NoFunding(_Model):
    """No funding (stated in the result).

    Attributes:
        source: ``"none"``.
    """

    source: Literal["none"]


FundingConfig = Annotated[
    ConstantFunding | StoredFunding | NoFunding, Field(discriminator="source")
]


class MarkSource(_Model):
    """Where mark prices come from in the simulated modes.

    Attributes:
        source: ``"store"``: the mark candles downloaded into the store (``quantkit download
            --price mark``, the data must be ``type: store``); ``"last"``: the trade bars, the
            documented fallback.
    """

    source: Literal["store", "last"] = "last"


Bracket = tuple[
    Annotated[float, Field(ge=0)],
    Annotated[float, Field(gt=0)],
    Annotated[float, Field(ge=1, le=MAX_LEVERAGE)],
    Annotated[float, Field(ge=0, lt=1)],
]


class PerpetualConfig(_Model):
    """Trade symbols as linear perpetual futures (see the module docstring).

    Attributes:
        symbols: The perpetual symbols (default: every symbol of the data).
        margin_mode: ``"cross"`` or ``"isolated"``.
        leverage: One leverage for every perpetual, or one per symbol (others: 1).
        funding: Simulated modes: where funding rates come from (default: none). Live: the
            venue's, not set here.
        marks: Simulated modes: where mark prices come from (default: the trade bars). Live:
            the venue's, not set here.
        settle: Simulated modes: the settlement currency.
        brackets: Simulated modes: the margin brackets, each ``[notional floor, cap, max
            leverage, maintenance rate]`` (default: one bracket, 125x, 0.4 %). Live: the
            venue's.
        liquidation_fee: Simulated modes: the liquidation fee rate.
    """

    symbols: list[str] | None = Field(default=None, min_length=1)
    margin_mode: Literal["cross", "isolated"] = "cross"
    leverage: float | dict[str, float] = 1.0
    funding: FundingConfig | None = None
    marks: MarkSource | None = None
    settle: str = "USDT"
    brackets: list[Bracket] | None = Field(default=None, min_length=1)
    liquidation_fee: float = Field(default=0.0125, ge=0, lt=1)

    @field_validator("leverage")
    @classmethod
    def _leverage_range(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        pairs = value.items() if isinstance(value, dict) else [("", value)]
        for symbol, leverage in pairs:
            if not 1 <= leverage <= MAX_LEVERAGE:
                where = f" (of {symbol})" if symbol else ""
                raise ValueError(f"must be from 1 to {MAX_LEVERAGE:g}{where}, got {leverage:g}")
        return value

    @field_validator("brackets")
    @classmethod
    def _contiguous(cls, value: list[Bracket] | None) -> list[Bracket] | None:
        if value is not None:
            try:
                PerpetualSpec("USDT", brackets=brackets_with_cum(value))
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("perpetual spec: ")) from None
        return value

    def spec(self) -> PerpetualSpec:
        """The contract of the simulated modes (settle currency, brackets, liquidation fee)."""
        if self.brackets is None:
            return PerpetualSpec(self.settle, liquidation_fee=self.liquidation_fee)
        brackets = brackets_with_cum(self.brackets)
        return PerpetualSpec(self.settle, brackets=brackets, liquidation_fee=self.liquidation_fee)

    def leverage_of(self, symbol: str) -> float:
        """The leverage of ``symbol``.

        Args:
            symbol: A perpetual symbol.

        Returns:
            Its leverage (1 when a per-symbol table leaves it out).
        """
        if isinstance(self.leverage, dict):
            return float(self.leverage.get(symbol, 1.0))
        return float(self.leverage)


def perpetual_problem(
    config: PerpetualConfig, mode: str, data_type: str, symbols: list[str] | None, exchange: str
) -> str | None:
    """The first rule a ``perpetual`` section breaks with the rest of the run, if any.

    Args:
        config: The section.
        mode: ``backtest``, ``paper`` or ``live``.
        data_type: The data's ``type``.
        symbols: The data's symbols, when it names them.
        exchange: The data's exchange id (``""`` when it has none).

    Returns:
        The message, naming the field, or ``None``.
    """
    if mode == "live":
        for name in ("funding", "marks", "brackets"):
            if getattr(config, name) is not None:
                return f"perpetual.{name}: a live run takes it from the venue; remove it"
        if exchange != LIVE_PERPETUAL_VENUE:
            return (
                f"data.exchange: live perpetuals trade on {LIVE_PERPETUAL_VENUE!r}, "
                f"got {exchange!r}"
            )
    stored = [
        n for n in ("funding", "marks") if getattr(getattr(config, n), "source", "") == "store"
    ]
    if stored and data_type != "store":
        return (
            f"perpetual.{stored[0]}.source: 'store' reads the series beside stored bars; "
            f"data.type must be 'store', got {data_type!r}"
        )
    chosen = config.symbols or symbols
    if chosen is None:
        return f"perpetual.symbols: name the perpetual symbols (the {data_type} data names none)"
    unknown = [s for s in chosen if symbols is not None and s not in symbols]
    if unknown:
        return f"perpetual.symbols: {unknown[0]!r} is not a symbol of the data ({symbols})"
    extra = (
        [s for s in config.leverage if s not in chosen] if isinstance(config.leverage, dict) else []
    )
    if extra:
        return f"perpetual.leverage: {extra[0]!r} is not a perpetual of this run ({chosen})"
    return None
