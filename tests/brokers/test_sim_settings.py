"""`SimSettings`: one value for the simulated brokers; keywords still work and override it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pydantic
import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.brokers.settings import SimSettings
from quantkit.config import CostsConfig, load_config
from quantkit.domain.market import Market
from quantkit.errors import ConfigError
from quantkit.run_builder import build_run
from quantkit.sim.fees import FeeModel, FlatFees, MarketFees
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


# -- the fee asset ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [BacktestBroker, PaperBroker])
def test_fees_charged_in_reaches_the_fill_rules(
    kind: type[BacktestBroker] | type[PaperBroker],
) -> None:
    assert kind(fees_charged_in="received").rules.fees == MarketFees(charged_in="received")
    flat = kind(fees=FlatFees(taker=0.002), fees_charged_in="received").rules.fees
    assert flat == FlatFees(taker=0.002, charged_in="received")
    assert kind().rules.fees == MarketFees()  # the default stays in quote
    assert kind(fees=FlatFees(charged_in="received")).rules.fees.charged_in == "received"


def test_fees_charged_in_refuses_what_it_cannot_apply() -> None:
    class Custom(FeeModel):
        def rate(self, market: Market, is_maker: bool) -> float:
            return 0.001

    with pytest.raises(ConfigError, match="cannot change the custom fee model Custom"):
        BacktestBroker(fees=Custom(), fees_charged_in="received")
    with pytest.raises(ConfigError, match="charged_in must be 'quote' or 'received'"):
        BacktestBroker(fees_charged_in="bnb")  # type: ignore[arg-type]


def test_the_run_configuration_s_costs_choose_the_fee_asset() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "configs" / "backtest.yaml"
    config = load_config(path, environ={})
    costs = CostsConfig(taker_fee=0.001, fees_charged_in="received")
    broker = build_run(config.model_copy(update={"costs": costs})).engine.broker
    assert isinstance(broker, BacktestBroker)
    assert broker.rules.fees == FlatFees(maker=0.001, taker=0.001, charged_in="received")
    with pytest.raises(pydantic.ValidationError, match="fees_charged_in"):
        CostsConfig(fees_charged_in="base")  # type: ignore[arg-type]
