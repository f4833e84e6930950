"""Symbol filters of the local exchange: Binance spot's PRICE_FILTER, LOT_SIZE and NOTIONAL.

Binance refuses an order that breaks a filter with ``-1013`` and the message
``"Filter failure: <FILTER>"`` before it reaches the matching engine (``filters.md`` in
``binance/binance-spot-api-docs``):

* ``PRICE_FILTER``: a limit price must lie within [``minPrice``, ``maxPrice``] and be a whole
  number of ``tickSize`` steps above ``minPrice``;
* ``LOT_SIZE``: the quantity must lie within [``minQty``, ``maxQty``] and be a whole number of
  ``stepSize`` steps above ``minQty``;
* ``NOTIONAL``: ``price x quantity`` must be at least ``minNotional`` (market orders too, at the
  current price: ``applyMinToMarket``) and at most ``maxNotional`` (limit orders only).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from quantkit.testing.market_data import LocalMarket, format_number

__all__ = ["MAX_NOTIONAL", "MAX_PRICE", "FilterFailure", "check_filters"]

MAX_PRICE = Decimal("1000000")
"""``PRICE_FILTER.maxPrice`` of every local market."""
MAX_NOTIONAL = Decimal("9000000")
"""``NOTIONAL.maxNotional`` of every local market (not applied to market orders)."""


class FilterFailure(Exception):  # noqa: N818 - Binance's own name for the refusal
    """An order breaks one of the market's filters.

    Args:
        name: The filter, e.g. ``"LOT_SIZE"``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"Filter failure: {name}")
        self.name = name


def _decimal(value: float) -> Decimal:
    return Decimal(format_number(value))


def _on_grid(value: Decimal, low: Decimal, step: Decimal) -> bool:
    return (value - low) % step == 0


def check_filters(
    market: LocalMarket,
    kind: Literal["MARKET", "LIMIT"],
    qty: Decimal,
    price: Decimal | None,
    current: Decimal,
) -> None:
    """Check an order against the market's filters, in Binance's order.

    Args:
        market: The market.
        kind: ``"MARKET"`` or ``"LIMIT"``.
        qty: The base quantity.
        price: The limit price (``None`` for market orders).
        current: The market's current price (what a market order's notional is valued at).

    Raises:
        FilterFailure: Naming the first filter the order breaks.

    Examples:
        >>> btc = LocalMarket("BTC/USDT")
        >>> check_filters(btc, "LIMIT", Decimal("0.01"), Decimal("40000.00"), Decimal(40000))
        >>> check_filters(btc, "LIMIT", Decimal("0.0105"), Decimal("40000"), Decimal(40000))
        Traceback (most recent call last):
        ...
        quantkit.testing.filters.FilterFailure: Filter failure: LOT_SIZE
    """
    if kind == "LIMIT" and price is not None:
        tick = _decimal(market.tick_size)
        if not tick <= price <= MAX_PRICE or not _on_grid(price, tick, tick):
            raise FilterFailure("PRICE_FILTER")
    min_qty, step = _decimal(market.min_qty), _decimal(market.step_size)
    if not min_qty <= qty <= _decimal(market.max_qty) or not _on_grid(qty, min_qty, step):
        raise FilterFailure("LOT_SIZE")
    notional = qty * (current if kind == "MARKET" or price is None else price)
    if notional < _decimal(market.min_notional) or (kind == "LIMIT" and notional > MAX_NOTIONAL):
        raise FilterFailure("NOTIONAL")
