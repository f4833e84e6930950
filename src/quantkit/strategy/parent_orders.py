"""Parent orders from a strategy: ``self.twap``, ``self.iceberg``, ``self.participate``."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from quantkit.algos.parent import ParentOrder
from quantkit.algos.specs import IcebergSpec, ParentSpec, ParticipationSpec, TwapSpec
from quantkit.domain.order import Side
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, OrderError, UsageError

if TYPE_CHECKING:
    from quantkit.strategy.context import StrategyContext
    from quantkit.strategy.data import SymbolData

__all__ = ["ParentOrders"]

Duration = str | int | datetime.timedelta
"""A length of time: ``"4h"``, nanoseconds, or a `datetime.timedelta`."""


def _duration(owner: str, value: Duration) -> int:
    if isinstance(value, datetime.timedelta):
        ns = round(value.total_seconds() * 1e9)
        if ns <= 0:
            raise OrderError(f"{owner}: horizon must be positive, got {value!r}")
        return ns
    try:
        return parse_timeframe(value)
    except ConfigError as exc:
        raise OrderError(f"{owner}: horizon: {exc}") from exc


def _side(owner: str, side: Side | str) -> Side:
    try:
        return Side(side)
    except ValueError:
        raise OrderError(f"{owner}: side must be 'buy' or 'sell', got {side!r}") from None


class ParentOrders:
    """The parent-order methods of `Strategy` (a mixin; see ``docs/execution-algorithms.md``).

    Each returns a `ParentOrder` handle at once; its children are ordinary orders (tagged
    ``algo:<parent id>``) whose fills reach `on_fill` like any order's.
    """

    _ctx: StrategyContext
    _primary: SymbolData

    def twap(
        self,
        side: Side | str,
        amount: float,
        *,
        horizon: Duration,
        slices: int,
        symbol: str | None = None,
        limit_offset: float | None = None,
        limit: float | None = None,
        time_jitter: float = 0.0,
        size_jitter: float = 0.0,
        seed: int | None = None,
    ) -> ParentOrder:
        """Trade ``amount`` over ``horizon`` in ``slices`` slices (time-weighted).

        Slice ``k`` is due at the first bar close at or after ``start + k * horizon /
        slices``; each places what the schedule has due by then minus what filled and what
        still works (so a skipped or unfilled slice is caught up by the next one).

        Args:
            side: ``"buy"`` or ``"sell"``.
            amount: Total amount in base currency.
            horizon: Length of the schedule (``"4h"``, ns or a timedelta).
            slices: Number of slices.
            symbol: Market symbol (default: the primary symbol).
            limit_offset: ``None``: market children; else limit children priced this fraction
                better than the latest close, canceled when the next slice is due.
            limit: Price beyond which a due slice is skipped (above it for buys).
            time_jitter: Moves each slice later by up to this fraction of the interval.
            size_jitter: Varies each slice's weight by up to this fraction.
            seed: Seed of the jitter (drawn and kept if not given).

        Returns:
            The parent handle.

        Raises:
            OrderError: If a value is invalid or the symbol unknown.
        """
        spec = TwapSpec(_duration("twap", horizon), slices, limit_offset, limit, time_jitter,
                        size_jitter, seed)  # fmt: skip
        return self._start_parent("twap", side, amount, spec, symbol)

    def iceberg(
        self,
        side: Side | str,
        amount: float,
        *,
        display: float,
        limit: float,
        symbol: str | None = None,
        display_jitter: float = 0.0,
        seed: int | None = None,
    ) -> ParentOrder:
        """Trade ``amount`` at ``limit`` showing ``display`` at a time.

        One limit child works at a time; when it has filled, the next (``display``, or the
        rest) is placed at the following bar close.

        Args:
            side: ``"buy"`` or ``"sell"``.
            amount: Total amount in base currency.
            display: Visible size of each slice.
            limit: Limit price.
            symbol: Market symbol (default: the primary symbol).
            display_jitter: Varies each slice's size by up to this fraction of ``display``.
            seed: Seed of the jitter.

        Returns:
            The parent handle.

        Raises:
            OrderError: If a value is invalid or the symbol unknown.
        """
        spec = IcebergSpec(display, limit, display_jitter, seed)
        return self._start_parent("iceberg", side, amount, spec, symbol)

    def participate(
        self,
        side: Side | str,
        amount: float,
        *,
        rate: float,
        max_slice: float | None = None,
        limit: float | None = None,
        horizon: Duration | None = None,
        symbol: str | None = None,
    ) -> ParentOrder:
        """Trade ``amount`` as a fraction ``rate`` of each bar's traded volume.

        At each bar close after the start, a market child of ``rate`` x that bar's volume
        (at most ``max_slice`` and the rest) is placed; it fills in the next bar.

        Args:
            side: ``"buy"`` or ``"sell"``.
            amount: Total amount in base currency.
            rate: Fraction of each bar's volume, in (0, 1].
            max_slice: Largest child.
            limit: Price beyond which a bar is skipped.
            horizon: If given, the parent ends this long after its start.
            symbol: Market symbol (default: the primary symbol).

        Returns:
            The parent handle.

        Raises:
            OrderError: If a value is invalid or the symbol unknown.
        """
        ns = None if horizon is None else _duration("participate", horizon)
        spec = ParticipationSpec(rate, max_slice, limit, ns)
        return self._start_parent("participate", side, amount, spec, symbol)

    def cancel_parent(self, parent: ParentOrder) -> None:
        """Stop a parent order and cancel its working child (nothing if it ended).

        Raises:
            UsageError: If ``parent`` is not a parent handle.
        """
        self._ctx.algos.cancel(_checked("cancel_parent", parent))

    def amend_parent(
        self, parent: ParentOrder, *, amount: float | None = None, limit: float | None = None
    ) -> None:
        """Give a working parent a new total and/or limit; its working child follows.

        Raises:
            OrderError: If the parent ended or a value is invalid.
            UsageError: If ``parent`` is not a parent handle.
        """
        self._ctx.algos.amend(_checked("amend_parent", parent), amount=amount, limit=limit)

    @property
    def parent_orders(self) -> tuple[ParentOrder, ...]:
        """Every parent order of the run, oldest first (a live restart's resumed ones too)."""
        return tuple(self._ctx.algos.parents)

    def _start_parent(
        self, owner: str, side: Side | str, amount: float, spec: ParentSpec, symbol: str | None
    ) -> ParentOrder:
        return self._ctx.algos.start(
            symbol or self._primary.symbol, _side(owner, side), amount, spec
        )


def _checked(method: str, parent: object) -> ParentOrder:
    if not isinstance(parent, ParentOrder):
        raise UsageError(
            f"{method}() takes the ParentOrder that twap(), iceberg() or participate() "
            f"returned, got {type(parent).__name__} {parent!r}"
        )
    return parent
