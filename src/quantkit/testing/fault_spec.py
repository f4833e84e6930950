"""Fault: one planned misbehaviour of the local exchange, and Binance's failure answers.

`quantkit.testing.faults.FaultPlan` queues faults and its module docstring tells what each
`FaultKind` does to a request; this module holds the value itself and the paths and bodies the
faults are planned with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LOOKUP_PATHS",
    "ORDER_PATHS",
    "OVERLOADED_BODY",
    "TIMEOUT_BODY",
    "Fault",
    "FaultKind",
    "Paths",
]

FaultKind = Literal["status", "delay", "truncate", "accept", "hold", "drop", "unknown", "half"]
"""What a fault does (see the module's docstring)."""

Paths = str | tuple[str, ...] | None
"""The request paths a fault applies to: one, several, or ``None`` for any."""

ORDER_PATHS = ("/api/v3/order", "/api/v3/order/cancelReplace")
"""The order endpoints: create (POST), cancel (DELETE) and cancel-replace."""
LOOKUP_PATHS = ("/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades", "/api/v3/account")
"""The signed lookups (with method ``GET``): an order, open orders, trades, balances."""

TIMEOUT_BODY = (
    '{"code":-1007,"msg":"Timeout waiting for response from backend server. '
    'Send status unknown; execution status unknown."}'
)
"""Binance's ``-1007`` answer (HTTP 503): the request may or may not take effect."""
OVERLOADED_BODY = (
    '{"code":-1008,"msg":"Server is currently overloaded with other requests. '
    'Please try again in a few minutes."}'
)
"""Binance's ``-1008`` answer (HTTP 503): the request was not acted on."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned misbehaviour of the local exchange.

    Attributes:
        kind: What it does (see `FaultKind`).
        path: The request path(s) it applies to, e.g. ``"/api/v3/klines"``; ``None`` for any.
        status: HTTP status answered (``"status"``, ``"accept"`` and ``"hold"`` faults).
        retry_after: ``Retry-After`` header value in seconds, if any. Sent as written, so
            fractions (``"0.05"``) are possible in tests.
        body: Body answered; a Binance-style JSON error for 429/418, plain text otherwise,
            when not given.
        seconds: How long to wait before answering (``"delay"``, ``"accept"``, ``"hold"``).
        keep: How many leading rows of a list answer to keep (``"truncate"`` faults).
        method: The HTTP method it applies to, e.g. ``"DELETE"``; ``None`` for any.
        acted: Whether a ``"drop"`` fault carries the request out before closing.
        execute_after: Seconds after which an ``"unknown"`` (or unknown ``"half"``) request
            takes effect; ``None`` for never (or until `LocalExchange.execute_pending`).
    """

    kind: FaultKind
    path: Paths = None
    status: int = 0
    retry_after: float | None = None
    body: str | None = None
    seconds: float = 0.0
    keep: int = 0
    method: str | None = None
    acted: bool = False
    execute_after: float | None = None

    def matches(self, path: str, method: str | None) -> bool:
        """Whether the fault applies to a request.

        Args:
            path: The request's path.
            method: The request's method; ``None`` matches any fault's method.

        Returns:
            ``True`` if it applies.
        """
        paths = (self.path,) if isinstance(self.path, str) else self.path
        return (paths is None or path in paths) and (
            self.method is None or method is None or method == self.method
        )

    def describe(self) -> str:
        """Return a short label for the request log, e.g. ``"429"``, ``"delay 0.5s"``.

        Returns:
            The label.
        """
        later = "never" if self.execute_after is None else f"{self.execute_after:g}s"
        labels = {
            "status": str(self.status),
            "delay": f"delay {self.seconds:g}s",
            "accept": f"accept then {self.status}",
            "truncate": f"truncate {self.keep}",
            "hold": f"hold {self.seconds:g}s then {self.status}",
            "drop": "accept then drop" if self.acted else "drop",
            "unknown": f"-1007, executes {later}",
            "half": "cancel only, new order "
            + ("refused" if self.status == 409 else f"unknown, executes {later}"),
        }
        return labels[self.kind]
