"""Position targets: ``self.close``, ``self.order_target_amount``, ``self.order_target_percent``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

from quantkit.domain.order import Order, Side
from quantkit.errors import OrderError

if TYPE_CHECKING:
    from quantkit.strategy.context import StrategyContext
    from quantkit.strategy.data import SymbolData

__all__ = ["TargetOrders"]

_BUY, _SELL = Side.BUY, Side.SELL


class _Trader(Protocol):
    """What the target methods use of the `Strategy` they are mixed into."""

    _ctx: StrategyContext
    _datas: dict[str, SymbolData]

    @property
    def equity(self) -> float: ...

    def symbol_on(self, symbol: str | None = None, venue: str | None = None) -> str: ...

    def order(
        self,
        side: Side | str,
        *,
        symbol: str | None = None,
        amount: float | None = None,
        reduce_only: bool = False,
    ) -> Order: ...

    def order_target_amount(
        self, target: float, *, symbol: str | None = None, venue: str | None = None
    ) -> Order | None: ...


class TargetOrders:
    """The position-target methods of `Strategy` (a mixin): market orders to a wanted position."""

    def close(
        self: _Trader, symbol: str | None = None, *, venue: str | None = None
    ) -> Order | None:
        """Close the whole position in ``symbol`` with a reduce-only market order.

        Args:
            symbol: Market symbol (default: the primary symbol).
            venue: The venue, in a run over several venues (see `symbol_on`).

        Returns:
            The order, or ``None`` if the position is already flat.
        """
        return self.order_target_amount(0.0, symbol=symbol, venue=venue)

    def order_target_amount(
        self: _Trader, target: float, *, symbol: str | None = None, venue: str | None = None
    ) -> Order | None:
        """Trade the position in ``symbol`` to ``target`` (signed base amount) at market.

        Args:
            target: Wanted position; negative for short (needs shorting enabled).
            symbol: Market symbol (default: the primary symbol).
            venue: The venue, in a run over several venues (see `symbol_on`).

        Returns:
            The order, or ``None`` if nothing needs to trade.

        Raises:
            OrderError: If ``target`` is not finite.
        """
        if isinstance(target, bool) or not math.isfinite(target):
            raise OrderError(f"order_target_amount: target must be a finite number, got {target!r}")
        sym = self.symbol_on(symbol, venue)
        context = self._ctx
        position = context.portfolio.position(sym)  # self.position(sym)
        held = position.amount
        delta = target - held
        amount = context.market(sym).round_amount(delta if delta >= 0.0 else -delta)
        if amount <= 0:
            return None
        if target == 0.0 and position.is_dust:
            # Below the market's minimum: the venue would refuse to sell it; it counts as flat.
            import structlog  # noqa: PLC0415 - rare path; `import quantkit` stays light

            structlog.get_logger("quantkit.strategy").info(
                "dust_not_closed", symbol=sym, amount=held, minimum=position.dust_below
            )
            return None
        side = _BUY if delta > 0 else _SELL
        reducing = target * held >= 0 and abs(target) < abs(held)
        return self.order(side, symbol=sym, amount=amount, reduce_only=reducing)

    def order_target_percent(
        self: _Trader, target: float, *, symbol: str | None = None, venue: str | None = None
    ) -> Order | None:
        """Trade the position in ``symbol`` to ``target`` x equity at the latest close.

        Args:
            target: Fraction of equity, e.g. ``0.5``; negative for short.
            symbol: Market symbol (default: the primary symbol).
            venue: The venue, in a run over several venues (see `symbol_on`).

        Returns:
            The order, or ``None`` if nothing needs to trade.

        Raises:
            OrderError: If ``target`` is not finite or no price is known yet.
        """
        if isinstance(target, bool) or not math.isfinite(target):
            raise OrderError(
                f"order_target_percent: target must be a finite number, got {target!r}"
            )
        sym = self.symbol_on(symbol, venue)
        data = self._datas.get(sym)
        if data is None:
            self._ctx.market(sym)  # raises OrderError naming the unknown symbol
            raise OrderError(f"order_target_percent: {sym} has no data in this run")
        price = data.price
        if not math.isfinite(price) or price <= 0:
            raise OrderError(f"order_target_percent: no price for {sym} yet")
        unit = self._ctx.market(sym).unit_value(price)  # a contract's notional, perpetuals
        return self.order_target_amount(target * self.equity / unit, symbol=sym)
