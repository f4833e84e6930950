"""Routing decisions on constructed quotes, computed by hand."""

from __future__ import annotations

import doctest

import pytest

import quantkit.domain.routing
from quantkit.domain.routing import VenueQuote, route
from quantkit.errors import ConfigError

# a: 100 at 0.1 % -> a buy pays 100.1, a sell gets 99.9
# b: 99.8 at 0.2 % -> a buy pays 99.9996, a sell gets 99.6004
A = VenueQuote("a", price=100.0, fee=0.001, available=1e6)
B = VenueQuote("b", price=99.8, fee=0.002, available=1e6)


def test_best_price_is_fee_adjusted_per_side() -> None:
    buy = route("buy", 1.0, [A, B])
    assert [(leg.venue, leg.amount) for leg in buy.legs] == [("b", 1.0)]
    assert buy.legs[0].effective == pytest.approx(99.9996)
    sell = route("sell", 1.0, [A, B])
    assert [leg.venue for leg in sell.legs] == ["a"]
    assert sell.legs[0].effective == pytest.approx(99.9)


def test_cheapest_fee_and_preference_policies() -> None:
    assert route("buy", 1.0, [B, A], "cheapest_fee").legs[0].venue == "a"
    assert route("buy", 1.0, [A, B], "preference", preference=["a"]).legs[0].venue == "a"
    # venues not named come after the named ones, by fee-adjusted price
    c = VenueQuote("c", price=99.0, fee=0.0, available=1e6)
    decision = route("buy", 1.0, [A, B, c], "preference", preference=["a"])
    assert decision.reasons[0].startswith("a:")
    assert decision.reasons[1].startswith("c:")
    assert decision.reasons[2].startswith("b:")


def test_balance_splits_the_order_best_venue_first() -> None:
    poor_b = VenueQuote("b", price=99.8, fee=0.002, available=199.9992)  # 2 units at 99.9996
    decision = route("buy", 3.0, [A, poor_b])
    assert [leg.venue for leg in decision.legs] == ["b", "a"]
    assert decision.legs[0].amount == pytest.approx(2.0)
    assert decision.legs[1].amount == pytest.approx(1.0)
    assert decision.unrouted == 0.0
    whole = route("buy", 3.0, [A, poor_b], split=False)
    assert [(leg.venue, leg.amount) for leg in whole.legs] == [("a", 3.0)]
    assert "b: 99.8, fee 0.2000% -> 99.9996: skipped, balance covers 2" in whole.reasons[0]


def test_sells_are_limited_by_the_base_held_on_each_venue() -> None:
    a = VenueQuote("a", price=100.0, fee=0.001, available=0.5)
    b = VenueQuote("b", price=99.8, fee=0.002, available=1.0)
    decision = route("sell", 2.0, [a, b])
    assert [(leg.venue, leg.amount) for leg in decision.legs] == [("a", 0.5), ("b", 1.0)]
    assert decision.unrouted == pytest.approx(0.5)


def test_a_venue_that_is_down_is_skipped_with_its_reason() -> None:
    down = VenueQuote("b", price=99.8, fee=0.002, available=1e6, healthy=False)
    decision = route("buy", 1.0, [A, down])
    assert [leg.venue for leg in decision.legs] == ["a"]
    assert decision.reasons[0].endswith("skipped, venue down")
    assert decision.reasons[1].endswith("takes 1")


def test_below_the_venue_minimum_is_skipped() -> None:
    tiny = VenueQuote("b", price=99.8, fee=0.002, available=1e6, min_amount=2.0)
    decision = route("buy", 1.0, [tiny, A])
    assert [leg.venue for leg in decision.legs] == ["a"]


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="side must be"):
        route("hold", 1.0, [A])
    with pytest.raises(ConfigError, match="amount must be a finite number > 0"):
        route("buy", float("nan"), [A])
    with pytest.raises(ConfigError, match="policy must be one of"):
        route("buy", 1.0, [A], "fastest")  # type: ignore[arg-type]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(quantkit.domain.routing, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
