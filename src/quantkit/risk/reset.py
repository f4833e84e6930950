"""The Breaker base class: halt state, reduce-only gate, flattening, and the reset rules.

A halt is lifted by hand, on the next UTC day, or after N bars.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

import structlog

from quantkit.domain.order import OrderRequest, Side
from quantkit.domain.portfolio import Portfolio
from quantkit.errors import ConfigError
from quantkit.risk.policy import Decision, RiskAction, RiskContext, ScreenedPolicy
from quantkit.risk.quiet import QuietBand

__all__ = ["DAY_NS", "Breaker", "ResetKind", "ResetRule", "flatten_orders", "utc_day"]

_log = structlog.get_logger("quantkit.risk")

ResetKind = Literal["manual", "next_day", "cooldown"]
"""How a halted breaker resumes: ``"manual"``, ``"next_day"`` or ``"cooldown"``."""

DAY_NS = 86_400_000_000_000
"""One UTC day in nanoseconds."""

_KINDS: tuple[str, ...] = get_args(ResetKind)
_APPROVE = RiskAction.APPROVE
_EPOCH = dt.date(1970, 1, 1)


def utc_day(now: int) -> int:
    """The UTC day of ``now`` as whole days since the epoch (``now`` in ns, a bar close time).

    A bar that closes exactly at midnight belongs to the day that begins then.
    """
    return now // DAY_NS


@dataclass(frozen=True, slots=True)
class ResetRule:
    """The rule that lifts a breaker's halt.

    - ``manual``: only ``Breaker.reset()`` resumes.
    - ``next_day``: the first bar whose close time falls on a later UTC day than the trip.
    - ``cooldown``: the ``bars``-th bar after the tripping bar (``bars >= 1``).

    ``Breaker.reset()`` resumes under every rule.

    Attributes:
        kind: ``"manual"``, ``"next_day"`` or ``"cooldown"``.
        bars: The cooldown length in bars (0 unless ``kind == "cooldown"``).

    Examples:
        >>> ResetRule.parse(None, 3, default="manual", owner="MyBreaker")
        ResetRule(kind='cooldown', bars=3)
        >>> ResetRule.parse("next_day", None, default="manual", owner="MyBreaker").kind
        'next_day'
    """

    kind: ResetKind
    bars: int = 0

    @classmethod
    def parse(
        cls, reset: str | None, cooldown: int | None, *, default: ResetKind, owner: str
    ) -> ResetRule:
        """Validate a breaker's ``reset=`` and ``cooldown=`` arguments into a rule.

        Args:
            reset: ``"manual"``, ``"next_day"``, ``"cooldown"``, or ``None`` for ``"cooldown"``
                when ``cooldown`` is given and ``default`` otherwise.
            cooldown: Bars to wait after a trip (only with the cooldown rule).
            default: The rule when neither argument is given.
            owner: Component name for error messages.

        Returns:
            The rule.

        Raises:
            ConfigError: If ``reset`` is not a known rule, ``cooldown`` is not an integer
                >= 1, the cooldown rule lacks ``cooldown``, or ``cooldown`` comes with
                another rule.
        """
        if cooldown is not None and (
            isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 1
        ):
            raise ConfigError(
                f"{owner}: cooldown must be a whole number of bars >= 1, got {cooldown!r}"
            )
        if reset is None:
            reset = "cooldown" if cooldown is not None else default
        if reset not in _KINDS:
            close = difflib.get_close_matches(str(reset), _KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{owner}: reset must be one of {', '.join(map(repr, _KINDS))}, got {reset!r}{hint}"
            )
        if reset == "cooldown":
            if cooldown is None:
                raise ConfigError(f"{owner}: reset='cooldown' needs cooldown=<bars>")
            return cls("cooldown", cooldown)
        if cooldown is not None:
            raise ConfigError(
                f"{owner}: cooldown={cooldown} only applies to reset='cooldown', not {reset!r}"
            )
        return cls("next_day" if reset == "next_day" else "manual")

    def due(self, trip_time: int, bars_since_trip: int, now: int) -> str:
        """Say why trading may resume now, or ``""`` if the halt goes on.

        Args:
            trip_time: Close time of the bar that tripped the breaker, ns.
            bars_since_trip: Bars seen since that bar (1 on the next bar).
            now: Close time of the current bar, ns.

        Returns:
            The resume reason, or an empty string.
        """
        if self.kind == "cooldown":
            if bars_since_trip >= self.bars:
                return f"cooldown of {self.bars} bar{'s' if self.bars != 1 else ''} over"
            return ""
        if self.kind == "next_day" and utc_day(now) > utc_day(trip_time):
            day = _EPOCH + dt.timedelta(days=utc_day(now))
            return f"new UTC day {day.isoformat()}"
        return ""


class Breaker(ScreenedPolicy):
    """Base class of circuit breakers: halt on a condition, resume by a reset rule. Subclass it.

    A subclass only says when to trip, in `evaluate`. The base class does the rest:

    - once per bar (``on_bar``) it first applies the reset rule if halted, then, if trading,
      asks `evaluate`; a non-empty answer trips the breaker: a ``HALT`` event is recorded
      with ``context.record`` and, with ``flatten=True``, reduce-only market orders closing
      every open position are returned (the engine places them at once, without risk checks);
    - while halted, ``check`` rejects every order that does not reduce a position, with the
      reason ``"halted by <name>: <why>"``; orders that reduce (``reduce_only``, or the
      opposite side for at most the position held) pass;
    - the reset rule (``reset="manual"``, ``"next_day"``, or ``cooldown=N`` bars; see
      `ResetRule`) lifts the halt and records a ``RESUME`` event; `reset` lifts it under any
      rule, its ``RESUME`` event is recorded at the next bar;
    - a breaker that knows on which equities its next bars are quiet says so in `quiet_band`
      (`quantkit.risk.quiet`), so that engines skip those bars' ``on_bar``; a subclass that
      changes ``on_bar`` or ``evaluate`` gets no band unless it says how (`gates_its_bars`).

    Args:
        flatten: Close every open position when tripping.
        reset: ``"manual"``, ``"next_day"`` or ``"cooldown"`` (default: ``"cooldown"`` if
            ``cooldown`` is given, else the class's ``default_reset``).
        cooldown: Bars to stay halted after a trip (the ``"cooldown"`` rule).

    Raises:
        ConfigError: If ``flatten`` is not a bool or the reset arguments are invalid.

    Examples:
        >>> class EquityFloor(Breaker):
        ...     def evaluate(self, context):
        ...         equity = context.portfolio.equity()
        ...         return f"equity {equity:g} below 9000" if equity < 9000 else ""
        >>> EquityFloor(cooldown=5).reset_rule
        ResetRule(kind='cooldown', bars=5)
    """

    default_reset: ClassVar[ResetKind] = "manual"

    def __init__(
        self,
        *,
        flatten: bool = False,
        reset: ResetKind | None = None,
        cooldown: int | None = None,
    ) -> None:
        owner = type(self).__name__
        if not isinstance(flatten, bool):
            raise ConfigError(f"{owner}: flatten must be True or False, got {flatten!r}")
        self.flatten = flatten
        self.reset_rule = ResetRule.parse(reset, cooldown, default=self.default_reset, owner=owner)
        self._halted = False
        self._why = ""
        self._trip_time = -1
        self._bars_since_trip = 0
        self._resumed_by_hand = False
        self._gates = type(self).gates_its_bars()
        self.quiet: QuietBand | None = None
        """The band `quiet_band` last handed out; ``None`` once anything it relied on changed."""

    @property
    def halted(self) -> bool:
        """Whether the breaker is tripped (new entries are refused)."""
        return self._halted

    @property
    def why(self) -> str:
        """Why the breaker tripped (``""`` while trading)."""
        return self._why

    @abstractmethod
    def evaluate(self, context: RiskContext) -> str:
        """Say whether to trip now.

        Called once per bar while trading is allowed (including the bar on which a halt is
        lifted, after `restart`), after the step's fills were booked and the account was
        marked at the bar's close.

        Args:
            context: Account and prices now.

        Returns:
            A reason naming the numbers to trip, or ``""`` to keep trading.
        """

    def restart(self) -> None:
        """Forget what the trip condition tracked, so it starts afresh (on resume and reset)."""

    @classmethod
    def gates_its_bars(cls) -> bool:
        """Whether `quiet_band` describes this class's ``on_bar`` exactly (default: no band).

        A class that offers bands says so for itself and returns False for subclasses that
        change the hooks the band was derived from.

        Returns:
            Whether engines may skip ``on_bar`` on the bars its bands call quiet.
        """
        return False

    def quiet_band(self) -> QuietBand | None:
        """The equities on which the next bars' ``on_bar`` would do nothing, or ``None``.

        Engines ask right after an ``on_bar`` call. The band is kept in `quiet` until
        anything it relied on changes (a trip, a new peak or day, `reset`, a new setting),
        which sets `quiet` to ``None``; the engine also stops skipping at any fill or funding
        payment. See `QuietBand` for the exact promise.

        Returns:
            The band, or ``None`` when the next bar must be shown to the breaker.
        """
        band = self._quiet_band() if self._gates else None
        self.quiet = band
        return band

    def _quiet_band(self) -> QuietBand | None:
        """The band of the current state, for classes that gate their bars (none here)."""
        return None

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        """Approve anything while trading; while halted, approve only reducing orders.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.

        Returns:
            The decision.
        """
        if not self._halted or request.reduce_only:  # the account is not needed
            return Decision(_APPROVE, request, self.name)
        price = context.price(request.symbol)
        decision = self.screen(request, context, context.portfolio, price)
        return Decision(_APPROVE, request, self.name) if decision is None else decision

    def screen(
        self, request: OrderRequest, context: RiskContext, portfolio: Portfolio, price: float
    ) -> Decision | None:
        """`check` for chains: ``None`` approves the request as it is.

        Args:
            request: What the strategy asks for.
            context: Account and prices now.
            portfolio: The marked account.
            price: ``context.price(request.symbol)``, the order's symbol's latest price.

        Returns:
            ``None`` (approved), or the rejection while halted.
        """
        if not self._halted or request.reduce_only:
            return None
        symbol = request.symbol
        held = portfolio.position(symbol).amount
        if held * request.sign < 0:
            amount = request.amount
            if amount is None:
                price = request.limit_price or request.stop_price or price
                amount = (request.cost or 0.0) / price if price > 0 else math.nan
            if amount <= abs(held):
                return None
        return Decision.reject(self.name, f"halted by {self.name}: {self._why}")

    @classmethod
    def screens_its_check(cls) -> bool:
        """Whether ``check`` is this class's (the same decisions as `screen`).

        Returns:
            False when a subclass overrides ``check``.
        """
        return cls.check is Breaker.check

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        """Apply the reset rule, then check whether to trip; flatten on a trip if asked.

        Args:
            context: Account and prices now.

        Returns:
            Reduce-only market orders closing every position on a trip with
            ``flatten=True``; otherwise nothing.
        """
        if self._halted or self._resumed_by_hand:
            return self._on_bar_resuming(context)
        reason = self.evaluate(context)
        if not reason:
            return ()
        return self._trip(context, reason)

    def _on_bar_resuming(self, context: RiskContext) -> Sequence[OrderRequest]:
        """``on_bar`` while halted or just reset by hand: note a resume, then evaluate."""
        self.quiet = None
        if self._resumed_by_hand:
            self._resumed_by_hand = False
            self._note_resume(context, "reset() called")
        if self._halted:
            self._bars_since_trip += 1
            why = self.reset_rule.due(self._trip_time, self._bars_since_trip, context.now)
            if not why:
                return ()
            self._halted, self._why = False, ""
            self.restart()
            self._note_resume(context, why)
        reason = self.evaluate(context)
        if not reason:
            return ()
        return self._trip(context, reason)

    def _trip(self, context: RiskContext, reason: str) -> Sequence[OrderRequest]:
        """Halt for ``reason``: record it, log it, and say which orders flatten (if asked)."""
        self.quiet = None
        self._halted, self._why = True, reason
        self._trip_time, self._bars_since_trip = context.now, 0
        context.record(self.name, RiskAction.HALT, reason)
        _log.warning("breaker tripped", policy=self.name, reason=reason, time=context.now)
        return flatten_orders(context.portfolio) if self.flatten else ()

    def reset(self) -> None:
        """Lift a halt now, whatever the rule, and restart the tracked state.

        The ``RESUME`` event is recorded at the next bar (there is no context here).
        """
        if self._halted:
            self._resumed_by_hand = True
        self._halted, self._why = False, ""
        self.quiet = None
        self.restart()

    def _note_resume(self, context: RiskContext, why: str) -> None:
        context.record(self.name, RiskAction.RESUME, why)
        _log.info("breaker reset", policy=self.name, reason=why, time=context.now)

    def _settings(self) -> str:
        rule = self.reset_rule
        cooldown = f", cooldown={rule.bars}" if rule.kind == "cooldown" else ""
        return f"flatten={self.flatten!r}, reset={rule.kind!r}{cooldown}"


def flatten_orders(portfolio: Portfolio) -> list[OrderRequest]:
    """Reduce-only market orders that close every open position of ``portfolio``.

    Args:
        portfolio: The account.

    Returns:
        One order per open position, in the portfolio's order.
    """
    return [
        OrderRequest(
            symbol,
            Side.SELL if position.amount > 0 else Side.BUY,
            amount=abs(position.amount),
            reduce_only=True,
            tag="flatten",
        )
        for symbol, position in portfolio.positions.items()
        if position.amount
    ]
