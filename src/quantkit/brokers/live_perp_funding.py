"""Which funding payments the live perpetual broker has booked, however it learnt of them.

A payment reaches the broker by two roads: the user-data stream pushes it as it happens
(``ACCOUNT_UPDATE`` reason ``FUNDING_FEE``: the amount and the time, no income id, and for a
cross position no symbol), and the income history lists it (``FUNDING_FEE`` with its id) at
the next account check. `FundingLedger` makes each payment count once whichever road comes
first: a payment seen on one road is matched on the other by symbol, amount (to the venue's
8 decimals) and time within `MATCH_WINDOW_MS`. Two payments of one symbol cannot be that
close: a funding interval is an hour or more.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MATCH_WINDOW_MS", "BookedFunding", "FundingLedger"]

MATCH_WINDOW_MS = 60_000
"""How far apart the stream's and the income history's times of one payment may be (ms)."""

_AMOUNT_TOLERANCE = 5e-9  # the venue states amounts to 8 decimals on both roads


@dataclass(slots=True)
class BookedFunding:
    """One booked payment.

    Attributes:
        symbol: Unified market symbol.
        amount: What the account received (negative: paid).
        time_ms: The venue's time of it (ms).
        funding_id: Its income id, ``""`` until the income history listed it.
        streamed: Whether the stream told of it.
    """

    symbol: str
    amount: float
    time_ms: int
    funding_id: str = ""
    streamed: bool = False

    def same(self, symbol: str, amount: float, time_ms: int) -> bool:
        """Whether a payment seen on the other road is this one."""
        return (
            self.symbol == symbol
            and abs(self.amount - amount) <= _AMOUNT_TOLERANCE
            and abs(self.time_ms - time_ms) <= MATCH_WINDOW_MS
        )


class FundingLedger:
    """The payments booked, by income id and by what the stream said (see the module)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        """Income ids of the payments booked, matched or in the wallet on start."""
        self.booked: list[BookedFunding] = []
        self.pushes = 0
        """How many pushed payments were read (booked now or already)."""

    def known(self, funding_id: str) -> bool:
        """Whether the income entry ``funding_id`` is booked already."""
        return funding_id in self.ids

    def listed(self, funding_id: str, symbol: str, amount: float, time_ms: int) -> bool:
        """Note an income entry; return whether the stream booked it already.

        Args:
            funding_id: Its income id (not `known`).
            symbol: Unified symbol.
            amount: Amount received (negative: paid).
            time_ms: Its time (ms).

        Returns:
            ``True`` if it matched a payment booked from the stream (now confirmed), else
            ``False`` (it is recorded as booked now: the caller books it).
        """
        self.ids.add(funding_id)
        for entry in self.booked:
            if not entry.funding_id and entry.same(symbol, amount, time_ms):
                entry.funding_id = funding_id
                return True
        self.booked.append(BookedFunding(symbol, amount, time_ms, funding_id))
        return False

    def streamed(self, symbol: str, amount: float, time_ms: int) -> bool:
        """Note a payment the stream pushed; return whether it was booked already.

        Args:
            symbol: Unified symbol.
            amount: Amount received (negative: paid).
            time_ms: The venue's time of it (ms).

        Returns:
            ``True`` if the income history (or an earlier push) booked it already, else
            ``False`` (it is recorded as booked now: the caller books it).
        """
        self.pushes += 1
        for entry in self.booked:
            if entry.same(symbol, amount, time_ms):  # listed already, or pushed twice
                entry.streamed = True
                return True
        self.booked.append(BookedFunding(symbol, amount, time_ms, streamed=True))
        return False

    def unattributed(self) -> None:
        """Note a pushed payment that names no symbol the run can book (the poll books it)."""
        self.pushes += 1

    def restore(self, entry: BookedFunding) -> None:
        """Take back a payment from the journal (on restart)."""
        if entry.funding_id:
            self.ids.add(entry.funding_id)
        self.booked.append(entry)

    def confirm(self, funding_id: str, symbol: str, amount: float, time_ms: int) -> None:
        """Take back from the journal that an income entry confirmed a streamed payment."""
        self.listed(funding_id, symbol, amount, time_ms)

    @property
    def latest_ms(self) -> int | None:
        """The time of the latest payment booked, if any (ms)."""
        return max((e.time_ms for e in self.booked), default=None)
