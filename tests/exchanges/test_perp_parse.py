"""Parsing ccxt's positions, funding history and futures balances (ccxt's own shapes)."""

from __future__ import annotations

import pytest

from quantkit.errors import DataError
from quantkit.exchanges.perp_parse import parse_funding_history, parse_positions, parse_wallet


def position(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "symbol": "BTC/USDT:USDT", "contracts": 0.1, "side": "short", "entryPrice": 40000.0,
        "markPrice": 39000.0, "unrealizedPnl": 100.0, "liquidationPrice": 47812.6,
        "initialMargin": 780.0, "maintenanceMargin": 15.6, "marginMode": "isolated",
        "timestamp": 1_700_000_000_000,
        "info": {"positionAmt": "-0.1", "isolatedWallet": "800.39"},
    }  # fmt: skip
    row.update(changes)
    return row


def test_a_short_is_signed_from_the_venue_amount() -> None:
    parsed = parse_positions([position()], exchange="x")["BTC/USDT:USDT"]
    assert (parsed.amount, parsed.isolated_wallet) == (-0.1, 800.39)
    assert parsed.timestamp == 1_700_000_000_000 * 1_000_000
    without_info = parse_positions([position(info={})], exchange="x")["BTC/USDT:USDT"]
    assert without_info.amount == -0.1  # from ccxt's side and contracts


def test_malformed_positions_name_the_field_and_the_symbol() -> None:
    with pytest.raises(DataError, match=r"position 'BTC/USDT:USDT'.*entryPrice 'abc'"):
        parse_positions([position(entryPrice="abc")], exchange="x")
    with pytest.raises(DataError, match="expected a list of positions"):
        parse_positions({"a": 1}, exchange="x")
    with pytest.raises(DataError, match="listed twice"):
        parse_positions([position(), position()], exchange="x")


def test_funding_history_sorted_and_checked() -> None:
    rows = [
        {"id": "2", "symbol": "S", "code": "USDT", "amount": -0.5, "timestamp": 20},
        {"id": "1", "symbol": "S", "code": "USDT", "amount": 0.25, "timestamp": 10},
    ]
    assert [p.funding_id for p in parse_funding_history(rows, exchange="x")] == ["1", "2"]
    with pytest.raises(DataError, match="amount is missing"):
        parse_funding_history([{"id": "3", "timestamp": 1}], exchange="x")


def test_wallet_leaves_the_unrealised_pnl_out() -> None:
    raw = {"USDT": {"total": 10_098.39}, "info": {"assets": [
        {"asset": "USDT", "walletBalance": "9998.39"}]}}  # fmt: skip
    assert parse_wallet(raw, "USDT", exchange="x") == 9998.39
    assert parse_wallet(raw, "BUSD", exchange="x") == 0.0
    fallback = {"USDT": {"total": 110.0}, "info": {"totalUnrealizedProfit": "10"}}
    assert parse_wallet(fallback, "USDT", exchange="x") == 100.0
