"""Brackets as values: the exit levels of a filled entry and the OCO pair that protects it.

The simulator attaches its exits in `quantkit.sim.book`; the live broker computes the same
levels here (``sl_pct`` / ``tp_pct`` from the entry's average fill price, every price rounded to
the nearest tick) and sends them as one venue OCO list, or holds them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, Side

__all__ = ["BracketLevels", "OcoRequest", "bracket_levels"]


@dataclass(frozen=True, slots=True)
class BracketLevels:
    """Where a filled entry's exits sit.

    Attributes:
        side: Side of the exits (the opposite of the entry's).
        stop_loss: Stop-loss trigger price, or ``None``.
        take_profit: Take-profit limit price, or ``None``.
    """

    side: Side
    stop_loss: float | None
    take_profit: float | None

    def hit(self, low: float, high: float) -> str:
        """Which exit a price range reaches: ``"sl"``, ``"tp"`` or ``""``.

        When one range reaches both, the stop-loss wins (the adverse assumption of the
        backtest's default intrabar rule).

        Args:
            low: Lowest price seen.
            high: Highest price seen.

        Returns:
            The role of the exit reached first under that rule.
        """
        sell = self.side is Side.SELL
        sl, tp = self.stop_loss, self.take_profit
        if sl is not None and (low <= sl if sell else high >= sl):
            return "sl"
        if tp is not None and (high >= tp if sell else low <= tp):
            return "tp"
        return ""


def bracket_levels(request: OrderRequest, average_price: float, market: Market) -> BracketLevels:
    """The exit levels of an entry that filled at ``average_price`` (the simulator's rule).

    Args:
        request: The entry's request (with ``stop_loss``/``take_profit`` or their ``_pct``).
        average_price: The entry's average fill price.
        market: Its market (prices round to the nearest tick).

    Returns:
        The levels.

    Examples:
        >>> from quantkit.domain.order import OrderType
        >>> m = Market("BTC/USDT", "BTC", "USDT", price_increment=0.01)
        >>> r = OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, amount=0.1,
        ...                  stop_loss_pct=0.03, take_profit_pct=0.06)
        >>> bracket_levels(r, 40_000.0, m)
        BracketLevels(side=<Side.SELL: 'sell'>, stop_loss=38800.0, take_profit=42400.0)
    """
    sign = request.sign
    sl, tp = request.stop_loss, request.take_profit
    if request.stop_loss_pct is not None:
        sl = average_price * (1.0 - sign * request.stop_loss_pct)
    if request.take_profit_pct is not None:
        tp = average_price * (1.0 + sign * request.take_profit_pct)
    side = Side.SELL if sign > 0 else Side.BUY
    return BracketLevels(
        side,
        None if sl is None else market.round_price(sl),
        None if tp is None else market.round_price(tp),
    )


@dataclass(frozen=True, slots=True)
class OcoRequest:
    """A venue one-cancels-the-other pair: a take-profit limit and a stop-loss stop-market.

    Attributes:
        symbol: Unified symbol.
        side: Side of both legs.
        amount: Base amount of each leg (rounded to the market's step).
        take_profit: The limit leg's price.
        stop_loss: The stop leg's trigger price.
        list_client_id: The list's client id.
        tp_client_id: The take-profit leg's client id.
        sl_client_id: The stop-loss leg's client id.
    """

    symbol: str
    side: Side
    amount: float
    take_profit: float
    stop_loss: float
    list_client_id: str
    tp_client_id: str
    sl_client_id: str
