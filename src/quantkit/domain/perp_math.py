"""Perpetual-futures arithmetic as pure functions on floats (margin, liquidation, funding).

Every function here takes and returns plain floats, with no objects in the formulas, so a
compiled kernel can reuse them unchanged. The rules are Binance USD-M's (linear) and COIN-M's
(inverse) published ones, one-way position mode:

- notional: linear ``size * contract_size * price`` in the quote (settle) currency; inverse
  ``size * contract_size / price`` in the base (settle) coin;
- initial margin ``notional / leverage``; maintenance margin ``notional * mmr - cum`` where
  ``mmr`` and ``cum`` (the maintenance amount) are those of the bracket the notional falls in;
- liquidation when wallet balance + unrealised P&L falls to the maintenance margin. Solving
  that for the price gives the venue's formula (linear)::

      LP = (WB - TMM1 + UPNL1 + cum - side * size * EP) / (size * mmr - side * size)

  and (inverse, contract size ``CS``)::

      LP = size * CS * (mmr + side) / (WB - TMM1 + UPNL1 + cum + side * size * CS / EP)

  where ``WB`` is the cross wallet balance (cross margin) or the position's isolated wallet
  balance (isolated margin, with ``TMM1 = UPNL1 = 0``), ``TMM1`` and ``UPNL1`` the maintenance
  margin and unrealised P&L of every other position, ``side`` +1 long / -1 short and ``size``
  the absolute position size;
- liquidation clearance: the position closes at its liquidation price and the fee
  ``liquidation_fee x notional`` there is taken from the margin left, never more
  (`liquidation_clearance`);
- funding: ``signed_size * contract_size * mark * rate`` (linear; inverse divides by the mark)
  is what the account pays: longs pay when the rate is positive, shorts receive.
"""

from __future__ import annotations

__all__ = [
    "contract_value",
    "funding_payment",
    "initial_margin",
    "liquidation_clearance",
    "liquidation_price_inverse",
    "liquidation_price_linear",
    "maintenance_margin",
    "notional_value",
    "unrealized_pnl",
]


def notional_value(size: float, price: float, contract_size: float, inverse: bool) -> float:
    """Position value at ``price``: in the quote currency (linear) or the base coin (inverse).

    Args:
        size: Position size in contracts (either sign; its absolute value counts).
        price: Price (the mark for margin figures).
        contract_size: What one contract is: base units (linear) or quote units (inverse).
        inverse: Whether the contract is coin-margined (inverse).

    Returns:
        The absolute notional value.

    Examples:
        >>> notional_value(-2.0, 30_000.0, 1.0, False)
        60000.0
        >>> notional_value(100.0, 25_000.0, 100.0, True)
        0.4
    """
    size = abs(size)
    return size * contract_size / price if inverse else size * contract_size * price


def contract_value(price: float, contract_size: float, inverse: bool) -> float:
    """What one long contract is worth at ``price``, in the settle currency, up to a constant.

    Linear: ``CS * price``; inverse: ``-CS / price``. The difference of two values is the
    P&L of one long contract between the two prices (``CS * (1/entry - 1/exit)`` inverse), so
    an account that moves ``-amount * contract_value(price)`` of cash per fill keeps
    ``cash + sum(amount * contract_value(mark))`` equal to its equity, as a spot account
    keeps ``cash + sum(amount * price)``.

    Args:
        price: Price (> 0).
        contract_size: Contract size.
        inverse: Whether the contract is inverse.

    Returns:
        The value.

    Examples:
        >>> contract_value(20_000.0, 100.0, True) - contract_value(25_000.0, 100.0, True)
        -0.001
    """
    if inverse:
        return -contract_size / price
    return contract_size * price


def unrealized_pnl(
    signed_size: float, entry: float, price: float, contract_size: float, inverse: bool
) -> float:
    """Profit of an open position marked at ``price``, in the settle currency.

    Args:
        signed_size: Position size in contracts, > 0 long, < 0 short.
        entry: Average entry price.
        price: Mark price.
        contract_size: Contract size.
        inverse: Whether the contract is inverse.

    Returns:
        ``size * CS * (price - entry)`` (linear) or ``size * CS * (1/entry - 1/price)``
        (inverse).
    """
    if inverse:
        return signed_size * contract_size * (1.0 / entry - 1.0 / price)
    return signed_size * contract_size * (price - entry)


def initial_margin(notional: float, leverage: float) -> float:
    """Margin needed to open a position of ``notional`` at ``leverage``.

    Args:
        notional: Absolute notional value.
        leverage: Leverage of the symbol (>= 1).

    Returns:
        ``notional / leverage``.
    """
    return notional / leverage


def maintenance_margin(notional: float, rate: float, cum: float) -> float:
    """Maintenance margin of a position whose notional falls in a bracket (``rate``, ``cum``).

    Args:
        notional: Absolute notional value.
        rate: The bracket's maintenance margin rate.
        cum: The bracket's maintenance amount.

    Returns:
        ``notional * rate - cum``.
    """
    return notional * rate - cum


def liquidation_price_linear(
    wallet: float,
    other_maintenance: float,
    other_upnl: float,
    cum: float,
    signed_size: float,
    entry: float,
    rate: float,
) -> float:
    """Liquidation price of a linear (USD-M) position in one-way mode, for one bracket.

    Args:
        wallet: ``WB``: the cross wallet balance, or the isolated wallet balance.
        other_maintenance: ``TMM1``: maintenance margin of every other position (0 isolated).
        other_upnl: ``UPNL1``: unrealised P&L of every other position (0 isolated).
        cum: The bracket's maintenance amount.
        signed_size: Position size in base units (contracts x contract size), > 0 long.
        entry: Average entry price.
        rate: The bracket's maintenance margin rate.

    Returns:
        The price at which margin balance equals maintenance margin; ``nan`` for no position.
        A long whose margin covers any fall returns a value <= 0 (never liquidated).
    """
    size = abs(signed_size)
    if size == 0.0:
        return float("nan")
    side = 1.0 if signed_size > 0 else -1.0
    numerator = wallet - other_maintenance + other_upnl + cum - side * size * entry
    return numerator / (size * rate - side * size)


def liquidation_price_inverse(
    wallet: float,
    other_maintenance: float,
    other_upnl: float,
    cum: float,
    signed_size: float,
    entry: float,
    rate: float,
    contract_size: float,
) -> float:
    """Liquidation price of an inverse (COIN-M) position in one-way mode, for one bracket.

    Args:
        wallet: ``WB`` in the settle coin (cross or isolated wallet balance).
        other_maintenance: ``TMM1`` in the coin (0 isolated).
        other_upnl: ``UPNL1`` in the coin (0 isolated).
        cum: The bracket's maintenance amount, in the coin.
        signed_size: Position size in contracts, > 0 long.
        entry: Average entry price.
        rate: The bracket's maintenance margin rate.
        contract_size: Quote value of one contract (e.g. 100 USD).

    Returns:
        The liquidation price (a long is liquidated at or below it, a short at or above it);
        ``nan`` for no position. A short no price liquidates gets ``inf``; a long whose
        margin is gone at every price gets ``inf`` too (liquidated at once).
    """
    size = abs(signed_size)
    if size == 0.0:
        return float("nan")
    side = 1.0 if signed_size > 0 else -1.0
    denominator = (
        wallet - other_maintenance + other_upnl + cum + side * size * contract_size / entry
    )
    if (side > 0 and denominator <= 0.0) or (side < 0 and denominator >= 0.0):
        return float("inf")
    return size * contract_size * (rate + side) / denominator


def funding_payment(
    signed_size: float, mark: float, rate: float, contract_size: float, inverse: bool
) -> float:
    """What the account pays at a funding timestamp (negative: what it receives).

    Args:
        signed_size: Position held at the funding timestamp, in contracts, > 0 long.
        mark: Mark price at the funding timestamp.
        rate: Funding rate (e.g. 0.0001 for 0.01 %).
        contract_size: Contract size.
        inverse: Whether the contract is inverse (payment in the coin).

    Returns:
        ``signed_size * CS * mark * rate`` (linear) or ``signed_size * CS / mark * rate``
        (inverse): positive when a long pays a positive rate.

    Examples:
        >>> funding_payment(2.0, 30_000.0, 0.0001, 1.0, False)  # a long pays
        6.0
        >>> funding_payment(-2.0, 30_000.0, 0.0001, 1.0, False)  # a short receives
        -6.0
    """
    if inverse:
        return signed_size * contract_size / mark * rate
    return signed_size * contract_size * mark * rate


def liquidation_clearance(fee_due: float, margin_left: float) -> float:
    """The liquidation clearance fee actually taken: what is due, at most the margin left.

    Binance's liquidation protocol charges the clearance fee on what is liquidated, out of
    the collateral left at the liquidation price, and never makes the account pay beyond it
    (the insurance fund takes any shortfall). quantkit's simulator and fast path both call
    this; the local venue model applies the same rule on its own.

    Args:
        fee_due: ``liquidation_fee x notional`` of what is closed, at the liquidation price.
        margin_left: The margin balance left once the position is closed at that price
            (isolated: the isolated wallet plus the P&L there; cross: the wallet after the
            closes); below zero only after a gap.

    Returns:
        ``min(fee_due, max(margin_left, 0))``.

    Examples:
        >>> liquidation_clearance(451.8, 144.6)  # first bracket: the fee takes it all
        144.6
        >>> liquidation_clearance(48_509.0, 80_718.0)  # 2.5 % bracket: 32,209 is kept
        48509.0
    """
    return min(fee_due, max(margin_left, 0.0))
