"""Property: whatever road each funding payment takes (pushed, pushed late after the poll
booked it, or lost on the stream) and wherever account checks fall, every payment the venue
made is booked exactly once: the broker's funding list and journal equal the venue's own
income history (kept by its independent Decimal model), and the wallets agree."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.order import Side
from tests.brokers.perp_harness import KEY, futures_exchange, perp_venue
from tests.brokers.test_live_perpetual_stream import BTC, booked, journal, opened, streaming

Step = tuple[str, str, bool]
steps = st.lists(
    st.tuples(
        st.sampled_from(["0.0001", "-0.0003", "0.00025"]),  # the rate
        st.sampled_from(["pushed", "late", "lost"]),  # the push's fate
        st.booleans(),  # an account check right after
    ),
    min_size=1,
    max_size=4,
)


async def _run(ops: list[Step], side: Side, mode: str, folder: Path) -> None:
    path = folder / "j.jsonl"
    async with futures_exchange(price=40_000) as local:
        stream = local.trading.user_stream
        async with perp_venue(local) as venue, anyio.create_task_group() as tasks:
            await opened(venue, side, mode, 5)
            broker = await streaming(local, venue, path, tasks, leverage=5, margin_mode=mode)
            pushes = 0
            for n, (rate, fate, check) in enumerate(ops):
                local.trading.move(BTC, mark=40_000 + 250 * n)  # each payment its own amount
                if fate == "lost":
                    stream.mute()
                    local.trading.settle_funding(BTC, rate)
                    stream.mute(False)
                elif fate == "late":
                    stream.hold()
                    local.trading.settle_funding(BTC, rate)
                    await broker.reconciler.check_account()  # the poll learns first
                    stream.release()
                else:
                    local.trading.settle_funding(BTC, rate)
                pushes += fate != "lost"
                await booked(broker, pushes)  # every push that was sent has been read
                if check:
                    await broker.reconciler.check_account()
            for _ in range(2):
                await broker.reconciler.check_account()
            venue_paid = [
                float(i.amount)
                for i in local.trading.accounts.income(KEY)
                if i.type == "FUNDING_FEE"
            ]
            assert len(venue_paid) == len(ops)
            booked_paid = [-p.amount for p in broker.futures.funding]
            assert sorted(round(x, 8) for x in booked_paid) == sorted(venue_paid)
            wallet = float(local.trading.accounts.account(KEY).wallet)
            assert abs(broker.futures.wallet_balance() - wallet) < 1e-6
            assert broker.divergences == []
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
    records = journal(path, "funding")
    assert sorted(round(r["amount"], 8) for r in records) == sorted(venue_paid)


@settings(max_examples=6, deadline=None)
@given(
    ops=steps,
    side=st.sampled_from([Side.BUY, Side.SELL]),
    mode=st.sampled_from(["cross", "isolated"]),
)
def test_each_funding_payment_is_booked_once_whatever_road_it_takes(
    ops: list[Step], side: Side, mode: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        anyio.run(_run, ops, side, mode, Path(folder))
