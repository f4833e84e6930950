"""ccxt payloads parsed into quantkit values at the adapter's edge.

Nothing returned from here is a ccxt structure: markets become `Market` values, candles
become `OhlcvRow` tuples and trades `TradeRow` tuples. A malformed payload raises
`DataError` naming the venue and the symbol.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from quantkit.data.source import OhlcvRow, TradeRow
from quantkit.domain.market import Market
from quantkit.errors import ConfigError, DataError

__all__ = [
    "DECIMAL_PLACES",
    "SIGNIFICANT_DIGITS",
    "TICK_SIZE",
    "increment_from_precision",
    "parse_market",
    "parse_ohlcv",
    "parse_trades",
]

DECIMAL_PLACES = 2
"""ccxt precision mode: ``precision`` values count decimal places (``2`` means 0.01)."""
SIGNIFICANT_DIGITS = 3
"""ccxt precision mode: ``precision`` values count significant digits (no fixed increment)."""
TICK_SIZE = 4
"""ccxt precision mode: ``precision`` values are the increments themselves (most venues)."""


def increment_from_precision(value: object, precision_mode: int) -> float:
    """Turn a ccxt ``precision`` entry into an increment (tick or step size).

    Args:
        value: ``market["precision"]["price"]`` or ``["amount"]``; ``None`` when unknown.
        precision_mode: The venue's ``precisionMode`` (`TICK_SIZE`, `DECIMAL_PLACES` or
            `SIGNIFICANT_DIGITS`).

    Returns:
        The increment; ``0.0`` (any value) when it is unknown or the venue counts significant
        digits, which no single increment expresses.

    Raises:
        DataError: If the value is not a number or the mode is unknown.

    Examples:
        >>> increment_from_precision(0.01, TICK_SIZE), increment_from_precision(3, DECIMAL_PLACES)
        (0.01, 0.001)
    """
    if value is None or precision_mode == SIGNIFICANT_DIGITS:
        return 0.0
    number = _number(value, "precision")
    if precision_mode == TICK_SIZE:
        return number
    if precision_mode == DECIMAL_PLACES:
        return float(f"1e{-int(number)}")
    raise DataError(f"unknown ccxt precision mode {precision_mode!r}")


def _number(value: object, what: str) -> float:
    """A finite float from a ccxt number (int, float or numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{what} {value!r} is not a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise DataError(f"{what} {value!r} is not a number") from exc
    if not math.isfinite(number):
        raise DataError(f"{what} {value!r} is not finite")
    return number


def _is_list(value: object) -> TypeGuard[Sequence[Any]]:
    """A list-like answer: a sequence, but not a string."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _get(mapping: object, *keys: str) -> object:
    """``mapping[k1][k2]...``, or ``None`` as soon as a level is missing."""
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _optional(mapping: object, *keys: str) -> float | None:
    value = _get(mapping, *keys)
    return None if value is None else _number(value, ".".join(keys))


def parse_market(raw: Mapping[str, Any], *, precision_mode: int, exchange: str = "") -> Market:
    """Build a `Market` from one entry of ccxt's ``exchange.markets``.

    Precision comes from ``precision.price`` and ``precision.amount`` read in the venue's
    precision mode; minimums from ``limits.amount.min`` and ``limits.cost.min`` (``0`` when
    the venue states none); fees from ``maker`` and ``taker`` (the `Market` defaults when the
    venue states none).

    Args:
        raw: The ccxt market structure.
        precision_mode: The venue's ``precisionMode``.
        exchange: The venue's id, for error messages.

    Returns:
        The market.

    Raises:
        DataError: If a field is missing, not a number, or out of range.
    """
    symbol = raw.get("symbol")
    source = f"{exchange} market {symbol!r}" if exchange else f"market {symbol!r}"
    try:
        fields: dict[str, Any] = {
            "price_increment": increment_from_precision(
                _get(raw, "precision", "price"), precision_mode
            ),
            "amount_increment": increment_from_precision(
                _get(raw, "precision", "amount"), precision_mode
            ),
            "min_amount": _optional(raw, "limits", "amount", "min") or 0.0,
            "min_notional": _optional(raw, "limits", "cost", "min") or 0.0,
        }
        for fee in ("maker", "taker"):
            rate = _optional(raw, fee)
            if rate is not None:
                fields[f"{fee}_fee"] = rate
        base, quote = raw.get("base"), raw.get("quote")
        if not isinstance(symbol, str) or not isinstance(base, str) or not isinstance(quote, str):
            raise DataError("symbol, base and quote must be strings")
        return Market(symbol, base, quote, **fields)
    except (DataError, ConfigError) as exc:
        problem = exc.problem if isinstance(exc, DataError) else str(exc)
        raise DataError(problem, source=source) from exc


def parse_ohlcv(rows: object, *, exchange: str, symbol: str) -> list[OhlcvRow]:
    """Check and convert ccxt's ``fetch_ohlcv`` answer.

    Args:
        rows: A list of ``[timestamp_ms, open, high, low, close, volume]`` lists.
        exchange: The venue's id, for error messages.
        symbol: The market's symbol, for error messages.

    Returns:
        One `OhlcvRow` per candle, in the venue's order.

    Raises:
        DataError: If the answer is not a list of six-number rows.
    """
    source = f"{exchange} {symbol} candles"
    if not _is_list(rows):
        raise DataError(f"expected a list of candles, got {type(rows).__name__}", source=source)
    parsed: list[OhlcvRow] = []
    for position, row in enumerate(rows):
        if not _is_list(row) or len(row) < 6:
            raise DataError(f"candle {row!r} has not six fields", source=source, row=position)
        try:
            stamp = int(_number(row[0], "timestamp"))
            o, h, lo, c, v = (_number(value, "value") for value in row[1:6])
        except DataError as exc:
            raise DataError(exc.problem, source=source, row=position) from exc
        parsed.append((stamp, o, h, lo, c, v))
    return parsed


def parse_trades(trades: object, *, exchange: str, symbol: str) -> list[TradeRow]:
    """Check and convert ccxt's ``fetch_trades`` answer.

    Args:
        trades: A list of ccxt trade structures (``timestamp``, ``price``, ``amount``,
            ``side``).
        exchange: The venue's id, for error messages.
        symbol: The market's symbol, for error messages.

    Returns:
        One `TradeRow` per trade, in the venue's order; ``side`` is ``""`` when the venue
        does not say who took liquidity.

    Raises:
        DataError: If a trade lacks its time, price or amount.
    """
    source = f"{exchange} {symbol} trades"
    if not _is_list(trades):
        raise DataError(f"expected a list of trades, got {type(trades).__name__}", source=source)
    parsed: list[TradeRow] = []
    for position, trade in enumerate(trades):
        try:
            if not isinstance(trade, Mapping):
                raise DataError(f"trade {trade!r} is not a mapping")
            stamp = int(_number(trade.get("timestamp"), "timestamp"))
            price = _number(trade.get("price"), "price")
            amount = _number(trade.get("amount"), "amount")
        except DataError as exc:
            raise DataError(exc.problem, source=source, row=position) from exc
        side = trade.get("side")
        parsed.append((stamp, price, amount, side if isinstance(side, str) else ""))
    return parsed
