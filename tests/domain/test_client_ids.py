"""Client order ids: made and parsed in one module; the journal and engine use the same."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.brokers import journal
from quantkit.domain.client_ids import (
    client_id_format,
    client_order_id,
    format_client_id,
    is_run_order,
    order_number,
    run_prefix,
)
from quantkit.errors import ConfigError


def test_ids_round_trip_through_their_parser() -> None:
    for seq in (0, 1, 7, 999_999, 1_000_000, 10**19):
        cid = client_order_id("run-1", seq)
        assert order_number(cid) == seq
        assert is_run_order(cid, run_prefix("run-1"))
        assert not is_run_order(cid, run_prefix("run-2"))
    assert format_client_id("qk", 42) == "qk-000042"
    assert order_number("web_order") == 0
    assert not is_run_order("qk-00a1", "qk")


def test_the_journal_uses_the_one_maker() -> None:
    assert journal.client_order_id is client_order_id
    assert journal.run_prefix is run_prefix


def test_the_id_fits_binance_rules() -> None:
    cid = client_order_id("a" * 200, 10**20 - 1)
    assert len(cid) <= 36
    with pytest.raises(ConfigError, match="seq"):
        client_order_id("r", -1)


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=12), seq=st.integers(min_value=0, max_value=10**12))
def test_the_bound_format_gives_format_client_id(prefix: str, seq: int) -> None:
    assert client_id_format(prefix)(seq) == format_client_id(prefix, seq)


def test_the_bound_format_keeps_braces_in_the_prefix() -> None:
    assert client_id_format("a{0}b}")(42) == "a{0}b}-000042"
