"""Building the ccxt client: any Binance-compatible server from public arguments, masked keys."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.exchanges import CcxtExchange
from quantkit.exchanges.client import server_options
from quantkit.redaction import REDACTED, MaskedBytes, MaskedStr
from quantkit.secrets import Credentials
from quantkit.testing import LocalExchange

pytestmark = pytest.mark.anyio

KEY, SECRET = "client-key-5e1d", "client-secret-0c4b7a"
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000})}
    )
    async with exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


async def test_public_arguments_alone_trade_against_a_binance_compatible_server(
    local: LocalExchange,
) -> None:
    # No options: nothing imported from quantkit.testing configures the client.
    async with CcxtExchange(
        "binance", credentials=KEYS, api_url=local.url, rate_limit=False
    ) as venue:
        markets = await venue.markets()
        balances = await venue.balances()
        order = await venue.create_order(
            OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, 0.01), "qk-api-url-1"
        )
    assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(markets)
    assert balances["USDT"].total == 10_000
    assert (order.client_id, order.filled) == ("qk-api-url-1", 0.01)
    paths = [record.path for record in local.requests()]
    # exchangeInfo once (spot only: no futures, currencies or margin endpoints), the clock
    # offset, then the two signed requests, and nothing else.
    assert paths == ["/api/v3/exchangeInfo", "/api/v3/time", "/api/v3/account", "/api/v3/order"]


async def test_public_data_needs_no_keys_and_no_clock(local: LocalExchange) -> None:
    async with CcxtExchange("binance", api_url=local.url, rate_limit=False) as venue:
        rows = await venue.fetch_ohlcv("BTC/USDT", "1h", 1704067200000, 3)
    assert len(rows) == 3
    assert [r.path for r in local.requests()] == ["/api/v3/exchangeInfo", "/api/v3/klines"]


def test_server_options_keep_spot_only_where_the_class_loads_several_kinds() -> None:
    spot = server_options({"fetchMarkets": {"types": ["spot", "linear", "inverse"], "x": 1}})
    assert spot == {
        "fetchCurrencies": False,
        "fetchMargins": False,
        "fetchMarkets": {"types": ["spot"], "x": 1},
    }
    futures = server_options({"fetchMarkets": {"types": ["linear"]}})
    assert "fetchMarkets" not in futures


def test_options_given_win_over_the_server_defaults() -> None:
    venue = CcxtExchange(
        "binance",
        api_url="http://127.0.0.1:9",
        options={"fetchMarkets": {"types": ["spot", "linear"]}, "fetchCurrencies": True},
    )
    options = venue._client.options
    assert options["fetchMarkets"]["types"] == ["spot", "linear"]
    assert options["fetchCurrencies"] is True
    assert options["fetchMargins"] is False
    plain = CcxtExchange("binance")._client.options  # the real venue: ccxt's own defaults
    assert plain["fetchMarkets"]["types"] == ["spot", "linear", "inverse"]
    assert plain["fetchCurrencies"] is True


def test_the_client_holds_the_keys_as_masked_strings() -> None:
    client = CcxtExchange("binance", credentials=KEYS, api_url="http://127.0.0.1:9")._client
    assert (client.apiKey, client.secret) == (KEY, SECRET)  # ccxt signs with the real values
    assert isinstance(client.apiKey, MaskedStr)
    shown = repr({"X-MBX-APIKEY": client.apiKey, "secret": client.secret})
    assert shown == f"{{'X-MBX-APIKEY': '{REDACTED}', 'secret': '{REDACTED}'}}"
    encoded = client.encode(client.secret)  # what ccxt hands to hmac
    assert encoded == SECRET.encode()
    assert isinstance(encoded, MaskedBytes)
    assert repr(encoded) == f"b'{REDACTED}'"
    assert repr(client.secret[:5]) == f"'{REDACTED}'"  # a slice stays masked
    assert repr(encoded[:5]) == f"b'{REDACTED}'"


def test_a_traceback_with_locals_in_the_client_frames_shows_no_key() -> None:
    client = CcxtExchange("binance", credentials=KEYS, api_url="http://127.0.0.1:9")._client

    def sign_then_fail(api_key: str, secret: bytes) -> None:
        headers = {"X-MBX-APIKEY": api_key}
        raise RuntimeError(f"failed after signing with {len(headers)} header")

    try:
        sign_then_fail(client.apiKey, client.encode(client.secret))
    except RuntimeError as exc:
        shown = traceback.TracebackException.from_exception(exc, capture_locals=True)
        text = "".join(shown.format())
    assert "X-MBX-APIKEY" in text  # the locals are printed ...
    assert KEY not in text  # ... masked
    assert SECRET not in text
