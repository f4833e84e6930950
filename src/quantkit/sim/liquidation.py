"""Forced liquidation of a spot margin account whose equity would cross zero inside a bar.

Perpetual markets are liquidated by the venue's maintenance-margin rule instead
(`quantkit.sim.perpetual`); this module keeps the rule of spot margin accounts (shorting or
leverage without a perpetual spec): after a bar's orders have matched, the simulator asks
whether the account's equity, with the positions held at the end of the bar, touches zero
anywhere inside the bar (a long at the bar's low, a short at its high; other symbols at their
latest marks). If it does, every position is closed at once:

- the bar's symbol at the price where equity reaches zero, or at the bar's open when the price
  opened beyond it (a gap); other symbols at their latest marks; no fee is charged;
- every working order is canceled; every later order is rejected;
- the account is left at exactly zero equity: a loss beyond zero (only after a gap) is recorded
  as the ``deficit`` and absorbed, as a venue's insurance fund does, so equity never goes
  below zero.

A cash account (no shorting, leverage 1) can never owe more than it has and is never checked.
Pure and synchronous, like the rest of `quantkit.sim`.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.fill import Fill
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.portfolio import Portfolio

__all__ = ["LIQUIDATION_TAG", "Liquidation", "liquidate", "zero_equity_price"]

LIQUIDATION_TAG = "liquidation"
"""The tag of the orders a liquidation creates (``Result.orders["tag"]``)."""

_ROUNDING = 1e-9


@dataclass(frozen=True, slots=True)
class Liquidation:
    """What a forced liquidation did.

    Attributes:
        time: Open time of the bar in which equity reached zero, ns since the epoch.
        symbol: The symbol whose price move crossed zero.
        price: The price at which that symbol's position was closed.
        deficit: Loss beyond zero equity absorbed by the venue (> 0 only after a gap).
        client_ids: Client ids of the liquidation orders, one per closed position.
    """

    time: int
    symbol: str
    price: float
    deficit: float
    client_ids: tuple[str, ...]

    @property
    def reason(self) -> str:
        """One line for the orders' ``reason`` and for rejections after the liquidation."""
        text = (
            f"liquidated: equity reached zero as {self.symbol} traded at {self.price:.8g} "
            "(margin account, forced close of every position)"
        )
        if self.deficit > 0:
            text += f"; a deficit of {self.deficit:.8g} beyond zero was absorbed"
        return text


def _marked_elsewhere(portfolio: Portfolio, symbol: str) -> float:
    """Cash plus every position but ``symbol``'s, marked at its latest price."""
    value = portfolio.balance
    marks = portfolio.last_price
    for other, pos in portfolio.positions.items():
        if other != symbol and pos.amount:
            value += pos.amount * marks.get(other, pos.entry_price)
    return value


def zero_equity_price(
    portfolio: Portfolio, symbol: str, open_: float, high: float, low: float
) -> float | None:
    """Return the price of ``symbol`` at which this bar liquidates the account, or ``None``.

    Args:
        portfolio: The account after the bar's fills (a margin account).
        symbol: The bar's symbol.
        open_: The bar's open.
        high: The bar's high.
        low: The bar's low.

    Returns:
        ``None`` when equity stays above zero over the whole bar; otherwise the price where
        it reaches zero, or the open when the bar opened beyond that price. With no position
        in ``symbol`` but equity already at or below zero, the open.
    """
    elsewhere = _marked_elsewhere(portfolio, symbol)
    pos = portfolio.positions.get(symbol)
    amount = pos.amount if pos is not None else 0.0
    if amount == 0.0:
        return open_ if elsewhere <= 0.0 else None
    worst = low if amount > 0 else high
    if elsewhere + amount * worst > 0.0:
        return None
    zero = -elsewhere / amount
    return min(open_, zero) if amount > 0 else max(open_, zero)


def liquidate(
    portfolio: Portfolio, symbol: str, price: float, time: int, id_prefix: str, currency: str
) -> tuple[Liquidation, list[Order | Fill]]:
    """Close every position (``symbol`` at ``price``, others at their marks), fee-free.

    Args:
        portfolio: The account; changed in place.
        symbol: The symbol whose move crossed zero.
        price: Its liquidation price (see `zero_equity_price`).
        time: The bar's open time, stamped on the orders and fills.
        id_prefix: Prefix of the liquidation orders' client ids.
        currency: Fee currency of the fills (the account currency).

    Returns:
        The liquidation and its events (each order, then its fill), in symbol order.
    """
    events: list[Order | Fill] = []
    ids: list[str] = []
    for held, pos in sorted(portfolio.positions.items()):
        amount = pos.amount
        if not amount:
            continue
        mark = price if held == symbol else portfolio.last_price.get(held, pos.entry_price)
        side = Side.SELL if amount > 0 else Side.BUY
        client_id = f"{id_prefix}-liquidation-{len(ids) + 1}"
        request = OrderRequest(
            held, side, OrderType.MARKET, amount=abs(amount), reduce_only=True, tag=LIQUIDATION_TAG
        )
        order = Order(client_id, request, time)
        order.transition(OrderStatus.OPEN, time)
        fill = Fill(client_id, held, side, mark, abs(amount), 0.0, currency, time)
        portfolio.apply_fill(fill)
        order.record_fill(mark, abs(amount), 0.0, time)
        ids.append(client_id)
        events.extend((order, fill))
    cash = portfolio.balance
    # below zero only after a gap (or by rounding at the exact zero-equity price: not a deficit)
    deficit = -cash if cash < -_ROUNDING * max(1.0, abs(price)) else 0.0
    portfolio.cash[portfolio.currency] = max(cash, 0.0)
    liquidation = Liquidation(time, symbol, price, deficit, tuple(ids))
    for event in events:
        if isinstance(event, Order):
            event.reason = liquidation.reason
    return liquidation, events
