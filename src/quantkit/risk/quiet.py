"""Quiet bands: the equities on which a breaker's per-bar hook would do nothing.

Most bars leave a breaker as it was: the loss stays within the limit, the day goes on. A
breaker that knows it says so with a `QuietBand` (`Breaker.quiet_band`), and an engine may
then skip its ``on_bar`` on the following bars while their equity stays inside the band and
nothing else changed (`quantkit.engine.risk_gate`). The band must be exact, not approximate:
for every equity inside it, ``on_bar`` would return no orders and change nothing a later bar
reads. The bounds are found with the float operations the breaker's own comparison makes
(`lowest_within`), so a skipped bar is one the breaker would have passed, to the last bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["NEVER", "QuietBand", "lowest_within"]

NEVER = 2**63 - 1
"""An ``until`` later than any bar: the band does not expire with time."""

_TRIES = 128


class QuietBand(NamedTuple):
    """Where a breaker's next bars are quiet: equity in ``[low, high]``, closing before ``until``.

    The band holds for the bars after the one on which it was handed out, while no fill,
    funding payment, reset or change of setting happens. The last bar closing before
    ``until`` is still shown to the breaker (it samples the equity a new period starts from,
    as `DailyLossLimit` does for the next UTC day).

    Attributes:
        low: Lowest quiet equity (``-inf``: no floor).
        high: Highest quiet equity (``inf``: no ceiling).
        until: Close time (ns) from which the band no longer holds (`NEVER`: no end).
    """

    low: float
    high: float
    until: int


def lowest_within(reference: float, allowed: float) -> float:
    """The lowest equity ``e`` found with ``reference - e <= allowed``, as floats compute it.

    The loss ``reference - e`` only falls as ``e`` grows, so every equity at or above the
    result passes the same comparison. Starting from ``reference - allowed``, the candidate
    moves up (one unit in the last place, then doubling steps) until the comparison holds:
    a bound a little high only makes the band narrower, never wrong.

    Args:
        reference: The equity the loss is measured from (a day's start, a peak).
        allowed: The largest loss that passes.

    Returns:
        The bound, or ``nan`` when none is found (no band then).

    Examples:
        >>> lowest_within(100.0, 10.0)
        90.0
        >>> 0.3 - lowest_within(0.3, 0.1) <= 0.1
        True
    """
    candidate = reference - allowed
    if not reference - candidate <= allowed:  # rounding put it just below: move it up
        step = math.ulp(candidate)
        for _ in range(_TRIES):
            candidate += step
            if reference - candidate <= allowed:
                break
            step *= 2.0
        else:
            return math.nan
    return candidate if candidate == candidate else math.nan  # noqa: PLR0124 - nan check
