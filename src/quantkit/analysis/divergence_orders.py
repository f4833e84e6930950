"""The orders of one run, live or backtest, reduced to what `divergence_report` compares.

Each order is keyed by its sequence number within the run (`order_sequence`); fees are valued
in the market's quote currency. pandas is only touched through the frames passed in.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quantkit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.engine.result import Result

__all__ = ["OrderView", "backtest_orders", "fee_in_quote", "keyed", "live_orders", "order_sequence"]

_NAN = math.nan
_AMOUNT_TOLERANCE = 1e-9  # relative
_DIGITS = re.compile(r"\d+")


def order_sequence(client_id: str) -> tuple[int, str]:
    """Split a client order id into the order's sequence number and its leg.

    The number is the last ``-``-separated part made only of digits; what follows it is the
    leg (``"sl"``/``"tp"`` for bracket exits, ``""`` otherwise). Whatever precedes it is the
    mode's prefix, which the comparison ignores.

    Args:
        client_id: E.g. ``"qk-000012"``, ``"qk3f2a9c1b0d-12"`` or ``"qk-000012-sl"``.

    Returns:
        ``(number, leg)``.

    Raises:
        DataError: If the id holds no ``-``-separated number.

    Examples:
        >>> order_sequence("qk-000012"), order_sequence("live-7-sl")
        ((12, ''), (7, 'sl'))
    """
    parts = client_id.split("-")
    for k in range(len(parts) - 1, 0, -1):
        if _DIGITS.fullmatch(parts[k]):
            return int(parts[k]), "-".join(parts[k + 1 :])
    raise DataError(
        f"client id {client_id!r} has no sequence number after a '-'", source="event tape"
    )


@dataclass(slots=True)
class OrderView:
    """One order of one mode, reduced to what the comparison needs."""

    client_id: str
    symbol: str
    side: str
    status: str = ""
    reason: str = ""
    ordered: float = _NAN
    cost: float = _NAN
    filled: float = 0.0
    fee: float = 0.0
    first_fill: int | None = None
    fills: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def price(self) -> float:
        """Volume-weighted average fill price (NaN without fills)."""
        amount = sum(a for a, _, _ in self.fills)
        return sum(a * p for a, p, _ in self.fills) / amount if amount > 0 else _NAN

    @property
    def partial(self) -> bool:
        """Whether the order filled, but less than its ordered amount."""
        ordered = self.ordered
        return self.filled > 0 and self.filled < ordered * (1 - _AMOUNT_TOLERANCE)

    def add_fill(self, amount: float, price: float, fee: float, at: int) -> None:
        """Add one fill (fee in the quote currency) at ``at`` ns."""
        self.fills.append((amount, price, fee))
        self.first_fill = at if self.first_fill is None else min(self.first_fill, at)


def fee_in_quote(fee: float, currency: str, symbol: str, price: float) -> float:
    """A fee in the market's quote currency (a fee in the base currency is valued at ``price``)."""
    base, _, rest = symbol.partition("/")
    quote, _, settle = rest.partition(":")
    if currency in ("", quote, settle):
        return fee
    if currency == base:
        return fee * price
    warnings.warn(
        f"divergence: a fee of {fee} {currency} on {symbol} is neither in {base} nor {quote}; "
        "it is compared as if it were in the quote currency",
        stacklevel=4,
    )
    return fee


def keyed(views: dict[str, OrderView], mode: str) -> dict[tuple[int, str], OrderView]:
    """Key one mode's orders by `order_sequence`; two orders with one key are a `DataError`."""
    keyed: dict[tuple[int, str], OrderView] = {}
    for view in views.values():
        key = order_sequence(view.client_id)
        other = keyed.get(key)
        if other is not None:
            raise DataError(
                f"{mode} orders {other.client_id!r} and {view.client_id!r} share sequence "
                f"number {key[0]}; orders are matched by that number",
                source="event tape",
            )
        keyed[key] = view
    return keyed


def live_orders(frame: pd.DataFrame) -> dict[tuple[int, str], OrderView]:
    """The live run's orders: intents, then status updates (last wins), then fills."""
    rows = frame[frame["kind"].isin(("intent", "order", "fill"))].sort_values("seq", kind="stable")
    views: dict[str, OrderView] = {}
    fee_rows: dict[str, float] = {}
    for row in rows.to_dict("records"):
        client_id = str(row["client_id"])
        view = views.get(client_id)
        if view is None:
            view = views[client_id] = OrderView(client_id, str(row["symbol"]), str(row["side"]))
        price, amount = float(row["price"]), float(row["amount"])
        if row["kind"] == "fill":
            fee = fee_in_quote(float(row["fee"]), str(row["fee_currency"]), view.symbol, price)
            view.add_fill(amount, price, fee, int(row["time"]))
            continue
        view.status, view.reason = str(row["status"]), str(row["reason"])
        if not math.isnan(amount):
            view.ordered = amount
        if not math.isnan(row["cost"]):
            view.cost = float(row["cost"])
        if row["kind"] == "order":
            view.filled = float(row["filled"])
            fee_rows[client_id] = float(row["fee"])
    for client_id, view in views.items():
        if view.fills:
            view.filled = sum(a for a, _, _ in view.fills)
            view.fee = sum(f for _, _, f in view.fills)
            view.status = view.status or "filled"
        else:
            view.fee = fee_rows.get(client_id, 0.0)
    return keyed(views, "live")


def backtest_orders(result: Result) -> dict[tuple[int, str], OrderView]:
    """The backtest's orders and fills, from its result's order and fill tables."""
    import pandas as pd  # noqa: PLC0415

    views: dict[str, OrderView] = {}
    for row in result.orders.to_dict("records"):
        views[str(row["client_id"])] = OrderView(
            str(row["client_id"]),
            str(row["symbol"]),
            str(row["side"]),
            status=str(row["status"]),
            reason=str(row["reason"]),
            ordered=float(row["amount"]),
            cost=float(row["cost"]),
            filled=float(row["filled"]),
            fee=float(row["fee"]),
        )
    fills = result.fills
    times: list[int] = pd.DatetimeIndex(fills["time"]).as_unit("ns").asi8.tolist()
    for row, at in zip(fills.to_dict("records"), times, strict=True):
        view = views[str(row["client_id"])]
        price = float(row["price"])
        fee = fee_in_quote(float(row["fee"]), str(row["fee_currency"]), view.symbol, price)
        view.add_fill(float(row["amount"]), price, fee, at)
    for view in views.values():
        if view.fills:
            view.fee = sum(f for _, _, f in view.fills)
    return keyed(views, "backtest")
