"""Funding and liquidation on the local USD-M venue.

Funding (Binance: "Funding Amount = Nominal Value of Positions x Funding Rate", the nominal
value at the mark): at each funding timestamp every open position of the symbol pays
``amount x mark x rate``; a positive rate makes longs pay and shorts receive. It is booked as
``FUNDING_FEE`` income, taken from (or added to) the wallet, and from the isolated wallet of an
isolated position, and pushed as an ``ACCOUNT_UPDATE`` with reason ``FUNDING_FEE`` whose ``bc``
is the payment: as Binance documents it, with the balance alone for a cross position (no ``P``:
the event does not say which symbol paid) and with that one position for an isolated one. Only the
position held at the timestamp pays: one opened after it pays nothing for it.

Liquidation (Binance's "Liquidation Protocols" FAQ: a position is liquidated once its margin
balance falls to its maintenance margin, i.e. the mark reaches the liquidation price of
`liquidation_price`; the clearance fee is charged on what is liquidated, out of the collateral
left, and an account left below zero is brought back to zero by the insurance fund):

* an isolated position is liquidated when ``isolated wallet + unrealised P&L <= maintenance
  margin`` at the mark. The venue takes it over with a ``LIQUIDATION`` order (client id
  ``autoclose-<time>``, pushed first as ``NEW``, then filled with execution type
  ``CALCULATED``) at its liquidation price, where
  the margin balance equals the maintenance margin; the liquidation clearance fee
  (``exchangeInfo.liquidationFee`` x the notional at that price) is taken from what the
  position's margin holds there, never more (``INSURANCE_CLEAR`` income): with a maintenance
  rate below the fee rate (the first brackets) the whole isolated wallet goes, in higher
  brackets the rest returns to the wallet. A mark past the price is the insurance fund's
  loss, never the account's.
* cross positions are liquidated together when ``cross wallet + cross unrealised P&L <= cross
  maintenance margin``: the position whose mark crossed its liquidation price closes at that
  price, the others at their marks; the clearance fee on the notional closed is taken from the
  cross wallet left, never more, and a cross wallet left below zero is brought back to zero
  (``INSURANCE_CLEAR`` of the opposite sign). (Binance may liquidate in steps; the venue closes
  all at once.)

Liquidation fills pay no trading fee: the clearance is the fee. `insurance_fund` gains the fees
and the difference between the fill price and the mark the fund takes the position over at.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from quantkit.testing.futures.liquidation import liquidation_price, maintenance_margin
from quantkit.testing.futures.orders import FuturesOrder, FuturesTrade, Side
from quantkit.testing.futures.positions import FillEffect, FuturesPosition

if TYPE_CHECKING:
    from quantkit.testing.futures.accounts import FuturesAccounts

__all__ = ["liquidate_if_due", "settle_funding"]

_QUANTUM = Decimal("0.00000001")
_ZERO = Decimal(0)


def settle_funding(venue: FuturesAccounts, symbol: str, rate: Decimal, now: int) -> None:
    """Pay one funding timestamp on every open position of a symbol.

    Args:
        venue: The venue (its lock held).
        symbol: Venue id.
        rate: The funding rate.
        now: The funding timestamp (ms).
    """
    mark = venue.marks[symbol]
    for api_key, account in venue.accounts.items():
        position = account.positions.get(symbol)
        if position is None or not position.amount:
            continue
        payment = (-position.amount * mark * rate).quantize(_QUANTUM, ROUND_HALF_UP)
        account.wallet += payment
        if position.isolated:
            position.isolated_wallet += payment
        account.book(venue.next_tran_id(), symbol, "FUNDING_FEE", payment, now, "")
        # Binance: a cross position's funding pushes the balance alone (no ``P``), an
        # isolated one's the balance and that position only
        pushed = [symbol] if position.isolated else []
        venue.emit_account(api_key, "FUNDING_FEE", pushed, now, payment)
        liquidate_if_due(venue, api_key, now)


def liquidate_if_due(venue: FuturesAccounts, api_key: str, now: int) -> None:
    """Liquidate the account's positions whose margin the marks exhausted.

    Args:
        venue: The venue (its lock held).
        api_key: The account.
        now: Server time (ms).
    """
    account = venue.account(api_key)
    for position in list(account.positions.values()):
        if position.amount and position.isolated:
            mark = venue.marks[position.symbol]
            table = venue.contracts[position.symbol].brackets
            balance = position.isolated_wallet + position.unrealized(mark)
            if balance <= maintenance_margin(position.amount, mark, table):
                _liquidate_isolated(venue, api_key, position, now)
    cross = account.cross_positions()
    if not cross:
        return
    balance = account.cross_wallet + account.unrealized(venue.marks, cross_only=True)
    if balance > account.maintenance(venue.marks, venue.contracts, cross_only=True):
        return
    prices = _cross_prices(venue, api_key, cross)
    fee_due = sum((_clearance_due(venue, p, prices[p.symbol]) for p in cross), _ZERO)
    taken_over = sum((_take_over(venue, p, prices[p.symbol]) for p in cross), _ZERO)
    for position in cross:
        _close(venue, api_key, position, prices[position.symbol], now)
    left = account.cross_wallet
    change = -left if left < 0 else -min(fee_due, left)
    _clear(venue, api_key, [p.symbol for p in cross], change, taken_over, now)


def _liquidate_isolated(
    venue: FuturesAccounts, api_key: str, position: FuturesPosition, now: int
) -> None:
    """Close an isolated position at its liquidation price and take the clearance fee."""
    table = venue.contracts[position.symbol].brackets
    price = liquidation_price(position.amount, position.entry, position.isolated_wallet, table)
    price = price.quantize(_QUANTUM, ROUND_HALF_UP)
    if price <= 0:  # pragma: no cover - a due position always has a liquidation price
        price = venue.marks[position.symbol]
    fee_due = _clearance_due(venue, position, price)
    taken_over = _take_over(venue, position, price)
    effect = _close(venue, api_key, position, price, now)
    left = effect.released + effect.realized_pnl  # what the margin held at the price
    change = -left if left < 0 else -min(fee_due, left)
    _clear(venue, api_key, [position.symbol], change, taken_over, now)


def _cross_prices(
    venue: FuturesAccounts, api_key: str, cross: list[FuturesPosition]
) -> dict[str, Decimal]:
    """Where each cross position closes: the first whose mark crossed its price there."""
    account = venue.account(api_key)
    marks = venue.marks
    prices = {p.symbol: marks[p.symbol] for p in cross}
    for position in cross:
        others = [p for p in cross if p is not position]
        price = liquidation_price(
            position.amount,
            position.entry,
            account.cross_wallet,
            venue.contracts[position.symbol].brackets,
            other_maintenance=sum(
                (maintenance_margin(p.amount, marks[p.symbol],
                                    venue.contracts[p.symbol].brackets) for p in others),
                _ZERO,
            ),
            other_unrealized=sum((p.unrealized(marks[p.symbol]) for p in others), _ZERO),
        )  # fmt: skip
        mark = marks[position.symbol]
        crossed = mark <= price if position.amount > 0 else mark >= price
        if price > 0 and crossed:
            prices[position.symbol] = price.quantize(_QUANTUM, ROUND_HALF_UP)
            break
    return prices


def _clearance_due(venue: FuturesAccounts, position: FuturesPosition, price: Decimal) -> Decimal:
    """The liquidation clearance fee on a position's notional at ``price``."""
    rate = venue.contracts[position.symbol].liquidation_fee
    return (abs(position.amount) * price * rate).quantize(_QUANTUM, ROUND_HALF_UP)


def _take_over(venue: FuturesAccounts, position: FuturesPosition, price: Decimal) -> Decimal:
    """What the insurance fund makes taking the position over at ``price``, at the mark."""
    return position.amount * (venue.marks[position.symbol] - price)


def _clear(
    venue: FuturesAccounts,
    api_key: str,
    symbols: list[str],
    change: Decimal,
    taken_over: Decimal,
    now: int,
) -> None:
    """Book the clearance (``INSURANCE_CLEAR``): a fee taken, or a deficit made good."""
    account = venue.account(api_key)
    account.wallet += change
    venue.insurance_fund += taken_over - change
    if change:
        account.book(venue.next_tran_id(), symbols[0], "INSURANCE_CLEAR", change, now, "")
        venue.emit_account(api_key, "INSURANCE_CLEAR", symbols, now, change)


def _close(
    venue: FuturesAccounts, api_key: str, position: FuturesPosition, price: Decimal, now: int
) -> FillEffect:
    """Close a position with a liquidation order filled at ``price``."""
    account = venue.account(api_key)
    qty = abs(position.amount)
    side: Side = "SELL" if position.amount > 0 else "BUY"
    order_id = venue.next_order_id()
    order = FuturesOrder(
        order_id, f"autoclose-{now}", position.symbol, side, "LIQUIDATION", "LIQUIDATION",
        qty, price, Decimal(0), "IOC", True, False, "CONTRACT_PRICE", now, now,
    )  # fmt: skip
    account.add_order(order)
    venue.emit_order(api_key, order, None, "NEW", now)  # Binance: ``autoclose-`` first as NEW
    effect = position.apply(-position.amount, price, now)
    account.wallet += effect.realized_pnl
    trade = FuturesTrade(
        venue.next_trade_id(), order_id, position.symbol, side, price, qty,
        effect.realized_pnl, Decimal(0), False, now,
    )  # fmt: skip
    account.trades.append(trade)
    account.book(
        venue.next_tran_id(), position.symbol, "REALIZED_PNL", effect.realized_pnl, now,
        str(trade.trade_id),
    )  # fmt: skip
    order.executed_qty = qty
    order.cum_quote = qty * price
    order.realized_pnl = effect.realized_pnl
    order.status = "FILLED"
    venue.emit_account(api_key, "ORDER", [position.symbol], now, Decimal(0))
    venue.emit_order(api_key, order, trade, "CALCULATED", now)
    return effect
