"""kill -9 while a bracket entry fills in parts: after the restart every trade is booked once and
what the account holds is protected, in full and no more.

The child runs a LiveEngine whose strategy places one limit buy of 0.03 BTC at 39,000 with a
stop-loss and a take-profit (a venue OCO per part). The local exchange fills it in three parts
(`PartialFills`). The second part's OCO request is held by the venue past any answer (a timeout
before acting: it never takes effect) and the child is killed with SIGKILL while it waits, so
that part is booked in the journal but nothing protects it. The restarted child must book no
trade twice, resolve the in-doubt legs as never placed, protect the second part again, and
protect the third part when it fills. Figures: each part brings 0.01 x 0.999 = 0.00999 BTC.
"""

from __future__ import annotations

import random
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus
from quantkit.testing import LocalExchange, PartialFills
from tests.brokers.live_child import Child, run_session
from tests.brokers.test_live_brackets import local_with
from tests.brokers.test_live_broker import KEY, SECRET

WAIT_S = 60.0
QUIET = (40_000.0, 40_010.0, 39_990.0, 40_000.0)
PART = Decimal("0.00999")

CHILD = textwrap.dedent(
    """
    import sys
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

    class OneEntry(Strategy):
        persistent = ("entered",)

        def on_start(self):
            self.entered = False
            print("READY", flush=True)

        def on_bar(self, bar):
            if not self.entered:
                self.entered = True
                self.buy(amount=0.03, limit=39_000.0, sl=37_000.0, tp=42_000.0)
            print("BAR", flush=True)

    venue = CcxtExchange(
        "binance",
        credentials=Credentials(exchange="binance", api_key="KEY", secret="SECRET"),
        api_url=url, options=LOCAL_CCXT_OPTIONS, rate_limit=False, timeout=60.0,
    )
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
        strategy=OneEntry(),
        broker=LiveBroker(
            venue, journal=journal, run_id="partial-crash", confirm_live=True,
            retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0),
            poll_interval=0.02, safety=LiveSafety(unknown_deadline=0.5),
        ),
        warmup=80, run_id="partial-crash", max_bars=max_bars, handle_signals=False,
        cancel_on_shutdown=False,
    )
    print(engine.run(), flush=True)
    """.replace("KEY", KEY).replace("SECRET", SECRET)
)


def wait_for(condition: Callable[[], bool], what: str, child: Child) -> None:
    """Poll state another process changes (the venue's book), failing after a deadline."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {WAIT_S:g}s; {child.tail()}")
        time.sleep(0.02)


def protected(local: LocalExchange) -> Decimal:
    return sum((m.above.left for m in local.accounts.order_lists.open_lists(KEY)), Decimal(0))


def held(local: LocalExchange) -> Decimal:
    return sum(local.accounts.balances(KEY).get("BTC", (Decimal(0), Decimal(0))))


def test_kill_9_between_booking_a_part_and_protecting_it_reprotects_it_once(
    tmp_path: Path,
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal, log = tmp_path / "journal.jsonl", tmp_path / "child.log"
    local = local_with([QUIET] * 12)
    local.accounts.partial_fills = PartialFills(parts=3)
    oco = "/api/v3/orderList/oco"
    with local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, 1), child.tail()  # the strategy places its entry
        wait_for(lambda: bool(local.accounts.open_orders(KEY)), "entry on the venue", child)
        local.set_price("BTC/USDT", 39_000)  # part 1
        wait_for(lambda: protected(local) == PART, "part 1 protected", child)
        local.faults.timeout(oco, seconds=120)  # part 2's list: held, never acted on
        local.set_price("BTC/USDT", 38_990)  # part 2
        wait_for(lambda: len(local.requests(oco)) == 2, "part 2's list sent", child)
        assert child.kill(), child.tail()
        assert held(local) == 2 * PART and protected(local) == PART  # part 2 bare

        restarted = Child(script, local.url, journal, 3, log)
        assert run_session(restarted, local, 1), restarted.tail()
        wait_for(lambda: protected(local) == 2 * PART, "part 2 protected again", restarted)
        local.set_price("BTC/USDT", 39_000)  # part 3, after the restart
        wait_for(lambda: protected(local) == 3 * PART, "part 3 protected", restarted)
        assert held(local) == protected(local) == 3 * PART  # all of it, no more
        for _ in range(2):  # the last two of its three bars: it ends by itself
            local.publish()
            assert restarted.until("BAR") is not None, restarted.tail()
        assert restarted.finish() == 0, restarted.tail()
        placed = local.accounts.orders(KEY)
        lists = list(local.accounts.order_lists.lists.values())
    state = replay(journal)
    counts = Counter(o.client_id for o in placed)
    assert max(counts.values()) == 1  # no intent placed twice
    assert set(counts) <= set(state.orders)  # nothing on the venue the journal lacks
    venue_trades = sorted(str(f.trade_id) for o in placed for f in o.fills)
    assert sorted(state.trade_ids) == venue_trades and len(state.fills) == len(venue_trades)
    (entry_id,) = [c for c, o in state.orders.items() if o.request.has_bracket]
    assert state.orders[entry_id].status is OrderStatus.FILLED
    # list 2 never reached the venue: its legs were refused after the restart, and the part
    # went out again as list 3; part 3 as list 4
    assert state.orders[f"{entry_id}-2-tp"].status is OrderStatus.REJECTED
    assert [m.above.client_id for m in lists] == [
        f"{entry_id}-tp", f"{entry_id}-3-tp", f"{entry_id}-4-tp",
    ]  # fmt: skip
    assert all(m.above.qty == PART for m in lists)


@pytest.mark.parametrize("seed", [11, 29])
def test_kill_9_at_a_random_moment_after_a_part_leaves_every_part_protected_once(
    tmp_path: Path, seed: int
) -> None:
    """Wherever the kill lands (before the part is booked, before its list is journaled, sent,
    or acknowledged), the restarted run ends with what is held protected exactly once."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal, log = tmp_path / "journal.jsonl", tmp_path / "child.log"
    local = local_with([QUIET] * 12)
    local.accounts.partial_fills = PartialFills(parts=3)
    with local:
        child = Child(script, local.url, journal, 10_000, log)
        assert run_session(child, local, 1), child.tail()
        wait_for(lambda: bool(local.accounts.open_orders(KEY)), "entry on the venue", child)
        local.set_price("BTC/USDT", 39_000)  # part 1
        wait_for(lambda: protected(local) == PART, "part 1 protected", child)
        local.set_price("BTC/USDT", 38_990)  # part 2 ...
        time.sleep(random.Random(seed).uniform(0.0, 0.3))  # where, not when: any moment is valid
        assert child.kill(), child.tail()  # ... and the kill lands anywhere in its handling

        restarted = Child(script, local.url, journal, 3, log)
        assert run_session(restarted, local, 1), restarted.tail()
        wait_for(lambda: protected(local) == 2 * PART, "parts 1-2 protected", restarted)
        local.set_price("BTC/USDT", 39_000)  # part 3
        wait_for(lambda: protected(local) == 3 * PART, "parts 1-3 protected", restarted)
        for _ in range(2):
            local.publish()
            assert restarted.until("BAR") is not None, restarted.tail()
        assert restarted.finish() == 0, restarted.tail()
        assert held(local) == protected(local) == 3 * PART  # all of it, no more
        placed = local.accounts.orders(KEY)
    state = replay(journal)
    counts = Counter(o.client_id for o in placed)
    assert max(counts.values()) == 1 and set(counts) <= set(state.orders)
    venue_trades = sorted(str(f.trade_id) for o in placed for f in o.fills)
    assert sorted(state.trade_ids) == venue_trades and len(state.fills) == len(venue_trades)
    assert state.in_doubt == frozenset()
