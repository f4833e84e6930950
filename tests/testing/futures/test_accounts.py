"""The venue's futures accounts: fills, fees, margin rules, funding and liquidation by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quantkit.testing.futures.accounts import FuturesAccounts, OrderRequest
from quantkit.testing.futures.contracts import ContractRules
from quantkit.testing.futures.events import VenueEvent
from quantkit.testing.futures.liquidation import liquidation_price
from quantkit.testing.futures.orders import VenueRejectionError
from quantkit.testing.futures.partial_fills import FuturesPartialFills

D = Decimal
BTC, ETH = "BTCUSDT", "ETHUSDT"


class Venue:
    """A venue with one account (10,000 USDT), BTC at 40,000 and ETH at 2,000, and its events."""

    def __init__(self, wallet: str = "10000") -> None:
        contracts = [
            ContractRules(BTC),
            ContractRules(ETH, tick_size=D("0.01"), min_notional=D(20)),
        ]
        self.venue = FuturesAccounts(contracts, {"k": ("s", wallet)}, {BTC: 40_000, ETH: 2_000})
        self.events: list[dict[str, Any]] = []
        self.venue.add_listener(self._hear)
        self.now = 1_000

    def _hear(self, event: VenueEvent) -> None:
        assert event.api_key == "k"
        self.events.append(dict(event.payload))

    def tick(self) -> int:
        self.now += 1_000
        return self.now

    def order(self, side: str, kind: str, qty: str | None, **extra: Any) -> Any:
        request = OrderRequest(BTC, side, kind, None if qty is None else D(qty), **extra)  # type: ignore[arg-type]
        algo = kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET")
        return self.venue.place("k", request, now=self.tick(), algo=algo)

    @property
    def account(self) -> Any:
        return self.venue.account("k")

    @property
    def position(self) -> Any:
        return self.account.position(BTC)


def rejected(code: int, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(VenueRejectionError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value.msg


@pytest.fixture
def v() -> Venue:
    return Venue()


# ------------------------------------------------------------------------- fills and fees


def test_market_orders_average_in_realise_on_reduce_and_flip(v: Venue) -> None:
    v.order("BUY", "MARKET", "0.1")  # 4,000 notional, taker 0.05 % = 2
    v.venue.move(BTC, last=42_000, now=v.tick())
    v.order("BUY", "MARKET", "0.1")  # fee 2.1; entry (40,000 + 42,000) / 2
    assert (v.position.amount, v.position.entry) == (D("0.2"), D(41_000))
    v.venue.move(BTC, last=43_000, now=v.tick())
    v.order("SELL", "MARKET", "0.3")  # closes 0.2 (+400), opens 0.1 short at 43,000; fee 6.45
    assert (v.position.amount, v.position.entry) == (D("-0.1"), D(43_000))
    assert v.account.wallet == D(10_000) - 2 - D("2.1") + 400 - D("6.45")
    trades = v.venue.trades("k", BTC)
    assert [t.realized_pnl for t in trades] == [0, 0, 400]
    assert [t.commission for t in trades] == [D(2), D("2.1"), D("6.45")]
    kinds = [(i.type, i.amount) for i in v.venue.income("k")]
    assert kinds[-2:] == [("REALIZED_PNL", D(400)), ("COMMISSION", D("-6.45"))]


def test_resting_limits_fill_at_their_price_as_maker(v: Venue) -> None:
    order = v.order("BUY", "LIMIT", "0.5", price=D(39_000))
    assert order.status == "NEW"
    v.venue.move(BTC, last=39_500, now=v.tick())
    assert order.status == "NEW"
    v.venue.move(BTC, last=38_000, now=v.tick())  # walks through 39,000: fills at its limit
    assert (order.status, order.avg_price) == ("FILLED", D(39_000))
    assert v.venue.trades("k", BTC)[0].commission == D("0.5") * 39_000 * D("0.0002")
    assert v.venue.trades("k", BTC)[0].maker


def test_ioc_expires_post_only_is_refused_and_crossing_limits_take(v: Venue) -> None:
    assert v.order("BUY", "LIMIT", "0.01", price=D(39_000), time_in_force="IOC").status == "EXPIRED"
    msg = rejected(-5022, v.order, "BUY", "LIMIT", "0.01", price=D(40_100), time_in_force="GTX")
    assert "Post Only order will be rejected" in msg
    taken = v.order("BUY", "LIMIT", "0.01", price=D(40_100))
    assert (taken.status, taken.avg_price) == ("FILLED", D(40_000))  # at the last price
    assert not v.venue.trades("k", BTC)[0].maker


def test_client_ids_are_unique_among_open_orders_only(v: Venue) -> None:
    v.order("BUY", "LIMIT", "0.01", price=D(39_000), client_id="a1")
    assert rejected(-4116, v.order, "BUY", "LIMIT", "0.01", price=D(38_000), client_id="a1")
    first = v.venue.find("k", BTC, order_id=None, client_id="a1")
    assert first is not None
    v.venue.cancel("k", first, now=v.tick())
    again = v.order("BUY", "LIMIT", "0.01", price=D(38_000), client_id="a1")
    assert again.status == "NEW"
    assert v.venue.find("k", BTC, order_id=None, client_id="a1") is again


# ------------------------------------------------------------------------- margin rules


def test_initial_margin_is_checked_against_the_available_balance(v: Venue) -> None:
    # 10,000 USDT at 20x: up to 200,000 notional = 5 BTC at 40,000.
    assert rejected(-2019, v.order, "BUY", "MARKET", "5.001") == "Margin is insufficient."
    v.order("BUY", "LIMIT", "2.5", price=D(39_000))  # holds 4,875 of margin
    assert v.account.available(v.venue.marks, v.venue.lasts) == D(10_000) - D(4_875)
    rejected(-2019, v.order, "BUY", "MARKET", "2.6")  # needs 5,200
    v.order("SELL", "MARKET", "1")  # a sell opens a short: needs 2,000 of the rest


def test_reduce_only_must_reduce(v: Venue) -> None:
    msg = rejected(-2022, v.order, "SELL", "MARKET", "0.1", reduce_only=True)
    assert msg == "ReduceOnly Order is rejected."
    v.order("BUY", "MARKET", "0.1")
    rejected(-2022, v.order, "BUY", "MARKET", "0.1", reduce_only=True)
    resting = v.order("SELL", "LIMIT", "0.3", price=D(41_000), reduce_only=True)
    v.venue.move(BTC, last=41_000, now=v.tick())  # cut to the 0.1 held
    assert (resting.status, resting.executed_qty, v.position.amount) == ("EXPIRED", D("0.1"), 0)


def test_filters_and_notional(v: Venue) -> None:
    rejected(-4164, v.order, "BUY", "MARKET", "0.001")  # 40 USDT < 100
    rejected(-1111, v.order, "BUY", "MARKET", "0.0101")
    rejected(-4014, v.order, "BUY", "LIMIT", "0.01", price=D("39000.05"))
    rejected(-4004, v.order, "BUY", "MARKET", "0.0001")


def test_leverage_rules(v: Venue) -> None:
    assert (
        rejected(-4028, v.venue.set_leverage, "k", BTC, 126, now=1) == "Leverage 126 is not valid"
    )
    rejected(-4028, v.venue.set_leverage, "k", BTC, 0, now=1)
    assert v.venue.set_leverage("k", BTC, 125, now=1) == (125, D(50_000))
    rejected(-2027, v.order, "BUY", "MARKET", "1.3")  # 52,000 > 50,000 at 125x
    v.venue.set_leverage("k", BTC, 20, now=1)
    v.order("BUY", "MARKET", "1.3")
    rejected(-2027, v.venue.set_leverage, "k", BTC, 125, now=1)


def test_margin_type_rules(v: Venue) -> None:
    assert rejected(-4046, v.venue.set_margin_type, "k", BTC, "CROSSED", now=1).startswith(
        "No need"
    )
    rejected(-1130, v.venue.set_margin_type, "k", BTC, "HALF", now=1)
    v.order("BUY", "LIMIT", "0.01", price=D(30_000))
    rejected(-4047, v.venue.set_margin_type, "k", BTC, "ISOLATED", now=1)
    v.venue.cancel("k", v.venue.open_orders("k", BTC)[0], now=1)
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=1)
    v.order("BUY", "MARKET", "0.1")
    rejected(-4048, v.venue.set_margin_type, "k", BTC, "CROSSED", now=1)
    rejected(-4161, v.venue.set_leverage, "k", BTC, 10, now=1)  # lowering isolated with a position
    assert v.position.isolated_wallet == D("0.1") * 40_000 / 20


def test_hedge_mode_is_recorded_but_orders_are_refused_in_it(v: Venue) -> None:
    rejected(-4059, v.venue.set_dual_side, "k", False)
    v.venue.set_dual_side("k", True)
    assert rejected(-4061, v.order, "BUY", "MARKET", "0.1").startswith("Order's position side")
    v.venue.set_dual_side("k", False)
    v.order("BUY", "MARKET", "0.1")
    rejected(-4068, v.venue.set_dual_side, "k", True)


# ------------------------------------------------------------------------- stops


def test_stop_and_take_profit_trigger_on_their_side(v: Venue) -> None:
    v.order("BUY", "MARKET", "0.2")
    assert rejected(-2021, v.order, "SELL", "STOP_MARKET", "0.1", stop_price=D(40_500))
    stop = v.order("SELL", "STOP_MARKET", "0.1", stop_price=D(39_000), reduce_only=True)
    take = v.order("SELL", "TAKE_PROFIT_MARKET", None, stop_price=D(41_000), close_position=True)
    v.venue.move(BTC, last=39_500, now=v.tick())
    assert stop.status == take.status == "NEW"
    v.venue.move(BTC, last=38_900, now=v.tick())
    assert (stop.status, stop.avg_price, v.position.amount) == ("FINISHED", D(38_900), D("0.1"))
    child = v.account.orders[stop.child_id]
    assert (child.type, child.orig_type, child.status) == ("MARKET", "STOP_MARKET", "FILLED")
    v.venue.move(BTC, last=41_200, now=v.tick())  # closes whatever is left: 0.1
    assert (take.status, take.qty, v.position.amount) == ("FINISHED", D("0.1"), 0)
    statuses = [e["o"]["X"] for e in v.events if e["e"] == "ALGO_UPDATE"]
    assert statuses == ["NEW", "NEW", "TRIGGERED", "FINISHED", "TRIGGERED", "FINISHED"]


def test_conditional_orders_only_through_the_algo_api(v: Venue) -> None:
    request = OrderRequest(BTC, "SELL", "STOP_MARKET", D("0.1"), stop_price=D(39_000))
    msg = rejected(-4120, v.venue.place, "k", request, now=1)
    assert "Algo Order API" in msg
    rejected(
        -1116, v.venue.place, "k", OrderRequest(BTC, "BUY", "MARKET", D("0.1")), now=1, algo=True
    )


def test_a_close_position_stop_with_nothing_to_close_expires(v: Venue) -> None:
    stop = v.order("SELL", "STOP_MARKET", None, stop_price=D(39_000), close_position=True)
    v.venue.move(BTC, last=38_000, now=v.tick())
    assert (stop.status, stop.executed_qty) == ("EXPIRED", 0)
    assert v.venue.trades("k", BTC) == []


def test_mark_price_stops_watch_the_mark(v: Venue) -> None:
    v.order("BUY", "MARKET", "0.1")
    stop = v.order("SELL", "STOP_MARKET", "0.1", stop_price=D(39_000), working_type="MARK_PRICE")
    v.venue.move(BTC, last=38_000, now=v.tick())
    assert stop.status == "NEW"
    v.venue.move(BTC, mark=38_990, now=v.tick())
    assert (stop.status, stop.avg_price) == ("FINISHED", D(38_000))  # fills at the last price


# ------------------------------------------------------------------------- funding


def test_funding_longs_pay_shorts_receive_at_the_mark() -> None:
    v = Venue()
    other = FuturesAccounts(
        [ContractRules(BTC)], {"a": ("s", 10_000), "b": ("s", 10_000)}, {BTC: 40_000}
    )
    other.place("a", OrderRequest(BTC, "BUY", "MARKET", D("0.5")), now=1)
    other.place("b", OrderRequest(BTC, "SELL", "MARKET", D("0.2")), now=1)
    before = {k: other.account(k).wallet for k in "ab"}
    other.settle_funding(BTC, "0.0001", now=28_800_000, mark=D(41_000))
    # long 0.5 x 41,000 x 0.0001 = 2.05 paid; short 0.2 x 41,000 x 0.0001 = 0.82 received
    assert other.account("a").wallet - before["a"] == D("-2.05")
    assert other.account("b").wallet - before["b"] == D("0.82")
    assert [(i.type, i.amount, i.time) for i in other.income("a")][-1] == (
        "FUNDING_FEE",
        D("-2.05"),
        28_800_000,
    )
    other.settle_funding(BTC, "-0.0002", now=57_600_000)  # negative: shorts pay
    assert other.income("b")[-1].amount == D("-1.64")
    assert v.venue.income("k") == []  # no position: nothing paid


def test_a_position_opened_after_the_timestamp_pays_nothing_for_it(v: Venue) -> None:
    v.venue.settle_funding(BTC, "0.0003", now=v.tick())
    v.order("BUY", "MARKET", "0.1")
    assert [i.type for i in v.venue.income("k")] == ["COMMISSION"]
    v.venue.settle_funding(BTC, "0.0003", now=v.tick())  # 0.1 x 40,000 x 0.0003 = 1.2
    assert v.venue.income("k")[-1].amount == D("-1.2")
    update = v.events[-1]
    assert (update["e"], update["a"]["m"], update["a"]["B"][0]["bc"]) == (
        "ACCOUNT_UPDATE",
        "FUNDING_FEE",
        "-1.2",
    )


def test_funding_is_pushed_as_binance_documents_it_cross_without_the_position(v: Venue) -> None:
    v.order("BUY", "MARKET", "0.1")
    v.venue.settle_funding(BTC, "0.0001", now=v.tick())  # cross: 0.1 x 40,000 x 0.0001 = 0.4
    cross = v.events[-1]["a"]
    assert (cross["m"], cross["B"][0]["bc"], cross["P"]) == ("FUNDING_FEE", "-0.4", [])
    v.order("SELL", "MARKET", "0.1")
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=v.tick())
    v.order("SELL", "MARKET", "0.2")  # an isolated short receives 0.2 x 40,000 x 0.0001
    v.venue.settle_funding(BTC, "0.0001", now=v.tick())
    isolated = v.events[-1]["a"]
    assert (isolated["m"], isolated["B"][0]["bc"]) == ("FUNDING_FEE", "0.8")
    assert [(p["s"], p["pa"], p["mt"]) for p in isolated["P"]] == [("BTCUSDT", "-0.2", "isolated")]


def test_isolated_funding_comes_out_of_the_isolated_wallet(v: Venue) -> None:
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=1)
    v.order("BUY", "MARKET", "0.1")  # isolated wallet 200 at 20x
    v.venue.settle_funding(BTC, "0.001", now=v.tick())  # 0.1 x 40,000 x 0.001 = 4
    assert v.position.isolated_wallet == 196
    assert v.account.cross_wallet == D(10_000) - 2 - 200


# ------------------------------------------------------------------------- liquidation


def test_isolated_liquidation_at_the_documented_price_loses_exactly_the_margin(v: Venue) -> None:
    v.venue.set_leverage("k", BTC, 10, now=1)
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=1)
    v.order("BUY", "MARKET", "1")  # isolated wallet 4,000
    lp = liquidation_price(D(1), D(40_000), D(4_000), ContractRules(BTC).brackets)
    assert round(lp, 2) == D("36144.58")
    wallet = v.account.wallet
    v.venue.move(BTC, mark=lp + D("0.01"), now=v.tick())
    assert v.position.amount == 1
    v.venue.move(BTC, mark=lp - D("0.01"), now=v.tick())
    assert v.position.amount == 0
    # filled at the liquidation price: 4,000 + (lp - 40,000) = 144.58 left (0.4 % of lp), less
    # than the 1.25 % clearance fee (451.81): the fee takes it all, the isolated wallet is lost
    assert v.account.wallet == wallet - 4_000
    liquidation = v.events[-2]["o"]
    assert (liquidation["o"], liquidation["x"], liquidation["X"]) == (
        "LIQUIDATION",
        "CALCULATED",
        "FILLED",
    )
    assert liquidation["c"].startswith("autoclose-")
    assert D(liquidation["ap"]) == lp.quantize(D("0.00000001"))
    pnl, clear = v.venue.income("k")[-2:]
    assert pnl.type == "REALIZED_PNL" and clear.type == "INSURANCE_CLEAR"
    assert clear.amount == -(4_000 + pnl.amount)  # what was left, not the whole fee
    assert v.events[-1]["a"]["m"] == "INSURANCE_CLEAR"
    # the fund gets the fee and takes the position over at lp while the mark is 0.01 lower
    price = lp.quantize(D("0.00000001"))
    assert v.venue.insurance_fund == -clear.amount + (lp - D("0.01") - price)
    # as Binance documents it: the autoclose- order is pushed as NEW first, then its fill
    pushed = [e["o"] for e in v.events if e["e"] == "ORDER_TRADE_UPDATE"]
    first = next(o for o in pushed if o["c"] == liquidation["c"])
    assert (first["x"], first["X"], first["z"]) == ("NEW", "NEW", "0")


def test_a_gap_past_bankruptcy_is_absorbed_by_the_insurance_fund(v: Venue) -> None:
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=1)
    v.order("SELL", "MARKET", "1")  # short, isolated wallet 2,000 at 20x
    wallet = v.account.wallet
    v.venue.move(BTC, mark=45_000, now=v.tick())  # far past bankruptcy (42,000)
    assert v.account.wallet == wallet - 2_000
    # closed at its liquidation price, the fee taking what the margin held there; the fund
    # bought the short back at that price with the mark at 45,000
    assert abs(v.venue.insurance_fund - (2_000 - 5_000)) < D("0.0000001")


def test_a_high_bracket_isolated_liquidation_keeps_what_the_fee_leaves(v: Venue) -> None:
    big = Venue(wallet="1000000")
    big.venue.set_leverage("k", BTC, 20, now=1)
    big.venue.set_margin_type("k", BTC, "ISOLATED", now=1)
    big.order("BUY", "MARKET", "100")  # 4,000,000 notional: level 4 (2.5 %, cum 16,300)
    assert big.position.isolated_wallet == 200_000
    wallet = big.account.wallet
    # by hand: (200,000 + 16,300 - 4,000,000) / (100 x (0.025 - 1)) = 38,807.17948717...
    lp = (D(200_000) + 16_300 - 4_000_000) / (100 * (D("0.025") - 1))
    big.venue.move(BTC, mark=lp - 1, now=big.tick())
    assert big.position.amount == 0
    price = lp.quantize(D("0.00000001"))
    left = 200_000 + ((price - 40_000) * 100).quantize(D("0.00000001"))  # 2.5 % x N - 16,300
    fee = (100 * price * D("0.0125")).quantize(D("0.00000001"))
    assert round(left) == 80_718 and round(fee) == 48_509
    assert big.account.wallet == wallet - 200_000 + left - fee  # keeps 32,209
    assert big.venue.income("k")[-1].amount == -fee


def test_cross_liquidation_clears_the_cross_wallet(v: Venue) -> None:
    v.venue.set_leverage("k", BTC, 50, now=1)
    v.order("BUY", "MARKET", "10")  # 400,000 notional on ~10,000: level 3 (1 %, cum 1,300)
    wallet = v.account.wallet
    lp = liquidation_price(D(10), D(40_000), wallet, ContractRules(BTC).brackets)
    v.venue.move(BTC, mark=lp + D("0.01"), now=v.tick())
    assert v.position.amount == 10
    v.venue.move(BTC, mark=lp - D("0.01"), now=v.tick())
    # closed at lp, the margin left there (1 % x N - 1,300) below the 1.25 % fee: all taken
    assert (v.position.amount, v.account.wallet) == (0, 0)
    pnl, clear = v.venue.income("k")[-2:]
    assert pnl.type == "REALIZED_PNL"
    price = lp.quantize(D("0.00000001"))
    assert pnl.amount == ((price - 40_000) * 10).quantize(D("0.00000001"))
    assert clear.type == "INSURANCE_CLEAR" and clear.amount == -(wallet + pnl.amount)
    cleared = v.events[-1]["a"]
    assert (cleared["m"], cleared["B"][0]["wb"], cleared["P"][0]["pa"]) == (
        "INSURANCE_CLEAR",
        "0",
        "0",
    )


def test_market_orders_have_their_own_lot_cap(v: Venue) -> None:
    assert rejected(-4005, v.order, "BUY", "MARKET", "121") == "Quantity greater than max quantity."
    resting = v.order("BUY", "LIMIT", "121", price=D(1_000))  # LOT_SIZE allows it: 121,000 / 20
    assert resting.status == "NEW"


def test_lowering_cross_leverage_needs_the_extra_margin(v: Venue) -> None:
    v.order("BUY", "MARKET", "2")  # 80,000 at 20x: 4,000 initial margin, fee 40
    msg = rejected(-2028, v.venue.set_leverage, "k", BTC, 2, now=1)  # would need 40,000
    assert msg.startswith("Leverage is smaller than permitted")
    assert v.venue.set_leverage("k", BTC, 10, now=1) == (10, D(20_000_000))  # needs 4,000 more


def test_a_buy_above_the_mark_needs_its_open_loss_as_margin(v: Venue) -> None:
    v.venue.move(BTC, last=41_000, mark=40_000, now=v.tick())
    # 1 BTC at 41,000: 2,050 at 20x plus the open loss 1 x (41,000 - 40,000)
    v.venue.account("k").wallet = D(3_049)
    rejected(-2019, v.order, "BUY", "MARKET", "1")
    v.venue.account("k").wallet = D(3_050)
    assert v.order("BUY", "MARKET", "1").status == "FILLED"


def test_cross_liquidation_price_counts_the_other_position_and_is_where_the_venue_acts() -> None:
    v = Venue()
    v.venue.set_leverage("k", BTC, 50, now=1)
    v.order("BUY", "MARKET", "5")  # 200,000 notional: level 2 (0.5 %, cum 50)
    eth = OrderRequest(ETH, "SELL", "MARKET", D("10"))
    v.venue.place("k", eth, now=v.tick())  # 20,000 short, level 1 (0.4 %)
    v.venue.move(ETH, mark=2_100, now=v.tick())  # ETH short loses 1,000
    account, brackets = v.account, ContractRules(BTC).brackets
    tmm1 = D(10) * 2_100 * D("0.004")
    upnl1 = D(-1_000)
    lp = liquidation_price(
        D(5),
        D(40_000),
        account.cross_wallet,
        brackets,
        other_maintenance=tmm1,
        other_unrealized=upnl1,
    )
    assert lp == (account.cross_wallet - tmm1 + upnl1 + 50 - 5 * 40_000) / (5 * D("0.005") - 5)
    v.venue.move(BTC, mark=lp + D("0.01"), now=v.tick())
    assert account.position(BTC).amount == 5 and account.position(ETH).amount == -10
    v.venue.move(BTC, mark=lp - D("0.01"), now=v.tick())
    assert account.position(BTC).amount == 0 and account.position(ETH).amount == 0
    assert account.wallet == 0


def test_setting_changes_are_pushed_as_binance_does(v: Venue) -> None:
    v.venue.set_leverage("k", BTC, 10, now=5)
    assert v.events[-1] == {"e": "ACCOUNT_CONFIG_UPDATE", "E": 5, "T": 5, "ac": {"s": BTC, "l": 10}}
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=6)
    update = v.events[-1]["a"]
    assert (update["m"], update["P"][0]["mt"], update["P"][0]["pa"]) == (
        "MARGIN_TYPE_CHANGE",
        "isolated",
        "0",
    )
    before = len(v.events)
    rejected(-4046, v.venue.set_margin_type, "k", BTC, "ISOLATED", now=7)
    assert len(v.events) == before  # a refusal pushes nothing


def test_partial_fills_fill_a_resting_order_one_part_per_step(v: Venue) -> None:
    v.venue.partial_fills = FuturesPartialFills(parts=3)
    order = v.order("BUY", "LIMIT", "0.1", price=D(39_000))
    v.venue.move(BTC, last=38_900, now=v.tick())
    assert (order.status, order.executed_qty, v.position.amount) == (
        "PARTIALLY_FILLED",
        D("0.033"),
        D("0.033"),
    )
    v.venue.move(BTC, last=38_800, now=v.tick())
    v.venue.move(BTC, last=38_700, now=v.tick())
    assert (order.status, order.executed_qty, order.avg_price) == ("FILLED", D("0.1"), D(39_000))
    trades = v.venue.trades("k", BTC)
    assert [t.qty for t in trades] == [D("0.033"), D("0.033"), D("0.034")]
    assert all(t.maker and t.price == 39_000 for t in trades)
    updates = [
        e["o"] for e in v.events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] == "TRADE"
    ]
    assert [(u["l"], u["z"], u["X"]) for u in updates] == [
        ("0.033", "0.033", "PARTIALLY_FILLED"),
        ("0.033", "0.066", "PARTIALLY_FILLED"),
        ("0.034", "0.1", "FILLED"),
    ]
    assert v.order("BUY", "MARKET", "0.1").status == "FILLED"  # takers still fill whole


def test_seeded_parts_are_drawn_the_same_way_each_time() -> None:
    def parts() -> list[Decimal]:
        v = Venue()
        v.venue.partial_fills = FuturesPartialFills(parts=4, seed="x")
        v.order("SELL", "LIMIT", "0.5", price=D(41_000))
        for price in (41_000, 41_100, 41_200, 41_300):
            v.venue.move(BTC, last=price, now=v.tick())
        return [t.qty for t in v.venue.trades("k", BTC)]

    first = parts()
    assert first == parts() and sum(first) == D("0.5") and len(first) == 4
    assert len(set(first)) > 1


def test_waiting_conditional_orders_count_as_open_orders_for_settings(v: Venue) -> None:
    v.order("BUY", "STOP_MARKET", "0.01", stop_price=D(41_000))
    rejected(-4047, v.venue.set_margin_type, "k", BTC, "ISOLATED", now=1)
    rejected(-4067, v.venue.set_dual_side, "k", True)
    v.venue.cancel_algo("k", v.account.open_algo_orders(BTC)[0], now=2)
    v.venue.set_margin_type("k", BTC, "ISOLATED", now=3)
    assert v.position.margin_type == "ISOLATED"
