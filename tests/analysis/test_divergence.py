"""The divergence report: a tape written from a backtest matches it; each perturbation shows."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from quantkit import Engine, SeriesFeed, SmaCross
from quantkit.analysis.divergence import (
    CATEGORIES,
    DivergenceReport,
    divergence_report,
    order_sequence,
)
from quantkit.domain.bars import BarSeries
from quantkit.domain.order import OrderRequest
from quantkit.engine.tape import EventTape, read_tape
from quantkit.errors import ConfigError, DataError
from quantkit.risk.policy import Decision, RiskContext, RiskPolicy
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from tests.builders import HOUR, make_series
from tests.strategies import WalkBars, bar_series, gbm_bars, sma_periods

FAST, SLOW = 3, 8
SERIES = make_series(gbm_bars(120, 7, start=100.0, sigma=0.02, drift=0.0).rows())


def write_backtest_tape(path: Path, series: BarSeries, strategy: Strategy) -> None:
    """Run ``strategy`` through the backtest and write what it did as a live run would."""
    engine = Engine(feed=SeriesFeed(series), strategy=strategy)
    engine.run()
    orders = engine.broker.exchange.orders.values()  # type: ignore[attr-defined]
    with EventTape(path, run_id="live", flush_every=64) as tape:
        for i in range(len(series)):
            tape.record_bar(series.bar(i), series.timeframe)
        for order in orders:
            tape.record_intent(order)
        for fill in engine.broker.fills:  # type: ignore[attr-defined]
            tape.record_fill(fill)
        for order in orders:
            tape.record_order(order)


@pytest.fixture(scope="module")
def tape_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tape")
    write_backtest_tape(path, SERIES, SmaCross(fast=FAST, slow=SLOW))
    return path


@pytest.fixture
def frame(tape_dir: Path) -> pd.DataFrame:
    return read_tape(tape_dir)


def report_of(
    frame: pd.DataFrame,
    *,
    price_tolerance_bps: float = 1.0,
    latency_tolerance_s: float | None = None,
) -> DivergenceReport:
    return divergence_report(
        frame,
        SmaCross(fast=FAST, slow=SLOW),
        price_tolerance_bps=price_tolerance_bps,
        latency_tolerance_s=latency_tolerance_s,
    )


def of(frame: pd.DataFrame, seq: int, kind: str) -> pd.Series:
    return (frame["client_id"] == f"qk-{seq:06d}") & (frame["kind"] == kind)


def fill_of(frame: pd.DataFrame, seq: int) -> pd.Series:
    """The one fill of order ``seq`` (every order of this run fills at once)."""
    rows = frame[of(frame, seq, "fill")]
    assert len(rows) == 1
    return rows.iloc[0]


def row(report: DivergenceReport, seq: int) -> pd.Series:
    found = report.orders[report.orders["seq"] == seq]
    assert len(found) == 1
    return found.iloc[0]


def others_match(report: DivergenceReport, *changed: int) -> bool:
    rest = report.orders[~report.orders["seq"].isin(changed)]
    return bool((rest["category"] == "match").all())


def test_a_tape_written_from_the_backtest_matches_it(tape_dir: Path) -> None:
    report = divergence_report(str(tape_dir), SmaCross(fast=FAST, slow=SLOW))
    orders = report.orders
    assert len(orders) == 14 and orders["seq"].tolist() == list(range(1, 15))
    assert (orders["category"] == "match").all()
    assert (orders["slippage_bps"] == 0.0).all() and (orders["latency_s"] == 0.0).all()
    assert (orders["fee_diff"] == 0.0).all() and not orders["partial"].any()
    assert orders["live_client_id"].tolist() == [f"qk-{k:06d}" for k in range(1, 15)]
    assert orders["backtest_client_id"].tolist() == [f"backtest-{k:06d}" for k in range(1, 15)]
    assert orders["side"].tolist() == ["buy", "sell"] * 7
    assert report.summary["match"] == report.summary["orders"] == 14
    assert all(report.summary[c] == 0 for c in CATEGORIES if c != "match")
    assert report.summary["max_abs_slippage_bps"] == 0.0
    assert report.summary["pnl_diff"] == 0.0 and report.summary["total_fee_diff"] == 0.0
    assert report.diverged.empty
    assert report.backtest.stats["Trades"] == 7


def test_fills_worse_for_the_trader_are_positive_slippage(frame: pd.DataFrame) -> None:
    buy, sell = fill_of(frame, 1), fill_of(frame, 2)
    # The buy spends its budget (a cost order) 10 bps dearer: a smaller amount, same notional.
    frame.loc[of(frame, 1, "fill"), ["price", "amount"]] = (
        buy["price"] * 1.001,
        buy["amount"] / 1.001,
    )
    frame.loc[of(frame, 1, "order"), ["price", "amount", "filled"]] = (
        buy["price"] * 1.001,
        buy["amount"] / 1.001,
        buy["amount"] / 1.001,
    )
    frame.loc[of(frame, 2, "fill"), "price"] = sell["price"] * 0.999  # got 10 bps less
    report = report_of(frame)
    for seq, fill in ((1, buy), (2, sell)):
        got = row(report, seq)
        assert got["category"] == "slippage"
        assert got["slippage_bps"] == pytest.approx(10.0)
        assert got["backtest_price"] == fill["price"]
        assert "+10.00 bps" in got["reason"]
    assert row(report, 1)["live_price"] == pytest.approx(buy["price"] * 1.001)
    assert row(report, 1)["live_amount"] == pytest.approx(buy["amount"] / 1.001)
    assert others_match(report, 1, 2)
    assert report.summary["slippage"] == 2 and report.summary["match"] == 12
    assert report.summary["max_abs_slippage_bps"] == pytest.approx(10.0)
    assert report.summary["mean_abs_slippage_bps"] == pytest.approx(20.0 / 14)
    last_close = float(SERIES.close[-1])
    held_less = buy["amount"] - buy["amount"] / 1.001  # bought less, sold as much
    expected = -held_less * last_close - sell["amount"] * sell["price"] * 0.001
    assert report.summary["pnl_diff"] == pytest.approx(expected)


def test_a_better_live_price_is_negative_and_small_gaps_are_tolerated(
    frame: pd.DataFrame,
) -> None:
    better, small = fill_of(frame, 4), fill_of(frame, 6)
    frame.loc[of(frame, 4, "fill"), "price"] = better["price"] * 1.002  # sold 20 bps higher
    frame.loc[of(frame, 6, "fill"), ["price", "fee"]] = (
        small["price"] * 1.00005,
        small["fee"] * 1.00005,
    )  # half a bp, the fee scaling with the notional
    report = report_of(frame)
    assert row(report, 4)["category"] == "slippage"
    assert row(report, 4)["slippage_bps"] == pytest.approx(-20.0)
    assert row(report, 6)["category"] == "match"
    assert row(report, 6)["slippage_bps"] == pytest.approx(-0.5)
    assert report_of(frame, price_tolerance_bps=0.25).orders.set_index("seq").loc[
        6, "category"
    ] == ("slippage")


def test_a_fill_one_bar_later_is_latency(frame: pd.DataFrame) -> None:
    frame.loc[of(frame, 3, "fill"), "time"] += HOUR
    frame.loc[of(frame, 4, "fill"), "time"] += 1_000_000_000  # one second: within half a bar
    report = report_of(frame)
    assert row(report, 3)["category"] == "latency"
    assert row(report, 3)["latency_s"] == 3600.0
    assert "+3600.000 s" in row(report, 3)["reason"]
    assert row(report, 4)["category"] == "match" and row(report, 4)["latency_s"] == 1.0
    assert others_match(report, 3)
    assert report.summary["mean_latency_s"] == pytest.approx(3601.0 / 14)
    assert report.summary["pnl_diff"] == 0.0
    strict = report_of(frame, latency_tolerance_s=0.5)
    assert row(strict, 4)["category"] == "latency"


def test_a_partial_fill(frame: pd.DataFrame) -> None:
    fill = fill_of(frame, 14)
    amount, price, fee = fill["amount"], fill["price"], fill["fee"]
    frame.loc[of(frame, 14, "fill"), ["amount", "fee"]] = (amount / 2, fee / 2)
    frame.loc[of(frame, 14, "order"), ["status", "reason", "filled", "fee"]] = (
        "canceled",
        "remainder canceled",
        amount / 2,
        fee / 2,
    )
    report = report_of(frame)
    got = row(report, 14)
    assert got["category"] == "partial" and bool(got["partial"]) is True
    assert (got["live_status"], got["backtest_status"]) == ("canceled", "filled")
    assert got["live_amount"] == amount / 2 and got["backtest_amount"] == amount
    assert got["live_ordered"] == amount == got["backtest_ordered"]
    assert got["fee_diff"] == pytest.approx(-fee / 2)
    assert got["slippage_bps"] == 0.0
    assert others_match(report, 14)
    last_close = float(SERIES.close[-1])
    expected = -(amount / 2) * price + fee / 2 + (amount / 2) * last_close
    assert report.summary["pnl_diff"] == pytest.approx(expected)


def test_a_missing_order_is_missed(frame: pd.DataFrame) -> None:
    frame = frame[frame["client_id"] != "qk-000005"]
    report = report_of(frame)
    got = row(report, 5)
    assert got["category"] == "missed"
    assert (got["live_client_id"], got["live_status"]) == ("", "")
    assert (got["backtest_client_id"], got["backtest_status"]) == ("backtest-000005", "filled")
    assert math.isnan(got["live_price"]) and math.isnan(got["fee_diff"])
    assert math.isnan(got["slippage_bps"]) and not got["partial"]
    assert others_match(report, 5)
    assert report.summary["missed"] == 1 and report.summary["pnl_diff"] == 0.0


def test_an_order_only_the_live_run_sent_is_extra(frame: pd.DataFrame) -> None:
    intent = frame[of(frame, 1, "intent")].copy()
    intent[["seq", "client_id"]] = (frame["seq"].max() + 1, "qk-000099")
    report = report_of(pd.concat([frame, intent], ignore_index=True))
    got = row(report, 99)
    assert got["category"] == "extra" and got["side"] == "buy"
    assert (got["backtest_client_id"], got["live_client_id"]) == ("", "qk-000099")
    assert got["live_amount"] == 0.0 and math.isnan(got["live_price"])
    assert others_match(report, 99) and report.summary["extra"] == 1


def test_a_rejected_order_is_a_status_difference(frame: pd.DataFrame) -> None:
    backtest_fee = fill_of(frame, 7)["fee"]
    frame = frame[~of(frame, 7, "fill")].copy()
    frame.loc[of(frame, 7, "order"), ["status", "reason", "filled", "fee", "price"]] = (
        "rejected",
        "insufficient balance",
        0.0,
        0.0,
        math.nan,
    )
    report = report_of(frame)
    got = row(report, 7)
    assert got["category"] == "status"
    assert got["reason"] == "live rejected (insufficient balance), backtest filled"
    assert got["live_amount"] == 0.0 and math.isnan(got["slippage_bps"])
    assert got["fee_diff"] == -backtest_fee
    assert others_match(report, 7) and report.summary["status"] == 1


def test_a_different_fee(frame: pd.DataFrame) -> None:
    fee = fill_of(frame, 9)["fee"]
    frame.loc[of(frame, 9, "fill"), "fee"] = 2 * fee
    report = report_of(frame)
    got = row(report, 9)
    assert got["category"] == "fee"
    assert (got["live_fee"], got["backtest_fee"], got["fee_diff"]) == (2 * fee, fee, fee)
    assert others_match(report, 9)
    assert report.summary["total_fee_diff"] == fee
    assert report.summary["pnl_diff"] == pytest.approx(-fee)


def test_a_different_side_is_a_different_signal(frame: pd.DataFrame) -> None:
    frame.loc[frame["client_id"] == "qk-000010", "side"] = "buy"
    report = report_of(frame)
    got = row(report, 10)
    assert got["category"] == "different_signal"
    assert got["reason"] == "live buy BTC/USDT, backtest sell BTC/USDT"
    assert math.isnan(got["slippage_bps"]) and math.isnan(got["latency_s"])
    assert others_match(report, 10) and report.summary["pnl_diff"] == 0.0


def test_the_first_category_that_applies_wins(frame: pd.DataFrame) -> None:
    buy = fill_of(frame, 1)  # 100 bps dearer and an hour late: the amount the cost buys
    frame.loc[of(frame, 1, "fill"), ["price", "amount", "time"]] = (
        buy["price"] * 1.01,
        buy["amount"] / 1.01,
        buy["time"] + HOUR,
    )
    frame.loc[of(frame, 1, "order"), ["amount", "filled"]] = buy["amount"] / 1.01
    frame.loc[of(frame, 2, "fill"), "fee"] *= 3
    frame.loc[of(frame, 2, "fill"), "time"] += HOUR
    report = report_of(frame)
    assert row(report, 1)["category"] == "slippage"  # before latency
    assert row(report, 2)["category"] == "fee"  # before latency
    assert row(report, 1)["latency_s"] == 3600.0


def test_fees_in_the_base_currency_are_valued_at_the_fill_price(frame: pd.DataFrame) -> None:
    fill = fill_of(frame, 1)
    frame.loc[of(frame, 1, "fill"), ["fee", "fee_currency"]] = (fill["fee"] / fill["price"], "BTC")
    report = report_of(frame)
    assert row(report, 1)["category"] == "match"
    assert row(report, 1)["live_fee"] == pytest.approx(fill["fee"])


def test_fees_in_another_currency_warn(frame: pd.DataFrame) -> None:
    frame.loc[of(frame, 1, "fill"), "fee_currency"] = "BNB"
    with pytest.warns(UserWarning, match="neither in BTC nor USDT"):
        report = report_of(frame)
    assert row(report, 1)["category"] == "match"


def test_a_live_order_known_only_by_its_fills_counts_as_filled(frame: pd.DataFrame) -> None:
    frame = frame[~(of(frame, 11, "intent") | of(frame, 11, "order"))]
    report = report_of(frame)
    assert row(report, 11)["live_status"] == "filled"
    assert row(report, 11)["category"] == "match"


def test_two_live_orders_with_one_sequence_number_are_refused(frame: pd.DataFrame) -> None:
    intent = frame[of(frame, 1, "intent")].copy()
    intent[["seq", "client_id"]] = (frame["seq"].max() + 1, "restart-1")
    with pytest.raises(DataError, match=r"'qk-000001' and 'restart-1' share sequence number 1"):
        report_of(pd.concat([frame, intent], ignore_index=True))


def test_order_sequence_reads_the_number_and_the_leg() -> None:
    assert order_sequence("qk-000012") == (12, "")
    assert order_sequence("qk3f2a9c1b0d-12") == (12, "")
    assert order_sequence("qk-000012-sl") == (12, "sl")
    assert order_sequence("0123-5") == (5, "")
    for bad in ("abc", "12", "qk-x", "-"):
        with pytest.raises(DataError, match="no sequence number"):
            order_sequence(bad)


def test_bad_arguments_are_refused(frame: pd.DataFrame) -> None:
    for bad in (-1.0, math.inf, math.nan, True, "1"):
        with pytest.raises(ConfigError, match="price_tolerance_bps"):
            report_of(frame, price_tolerance_bps=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="latency_tolerance_s"):
        report_of(frame, latency_tolerance_s=-1.0)
    with pytest.raises(DataError, match=r"missing columns \['fee'\]"):
        report_of(frame.drop(columns=["fee"]))


class ApproveAll(RiskPolicy):
    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        return Decision.approve(request, self.name)


def test_the_broker_and_risk_policy_are_used(frame: pd.DataFrame) -> None:
    from quantkit import BacktestBroker

    report = divergence_report(
        frame,
        SmaCross(fast=FAST, slow=SLOW),
        broker=BacktestBroker(cash=1_000.0),
        risk=ApproveAll(),
    )
    assert len(report.backtest.risk_events) == 14
    # A hundredth of the cash: every backtest order is a hundredth of the live one.
    assert (report.orders["category"] == "partial").all()
    assert not report.orders["partial"].any()  # no live order filled in part
    got = row(report, 2)
    assert got["backtest_amount"] == pytest.approx(got["live_amount"] / 100)
    assert got["reason"].startswith(f"live filled {got['live_amount']:.10g} of")


def test_the_report_reads_as_markdown_and_html(frame: pd.DataFrame) -> None:
    frame.loc[of(frame, 9, "fill"), "fee"] *= 2
    report = report_of(frame)
    text = str(report)
    assert text == report.to_markdown()
    assert "| measure | value |" in text and "| fee | 1 |" in text and "| match | 13 |" in text
    lines = text.splitlines()
    table = lines[lines.index("") + 1 :]
    assert table[0].startswith("| seq | leg | symbol | side | category |")
    assert len(table) == 2 + 14
    assert table[2 + 8].startswith("| 9 |  | BTC/USDT | buy | fee | filled | filled |")
    page = report._repr_html_()
    assert page.count("<table") == 2 and "<th style='text-align:left'>fee</th>" in page
    assert list(report.diverged["seq"]) == [9]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walk=bar_series(min_size=40, max_size=120), periods=sma_periods(max_slow=12))
def test_a_backtest_tape_never_diverges(walk: WalkBars, periods: tuple[int, int]) -> None:
    series = make_series(walk.rows())
    fast, slow = periods
    with tempfile.TemporaryDirectory() as directory:
        write_backtest_tape(Path(directory), series, SmaCross(fast=fast, slow=slow))
        report = divergence_report(directory, SmaCross(fast=fast, slow=slow))
    orders = report.orders
    assert (orders["category"] == "match").all()
    assert (orders["slippage_bps"].fillna(0.0) == 0.0).all()
    assert report.summary["pnl_diff"] == 0.0 and report.summary["total_fee_diff"] == 0.0


class RestingAndBracket(Strategy):
    """A limit buy far below the market, canceled later; a market buy with a stop-loss leg."""

    def on_start(self) -> None:
        self.bars = 0

    def on_bar(self, bar: SymbolData) -> None:
        self.bars += 1
        if self.bars == 1:
            self.resting = self.buy(amount=1.0, limit=1.0)
        elif self.bars == 2:
            self.buy(amount=1.0, sl=1.0)
        elif self.bars == 5:
            self.cancel(self.resting)


def test_unfilled_orders_and_bracket_legs_match(tmp_path: Path) -> None:
    write_backtest_tape(tmp_path, SERIES, RestingAndBracket())
    report = divergence_report(tmp_path, RestingAndBracket())
    orders = report.orders
    assert orders[["seq", "leg"]].values.tolist() == [[1, ""], [2, ""], [2, "sl"]]
    assert orders["live_client_id"].tolist() == ["qk-000001", "qk-000002", "qk-000002-sl"]
    assert orders["backtest_status"].tolist() == orders["live_status"].tolist()
    assert orders["live_status"].tolist()[0] == "canceled"
    assert (orders["category"] == "match").all()
    assert math.isnan(orders["latency_s"].iloc[0]) and orders["live_amount"].iloc[0] == 0.0
