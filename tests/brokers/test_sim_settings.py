"""`SimSettings`: one value for the simulated brokers; keywords still work and override it."""

from __future__ import annotations

import dataclasses

import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.brokers.settings import SimSettings
from quantkit.domain.market import Market
from quantkit.errors import ConfigError
from quantkit.sim.fees import FlatFees
from quantkit.sim.slippage import FixedBps

SETTINGS = SimSettings(
    cash=2_500.0,
    currency="USDC",
    markets={"ETH/USDC": Market.from_symbol("ETH/USDC")},
    fees=FlatFees(maker=0.0002, taker=0.0004),
    slippage=FixedBps(3),
    participation=0.1,
    intrabar="favorable",
    allow_short=True,
    leverage=3.0,
)


def keywords(settings: SimSettings) -> dict[str, object]:
    return {field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}


@pytest.mark.parametrize("kind", [BacktestBroker, PaperBroker])
def test_settings_and_the_same_keywords_build_the_same_broker(
    kind: type[BacktestBroker] | type[PaperBroker],
) -> None:
    by_value, by_keywords = kind(SETTINGS), kind(**keywords(SETTINGS))  # type: ignore[arg-type]
    assert by_value.settings == by_keywords.settings == SETTINGS
    for broker in (by_value, by_keywords):
        assert broker.rules.fees == FlatFees(maker=0.0002, taker=0.0004)
        assert broker.rules.slippage == FixedBps(3)
        assert (broker.rules.participation, broker.rules.intrabar) == (0.1, "favorable")
        assert (broker.currency, broker.initial_cash) == ("USDC", 2_500.0)
        assert broker.portfolio.balance == 2_500.0
        assert broker.portfolio.margin.allow_short and broker.portfolio.margin.leverage == 3.0


def test_keywords_override_the_given_settings() -> None:
    broker = PaperBroker(SETTINGS, cash=99.0, latency=0.25)
    assert broker.settings == dataclasses.replace(SETTINGS, cash=99.0)
    assert broker.latency == 0.25 and broker.portfolio.balance == 99.0
    assert SETTINGS.cash == 2_500.0  # the shared value is unchanged


def test_defaults_are_those_of_the_keywords() -> None:
    assert BacktestBroker().settings == SimSettings()
    assert BacktestBroker().initial_cash == 100_000.0


def test_a_positional_value_that_is_not_settings_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"BacktestBroker: settings must be a SimSettings"):
        BacktestBroker(10_000)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"PaperBroker: cash must be a finite number >= 0"):
        PaperBroker(SimSettings(cash=-1.0))
