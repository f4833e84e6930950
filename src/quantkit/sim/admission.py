"""The checks a venue makes before it accepts an order, shared by every broker.

The simulated exchange applies them to each order it accepts, and the live broker applies the
same function before it sends an order, so an order the backtest would refuse (below the
minimum amount or notional, a reduce-only order that would not reduce, a bracket on the wrong
side) is refused live with the same words, without a round trip to the venue.
"""

from __future__ import annotations

import math

from quantkit.domain.portfolio import Portfolio
from quantkit.sim.working import Working

__all__ = ["admission_problem"]


def admission_problem(w: Working, portfolio: Portfolio, reference_price: float) -> str:
    """Round the order's amount to its market's precision and apply the market's minimums.

    Args:
        w: The order with its market (``w.order.amount`` is set to the rounded amount).
        portfolio: The account (for reduce-only checks).
        reference_price: Latest price of the symbol (``nan`` when unknown), for the notional
            of market orders and the side of bracket exits.

    Returns:
        Why the order must be refused, or ``""`` when it may go.
    """
    order, market, request = w.order, w.market, w.order.request
    if request.amount is not None:
        amount = market.round_amount(request.amount)
        if amount <= 0 or amount < market.min_amount:
            return (
                f"amount {request.amount:g} rounds to {amount:g}, below the minimum "
                f"{max(market.min_amount, market.amount_increment):g} {market.base}"
            )
        order.amount = amount
        reference = w.limit or w.stop or reference_price
        notional = amount * reference
        contract = market.perpetual
        if contract is not None and contract.inverse:  # a contract is worth CS quote units
            notional = amount * contract.contract_size
        elif contract is not None:
            notional *= contract.contract_size
    elif market.perpetual is not None and market.perpetual.inverse:
        notional = math.nan  # a cost in the coin: its quote value is known at the fill
    else:
        notional = request.cost or 0.0
    if math.isfinite(notional) and notional < market.min_notional:
        return f"notional {notional:.8g} below the minimum {market.min_notional:g} {market.quote}"
    if request.reduce_only:
        held = portfolio.position(request.symbol).amount
        if held * w.sign >= 0:
            return f"reduce-only {request.side} would not reduce the {request.symbol} position"
    if not request.has_bracket:
        return ""
    return _bracket_problem(w, reference_price)


def _bracket_problem(w: Working, reference_price: float) -> str:
    request = w.order.request
    reference = w.limit or w.stop or reference_price
    if not math.isfinite(reference):
        return ""
    sl, tp = request.stop_loss, request.take_profit
    if sl is not None and (sl - reference) * w.sign >= 0:
        where = "below" if w.sign > 0 else "above"
        return f"stop_loss {sl:g} must be {where} the entry price {reference:g}"
    if tp is not None and (tp - reference) * w.sign <= 0:
        where = "above" if w.sign > 0 else "below"
        return f"take_profit {tp:g} must be {where} the entry price {reference:g}"
    return ""
