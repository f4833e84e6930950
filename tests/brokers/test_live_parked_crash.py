"""kill -9 while a strategy's exit waits (parked) for the cancel of its OCO list.

The child runs a LiveEngine whose strategy buys 0.03 BTC at 39,000 with a stop-loss and a
take-profit: the venue holds them as one OCO list (0.03 x 0.999 = 0.02997 BTC, the fee is
charged in BTC). Then the strategy closes the position: the sell is parked until the venue has
ended the list (a venue refuses to sell what a list locks). The venue cancels the list but holds
its answer (a timeout after acting), and the child is killed with SIGKILL while it waits: the
list is gone, the sell never went out, the account holds 0.02997 BTC with no stop.

After the restart the journal must tell the sell was never sent (it is rejected at once, not
left in doubt until ``unknown_deadline``), the strategy is told, and the bare amount is
protected again by exactly one new list.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from decimal import Decimal
from pathlib import Path

from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus, Side
from quantkit.testing import LocalExchange
from tests.brokers.live_child import Child, run_session
from tests.brokers.test_live_brackets import local_with
from tests.brokers.test_live_broker import KEY, SECRET
from tests.brokers.test_live_partial_crash import QUIET, held, protected, wait_for

HELD = Decimal("0.02997")

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from quantkit import Strategy
    from quantkit.brokers.live import LiveBroker
    from quantkit.brokers.live_reconcile import LiveSafety
    from quantkit.data.fetch import RetryPolicy
    from quantkit.data.live import LiveBarStream
    from quantkit.engine.live import LiveEngine
    from quantkit.exchanges import CcxtExchange
    from quantkit.secrets import Credentials
    from quantkit.testing import LOCAL_CCXT_OPTIONS

    url, journal, max_bars = sys.argv[1], sys.argv[2], int(sys.argv[3])
    SELL = Path(journal + ".sell")  # the test creates it when the strategy is to close

    class ExitOnce(Strategy):
        persistent = ("entered",)

        def on_start(self):
            self.entered = False
            print("READY", flush=True)

        def on_bar(self, bar):
            if not self.entered:
                self.entered = True
                self.buy(amount=0.03, limit=39_000.0, sl=37_000.0, tp=42_000.0)
            elif SELL.exists():
                SELL.unlink()
                order = self.close()
                print("SELL", order.client_id, flush=True)
            print("BAR", flush=True)

        def on_order(self, order):
            print("ORDER", order.client_id, order.status.value, flush=True)

    venue = CcxtExchange(
        "binance",
        credentials=Credentials(exchange="binance", api_key="KEY", secret="SECRET"),
        api_url=url, options=LOCAL_CCXT_OPTIONS, rate_limit=False, timeout=60.0,
    )
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
        strategy=ExitOnce(),
        broker=LiveBroker(
            venue, journal=journal, run_id="parked-crash", confirm_live=True,
            retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0),
            poll_interval=0.02, safety=LiveSafety(unknown_deadline=600.0),
        ),
        warmup=80, run_id="parked-crash", max_bars=max_bars, handle_signals=False,
        cancel_on_shutdown=False,
    )
    print(engine.run(), flush=True)
    """.replace("KEY", KEY).replace("SECRET", SECRET)
)


def lines_until(child: Child, prefix: str) -> list[str]:
    """The child's lines up to and including the next one starting with ``prefix``."""
    said: list[str] = []
    while (line := child.next_line()) is not None:
        said.append(line)
        if line.startswith(prefix):
            return said
    raise AssertionError(f"the child ended before {prefix!r}: {said}; {child.tail()}")


def cancels(local: LocalExchange) -> int:
    return sum(r.method == "DELETE" for r in local.requests("/api/v3/order"))


def test_kill_9_while_an_exit_waits_for_its_oco_cancel_reprotects_the_position(
    tmp_path: Path,
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal, log = tmp_path / "journal.jsonl", tmp_path / "child.log"
    local = local_with([QUIET] * 12)
    with local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, 1), child.tail()  # the strategy places its entry
        wait_for(lambda: bool(local.accounts.open_orders(KEY)), "entry on the venue", child)
        local.set_price("BTC/USDT", 39_000)
        wait_for(lambda: protected(local) == HELD, "the entry protected", child)
        # the list's cancel is carried out, its answer held past the kill
        local.faults.timeout("/api/v3/order", method="DELETE", acted=True, seconds=120)
        Path(f"{journal}.sell").touch()
        local.publish()
        sell = child.until("SELL")
        assert sell is not None, child.tail()
        sell_id = sell.split()[1]
        wait_for(lambda: cancels(local) >= 1 and protected(local) == 0, "list canceled", child)
        assert child.kill(), child.tail()
        assert held(local) == HELD and protected(local) == 0  # bare, the sell never sent

        restarted = Child(script, local.url, journal, 3, log)
        said = lines_until(restarted, "READY")
        wait_for(lambda: protected(local) == HELD, "the position protected again", restarted)
        for _ in range(3):
            local.publish()
            said += lines_until(restarted, "BAR")
        # told by its first bar (unknown_deadline is 600 s: no lookup had to prove it absent)
        assert f"ORDER {sell_id} rejected" in said[: said.index("BAR") + 1]
        assert restarted.finish() == 0, restarted.tail()
        assert held(local) == protected(local) == HELD  # all of it, once
        placed = local.accounts.orders(KEY)
        lists = list(local.accounts.order_lists.lists.values())
    state = replay(journal)
    counts = Counter(o.client_id for o in placed)
    assert max(counts.values()) == 1 and set(counts) <= set(state.orders)
    assert sell_id not in counts  # the sell never reached the venue
    assert state.orders[sell_id].status is OrderStatus.REJECTED
    assert state.orders[sell_id].side is Side.SELL and "OCO" in state.orders[sell_id].reason
    (entry_id,) = [c for c, o in state.orders.items() if o.request.has_bracket]
    assert [m.above.client_id for m in lists] == [f"{entry_id}-tp", f"{entry_id}-2-tp"]
    assert [m.above.qty for m in lists] == [HELD, HELD]
    assert state.in_doubt == frozenset()
