"""ccxt swap markets and leverage tiers (ccxt's own shapes) to `Market` + `PerpetualSpec`."""

from __future__ import annotations

import math
from typing import Any

import ccxt
import pytest

from quantkit.errors import DataError
from quantkit.exchanges.parse import TICK_SIZE
from quantkit.exchanges.perp_markets import (
    parse_funding_interval,
    parse_leverage_tiers,
    parse_perpetual_market,
)

HOUR = 3_600_000_000_000


def swap(**changes: Any) -> dict[str, Any]:
    market: dict[str, Any] = {
        "symbol": "BTC/USDT:USDT",
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT",
        "type": "swap",
        "spot": False,
        "swap": True,
        "linear": True,
        "inverse": False,
        "contract": True,
        "contractSize": 1.0,
        "precision": {"price": 0.1, "amount": 0.001},
        "limits": {"amount": {"min": 0.001, "max": 1000}, "cost": {"min": 100.0}},
        "maker": 0.0002,
        "taker": 0.0004,
    }
    market.update(changes)
    return market


def tier(n: int, lo: float, hi: float | None, lev: float, rate: float, cum: Any = None) -> dict:
    info = {"bracket": str(n), "initialLeverage": str(lev), "maintMarginRatio": str(rate)}
    if cum is not None:
        info["cum"] = cum
    return {
        "tier": n,
        "symbol": "BTC/USDT:USDT",
        "currency": "USDT",
        "minNotional": lo,
        "maxNotional": hi,
        "maintenanceMarginRate": rate,
        "maxLeverage": lev,
        "info": info,
    }


# Binance's answer for BTCUSDT as ccxt's parse_market_leverage_tiers shapes it (cum as a string)
TIERS = [
    tier(2, 50_000, 250_000, 100, 0.005, "50.0"),
    tier(1, 0, 50_000, 125, 0.004, "0.0"),
    tier(3, 250_000, 1_000_000, 50, 0.01, "1300.0"),
]


def test_swap_market_and_tiers_become_a_perpetual_market() -> None:
    market = parse_perpetual_market(swap(), TIERS, precision_mode=TICK_SIZE, exchange="binance")
    spec = market.perpetual
    assert spec is not None and market.is_perpetual
    assert (market.symbol, market.quote, spec.settle, spec.inverse) == (
        "BTC/USDT:USDT",
        "USDT",
        "USDT",
        False,
    )
    assert (market.price_increment, market.amount_increment, market.min_notional) == (
        0.1,
        0.001,
        100.0,
    )
    assert spec.funding_interval_ns == 8 * HOUR
    assert [b.floor for b in spec.brackets] == [0, 50_000, 250_000]  # sorted by floor
    assert [b.maintenance_amount for b in spec.brackets] == [0.0, 50.0, 1300.0]
    assert spec.max_leverage == 125
    assert spec.brackets[-1].cap == 1_000_000


def test_cum_is_derived_when_the_venue_sends_none() -> None:
    tiers = [tier(1, 0, 50_000, 125, 0.004), tier(2, 50_000, None, 100, 0.005)]
    brackets = parse_leverage_tiers(tiers)
    # 50,000 * (0.5% - 0.4%) = 50, the venue's rule; an open last cap is infinite
    assert brackets[1].maintenance_amount == pytest.approx(50.0)
    assert brackets[1].cap == math.inf


def test_inverse_swap() -> None:
    raw = swap(
        symbol="BTC/USD:BTC",
        quote="USD",
        settle="BTC",
        linear=False,
        inverse=True,
        contractSize=100,
        precision={"price": 0.1, "amount": 1},
    )
    tiers = [tier(1, 0, 5, 125, 0.004, "0")]
    market = parse_perpetual_market(raw, tiers, precision_mode=TICK_SIZE, funding_interval="4h")
    spec = market.perpetual
    assert spec is not None
    assert (spec.inverse, spec.contract_size, spec.settle) == (True, 100.0, "BTC")
    assert spec.funding_interval_ns == 4 * HOUR


def test_ccxt_precision_mode_constant() -> None:
    assert ccxt.TICK_SIZE == TICK_SIZE


@pytest.mark.parametrize(
    ("raw", "tiers", "message"),
    [
        (swap(swap=False), TIERS, "not a perpetual swap"),
        (swap(inverse=True), TIERS, "exactly one of 'linear' and 'inverse'"),
        (swap(), [], "non-empty list of leverage tiers"),
        (swap(), [{"minNotional": 0}], "lacks 'maxNotional'"),
        (swap(), [tier(1, 0, 10, "x", 0.01)], "maxLeverage 'x' is not a number"),
        (swap(), [tier(1, 0, 10, 20, 0.01), tier(2, 20, 30, 10, 0.02)], "contiguous"),
        (swap(settle="BTC"), TIERS, "linear perpetual settles in USDT, not BTC"),
        (swap(contractSize="big"), TIERS, "contractSize 'big' is not a number"),
    ],
)
def test_malformed_payloads_are_one_data_error(raw: Any, tiers: Any, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        parse_perpetual_market(raw, tiers, precision_mode=TICK_SIZE, exchange="binance")
    assert "binance market 'BTC/USDT:USDT'" in str(info.value)


def test_funding_interval_forms() -> None:
    assert parse_funding_interval(4) == 4 * HOUR
    assert parse_funding_interval(" 1H ") == HOUR
    with pytest.raises(DataError, match="not a number of hours"):
        parse_funding_interval("0h")
    with pytest.raises(DataError, match="is not a number"):
        parse_funding_interval("daily")


# Binance COIN-M's exchangeInfo entry for BTCUSD_PERP and its leverageBracket answer (brackets
# in BTC: qtyFloor / qtyCap), as the venue documents them, parsed by ccxt's own binancecoinm.
COINM_SYMBOL = {
    "symbol": "BTCUSD_PERP", "pair": "BTCUSD", "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000, "onboardDate": 1597042800000, "contractStatus": "TRADING",
    "contractSize": 100, "marginAsset": "BTC", "baseAsset": "BTC", "quoteAsset": "USD",
    "pricePrecision": 1, "quantityPrecision": 0, "baseAssetPrecision": 8, "quotePrecision": 8,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "1000", "maxPrice": "4520958",
         "tickSize": "0.1"},
        {"filterType": "LOT_SIZE", "stepSize": "1", "maxQty": "1000000", "minQty": "1"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "1", "maxQty": "60000", "minQty": "1"},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
}  # fmt: skip
COINM_BRACKETS = {
    "symbol": "BTCUSD_PERP",
    "brackets": [
        {"bracket": 1, "initialLeverage": 125, "qtyCap": 5, "qtyFloor": 0,
         "maintMarginRatio": 0.004, "cum": 0.0},
        {"bracket": 2, "initialLeverage": 100, "qtyCap": 10, "qtyFloor": 5,
         "maintMarginRatio": 0.005, "cum": 0.005},
    ],
}  # fmt: skip


def test_a_binance_coin_m_swap_from_ccxt_binancecoinm() -> None:
    venue = ccxt.binancecoinm()  # parsing only: nothing is sent
    raw = venue.parse_market(COINM_SYMBOL)
    tiers = venue.parse_market_leverage_tiers(COINM_BRACKETS, raw)
    market = parse_perpetual_market(
        raw, tiers, precision_mode=venue.precisionMode, exchange="binancecoinm"
    )
    spec = market.perpetual
    assert spec is not None
    assert (market.symbol, market.base, market.quote) == ("BTC/USD:BTC", "BTC", "USD")
    assert (spec.inverse, spec.contract_size, spec.settle) == (True, 100.0, "BTC")
    # amounts in whole contracts, prices to the 0.1 tick
    assert (market.amount_increment, market.min_amount, market.price_increment) == (1, 1, 0.1)
    # the brackets are in the coin (qtyFloor / qtyCap): 5 BTC at 125x, then 0.5 % with cum
    # 5 * (0.5 % - 0.4 %) = 0.005 BTC, as the venue sends it
    assert [(b.floor, b.cap, b.max_leverage) for b in spec.brackets] == [
        (0.0, 5.0, 125.0),
        (5.0, 10.0, 100.0),
    ]
    assert spec.brackets[1].maintenance_amount == pytest.approx(0.005)
    # 100 contracts at 25,000 are 0.4 BTC, in the first bracket: maintenance 0.0016 BTC
    assert spec.maintenance(100.0, 25_000.0) == pytest.approx(0.0016)
