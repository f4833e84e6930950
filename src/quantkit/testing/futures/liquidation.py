"""The liquidation and bankruptcy prices of a one-way USD-M position, Binance's published way.

Binance's support page "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" gives,
for a position in one-way mode (``BOTH``)::

    LP = (WB - TMM1 + UPNL1 + cumB - Side x Position x EP) / (Position x MMR - Side x Position)

with ``WB`` the wallet balance (the cross wallet balance in cross mode, the position's isolated
wallet in isolated mode), ``TMM1`` and ``UPNL1`` the maintenance margin and unrealised P&L of
the account's *other* cross positions (0 in isolated mode), ``cumB``/``MMR`` the maintenance
amount and rate of the bracket, ``Side`` +1 long / -1 short, ``Position`` the absolute amount
and ``EP`` the entry price. When the notional at the computed price falls in another bracket
than the one assumed, the page says to recompute with that bracket's rate and amount:
`liquidation_price` tries the brackets until one is consistent. A price at or below zero is
shown as ``0`` (Binance's UI shows "--"): the position cannot be liquidated.

At ``LP`` the margin balance (``WB + UPNL``) equals the maintenance margin; the venue
liquidates once the mark reaches it. The bankruptcy price is where the margin balance is zero.
"""

from __future__ import annotations

from decimal import Decimal

from quantkit.testing.futures.brackets import BracketTable

__all__ = ["bankruptcy_price", "liquidation_price", "maintenance_margin"]

_ZERO = Decimal(0)


def maintenance_margin(amount: Decimal, mark: Decimal, table: BracketTable) -> Decimal:
    """Return the maintenance margin of a position at a mark price.

    Args:
        amount: Signed position amount.
        mark: The mark price.
        table: The symbol's brackets.

    Returns:
        ``notional x mmr - cum`` of the bracket the notional falls in (0 when flat).
    """
    notional = abs(amount) * mark
    if not notional:
        return _ZERO
    return table.for_notional(notional).maintenance(notional)


def liquidation_price(
    amount: Decimal,
    entry: Decimal,
    wallet: Decimal,
    table: BracketTable,
    *,
    other_maintenance: Decimal = _ZERO,
    other_unrealized: Decimal = _ZERO,
) -> Decimal:
    """Return the liquidation price of a one-way position (``0`` when there is none).

    Args:
        amount: Signed position amount (positive long, negative short).
        entry: Entry price.
        wallet: ``WB``: the cross wallet balance, or the isolated wallet of the position.
        table: The symbol's brackets.
        other_maintenance: ``TMM1``, the other cross positions' maintenance margin.
        other_unrealized: ``UPNL1``, the other cross positions' unrealised P&L.

    Returns:
        The price, or ``0`` for a flat position or one that cannot be liquidated.

    Examples:
        >>> from quantkit.testing.futures.brackets import DEFAULT_BRACKETS
        >>> liquidation_price(Decimal(1), Decimal(40_000), Decimal(4_000), DEFAULT_BRACKETS)
        Decimal('36144.57831325301204819277108')
    """
    if not amount:
        return _ZERO
    side = Decimal(1) if amount > 0 else Decimal(-1)
    size = abs(amount)
    first = table.for_notional(size * entry)
    candidates = (first, *(b for b in table.brackets if b is not first))
    for bracket in candidates:
        denominator = size * bracket.mmr - side * size
        numerator = (
            wallet - other_maintenance + other_unrealized + bracket.cum - side * size * entry
        )
        price = numerator / denominator
        if price <= 0:
            return _ZERO
        if table.for_notional(size * price) is bracket:
            return price
    return _ZERO  # pragma: no cover - brackets cover every notional, one is consistent


def bankruptcy_price(amount: Decimal, entry: Decimal, margin: Decimal) -> Decimal:
    """Return the price at which a position's margin is used up (never below 0).

    Args:
        amount: Signed position amount.
        entry: Entry price.
        margin: The margin backing it (an isolated wallet).

    Returns:
        ``entry - margin / amount`` (long: below the entry; short: above).
    """
    return max(_ZERO, entry - margin / amount)
