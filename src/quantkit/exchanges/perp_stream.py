"""Binance USD-M's pushed account changes, read through ccxt.pro, as quantkit values.

The user-data stream tells of funding and of the venue's own orders as they happen:

* ``ACCOUNT_UPDATE`` with reason ``m`` (``FUNDING_FEE``, ``INSURANCE_CLEAR``, ...) and per asset
  the balance change ``bc`` (what changed other than trades' P&L and fees). ccxt.pro's
  ``watch_balance`` answers with the balance and keeps the raw event as its ``info``;
  `parse_balance_changes` reads the changes from it. Binance pushes a cross position's funding
  with the balance alone (no ``P``: no symbol), an isolated one's with that position.
* ``ORDER_TRADE_UPDATE`` of an order with a fill (execution type ``TRADE``, or ``CALCULATED``
  for a liquidation, whose client id starts ``autoclose-``). ccxt.pro's ``watch_orders`` keeps
  the raw event's order as ``info``; `parse_order_fills` reads the order and its fill (trade
  id ``t``, price ``L``, amount ``l``, fee ``n`` in ``N``) from it. ccxt's ``watch_my_trades``
  takes only ``TRADE`` executions, so a liquidation's fill arrives this way alone.

Nothing ccxt-shaped leaves this module; a malformed event is one `DataError` naming the venue
and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quantkit.domain.venue import VenueOrder, VenueTrade
from quantkit.domain.venue_positions import VenueBalanceChange
from quantkit.errors import DataError
from quantkit.exchanges.orders import parse_order
from quantkit.exchanges.perp_parse import _num

__all__ = ["parse_balance_changes", "parse_order_fills"]

_MS = 1_000_000
_FILL_EXECUTIONS = ("TRADE", "CALCULATED")


def parse_balance_changes(
    raw: object, *, exchange: str, symbol_of: Callable[[str], str]
) -> list[VenueBalanceChange]:
    """The wallet changes of the ``ACCOUNT_UPDATE`` behind a ccxt ``watch_balance`` answer.

    Args:
        raw: ccxt's balance structure; its ``info`` is the pushed event.
        exchange: The venue's id, for messages.
        symbol_of: Maps the venue's market id (``BTCUSDT``) to the unified symbol.

    Returns:
        One change per asset with a non-zero ``bc``, for an event whose reason is not a trade
        (``ORDER``); the symbol is the one position pushed with it, else ``""``.

    Raises:
        DataError: If the event is malformed.
    """
    source = f"{exchange} ACCOUNT_UPDATE"
    info = raw.get("info") if isinstance(raw, Mapping) else None
    if not isinstance(info, Mapping) or info.get("e") != "ACCOUNT_UPDATE":
        return []  # a balance from elsewhere (a REST snapshot): no pushed change
    data = info.get("a")
    if not isinstance(data, Mapping):
        raise DataError("the event has no update data 'a'", source=source)
    reason = str(data.get("m") or "")
    if not reason or reason == "ORDER":
        return []
    balances, pushed = data.get("B") or [], data.get("P") or []
    if not isinstance(balances, list) or not isinstance(pushed, list):
        raise DataError("B and P must be lists", source=source)
    symbol = ""
    if len(pushed) == 1 and isinstance(pushed[0], Mapping) and pushed[0].get("s"):
        symbol = symbol_of(str(pushed[0]["s"]))
    when = int(_num(info, "T", source)) * _MS
    changes = []
    for row in balances:
        if not isinstance(row, Mapping):
            raise DataError("a balance entry is not an object", source=source)
        amount = _num(row, "bc", f"{source} {row.get('a')!r}", default=0.0)
        if amount:
            changes.append(VenueBalanceChange(reason, symbol, amount, str(row.get("a")), when))
    return changes


def parse_order_fills(raw: object, *, exchange: str) -> list[tuple[VenueOrder, VenueTrade]]:
    """The fills pushed with ccxt ``watch_orders``' orders (one per order update read).

    Args:
        raw: ccxt's order structures, each with the pushed order as ``info``.
        exchange: The venue's id, for messages.

    Returns:
        Each order whose latest update was a fill, with that fill (oldest first).

    Raises:
        DataError: If an order or its fill is malformed.
    """
    if not isinstance(raw, list):
        raise DataError(f"expected a list of orders, got {type(raw).__name__}", source=exchange)
    fills = []
    for row in raw:
        info = row.get("info") if isinstance(row, Mapping) else None
        if not isinstance(info, Mapping) or info.get("x") not in _FILL_EXECUTIONS:
            continue
        order = parse_order(row, exchange=exchange, client_id=str(info.get("c") or ""))
        fills.append((order, _fill(order, info, f"{exchange} order {order.client_id!r}")))
    return sorted(fills, key=lambda pair: pair[1].timestamp)


def _fill(order: VenueOrder, info: Mapping[str, Any], source: str) -> VenueTrade:
    amount = _num(info, "l", source)
    if amount <= 0 or info.get("t") in (None, "", 0):
        raise DataError("a fill without an amount or a trade id", source=source)
    return VenueTrade(
        trade_id=str(info["t"]),
        exchange_order_id=order.exchange_id,
        client_id=order.client_id,
        symbol=order.symbol,
        side=order.side,
        price=_num(info, "L", source),
        amount=amount,
        fee=_num(info, "n", source, default=0.0),
        fee_currency=str(info.get("N") or ""),
        timestamp=int(_num(info, "T", source)) * _MS,
        is_maker=bool(info.get("m")),
    )
