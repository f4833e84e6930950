"""The trade-equality check every peer passes before it is timed.

A peer is timed only after it produced the same trades as quantkit on the same bars: the same
number of closed round trips and the same final equity, within a tolerance stated per peer
(where a peer's fill or sizing convention differs by a rounding step, the tolerance says why).
A sweep compares every combination, in grid order.

This module is pure (no peer library, no quantkit import), so the main test suite checks that
the checker itself catches a mismatch: ``tests/benchmarks/test_peer_check.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PeerMismatchError", "RunSummary", "Tolerance", "check_same_trades"]


@dataclass(frozen=True)
class RunSummary:
    """What one backtest (one combination of a sweep) ended with.

    Attributes:
        trades: Closed round trips (a position still open at the end is not counted).
        final_equity: Cash plus the open position marked at the last close, in quote currency.
    """

    trades: int
    final_equity: float


@dataclass(frozen=True)
class Tolerance:
    """How far a peer's summary may be from quantkit's and still count as the same trades.

    A final equity passes when it is within ``equity_rel`` of quantkit's OR within
    ``equity_abs`` of it. The floor is needed because every tool keeps cash by adding and
    subtracting amounts the size of the account: once fees have eaten the equity down to 1e-18
    of the starting cash (the benchmark workloads do), it is known only to about 1e-16 of the
    starting cash, whoever computes it.

    Attributes:
        equity_rel: Largest relative difference of the final equity.
        equity_abs: Largest absolute difference, in quote currency (0: none).
        why: The fill or sizing convention that makes it larger than float rounding, if any.
    """

    equity_rel: float
    equity_abs: float = 0.0
    why: str = "the same fills; only floating-point rounding differs"


class PeerMismatchError(AssertionError):
    """A peer did not reproduce quantkit's trades: it is not timed."""


def check_same_trades(
    label: str,
    reference: Sequence[RunSummary],
    candidate: Sequence[RunSummary],
    tolerance: Tolerance,
) -> None:
    """Raise unless ``candidate`` has the same trades as ``reference``, run by run.

    Args:
        label: Workload and tool, for the message (``"sweep-1m / vectorbt"``).
        reference: quantkit's summaries (one per run or sweep combination, in order).
        candidate: The peer's summaries, in the same order.
        tolerance: The allowed relative difference of the final equity.

    Raises:
        PeerMismatchError: On a different number of runs, a different trade count, a final
            equity that is not finite, or one further from quantkit's than the tolerance; the
            message names the workload, the tool, the run and both values.
    """
    if len(reference) != len(candidate):
        raise PeerMismatchError(
            f"{label}: {len(candidate)} runs, quantkit has {len(reference)}; not timed"
        )
    for index, (mine, theirs) in enumerate(zip(reference, candidate, strict=True)):
        where = f"{label}, run {index}"
        if theirs.trades != mine.trades:
            raise PeerMismatchError(
                f"{where}: {theirs.trades} closed trades, quantkit has {mine.trades}; not timed"
            )
        if not math.isfinite(theirs.final_equity):
            raise PeerMismatchError(f"{where}: final equity is {theirs.final_equity}; not timed")
        gap = abs(theirs.final_equity - mine.final_equity)
        relative = gap / max(abs(mine.final_equity), 1e-300)
        if not (gap <= tolerance.equity_abs or relative <= tolerance.equity_rel):
            raise PeerMismatchError(
                f"{where}: final equity {theirs.final_equity:.6g}, quantkit has "
                f"{mine.final_equity:.6g} (gap {gap:.2e}, relative {relative:.2e}; allowed "
                f"{tolerance.equity_abs:.0e} or {tolerance.equity_rel:.0e} relative); not timed"
            )
