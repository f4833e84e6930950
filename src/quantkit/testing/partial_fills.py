"""PartialFills: a venue rule of the local exchange that fills resting orders in several trades.

Binance fills a resting limit order against whatever rests on the other side, so a large order
often fills in parts: its status is ``PARTIALLY_FILLED`` until the last part, ``executedQty``
grows with each trade, every trade has its own id and its own commission (in the asset received
unless paid in BNB), and the user-data stream sends one ``executionReport`` with
``"x": "TRADE"`` per trade (``l`` the trade's amount, ``z`` the total so far, ``L`` its price).

By default the local exchange fills a resting order whole the first time the price reaches it.
With this rule (``exchange.accounts.partial_fills = PartialFills(parts=3)``) each price step that
reaches a resting order (a `LocalExchange.set_price` call, or each point of a published candle's
walk in live mode) fills ONE part of it, so an order fills in ``parts`` trades over ``parts``
steps. Parts are equal (``qty / parts`` rounded down to the market's step, the last part takes
what is left), or, with a ``seed``, drawn between 20 % and 80 % of what is left, the same for the
same seed, order id and part: tests stay deterministic. Orders that take liquidity (market
orders, limit orders crossing the price, a triggered stop) still fill whole at once.

An OCO list's take-profit leg (``LIMIT_MAKER``) fills in parts the same way; its first part
expires the stop-loss leg (the activation of one leg cancels the other).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.testing.local_orders import LocalOrder

__all__ = ["PartialFills", "part_size"]

_LOW, _HIGH = 0.2, 0.8
"""With a seed, a part is this share of what is left (at random between the two)."""


@dataclass(frozen=True, slots=True)
class PartialFills:
    """Fill each resting order in ``parts`` trades, one per price step that reaches it.

    Args:
        parts: How many trades a resting order fills in (at least 2).
        seed: ``None`` for equal parts; else a string key the part sizes are drawn from.

    Raises:
        ConfigError: If ``parts`` < 2.

    Examples:
        >>> from decimal import Decimal
        >>> from quantkit.testing.local_orders import LocalOrder
        >>> order = LocalOrder(1, "c", "k", "BTCUSDT", "BUY", "LIMIT", Decimal("0.1"),
        ...                    Decimal("40000"), "GTC", 0)
        >>> str(PartialFills(parts=3).next_part(order, Decimal("0.00001")))
        '0.03333'
    """

    parts: int = 3
    seed: str | None = None

    def __post_init__(self) -> None:
        if self.parts < 2:
            raise ConfigError(f"PartialFills: parts must be at least 2, got {self.parts}")

    def next_part(self, order: LocalOrder, step: Decimal) -> Decimal:
        """The base amount the next trade of ``order`` fills.

        Args:
            order: A resting order with something left to fill.
            step: The market's amount step (``LOT_SIZE.stepSize``).

        Returns:
            A positive multiple of ``step``, at most what is left (all of it for the last part,
            or when a part would round to zero).
        """
        return part_size(
            self.parts, self.seed, order.order_id, order.qty, order.executed_qty,
            len(order.fills), step,
        )  # fmt: skip


def part_size(
    parts: int,
    seed: str | None,
    order_id: int,
    qty: Decimal,
    executed: Decimal,
    done: int,
    step: Decimal,
) -> Decimal:
    """The amount the next trade of a resting order fills, under a partial-fill rule.

    The spot `PartialFills` and the futures `FuturesPartialFills` both size parts this way.

    Args:
        parts: How many trades the order fills in.
        seed: ``None`` for equal parts; else the key the part sizes are drawn from.
        order_id: The order's id (part of the draw's key).
        qty: The order's amount.
        executed: How much of it is filled.
        done: How many trades it has filled in so far.
        step: The market's amount step.

    Returns:
        A positive multiple of ``step``, at most what is left (all of it for the last part,
        or when a part would round to zero).
    """
    left = qty - executed
    if done >= parts - 1:
        return left
    if seed is None:
        share = qty / parts
    else:
        draw = random.Random(f"{seed}:{order_id}:{done}").uniform(_LOW, _HIGH)
        share = left * Decimal(str(round(draw, 6)))
    part = (share / step).to_integral_value(rounding=ROUND_DOWN) * step
    return part if Decimal(0) < part < left else left
