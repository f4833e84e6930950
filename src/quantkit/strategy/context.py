"""What a strategy needs from the engine that runs it (a Protocol the engine implements)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest
from quantkit.domain.portfolio import Portfolio

if TYPE_CHECKING:
    from quantkit.algos.book import AlgoBook

__all__ = ["StrategyContext"]


class StrategyContext(Protocol):
    """The engine's side of a running strategy."""

    @property
    def now(self) -> int:
        """Current time: close time of the latest closed bar, ns since the epoch."""
        ...

    @property
    def algos(self) -> AlgoBook:
        """The run's parent orders."""
        ...

    @property
    def portfolio(self) -> Portfolio:
        """The account, marked at the latest closes."""
        ...

    def submit(self, request: OrderRequest) -> Order:
        """Pass a request through risk to the broker; returns the order handle at once."""
        ...

    def cancel(self, order: Order) -> None:
        """Ask the broker to cancel a working order."""
        ...

    def amend(self, order: Order, request: OrderRequest) -> Order:
        """Ask the broker to change a working order's price or amount to ``request``'s.

        Returns the order that now works, or a ``REJECTED`` order recording a refusal.
        """
        ...

    def market(self, symbol: str) -> Market:
        """The market description of ``symbol``."""
        ...

    def open_orders(self, symbol: str | None) -> list[Order]:
        """Working orders, of one symbol or all."""
        ...
