"""Properties of the venue's ledger under random trading, price moves, funding and liquidations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.testing.futures.accounts import FuturesAccounts, OrderRequest
from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.orders import VenueRejectionError

D = Decimal
BTC = "BTCUSDT"
INITIAL = D(5_000)

prices = st.integers(min_value=30_000, max_value=50_000).map(D)
quantities = st.integers(min_value=1, max_value=400).map(lambda n: D(n) / 1000)
operations = st.one_of(
    st.tuples(st.just("market"), st.sampled_from(["BUY", "SELL"]), quantities),
    st.tuples(st.just("limit"), st.sampled_from(["BUY", "SELL"]), quantities, prices),
    st.tuples(st.just("last"), prices),
    st.tuples(st.just("mark"), prices),
    st.tuples(
        st.just("funding"), st.integers(min_value=-30, max_value=30).map(lambda n: D(n) / 10_000)
    ),
    st.tuples(st.just("margin"), st.sampled_from(["ISOLATED", "CROSSED"])),
    st.tuples(st.just("leverage"), st.integers(min_value=1, max_value=125)),
)


def apply(venue: FuturesAccounts, op: tuple[Any, ...], now: int) -> None:
    kind = op[0]
    if kind == "market":
        venue.place("k", OrderRequest(BTC, op[1], "MARKET", op[2]), now=now)
    elif kind == "limit":
        venue.place("k", OrderRequest(BTC, op[1], "LIMIT", op[2], price=op[3]), now=now)
    elif kind in ("last", "mark"):
        venue.move(BTC, **{kind: op[1]}, now=now)
    elif kind == "funding":
        venue.settle_funding(BTC, op[1], now=now)
    elif kind == "margin":
        venue.set_margin_type("k", BTC, op[1], now=now)
    else:
        venue.set_leverage("k", BTC, op[1], now=now)


@settings(max_examples=60, deadline=None)
@given(st.lists(operations, min_size=1, max_size=40))
def test_the_ledger_balances_after_anything(ops: list[tuple[Any, ...]]) -> None:
    venue = FuturesAccounts([ContractRules(BTC)], {"k": ("s", INITIAL)}, {BTC: 40_000})
    for step, op in enumerate(ops):
        try:
            apply(venue, op, now=step)
        except VenueRejectionError:
            pass  # a refusal must change nothing, which the invariants below check too
        account = venue.account("k")
        position = account.position(BTC)
        # every change of the wallet is an income entry: nothing appears or vanishes
        assert account.wallet == INITIAL + sum((i.amount for i in account.income), D(0))
        # the position is the sum of its trades
        signed = sum((t.qty if t.side == "BUY" else -t.qty for t in account.trades), D(0))
        assert position.amount == signed
        # an isolated position never owes more than its margin; cross has no isolated wallet
        assert position.isolated_wallet >= 0
        if not position.isolated or not position.amount:
            assert position.isolated_wallet == 0
        # after every step the venue has liquidated what its rule says it must
        mark = venue.marks[BTC]
        if position.amount and position.isolated:
            maintenance = abs(position.amount) * mark * D("0.004")  # level 1 below 50,000
            if abs(position.amount) * mark < 50_000:
                assert position.isolated_wallet + position.unrealized(mark) > maintenance
        if position.amount and not position.isolated:
            assert account.cross_wallet + position.unrealized(mark) > 0
