"""How the simulating brokers set up a futures account: settings checked once, marks aligned.

`futures_account` turns `SimSettings` with perpetual markets into a `FuturesPortfolio` (or
``None`` for a spot run); `align_marks` lines each symbol's mark price bars up with its trade
bars; `check_leverage` is the one rule for a symbol's leverage, from the settings or from
`SimulatedBroker.set_leverage`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.perpetual import PerpetualSpec, check_margin_mode, check_position_mode
from quantkit.domain.portfolio import MarginConfig
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt

    from quantkit.brokers.settings import SimSettings
    from quantkit.domain.bars import BarSeries

    MarkColumns = tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]

__all__ = ["align_marks", "check_leverage", "futures_account"]


def check_leverage(symbol: str, spec: PerpetualSpec, leverage: object) -> float:
    """Return ``leverage`` if ``symbol`` may use it.

    Args:
        symbol: The perpetual symbol.
        spec: Its spec.
        leverage: The leverage asked for.

    Returns:
        The leverage as a float.

    Raises:
        ConfigError: If it is not a number from 1 to the spec's maximum.
    """
    if isinstance(leverage, bool) or not isinstance(leverage, int | float):
        raise ConfigError(f"leverage of {symbol} must be a number, got {leverage!r}")
    top = spec.max_leverage
    if not (math.isfinite(leverage) and 1 <= leverage <= top):
        raise ConfigError(
            f"leverage of {symbol} must be from 1 to {top:g} (its first bracket's maximum), "
            f"got {leverage!r}"
        )
    return float(leverage)


def futures_account(settings: SimSettings, cash: float) -> FuturesPortfolio | None:
    """Build the futures account the settings describe, or ``None`` for a spot run.

    Args:
        settings: The simulated account's settings.
        cash: Starting cash.

    Returns:
        The account, when some market is a perpetual.

    Raises:
        ConfigError: For hedge mode, an unknown margin mode, an inverse perpetual whose
            settle coin is not the account currency, a leverage out of range, or a perpetual
            setting naming a symbol that is not a perpetual market.
    """
    check_position_mode(settings.position_mode, "SimSettings.position_mode")
    mode = check_margin_mode(settings.margin_mode, "SimSettings.margin_mode")
    markets = settings.markets or {}
    specs = {s: m.perpetual for s, m in markets.items() if m.perpetual is not None}
    for name in ("leverages", "marks", "funding"):
        for symbol in getattr(settings, name) or {}:
            if symbol not in specs:
                close = difflib.get_close_matches(symbol, list(specs), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"SimSettings.{name} names {symbol!r}, which is not a perpetual market of "
                    f"SimSettings.markets{hint}"
                )
    if not specs:
        return None
    for symbol, spec in specs.items():
        if spec.inverse and spec.settle != settings.currency:
            raise ConfigError(
                f"{symbol} is an inverse (coin-margined) perpetual settled in {spec.settle}, "
                f"but SimSettings.currency is {settings.currency!r}; a coin-margined account "
                f"is kept in its settle coin: set currency={spec.settle!r}"
            )
    leverages = dict(settings.leverages or {})
    leverage = {
        s: check_leverage(s, spec, leverages.get(s, settings.leverage)) for s, spec in specs.items()
    }
    currency = settings.currency
    margin = MarginConfig(True, max(1.0, min(settings.leverage, 125.0)))
    return FuturesPortfolio(
        currency,
        {currency: float(cash)},
        margin,
        specs=specs,
        leverage=leverage,
        margin_mode=mode,
    )


def align_marks(
    history: Mapping[str, BarSeries], marks: Mapping[str, BarSeries]
) -> dict[str, MarkColumns]:
    """Line up each symbol's mark bars with its trade bars (by open time).

    Args:
        history: The run's trade bars by symbol.
        marks: Mark price bars by symbol.

    Returns:
        Per symbol, the mark open, high, low and close at each trade bar.

    Raises:
        ConfigError: If a mark series misses a trade bar's open time (named).
    """
    out: dict[str, MarkColumns] = {}
    for symbol, mark in marks.items():
        bars = history.get(symbol)
        if bars is None:
            continue
        at = np.searchsorted(mark.open_time, bars.open_time)
        inside = np.minimum(at, len(mark.open_time) - 1)
        found = (at < len(mark.open_time)) & (mark.open_time[inside] == bars.open_time)
        if len(mark.open_time) == 0 or not found.all():
            first = int(bars.open_time[int(np.argmin(found))])
            raise ConfigError(
                f"SimSettings.marks[{symbol!r}] has no mark bar opening at {first} ns "
                "(a mark series needs one bar for each trade bar; leave the symbol out to "
                "mark it at the trade price)"
            )
        out[symbol] = (mark.open[at], mark.high[at], mark.low[at], mark.close[at])
    return out
