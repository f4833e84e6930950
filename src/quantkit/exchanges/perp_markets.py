"""ccxt perpetual-swap markets and leverage tiers parsed into `Market` + `PerpetualSpec`.

ccxt describes a swap market with ``swap``, ``linear``/``inverse``, ``contractSize`` and
``settle`` beside the spot fields, and its margin brackets through ``fetch_leverage_tiers``:
one list per symbol of ``{tier, currency, minNotional, maxNotional, maintenanceMarginRate,
maxLeverage, info}``, where Binance's raw bracket in ``info`` carries the maintenance amount
``cum``. Nothing ccxt-shaped leaves this module; a malformed payload is one `DataError`
naming the venue, the symbol and the field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from quantkit.domain.market import Market
from quantkit.domain.perpetual import MarginBracket, PerpetualSpec, brackets_with_cum
from quantkit.errors import ConfigError, DataError
from quantkit.exchanges.parse import parse_market

__all__ = ["parse_funding_interval", "parse_leverage_tiers", "parse_perpetual_market"]

_HOUR_NS = 3_600_000_000_000


def _num(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{what} {value!r} is not a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise DataError(f"{what} {value!r} is not a number") from exc
    if math.isnan(number):
        raise DataError(f"{what} is NaN")
    return number


def parse_funding_interval(value: object) -> int:
    """Turn a ccxt funding interval (``"8h"``, ``"4h"``, or hours as a number) into ns.

    Args:
        value: ccxt's ``interval`` of a funding rate, or Binance's ``fundingIntervalHours``.

    Returns:
        The interval in nanoseconds.

    Raises:
        DataError: If the value is neither hours nor an ``"<n>h"`` string.

    Examples:
        >>> parse_funding_interval("8h") == 8 * 3_600_000_000_000
        True
    """
    text = value.strip().lower() if isinstance(value, str) else value
    if isinstance(text, str) and text.endswith("h"):
        text = text[:-1]
    hours = _num(text, "funding interval")
    if not 0 < hours <= 24 * 7:
        raise DataError(f"funding interval {value!r} is not a number of hours in (0, 168]")
    return round(hours * _HOUR_NS)


def parse_leverage_tiers(tiers: object, *, source: str = "") -> tuple[MarginBracket, ...]:
    """Build margin brackets from one symbol's ccxt leverage tiers.

    Each tier's maintenance amount is ``info.cum`` when the venue sends it (Binance does);
    otherwise it is derived by the venue's rule from the floors and rates.

    Args:
        tiers: The list ``fetch_leverage_tiers()[symbol]``.
        source: What the tiers are (venue and symbol), for error messages.

    Returns:
        The brackets in ascending order.

    Raises:
        DataError: If the list is empty, a field is missing or not a number, or the tiers are
            not contiguous.
    """
    where = source or "leverage tiers"
    if not isinstance(tiers, Sequence) or isinstance(tiers, str | bytes) or not tiers:
        raise DataError("expected a non-empty list of leverage tiers", source=where)
    rows: list[tuple[float, float, float, float]] = []
    cums: list[float | None] = []
    try:
        ordered = sorted(tiers, key=lambda t: _num(_field(t, "minNotional"), "minNotional"))
        for tier in ordered:
            cap = _field(tier, "maxNotional")
            rows.append(
                (
                    _num(_field(tier, "minNotional"), "minNotional"),
                    math.inf if cap is None else _num(cap, "maxNotional"),
                    _num(_field(tier, "maxLeverage"), "maxLeverage"),
                    _num(_field(tier, "maintenanceMarginRate"), "maintenanceMarginRate"),
                )
            )
            info = tier.get("info")
            cum = info.get("cum") if isinstance(info, Mapping) else None
            cums.append(None if cum is None else _num(cum, "info.cum"))
        derived = brackets_with_cum(rows)
        if all(c is not None for c in cums):
            derived = tuple(
                dataclasses.replace(b, maintenance_amount=float(c or 0.0))
                for b, c in zip(derived, cums, strict=True)
            )
        PerpetualSpec("X", brackets=derived)  # contiguity and ranges, one rule
    except (DataError, ConfigError) as exc:
        problem = exc.problem if isinstance(exc, DataError) else str(exc)
        raise DataError(problem, source=where) from exc
    return derived


def _field(tier: object, name: str) -> object:
    if not isinstance(tier, Mapping):
        raise DataError(f"a leverage tier must be a mapping, got {tier!r:.60}")
    if name not in tier:
        raise DataError(f"a leverage tier lacks {name!r}")
    return tier[name]


def parse_perpetual_market(
    raw: Mapping[str, Any],
    tiers: object,
    *,
    precision_mode: int,
    exchange: str = "",
    funding_interval: object = None,
    liquidation_fee: float = 0.0125,
) -> Market:
    """Build a perpetual `Market` from a ccxt swap market and its leverage tiers.

    Args:
        raw: The ccxt market structure (``swap`` true).
        tiers: ``fetch_leverage_tiers()[symbol]`` for it.
        precision_mode: The venue's ``precisionMode``.
        exchange: The venue's id, for error messages.
        funding_interval: The funding interval (``"8h"`` or hours; default 8 hours).
        liquidation_fee: Liquidation clearance fee rate (Binance BTCUSDT: 1.25 %).

    Returns:
        The market, amounts in contracts, with its `PerpetualSpec`.

    Raises:
        DataError: If the market is not a perpetual swap, or a field is missing or malformed.
    """
    symbol = raw.get("symbol")
    source = f"{exchange} market {symbol!r}" if exchange else f"market {symbol!r}"
    if not raw.get("swap"):
        raise DataError("not a perpetual swap (ccxt 'swap' is not true)", source=source)
    inverse = bool(raw.get("inverse"))
    if inverse == bool(raw.get("linear")):
        raise DataError("exactly one of 'linear' and 'inverse' must be true", source=source)
    brackets = parse_leverage_tiers(tiers, source=f"{source} leverage tiers")
    market = parse_market(raw, precision_mode=precision_mode, exchange=exchange)
    try:
        settle = raw.get("settle")
        if not isinstance(settle, str) or not settle:
            raise DataError(f"settle {settle!r} is not a currency")
        size = raw.get("contractSize")
        interval = 8 if funding_interval is None else funding_interval
        spec = PerpetualSpec(
            settle,
            inverse=inverse,
            contract_size=1.0 if size is None else _num(size, "contractSize"),
            funding_interval_ns=parse_funding_interval(interval),
            brackets=brackets,
            liquidation_fee=liquidation_fee,
        )
        return dataclasses.replace(market, perpetual=spec)
    except (DataError, ConfigError) as exc:
        problem = exc.problem if isinstance(exc, DataError) else str(exc)
        raise DataError(problem, source=source) from exc
