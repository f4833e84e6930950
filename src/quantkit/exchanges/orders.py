"""Orders, executions and balances between quantkit and ccxt, both ways, at the adapter's edge.

`order_arguments` turns an `OrderRequest` into the arguments of ccxt's unified ``create_order``
(refusing what the venue's ccxt class says it cannot do); `parse_order`, `parse_my_trades` and
`parse_balances` turn ccxt's answers into `VenueOrder`, `VenueTrade` and `VenueBalance` values.
Nothing returned from here is a ccxt structure; a malformed answer raises `DataError` naming the
venue and what was read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from quantkit.domain.venue import VenueBalance, VenueOrder, VenueTrade
from quantkit.errors import DataError, ExchangeError
from quantkit.exchanges.parse import _get, _is_list, _number

__all__ = [
    "CCXT_STATUSES",
    "OrderArguments",
    "order_arguments",
    "parse_balances",
    "parse_my_trades",
    "parse_order",
    "parse_order_status",
    "stop_supported",
]

_log = structlog.get_logger("quantkit.exchanges")

_NS_PER_MS = 1_000_000

CCXT_STATUSES: Mapping[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
"""ccxt's unified order statuses and the quantkit status each maps to (``open`` becomes
``PARTIALLY_FILLED`` once something filled)."""

_STOP_FEATURES = {
    OrderType.STOP: "createStopMarketOrder",
    OrderType.STOP_LIMIT: "createStopLimitOrder",
}
_STOP_VENUE_TYPES = {OrderType.STOP: "STOP_LOSS", OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT"}
"""The venue order type ccxt makes of a spot stop on venues that list ``orderTypes`` (Binance)."""


def stop_supported(
    kind: OrderType, market: Mapping[str, Any], has: Mapping[str, Any], features: object
) -> bool:
    """Whether the venue takes a standalone stop of this kind in this market, through ccxt.

    ccxt's ``has`` table states ``createStopMarketOrder`` false for Binance, yet its
    ``create_order`` turns a market order with ``triggerPrice`` into a spot ``STOP_LOSS`` (and
    a limit one into ``STOP_LOSS_LIMIT``), which its ``features`` state (``triggerPrice``).
    Where the market lists its order types (Binance's ``orderTypes``), that type must be listed.

    Args:
        kind: `OrderType.STOP` or `OrderType.STOP_LIMIT`.
        market: ccxt's market structure.
        has: ccxt's ``has`` table of the venue.
        features: ccxt's ``features`` table of the venue.

    Returns:
        True when the stop can be sent to the venue.
    """
    stated = _get(_create_order_features(features, market), "triggerPrice") is True
    if not (has.get(_STOP_FEATURES[kind]) or stated):
        return False
    info = market.get("info")
    listed = info.get("orderTypes") if isinstance(info, Mapping) else None
    if market.get("spot") and isinstance(listed, list):
        return _STOP_VENUE_TYPES[kind] in listed
    return True


@dataclass(frozen=True, slots=True)
class OrderArguments:
    """The arguments of one ccxt ``create_order`` call.

    Attributes:
        symbol: Unified symbol.
        type: ccxt's order type, ``"market"`` or ``"limit"`` (stops carry ``triggerPrice``).
        side: ``"buy"`` or ``"sell"``.
        amount: Base amount; ``None`` for an order sized by ``cost``.
        price: Limit price, or ``None``.
        params: ccxt's unified extra parameters (``clientOrderId``, ``timeInForce``, ...).
        cost: Quote amount of a market order sized by cost, else ``None``.
    """

    symbol: str
    type: str
    side: str
    amount: float | None
    price: float | None
    params: dict[str, Any] = field(default_factory=dict)
    cost: float | None = None


def _create_order_features(features: object, market: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``createOrder`` features ccxt states for the market's type, or ``{}``."""
    section = _get(features, str(market.get("type") or "spot"))
    if isinstance(section, Mapping) and "createOrder" not in section:
        section = section.get("linear" if market.get("linear") else "inverse")
    found = _get(section, "createOrder")
    return found if isinstance(found, Mapping) else {}


def _unsupported(what: str, exchange: str) -> ExchangeError:
    return ExchangeError(
        f"{what} orders are not supported by this venue", exchange=exchange, reason="not_supported"
    )


def order_arguments(
    request: OrderRequest,
    client_id: str,
    *,
    market: Mapping[str, Any],
    has: Mapping[str, Any],
    features: object,
    exchange: str,
) -> OrderArguments:
    """Translate an order request into ccxt ``create_order`` arguments.

    The client id travels as ccxt's unified ``clientOrderId`` (Binance: ``newClientOrderId``).
    Stops become trigger orders (``triggerPrice``; Binance spot: ``STOP_LOSS`` /
    ``STOP_LOSS_LIMIT`` with ``stopPrice``) where the venue takes them (`stop_supported`). A time
    in force other than GTC and post-only are sent where ccxt does not state them unsupported.
    Reduce-only is sent for derivatives; a spot market has no position to reduce, so it is left
    out there (logged).

    Args:
        request: The order; amount and prices already rounded to the market's precision.
        client_id: The client order id to send.
        market: ccxt's market structure of ``request.symbol``.
        has: ccxt's ``has`` table of the venue.
        features: ccxt's ``features`` table of the venue.
        exchange: The venue's id, for error messages.

    Returns:
        The arguments.

    Raises:
        ExchangeError: With reason ``"not_supported"`` if the venue's ccxt class cannot place
            this kind of order (e.g. a stop-market on Binance spot).
    """
    stated = _create_order_features(features, market)
    params: dict[str, Any] = {"clientOrderId": client_id}
    if request.type in _STOP_FEATURES:
        if not stop_supported(request.type, market, has, features):
            raise _unsupported(f"{request.type.value} ({_STOP_FEATURES[request.type]})", exchange)
        params["triggerPrice"] = request.stop_price
    limit = request.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    offered = _get(stated, "timeInForce")
    if limit and request.time_in_force is not TimeInForce.GTC:
        code = request.time_in_force.value.upper()
        if _get(offered, code) is False:
            raise _unsupported(f"time-in-force {code}", exchange)
        params["timeInForce"] = code
    if request.post_only:
        if _get(offered, "PO") is False:
            raise _unsupported("post-only", exchange)
        params["postOnly"] = True
    if request.reduce_only:
        if market.get("spot"):
            _log.info("reduce_only_ignored_on_spot", exchange=exchange, symbol=request.symbol)
        else:
            params["reduceOnly"] = True
    if request.amount is None and request.cost is not None:
        feature = f"createMarket{request.side.value.capitalize()}OrderWithCost"
        if not has.get(feature):
            raise _unsupported(f"market {request.side.value} by cost ({feature})", exchange)
    return OrderArguments(
        symbol=request.symbol,
        type="limit" if limit else "market",
        side=request.side.value,
        amount=request.amount,
        price=request.limit_price if limit else None,
        params=params,
        cost=request.cost if request.amount is None else None,
    )


def _float(value: object, what: str, default: float = math.nan) -> float:
    return default if value is None else _number(value, what)


def _ns(value: object, what: str) -> int:
    return 0 if value is None else int(_number(value, what)) * _NS_PER_MS


def _side(value: object) -> Side:
    try:
        return Side(str(value).lower())
    except ValueError:
        raise DataError(f"side {value!r} is neither buy nor sell") from None


def _order_type(raw: Mapping[str, Any]) -> OrderType:
    """Map a venue order type (``"limit"``, ``"stop_loss_limit"``, ``"LIMIT_MAKER"``, ...)."""
    name = str(raw.get("type") or "").lower()
    stop = "stop" in name or "take_profit" in name or bool(raw.get("triggerPrice"))
    limit = "limit" in name or (name != "market" and raw.get("price") not in (None, 0, "0"))
    if stop:
        return OrderType.STOP_LIMIT if limit else OrderType.STOP
    return OrderType.LIMIT if limit else OrderType.MARKET


def parse_order_status(status: object, filled: float) -> OrderStatus:
    """Map a ccxt order status to quantkit's.

    Args:
        status: ccxt's unified status (see `CCXT_STATUSES`); ``None`` when the venue only
            acknowledged the order, which counts as open.
        filled: Base amount filled so far.

    Returns:
        The status; an open order with something filled is ``PARTIALLY_FILLED``.

    Raises:
        DataError: If the status is not one of ccxt's.

    Examples:
        >>> parse_order_status("open", 0.5), parse_order_status("canceled", 0.5)
        (<OrderStatus.PARTIALLY_FILLED: 'partially_filled'>, <OrderStatus.CANCELED: 'canceled'>)
    """
    mapped = OrderStatus.OPEN if status is None else CCXT_STATUSES.get(str(status))
    if mapped is None:
        raise DataError(f"unknown order status {status!r}")
    if mapped is OrderStatus.OPEN and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return mapped


def parse_order(raw: object, *, exchange: str, client_id: str = "") -> VenueOrder:
    """Build a `VenueOrder` from a ccxt order structure.

    Args:
        raw: The ccxt order (``id``, ``clientOrderId``, ``symbol``, ``side``, ``type``,
            ``amount``, ``price``, ``status``, ``filled``, ``average``, timestamps).
        exchange: The venue's id, for error messages.
        client_id: The client id to report when the venue does not echo one.

    Returns:
        The order; ``price`` is ``nan`` for market orders, ``average`` ``nan`` before a fill,
        ``timestamp`` the last update the venue reported in ns (``0`` if it reported none).

    Raises:
        DataError: If a field is missing or malformed.
    """
    source = f"{exchange} order {client_id!r}" if client_id else f"{exchange} order"
    try:
        if not isinstance(raw, Mapping):
            raise DataError(f"expected an order structure, got {type(raw).__name__}")
        filled = _float(raw.get("filled"), "filled", 0.0)
        kind = _order_type(raw)
        average = _float(raw.get("average"), "average")
        cost = _float(raw.get("cost"), "cost")
        if math.isnan(average) and filled > 0 and cost > 0:
            average = cost / filled
        price = _float(raw.get("price"), "price")
        if kind in (OrderType.MARKET, OrderType.STOP) or price == 0:
            price = math.nan
        stamps = ("lastUpdateTimestamp", "lastTradeTimestamp", "timestamp")
        stamp = next((raw[k] for k in stamps if raw.get(k)), None)
        if raw.get("id") is None or not raw.get("symbol"):
            raise DataError("the order has no id or no symbol")
        return VenueOrder(
            client_id=str(raw.get("clientOrderId") or client_id),
            exchange_id=str(raw["id"]),
            symbol=str(raw["symbol"]),
            side=_side(raw.get("side")),
            type=kind,
            amount=_float(raw.get("amount"), "amount"),
            price=price,
            status=parse_order_status(raw.get("status"), filled),
            filled=filled,
            average=average,
            timestamp=_ns(stamp, "timestamp"),
        )
    except DataError as exc:
        raise DataError(exc.problem, source=source) from exc


def _fee(raw: Mapping[str, Any]) -> tuple[float, str]:
    """One fee and its currency from ccxt's ``fees`` list or ``fee`` entry."""
    fees = raw.get("fees")
    entries: Sequence[object] = fees if _is_list(fees) and fees else [raw.get("fee")]
    charged = [e for e in entries if isinstance(e, Mapping) and e.get("cost") is not None]
    if not charged:
        return 0.0, ""
    currency = str(charged[0].get("currency") or "")
    others = [e for e in charged if str(e.get("currency") or "") != currency]
    if others:
        _log.warning("fees_in_several_currencies", kept=currency, left_out=others)
    return sum(_number(e["cost"], "fee") for e in charged if e not in others), currency


def parse_my_trades(
    trades: object,
    *,
    exchange: str,
    symbol: str,
    client_ids: Mapping[str, str] | None = None,
) -> list[VenueTrade]:
    """Build `VenueTrade` values from ccxt's ``fetch_my_trades`` (or ``watch_my_trades``) answer.

    Args:
        trades: A list of ccxt trade structures.
        exchange: The venue's id, for error messages.
        symbol: The market's symbol, for error messages and trades that omit it.
        client_ids: Client order ids by the venue's order id, for trades that do not carry
            their order's client id (ccxt's websocket trades).

    Returns:
        The trades, oldest first.

    Raises:
        DataError: If a trade lacks its id, order, price, amount or time.
    """
    source = f"{exchange} {symbol} account trades"
    if not _is_list(trades):
        raise DataError(f"expected a list of trades, got {type(trades).__name__}", source=source)
    parsed: list[VenueTrade] = []
    for position, raw in enumerate(trades):
        try:
            if not isinstance(raw, Mapping):
                raise DataError(f"trade {raw!r} is not a mapping")
            if raw.get("id") is None or raw.get("order") is None:
                raise DataError("the trade has no id or no order id")
            fee, fee_currency = _fee(raw)
            parsed.append(
                VenueTrade(
                    trade_id=str(raw["id"]),
                    exchange_order_id=str(raw["order"]),
                    client_id=str(
                        raw.get("clientOrderId") or (client_ids or {}).get(str(raw["order"]), "")
                    ),
                    symbol=str(raw.get("symbol") or symbol),
                    side=_side(raw.get("side")),
                    price=_number(raw.get("price"), "price"),
                    amount=_number(raw.get("amount"), "amount"),
                    fee=fee,
                    fee_currency=fee_currency,
                    timestamp=int(_number(raw.get("timestamp"), "timestamp")) * _NS_PER_MS,
                    is_maker=raw.get("takerOrMaker") == "maker",
                )
            )
        except DataError as exc:
            raise DataError(exc.problem, source=source, row=position) from exc
    parsed.sort(key=lambda trade: trade.timestamp)
    return parsed


def parse_balances(raw: object, *, exchange: str) -> dict[str, VenueBalance]:
    """Build `VenueBalance` values from ccxt's ``fetch_balance`` answer.

    Args:
        raw: ccxt's balance structure (``free``, ``used`` and ``total`` tables by currency).
        exchange: The venue's id, for error messages.

    Returns:
        Balances by asset, assets with a zero total left out.

    Raises:
        DataError: If the answer is not a balance structure or an amount is malformed.
    """
    source = f"{exchange} balances"
    free, used, total = (_get(raw, key) for key in ("free", "used", "total"))
    if not isinstance(free, Mapping) and not isinstance(total, Mapping):
        raise DataError("expected ccxt's balance structure with free and total", source=source)
    free_of = free if isinstance(free, Mapping) else {}
    used_of = used if isinstance(used, Mapping) else {}
    total_of = total if isinstance(total, Mapping) else {}
    balances: dict[str, VenueBalance] = {}
    try:
        for asset in dict.fromkeys([*free_of, *used_of, *total_of]):
            whole = _float(total_of.get(asset), f"{asset} total")
            locked = _float(used_of.get(asset), f"{asset} used", 0.0)
            available = _float(free_of.get(asset), f"{asset} free")
            if math.isnan(available):
                available = 0.0 if math.isnan(whole) else whole - locked
            if available + locked != 0:
                balances[str(asset)] = VenueBalance(str(asset), available, locked)
    except DataError as exc:
        raise DataError(exc.problem, source=source) from exc
    return balances
