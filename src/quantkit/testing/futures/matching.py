"""How the local USD-M venue admits, fills and triggers orders.

The venue trades against its last price, not against other orders, like the spot venue:

* ``MARKET`` orders, and ``LIMIT`` orders that cross the last price, fill at once in full at
  the last price (taker fee). ``IOC``/``FOK`` limits that do not cross expire; ``GTX``
  (post-only) limits that would cross are refused (``-5022``); other limits rest and fill in
  full at their limit price (maker fee) once the last price reaches it, or in parts, one per
  price step, under the `FuturesPartialFills` rule (``venue.partial_fills``).
* ``STOP_MARKET`` and ``TAKE_PROFIT_MARKET`` are conditional ("algo") orders, as on Binance
  since its conditional orders moved to the Algo Order API: the order endpoint refuses them
  (``-4120``) and `place` with ``algo=True`` books them apart, under algo ids. They wait for
  their trigger on the last price (``workingType=CONTRACT_PRICE``, the default) or on the mark
  (``MARK_PRICE``): a stop buys when the price rises to the trigger and sells when it falls to
  it, a take-profit the other way round; one that would trigger at once is refused
  (``-2021``). Triggered (status ``TRIGGERED``), it places a ``MARKET`` order that fills at the
  last price, then reads ``FINISHED`` (``EXPIRED`` if that order could not trade, e.g. a
  ``closePosition`` with no position left). ``closePosition=true`` closes whatever position
  there is then.
* ``reduceOnly`` orders must be against the position (``-2022`` otherwise); when they fill, or
  trigger, they are cut to the position, and the rest expires once it is closed.
* A ``newClientOrderId`` is refused while an open order of the account has it (``-4116``).
* An order needs its initial margin available (``-2019``, see `FuturesAccount`): the opening
  part's notional over the leverage plus its "open loss" against the mark (a buy above the
  mark, a sell below it), as Binance's margin rule has it; and it must keep the position
  within what the leverage allows (``-2027``). Right after it fills, the account is checked
  for liquidation like after any price move.
* Fees are charged in USDT on the fill's value: Binance's regular 0.02 % maker, 0.05 % taker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from quantkit.testing.futures.ledger import opening_part
from quantkit.testing.futures.orders import (
    FuturesOrder,
    FuturesOrderType,
    FuturesTrade,
    Side,
    VenueRejectionError,
)

if TYPE_CHECKING:
    from quantkit.testing.futures.accounts import FuturesAccounts

__all__ = ["OrderRequest", "fill", "on_last_price", "on_mark_price", "place"]

_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_STOPS = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
_FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order's checked parameters (the API parses and checks their syntax).

    Attributes:
        symbol: Venue id.
        side: ``BUY`` or ``SELL``.
        type: The order type.
        qty: Quantity (``None`` only with ``close_position``).
        price: Limit price (``LIMIT`` only).
        stop_price: Trigger price (stops only).
        time_in_force: ``GTC``, ``IOC``, ``FOK`` or ``GTX``.
        reduce_only: ``reduceOnly=true``.
        close_position: ``closePosition=true``.
        working_type: ``CONTRACT_PRICE`` or ``MARK_PRICE``.
        client_id: ``newClientOrderId`` (the venue makes one when empty).
        position_side: ``positionSide`` (``BOTH`` in one-way mode).
    """

    symbol: str
    side: Side
    type: FuturesOrderType
    qty: Decimal | None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    working_type: str = "CONTRACT_PRICE"
    client_id: str = ""
    position_side: str = "BOTH"


def _signed(side: Side, qty: Decimal) -> Decimal:
    return qty if side == "BUY" else -qty


def _triggered(order: FuturesOrder, price: Decimal) -> bool:
    rising = (order.side == "BUY") == (order.orig_type == "STOP_MARKET")
    return price >= order.stop_price if rising else price <= order.stop_price


def _check_request(venue: FuturesAccounts, api_key: str, request: OrderRequest) -> Decimal:
    """Check an order against the rules; return the price it is valued at."""
    contract = venue.contract(request.symbol)
    account = venue.account(api_key)
    if account.dual_side or request.position_side != "BOTH":
        raise VenueRejectionError(-4061, "Order's position side does not match user's setting.")
    if request.client_id and not _CLIENT_ID.match(request.client_id):
        raise VenueRejectionError(
            -1100, "Illegal characters found in parameter 'newClientOrderId'."
        )
    live = (
        account.open_algo_orders(request.symbol)
        if request.type in _STOPS
        else account.open_orders(request.symbol)
    )
    if request.client_id and any(o.client_id == request.client_id for o in live):
        raise VenueRejectionError(-4116, "ClientOrderId is duplicated.")
    if request.qty is not None:
        contract.check_quantity(request.qty, market=request.type == "MARKET")
    last = venue.lasts[request.symbol]
    if request.type == "LIMIT":
        if request.price is None:
            raise VenueRejectionError(-1102, "Mandatory parameter 'price' was not sent.")
        contract.check_price(request.price)
        return request.price
    if request.type in _STOPS:
        if request.stop_price is None:
            raise VenueRejectionError(-1102, "Mandatory parameter 'stopPrice' was not sent.")
        contract.check_price(request.stop_price)
        watched = venue.marks if request.working_type == "MARK_PRICE" else venue.lasts
        probe = FuturesOrder(
            0, "", request.symbol, request.side, request.type, request.type, Decimal(0),
            Decimal(0), request.stop_price, "GTC", False, False, "", 0, 0,
        )  # fmt: skip
        if _triggered(probe, watched[request.symbol]):
            raise VenueRejectionError(-2021, "Order would immediately trigger.")
        return request.stop_price
    return last


def _check_position(
    venue: FuturesAccounts, api_key: str, request: OrderRequest, price: Decimal
) -> None:
    """Reduce-only, notional, leverage cap and margin checks."""
    from quantkit.testing.futures.accounts import max_notional  # noqa: PLC0415 - cycle

    contract = venue.contract(request.symbol)
    account = venue.account(api_key)
    position = account.position(request.symbol)
    if request.close_position or request.qty is None:
        return
    signed = _signed(request.side, request.qty)
    if request.reduce_only and (not position.amount or (signed > 0) == (position.amount > 0)):
        raise VenueRejectionError(-2022, "ReduceOnly Order is rejected.")
    contract.check_notional(request.qty, price, request.reduce_only)
    if request.reduce_only:
        return
    cap = max_notional(contract, position.leverage)
    if cap is not None and abs(position.amount + signed) * price > cap:
        raise VenueRejectionError(
            -2027, "Exceeded the maximum allowable position at current leverage."
        )
    opening = opening_part(position.amount, signed)
    mark = venue.marks[request.symbol]
    open_loss = max(Decimal(0), price - mark if request.side == "BUY" else mark - price)
    needed = opening * price / position.leverage + opening * open_loss
    if needed > account.available(venue.marks, venue.lasts):
        raise VenueRejectionError(-2019, "Margin is insufficient.")


def place(
    venue: FuturesAccounts, api_key: str, request: OrderRequest, now: int, *, algo: bool = False
) -> FuturesOrder:
    """Check and place an order, filling what fills at once.

    Args:
        venue: The venue (its lock held).
        api_key: The account.
        request: The order.
        now: Server time (ms).
        algo: Whether it came through the Algo Order API (conditional orders only).

    Returns:
        The order, as it stands after placement.

    Raises:
        VenueRejectionError: For each rule in the module docstring.
    """
    if (request.type in _STOPS) != algo:
        if algo:
            raise VenueRejectionError(-1116, "Invalid orderType.")
        raise VenueRejectionError(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API "
            "endpoints instead.",
        )
    price = _check_request(venue, api_key, request)
    _check_position(venue, api_key, request, price)
    if algo:
        return _place_algo(venue, api_key, request, now)
    last = venue.lasts[request.symbol]
    crosses = request.type == "LIMIT" and (
        (request.side == "BUY" and price >= last) or (request.side == "SELL" and price <= last)
    )
    if request.time_in_force == "GTX" and crosses:
        raise VenueRejectionError(
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be "
            "rejected. The order will not be recorded in the order history",
        )
    order = _new_order(venue.next_order_id(), request, now)
    venue.account(api_key).add_order(order)
    venue.emit_order(api_key, order, None, "NEW", now)
    if request.type == "MARKET" or crosses:
        fill(venue, api_key, order, last, maker=False, now=now)
    elif request.type == "LIMIT" and request.time_in_force in ("IOC", "FOK"):
        _expire(venue, api_key, order, now)
    return order


def _new_order(
    order_id: int, request: OrderRequest, now: int, prefix: str = "local"
) -> FuturesOrder:
    """The book's record of a new (or conditional) order."""
    limit = request.type == "LIMIT"
    return FuturesOrder(
        order_id,
        request.client_id or f"{prefix}-{order_id}",
        request.symbol,
        request.side,
        request.type,
        request.type,
        request.qty if request.qty is not None else Decimal(0),
        request.price if limit and request.price is not None else Decimal(0),
        request.stop_price if request.stop_price is not None else Decimal(0),
        request.time_in_force if limit else "GTC",
        request.reduce_only,
        request.close_position,
        request.working_type,
        now,
        now,
    )


def _place_algo(
    venue: FuturesAccounts, api_key: str, request: OrderRequest, now: int
) -> FuturesOrder:
    order = _new_order(venue.next_order_id(), request, now, "local-algo")
    venue.account(api_key).add_algo(order)
    venue.emit_algo(api_key, order, now)
    return order


def _expire(venue: FuturesAccounts, api_key: str, order: FuturesOrder, now: int) -> None:
    order.status = "EXPIRED"
    order.update_time = now
    venue.emit_order(api_key, order, None, "EXPIRED", now)


def fill(
    venue: FuturesAccounts,
    api_key: str,
    order: FuturesOrder,
    price: Decimal,
    *,
    maker: bool,
    now: int,
    part: Decimal | None = None,
) -> None:
    """Fill the rest of an order (or ``part`` of it) at ``price``.

    A reduce-only or closing order is cut to the position (and expires with nothing to close).

    Args:
        venue: The venue (its lock held).
        api_key: The account.
        order: The order.
        price: The fill price.
        maker: Whether it rested (maker fee) or took (taker fee).
        now: Server time (ms).
        part: Fill only this much (a `FuturesPartialFills` part); the rest when ``None``.
    """
    account = venue.account(api_key)
    position = account.position(order.symbol)
    qty = _fill_quantity(order, position.amount, part)
    if not qty:
        _expire(venue, api_key, order, now)
        return
    effect = position.apply(_signed(order.side, qty), price, now)
    rate = account.maker if maker else account.taker
    fee = (qty * price * rate).quantize(_FEE_QUANTUM, ROUND_HALF_UP)
    account.wallet += effect.realized_pnl - fee
    trade = FuturesTrade(
        venue.next_trade_id(), order.order_id, order.symbol, order.side, price, qty,
        effect.realized_pnl, fee, maker, now,
    )  # fmt: skip
    account.trades.append(trade)
    trade_id = str(trade.trade_id)
    if effect.closed:
        account.book(
            venue.next_tran_id(), order.symbol, "REALIZED_PNL", effect.realized_pnl, now, trade_id
        )
    account.book(venue.next_tran_id(), order.symbol, "COMMISSION", -fee, now, trade_id)
    order.executed_qty += qty
    order.trade_count += 1
    order.cum_quote += qty * price
    order.realized_pnl += effect.realized_pnl
    order.status = "FILLED" if order.executed_qty >= order.qty else "PARTIALLY_FILLED"
    order.update_time = now
    venue.emit_account(api_key, "ORDER", [order.symbol], now, Decimal(0))
    venue.emit_order(api_key, order, trade, "TRADE", now)
    if order.is_open and order.reduce_only and not position.amount:
        _expire(venue, api_key, order, now)  # nothing left to reduce


def _fill_quantity(order: FuturesOrder, position: Decimal, part: Decimal | None) -> Decimal:
    """How much of an order fills now: the rest (or ``part``), cut for reducing orders."""
    qty = order.qty - order.executed_qty if part is None else part
    if not (order.reduce_only or order.close_position):
        return qty
    closing = position < 0 if order.side == "BUY" else position > 0
    if not closing:
        qty = Decimal(0)
    elif order.close_position:
        qty = abs(position)
    else:
        qty = min(qty, abs(position))
    if order.close_position:
        order.qty = qty
    return qty


def on_last_price(venue: FuturesAccounts, symbol: str, now: int) -> None:
    """Fill the resting limits the last price reached and trigger the stops watching it.

    Args:
        venue: The venue (its lock held).
        symbol: The market whose last price moved.
        now: Server time (ms).
    """
    last = venue.lasts[symbol]
    for api_key, account in venue.accounts.items():
        for order in account.open_orders(symbol):
            if not order.is_open:
                continue  # filled or expired by an earlier order of this pass
            reached = last <= order.price if order.side == "BUY" else last >= order.price
            if order.type == "LIMIT" and reached:
                rule = venue.partial_fills
                step = venue.contracts[symbol].step_size
                part = None if rule is None else rule.next_part(order, step)
                fill(venue, api_key, order, order.price, maker=True, now=now, part=part)
        for algo in account.open_algo_orders(symbol):
            if algo.working_type != "MARK_PRICE" and _triggered(algo, last):
                _trigger(venue, api_key, algo, now)


def on_mark_price(venue: FuturesAccounts, symbol: str, now: int) -> None:
    """Trigger the ``MARK_PRICE`` stops the mark reached.

    Args:
        venue: The venue (its lock held).
        symbol: The market whose mark moved.
        now: Server time (ms).
    """
    mark = venue.marks[symbol]
    for api_key, account in venue.accounts.items():
        for algo in account.open_algo_orders(symbol):
            if algo.working_type == "MARK_PRICE" and _triggered(algo, mark):
                _trigger(venue, api_key, algo, now)


def _trigger(venue: FuturesAccounts, api_key: str, algo: FuturesOrder, now: int) -> None:
    """A conditional order triggered: it places a market order and follows its outcome."""
    if algo.status != "NEW":
        return  # finished by an earlier trigger of this pass
    algo.status, algo.trigger_time, algo.update_time = "TRIGGERED", now, now
    child_id = venue.next_order_id()
    child = FuturesOrder(
        child_id, algo.client_id, algo.symbol, algo.side, "MARKET", algo.orig_type, algo.qty,
        Decimal(0), algo.stop_price, "GTC", algo.reduce_only, algo.close_position,
        algo.working_type, now, now,
    )  # fmt: skip
    algo.child_id = child_id
    venue.account(api_key).add_order(child)
    venue.emit_algo(api_key, algo, now)
    venue.emit_order(api_key, child, None, "NEW", now)
    fill(venue, api_key, child, venue.lasts[algo.symbol], maker=False, now=now)
    algo.executed_qty, algo.cum_quote = child.executed_qty, child.cum_quote
    algo.qty = child.qty
    algo.status = "FINISHED" if child.executed_qty else "EXPIRED"
    venue.emit_algo(api_key, algo, now)
