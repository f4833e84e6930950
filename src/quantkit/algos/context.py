"""What the parent-order book needs from the run (a Protocol the engine's context implements)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from quantkit.domain.bars import Bar
from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest

__all__ = ["AlgoContext", "ParentJournal"]


class AlgoContext(Protocol):
    """The run's side of the parent orders: time, prices, risk and the broker."""

    @property
    def now(self) -> int:
        """Close time of the current step, ns."""
        ...

    def price(self, symbol: str) -> float:
        """Latest close of ``symbol``."""
        ...

    def last_bar(self, symbol: str) -> Bar | None:
        """``symbol``'s latest closed bar."""
        ...

    def market(self, symbol: str) -> Market:
        """The market description of ``symbol``."""
        ...

    def next_client_id(self) -> str:
        """A new client id of the run."""
        ...

    def risk_decision(self, request: OrderRequest, client_id: str) -> tuple[OrderRequest, str]:
        """One risk decision on a parent's whole amount.

        Returns the approved request and ``""``, or the request and why it was refused.
        """
        ...

    def submit(self, request: OrderRequest, client_id: str | None = None) -> Order:
        """Pass a child through risk to the broker under ``client_id``."""
        ...

    def cancel(self, order: Order) -> None:
        """Cancel a working child."""
        ...

    def amend(self, order: Order, request: OrderRequest, client_id: str | None = None) -> Order:
        """Change a working child's price or amount (a replacement gets ``client_id``)."""
        ...


class ParentJournal(Protocol):
    """Where a live run keeps its parents so a restart resumes them (the broker's journal)."""

    def save_parent(self, data: Mapping[str, Any]) -> None:
        """Durably record a parent's start or change (the latest record of an id wins)."""
        ...

    def resumed_parents(self) -> list[Mapping[str, Any]]:
        """The parents recorded by earlier processes of the run, latest record of each id."""
        ...

    def known_children(self, parent_id: str) -> list[Order]:
        """The orders the run sent earlier under ids ``<parent_id>-<n>``, in number order."""
        ...
