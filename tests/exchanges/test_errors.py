"""The ccxt-to-quantkit error table, class by class."""

from __future__ import annotations

import inspect

import ccxt
import pytest
from ccxt.base import errors as ccxt_errors

from quantkit.errors import (
    ExchangeError,
    QuantkitError,
    RateLimitedError,
    RequestTimeoutError,
    TransientError,
    VenueUnavailableError,
)
from quantkit.exchanges.errors import (
    map_ccxt_errors,
    parse_retry_after,
    quantkit_error_for,
    translate,
)

EXPECTED: dict[str, type[QuantkitError]] = {
    # permanent refusals
    "BaseError": ExchangeError,
    "ExchangeError": ExchangeError,
    "AuthenticationError": ExchangeError,
    "PermissionDenied": ExchangeError,
    "AccountNotEnabled": ExchangeError,
    "AccountSuspended": ExchangeError,
    "ArgumentsRequired": ExchangeError,
    "BadRequest": ExchangeError,
    "BadSymbol": ExchangeError,
    "OperationRejected": ExchangeError,
    "NoChange": ExchangeError,
    "MarginModeAlreadySet": ExchangeError,
    "MarketClosed": ExchangeError,
    "ManualInteractionNeeded": ExchangeError,
    "RestrictedLocation": ExchangeError,
    "InsufficientFunds": ExchangeError,
    "InvalidAddress": ExchangeError,
    "AddressPending": ExchangeError,
    "InvalidOrder": ExchangeError,
    "OrderNotFound": ExchangeError,
    "OrderNotCached": ExchangeError,
    "OrderImmediatelyFillable": ExchangeError,
    "OrderNotFillable": ExchangeError,
    "DuplicateOrderId": ExchangeError,
    "ContractUnavailable": ExchangeError,
    "NotSupported": ExchangeError,
    "InvalidProxySettings": ExchangeError,
    "ExchangeClosedByUser": ExchangeError,
    "UnsubscribeError": ExchangeError,
    "InvalidNonce": ExchangeError,
    "ChecksumError": ExchangeError,
    # transient failures
    "DDoSProtection": RateLimitedError,
    "RateLimitExceeded": RateLimitedError,
    "RequestTimeout": RequestTimeoutError,
    "OperationFailed": VenueUnavailableError,
    "NetworkError": VenueUnavailableError,
    "ExchangeNotAvailable": VenueUnavailableError,
    "OnMaintenance": VenueUnavailableError,
    "BadResponse": VenueUnavailableError,
    "NullResponse": VenueUnavailableError,
    "CancelPending": VenueUnavailableError,
}


def ccxt_error_classes() -> list[str]:
    return [
        name
        for name, value in vars(ccxt_errors).items()
        if inspect.isclass(value) and issubclass(value, ccxt.BaseError)
    ]


def test_every_ccxt_error_class_has_an_expected_mapping() -> None:
    assert set(ccxt_error_classes()) == set(EXPECTED)


@pytest.mark.parametrize(("name", "target"), sorted(EXPECTED.items()))
def test_a_ccxt_error_becomes_its_quantkit_class(name: str, target: type[QuantkitError]) -> None:
    original = getattr(ccxt, name)(f"binance {name} happened")
    with pytest.raises(QuantkitError) as caught, map_ccxt_errors(exchange="binance"):
        raise original
    assert type(caught.value) is target
    assert caught.value.__cause__ is original
    assert str(caught.value) == f"binance: {name}: {name} happened"
    assert isinstance(caught.value, TransientError) == (target is not ExchangeError)
    if isinstance(caught.value, ExchangeError):
        assert caught.value.exchange == "binance"


def test_other_exceptions_pass_through_untouched() -> None:
    original = KeyError("not ccxt")
    with pytest.raises(KeyError) as caught, map_ccxt_errors(exchange="binance"):
        raise original
    assert caught.value is original
    assert quantkit_error_for(original) is None
    assert translate(original) is None


def test_a_rate_limit_error_carries_the_venues_retry_after() -> None:
    headers = {"Content-Type": "application/json", "retry-after": "3"}
    with (
        pytest.raises(RateLimitedError) as caught,
        map_ccxt_errors(exchange="binance", headers=lambda: headers),
    ):
        raise ccxt.DDoSProtection("binance 429 Too Many Requests")
    assert caught.value.retry_after == 3.0
    without = translate(ccxt.RateLimitExceeded("x"), headers=lambda: None)
    assert isinstance(without, RateLimitedError)
    assert without.retry_after is None
    assert str(without) == "RateLimitExceeded: x"


def test_messages_without_exchange_or_text_stay_readable() -> None:
    assert str(translate(ccxt.RequestTimeout())) == "RequestTimeout: RequestTimeout"
    assert str(translate(ccxt.BadSymbol("kraken has no FOO"), exchange="binance")) == (
        "binance: BadSymbol: kraken has no FOO"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("2", 2.0),
        (" 0.25 ", 0.25),
        ("-4", 0.0),
        ("inf", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 -0000", None),  # no zone: not a usable date
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(value, now=now) == seconds


def test_retry_after_dates_are_measured_from_the_clock_by_default() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT") == 0.0
