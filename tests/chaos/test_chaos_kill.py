"""The chaos run: kill -9 a live run again and again while the venue misbehaves on every endpoint.

A child process trades against a `LocalExchange` in the parent: market orders, resting limits
it amends (cancelReplace) and cancels. Every request the exchange receives gets one of issue
#11's faults (`CHAOS_FAULTS`: 500 before/after acting, -1007 executed 0.5-3 s later, -1008,
429/418 with Retry-After, a timeout before/after acting, a dropped connection before/after
acting) at a fixed rate, and now and then every lookup fails for a while. The parent publishes
candles in lockstep with the child (one per bar the child reports), so the child can neither run
out of data nor outrun the test; it is killed with SIGKILL at a random moment after a random
number of bars, and restarted, `KILLS` times. After every kill the journal must open and verify,
no intent may be on the venue twice, every venue order must be journaled and no trade booked
twice; at the end, after a clean run, every venue trade is booked exactly once, no order is in
doubt or disagrees with the venue, and the run's cash and position equal the venue's balances.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from quantkit.brokers.journal import Journal, replay
from quantkit.domain.order import OrderStatus
from quantkit.testing import LOOKUP_PATHS, LocalExchange
from quantkit.testing.random_faults import CHAOS_FAULTS, PeriodicFaults
from tests.brokers.live_child import run_session
from tests.chaos.chaos_child import KEY, SECRET, WARMUP, ForkedChild

pytestmark = pytest.mark.chaos
_log = structlog.get_logger("tests.chaos")

KILLS = 30
MAX_CRASHES = 64  # children that die of a venue fault before their kill (reported, restarted)
FAULT_PERIOD = 10  # the 1st, 11th, 21st, ... request of every endpoint gets a fault: >= 10 %


_VENUE_STATUS = {
    "NEW": OrderStatus.OPEN,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
}


def after_kill(local: LocalExchange, journal: Path) -> list[str]:
    """What must hold whenever no writer runs; returns the broken invariants."""
    Journal.verify(journal)  # raises if the journal does not open and verify
    state = replay(journal)
    on_venue = local.accounts.orders(KEY)
    counts = Counter(o.client_id for o in on_venue)
    problems = [f"intent {c} placed {n} times" for c, n in counts.items() if n > 1]
    problems += [f"venue order {c} not journaled" for c in set(counts) - set(state.orders)]
    venue_trades = {str(f.trade_id) for o in on_venue for f in o.fills}
    if not state.trade_ids <= venue_trades:
        problems.append(f"booked trades the venue lacks: {state.trade_ids - venue_trades}")
    if len(state.fills) != len(state.trade_ids):
        problems.append(f"{len(state.fills)} fills booked for {len(state.trade_ids)} trades")
    return problems


def at_the_end(local: LocalExchange, journal: Path, summary: str) -> list[str]:
    """What must hold after the final clean run; returns the broken invariants."""
    problems = after_kill(local, journal)
    state = replay(journal)
    on_venue = {o.client_id: o for o in local.accounts.orders(KEY)}
    if state.in_doubt:
        problems.append(f"intents never resolved: {sorted(state.in_doubt)}")
    for client_id, order in state.orders.items():
        expected = (
            _VENUE_STATUS[on_venue[client_id].status]
            if client_id in on_venue
            else OrderStatus.REJECTED  # never reached the venue
        )
        if order.status is not expected:
            problems.append(f"{client_id}: journal {order.status}, venue {expected}")
    trades = {str(f.trade_id) for o in on_venue.values() for f in o.fills}
    if state.trade_ids != trades:
        problems.append(f"venue trades never booked: {trades - state.trade_ids}")
    match = re.fullmatch(r"SUMMARY (\S+) (\S+)", summary)
    assert match is not None, summary
    balances = local.accounts.balances(KEY)
    usdt, btc = float(sum(balances["USDT"])), float(sum(balances.get("BTC", (0, 0))))
    if abs(float(match[1]) - usdt) > 1e-9 or abs(float(match[2]) - btc) > 1e-12:
        problems.append(f"run ends with {match[1]} USDT {match[2]} BTC, venue {usdt} {btc}")
    return problems


def fault_rates(local: LocalExchange) -> dict[str, tuple[int, int]]:
    """Requests and faulty answers per endpoint (method and path)."""
    rates: dict[str, list[int]] = {}
    for record in local.requests():
        counts = rates.setdefault(f"{record.method} {record.path}", [0, 0])
        counts[0] += 1
        counts[1] += record.fault is not None
    return {k: (v[0], v[1]) for k, v in rates.items()}


def test_chaos_kill_9_with_faults_on_every_endpoint(tmp_path: Path) -> None:
    rng = random.Random("chaos-kill-9")
    journal, log = tmp_path / "journal.jsonl", tmp_path / "child.log"
    start = (int(time.time()) // 60 - WARMUP) * 60
    with LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 2000 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        seed="chaos",
    ) as local:
        faults = [replace(f, seconds=1.5) if f.seconds else f for f in CHAOS_FAULTS]
        local.faults.randomly(PeriodicFaults(FAULT_PERIOD, faults, seed="chaos-faults").draw)
        kills = crashes = 0
        broken: list[str] = []
        while kills < KILLS:
            assert crashes <= MAX_CRASHES, f"{crashes} crashes: {log.read_text()[-3000:]}"
            if rng.random() < 0.3:  # every lookup fails for a while
                local.faults.fail(LOOKUP_PATHS, method="GET", status=503, for_seconds=1.0)
            child = ForkedChild(local.url, journal, 100_000, log)
            if run_session(child, local, rng.randint(0, 2)):  # 0: kill while it starts
                local.publish()  # the next bar: the kill lands anywhere in its handling
                time.sleep(rng.uniform(0.0, 0.3))  # where, not when: any moment is valid
            if child.kill():
                kills += 1
            else:  # it died of a venue fault by itself: restarted like a kill, but counted
                crashes += 1
            broken += [p for p in after_kill(local, journal) if p not in broken]
        rates = fault_rates(local)
        local.faults.randomly(None)
        local.faults.clear()
        local.execute_pending()
        final = ForkedChild(local.url, journal, 3, log)
        assert run_session(final, local, 3), final.tail()
        summary = final.until("SUMMARY")
        assert summary is not None, final.tail()
        assert final.finish() == 0, final.tail()
        broken += [p for p in at_the_end(local, journal, summary) if p not in broken]
    faulty = sum(f for _, f in rates.values())
    total = sum(n for n, _ in rates.values())
    _log.info(
        "chaos_figures",
        kills=kills,
        crashes=crashes,
        faulty=faulty,
        requests=total,
        per_endpoint=rates,
        broken=broken,
    )
    assert faulty / total >= 0.08
    for endpoint, (count, failed) in rates.items():  # lookup spans only add to the planned 10 %
        assert failed >= -(-count // FAULT_PERIOD), f"{endpoint}: {failed}/{count}"
    for endpoint in ("POST /api/v3/order", "DELETE /api/v3/order", "GET /api/v3/order"):
        assert rates[endpoint][1] > 0, f"no fault on {endpoint}"
    assert "POST /api/v3/order/cancelReplace" in rates
    assert broken == [], f"invariants broken over {kills} kills: {broken}"
