"""Funding and liquidation on the local USD-M venue.

Funding (Binance: "Funding Amount = Nominal Value of Positions x Funding Rate", the nominal
value at the mark): at each funding timestamp every open position of the symbol pays
``amount x mark x rate``; a positive rate makes longs pay and shorts receive. It is booked as
``FUNDING_FEE`` income, taken from (or added to) the wallet, and from the isolated wallet of an
isolated position, and pushed as an ``ACCOUNT_UPDATE`` with reason ``FUNDING_FEE`` whose ``bc``
is the payment: as Binance documents it, with the balance alone for a cross position (no ``P``:
the event does not say which symbol paid) and with that one position for an isolated one. Only the
position held at the timestamp pays: one opened after it pays nothing for it.

Liquidation (Binance's rule: the margin balance falls to the maintenance margin, i.e. the mark
reaches the liquidation price of `liquidation_price`):

* an isolated position is liquidated when ``isolated wallet + unrealised P&L <= maintenance
  margin`` at the mark. The venue takes it over with a ``LIQUIDATION`` order (client id
  ``autoclose-<time>``, pushed first as ``NEW``, then filled with execution type
  ``CALCULATED``) that fills at the bankruptcy price, so
  the account loses exactly its isolated wallet, never more; what the margin balance held at
  the mark goes to the insurance fund, and a mark past the bankruptcy price is absorbed by it.
* cross positions are liquidated together when ``cross wallet + cross unrealised P&L <= cross
  maintenance margin``: each closes at the mark, and what is left of the cross wallet goes to
  the insurance fund (``INSURANCE_CLEAR``) or, when negative, is absorbed by it, so the cross
  wallet ends at zero. (Binance may liquidate in steps; the venue closes all at once.)

Liquidation fills pay no trading fee: the clearance is the fee.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from quantkit.testing.futures.liquidation import bankruptcy_price, maintenance_margin
from quantkit.testing.futures.orders import FuturesOrder, FuturesTrade, Side
from quantkit.testing.futures.positions import FuturesPosition

if TYPE_CHECKING:
    from quantkit.testing.futures.accounts import FuturesAccounts

__all__ = ["liquidate_if_due", "settle_funding"]

_QUANTUM = Decimal("0.00000001")


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
                venue.insurance_fund += balance
                price = bankruptcy_price(position.amount, position.entry, position.isolated_wallet)
                _close(venue, api_key, position, price, now)
    cross = account.cross_positions()
    if not cross:
        return
    balance = account.cross_wallet + account.unrealized(venue.marks, cross_only=True)
    if balance > account.maintenance(venue.marks, venue.contracts, cross_only=True):
        return
    for position in cross:
        _close(venue, api_key, position, venue.marks[position.symbol], now)
    left = account.cross_wallet
    account.wallet -= left
    venue.insurance_fund += left
    account.book(venue.next_tran_id(), cross[0].symbol, "INSURANCE_CLEAR", -left, now, "")
    venue.emit_account(api_key, "INSURANCE_CLEAR", [p.symbol for p in cross], now, -left)


def _close(
    venue: FuturesAccounts, api_key: str, position: FuturesPosition, price: Decimal, now: int
) -> None:
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
