"""The signed ``leverageBracket`` endpoint (ccxt's ``fetch_leverage_tiers``) and its checks."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from quantkit.testing.futures import DEFAULT_FUTURES_MARKETS, LocalFuturesExchange
from tests.testing.futures.conftest import KEY, sync_client

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_leverage_tiers_list_every_bracket(client: Any, clean: LocalFuturesExchange) -> None:
    tiers = client.fetch_leverage_tiers()
    assert sorted(tiers) == [BTC, ETH]
    btc = tiers[BTC]
    assert len(btc) == 12
    first = {k: btc[0][k] for k in ("minNotional", "maxNotional", "maxLeverage")}
    assert first == {"minNotional": 0.0, "maxNotional": 50_000.0, "maxLeverage": 125.0}
    assert btc[0]["maintenanceMarginRate"] == 0.004
    assert btc[-1]["maxLeverage"] == 1.0 and btc[-1]["maintenanceMarginRate"] == 0.5
    (request,) = clean.requests("/fapi/v1/leverageBracket")
    assert "signature" in request.query and "timestamp" in request.query


@pytest.mark.parametrize("symbol", [BTC, ETH])
def test_maintenance_amounts_make_margin_continuous(client: Any, symbol: str) -> None:
    """At each bracket floor, ``n * mmr - cum`` is the same computed in either bracket."""
    info = [t["info"] for t in client.fetch_leverage_tiers([symbol])[symbol]]
    assert info[0]["cum"] == 0.0
    for below, above in itertools.pairwise(info):
        floor = Decimal(str(above["notionalFloor"]))
        assert floor == Decimal(str(below["notionalCap"]))
        left = floor * Decimal(str(below["maintMarginRatio"])) - Decimal(str(below["cum"]))
        right = floor * Decimal(str(above["maintMarginRatio"])) - Decimal(str(above["cum"]))
        assert left == right


def test_hand_computed_maintenance_amounts() -> None:
    """BTC: cum 2 = 50,000 x (0.005 - 0.004) = 50; cum 3 = 50 + 600,000 x 0.0015 = 950."""
    cums = [b.cum for b in DEFAULT_FUTURES_MARKETS[0].brackets[:4]]
    assert cums == [Decimal(0), Decimal(50), Decimal(950), Decimal(11_450)]


def test_one_symbol_is_answered_as_an_object(client: Any) -> None:
    answer = client.fapiPrivateGetLeverageBracket({"symbol": "ETHUSDT"})
    assert answer["symbol"] == "ETHUSDT" and len(answer["brackets"]) == 9
    with pytest.raises(ccxt.BadSymbol):
        client.fapiPrivateGetLeverageBracket({"symbol": "NOPEUSDT"})


def test_a_wrong_secret_or_key_is_refused(clean: LocalFuturesExchange) -> None:
    wrong_secret = sync_client(clean, apiKey=KEY, secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong_secret.fetch_leverage_tiers()
    unknown = sync_client(clean, apiKey="nobody", secret="x")
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        unknown.fetch_leverage_tiers()


def test_a_timestamp_outside_the_window_is_refused(
    clean: LocalFuturesExchange, client: Any
) -> None:
    clean.server_clock.skew(60_000)  # the server runs a minute ahead of the client
    try:
        with pytest.raises(ccxt.InvalidNonce, match="-1021"):
            client.fetch_leverage_tiers()
    finally:
        clean.server_clock.skew(0)
    assert len(client.fetch_leverage_tiers()) == 2
