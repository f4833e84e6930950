"""The kernel's named records: settings built by name, state fields, no clash with numpy."""

from __future__ import annotations

import math

import numpy as np

from quantkit import Market
from quantkit.sim.fees import FlatFees
from quantkit.vector import FastSettings, Signals
from quantkit.vector.layout import (
    LIMIT_ENTRY,
    NEAREST,
    PARAM_DTYPE,
    PARAMS,
    STATE_DTYPE,
    new_params,
    new_states,
)


def test_no_field_is_shadowed_by_a_numpy_scalar_attribute() -> None:
    # plain-Python kernel runs read fields as attributes of numpy records: `record.size` would
    # be numpy's element count, not a field called "size"
    taken = set(dir(np.generic))
    assert not [name for name in (*PARAM_DTYPE.names, *STATE_DTYPE.names) if name in taken]
    record = new_params(1)[0]
    for name in PARAMS:
        record[name] = 1  # (1 fits every field type, the bools included)
        assert getattr(record, name) == 1


def test_settings_fill_each_named_field() -> None:
    market = Market(
        "BTC/USDT", "BTC", "USDT", amount_increment=0.001, price_increment=0.01,
        min_amount=0.002, min_notional=5.0, taker_fee=0.0007, maker_fee=0.0002,
    )  # fmt: skip
    settings = FastSettings(
        cash=5_000.0,
        market=market,
        fees=FlatFees(maker=-0.0001, taker=0.0005, per_order=0.5),
        slippage_bps=25.0,
        allow_short=True,
        leverage=2.0,
        intrabar="nearest",
        warmup=3,
    )
    none = np.zeros(4, np.bool_)
    signals = Signals(
        entries=none, exits=none, size=0.5, sl_pct=0.02, entry_type="limit",
        entry_offset=0.01, entry_valid_bars=4,
    )  # fmt: skip
    p = settings.params("BTC/USDT", signals)[0]
    assert (p.cash, p.entry_size, p.sl_pct) == (5_000.0, 0.5, 0.02)
    assert math.isnan(p.tp_pct) and math.isnan(p.trail_pct)  # none: NaN
    assert (p.taker, p.maker, p.per_order) == (0.0005, -0.0001, 0.5)  # the fee model's rates
    assert p.entry_fee == 0.0007  # limit entries are sized with the market's taker rate
    assert p.slippage == 0.0025
    assert (p.amount_step, p.amount_scale, p.price_step, p.price_scale) == (0.001, 1e3, 0.01, 1e2)
    assert (p.min_amount, p.min_notional, p.dust) == (0.002, 5.0, 0.002)
    assert (bool(p.allow_short), p.leverage, p.intrabar, p.warmup) == (True, 2.0, NEAREST, 3)
    assert (p.entry_type, p.entry_offset, p.entry_valid) == (LIMIT_ENTRY, 0.01, 4)


def test_states_start_with_the_cash_and_no_liquidation() -> None:
    params = new_params(3)
    params["cash"] = [1.0, 2.0, 3.0]
    states = new_states(params)
    assert list(states.cash) == [1.0, 2.0, 3.0]
    assert list(states.liquidation_bar) == [-1, -1, -1]
    assert not states.pos.any() and not states.n_fills.any()
