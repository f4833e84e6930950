"""A stop for the rest of a venue OCO's take-profit that fills in parts.

Binance expires an OCO list's stop-loss leg as soon as its take-profit leg starts to execute
(activating one leg cancels the other), so a take-profit that fills in parts leaves what it has
not sold yet with no stop at all: a crash of the price after the first part would find nothing
to sell the rest. `RestGuards` closes that gap inside the broker: after each part of such a leg
it holds a stop-only bracket for the leg's rest (``<list>-rest``, at the list's stop price,
journaled and restored like any held bracket, resized after each part, dropped when the leg
ends). When a closed bar reaches the stop, the exit (``<list>-rest-sl``) first cancels the leg
(the venue locks the rest for it) and goes out once the venue has ended it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantkit.brokers.live_held import HeldBracket
from quantkit.domain.bracket import BracketLevels

if TYPE_CHECKING:
    from quantkit.brokers.live_brackets import LiveBrackets
    from quantkit.domain.order import Order

__all__ = ["RestGuards"]

_REST = "-rest"


def _prefix(tp: Order) -> str:
    return tp.client_id[: -len("-tp")]


class RestGuards:
    """The stops a `LiveBrackets` holds for partly filled take-profit legs.

    Args:
        brackets: The brackets of the broker (held brackets, journal, orders).
    """

    def __init__(self, brackets: LiveBrackets) -> None:
        self.brackets = brackets

    def on_trade(self, tp: Order) -> None:
        """Hold (or resize) the stop for what the still working ``tp`` leg has not sold.

        Args:
            tp: A venue OCO's take-profit leg that just traded and still works.
        """
        broker = self.brackets.broker
        sl = broker.sync.orders.get(f"{_prefix(tp)}-sl")
        rest = broker.market(tp.symbol).round_amount((tp.amount or 0.0) - tp.filled)
        if sl is None or sl.request.stop_price is None or rest <= 0:
            return
        self._drop(tp, journal=False)  # the new record replaces it (the latest one counts)
        levels = BracketLevels(tp.side, sl.request.stop_price, None)
        self.brackets.hold(HeldBracket(_prefix(tp) + _REST, tp.symbol, levels, rest))

    def on_closed(self, tp: Order) -> None:
        """Drop the stop of a take-profit leg that ended (filled, canceled or expired).

        Args:
            tp: The leg.
        """
        self._drop(tp, journal=True)

    def _drop(self, tp: Order, *, journal: bool) -> None:
        rest_id = _prefix(tp) + _REST
        held = self.brackets.held.get(tp.symbol, [])
        for bracket in [b for b in held if b.entry_id == rest_id]:
            held.remove(bracket)
            if journal:
                self.brackets.journal.append("bracket_done", {"client_id": rest_id, "role": ""})

    def prune(self) -> int:
        """Drop restored rest stops whose leg ended while the broker was down (after a restart).

        Returns:
            How many were dropped.
        """
        orders = self.brackets.broker.sync.orders
        dropped = 0
        for held in self.brackets.held.values():
            for bracket in [b for b in held if b.entry_id.endswith(_REST)]:
                leg = orders.get(bracket.entry_id[: -len(_REST)] + "-tp")
                if leg is None or not leg.is_active:
                    held.remove(bracket)
                    done = {"client_id": bracket.entry_id, "role": ""}
                    self.brackets.journal.append("bracket_done", done)
                    dropped += 1
        return dropped

    def waits_for(self, exit_order: Order) -> Order | None:
        """The working take-profit leg a triggered rest stop must cancel first, if any.

        Args:
            exit_order: An exit the broker submitted for a held bracket.

        Returns:
            The leg, or ``None`` when ``exit_order`` is not a rest stop or the leg has ended.
        """
        suffix = _REST + "-sl"
        if not exit_order.client_id.endswith(suffix):
            return None
        leg = self.brackets.broker.sync.orders.get(exit_order.client_id[: -len(suffix)] + "-tp")
        return leg if leg is not None and leg.is_active else None
