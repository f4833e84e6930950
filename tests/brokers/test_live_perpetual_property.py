"""Property: after any sequence of perpetual trades and price moves, the broker's own books
(fills booked one by one into a `FuturesPortfolio`) equal the venue's account, which the local
futures exchange keeps with its own independent model (Decimal, Binance's rules)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.order import Order, Side
from tests.brokers.perp_harness import (
    BTC,
    KEY,
    futures_exchange,
    market,
    perp_broker,
    perp_venue,
    started,
    until,
)

Step = tuple[Side, float, bool, float, str]
steps = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.sampled_from([0.01, 0.05, 0.1, 0.25]),
        st.booleans(),  # reduce-only
        st.sampled_from([38_000.0, 39_500.0, 40_000.0, 40_700.0, 41_000.0]),  # then the price
        st.sampled_from(["0", "0", "0.0001", "-0.0003"]),  # then a funding rate (0: none)
    ),
    min_size=1,
    max_size=5,
)


async def _run(ops: list[Step], folder: Path) -> None:
    async with (
        futures_exchange(price=40_000) as local,
        perp_venue(local) as venue,
        anyio.create_task_group() as tasks,
    ):
        broker = await started(perp_broker(venue, folder / "j.jsonl", leverage=10), tasks)
        price = 40_000.0
        for n, (side, amount, reduce_only, move, rate) in enumerate(ops, 1):
            order: Order = broker.submit(
                market(side, amount, reduce_only=reduce_only), f"perp-run-{n:06d}", price
            )
            await until(broker, lambda o=order: not o.is_active)
            price = move
            local.trading.move(BTC, last=move, mark=move)
            if rate != "0":
                local.trading.settle_funding(BTC, rate)
                await broker.reconciler.check_account()  # books the funding
        account = local.trading.accounts.account(KEY)
        held = account.positions.get("BTCUSDT")
        venue_amount = float(held.amount) if held is not None else 0.0
        position = broker.portfolio.position(BTC)
        # the broker's own books, before any figure is taken from the venue
        assert abs(position.amount - venue_amount) < 1e-12, (position, held)
        if venue_amount:
            assert held is not None
            assert abs(position.entry_price - float(held.entry)) < 1e-6
        assert abs(broker.futures.wallet_balance() - float(account.wallet)) < 1e-6
        assert len(broker.sync.trade_ids) == len(account.trades)  # each booked once
        filled = sum(o.filled for o in broker.sync.orders.values())
        assert abs(filled - sum(float(t.qty) for t in account.trades)) < 1e-12
        for _ in range(2):
            await broker.reconciler.check_account()
        assert broker.divergences == []
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()


@settings(max_examples=8, deadline=None)
@given(ops=steps)
def test_the_broker_books_equal_the_venue_account(ops: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        anyio.run(_run, ops, Path(folder))


async def _run_isolated(ops: list[Step], folder: Path) -> None:
    async with (
        futures_exchange(price=40_000) as local,
        perp_venue(local) as venue,
        anyio.create_task_group() as tasks,
    ):
        broker = perp_broker(venue, folder / "j.jsonl", leverage=10, margin_mode="isolated")
        broker = await started(broker, tasks)
        price = 40_000.0
        for n, (side, amount, reduce_only, move, rate) in enumerate(ops, 1):
            order: Order = broker.submit(
                market(side, amount, reduce_only=reduce_only), f"perp-run-{n:06d}", price
            )
            await until(broker, lambda o=order: not o.is_active)
            price = move
            local.trading.move(BTC, last=move, mark=move)  # may liquidate
            if rate != "0":
                local.trading.settle_funding(BTC, rate)
            await broker.reconciler.check_account()
        for _ in range(3):
            await broker.reconciler.check_account()
        account = local.trading.accounts.account(KEY)
        held = account.positions.get("BTCUSDT")
        venue_amount = float(held.amount) if held is not None else 0.0
        assert broker.divergences == []  # liquidations and funding all explained
        assert abs(broker.portfolio.position(BTC).amount - venue_amount) < 1e-12
        assert abs(broker.futures.wallet_balance() - float(account.wallet)) < 1e-6
        forced = sum(1 for o in account.orders.values() if o.client_id.startswith("autoclose"))
        assert broker.futures.liquidations == forced
        await broker.ashutdown(cancel_open=True)
        tasks.cancel_scope.cancel()


isolated_steps = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.sampled_from([0.01, 0.05, 0.1, 0.25]),
        st.booleans(),
        st.sampled_from([35_000.0, 39_000.0, 40_000.0, 41_000.0, 45_000.0]),  # +-12.5 %: liquidates
        st.sampled_from(["0", "0", "0.0001", "-0.0003"]),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=8, deadline=None)
@given(ops=isolated_steps)
def test_isolated_liquidations_and_funding_leave_no_divergence(ops: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        anyio.run(_run_isolated, ops, Path(folder))
