"""The perpetual exchange: funding, mark-price liquidation and margin admission, by hand.

Every expected figure is worked out in the comments (BTCUSDT's first brackets: 0.4 % up to
50,000 of notional at 125x, then 0.5 % / cum 50 at 100x; liquidation fee 1.25 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quantkit.brokers.perpetual_setup import futures_account
from quantkit.brokers.settings import SimSettings
from quantkit.domain.funding import FundingRates
from quantkit.domain.futures_portfolio import FuturesPortfolio
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side
from quantkit.domain.perpetual import PerpetualSpec, brackets_with_cum
from quantkit.errors import ConfigError
from quantkit.sim.perpetual import PerpetualExchange
from tests.builders import HOUR, T0

SYM = "BTC/USDT:USDT"
SPEC = PerpetualSpec(
    "USDT", brackets=brackets_with_cum([(0, 50_000, 125, 0.004), (50_000, 250_000, 100, 0.005)])
)
PERP = Market(SYM, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0, perpetual=SPEC)


def exchange(
    *, cash: float = 10_000.0, leverage: float = 10.0, mode: str = "isolated", **extra: Any
) -> PerpetualExchange:
    settings = SimSettings(
        cash=cash, markets={SYM: PERP}, leverage=leverage, margin_mode=mode, **extra
    )  # type: ignore[arg-type]
    account = futures_account(settings, cash)
    assert isinstance(account, FuturesPortfolio)
    return PerpetualExchange({SYM: PERP}, account, funding=settings.funding)


def buy(amount: float) -> OrderRequest:
    return OrderRequest(SYM, Side.BUY, OrderType.MARKET, amount=amount)


def sell(amount: float) -> OrderRequest:
    return OrderRequest(SYM, Side.SELL, OrderType.MARKET, amount=amount)


def bar(ex: PerpetualExchange, k: int, price: float, mark: tuple[float, ...] | None = None) -> None:
    """Bar ``k`` (open time T0 + k hours), flat at ``price``, with an optional mark bar."""
    if mark is not None:
        ex.set_mark(SYM, *mark)
    ex.process_bar(SYM, T0 + k * HOUR, price, price, price, price, 1e9)


# --- funding -----------------------------------------------------------------------------------

FUND = {SYM: FundingRates.history([T0 + 2 * HOUR, T0 + 4 * HOUR], [0.001, -0.0005])}


def test_a_long_pays_positive_funding_on_the_mark_at_the_timestamp() -> None:
    ex = exchange(cash=10_000.0, funding=FUND)
    ex.submit(buy(1.0), T0, 100.0)
    bar(ex, 0, 100.0)  # filled at 100
    bar(ex, 1, 105.0)
    bar(ex, 2, 108.0, mark=(110.0, 110.0, 110.0, 110.0))
    # funding at T0+2h, paid on 1 BTC at the mark open 110: 1 * 110 * 0.001 = 0.11
    (payment,) = ex.futures.funding
    assert (payment.time, payment.position, payment.mark, payment.amount) == (
        T0 + 2 * HOUR,
        1.0,
        110.0,
        pytest.approx(0.11),
    )
    assert ex.futures.wallet_balance() == pytest.approx(10_000 - 0.11)
    bar(ex, 3, 108.0)
    bar(ex, 4, 100.0)
    # negative rate at T0+4h: the long receives 1 * 100 * 0.0005 = 0.05
    assert ex.futures.funding[-1].amount == pytest.approx(-0.05)
    assert ex.futures.funding_paid == pytest.approx(0.06)
    # isolated: funding moves the position's margin, 1 * 100 / 10 - 0.11 + 0.05 = 9.94
    assert ex.futures.isolated_wallet(SYM) == pytest.approx(10.0 - 0.06)


def test_a_short_receives_and_a_position_opened_at_the_timestamp_pays_nothing() -> None:
    ex = exchange(cash=10_000.0, funding=FUND)
    bar(ex, 0, 100.0)
    bar(ex, 1, 100.0)
    ex.submit(sell(2.0), T0 + 2 * HOUR, 100.0)
    bar(ex, 2, 100.0)  # the short opens at the open of the bar at the timestamp: not funded
    assert ex.futures.funding == []
    bar(ex, 3, 100.0)
    bar(ex, 4, 120.0)  # -2 * 120 * -0.0005 = +0.12 paid by the short (a negative rate)
    assert [p.amount for p in ex.futures.funding] == [pytest.approx(0.12)]


def test_an_increase_mid_period_pays_on_the_position_held_at_the_timestamp() -> None:
    rates = {SYM: FundingRates.constant(0.0001, 2 * HOUR)}
    ex = exchange(cash=100_000.0, funding=rates)
    t = T0 - T0 % (2 * HOUR)  # a funding timestamp
    ex.submit(buy(1.0), t, 100.0)
    ex.process_bar(SYM, t, 100.0, 100.0, 100.0, 100.0, 1e9)
    ex.process_bar(SYM, t + HOUR, 100.0, 100.0, 100.0, 100.0, 1e9)
    ex.submit(buy(2.0), t + HOUR, 100.0)  # fills at the open of the bar at t + 2h
    ex.process_bar(SYM, t + 2 * HOUR, 100.0, 100.0, 100.0, 100.0, 1e9)  # funds the 1 held
    ex.process_bar(SYM, t + 3 * HOUR, 100.0, 100.0, 100.0, 100.0, 1e9)
    ex.process_bar(SYM, t + 4 * HOUR, 100.0, 100.0, 100.0, 100.0, 1e9)  # funds the 3 held
    assert [(p.position, p.amount) for p in ex.futures.funding] == [
        (1.0, pytest.approx(0.01)),
        (3.0, pytest.approx(0.03)),
    ]


# --- liquidation -------------------------------------------------------------------------------


def opened_long(**options: Any) -> PerpetualExchange:
    """1 BTC long at 10,000, 10x: isolated margin 1,000, LP = 9,000 / 0.996 = 9,036.1446."""
    ex = exchange(**options)
    ex.submit(buy(1.0), T0, 10_000.0)
    bar(ex, 0, 10_000.0)
    assert ex.futures.liquidation_price(SYM) == pytest.approx(9_000 / 0.996)
    return ex


def test_isolated_long_is_liquidated_at_its_price_and_loses_exactly_its_margin() -> None:
    ex = opened_long()
    # the trade bar stays at 9,500, the mark trades down to 9,000: the mark decides
    bar(ex, 1, 9_500.0, mark=(9_500.0, 9_600.0, 9_000.0, 9_100.0))
    (event,) = ex.liquidations
    lp = 9_000 / 0.996
    assert (event.symbol, event.price, event.margin_mode) == (SYM, pytest.approx(lp), "isolated")
    # margin left at LP = 1,000 + (LP - 10,000) = 36.145 = 0.4 % of LP; the 1.25 % fee
    # (112.95) is capped there, so the account loses exactly the 1,000 of isolated margin
    assert event.fee == pytest.approx(0.004 * lp)
    fill = ex.fills[-1]
    assert (fill.side, fill.price, fill.amount) == (Side.SELL, pytest.approx(lp), 1.0)
    assert ex.futures.position(SYM).amount == 0.0
    assert ex.futures.balance == pytest.approx(9_000.0)
    assert ex.futures.equity() == pytest.approx(9_000.0)
    order = ex.orders[fill.client_id]
    assert order.status is OrderStatus.FILLED and order.request.tag == "liquidation"
    assert "liquidation price 9036.1446 (isolated margin)" in order.reason


def test_a_gap_through_the_price_still_costs_only_the_isolated_margin() -> None:
    ex = opened_long()
    bar(ex, 1, 8_000.0, mark=(8_000.0, 8_000.0, 7_000.0, 7_500.0))
    assert len(ex.liquidations) == 1
    assert ex.futures.equity() == pytest.approx(9_000.0)


def test_the_trade_price_alone_does_not_liquidate() -> None:
    ex = opened_long()
    # the trade bar falls to 8,000 but the mark stays above the liquidation price
    ex.set_mark(SYM, 9_800.0, 9_900.0, 9_100.0, 9_200.0)
    ex.process_bar(SYM, T0 + HOUR, 9_800.0, 9_900.0, 8_000.0, 9_200.0, 1e9)
    assert ex.liquidations == []
    # equity is valued at the mark close: 10,000 + 1 * (9,200 - 10,000) = 9,200
    assert ex.futures.equity() == pytest.approx(9_200.0)


def test_averaging_in_moves_the_liquidation_price_down() -> None:
    ex = opened_long(cash=100_000.0)
    ex.submit(buy(1.0), T0 + HOUR, 9_100.0)
    bar(ex, 1, 9_100.0)  # above the first liquidation price 9,036.14: no liquidation
    # entry 9,550, isolated margin 2 * 9,550 / 10 = 1,910: LP = (1,910 - 19,100) / (0.008 - 2)
    assert ex.futures.liquidation_price(SYM) == pytest.approx(17_190 / 1.992)  # 8,629.52
    bar(ex, 2, 9_000.0, mark=(9_000.0, 9_000.0, 8_700.0, 8_800.0))  # below the old 9,036
    assert ex.liquidations == []


def test_cross_margin_uses_the_whole_wallet() -> None:
    # cross, wallet 2,000, long 1 at 10,000: LP = (2,000 - 10,000) / (0.004 - 1) = 8,032.13
    ex = exchange(cash=2_000.0, mode="cross")
    ex.submit(buy(1.0), T0, 10_000.0)
    bar(ex, 0, 10_000.0)
    assert ex.futures.liquidation_price(SYM) == pytest.approx(8_000 / 0.996)
    bar(ex, 1, 9_000.0, mark=(9_000.0, 9_000.0, 8_500.0, 8_600.0))
    assert ex.liquidations == []
    bar(ex, 2, 8_000.0, mark=(8_600.0, 8_600.0, 8_000.0, 8_100.0))
    (event,) = ex.liquidations
    assert event.margin_mode == "cross"
    # margin left at LP is its maintenance margin; the capped fee takes it: the wallet ends at 0
    assert ex.futures.wallet_balance() == pytest.approx(0.0, abs=1e-9)
    assert ex.futures.equity() == pytest.approx(0.0, abs=1e-9)


# --- admission ---------------------------------------------------------------------------------


def test_orders_beyond_the_available_margin_are_rejected() -> None:
    ex = exchange(cash=500.0, leverage=10.0)
    ex.submit(buy(1.0), T0, 10_000.0)
    bar(ex, 0, 10_000.0)  # needs 10,000 / 10 = 1,000 of margin, 500 available
    order = next(iter(ex.orders.values()))
    assert order.status is OrderStatus.REJECTED
    assert "insufficient margin: BTC/USDT:USDT needs 1000 USDT" in order.reason
    assert "available 500" in order.reason


def test_leverage_above_the_brackets_maximum_is_rejected() -> None:
    # 125x is allowed up to 50,000 of notional; 6 BTC at 10,000 = 60,000 allows only 100x
    ex = exchange(cash=100_000.0, leverage=125.0)
    ex.submit(buy(6.0), T0, 10_000.0)
    bar(ex, 0, 10_000.0)
    order = next(iter(ex.orders.values()))
    assert order.status is OrderStatus.REJECTED
    assert "leverage 125x is above the 100x" in order.reason


def test_reducing_is_always_admitted() -> None:
    ex = opened_long(cash=1_000.0)
    ex.submit(sell(0.5), T0 + HOUR, 9_700.0)
    bar(ex, 1, 9_700.0)
    assert ex.futures.position(SYM).amount == 0.5
    # realised 0.5 * (9,700 - 10,000) = -150: wallet 850
    assert ex.futures.wallet_balance() == pytest.approx(850.0)


def test_an_isolated_reduction_settles_its_loss_through_the_positions_margin() -> None:
    ex = opened_long(cash=10_000.0)  # isolated margin 1,000
    ex.submit(sell(0.5), T0 + HOUR, 9_700.0)
    bar(ex, 1, 9_700.0)
    # the -150 realised comes out of the margin, then half of it is released: (1,000 - 150) / 2
    assert ex.futures.isolated_wallet(SYM) == pytest.approx(425.0)
    # LP = (425 - 0.5 * 10,000) / (0.5 * 0.004 - 0.5) = 9,186.75
    assert ex.futures.liquidation_price(SYM) == pytest.approx(4_575 / 0.498)


def test_a_mark_opening_beyond_the_price_liquidates_before_the_bars_fills() -> None:
    ex = opened_long()
    ex.submit(sell(0.5), T0 + HOUR, 9_000.0)  # would fill at the open, at a worse price
    bar(ex, 1, 8_900.0, mark=(8_900.0, 9_100.0, 8_800.0, 9_000.0))
    (event,) = ex.liquidations
    assert event.price == pytest.approx(9_000 / 0.996)
    assert [f.client_id for f in ex.fills][-1].startswith("qk-liquidation")
    canceled = [o for o in ex.orders.values() if o.status is OrderStatus.CANCELED]
    assert [o.request.amount for o in canceled] == [0.5]
    assert ex.futures.equity() == pytest.approx(9_000.0)  # the margin, no more


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"position_mode": "hedge"}, "hedge.*not supported yet"),
        ({"margin_mode": "portfolio"}, "'isolated' or 'cross'"),
        ({"leverage": 150.0}, "from 1 to 125"),
        ({"leverages": {"BTC/USDT:USD": 5.0}}, "did you mean 'BTC/USDT:USDT'"),
    ],
)
def test_bad_futures_settings_are_one_config_error(options: dict[str, Any], message: str) -> None:
    settings = SimSettings(markets={SYM: PERP}, **options)
    with pytest.raises(ConfigError, match=message):
        futures_account(settings, 1_000.0)


def test_an_inverse_perpetual_needs_its_settle_coin_as_the_account_currency() -> None:
    inverse = PerpetualSpec("BTC", inverse=True, contract_size=100.0)
    market = Market("BTC/USD:BTC", "BTC", "USD", perpetual=inverse)
    with pytest.raises(ConfigError, match=r"settled in BTC.*set currency='BTC'"):
        futures_account(SimSettings(markets={"BTC/USD:BTC": market}), 1.0)


class NoCopy(np.ndarray):  # type: ignore[type-arg]
    def __new__(cls) -> NoCopy:
        return np.zeros(1).view(cls)

    def __deepcopy__(self, memo: object) -> NoCopy:
        raise AssertionError("the mark column was deep-copied")


def test_intrabar_paths_keep_the_run_records_and_fill_on_the_trade_price() -> None:
    ex = exchange(cash=100_000.0, funding=FUND)
    # run-long records are kept aside while the intrabar paths run on copies (a 1M-bar mark
    # column copied per bar would cost seconds): copying this one would fail the test
    ex.futures.mark_close[SYM] = NoCopy()  # type: ignore[assignment]
    ex.submit(buy(1.0), T0, 100.0)
    bar(ex, 0, 100.0)
    marks_before = ex.futures.mark_close
    # reduce-only exits below (stop 95) and above (limit 105), both inside the next bar: the
    # adverse path sells at the stop 95 (the trade price; the mark never went below 99)
    stop = OrderRequest(
        SYM, Side.SELL, OrderType.STOP, amount=1.0, stop_price=95.0, reduce_only=True
    )
    take = OrderRequest(
        SYM, Side.SELL, OrderType.LIMIT, amount=1.0, limit_price=105.0, reduce_only=True
    )
    ex.submit(stop, T0 + HOUR, 100.0)
    ex.submit(take, T0 + HOUR, 100.0)
    ex.set_mark(SYM, 100.0, 101.0, 99.0, 100.0)
    ex.process_bar(SYM, T0 + HOUR, 100.0, 106.0, 94.0, 100.0, 1e9)
    assert ex.futures.mark_close is marks_before
    assert ex.fills[-1].price == 95.0 and ex.futures.position(SYM).amount == 0.0
    assert ex.futures.wallet_balance() == pytest.approx(100_000.0 - 5.0)
