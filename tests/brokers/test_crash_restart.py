"""kill -9 a live run at random points, restart it, and check no order was lost or doubled."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantkit.brokers.journal import replay
from quantkit.domain.order import OrderStatus
from quantkit.testing import LocalExchange

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


def start_child(script: Path, url: str, journal: Path, max_bars: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), url, str(journal), str(max_bars)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_for_bars(process: subprocess.Popen[str], count: int) -> list[str]:
    """Read the child's output until it reported ``count`` bars (or ended)."""
    assert process.stdout is not None
    lines: list[str] = []
    seen = 0
    while seen < count:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        seen += line.startswith("BAR")
    return lines


@pytest.mark.parametrize("seed", [7, 2024])
def test_kill_9_at_random_points_never_loses_or_doubles_an_order(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal = tmp_path / "journal.jsonl"
    start = (int(time.time()) // 60 - WARMUP) * 60
    with LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 2000 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        publish_every=0.04,
        seed=f"crash-{seed}",
    ) as local:
        for _ in range(3):  # three crashes at random moments
            child = start_child(script, local.url, journal, max_bars=10_000)
            wait_for_bars(child, rng.randint(1, 4))
            time.sleep(rng.uniform(0.0, 0.05))  # anywhere in the next bar's handling
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            assert child.stdout is not None
            child.stdout.close()
            assert child.returncode == -signal.SIGKILL
        final = start_child(script, local.url, journal, max_bars=3)
        out, _ = final.communicate(timeout=120)
        assert final.returncode == 0, out
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
    position = [line for line in out.splitlines() if line.startswith("POSITION")]
    held = float(sum(balances.get("BTC", (0, 0))))
    assert float(position[-1].split()[1]) == pytest.approx(held, abs=1e-12)
    numbers = sorted(int(cid.rsplit("-", 1)[1]) for cid in state.orders)
    assert numbers == list(range(1, len(numbers) + 1))  # restarts continued the numbering
