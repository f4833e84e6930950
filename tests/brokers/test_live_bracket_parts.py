"""What a restart must protect again: received net of base fees, less what lists and holds cover."""

from __future__ import annotations

from typing import Any

import pytest

from quantkit.brokers._journal_format import Record
from quantkit.brokers.live_bracket_parts import entry_of, is_list_tp, unprotected_parts
from quantkit.brokers.live_held import exit_request
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side

SYM = "BTC/USDT"
ENTRY = "qkabc-000001"


def record(kind: str, **data: Any) -> Record:
    return Record(0, 0, kind, data, "", "")


def fill(client_id: str, amount: float, fee: float, fee_currency: str = "BTC") -> Record:
    return record("fill", client_id=client_id, amount=amount, fee=fee, fee_currency=fee_currency)


def orders(*legs: tuple[str, OrderStatus, float]) -> dict[str, Order]:
    entry = OrderRequest(
        SYM, Side.BUY, OrderType.LIMIT, amount=0.03, limit_price=39_000.0,
        stop_loss=37_000.0, take_profit=42_000.0,
    )  # fmt: skip
    found = {ENTRY: Order(ENTRY, entry, 0)}
    for client_id, status, amount in legs:
        role = client_id[-2:]
        price = 42_000.0 if role == "tp" else 37_000.0
        leg = Order(client_id, exit_request(SYM, Side.SELL, amount, role, price), 0)
        leg.status = status
        found[client_id] = leg
    return found


def base(symbol: str) -> str:
    return symbol.split("/", maxsplit=1)[0]


def test_parts_booked_without_a_list_are_uncovered_and_refused_lists_cover_nothing() -> None:
    known = orders(
        (f"{ENTRY}-tp", OrderStatus.OPEN, 0.00999),
        (f"{ENTRY}-sl", OrderStatus.OPEN, 0.00999),
        (f"{ENTRY}-2-tp", OrderStatus.REJECTED, 0.00999),  # never reached the venue
        (f"{ENTRY}-2-sl", OrderStatus.REJECTED, 0.00999),
    )
    records = [fill(ENTRY, 0.01, 0.00001), fill(ENTRY, 0.01, 0.00001), fill(ENTRY, 0.01, 0.00001)]
    # received 3 x 0.00999 = 0.02997; covered by the first list only: 0.00999
    gaps = unprotected_parts(records, known, base)
    assert gaps == {ENTRY: pytest.approx(0.01998, abs=1e-15)}
    assert entry_of(f"{ENTRY}-2-tp", known) == entry_of(f"{ENTRY}-tp", known) == ENTRY
    assert [is_list_tp(known[c]) for c in (f"{ENTRY}-tp", f"{ENTRY}-2-tp", f"{ENTRY}-sl")] == [
        True, False, False,
    ]  # fmt: skip


def test_lists_that_ended_and_the_latest_held_total_cover_their_parts() -> None:
    known = orders(
        (f"{ENTRY}-tp", OrderStatus.EXPIRED, 0.00999),  # its stop sold the part: covered
        (f"{ENTRY}-2-tp", OrderStatus.CANCELED, 0.00999),  # canceled for an exit: covered
    )
    records = [
        fill(ENTRY, 0.01, 0.00001),
        fill(ENTRY, 0.01, 0.00001),
        fill(ENTRY, 0.01, 0.00001),
        record("bracket", client_id=ENTRY, mode="held", amount=0.004),
        record("bracket", client_id=ENTRY, mode="held", amount=0.00999),  # the total now
        record("bracket", client_id=ENTRY, mode="oco", amount=0.00999),  # (lists count by legs)
    ]
    assert unprotected_parts(records, known, base) == {}


def test_a_quote_fee_is_not_taken_from_the_amount_and_plain_orders_are_ignored() -> None:
    known = orders()
    plain = Order("qkabc-000002", OrderRequest(SYM, Side.BUY, amount=0.5), 0)
    known[plain.client_id] = plain
    records = [fill(ENTRY, 0.01, 0.39, "USDT"), fill(plain.client_id, 0.5, 0.0005)]
    assert unprotected_parts(records, known, base) == {ENTRY: 0.01}
