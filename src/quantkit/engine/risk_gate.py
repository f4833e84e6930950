"""Skip a breaker's per-bar hook on the bars it would pass: the backtest's risk gate.

A breaker's ``on_bar`` reads the equity on every bar, and on nearly every bar it does nothing.
After each call, the breaker may hand out a `QuietBand` (the equities on which its next bars
are quiet, `quantkit.risk.quiet`); `RiskBarGate` turns it into a band of the symbol's close
and a last bar, so that the hot loop (`quantkit.engine.step.Step.run`) skips the call while
the close stays inside and nothing else changed. It is exact, not a heuristic: a bar is
skipped only if the breaker, called, would have returned nothing and changed nothing.

Equity is what ``RunContext.equity`` computes: cash plus the position at the latest close (on a
perpetual account, the value of the mark close: `RunContext.equity_prices`, which the loop
compares instead of the close). In a single-symbol run with no other open position that is
``cash + amount * close``, both
fixed until the account changes, so the band of equities becomes a band of closes. The
bounds are checked with those float operations (rounding is monotone, so a bound that passes
makes every close between them pass). The loop stops skipping at any matched bar (fills,
funding, liquidations happen there), at any fill, when the breaker's band is no longer its
`quiet` (a trip, a reset, a new setting), and before the bar that closes last before the
band's ``until``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from quantkit.domain.fill import Fill
from quantkit.risk.policy import RiskChain, RiskPolicy, overrides

if TYPE_CHECKING:
    from quantkit.engine.context import RunContext
    from quantkit.risk.quiet import QuietBand
    from quantkit.risk.reset import Breaker

__all__ = ["CLOSED", "RiskBarGate", "close_band", "has_fill", "quiet_owner"]

Window = tuple[int, float, float, "QuietBand | None"]
"""What the loop keeps between calls: last bar (exclusive) and close band to skip, the band."""

CLOSED: Window = (0, math.inf, -math.inf, None)
"""A window that skips nothing."""

_TRIES = 128


def quiet_owner(policy: RiskPolicy | None) -> Breaker | None:
    """The breaker whose ``on_bar`` is the run's only per-bar hook, if it gates its bars.

    Args:
        policy: The run's policy (a chain is looked into).

    Returns:
        The breaker, or ``None`` (no hook, several hooks, or one without quiet bands).
    """
    if isinstance(policy, RiskChain):
        members = [member for member in policy.policies if overrides(member, "on_bar")]
        return quiet_owner(members[0]) if len(members) == 1 else None
    # `Breaker.gates_its_bars`, asked without importing the breakers (``import quantkit`` loads
    # this module and stays light)
    gates = getattr(type(policy), "gates_its_bars", None)
    if gates is not None and gates() and hasattr(policy, "quiet_band"):
        breaker: Breaker = policy  # type: ignore[assignment]
        return breaker
    return None


def has_fill(events: Sequence[object]) -> bool:
    """Whether a batch of events holds a fill (the account changed).

    Args:
        events: The broker's pending events.

    Returns:
        True if any of them is a `Fill`.
    """
    return any(isinstance(event, Fill) for event in events)


class RiskBarGate:
    """The bars of a single-symbol backtest on which the breaker's ``on_bar`` may be skipped.

    Args:
        breaker: The run's only per-bar hook (`quiet_owner`).
        context: The run's context (its broker's account, its close times).
        symbol: The run's symbol.
    """

    __slots__ = ("_breaker", "_broker", "_last", "_symbol", "_times", "_until")

    def __init__(self, breaker: Breaker, context: RunContext, symbol: str) -> None:
        self._breaker = breaker
        self._broker = context.broker
        self._symbol = symbol
        self._times: Sequence[int] = context.times.data
        self._until = -1
        self._last = 0

    def window(self) -> Window:
        """After a call of ``on_bar``: the bars and closes on which the next calls are skipped.

        Returns:
            ``(stop, low, high, band)``: bars before ``stop`` whose close is in
            ``[low, high]`` skip the call while ``breaker.quiet is band``; `CLOSED` when
            the next bar must call it.
        """
        breaker = self._breaker
        band = breaker.quiet
        if band is None:
            band = breaker.quiet_band()
            if band is None:
                return CLOSED
        low, high, until = band
        closes = self._closes(low, high)
        if closes is None:
            return CLOSED
        if until != self._until:  # the last bar before ``until`` is still shown to the breaker
            self._until = until
            self._last = bisect.bisect_left(self._times, until) - 1
        return self._last, closes[0], closes[1], band

    def _closes(self, low: float, high: float) -> tuple[float, float] | None:
        """The closes that put the equity in ``[low, high]``, or ``None``."""
        portfolio = self._broker.portfolio
        cash = portfolio.cash.get(portfolio.currency, 0.0)
        amount = 0.0
        for symbol, position in portfolio.positions.items():
            if position.amount:
                if symbol != self._symbol:
                    return None  # valued at another price: not a function of this close
                amount = position.amount
        if not amount:
            return (-math.inf, math.inf) if low <= cash <= high else None
        bottom, top = close_band(cash, amount, low, high)
        return (bottom, top) if bottom <= top else None


def close_band(cash: float, amount: float, low: float, high: float) -> tuple[float, float]:
    """Closes ``c`` for which ``cash + amount * c`` (as floats compute it) lies in ``[low, high]``.

    Every close between the two bounds does: the equity only moves one way with the close
    and rounding keeps that order, so bounds that pass make everything between them pass.

    Args:
        cash: The account's cash.
        amount: The position (not zero).
        low: Lowest equity wanted.
        high: Highest equity wanted.

    Returns:
        ``(bottom, top)``; ``bottom > top`` (no close) when none was found.

    Examples:
        >>> close_band(100.0, 2.0, 150.0, 300.0)
        (25.0, 100.0)
    """
    first, second = (low - cash) / amount, (high - cash) / amount
    bottom, top = (first, second) if amount > 0 else (second, first)
    bottom = _inward(bottom, 1.0, cash, amount, low, high)
    top = _inward(top, -1.0, cash, amount, low, high)
    if bottom != bottom or top != top:  # noqa: PLR0124 - nan: not found
        return math.inf, -math.inf
    return bottom, top


def _inward(close: float, way: float, cash: float, amount: float, low: float, high: float) -> float:
    """Move ``close`` towards ``way`` until ``cash + amount * close`` lies in ``[low, high]``.

    One unit in the last place first, then doubling steps: overshooting only narrows the band.

    Returns:
        The close, or ``nan`` if none was found.
    """
    if low <= cash + amount * close <= high:
        return close
    if math.isinf(close):
        return math.nan
    step = math.ulp(close)
    for _ in range(_TRIES):
        close += way * step
        if low <= cash + amount * close <= high:
            return close
        step *= 2.0
    return math.nan
