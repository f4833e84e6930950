"""The venue's clock (-1021), its reachability, and network errors that name their cause."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.errors import ExchangeError, VenueUnavailableError
from quantkit.exchanges import CcxtExchange
from quantkit.exchanges.clock import skew_message
from quantkit.secrets import Credentials
from quantkit.testing import LocalExchange

pytestmark = pytest.mark.anyio

KEY, SECRET = "clock-key-81aa", "clock-secret-3f9e20"
KEYS = Credentials(exchange="binance", api_key=SecretStr(KEY), secret=SecretStr(SECRET))
HOUR_MS = 3_600_000
SKEW = json.dumps(
    {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Any:
    yield
    structlog.reset_defaults()


@pytest.fixture
async def local() -> AsyncIterator[LocalExchange]:
    exchange = LocalExchange(
        start="2024-01-01", end="2024-01-02", accounts={KEY: (SECRET, {"USDT": 10_000})}
    )
    async with exchange:
        exchange.set_price("BTC/USDT", 40_000)
        yield exchange


def venue_for(local: LocalExchange | str, **kwargs: Any) -> CcxtExchange:
    url = local if isinstance(local, str) else local.url
    return CcxtExchange("binance", credentials=KEYS, api_url=url, rate_limit=False, **kwargs)


def paths(local: LocalExchange) -> list[str]:
    return [record.path for record in local.requests()]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_the_time_difference_adjustment_is_on_with_keys_and_measured_at_start(
    local: LocalExchange,
) -> None:
    async with venue_for(local) as venue:
        await venue.balances()
        assert venue._client.options["adjustForTimeDifference"] is True
        assert abs(venue._client.options["timeDifference"]) < 5_000  # same machine, same clock
    assert paths(local).count("/api/v3/time") == 1


async def test_a_clock_jump_is_followed_and_the_order_is_placed_once(local: LocalExchange) -> None:
    async with venue_for(local) as venue:
        await venue.balances()
        # This machine's clock jumps an hour ahead of what was measured: timestamps go stale.
        venue._client.options["timeDifference"] = HOUR_MS
        before = len(local.requests())
        with capture_logs() as logs:
            order = await venue.create_order(
                OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, 0.01), "qk-jump-1"
            )
        offset = venue._client.options["timeDifference"]
    assert order.filled == 0.01
    assert abs(offset) < 5_000  # measured again
    # refused (-1021), the clock measured, sent again: exactly one order exists.
    assert paths(local)[before:] == ["/api/v3/order", "/api/v3/time", "/api/v3/order"]
    assert [o.client_id for o in local.accounts.orders(KEY)] == ["qk-jump-1"]
    [event] = [e for e in logs if e["event"] == "venue_clock_resynchronised"]
    assert event["offset_ms_before"] == HOUR_MS
    assert event["offset_ms"] == offset


async def test_a_persistent_refusal_explains_the_skew_and_the_fix(local: LocalExchange) -> None:
    async with venue_for(local) as venue:
        await venue.balances()
        local.faults.fail("/api/v3/account", status=400, body=SKEW, times=2)
        with pytest.raises(ExchangeError) as caught:
            await venue.balances()
    error = caught.value
    assert error.reason == "invalid_nonce"
    text = str(error)
    assert "clock skew" in text
    assert re.search(r"this machine's clock reads 20\d\d-", text)
    assert re.search(r"the venue's reads 20\d\d-", text)
    assert re.search(r"this machine is \d+ ms (ahead|behind)", text)
    assert "recvWindow=10000 ms" in text  # what ccxt sends for binance
    assert "NTP" in text
    assert isinstance(error.__cause__, ExchangeError)  # the second refusal, mapped


def test_the_skew_message_computes_the_offset() -> None:
    text = skew_message("binance", local_ms=10_000, venue_ms=7_000, recv_window=5000)
    assert "this machine is 3000 ms ahead" in text
    assert "1970-01-01T00:00:10.000+00:00" in text
    assert "1970-01-01T00:00:07.000+00:00" in text
    unknown = skew_message("binance", local_ms=1, venue_ms=None, recv_window=None)
    assert "the venue's time could not be read" in unknown
    assert "quantkit could not measure the offset again" in unknown
    assert "within its recvWindow of its clock" in unknown


async def test_a_refusal_whose_clock_cannot_be_read_still_explains(local: LocalExchange) -> None:
    async with venue_for(local) as venue:
        await venue.balances()
        local.faults.fail("/api/v3/account", status=400, body=SKEW, times=1)
        local.faults.fail("/api/v3/time", status=503, times=2)
        with pytest.raises(ExchangeError) as caught:
            await venue.balances()
    assert caught.value.reason == "invalid_nonce"
    assert "the venue's time could not be read" in str(caught.value)
    assert isinstance(caught.value.__cause__, VenueUnavailableError)


async def test_the_offset_is_measured_again_after_the_interval(local: LocalExchange) -> None:
    async with venue_for(local, time_sync_interval=1e-9) as venue:
        for _ in range(3):
            await venue.balances()
    # at market load, then before each later call (the interval is always over)
    assert paths(local).count("/api/v3/time") == 3


async def test_an_unreachable_venue_asks_to_halt_new_entries_then_recovers(
    local: LocalExchange,
) -> None:
    async with venue_for(local, unreachable_after=0.0) as venue:
        await venue.balances()
        assert (venue.unreachable_for, venue.halt_reason) == (0.0, "")
        local.faults.fail("/api/v3/account", status=503, times=1)
        with capture_logs() as logs, pytest.raises(VenueUnavailableError):
            await venue.balances()
        assert venue.unreachable_for > 0
        reason = venue.halt_reason
        assert reason.startswith("binance unreachable for ")
        assert "no new entries until it answers again" in reason
        assert [e["event"] for e in logs] == ["venue_unreachable"]
        with capture_logs() as logs:
            await venue.balances()
        assert (venue.unreachable_for, venue.halt_reason) == (0.0, "")
        assert [e["event"] for e in logs] == ["venue_reachable_again"]


async def test_an_outage_is_reported_once_at_the_first_failure_past_the_limit(
    local: LocalExchange,
) -> None:
    limit = 0.05
    async with venue_for(local, unreachable_after=limit) as venue:
        await venue.balances()
        local.faults.fail("/api/v3/account", status=503, times=3)
        with capture_logs() as logs:
            with pytest.raises(VenueUnavailableError):
                await venue.balances()  # the outage starts: not past the limit yet
            assert venue.halt_reason == "" or venue.unreachable_for >= limit
            while venue.unreachable_for < limit:  # the limit passes between two failures
                await anyio.sleep(0.01)
            for _ in range(2):
                with pytest.raises(VenueUnavailableError):
                    await venue.balances()
        assert [e["event"] for e in logs] == ["venue_unreachable"]  # once, not per failure
        assert venue.halt_reason.startswith("binance unreachable for ")


async def test_a_refusal_is_an_answer_not_an_outage(local: LocalExchange) -> None:
    async with venue_for(local, unreachable_after=0.0) as venue:
        with pytest.raises(ExchangeError):
            await venue.create_order(
                OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, 1_000.0), "qk-too-big"
            )
        assert venue.halt_reason == ""


async def test_halt_reason_waits_for_the_limit() -> None:
    venue = venue_for(f"http://127.0.0.1:{closed_port()}", unreachable_after=3600.0)
    async with venue:
        with pytest.raises(VenueUnavailableError):
            await venue.balances()
        assert venue.unreachable_for > 0
        assert venue.halt_reason == ""  # an hour is not over


async def test_connection_refused_is_named_in_the_one_line_message() -> None:
    port = closed_port()
    started = time.monotonic()
    async with venue_for(f"http://127.0.0.1:{port}") as venue:
        with pytest.raises(VenueUnavailableError) as caught:
            await venue.markets()
    assert time.monotonic() - started < 10
    assert f"connection refused by 127.0.0.1:{port}" in str(caught.value)
    assert "\n" not in str(caught.value)


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 80)
    except OSError:
        return False
    return True


async def test_a_dns_failure_says_so() -> None:
    host = "quantkit-test.invalid"  # RFC 2606: never resolves; no packet leaves for it
    if _resolves(host):
        pytest.skip("this resolver answers for .invalid names")
    async with CcxtExchange("binance", api_url=f"http://{host}:80", rate_limit=False) as venue:
        with pytest.raises(VenueUnavailableError) as caught:
            await venue.markets()
    assert f"DNS lookup failed for {host}:80" in str(caught.value)


async def test_a_venue_clock_that_runs_ahead_is_measured_at_start() -> None:
    ahead = 120_000  # the venue's clock runs two minutes ahead: beyond recvWindow (10 s)
    exchange = LocalExchange(
        start="2024-01-01",
        end="2024-01-02",
        accounts={KEY: (SECRET, {"USDT": 10_000})},
        clock_offset_ms=ahead,
    )
    async with exchange as local, venue_for(local) as venue:
        balances = await venue.balances()
        offset = venue._client.options["timeDifference"]
    assert balances["USDT"].total == 10_000
    assert abs(offset + ahead) < 5_000  # this machine minus the venue: about -2 minutes
    assert paths(local) == ["/api/v3/exchangeInfo", "/api/v3/time", "/api/v3/account"]


async def test_a_venue_clock_step_during_the_run_does_not_end_it(local: LocalExchange) -> None:
    async with venue_for(local) as venue:
        await venue.balances()
        local.server_clock.jump(-90_000)  # an NTP step on the venue's side: 90 s back
        before = len(local.requests())
        order = await venue.create_order(
            OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, 0.01), "qk-step-1"
        )
        offset = venue._client.options["timeDifference"]
    assert order.filled == 0.01
    assert abs(offset - 90_000) < 5_000
    assert paths(local)[before:] == ["/api/v3/order", "/api/v3/time", "/api/v3/order"]
    assert [o.client_id for o in local.accounts.orders(KEY)] == ["qk-step-1"]
