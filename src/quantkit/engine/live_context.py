"""The live engine's side of a run: the backtest's RunContext on a growing timeline."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import structlog

from quantkit.domain.client_ids import run_prefix
from quantkit.domain.order import Order, OrderRequest
from quantkit.engine.context import RiskEvent, RunContext
from quantkit.risk.policy import RiskAction

if TYPE_CHECKING:
    from quantkit.engine.tape import EventTape

__all__ = ["LiveContext"]

_log = structlog.get_logger("quantkit.live")


def _log_risk(event: RiskEvent) -> None:
    if event.action is RiskAction.APPROVE:
        return
    _log.info(
        "risk_decision",
        policy=event.policy,
        action=str(event.action),
        reason=event.reason,
        symbol=event.symbol,
        client_id=event.client_id,
    )


class LiveContext(RunContext):
    """A `RunContext` whose timeline grows bar by bar and whose orders are counted and taped.

    Client order ids are `client_order_id(run_id, n)` for the run's n-th order, the scheme
    the order journal uses, so a restarted run continues the numbering where it stopped.

    Attributes:
        tape: Where intents are recorded, if anywhere.
        sent: Orders submitted by this process.
        last_sent_ns: ``time.perf_counter_ns()`` when the latest order left for the broker.
    """

    tape: EventTape | None = None
    sent: int = 0
    last_sent_ns: int = 0

    def set_run(self, run_id: str, seq: int) -> None:
        """Number this run's orders after the ``seq`` orders it already sent.

        Args:
            run_id: The run's identifier.
            seq: Orders sent before (by an earlier process of the same run).
        """
        self.id_prefix = run_prefix(run_id)
        self._seq = seq

    @property
    def sent_seq(self) -> int:
        """Orders of the run so far, earlier processes included."""
        return self._seq

    def advance(self, close_time: int) -> None:
        """Make ``close_time`` the current step (a no-op when it is not later than now).

        Args:
            close_time: Close time of the bar that just arrived, ns.
        """
        i = self.timeline.i
        times = self.times
        if i >= 0 and close_time <= times[i]:
            return
        if i + 1 >= len(times):
            grown = np.empty(max(64, 2 * (i + 2)), dtype=np.int64)
            grown[: i + 1] = times[: i + 1]
            self.times = grown
            self._time_at = grown.data
            times = grown
        times[i + 1] = close_time
        self.timeline.i = i + 1

    def record(self, policy: str, action: RiskAction, reason: str, symbol: str = "") -> None:
        """Keep a risk event (a breaker trips or resets) and log it."""
        super().record(policy, action, reason, symbol)
        _log_risk(self.risk_events[-1])

    def submit(self, request: OrderRequest, client_id: str | None = None) -> Order:
        """Pass ``request`` through risk to the broker, then count, log and tape it.

        Args:
            request: What the strategy asks for.
            client_id: The id to send it under (a parent order's child); default: the next.

        Returns:
            The order.
        """
        events = len(self.risk_events)
        order = super().submit(request, client_id)
        for event in self.risk_events[events:]:
            _log_risk(event)
        self.sent += 1
        self.last_sent_ns = time.perf_counter_ns()
        if self.tape is not None:
            self.tape.record_intent(order)
        return order
