"""Properties of TWAP parents over random bars, schedules and partial fills (backtest)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit import BacktestBroker, Engine, Market, SeriesFeed
from quantkit.domain.bars import BarSeries
from tests.algos.helpers import StartsParent
from tests.builders import HOUR, make_series

MARKET = {"BTC/USDT": Market("BTC/USDT", "BTC", "USDT", maker_fee=0.0, taker_fee=0.0)}


def walk(count: int, seed: int) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    opens = np.concatenate([[100.0], close[:-1]])
    volume = rng.uniform(1, 30, count)
    rows = [
        (o, max(o, c) * 1.003, min(o, c) * 0.997, c, v)
        for o, c, v in zip(opens, close, volume, strict=True)
    ]
    return make_series(rows)


def backtest(series: BarSeries, spec: dict[str, Any], participation: float | None) -> Any:
    strategy = StartsParent(lambda s: s.twap("buy", **spec), at=1)
    result = Engine(
        feed=SeriesFeed(series),
        strategy=strategy,
        broker=BacktestBroker(cash=1e7, markets=MARKET, participation=participation),
    ).run()
    return strategy, result


twaps = st.fixed_dictionaries(
    {
        "amount": st.floats(0.5, 20.0),
        "horizon": st.integers(2, 30).map(lambda h: h * HOUR // 2),
        "slices": st.integers(1, 12),
        "limit_offset": st.none() | st.floats(-0.002, 0.004),
        "time_jitter": st.floats(0.0, 0.9),
        "seed": st.integers(0, 1000),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=twaps,
    seed=st.integers(0, 10_000),
    participation=st.none() | st.floats(0.005, 0.2),
    cut=st.integers(3, 30),
)
def test_twap_children_add_up_never_exceed_the_rest_and_never_run_ahead(
    spec: dict[str, Any], seed: int, participation: float | None, cut: int
) -> None:
    series = walk(40, seed)
    strategy, result = backtest(series, spec, participation)
    parent = strategy.parent
    assert parent is not None
    total = spec["amount"]
    # every fill booked for a child, and nothing else, makes the parent's filled amount
    fills = result.fills
    mine = fills[fills["client_id"].str.startswith(f"{parent.id}-")]
    assert abs(float(mine["amount"].sum()) - parent.filled) <= 1e-9 * total
    assert len(mine) == len(fills)
    assert parent.filled <= total * (1 + 1e-12)
    # each child asks at most what earlier children left (in a backtest they ended by then)
    filled_before = 0.0
    for child in parent.children:
        assert child.amount is not None
        assert child.amount <= total - filled_before + 1e-9 * total
        filled_before += child.filled
    # never ahead of schedule: what filled before a child plus the child is at most the
    # share of the slices k with start + k x interval <= its time (jitter only delays)
    interval = spec["horizon"] // spec["slices"]
    filled_before = 0.0
    for child in parent.children:
        assert child.amount is not None
        due = sum(
            1 for k in range(spec["slices"]) if parent.created_at + k * interval <= child.created_at
        )
        assert filled_before + child.amount <= total * due / spec["slices"] + 1e-9 * total
        assert child.created_at in set(series.close_time.tolist())  # placed at a bar close
        filled_before += child.filled
    # no look-ahead: a run on the first `cut` bars placed the same children up to then
    short, _ = backtest(_head(series, cut), spec, participation)
    end = int(series.close_time[cut - 1])
    assert short.parent is not None
    early = [
        (c.client_id, c.amount, c.request.limit_price, c.created_at)
        for c in parent.children
        if c.created_at <= end
    ]
    assert [(c.client_id, c.amount, c.request.limit_price, c.created_at)
            for c in short.parent.children] == early  # fmt: skip


def _head(series: BarSeries, n: int) -> BarSeries:
    return BarSeries(
        series.symbol,
        series.timeframe,
        series.open_time[:n].copy(),
        series.close_time[:n].copy(),
        series.open[:n].copy(),
        series.high[:n].copy(),
        series.low[:n].copy(),
        series.close[:n].copy(),
        series.volume[:n].copy(),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    amount=st.floats(0.5, 10.0),
    display=st.floats(0.05, 3.0),
    jitter=st.floats(0.0, 0.9),
    offset=st.floats(-0.01, 0.01),
    participation=st.none() | st.floats(0.005, 0.2),
)
def test_iceberg_children_work_one_at_a_time_and_never_exceed_the_rest(
    seed: int,
    amount: float,
    display: float,
    jitter: float,
    offset: float,
    participation: float | None,
) -> None:
    series = walk(40, seed)
    limit = float(series.close[1]) * (1 + offset)
    strategy = StartsParent(
        lambda s: s.iceberg("buy", amount, display=display, limit=limit,
                            display_jitter=jitter, seed=seed),
        at=1,
    )  # fmt: skip
    result = Engine(
        feed=SeriesFeed(series),
        strategy=strategy,
        broker=BacktestBroker(cash=1e7, markets=MARKET, participation=participation),
    ).run()
    parent = strategy.parent
    assert parent is not None
    fills = result.fills
    assert abs(float(fills["amount"].sum()) - parent.filled) <= 1e-9 * amount
    filled_before = 0.0
    for k, child in enumerate(parent.children):
        assert child.amount is not None
        assert child.amount <= display * (1 + jitter) + 1e-12  # within the display bounds
        assert child.amount <= amount - filled_before + 1e-9 * amount  # never beyond the rest
        assert child.request.limit_price == limit
        if k + 1 < len(parent.children):  # the next slice only once this one filled
            assert str(child.status) == "filled"
            assert parent.children[k + 1].created_at > child.created_at
        filled_before += child.filled
    assert parent.filled <= amount * (1 + 1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    amount=st.floats(0.5, 50.0),
    rate=st.floats(0.01, 1.0),
    cap=st.none() | st.floats(0.1, 5.0),
)
def test_participation_children_follow_the_volume_of_the_bar_just_closed(
    seed: int, amount: float, rate: float, cap: float | None
) -> None:
    series = walk(30, seed)
    strategy = StartsParent(lambda s: s.participate("buy", amount, rate=rate, max_slice=cap), at=1)
    result = Engine(
        feed=SeriesFeed(series),
        strategy=strategy,
        broker=BacktestBroker(cash=1e7, markets=MARKET),
    ).run()
    parent = strategy.parent
    assert parent is not None
    closes = series.close_time.tolist()
    volumes = series.volume.tolist()
    filled_before = 0.0
    for child in parent.children:
        assert child.amount is not None
        at = closes.index(child.created_at)  # placed at a bar close ...
        assert at > 1  # ... after the bar the parent started on
        expected = rate * volumes[at]  # the volume of that bar, never a later one
        if cap is not None:
            expected = min(expected, cap)
        expected = min(expected, amount - filled_before)
        assert abs(child.amount - expected) <= 1e-9 * amount
        filled_before += child.filled
    assert abs(float(result.fills["amount"].sum()) - parent.filled) <= 1e-9 * amount
    assert parent.filled <= amount * (1 + 1e-12)
