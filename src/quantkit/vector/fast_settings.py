"""The account and venue settings of a fast-path run (`FastSettings`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.domain.market import Market, _decimals
from quantkit.domain.portfolio import MAX_LEVERAGE
from quantkit.errors import ConfigError
from quantkit.sim.fees import FeeModel, MarketFees
from quantkit.sim.rules import IntrabarAssumption
from quantkit.vector.layout import (
    ADVERSE,
    FAVORABLE,
    LIMIT_ENTRY,
    MARKET_ENTRY,
    NEAREST,
    STOP_ENTRY,
    new_params,
)

if TYPE_CHECKING:
    from quantkit.domain.bars import BarSeries
    from quantkit.domain.funding import FundingRates
    from quantkit.vector.signals import Signals

__all__ = ["FastSettings"]

_INTRABAR = {"adverse": ADVERSE, "favorable": FAVORABLE, "nearest": NEAREST}
_ENTRY_TYPES = {"market": MARKET_ENTRY, "limit": LIMIT_ENTRY, "stop": STOP_ENTRY}


@dataclass(frozen=True, slots=True)
class FastSettings:
    """The account and venue settings of a fast-path run (what a `BacktestBroker` holds).

    Args:
        cash: Starting cash in the market's quote currency.
        market: The market (default: ``Market.from_symbol(symbol)``: no precision limits,
            0.1 % maker and taker fees).
        fees: Fee model (default: the market's own rates); any `FeeModel` whose rate depends
            only on the market and the maker flag.
        slippage_bps: Fixed slippage on market and stop fills, in basis points (``FixedBps``).
        allow_short: Whether positions may go short.
        leverage: Largest gross exposure as a multiple of equity.
        intrabar: ``"adverse"``, ``"favorable"`` or ``"nearest"`` (see R15).
        warmup: Leading bars that are history only: their signals are not acted on (the
            Engine's ``warmup``).
        margin_mode: Perpetual markets: ``"cross"`` (default) or ``"isolated"`` margin.
        marks: Perpetual markets: mark bars (one per trade bar), or mark bars by symbol;
            without them the trade bars are the mark.
        funding: Perpetual markets: `FundingRates`, or rates by symbol; none: no funding.

    Raises:
        ConfigError: If a setting is out of range.
    """

    cash: float = 100_000.0
    market: Market | None = None
    fees: FeeModel | None = None
    slippage_bps: float = 0.0
    allow_short: bool = False
    leverage: float = 1.0
    intrabar: IntrabarAssumption = "adverse"
    warmup: int = 0
    margin_mode: str = "cross"
    marks: Mapping[str, BarSeries] | BarSeries | None = None
    funding: Mapping[str, FundingRates] | FundingRates | None = None

    def __post_init__(self) -> None:
        if isinstance(self.cash, bool) or not math.isfinite(self.cash) or self.cash <= 0:
            raise ConfigError(f"fast path: cash must be a finite number > 0, got {self.cash!r}")
        if not math.isfinite(self.slippage_bps) or self.slippage_bps < 0:
            raise ConfigError(f"fast path: slippage_bps must be >= 0, got {self.slippage_bps!r}")
        if not (math.isfinite(self.leverage) and 1 <= self.leverage <= MAX_LEVERAGE):
            raise ConfigError(
                f"fast path: leverage must be from 1 to {MAX_LEVERAGE:g}, got {self.leverage!r}"
            )
        if self.intrabar not in _INTRABAR:
            raise ConfigError(
                "fast path: intrabar must be 'adverse', 'favorable' or 'nearest', "
                f"got {self.intrabar!r}"
            )
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"fast path: warmup must be an integer >= 0, got {self.warmup!r}")
        if self.fees is not None and not isinstance(self.fees, FeeModel):
            raise ConfigError(f"fast path: fees must be a FeeModel, got {type(self.fees).__name__}")
        if self.fees is not None and self.fees.charged_in != "quote":
            raise ConfigError(
                "fast path: fees charged in the asset received (charged_in="
                f"{self.fees.charged_in!r}) are not supported; use the event-driven backtest "
                "(BacktestBroker) or charged_in='quote'"
            )

    def params(self, symbol: str, signals: Signals) -> np.recarray[Any, Any]:
        """Return the kernel's settings record for one symbol's signals.

        Args:
            symbol: The traded symbol.
            signals: Its signals (size, entry order and bracket settings).

        Returns:
            One record of ``layout.PARAM_DTYPE`` (a record array of length 1).

        Raises:
            ConfigError: If the market is for another symbol.
        """
        market = self.market or Market.from_symbol(symbol)
        if market.symbol != symbol:
            raise ConfigError(
                f"fast path: the market is {market.symbol!r} but the data is {symbol!r}"
            )
        fees = self.fees or MarketFees()
        astep, pstep = market.amount_increment, market.price_increment
        record = new_params(1)
        for name, value in (
            ("cash", self.cash),
            ("entry_size", signals.size),
            ("sl_pct", _or_nan(signals.sl_pct)),
            ("tp_pct", _or_nan(signals.tp_pct)),
            ("trail_pct", _or_nan(signals.trail_pct)),
            ("taker", fees.rate(market, False)),
            ("maker", fees.rate(market, True)),
            ("per_order", fees.per_order),
            ("slippage", self.slippage_bps / 10_000.0),
            ("amount_step", astep),
            ("amount_scale", 10.0 ** _decimals(astep) if astep > 0 else 1.0),
            ("price_step", pstep),
            ("price_scale", 10.0 ** _decimals(pstep) if pstep > 0 else 1.0),
            ("min_amount", market.min_amount),
            ("min_notional", market.min_notional),
            ("dust", max(market.min_amount, astep)),  # `Market.dust_below`
            ("allow_short", self.allow_short),
            ("leverage", self.leverage),
            ("intrabar", _INTRABAR[self.intrabar]),
            ("warmup", self.warmup),
            ("entry_type", _ENTRY_TYPES[signals.entry_type]),
            ("entry_offset", signals.entry_offset),
            ("entry_valid", signals.entry_valid_bars),
            ("entry_fee", market.taker_fee),
        ):
            record[name] = value
        return record


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value
