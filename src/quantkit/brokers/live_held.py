"""A bracket the live broker holds itself, and the venue order of one bracket exit.

`HeldBracket` is the value `LiveBrackets` keeps (and journals) for a bracket it triggers from
closed bars instead of a venue OCO list: its levels, the amount an exit sells, and its trailing
stop if any. `exit_request` builds the venue order of one exit of a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quantkit.domain.bracket import BracketLevels
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.domain.trailing import TrailingStop

__all__ = ["HeldBracket", "exit_request"]


@dataclass(frozen=True, slots=True)
class HeldBracket:
    """A bracket the broker holds itself and triggers from closed bars.

    Attributes:
        entry_id: Client id of the entry it protects.
        symbol: Market symbol.
        levels: Side and prices of the exits.
        amount: Base amount an exit sells (or buys back).
        trail_pct: Trailing stop distance, or ``None`` without a trailing stop.
        trail: Where the trailing stop stands, ``None`` until the first bar closes.
    """

    entry_id: str
    symbol: str
    levels: BracketLevels
    amount: float
    trail_pct: float | None = None
    trail: TrailingStop | None = None

    def as_json(self) -> dict[str, Any]:
        """The journaled form (see `from_json`)."""
        data: dict[str, Any] = {
            "client_id": self.entry_id,
            "symbol": self.symbol,
            "side": self.levels.side.value,
            "stop_loss": self.levels.stop_loss,
            "take_profit": self.levels.take_profit,
            "amount": self.amount,
            "mode": "held",
        }
        if self.trail_pct is not None:
            data["trail_pct"] = self.trail_pct
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeldBracket:
        """Rebuild a held bracket from its journal record (and its latest trailing level)."""
        levels = BracketLevels(Side(data["side"]), data["stop_loss"], data["take_profit"])
        pct, trail = data.get("trail_pct"), data.get("trail")
        return cls(
            str(data["client_id"]),
            str(data["symbol"]),
            levels,
            float(data["amount"]),
            None if pct is None else float(pct),
            None if trail is None else TrailingStop.from_json(trail),
        )

    def exit_hit(self, low: float, high: float) -> str:
        """Which exit a closed bar's range reached: ``"sl"``, ``"trail"``, ``"tp"`` or ``""``.

        The stops come first (the backtest's adverse rule); the trailing stop's level is the
        one set at the previous close, never one computed from this bar.
        """
        role = self.levels.hit(low, high)
        if role != "sl" and self.trail is not None and self.trail.hit(low, high):
            return "trail"
        return role


def exit_request(symbol: str, side: Side, amount: float, role: str, price: float) -> OrderRequest:
    """The venue order of one exit: a stop-market (``"sl"``) or a limit (``"tp"``)."""
    if role == "sl":
        return OrderRequest(
            symbol, side, OrderType.STOP, amount=amount, stop_price=price, tag="stop_loss"
        )
    return OrderRequest(
        symbol, side, OrderType.LIMIT, amount=amount, limit_price=price, tag="take_profit"
    )
