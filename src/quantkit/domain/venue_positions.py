"""What a derivatives venue reports about positions and funding, as quantkit values.

Adapters parse the venue's position and income payloads (Binance USD-M ``positionRisk`` and
``income``) into these at the edge; the live broker reconciles its perpetual positions and books
funding from them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VenueBalanceChange", "VenueFunding", "VenuePosition"]


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """One perpetual position as the venue reports it (one-way mode).

    Attributes:
        symbol: Unified market symbol, e.g. ``"BTC/USDT:USDT"``.
        amount: Signed size in contracts: > 0 long, < 0 short, 0 flat.
        entry_price: Average entry price (0 when flat).
        mark_price: The venue's mark price.
        unrealized_pnl: Unrealised P&L at the mark, settle currency.
        liquidation_price: The venue's liquidation price (0 when none).
        initial_margin: Initial margin of the position at the mark.
        maintenance_margin: Maintenance margin at the mark.
        margin_mode: ``"isolated"`` or ``"cross"``.
        isolated_wallet: Isolated wallet balance (0 for cross).
        timestamp: Last update time, ns since the epoch.
    """

    symbol: str
    amount: float
    entry_price: float
    mark_price: float
    unrealized_pnl: float
    liquidation_price: float
    initial_margin: float
    maintenance_margin: float
    margin_mode: str
    isolated_wallet: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class VenueFunding:
    """One funding payment booked by the venue.

    Attributes:
        funding_id: The venue's id of the income entry (unique per account).
        symbol: Unified market symbol.
        amount: What the account received (negative: paid), in ``currency``.
        currency: The margin asset.
        timestamp: Funding time, ns since the epoch.
    """

    funding_id: str
    symbol: str
    amount: float
    currency: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class VenueBalanceChange:
    """A wallet change the venue pushed on its user-data stream (not a trade's P&L or fee).

    Binance USD-M pushes one ``ACCOUNT_UPDATE`` per change, with its reason (``m``) and the
    balance change (``bc``); it carries no income id, and for a cross position's funding no
    symbol either.

    Attributes:
        reason: The venue's reason, e.g. ``"FUNDING_FEE"`` or ``"INSURANCE_CLEAR"``.
        symbol: Unified market symbol, ``""`` when the venue did not say which.
        amount: What the wallet received (negative: paid), in ``currency``.
        currency: The margin asset.
        timestamp: The venue's transaction time, ns since the epoch.
    """

    reason: str
    symbol: str
    amount: float
    currency: str
    timestamp: int
