"""The one definition of rounding, dust and flatness shared by the engine and the fast path."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from quantkit.domain.amounts import (
    AMOUNT_RTOL,
    is_dust_amount,
    is_flat_amount,
    round_amount_down,
)
from quantkit.domain.market import Market
from quantkit.domain.position import Position
from quantkit.vector import kernel


def test_2049_with_a_5_decimal_step_keeps_its_last_step() -> None:
    # 2049 / 0.00001 is 204899999.99999997 in floats: 3e-8 short of the whole 204900000 steps,
    # i.e. 1.5e-16 relative, well inside the noise (2e-15).
    assert 2049.0 / 0.00001 < 204_900_000
    market = Market("A/USDT", "A", "USDT", amount_increment=0.00001)
    assert market.round_amount(2049.0) == 2049.0
    assert kernel._round_amount(2049.0, 0.00001, 1e5) == 2049.0


def test_an_amount_short_of_a_step_beyond_noise_rounds_down() -> None:
    # 1.9999999998835847 is 1.16e-10 short of 2 (5.8e-11 relative): a real difference, so the
    # answer is 1, never 2 (which would sell more than asked).
    market = Market("A/USDT", "A", "USDT", amount_increment=1.0)
    assert market.round_amount(1.9999999998835847) == 1.0
    assert kernel._round_amount(1.9999999998835847, 1.0, 1.0) == 1.0
    # with a 0.001 step: 0.0019999999968 is 1.6e-9 relative short of 0.002 -> 0.001
    assert round_amount_down(0.0019999999968, 0.001, 1e3) == 0.001


def test_noise_below_a_step_is_absorbed_and_the_bound_holds() -> None:
    # 0.3 / 0.1 is 2.9999999999999996 (one ulp below 3): noise, so 3 steps
    assert 0.3 / 0.1 < 3
    assert round_amount_down(0.3, 0.1, 10.0) == 0.3
    # 10000 with a 1e-8 step: 1e12 steps, noise allows 0.002 of a step, never a whole one
    assert round_amount_down(10_000.0, 1e-8, 1e8) == 10_000.0
    assert round_amount_down(9_999.999_999_99, 1e-8, 1e8) == 9_999.999_999_99


def test_reported_dust_case_is_dust_in_both_paths() -> None:
    # 0.0019999999968 against a 0.002 minimum: 3.2e-12 short, 1.6e-9 relative (> 2e-15)
    position = Position("A/USDT", amount=0.0019999999968, dust_below=0.002)
    assert position.is_dust and position.is_flat
    assert kernel._flat(0.0019999999968, 0.002)
    assert kernel._flat(-0.0019999999968, 0.002)
    # a holding equal to the threshold, or short of it by noise only, is tradable
    for amount in (0.002, 0.002 * (1 - AMOUNT_RTOL / 4), 0.0021):
        assert not Position("A/USDT", amount=amount, dust_below=0.002).is_flat
        assert not kernel._flat(amount, 0.002)
        assert not is_dust_amount(-amount, 0.002)


@pytest.mark.parametrize(
    ("amount", "threshold", "flat", "dust"),
    [
        (0.0, 0.002, True, False),
        (0.0, 0.0, True, False),
        (1e-300, 0.0, False, False),  # no market minimum: only zero is flat
        (0.001, 0.002, True, True),
        (-0.001, 0.002, True, True),
        (0.0019999999968, 0.002, True, True),
    ],
)
def test_flat_and_dust_table(amount: float, threshold: float, flat: bool, dust: bool) -> None:
    assert is_flat_amount(amount, threshold) is flat
    assert is_dust_amount(amount, threshold) is dust
    assert kernel._flat(amount, threshold) is flat
    position = Position("A/USDT", amount=amount, dust_below=threshold)
    assert (position.is_flat, position.is_dust) == (flat, dust)


def test_market_and_kernel_rounding_agree_bit_for_bit() -> None:
    # One function, so identical by construction; checked on awkward values anyway.
    rng = np.random.default_rng(5)
    for step in (1.0, 0.1, 0.001, 0.00001, 1e-8, 0.5, 0.25, 5.0):
        market = Market("A/USDT", "A", "USDT", amount_increment=step)
        scale = (
            10.0 ** {1.0: 0, 0.1: 1, 0.001: 3, 0.00001: 5, 1e-8: 8, 0.5: 1, 0.25: 2, 5.0: 0}[step]
        )
        values = np.concatenate([rng.uniform(0, 10, 200), rng.uniform(0, 1e6, 200)])
        values = np.concatenate([values, np.round(values / step) * step])  # on the steps too
        for value in values:
            expected = market.round_amount(float(value))
            assert kernel._round_amount(float(value), step, scale) == expected
            assert expected <= value * (1 + AMOUNT_RTOL) + np.spacing(value)


def test_compiled_rules_give_the_same_answers() -> None:
    # The kernel runs these rules compiled by numba (its own floor and rint): same answers.
    @numba.njit(cache=False)
    def compiled(amount: float, step: float, scale: float, threshold: float) -> tuple[float, bool]:
        return kernel._round_amount(amount, step, scale), kernel._flat(amount, threshold)

    cases = [
        (2049.0, 0.00001, 1e5, 0.0001, 2049.0, False),
        (1.9999999998835847, 1.0, 1.0, 1.0, 1.0, False),
        (0.0019999999968, 0.001, 1e3, 0.002, 0.001, True),
        (0.3, 0.1, 10.0, 0.1, 0.3, False),
        (10_000.0, 1e-8, 1e8, 0.0, 10_000.0, False),
    ]
    for amount, step, scale, threshold, rounded, flat in cases:
        assert compiled(amount, step, scale, threshold) == (rounded, flat)
        assert (round_amount_down(amount, step, scale), is_flat_amount(amount, threshold)) == (
            rounded,
            flat,
        )
