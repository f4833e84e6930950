"""Amending a live iceberg reshapes its resting child on the venue (real ccxt, local exchange).

The iceberg's first slice rests far below the market; amending the parent's limit above the
market replaces that child on the venue under the next child id (Binance's cancel-replace),
it fills, and the following slices work at the new limit until the parent is filled.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from tests.algos.live_script import live_child_script, live_exchange
from tests.brokers.live_child import Child

KEY, SECRET = "amend-key", "amend-secret"
WARMUP = 5

CHILD = live_child_script(
    """

    class Iceberg(Strategy):
        def on_start(self):
            self.seen = 0
            print("READY", flush=True)

        def on_bar(self, bar):
            self.seen += 1
            if not self.parent_orders:
                self.iceberg("buy", 0.02, display=0.005, limit=round(bar.close[-1] * 0.5, 2))
            parent = self.parent_orders[0]
            if self.seen == 2:  # the resting slice becomes marketable, then every slice
                self.amend_parent(parent, limit=round(bar.close[-1] * 1.05, 2))
            print("BAR", parent.id, parent.status, repr(parent.filled), flush=True)

        def on_stop(self):
            parent = self.parent_orders[0]
            print("PARENT", parent.id, parent.status, repr(parent.filled), flush=True)
    """,
    "Iceberg",
    run_id="iceberg",
    key=KEY,
    secret=SECRET,
    warmup=WARMUP,
    keep_orders=True,
)


def test_amending_a_live_iceberg_replaces_its_resting_child_and_it_fills(
    tmp_path: Path,
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal = tmp_path / "journal.jsonl"
    log = tmp_path / "child.log"
    with live_exchange(KEY, SECRET, WARMUP, "amend") as local:
        child = Child(script, local.url, journal, 10_000, log)
        assert child.until("READY") is not None, child.tail()
        line = None
        for _ in range(40):  # fills arrive between bars: publish until the parent says filled
            local.publish()
            line = child.until("BAR")
            assert line is not None, child.tail()
            if line.split()[2] != "working":
                break
        assert child.kill(), child.tail()
        placed = local.accounts.orders(KEY)
    assert line is not None
    _, parent_id, status, filled = line.split()
    assert status == "filled" and float(filled) == pytest.approx(0.02, abs=1e-12)
    counts = Counter(order.client_id for order in placed)
    assert max(counts.values()) == 1
    by_id = {order.client_id: order for order in placed}
    first, second = by_id[f"{parent_id}-1"], by_id[f"{parent_id}-2"]
    assert first.status == "CANCELED" and not first.fills  # replaced before any fill
    assert second.status == "FILLED" and second.price > first.price * 2  # at the new limit
    executed = sum((f.qty for o in placed for f in o.fills), Decimal(0))
    assert executed == Decimal("0.02")  # the venue traded exactly the parent's amount
    assert all(o.status == "FILLED" for cid, o in by_id.items() if cid != f"{parent_id}-1")
