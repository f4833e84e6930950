"""The live broker follows a perpetuals account: positions, wallet, funding, forced closes.

`PerpetualReconciler` is the spot `Reconciler` with the venue's positions (Binance USD-M:
``positionRisk``) and futures wallet in place of the asset balances:

* a settled check (no order in flight, the account read twice around booking the latest
  trades and funding, unchanged) compares the wallet with the portfolio's wallet balance and
  each traded symbol's signed position with the portfolio's; a difference found at two
  settled checks in a row is a divergence naming the symbol (or the asset), both figures
  and the difference; the portfolio then takes the venue's figures;
* funding the venue booked (income ``FUNDING_FEE``) since the run's last settled read is
  booked into the cash ledger and the portfolio's funding list, and journaled (record
  ``funding``), once each (by the venue's income id, or matched with the payment the stream
  pushed first: record ``funding_confirmed``); so is what a cross liquidation cleared from
  the wallet (``INSURANCE_CLEAR``, record ``insurance_clear``); on a restart, payments made
  while the process was down are journaled and listed once (their cash is in the wallet
  taken);
* a trade of no journaled order on a perpetual is looked up: the venue's liquidation
  (client id ``autoclose-...``, ADL ``adl_autoclose``) is booked as a forced close and
  journaled (record ``liquidation``), never reported as a stranger; any other is one.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from quantkit.brokers.live_perp_funding import BookedFunding, FundingLedger
from quantkit.brokers.live_reconcile import Reconciler
from quantkit.domain.venue_positions import VenueFunding, VenuePosition
from quantkit.errors import ReconciliationError

if TYPE_CHECKING:
    from quantkit.brokers.journal import JournalState
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker

__all__ = ["AccountSnapshot", "PerpetualReconciler", "PerpetualVenueReads"]

_log = structlog.get_logger("quantkit.live")
_FUNDING_MARGIN_MS = 60_000


class PerpetualVenueReads(Protocol):
    """The account reads a perpetuals venue offers (`CcxtPerpetualExchange` has them)."""

    async def positions(self, symbols: list[str] | None = None) -> dict[str, VenuePosition]:
        """The account's positions by symbol."""
        ...

    async def wallet_balance(self, asset: str) -> float:
        """The wallet balance of the margin asset (no unrealised P&L)."""
        ...

    async def funding_payments(
        self, symbol: str, since_ms: int | None = None
    ) -> list[VenueFunding]:
        """Funding paid or received since ``since_ms``, oldest first."""
        ...

    async def insurance_clearances(
        self, symbol: str, since_ms: int | None = None
    ) -> list[VenueFunding]:
        """What cross liquidations cleared from the wallet since ``since_ms``."""
        ...


AccountSnapshot = tuple[float, dict[str, VenuePosition]]
"""The wallet balance and the traded symbols' positions, as read together."""


class PerpetualReconciler(Reconciler):
    """`Reconciler` for a `PerpetualLiveBroker`: positions and wallet instead of balances."""

    _resumed_ms: int | None = None
    """On a restart: when the journal began (ms); ``None`` for a fresh journal."""

    @property
    def _broker(self) -> PerpetualLiveBroker:
        return self.sync.broker  # type: ignore[return-value]

    async def reconcile(self, state: JournalState) -> None:
        """Resume as for spot, knowing the forced closes and funding already journaled.

        Trades of no journaled order are looked up before the start completes: the venue's
        liquidations are booked, any other trade fails the start as for spot.

        Args:
            state: The replayed journal.

        Raises:
            ReconciliationError: If the account holds orders or trades (since the journal
                began) that the journal does not know and the venue did not place itself.
            TransientError: If the venue kept failing past the startup deadline.
        """
        broker = self._broker
        for record in broker.journal.records():
            if self._resumed_ms is None:
                self._resumed_ms = record.time // 1_000_000  # the journal's first record
            if record.kind == "liquidation":
                self.sync.trade_ids.add(str(record.data["trade_id"]))
            else:
                _restore_funding(broker.funding_ledger, record.kind, record.data)
        await super().reconcile(state)
        if not broker.lookups_pending:
            return
        await self.retrying(broker.look_up_forced, "forced closes")
        for symbol in broker.traded_symbols:
            book = functools.partial(self.sync.tracker.book_trades, symbol, latest=True)
            await self.retrying(book, "trades")
        if self.divergences:
            raise ReconciliationError(
                "the account holds trades this run's journal does not know; a second client "
                "may be trading it: " + "; ".join(d.detail for d in self.divergences)
            )

    async def snapshot(self) -> AccountSnapshot:
        """Read the wallet and the traded symbols' positions.

        Returns:
            The wallet balance and the positions (flat symbols as 0).
        """
        broker = self._broker
        symbols = list(broker.traded_symbols)
        positions = await broker.perp_venue.positions(symbols)
        wallet = await broker.perp_venue.wallet_balance(broker.currency)
        return wallet, positions

    async def refresh_balances(self, *, check: bool = True) -> bool:
        """Compare the venue's wallet and positions with the portfolio, then take the venue's.

        As the spot check (see `Reconciler.refresh_balances`), with funding booked before the
        reads; trades of no journaled order are looked up first (a liquidation is booked as
        the forced close it is), and a check that found a new one is not a settled check.

        Args:
            check: Compare first (``False`` on start: take the venue's figures as they are).

        Returns:
            Whether the portfolio now holds the venue's figures.
        """
        sync = self.sync
        sync.balances_behind = True
        if check and self._busy():
            return False
        broker = self._broker
        if broker.lookups_pending:  # unknown trades seen: forced closes are booked first
            await broker.look_up_forced()
        known = len(sync.orders)
        read_ms = time.time_ns() // 1_000_000
        if check:
            await self._book_funding()
        before = await self.snapshot()
        await self._book_latest()
        after = await self.snapshot()
        if check:
            changed = _amounts(before) != _amounts(after) or len(sync.orders) != known
            if changed or self._busy() or broker.lookups_pending:
                return False  # not settled: an unknown trade's order is still to be looked up
            if not self._confirmed(self._account_gaps(after)):
                return False
        self._take(after)
        if not check:  # on start: in the wallet taken already; listed at the venue's position
            await self._book_funding(known_only=True)
        self._settled_ms = read_ms
        return True

    def _account_gaps(self, snapshot: AccountSnapshot) -> list[tuple[str, float, float, float]]:
        broker = self._broker
        wallet, positions = snapshot
        local_wallet = broker.futures.wallet_balance()
        noise = self.safety.balance_tolerance * max(abs(wallet), abs(local_wallet))
        size = sum(abs(p.amount) for p in broker.portfolio.positions.values())
        slack = 1e-6 + 1e-8 * size + noise  # the venue books (and rounds entries) to 8 decimals
        gaps = []
        if abs(wallet - local_wallet) > slack:
            gaps.append((broker.currency, wallet, local_wallet, slack))
        for symbol in broker.traded_symbols:
            held = positions.get(symbol)
            venue = held.amount if held is not None else 0.0
            local = broker.portfolio.position(symbol).amount
            tolerance = broker.market(symbol).amount_increment / 2
            if abs(venue - local) > tolerance:
                gaps.append((symbol, venue, local, tolerance))
        return gaps

    def _confirmed(self, gaps: list[tuple[str, float, float, float]]) -> bool:
        """Report the gaps a previous settled check found as well; hold back new ones."""
        suspected, self._suspected = self._suspected, {subject for subject, *_ in gaps}
        if not self._suspected <= suspected:
            _log.info("account_gap_unconfirmed", subjects=sorted(self._suspected))
            return False
        self._suspected = set()
        for subject, venue, local, tolerance in gaps:
            if subject == self._broker.currency:
                kind, what = "balance", f"{subject} wallet balance"
            else:
                kind, what = "position", f"{subject} position (positionRisk)"
            self.diverged(
                kind,
                subject,
                venue=venue,
                local=local,
                detail=(
                    f"{what} on the venue {venue:.10g}, in the portfolio {local:.10g}: "
                    f"{venue - local:+.10g} the journal does not explain (beyond {tolerance:.3g})"
                ),
            )
        return True

    def _take(self, snapshot: AccountSnapshot) -> None:
        sync = self.sync
        sync.balances_behind = False
        sync.fee_slack.clear()
        wallet, positions = snapshot
        self._broker.take_account(wallet, positions)

    async def _book_funding(self, *, known_only: bool = False) -> None:
        """Book the funding the venue charged or paid since the last settled read.

        With ``known_only`` (on start, when the wallet about to be taken holds them) the
        cash is left alone: a fresh run only remembers the payments as booked; a resumed one
        journals and lists those since its journal's latest payment (or its first record)
        that it has no record of (paid while the process was down), once.
        """
        broker = self._broker
        ledger = broker.funding_ledger
        since = self._settled_ms - _FUNDING_MARGIN_MS
        resumed = self._resumed_ms is not None
        if known_only and self._resumed_ms is not None:  # from the latest payment journaled
            since = (ledger.latest_ms or self._resumed_ms) - _FUNDING_MARGIN_MS
        venue = broker.perp_venue
        for symbol in broker.traded_symbols:
            for payment in await venue.funding_payments(symbol, since):
                if known_only and not resumed:
                    ledger.ids.add(payment.funding_id)
                else:
                    broker.book_funding(payment, in_wallet=known_only)
            for clearance in await venue.insurance_clearances(symbol, since):
                if known_only:
                    ledger.ids.add(clearance.funding_id)
                else:
                    broker.book_clearance(clearance)

    async def check_account(self) -> None:
        """One periodic check: forced closes looked up, then the spot check's steps."""
        await self._broker.look_up_forced()
        await super().check_account()


def _amounts(snapshot: AccountSnapshot) -> tuple[float, dict[str, float]]:
    wallet, positions = snapshot
    return wallet, {s: p.amount for s, p in positions.items() if not math.isclose(p.amount, 0)}


def _restore_funding(ledger: FundingLedger, kind: str, data: Mapping[str, Any]) -> None:
    """Take a journaled payment, confirmation or clearance back into the ledger."""
    if kind == "insurance_clear":
        ledger.ids.add(str(data["funding_id"]))
        return
    if kind not in ("funding", "funding_confirmed"):
        return
    funding_id, symbol = str(data.get("funding_id") or ""), str(data["symbol"])
    amount, time_ms = float(data["amount"]), int(data["time"]) // 1_000_000
    if kind == "funding_confirmed":
        ledger.confirm(funding_id, symbol, amount, time_ms)
    else:
        streamed = data.get("source") == "stream"
        ledger.restore(BookedFunding(symbol, amount, time_ms, funding_id, streamed))
