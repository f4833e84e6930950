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

import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from quantkit.brokers.journal import Journal, replay
from quantkit.domain.order import OrderStatus
from quantkit.testing import LOOKUP_PATHS, LocalExchange, PartialFills
from quantkit.testing.random_faults import CHAOS_FAULTS, PeriodicFaults
from tests.brokers.live_child import run_session
from tests.chaos.chaos_child import KEY, SECRET, WARMUP, ForkedChild

pytestmark = pytest.mark.chaos
_log = structlog.get_logger("tests.chaos")

KILLS = 30
BRACKET_KILLS = 12  # the bracket variant: ~half a minute more on an idle machine
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


@dataclass
class Chaos:
    """What a chaos run saw: the invariants it broke and its figures."""

    broken: list[str] = field(default_factory=list)
    rates: dict[str, tuple[int, int]] = field(default_factory=dict)
    kills: int = 0
    crashes: int = 0
    figures: dict[str, float] = field(default_factory=dict)


def protection(local: LocalExchange, journal: Path) -> tuple[Decimal, Decimal]:
    """BTC the account holds, and what protects it: the amounts the working OCO lists would
    sell plus the held brackets the journal has not seen end (a ``-rest`` stop guards what a
    working list's take-profit already counts, so it is left out)."""
    held = sum(local.accounts.balances(KEY).get("BTC", (Decimal(0), Decimal(0))), Decimal(0))
    lists = sum((m.above.left for m in local.accounts.order_lists.open_lists(KEY)), Decimal(0))
    pending: dict[str, float] = {}
    for line in journal.read_text().splitlines():  # the journal verified (after_kill)
        record = json.loads(line)
        cid, data = str(record["data"].get("client_id", "")), record["data"]
        if record["kind"] == "bracket" and data.get("mode") == "held":
            pending[cid] = float(data["amount"])
        elif record["kind"] == "bracket_done":
            pending.pop(cid, None)
    brackets = sum((Decimal(str(a)) for c, a in pending.items() if not c.endswith("-rest")), 0)
    return held, lists + Decimal(brackets)


def chaos(tmp_path: Path, seed: str, kills: int, *, brackets: bool = False) -> Chaos:
    """Kill -9 a live run ``kills`` times under faults; check the invariants (module docstring).

    With ``brackets`` the child's buys carry a venue OCO bracket and resting orders fill in
    three parts (`PartialFills`); after every kill and after the final run the working lists
    and held brackets never sell more than the account holds (nothing protected twice). Their
    figures (held, protected) are returned: see the test for what is not yet asserted.
    """
    rng = random.Random(seed)
    journal, log = tmp_path / "journal.jsonl", tmp_path / "child.log"
    start = (int(time.time()) // 60 - WARMUP) * 60
    seen = Chaos()
    with LocalExchange(
        live=True,
        warmup=WARMUP,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + 2000 * 60, UTC),
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        seed="chaos",
    ) as local:
        if brackets:
            local.accounts.partial_fills = PartialFills(parts=3)
        faults = [replace(f, seconds=1.5) if f.seconds else f for f in CHAOS_FAULTS]
        local.faults.randomly(PeriodicFaults(FAULT_PERIOD, faults, seed=f"{seed}-faults").draw)
        broken = seen.broken

        def check() -> None:
            found = after_kill(local, journal)
            if brackets:
                held, protected = protection(local, journal)
                if protected > held:
                    found.append(f"lists and held brackets sell {protected} BTC of {held} held")
            broken.extend(p for p in found if p not in broken)

        while seen.kills < kills:
            assert seen.crashes <= MAX_CRASHES, f"{seen.crashes} crashes: {log.read_text()[-3000:]}"
            if rng.random() < 0.3:  # every lookup fails for a while
                local.faults.fail(LOOKUP_PATHS, method="GET", status=503, for_seconds=1.0)
            child = ForkedChild(local.url, journal, 100_000, log, brackets=brackets)
            if run_session(child, local, rng.randint(0, 2)):  # 0: kill while it starts
                local.publish()  # the next bar: the kill lands anywhere in its handling
                time.sleep(rng.uniform(0.0, 0.3))  # where, not when: any moment is valid
            if child.kill():
                seen.kills += 1
            else:  # it died of a venue fault by itself: restarted like a kill, but counted
                seen.crashes += 1
            check()
        seen.rates = fault_rates(local)
        local.faults.randomly(None)
        local.faults.clear()
        local.execute_pending()
        final = ForkedChild(local.url, journal, 3, log, brackets=brackets)
        assert run_session(final, local, 3), final.tail()
        summary = final.until("SUMMARY")
        assert summary is not None, final.tail()
        assert final.finish() == 0, final.tail()
        broken += [p for p in at_the_end(local, journal, summary) if p not in broken]
        if brackets:
            check()
            held, protected = protection(local, journal)
            parted = sum(1 for o in local.accounts.orders(KEY) if len(o.fills) > 1)
            seen.figures = {
                "held": float(held),
                "protected": float(protected),
                "lists": float(len(local.accounts.order_lists.lists)),
                "orders_filled_in_parts": float(parted),
            }
    return seen


def test_chaos_kill_9_with_faults_on_every_endpoint(tmp_path: Path) -> None:
    seen = chaos(tmp_path, "chaos-kill-9", KILLS)
    rates = seen.rates
    faulty = sum(f for _, f in rates.values())
    total = sum(n for n, _ in rates.values())
    _log.info(
        "chaos_figures",
        kills=seen.kills,
        crashes=seen.crashes,
        faulty=faulty,
        requests=total,
        per_endpoint=rates,
        broken=seen.broken,
    )
    assert faulty / total >= 0.08
    for endpoint, (count, failed) in rates.items():  # lookup spans only add to the planned 10 %
        assert failed >= -(-count // FAULT_PERIOD), f"{endpoint}: {failed}/{count}"
    for endpoint in ("POST /api/v3/order", "DELETE /api/v3/order", "GET /api/v3/order"):
        assert rates[endpoint][1] > 0, f"no fault on {endpoint}"
    assert "POST /api/v3/order/cancelReplace" in rates
    assert seen.broken == [], f"invariants broken over {seen.kills} kills: {seen.broken}"


def test_chaos_kill_9_with_oco_brackets_and_partial_fills(tmp_path: Path) -> None:
    """Brackets (venue OCO per part) and partial fills under kill -9 and faults.

    Asserted: the base invariants (no intent placed twice, each venue trade booked once,
    journal opens and verifies, portfolio == venue at the end) and never more protection than
    holdings. NOT yet asserted (known gap, issue 11): that everything held is protected after
    a restart. A kill while the strategy's sell is parked behind the cancel of its lists
    leaves the lists canceled and the sell journaled but never sent; the restart treats it as
    in doubt (resolved only at `unknown_deadline`, so the short final run can end with it
    unresolved), and it re-protects only entries still working (terminal ones are not
    resumed), so that amount stays bare. Likewise an OCO list whose legs were journaled but
    never sent (kill between the two), or that the final run sent as it stopped (journal
    ``NEW``, venue open: resolved at the next start), is left in doubt. When (only
    when) these gaps show, the test xfails with the details; every other broken invariant
    fails it.
    """
    seen = chaos(tmp_path, "chaos-brackets", BRACKET_KILLS, brackets=True)
    _log.info("chaos_bracket_figures", kills=seen.kills, crashes=seen.crashes, **seen.figures)
    assert seen.rates.get("POST /api/v3/orderList/oco", (0, 0))[0] > 0, "no OCO list was sent"
    assert seen.figures["orders_filled_in_parts"] > 0, "no order filled in parts"
    parked = parked_exits(tmp_path / "child.log")
    legs = re.compile(r"-(tp|sl)\b")
    gap = [
        p
        for p in seen.broken
        if _IN_DOUBT.search(p) and (any(c in p for c in parked) or legs.search(p))
    ]
    hard = [p for p in seen.broken if p not in gap]
    assert hard == [], f"invariants broken over {seen.kills} kills: {hard}"
    if gap or seen.figures["held"] - seen.figures["protected"] >= 3e-5:
        pytest.xfail(f"known gap (parked exit or OCO in doubt): {gap}; figures {seen.figures}")


_IN_DOUBT = re.compile(r"intents never resolved|journal new, venue (rejected|open)")


def parked_exits(log: Path) -> set[str]:
    """Client ids of exits the children parked behind the cancel of their lists."""
    found = re.findall(r'"client_id": "([^"]+)", "legs"', log.read_text(errors="replace"))
    return set(found)
