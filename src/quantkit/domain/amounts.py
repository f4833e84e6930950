"""Amount rules shared by the event simulator and the compiled fast path: one definition.

`Market.round_amount`, `Position.is_flat` / `Position.is_dust` and the numba kernel of
``quantkit.vector`` all call these functions, so the two paths cannot disagree about rounding,
dust or flatness. The module holds plain numbers and functions of plain floats only (math and
numpy scalars, no quantkit objects), so the kernel compiles them as they are.

Float noise tolerance: ``AMOUNT_RTOL`` = 2e-15, relative (about 9 ulps of a double). A step
count, or a holding, within ``AMOUNT_RTOL`` of a whole step (or of the dust threshold) counts
as exactly there; anything further away is a real difference. So a rounded amount never
exceeds the requested one by more than ``AMOUNT_RTOL`` x the amount, and never by a step
(``2049 / 0.00001 = 204899999.99999997`` keeps its last step, while ``1.9999999998835847``
with step ``1`` rounds DOWN to ``1``: it is 5.8e-11 short of ``2``, far above noise; and
``0.0019999999968`` is dust against a ``0.002`` minimum). ``SNAP_RTOL`` = 1e-12 is the
separate, wider rule of `Position.apply`: a closing fill that leaves less than this fraction
of the amounts involved leaves exactly zero (the leftover of a subtraction of near-equal
numbers).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["AMOUNT_RTOL", "SNAP_RTOL", "is_dust_amount", "is_flat_amount", "round_amount_down"]

AMOUNT_RTOL = 2e-15
"""Relative float noise in amounts: differences at most this x the amount are not real."""

SNAP_RTOL = 1e-12
"""A closing fill leaving less than this x the amounts involved leaves exactly zero."""


def round_amount_down(amount: float, step: float, scale: float) -> float:
    """Round ``amount`` down to a multiple of ``step``, absorbing float noise.

    Args:
        amount: Amount in base currency.
        step: Step size; ``<= 0`` means any amount (returned as given).
        scale: ``10 ** decimals`` of the step (1 when the step is not a decimal fraction);
            the result is snapped to that many decimals so that it prints exactly.

    Returns:
        The largest multiple of ``step`` not above ``amount * (1 + AMOUNT_RTOL)``.
    """
    if step <= 0.0:
        return amount
    units = amount / step
    units = math.floor(units + abs(units) * AMOUNT_RTOL)
    return float(np.rint(units * step * scale)) / scale


def is_dust_amount(amount: float, threshold: float) -> bool:
    """Whether a non-zero holding is below the smallest tradable amount (beyond noise).

    Args:
        amount: Signed holding.
        threshold: The market's ``dust_below`` (``0`` = no dust).

    Returns:
        ``True`` when ``0 < |amount| < threshold`` by more than ``AMOUNT_RTOL`` x threshold.
    """
    return amount != 0.0 and abs(amount) < threshold * (1.0 - AMOUNT_RTOL)


def is_flat_amount(amount: float, threshold: float) -> bool:
    """Whether nothing tradable is held: zero, or dust (see `is_dust_amount`).

    Args:
        amount: Signed holding.
        threshold: The market's ``dust_below`` (``0`` = no dust).

    Returns:
        ``True`` for ``0`` or dust.
    """
    return amount == 0.0 or abs(amount) < threshold * (1.0 - AMOUNT_RTOL)
