"""An iceberg on the live path: its resting child survives a kill -9, then a cancel reaches it.

The child process rests an iceberg's first slice far below the market on the local exchange
(real ccxt client), is killed, and restarts on the same journal: the resumed parent finds its
working child by id (and places no second slice while it works); cancelling the parent then
cancels that venue order. The run does not cancel orders at shutdown, so only the parent's
cancel can have done it.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from quantkit.brokers.journal import replay
from tests.algos.live_script import live_child_script, live_exchange
from tests.brokers.live_child import Child, run_session

KEY, SECRET = "iceberg-key", "iceberg-secret"
WARMUP = 5

CHILD = live_child_script(
    """
    cancel_at = CANCEL_AT  # the bar of this process at which the parent is canceled

    class Iceberg(Strategy):
        def on_start(self):
            self.seen = 0
            print("READY", flush=True)

        def on_bar(self, bar):
            self.seen += 1
            if not self.parent_orders:
                self.iceberg("buy", 0.02, display=0.005, limit=round(bar.close[-1] * 0.5, 2))
            parent = self.parent_orders[0]
            if self.seen == cancel_at:
                self.cancel_parent(parent)
            print("BAR", parent.status, len(parent.children), flush=True)

        def on_stop(self):
            parent = self.parent_orders[0]
            print("PARENT", parent.id, parent.status, len(parent.children), flush=True)
    """,
    "Iceberg",
    run_id="iceberg",
    key=KEY,
    secret=SECRET,
    warmup=WARMUP,
    keep_orders=True,
)


def test_a_resumed_iceberg_keeps_its_resting_child_and_a_cancel_reaches_the_venue(
    tmp_path: Path,
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("CANCEL_AT", "0"))  # never
    cancels = tmp_path / "cancels.py"
    cancels.write_text(CHILD.replace("CANCEL_AT", "2"))  # at its second bar
    journal = tmp_path / "journal.jsonl"
    log = tmp_path / "child.log"
    with live_exchange(KEY, SECRET, WARMUP, "iceberg") as local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, 2), child.tail()
        deadline = time.monotonic() + 30
        while not local.accounts.orders(KEY) and time.monotonic() < deadline:
            time.sleep(0.01)  # the first slice reaches the venue (sent after on_bar)
        assert child.kill(), child.tail()
        resting = local.accounts.orders(KEY)
        assert [o.status for o in resting] == ["NEW"]
        final = Child(cancels, local.url, journal, 3, log)
        assert run_session(final, local, 3), final.tail()
        line = final.until("PARENT")
        assert line is not None, final.tail()
        assert final.finish() == 0, final.tail()
        placed = local.accounts.orders(KEY)
    _, parent_id, status, children = line.split()
    assert status == "canceled" and children == "1"  # no second slice while the first works
    counts = Counter(order.client_id for order in placed)
    assert counts == {f"{parent_id}-1": 1}
    assert placed[0].status == "CANCELED"  # the parent's cancel reached the venue
    state = replay(journal)
    assert str(state.orders[f"{parent_id}-1"].status) == "canceled"
