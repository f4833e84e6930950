"""The live perpetual broker follows the account's user-data stream: funding and forced closes.

`AccountStream` runs two tasks beside the spot broker's trade stream: one waits for the wallet
changes the venue pushes (Binance USD-M: ``ACCOUNT_UPDATE``; funding as reason
``FUNDING_FEE``) and one for the fills of orders (``ORDER_TRADE_UPDATE``; the venue's
liquidations as ``autoclose-`` orders). Each hands what arrives to the broker under the books'
lock, so pushed news is booked between poll rounds, never inside one. The polls stay the
backstop: a push that is lost (a reconnect, an update while no call waited) is booked from the
income history and the trade list at the next account check, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio
import structlog

from quantkit.domain.venue import VenueOrder, VenueTrade
from quantkit.domain.venue_positions import VenueBalanceChange
from quantkit.errors import ExchangeError, TransientError

if TYPE_CHECKING:
    from quantkit.brokers.live_perpetual import PerpetualLiveBroker

__all__ = ["AccountStream", "PerpetualVenueStream"]

_log = structlog.get_logger("quantkit.live")
_T = TypeVar("_T")


class PerpetualVenueStream(Protocol):
    """What a perpetuals venue pushes (`CcxtPerpetualExchange` has it)."""

    async def watch_balance_changes(self) -> list[VenueBalanceChange]:
        """Wait for the next pushed wallet changes (funding, ...)."""
        ...

    async def watch_order_fills(self) -> list[tuple[VenueOrder, VenueTrade]]:
        """Wait for the next pushed fills of any order, the venue's own included."""
        ...


class AccountStream:
    """The two stream tasks of a `PerpetualLiveBroker` (see the module docstring).

    Args:
        broker: The started broker.
    """

    def __init__(self, broker: PerpetualLiveBroker) -> None:
        self.broker = broker

    async def funding_loop(self) -> None:
        """Book pushed funding as it arrives (ends if the venue has no such stream)."""
        venue = self.broker.perp_venue
        await self._follow("balance", venue.watch_balance_changes, self.broker.take_changes)

    async def fills_loop(self) -> None:
        """Book pushed forced closes as they arrive (ends if the venue has no such stream)."""
        venue = self.broker.perp_venue
        await self._follow("orders", venue.watch_order_fills, self.broker.take_fills)

    async def _follow(
        self,
        name: str,
        watch: Callable[[], Awaitable[Sequence[_T]]],
        take: Callable[[Sequence[_T]], None],
    ) -> None:
        broker = self.broker
        sync, policy = broker.sync, broker.retry
        failures = 0
        while not sync.tracker.stopped:
            try:
                items = await watch()
            except ExchangeError as exc:
                if exc.reason == "not_supported":
                    _log.info("account_stream_unavailable", stream=name, error=str(exc))
                    return
                raise
            except TransientError as exc:  # nothing is replayed: a poll catches up
                failures += 1
                _log.warning("account_stream_reconnect", stream=name, error=str(exc))
                sync.poke()
                await anyio.sleep(policy.delay(min(failures, policy.max_attempts)))
                continue
            failures = 0
            if not items:
                continue
            async with sync.books:
                if sync.tracker.stopped:  # the final poll settled everything from the venue
                    return
                take(items)
