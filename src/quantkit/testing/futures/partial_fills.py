"""FuturesPartialFills: a rule of the local USD-M venue that fills resting orders in parts.

Binance fills a resting limit order against whatever rests on the other side, so a large order
often fills in several trades: ``PARTIALLY_FILLED`` until the last, ``executedQty`` growing,
one trade id, commission and ``ORDER_TRADE_UPDATE`` (``x: TRADE``, ``l`` the part, ``z`` the
total) per trade. By default the venue fills a resting order whole the first time the last
price reaches it; with ``exchange.trading.accounts.partial_fills = FuturesPartialFills(3)``
each price step that reaches it fills one part, so it fills in ``parts`` trades over ``parts``
steps. Parts are equal (rounded down to the quantity step, the last takes the rest) or, with a
``seed``, drawn between 20 % and 80 % of what is left, the same for the same seed, order and
part. Orders that take liquidity (market orders, crossing limits, triggered stops) still fill
whole at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quantkit.errors import ConfigError
from quantkit.testing.futures.orders import FuturesOrder
from quantkit.testing.partial_fills import part_size

__all__ = ["FuturesPartialFills"]


@dataclass(frozen=True, slots=True)
class FuturesPartialFills:
    """Fill each resting order in ``parts`` trades, one per price step that reaches it.

    Args:
        parts: How many trades a resting order fills in (at least 2).
        seed: ``None`` for equal parts; else a string key the part sizes are drawn from.

    Raises:
        ConfigError: If ``parts`` < 2.
    """

    parts: int = 3
    seed: str | None = None

    def __post_init__(self) -> None:
        if self.parts < 2:
            raise ConfigError(f"FuturesPartialFills: parts must be at least 2, got {self.parts}")

    def next_part(self, order: FuturesOrder, step: Decimal) -> Decimal:
        """Return the amount the next trade of a resting order fills.

        Args:
            order: A resting order with something left.
            step: The contract's quantity step.

        Returns:
            A positive multiple of ``step``, at most what is left (all of it for the last
            part, or when a part would round to zero).
        """
        return part_size(
            self.parts, self.seed, order.order_id, order.qty, order.executed_qty,
            order.trade_count, step,
        )  # fmt: skip
