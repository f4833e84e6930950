"""Strategy parameters: typed class attributes, validated when the strategy is built.

This module uses ``from __future__ import annotations`` on purpose: the strategies declared here
have string annotations that the parameter machinery must resolve.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import pytest
from pydantic import Field

from quantkit.errors import ConfigError, ParameterError
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from quantkit.strategy.library.sma_cross import SmaCross


class Base(Strategy):
    period: Annotated[int, Field(ge=1)] = 14
    threshold: float = 0.5

    def on_bar(self, bar: SymbolData) -> None:
        pass


class Middle(Base):
    mode: str = "long"
    threshold: float = 0.25  # a new default for an inherited parameter


class Leaf(Middle):
    use_volume: bool = False
    period = 20  # a new default without an annotation


class WithClassLevelState(Strategy):
    registry_name: ClassVar[str] = "with-class-level-state"
    _cache: dict[str, float] = {}  # noqa: RUF012 - deliberately a private class attribute
    window: int = 3
    untyped_constant = 7

    def on_bar(self, bar: SymbolData) -> None:
        pass


class Required(Strategy):
    period: int

    def on_bar(self, bar: SymbolData) -> None:
        pass


class Checked(Strategy):
    low: float = 1.0
    high: float = 2.0

    def validate_params(self) -> None:
        if self.low >= self.high:
            raise TypeError("low must be below high")

    def on_bar(self, bar: SymbolData) -> None:
        pass


# -- SmaCross ----------------------------------------------------------------------------------


def test_typed_class_attributes_become_parameters_with_defaults() -> None:
    strategy = SmaCross()
    assert (strategy.fast, strategy.slow, strategy.fraction) == (10, 30, 1.0)
    assert strategy.params == {"fast": 10, "slow": 30, "fraction": 1.0}


def test_given_values_are_validated_and_set_on_the_instance_only() -> None:
    strategy = SmaCross(fast=5, slow=50, fraction=0.5)
    assert (strategy.fast, strategy.slow, strategy.fraction) == (5, 50, 0.5)
    assert (SmaCross.fast, SmaCross.slow) == (10, 30)


def test_values_are_converted_to_the_declared_type() -> None:
    strategy = SmaCross(fast="7", fraction=1)
    assert strategy.fast == 7
    assert type(strategy.fast) is int
    assert type(strategy.fraction) is float


def test_params_is_a_copy() -> None:
    strategy = SmaCross()
    strategy.params["fast"] = 99
    assert strategy.params["fast"] == 10


def test_parameter_names_in_declaration_order() -> None:
    assert SmaCross.parameter_names() == ("fast", "slow", "fraction")
    assert SmaCross(fast=3, slow=4).parameter_names() == ("fast", "slow", "fraction")


def test_repr_shows_the_parameters() -> None:
    assert repr(SmaCross()) == "SmaCross(fast=10, slow=30, fraction=1.0)"
    assert (
        repr(SmaCross(fast=3, slow=8, fraction=0.25)) == "SmaCross(fast=3, slow=8, fraction=0.25)"
    )


@pytest.mark.parametrize(
    ("kwargs", "parameter", "pattern"),
    [
        ({"fast": "x"}, "fast", r"parameter 'fast'.*valid integer.*got 'x'"),
        ({"fast": 1}, "fast", r"parameter 'fast'.*greater than or equal to 2.*got 1"),
        ({"fast": 2.5}, "fast", r"parameter 'fast'"),
        ({"fraction": 0}, "fraction", r"parameter 'fraction'.*greater than 0"),
        ({"fraction": 1.5}, "fraction", r"parameter 'fraction'.*less than or equal to 1"),
        ({"slow": None}, "slow", r"parameter 'slow'"),
    ],
)
def test_an_invalid_value_names_the_parameter(
    kwargs: dict[str, object], parameter: str, pattern: str
) -> None:
    with pytest.raises(ParameterError, match=pattern) as info:
        SmaCross(**kwargs)
    assert info.value.parameter == parameter
    assert info.value.owner == "SmaCross"
    assert str(info.value).startswith("SmaCross: ")


def test_validate_params_relates_parameters() -> None:
    with pytest.raises(ParameterError, match=r"fast \(30\) must be below slow \(10\)") as info:
        SmaCross(fast=30, slow=10)
    assert info.value.owner == "SmaCross"
    with pytest.raises(ParameterError, match=r"fast \(12\) must be below slow \(12\)"):
        SmaCross(fast=12, slow=12)
    assert SmaCross(fast=11, slow=12).slow == 12


def test_a_type_error_from_validate_params_becomes_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="Checked: low must be below high") as info:
        Checked(low=3.0)
    assert isinstance(info.value.__cause__, TypeError)


def test_an_unknown_parameter_suggests_the_close_match() -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter 'fats'; did you mean 'fast'\?"):
        SmaCross(fats=5)


def test_an_unknown_parameter_without_a_close_match_lists_the_parameters() -> None:
    with pytest.raises(
        ParameterError, match=r"unknown parameter 'zzz' \(parameters: fast, slow, fraction\)"
    ) as info:
        SmaCross(zzz=1)
    assert info.value.parameter == "zzz"


def test_parameter_errors_are_config_and_value_errors() -> None:
    with pytest.raises(ConfigError):
        SmaCross(fast=0)
    with pytest.raises(ValueError, match="fast"):
        SmaCross(fast=0)


# -- declarations ------------------------------------------------------------------------------


def test_parameters_of_a_subclass_of_a_subclass_merge() -> None:
    assert Leaf.parameter_names() == ("period", "threshold", "mode", "use_volume")
    leaf = Leaf()
    assert leaf.params == {"period": 20, "threshold": 0.25, "mode": "long", "use_volume": False}
    assert Leaf(period=3, use_volume=True).params["use_volume"] is True
    assert Base().params == {"period": 14, "threshold": 0.5}
    assert Middle().params == {"period": 14, "threshold": 0.25, "mode": "long"}


def test_inherited_constraints_still_apply() -> None:
    with pytest.raises(ParameterError, match="parameter 'period'"):
        Leaf(period=0)


def test_string_annotations_are_resolved() -> None:
    # Under `from __future__ import annotations` these are strings until resolved.
    assert Base.__annotations__["period"] == "Annotated[int, Field(ge=1)]"
    with pytest.raises(ParameterError, match=r"parameter 'period'.*greater than or equal to 1"):
        Base(period=0)
    with pytest.raises(ParameterError, match="parameter 'threshold'"):
        Base(threshold="high")
    assert Base(threshold="0.75").threshold == 0.75


def test_classvar_private_and_unannotated_attributes_are_not_parameters() -> None:
    assert WithClassLevelState.parameter_names() == ("window",)
    assert WithClassLevelState().params == {"window": 3}
    for name in ("registry_name", "_cache", "untyped_constant"):
        with pytest.raises(ParameterError, match=f"unknown parameter '{name}'"):
            WithClassLevelState(**{name: 1})


def test_a_parameter_without_a_default_is_required() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'period'.*required") as info:
        Required()
    assert info.value.parameter == "period"
    assert Required(period=4).period == 4


def test_a_strategy_without_parameters() -> None:
    class Plain(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            pass

    assert Plain.parameter_names() == ()
    assert repr(Plain()) == "Plain()"
    with pytest.raises(ParameterError, match=r"unknown parameter 'x' \(parameters: none\)"):
        Plain(x=1)


def test_an_unresolvable_annotation_is_a_parameter_error() -> None:
    class Broken(Strategy):
        level: NotDefinedAnywhere = 1  # type: ignore[name-defined]  # noqa: F821

        def on_bar(self, bar: SymbolData) -> None:
            pass

    with pytest.raises(ParameterError, match="cannot resolve the type 'NotDefinedAnywhere'"):
        Broken()


def test_strategy_cannot_be_built_without_on_bar() -> None:
    class NoBar(Strategy):
        period: int = 3

    with pytest.raises(TypeError, match="abstract"):
        NoBar()  # type: ignore[abstract]


def test_a_parameter_may_not_hide_the_strategy_api() -> None:
    class Shadow(Strategy):
        cash: float = 1000.0

        def on_bar(self, bar):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(ParameterError, match=r"parameter 'cash' would hide Strategy\.cash"):
        Shadow()
