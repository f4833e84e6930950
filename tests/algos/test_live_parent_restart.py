"""A TWAP on the live path (real ccxt against the local exchange), killed and resumed.

The child process trades a TWAP through `LiveBroker`; the test kills it with SIGKILL in the
middle of the schedule, restarts it on the same journal and publishes bars until the parent
has ended. No child is
placed twice, every trade is booked once, and the parent ends filled with exactly its amount.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from quantkit.brokers.journal import Journal, replay
from tests.algos.live_script import live_child_script, live_exchange
from tests.brokers.live_child import Child, run_session

KEY, SECRET = "twap-key", "twap-secret"
WARMUP = 5
AMOUNT = "0.05"

CHILD = live_child_script(
    """

    class Twap(Strategy):
        def on_start(self):
            print("READY", flush=True)

        def on_bar(self, bar):
            if not self.parent_orders:  # a restart resumes the journaled parent instead
                self.twap("buy", AMOUNT, horizon="6m", slices=6)
            parent = self.parent_orders[0]
            print("BAR", parent.id, parent.status, repr(parent.filled), flush=True)
    """.replace("AMOUNT", AMOUNT),
    "Twap",
    run_id="twap",
    key=KEY,
    secret=SECRET,
    warmup=WARMUP,
)


def parent_records(journal: Path) -> list[dict[str, object]]:
    with Journal(journal, run_id="twap") as opened:
        return [dict(r.data) for r in opened.records() if r.kind == "parent"]


@pytest.mark.parametrize("seed", [3, 11])
def test_a_twap_killed_mid_schedule_resumes_without_doubles_and_fills_its_amount(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal = tmp_path / "journal.jsonl"
    log = tmp_path / "child.log"
    with live_exchange(KEY, SECRET, WARMUP, f"twap-{seed}") as local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, rng.randint(2, 3)), child.tail()  # 2-3 slices
        local.publish()  # the next bar: the kill lands anywhere in its handling
        time.sleep(rng.uniform(0.0, 0.05))
        assert child.kill(), child.tail()
        final = Child(script, local.url, journal, 10_000, log)
        assert final.until("READY") is not None, final.tail()
        line = None
        for _ in range(40):  # fills arrive between bars: publish until the parent has ended
            local.publish()
            line = final.until("BAR")
            assert line is not None, final.tail()
            if line.split()[2] != "working":
                break
        assert final.kill(), final.tail()
        placed = local.accounts.orders(KEY)
    assert line is not None
    _, parent_id, status, filled = line.split()
    assert status == "filled"
    assert float(filled) == pytest.approx(float(AMOUNT), abs=1e-12)
    counts = Counter(order.client_id for order in placed)
    assert counts and max(counts.values()) == 1  # no child placed twice
    assert all(cid.startswith(f"{parent_id}-") for cid in counts)  # only children
    executed = sum((sum((f.qty for f in o.fills), Decimal(0)) for o in placed), Decimal(0))
    assert executed == Decimal(AMOUNT)  # the venue traded exactly the parent's amount
    state = replay(journal)
    assert set(counts) <= set(state.orders)  # nothing placed without a journaled intent
    assert state.in_doubt == frozenset()  # every intent resolved after the restart
    numbers = sorted(int(cid.rsplit("-", 1)[1]) for cid in state.orders)
    assert numbers == list(range(1, len(numbers) + 1))  # numbered on across the restart
    for client_id, order in state.orders.items():
        # a child whose intent was journaled but which the kill stopped before it was sent
        # is declared never placed after the restart; its amount went to a later child
        assert str(order.status) == ("filled" if client_id in counts else "rejected")
    trade_ids = [str(fill.trade_id) for o in placed for fill in o.fills]
    assert sorted(state.trade_ids) == sorted(trade_ids)  # each trade booked exactly once
    records = parent_records(journal)
    assert {r["id"] for r in records} == {parent_id}  # the restart started no second TWAP
    assert records[-1]["status"] == "filled"
    assert json.dumps(records[-1]["spec"]["kind"]) == '"twap"'  # type: ignore[index]


RESTING = CHILD.replace(
    'self.twap("buy", 0.05, horizon="6m", slices=6)',
    'self.twap("buy", 0.05, horizon="6m", slices=6, limit_offset=0.5)',
)


def test_resting_twap_slices_are_canceled_across_a_restart_and_never_overcommit(
    tmp_path: Path,
) -> None:
    # limit children half the price below the market never fill: every slice's child is
    # canceled when the next is due (the last one at the horizon's end), across a kill -9
    assert RESTING != CHILD
    script = tmp_path / "child.py"
    script.write_text(RESTING)
    journal = tmp_path / "journal.jsonl"
    log = tmp_path / "child.log"
    with live_exchange(KEY, SECRET, WARMUP, "twap-resting") as local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, 3), child.tail()
        deadline = time.monotonic() + 30
        while len(local.accounts.orders(KEY)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # the third slice reached the venue
        assert child.kill(), child.tail()
        assert [o.status for o in local.accounts.orders(KEY)][-1] == "NEW"  # still resting
        final = Child(script, local.url, journal, 10_000, log)
        assert final.until("READY") is not None, final.tail()
        line = None
        for _ in range(40):
            local.publish()
            line = final.until("BAR")
            assert line is not None, final.tail()
            if line.split()[2] != "working":
                break
        assert final.kill(), final.tail()
        placed = local.accounts.orders(KEY)
    assert line is not None
    _, parent_id, status, filled = line.split()
    assert status == "expired" and float(filled) == 0.0
    counts = Counter(order.client_id for order in placed)
    assert max(counts.values()) == 1 and all(c.startswith(f"{parent_id}-") for c in counts)
    assert all(o.status == "CANCELED" and not o.fills for o in placed)
    # never more working on the venue at once than the parent's amount
    for order in placed:
        overlapping = [o for o in placed if o.time <= order.time < o.update_time]
        assert sum((o.qty for o in overlapping), Decimal(0)) <= Decimal("0.05"), overlapping
