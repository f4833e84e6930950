"""Parsing of ccxt's perpetual positions, funding history and futures balances.

ccxt ``fetch_positions`` (Binance USD-M: ``positionRisk``), ``fetch_funding_history``
(``income`` with type ``FUNDING_FEE``) and ``fetch_balance`` (``account``: the raw
``walletBalance`` per asset) become `VenuePosition`, `VenueFunding` and a wallet figure here.
Nothing ccxt-shaped leaves this module; a malformed payload is one `DataError` naming the
venue, what was read and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quantkit.domain.venue_positions import VenueFunding, VenuePosition
from quantkit.errors import DataError

__all__ = ["parse_funding_history", "parse_positions", "parse_wallet"]

_MS = 1_000_000


def _num(row: Mapping[str, Any], key: str, source: str, *, default: float | None = None) -> float:
    value = row.get(key)
    if value is None or value == "":
        if default is not None:
            return default
        raise DataError(f"{key} is missing", source=source)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{key} {value!r} is not a number", source=source)
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{key} {value!r} is not a number", source=source) from None
    if not math.isfinite(number):
        raise DataError(f"{key} {value!r} is not finite", source=source)
    return number


def _rows(raw: object, what: str, exchange: str) -> list[Mapping[str, Any]]:
    source = f"{exchange} {what}"
    if not isinstance(raw, list) or not all(isinstance(r, Mapping) for r in raw):
        raise DataError(f"expected a list of {what}, got {type(raw).__name__}", source=source)
    return raw


def _position(row: Mapping[str, Any], exchange: str) -> VenuePosition:
    symbol = str(row.get("symbol") or "")
    source = f"{exchange} position {symbol!r}"
    side = row.get("side")
    contracts = _num(row, "contracts", source, default=0.0)
    found = row.get("info")
    info: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    raw_amount = info.get("positionAmt")
    if raw_amount not in (None, ""):
        amount = _num(info, "positionAmt", source)  # signed, as the venue states it
    elif side in ("long", "short", None):
        amount = -contracts if side == "short" else contracts
    else:
        raise DataError(f"side {side!r} is neither long nor short", source=source)
    mode = str(row.get("marginMode") or "cross")
    return VenuePosition(
        symbol=symbol,
        amount=amount,
        entry_price=_num(row, "entryPrice", source, default=0.0),
        mark_price=_num(row, "markPrice", source, default=0.0),
        unrealized_pnl=_num(row, "unrealizedPnl", source, default=0.0),
        liquidation_price=_num(row, "liquidationPrice", source, default=0.0),
        initial_margin=_num(row, "initialMargin", source, default=0.0),
        maintenance_margin=_num(row, "maintenanceMargin", source, default=0.0),
        margin_mode=mode,
        isolated_wallet=_num(info, "isolatedWallet", source, default=0.0),
        timestamp=int(_num(row, "timestamp", source, default=0.0)) * _MS,
    )


def parse_positions(raw: object, *, exchange: str) -> dict[str, VenuePosition]:
    """Check and convert ccxt's ``fetch_positions`` answer (one-way mode).

    Args:
        raw: ccxt's position structures.
        exchange: The venue's id, for messages.

    Returns:
        Positions by symbol (flat ones included when the venue lists them).

    Raises:
        DataError: If a structure is malformed, or a symbol is listed twice (hedge mode).
    """
    positions: dict[str, VenuePosition] = {}
    for row in _rows(raw, "positions", exchange):
        position = _position(row, exchange)
        if not position.symbol:
            raise DataError("a position without a symbol", source=f"{exchange} positions")
        if position.symbol in positions and position.amount:
            raise DataError(
                f"{position.symbol} is listed twice (hedge-mode positions?)",
                source=f"{exchange} positions",
            )
        if position.symbol not in positions or position.amount:
            positions[position.symbol] = position
    return positions


def parse_funding_history(raw: object, *, exchange: str) -> list[VenueFunding]:
    """Check and convert ccxt's ``fetch_funding_history`` answer.

    Args:
        raw: ccxt's funding history structures (``id``, ``symbol``, ``code``, ``amount``,
            ``timestamp``).
        exchange: The venue's id, for messages.

    Returns:
        The payments, oldest first.

    Raises:
        DataError: If an entry is malformed.
    """
    payments = []
    for row in _rows(raw, "funding history", exchange):
        funding_id = str(row.get("id") or "")
        source = f"{exchange} funding {funding_id!r}"
        if not funding_id:
            raise DataError("a funding entry without an id", source=source)
        payments.append(
            VenueFunding(
                funding_id=funding_id,
                symbol=str(row.get("symbol") or ""),
                amount=_num(row, "amount", source),
                currency=str(row.get("code") or ""),
                timestamp=int(_num(row, "timestamp", source)) * _MS,
            )
        )
    return sorted(payments, key=lambda p: p.timestamp)


def parse_wallet(raw: object, asset: str, *, exchange: str) -> float:
    """The wallet balance of ``asset`` in a ccxt futures ``fetch_balance`` answer.

    The wallet is deposits plus realised P&L, minus fees and funding: it leaves out the
    unrealised P&L that ccxt's ``total`` includes. Binance sends it as ``walletBalance`` per
    asset in ``info.assets``; without it, ``total`` minus ``info.totalUnrealizedProfit``.

    Args:
        raw: ccxt's balance structure.
        asset: The margin asset, e.g. ``"USDT"``.
        exchange: The venue's id, for messages.

    Returns:
        The wallet balance (0 when the asset is not listed).

    Raises:
        DataError: If the answer is malformed.
    """
    source = f"{exchange} balance"
    if not isinstance(raw, Mapping):
        raise DataError(f"expected a balance structure, got {type(raw).__name__}", source=source)
    info = raw.get("info")
    assets = info.get("assets") if isinstance(info, Mapping) else None
    if isinstance(assets, list):
        for row in assets:
            if isinstance(row, Mapping) and row.get("asset") == asset:
                return _num(row, "walletBalance", f"{source} {asset}")
        return 0.0
    held = raw.get(asset)
    if not isinstance(held, Mapping):
        return 0.0
    total = _num(held, "total", f"{source} {asset}", default=0.0)
    unrealised = _num(info, "totalUnrealizedProfit", source, default=0.0) if info else 0.0
    return total - unrealised
