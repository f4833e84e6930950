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


PART = Decimal("0.00999")
OCO = "/api/v3/orderList/oco"


@pytest.mark.parametrize(
    "fault", ["-1007 executed later", "500 after acting", "timeout before acting", "-1008"]
)
async def test_a_later_part_s_list_under_a_fault_leaves_every_part_protected_once(
    fault: str, tmp_path: Path
) -> None:
    """An entry fills in three parts; the second part's list meets ``fault``. At the end what
    is held (3 x 0.00999 BTC) is protected exactly once: by venue lists, or for a list the venue
    proved it never got, by a held bracket; never both."""
    from quantkit.brokers.live_reconcile import LiveSafety
    from quantkit.testing import PartialFills

    safety = LiveSafety(unknown_deadline=3.5, startup_deadline=60.0, shutdown_deadline=60.0)
    async with local_with([QUIET] * 3) as local:
        local.accounts.partial_fills = PartialFills(parts=3)
        local.publish()
        async with venue_for(local, timeout=1.0) as venue, anyio.create_task_group() as tasks:
            broker = await started(
                broker_for(venue, tmp_path / "j.jsonl", safety=safety), tasks, local
            )
            request = qk.OrderRequest(
                "BTC/USDT", qk.Side.BUY, qk.OrderType.LIMIT, amount=0.03, limit_price=39_000.0,
                stop_loss=37_000.0, take_profit=42_000.0,
            )  # fmt: skip
            entry = broker.submit(request, "qk-test-000001", 40_000.0)
            await until(lambda: entry.status is OrderStatus.OPEN, "entry resting")
            local.set_price("BTC/USDT", 39_000)
            await until(lambda: len(local.accounts.order_lists.lists) == 1, "part 1 protected")
            faults = local.faults
            if fault.startswith("-1007"):
                faults.unknown_outcome(OCO, execute_after=1.5)
            elif fault.startswith("500"):
                faults.server_error(OCO, acted=True)
            elif fault.startswith("timeout"):
                faults.timeout(OCO, seconds=3.0)
            else:
                faults.overloaded(OCO)
            local.set_price("BTC/USDT", 38_990)  # part 2: its list meets the fault
            await until(lambda: len(local.requests(OCO)) == 2, "part 2's list sent")
            local.set_price("BTC/USDT", 39_000)  # part 3

            def protection() -> tuple[Decimal, Decimal]:
                lists = local.accounts.order_lists.open_lists(KEY)
                listed = sum((m.above.left for m in lists), Decimal(0))
                held = sum(
                    (Decimal(repr(b.amount)) for b in broker.brackets.held.get("BTC/USDT", [])),
                    Decimal(0),
                )
                return listed, held

            await until(
                lambda: sum(protection()) == 3 * PART and not broker.unknown_orders(),
                "every part protected and nothing in doubt",
                seconds=30.0,
            )
            listed, held = protection()
            assert listed + held == 3 * PART == sum(local.accounts.balances(KEY)["BTC"])
            if fault in ("-1007 executed later", "500 after acting", "-1008"):
                assert (listed, held) == (3 * PART, 0)  # the venue has every list, nothing held
            else:  # the list never reached the venue: that part is held by the broker
                assert (listed, held) == (2 * PART, PART)
            await broker.ashutdown(cancel_open=False)
            tasks.cancel_scope.cancel()
