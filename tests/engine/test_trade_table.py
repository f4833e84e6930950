"""`TradeColumns`: the trades table built from rows taken as trades close, figures by hand."""

from __future__ import annotations

import doctest
import math

import pandas as pd
import pytest

import quantkit.engine.trade_table
from quantkit.domain.fill import Fill
from quantkit.domain.order import Side
from quantkit.engine.trade_table import TradeColumns
from quantkit.engine.trades import Trade, round_trips

BUY, SELL = Side.BUY, Side.SELL
MINUTE = 60 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC


def _fills() -> list[Fill]:
    """Long 2 BTC (entry 100 and 110), out at 120; short 1 ETH at 50, still open."""
    return [
        Fill("a1", "BTC/USDT", BUY, 100.0, 1.0, 0.1, "USDT", T0),
        Fill("a2", "BTC/USDT", BUY, 110.0, 1.0, 0.11, "USDT", T0 + MINUTE),
        Fill("e1", "ETH/USDT", SELL, 50.0, 1.0, 0.05, "USDT", T0 + 2 * MINUTE),
        Fill("a3", "BTC/USDT", SELL, 120.0, 2.0, 0.24, "USDT", T0 + 3 * MINUTE),
    ]


def test_closed_trades_taken_as_they_close_make_the_hand_computed_row() -> None:
    closed = TradeColumns()
    kept, still_open = round_trips(_fills(), on_close=closed.add)
    assert kept == []  # the sink took them
    table = closed.frame()
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["symbol"], row["direction"], row["size"]) == ("BTC/USDT", "long", 2.0)
    assert row["entry_price"] == pytest.approx(105.0)
    assert row["exit_price"] == 120.0
    assert row["fees"] == pytest.approx(0.45)
    assert row["pnl"] == pytest.approx(2 * (120.0 - 105.0) - 0.45)
    assert row["return_pct"] == pytest.approx(100.0 * (30.0 - 0.45) / 210.0)
    assert row["entry_time"] == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert row["duration"] == pd.Timedelta(minutes=3)
    assert row["orders"] == "a1,a2,a3"
    assert not row["ambiguous"]
    (short,) = still_open
    assert (short.symbol, short.direction, short.entry_amount) == ("ETH/USDT", "short", 1.0)


def test_the_sink_sees_the_same_trades_the_list_would_hold() -> None:
    closed = TradeColumns()
    round_trips(_fills(), on_close=closed.add)
    listed, _ = round_trips(_fills())
    pd.testing.assert_frame_equal(closed.frame(), TradeColumns.of(listed).frame(), check_exact=True)


def test_an_open_trade_has_no_exit_time_and_a_nan_exit_price() -> None:
    _, still_open = round_trips(_fills())
    table = TradeColumns.of(still_open).frame()
    row = table.iloc[0]
    assert row["symbol"] == "ETH/USDT"
    assert row["exit_time"] is pd.NaT and row["duration"] is pd.NaT
    assert math.isnan(row["exit_price"]) and math.isnan(row["return_pct"])
    assert row["pnl"] == pytest.approx(-0.05)  # nothing closed yet: the entry fee only


def test_no_trades_make_an_empty_table_with_every_column() -> None:
    table = TradeColumns().frame()
    assert table.empty
    assert list(table.columns) == [
        "symbol", "direction", "entry_time", "exit_time", "size", "entry_price", "exit_price",
        "pnl", "return_pct", "fees", "ambiguous", "orders", "duration",
    ]  # fmt: skip


def test_a_short_trade_gains_when_the_price_falls() -> None:
    trade = Trade("ETH/USDT", "short", T0, T0 + MINUTE, 1.0, 50.0, 1.0, 40.0, 1.0, 0.09)
    row = TradeColumns.of([trade]).frame().iloc[0]
    assert row["pnl"] == pytest.approx(10.0 - 0.09)
    assert row["pnl"] == pytest.approx(trade.pnl)
    assert row["return_pct"] == pytest.approx(trade.return_pct)


def test_the_docstring_example_runs() -> None:
    outcome = doctest.testmod(quantkit.engine.trade_table)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_funding_is_a_column_and_comes_off_the_pnl_and_return() -> None:
    import numpy as np

    trade = Trade("BTC/USDT", "long", T0, T0 + MINUTE, 1.0, 100.0, 1.0, 110.0, 1.0, 0.2)
    columns = TradeColumns.of([trade])
    row = columns.frame(np.array([1.5])).iloc[0]
    assert row["funding"] == 1.5
    assert row["pnl"] == pytest.approx(10.0 - 0.2 - 1.5)
    assert row["return_pct"] == pytest.approx(100.0 * (10.0 - 0.2 - 1.5) / 100.0)
    assert "funding" not in columns.frame().columns  # spot: no column


def test_spans_read_each_rows_symbol_and_times() -> None:
    closed = TradeColumns()
    _, still_open = round_trips(_fills(), on_close=closed.add)
    opened = TradeColumns.of(still_open)
    assert list(closed.spans()) == [("BTC/USDT", T0, T0 + 3 * MINUTE)]
    (span,) = opened.spans()
    assert (span.symbol, span.entry_time, span.exit_time) == ("ETH/USDT", T0 + 2 * MINUTE, -1)
    assert len(closed.spans()) == 1 and closed.spans()[0:1] == [closed.spans()[0]]


def test_rows_keep_their_order_across_the_blocks_trades_are_moved_in() -> None:
    from quantkit.engine.trade_table import _BLOCK

    count = 2 * _BLOCK + 5
    trades = []
    for k in range(count):
        trade = Trade(
            "BTC/USDT", "long", T0 + k, T0 + k + MINUTE, 1.0, 100.0 + k, 1.0, 101.0 + k, 1.0
        )
        trade.client_ids = [f"in{k}", f"out{k}"]
        trades.append(trade)
    columns = TradeColumns()
    for trade in trades:
        columns.add(trade)
    assert len(columns) == count  # pending ones counted before they are moved
    table = columns.frame()
    assert len(table) == count
    assert (table["entry_price"] == 100.0 + pd.RangeIndex(count)).all()
    assert (table["pnl"] == 1.0).all()
    assert table["orders"].iloc[_BLOCK] == f"in{_BLOCK},out{_BLOCK}"
    assert table["entry_time"].iloc[-1] == pd.Timestamp(T0 + count - 1, unit="ns", tz="UTC")
    spans = columns.spans()
    assert spans[count - 1] == ("BTC/USDT", T0 + count - 1, T0 + count - 1 + MINUTE)
