"""The live broker's local checks of an order, the same words as a backtest's.

Before an order is journaled and queued, `LiveBroker` checks it against the portfolio with the
simulator's own admission rules (so a refusal reads the same live and in a backtest), sizes a
cost order as an amount, and tells exits from entries (entries are refused while the account
diverges from the journal; exits stay allowed).
"""

from __future__ import annotations

import dataclasses
import math

from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest, Side
from quantkit.domain.portfolio import Portfolio
from quantkit.sim.admission import admission_problem
from quantkit.sim.working import Working

__all__ = ["as_amount", "is_exit", "order_problem"]


def order_problem(
    order: Order, market: Market, portfolio: Portfolio, reference_price: float
) -> str:
    """Why the account cannot take ``order`` now (``""`` if it can); sizes cost orders.

    A cost-sized order gets its amount (``order.amount``) from ``reference_price``, rounded to
    the market's precision, and is checked against the market's minimums.

    Args:
        order: The order (its ``amount`` is set for cost orders).
        market: Its market.
        portfolio: The account.
        reference_price: Latest close of the symbol.

    Returns:
        The refusal, in the backtest's words, or ``""``.
    """
    request = order.request
    if request.amount is not None:
        return admission_problem(Working(order, market, 0), portfolio, reference_price)
    cost = request.cost or 0.0
    if not (math.isfinite(reference_price) and reference_price > 0):
        return "cost-sized order without a reference price"
    sized = market.round_amount(cost / reference_price)
    order.amount = sized
    if sized <= 0 or sized < market.min_amount:
        return f"cost {request.cost:g} buys {sized:g} {market.base}, below the minimum"
    if sized * reference_price < market.min_notional:
        return (
            f"notional {sized * reference_price:.8g} below the minimum "
            f"{market.min_notional:g} {market.quote}"
        )
    return ""


def is_exit(portfolio: Portfolio, request: OrderRequest, reference_price: float) -> bool:
    """Whether ``request`` only reduces the position in its symbol.

    Args:
        portfolio: The account.
        request: The order.
        reference_price: Latest close (sizes cost orders).

    Returns:
        True for a sell of at most the long position, or a buy of at most the short one.
    """
    held = portfolio.position(request.symbol).amount
    amount = request.amount
    if amount is None and request.cost is not None and reference_price > 0:
        amount = request.cost / reference_price
    if amount is None:
        return False
    if request.side is Side.SELL:
        return held > 0 and amount <= held * (1 + 1e-9)
    return held < 0 and amount <= -held * (1 + 1e-9)


def as_amount(request: OrderRequest, amount: float) -> OrderRequest:
    """``request`` sized by ``amount`` instead of by cost.

    Args:
        request: A cost-sized request.
        amount: The base amount it buys or sells.

    Returns:
        The amount-sized request.
    """
    return dataclasses.replace(request, amount=amount, cost=None)
