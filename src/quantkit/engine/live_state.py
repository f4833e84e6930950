"""What a live or paper run reports and carries over: its summary, recorder and saved state."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from quantkit.domain.fill import Fill
from quantkit.domain.order import Order
from quantkit.errors import ConfigError, StrategyError
from quantkit.strategy.base import Strategy

if TYPE_CHECKING:
    from quantkit.domain.portfolio import Portfolio
    from quantkit.engine.tape import EventTape

__all__ = [
    "LiveRecorder",
    "LiveSummary",
    "PositionMismatch",
    "persistent_state",
    "primary_error",
    "promotion_state",
    "restore_state",
]

_log = structlog.get_logger("quantkit.live")

PositionMismatch = Literal["refuse", "adopt_account"]
"""What to do when a resumed run's positions differ from the account's."""


@dataclass(frozen=True, slots=True)
class LiveSummary:
    """How a live or paper run went, returned when it stops.

    Attributes:
        run_id: The run's identifier.
        stop_reason: Why it stopped (end of data, bar limit, signal, error).
        bars: Bars handed to the strategy.
        orders: Orders the strategy sent (rejected ones included).
        fills: Executions.
        rejected: Orders rejected by risk, the broker or the venue.
        canceled: Orders canceled (by the strategy or at shutdown).
        open_orders: Orders still working when the run ended.
        cash: Cash in the account currency at the end.
        equity: Cash plus positions at the last prices.
        positions: Non-zero positions by symbol at the end.
        stale_periods: How many times the data went stale.
        left_on_venue: Client ids of orders the shutdown could not cancel or resolve: still
            working (or of unknown outcome) on the venue. Look at them by hand.
        dust: Holdings below their market's minimum amount (they cannot be sold and count as
            flat), by symbol.
    """

    run_id: str
    stop_reason: str
    bars: int
    orders: int
    fills: int
    rejected: int
    canceled: int
    open_orders: int
    cash: float
    equity: float
    positions: dict[str, float] = field(default_factory=dict)
    stale_periods: int = 0
    left_on_venue: tuple[str, ...] = ()
    dust: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        held = ", ".join(f"{s} {a:g}" for s, a in self.positions.items()) or "none"
        left = ""
        if self.left_on_venue:
            left = f"\n  ORDERS LEFT ON THE VENUE: {', '.join(self.left_on_venue)}"
        if self.dust:
            left += "\n  dust (below the minimum amount): " + ", ".join(
                f"{s} {a:g}" for s, a in self.dust.items()
            )
        return (
            f"run {self.run_id} stopped: {self.stop_reason}\n"
            f"  bars {self.bars}, orders {self.orders} (rejected {self.rejected}, canceled "
            f"{self.canceled}, still open {self.open_orders}), fills {self.fills}\n"
            f"  cash {self.cash:.2f}, equity {self.equity:.2f}, positions: {held}\n"
            f"  stale data periods: {self.stale_periods}{left}"
        )


class LiveRecorder:
    """What a live or paper run keeps of the events: counts for the summary, and the tape.

    A fill goes on the tape at the venue's time, unless the venue stamps its fills on another
    clock than its bars' (more than two bars away from the run's bar clock, as a local
    exchange publishing bars faster than real time does, or a venue whose clock is far off):
    then at the run's own reading of the bar clock, the latest bar's close time plus the wall
    time elapsed since that bar arrived. The divergence report's latencies are then in the
    run's own (wall-clock) time.

    Args:
        counts: The run's counters (``fills``, ``rejected``, ``canceled``), updated in place.
        tape: Where fills and order updates are recorded, if anywhere.
        bar_clock: The run's bar-clock reading now, ns, and the bar length, ns (``None``
            before the first bar).
    """

    def __init__(
        self,
        counts: dict[str, int],
        tape: EventTape | None,
        bar_clock: Callable[[str], tuple[int, int] | None] | None = None,
    ) -> None:
        self.counts = counts
        self.tape = tape
        self.bar_clock = bar_clock

    def fill(self, fill: Fill) -> None:
        """Count and tape a fill."""
        self.counts["fills"] += 1
        if self.tape is not None:
            self.tape.record_fill(fill, self._tape_time(fill))

    def _tape_time(self, fill: Fill) -> int | None:
        reading = self.bar_clock(fill.symbol) if self.bar_clock is not None else None
        if reading is None:
            return None
        now, timeframe = reading
        if abs(fill.timestamp - now) <= 2 * timeframe:
            return None  # the venue's fill clock agrees with its bars: its own time
        return now

    def order(self, order: Order) -> None:
        """Count rejections and cancels; tape the update."""
        status = order.status.value
        if status == "rejected":
            self.counts["rejected"] += 1
        elif status == "canceled":
            self.counts["canceled"] += 1
        if self.tape is not None:
            self.tape.record_order(order)

    def delivered(self) -> None:
        """Nothing to do after a batch."""


def persistent_state(strategy: Strategy) -> dict[str, Any]:
    """The strategy's persistent attributes (``Strategy.persistent``) as JSON values.

    Args:
        strategy: The strategy.

    Returns:
        Attribute name to value.

    Raises:
        ConfigError: If an attribute is missing or not JSON-serialisable.
    """
    values: dict[str, Any] = {}
    for name in type(strategy).persistent:
        if not hasattr(strategy, name):
            raise ConfigError(
                f"{type(strategy).__name__}.persistent names {name!r}, which the "
                "strategy does not have"
            )
        value = getattr(strategy, name)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{type(strategy).__name__}.{name} is persistent but not JSON-able "
                f"({exc}); keep numbers, strings, lists and dicts in persistent attributes"
            ) from exc
        values[name] = value
    return values


def restore_state(strategy: Strategy, saved: Mapping[str, Any]) -> None:
    """Set the strategy's persistent attributes from ``saved`` (other names are ignored).

    Args:
        strategy: The strategy.
        saved: Attribute name to value, as `persistent_state` made it.
    """
    names = set(type(strategy).persistent)
    for name, value in saved.items():
        if name in names:
            setattr(strategy, name, value)


def promotion_state(
    path: Path,
    portfolio: Portfolio,
    symbols: Mapping[str, object],
    on_mismatch: PositionMismatch,
) -> dict[str, Any]:
    """Read a paper run's snapshot for a live run and check its positions against the account.

    Args:
        path: The snapshot file (`LiveEngine.save_snapshot`).
        portfolio: The live account.
        symbols: The live run's symbols.
        on_mismatch: ``"refuse"`` or ``"adopt_account"``.

    Returns:
        The strategy's saved persistent attributes.

    Raises:
        ConfigError: If the file cannot be read, or positions differ and ``on_mismatch`` is
            ``"refuse"``: the message names each symbol with both amounts and the difference.
    """
    try:
        snapshot = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"LiveEngine: cannot read snapshot {path}: {exc}") from exc
    expected: dict[str, float] = snapshot.get("positions", {})
    problems = []
    for symbol in sorted(set(expected) | set(symbols)):
        want = float(expected.get(symbol, 0.0))
        have = portfolio.position(symbol).amount
        if not math.isclose(want, have, rel_tol=1e-6, abs_tol=1e-12):
            problems.append(
                f"{symbol}: snapshot {want:.12g}, account {have:.12g} "
                f"(account minus snapshot {have - want:+.12g})"
            )
    if problems:
        detail = "; ".join(problems)
        if on_mismatch == "refuse":
            raise ConfigError(
                f"LiveEngine: positions differ from the snapshot {path} "
                f"({detail}); settle the account, or pass "
                "on_position_mismatch='adopt_account' to continue with the account's"
            )
        _log.warning("positions_adopted_from_account", detail=detail)
    _log.info("resumed_from_snapshot", path=str(path))
    strategy_state: dict[str, Any] = snapshot.get("strategy", {})
    return strategy_state


def primary_error(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    """The error to raise for a failed task group: the strategy's own error first.

    The other errors are added to it as notes. ``None`` when the group holds no `Exception`.

    Args:
        group: The task group's errors.

    Returns:
        The error to raise, or ``None``.
    """
    errors = [e for e in group.exceptions if isinstance(e, Exception)]
    if not errors:
        return None
    primary = next((e for e in errors if isinstance(e, StrategyError)), errors[0])
    for other in errors:
        if other is not primary:
            primary.add_note(f"also: {type(other).__name__}: {other}")
    return primary
