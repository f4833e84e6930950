"""What the local USD-M venue tells its listeners (the user-data stream) as it happens.

`FuturesAccounts` calls each listener synchronously, under its lock, with an event that already
holds the rendered snapshot, so a listener may send it later from another thread unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["VenueEvent", "VenueListener"]


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """One user-data event of an account, in Binance USD-M's wire shape.

    Attributes:
        api_key: The account's API key (never sent to clients).
        payload: The JSON-ready event (``ORDER_TRADE_UPDATE`` or ``ACCOUNT_UPDATE``).
    """

    api_key: str
    payload: Mapping[str, Any]


VenueListener = Callable[[VenueEvent], None]
"""Something that hears of the venue's events."""
