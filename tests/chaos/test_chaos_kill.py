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
    final_ns: int = 0  # when the final run started (wall clock, ns)
    listed: set[str] = field(default_factory=set)  # take-profit legs open on the venue at the end


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

        def parted() -> bool:  # a resting order filled in parts: what the variant is about
            return any(len(o.fills) > 1 for o in local.accounts.orders(KEY))

        # On a loaded machine a kill can land before the child handled its bar, so fewer
        # orders rest and fill in the first ``kills`` sessions: the bracket variant goes on
        # (up to four times as many kills) until one resting order has filled in parts, so
        # what it is about is exercised on any machine (an event, not a duration).
        while seen.kills < kills or (brackets and not parted() and seen.kills < 4 * kills):
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
        seen.final_ns = time.time_ns()
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
            seen.listed = {m.above.client_id for m in local.accounts.order_lists.open_lists(KEY)}
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
    journal opens and verifies, portfolio == venue at the end), never more protection than
    holdings, and everything held protected at the end except what the final run's stop left
    for the next start, each amount named from the journal (`left_for_next_start`):

    * an order or OCO list still in doubt when the final (short) run stops, whose intent was
      journaled less than ``unknown_deadline`` (4 s) before that run started (a kill between
      its intent and its answer). Not a bug: an unknown outcome is never resolved as absent
      before ``unknown_deadline`` (the final run is shorter) and the next start resolves it
      (a list never placed is then held). An older one in doubt fails the test.
    * the lists of an exit the final run's graceful shutdown rejected while it was parked
      (``not sent: the broker shut down while its OCO closed``): canceled for an exit that
      never went out. The next start protects that amount again (issue 11's restart fix,
      `tests/brokers/test_live_parked_crash.py`); that the shutdown itself leaves it bare
      until then is a known gap of the graceful stop, reported, not a kill -9 failure.

    A parked exit that a kill left never sent is no gap any more: the restart rejects it at
    once and protects its amount again, so one left in doubt fails the test. The test xfails
    (naming the amounts) only when these two causes account for the whole bare amount.
    """
    seen = chaos(tmp_path, "chaos-brackets", BRACKET_KILLS, brackets=True)
    _log.info("chaos_bracket_figures", kills=seen.kills, crashes=seen.crashes, **seen.figures)
    assert seen.rates.get("POST /api/v3/orderList/oco", (0, 0))[0] > 0, "no OCO list was sent"
    assert seen.figures["orders_filled_in_parts"] > 0, "no order filled in parts"
    young = young_intents(tmp_path / "journal.jsonl", seen.final_ns - UNKNOWN_DEADLINE_NS)
    gap = [p for p in seen.broken if _IN_DOUBT.search(p) and set(_CLIENT_ID.findall(p)) <= young]
    hard = [p for p in seen.broken if p not in gap]
    assert hard == [], f"invariants broken over {seen.kills} kills: {hard}"
    assert replay(tmp_path / "journal.jsonl").never_sent == frozenset()
    bare = seen.figures["held"] - seen.figures["protected"]
    doubt, shut = left_for_next_start(tmp_path / "journal.jsonl", seen)
    # what the causes name is at most what they leave bare (the account may have sold some)
    assert bare < doubt + shut + 3e-5, f"bare {bare} BTC; explained {doubt} + {shut}"
    if gap or bare >= 3e-5:
        pytest.xfail(
            f"left for the next start: {doubt} BTC in lists in doubt ({gap}), {shut} BTC of "
            f"lists canceled for an exit the shutdown rejected; figures {seen.figures}"
        )


_IN_DOUBT = re.compile(r"intents never resolved|journal new, venue (rejected|open)")
_CLIENT_ID = re.compile(r"qk[0-9a-f]+-\d+(?:-\d+)?(?:-(?:tp|sl))?")
UNKNOWN_DEADLINE_NS = 4_000_000_000  # the chaos child's LiveSafety(unknown_deadline=4.0)


def young_intents(journal: Path, since_ns: int) -> set[str]:
    """Client ids of intents journaled at or after ``since_ns`` (wall clock)."""
    records = (json.loads(line) for line in journal.read_text().splitlines())
    intents = (r for r in records if r["kind"] == "intent")
    return {str(r["data"]["client_id"]) for r in intents if r["time"] >= since_ns}


_SHUT = "not sent: the broker shut down while its OCO closed"


def left_for_next_start(journal: Path, seen: Chaos) -> tuple[float, float]:
    """BTC the final run's stop left bare for the next start, by cause (see the test).

    Returns:
        The amount of the take-profit legs in doubt (journaled ``NEW``) whose list is not on
        the venue, and that of the take-profit legs canceled for a parked exit the final run's
        shutdown rejected.
    """
    state = replay(journal)
    orders = state.orders

    def is_tp(cid: str) -> bool:
        request = orders[cid].request
        return cid.endswith("-tp") and request is not None and request.tag == "take_profit"

    doubt = sum(
        o.amount or 0.0
        for c, o in orders.items()
        if is_tp(c) and c in state.in_doubt and c not in seen.listed
    )
    shut = 0.0
    for line in journal.read_text().splitlines():
        record = json.loads(line)
        exit_ = orders.get(str(record["data"].get("client_id", "")))
        final = record["time"] >= seen.final_ns
        if record["kind"] == "park" and final and exit_ is not None and exit_.reason == _SHUT:
            for cid in record["data"]["legs"]:
                if is_tp(cid) and orders[cid].status is OrderStatus.CANCELED:
                    shut += orders[cid].amount or 0.0
    return doubt, shut
