"""Round-trip trades rebuilt from fills: flat to flat, a reversal closes one and opens another."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from quantkit.domain.amounts import SNAP_RTOL
from quantkit.domain.fill import Fill
from quantkit.domain.order import Side

__all__ = ["Trade", "round_trips"]

_EPS = SNAP_RTOL  # as `Position.apply` and the fast path's `_book`
_BUY = Side.BUY


@dataclass(slots=True)
class Trade:
    """One round trip in one symbol.

    Attributes:
        symbol: Market symbol.
        direction: ``"long"`` or ``"short"``.
        entry_time: Time of the first entry fill, ns.
        exit_time: Time of the fill that made the position flat, ns (``-1`` while open).
        size: Largest absolute amount held during the trade.
        entry_value: Sum of entry fills' notional.
        entry_amount: Sum of entry fills' amounts.
        exit_value: Sum of exit fills' notional.
        exit_amount: Sum of exit fills' amounts.
        fees: Fees of every fill of the trade (a reversal fill's fee is split pro rata).
        ambiguous: Whether a fill of the trade rested on an intrabar-ordering assumption.
        client_ids: Client ids of the trade's orders.
    """

    symbol: str
    direction: str
    entry_time: int
    exit_time: int = -1
    size: float = 0.0
    entry_value: float = 0.0
    entry_amount: float = 0.0
    exit_value: float = 0.0
    exit_amount: float = 0.0
    fees: float = 0.0
    ambiguous: bool = False
    client_ids: list[str] = field(default_factory=list)

    @property
    def entry_price(self) -> float:
        """Average entry price."""
        return self.entry_value / self.entry_amount if self.entry_amount else float("nan")

    @property
    def exit_price(self) -> float:
        """Average exit price (``nan`` while open)."""
        return self.exit_value / self.exit_amount if self.exit_amount else float("nan")

    @property
    def pnl(self) -> float:
        """Profit after fees of the closed part (quote currency)."""
        sign = 1.0 if self.direction == "long" else -1.0
        closed = min(self.exit_amount, self.entry_amount)
        gross = sign * (self.exit_value - self.entry_price * closed) if closed else 0.0
        return gross - self.fees

    @property
    def return_pct(self) -> float:
        """``pnl`` as a percentage of the closed amount's entry value."""
        basis = self.entry_price * self.exit_amount
        return 100.0 * self.pnl / basis if basis else float("nan")


def _note_order(trade: Trade, client_id: str) -> None:
    ids = trade.client_ids
    if not ids or ids[-1] != client_id:
        ids.append(client_id)


def _dust_trade(symbol: str, held: float, carried: dict[str, float], at: int) -> Trade:
    """A trade holding the dust a closed trade left (``carried``: its entry price)."""
    trade = Trade(symbol, "long" if held > 0 else "short", at)
    trade.entry_amount = abs(held)
    trade.entry_value = abs(held) * carried.pop(symbol, 0.0)
    trade.size = abs(held)
    return trade


def _fee_in_base(cache: dict[tuple[str, str], bool], fill: Fill) -> bool:
    """``fill.fee_in_base``, worked out once per fee currency and symbol."""
    key = (fill.fee_currency, fill.symbol)
    known = cache.get(key)
    if known is None:
        known = cache[key] = fill.fee_in_base
    return known


def round_trips(
    fills: Iterable[Fill],
    ambiguous_orders: frozenset[str] = frozenset(),
    dust_below: Mapping[str, float] | None = None,
    *,
    on_close: Callable[[Trade], None] | None = None,
) -> tuple[list[Trade], list[Trade]]:
    """Group fills into round trips.

    A fill that reduces the position to dust (below ``dust_below[symbol]``: what a fee in the
    base asset leaves after the holding is sold, rounded down to the step) closes the trade;
    the dust joins the next trade on that symbol at its entry price.

    Args:
        fills: Fills in execution order.
        ambiguous_orders: Client ids whose outcome rested on an intrabar assumption.
        dust_below: Per symbol, the smallest tradable amount (default: none).
        on_close: Called with each trade as it closes, instead of keeping it in ``closed``
            (a long run's result then never holds one object per trade).

    Returns:
        ``(closed, still_open)`` trades, each in entry order (``closed`` is empty when
        ``on_close`` takes them).
    """
    dust = dust_below or {}
    carried: dict[str, float] = {}  # entry price of the dust a closed trade left
    held: dict[str, float] = {}
    current: dict[str, Trade] = {}
    closed: list[Trade] = []
    finish = closed.append if on_close is None else on_close
    in_base: dict[tuple[str, str], bool] = {}  # fill.fee_in_base by (fee currency, symbol)
    for fill in fills:
        symbol, amount, price, client_id = fill.symbol, fill.amount, fill.price, fill.client_id
        before = held.get(symbol, 0.0)
        signed = amount if fill.side is _BUY else -amount  # fill.signed_amount
        fee = fill.fee
        if fee and _fee_in_base(in_base, fill):
            signed -= fee  # charged in the base asset received: the position moved less
            fee *= price
        moved = abs(signed)
        after = before + signed
        if abs(after) <= _EPS * max(abs(before), moved):  # relative: tiny trades still count
            after = 0.0
        flagged = fill.ambiguous or client_id in ambiguous_orders
        reverses = before != 0.0 and after != 0.0 and (before > 0) != (after > 0)
        same_way = before == 0.0 or (before > 0) == (signed > 0)
        closing = 0.0 if same_way else abs(before) if reverses else min(moved, abs(before))
        opening = moved - closing
        if symbol in carried and symbol not in current:
            current[symbol] = _dust_trade(symbol, before, carried, fill.timestamp)
        if closing > 0.0:
            trade = current[symbol]
            trade.exit_value += closing * price
            trade.exit_amount += closing
            trade.fees += fee * closing / moved
            trade.ambiguous |= flagged
            _note_order(trade, client_id)
            if after == 0.0 or reverses or abs(after) < dust.get(symbol, 0.0):
                trade.exit_time = fill.timestamp
                finish(current.pop(symbol))
                if after != 0.0 and not reverses:
                    carried[symbol] = trade.entry_price
        if opening > _EPS * moved:
            opened = current.get(symbol)
            if opened is None:
                direction = "long" if signed > 0 else "short"
                opened = current[symbol] = Trade(symbol, direction, fill.timestamp)
            opened.entry_value += opening * price
            opened.entry_amount += opening
            opened.fees += fee * opening / moved
            opened.ambiguous |= flagged
            _note_order(opened, client_id)
            opened.size = max(opened.size, abs(after))
        held[symbol] = after
    return closed, list(current.values())
