"""A bracket's venue OCO under faults the fault matrix does not cover: a venue that acted but said
it did not (429 after placing the list), so the broker's re-send meets "Duplicate order sent."."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

import quantkit as qk
from quantkit.domain.order import OrderStatus
from tests.brokers.test_live_brackets import legs, local_with, until
from tests.brokers.test_live_broker import KEY, broker_for, started, venue_for

pytestmark = pytest.mark.anyio

QUIET = (40_000.0, 40_010.0, 39_990.0, 40_000.0)


async def test_a_list_refused_as_a_duplicate_is_looked_up_and_adopted_not_held(
    tmp_path: Path,
) -> None:
    async with local_with([QUIET] * 3) as local:
        local.publish()
        async with venue_for(local) as venue, anyio.create_task_group() as tasks:
            broker = await started(broker_for(venue, tmp_path / "j.jsonl"), tasks, local)
            # the venue places the list but answers 429: the broker sends it again
            local.faults.accept_then_fail("/api/v3/orderList/oco", status=429)
            request = qk.OrderRequest(
                "BTC/USDT", qk.Side.BUY, amount=0.1, stop_loss=39_000.0, take_profit=41_000.0
            )
            entry = broker.submit(request, "qk-test-000001", 40_000.0)
            await until(lambda: f"{entry.client_id}-sl" in broker.sync.orders, "legs tracked")
            tp, sl = legs(broker, entry.client_id)
            await until(lambda: sl.status is not OrderStatus.NEW, "the list's outcome settled")
            await until(lambda: tp.status is not OrderStatus.NEW, "both legs settled")
            assert len(local.requests("/api/v3/orderList/oco")) == 2  # the re-send was refused
            assert tp.status is sl.status is OrderStatus.OPEN  # found by client id, adopted
            (made,) = local.accounts.order_lists.lists.values()
            assert made.above.qty == Decimal("0.0999")  # 0.1 less the 0.1 % fee in BTC
            assert not broker.working("BTC/USDT")  # not held as well: protected once
            assert local.accounts.balances(KEY)["BTC"] == (Decimal(0), Decimal("0.0999"))
            await broker.ashutdown(cancel_open=True)
            tasks.cancel_scope.cancel()
