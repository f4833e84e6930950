"""kill -9 a live run at random points, restart it, and check no order was lost or doubled.

The parent publishes candles in lockstep with the bars the child reports (no publishing timer),
so on a loaded machine the child can neither run ahead of the test nor be killed after it ended:
a child that ends by itself fails the test with its stderr.
"""

from __future__ import annotations

import random
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus
from quantkit.testing import LocalExchange
from tests.brokers.live_child import Child, run_session

KEY, SECRET = "crash-key", "crash-secret"
WARMUP = 20

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

    class FlipFlop(Strategy):
        persistent = ("bars",)

        def on_start(self):
            self.bars = 0
            print("READY", flush=True)  # warmed up: the parent may publish

        def on_bar(self, bar):
            self.bars += 1
            if self.open_orders():
                pass
            elif self.position().amount > 0.005:
                self.sell(amount=round(self.position().amount, 5))
            else:
                self.buy(amount=0.01)
            print("BAR", self.bars, flush=True)

        def on_stop(self):
            print("POSITION", self.position().amount, flush=True)

    venue = CcxtExchange(
        "binance",
        credentials=Credentials(exchange="binance", api_key="KEY", secret="SECRET"),
        api_url=url,
        options=LOCAL_CCXT_OPTIONS,
        rate_limit=False,
    )
    retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)
    engine = LiveEngine(
        stream=LiveBarStream(venue, ["BTC/USDT"], "1m", websocket=False, poll_interval=0.02),
        strategy=FlipFlop(),
        broker=LiveBroker(
            venue, journal=journal, run_id="crash", confirm_live=True, retry=retry,
            poll_interval=0.02,
            # an intent in doubt after a kill resolves half a second after it was written
            safety=LiveSafety(unknown_deadline=0.5),
        ),
        warmup=WARMUP,
        run_id="crash",
        max_bars=max_bars,
        handle_signals=False,
    )
    print(engine.run(), flush=True)
    """.replace("KEY", KEY)
    .replace("SECRET", SECRET)
    .replace("WARMUP", str(WARMUP))
)


@pytest.mark.parametrize("seed", [7, 2024])
def test_kill_9_at_random_points_never_loses_or_doubles_an_order(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal = tmp_path / "journal.jsonl"
    start = (int(time.time()) // 60 - WARMUP) * 60
    log = tmp_path / "child.log"
    with LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 2000 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        seed=f"crash-{seed}",
    ) as local:
        for _ in range(3):  # three crashes at random moments
            child = Child(script, local.url, journal, 10_000, log)
            assert run_session(child, local, rng.randint(1, 4)), child.tail()
            local.publish()  # the next bar: the kill lands anywhere in its handling
            time.sleep(rng.uniform(0.0, 0.05))  # where, not when: any moment is valid
            assert child.kill(), child.tail()  # it was still running when killed
        final = Child(script, local.url, journal, 3, log)
        assert run_session(final, local, 3), final.tail()
        position_line = final.until("POSITION")
        assert position_line is not None, final.tail()
        assert final.finish() == 0, final.tail()
        placed = local.accounts.orders(KEY)
        balances = local.accounts.balances(KEY)
    state = replay(journal)
    counts = Counter(order.client_id for order in placed)
    assert counts and max(counts.values()) == 1  # no order placed twice
    assert set(counts) <= set(state.orders)  # nothing placed without a journaled intent
    assert state.in_doubt == frozenset()  # every intent resolved after the restart
    for client_id, order in state.orders.items():
        if client_id in counts:
            assert order.status is OrderStatus.FILLED
        else:
            assert order.status is OrderStatus.REJECTED  # never reached the venue
    trade_ids = [str(fill.trade_id) for o in placed for fill in o.fills]
    assert sorted(state.trade_ids) == sorted(trade_ids)  # each trade booked exactly once
    held = float(sum(balances.get("BTC", (0, 0))))
    assert float(position_line.split()[1]) == pytest.approx(held, abs=1e-12)
    numbers = sorted(int(cid.rsplit("-", 1)[1]) for cid in state.orders)
    assert numbers == list(range(1, len(numbers) + 1))  # restarts continued the numbering
