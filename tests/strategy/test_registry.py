"""The strategy registry: names, import paths and installed entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantkit.errors import ConfigError, RegistryError
from quantkit.strategy import registry
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from quantkit.strategy.library.sma_cross import SmaCross
from quantkit.strategy.registry import (
    ENTRY_POINT_GROUP,
    available_strategies,
    get_strategy,
    register_strategy,
)

PLUGIN_MODULE = "quantkit_test_plugin_strategies"


class Alpha(Strategy):
    def on_bar(self, bar: SymbolData) -> None:
        pass


class Beta(Strategy):
    def on_bar(self, bar: SymbolData) -> None:
        pass


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[dict[str, type[Strategy]]]:
    """Snapshot the registry and restore it after the test."""
    saved = dict(registry._REGISTRY)
    yield registry._REGISTRY
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def test_register_under_a_name_and_get_it_back() -> None:
    decorated = register_strategy("alpha_test")(Alpha)
    assert decorated is Alpha
    assert get_strategy("alpha_test") is Alpha
    assert "alpha_test" in available_strategies()


def test_register_under_the_class_name_by_default() -> None:
    register_strategy()(Beta)
    assert get_strategy("Beta") is Beta


def test_the_decorator_form() -> None:
    @register_strategy("decorated_test")
    class Decorated(Strategy):
        def on_bar(self, bar: SymbolData) -> None:
            pass

    assert get_strategy("decorated_test") is Decorated


def test_registering_the_same_class_twice_is_harmless() -> None:
    register_strategy("alpha_test")(Alpha)
    register_strategy("alpha_test")(Alpha)
    assert get_strategy("alpha_test") is Alpha


def test_a_duplicate_name_with_another_class_is_refused() -> None:
    register_strategy("dup_test")(Alpha)
    with pytest.raises(RegistryError, match=r"'dup_test' is already registered by .*\.Alpha"):
        register_strategy("dup_test")(Beta)
    assert get_strategy("dup_test") is Alpha


def test_sma_cross_cannot_be_replaced() -> None:
    with pytest.raises(RegistryError, match="sma_cross"):
        register_strategy("sma_cross")(Alpha)
    assert get_strategy("sma_cross") is SmaCross


@pytest.mark.parametrize(
    "thing", [object(), int, len, SmaCross()], ids=["obj", "type", "fn", "inst"]
)
def test_registering_a_non_strategy_is_a_config_error(thing: object) -> None:
    with pytest.raises(ConfigError, match="is not a Strategy subclass"):
        register_strategy("not_a_strategy")(thing)  # type: ignore[type-var]
    assert "not_a_strategy" not in available_strategies()


def test_the_shipped_library_is_registered() -> None:
    assert "sma_cross" in available_strategies()
    assert get_strategy("sma_cross") is SmaCross


def test_available_strategies_is_sorted_and_unique() -> None:
    register_strategy("zz_test")(Alpha)
    register_strategy("aa_test")(Beta)
    names = available_strategies()
    assert names == sorted(set(names))
    assert {"aa_test", "zz_test", "sma_cross"} <= set(names)


def test_get_by_import_path() -> None:
    assert get_strategy("quantkit.strategy.library.sma_cross:SmaCross") is SmaCross
    assert get_strategy(f"{__name__}:Alpha") is Alpha


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("quantkit.no_such_module:X", r"cannot import strategy 'quantkit.no_such_module:X'"),
        ("quantkit.strategy.library.sma_cross:Nope", r"cannot import strategy .*Nope"),
        (
            "quantkit.strategy.library.sma_cross:crossover_signal",
            r"crossover_signal.* not a Strategy subclass",
        ),
    ],
)
def test_a_bad_import_path_is_a_registry_error(name: str, pattern: str) -> None:
    with pytest.raises(RegistryError, match=pattern):
        get_strategy(name)


def test_an_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(
        RegistryError, match=r"no strategy named 'sma_cros'; did you mean 'sma_cross'"
    ):
        get_strategy("sma_cros")


def test_an_unknown_name_without_a_close_match_lists_the_registered() -> None:
    with pytest.raises(RegistryError, match=r"registered: .*sma_cross") as info:
        get_strategy("qqqqqqqq")
    assert "did you mean" not in str(info.value)


def test_a_registry_error_is_a_key_error_with_a_readable_message() -> None:
    with pytest.raises(KeyError) as info:
        get_strategy("sma_cros")
    assert isinstance(info.value, ConfigError)
    assert str(info.value).startswith("no strategy named 'sma_cros'")


# -- entry points ------------------------------------------------------------------------------


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution installed into a temporary sys.path entry, with two entry points."""
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(
        textwrap.dedent(
            """
            from quantkit.strategy.base import Strategy


            class PluginStrategy(Strategy):
                '''A strategy shipped by a plugin distribution.'''

                period: int = 4

                def on_bar(self, bar):
                    pass


            NOT_A_STRATEGY = 42
            """
        )
    )
    dist_info = tmp_path / "quantkit_test_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: quantkit-test-plugin\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        f"plugin_strategy = {PLUGIN_MODULE}:PluginStrategy\n"
        f"plugin_broken = {PLUGIN_MODULE}:NOT_A_STRATEGY\n"
        "\n[some.other.group]\n"
        f"elsewhere = {PLUGIN_MODULE}:PluginStrategy\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(PLUGIN_MODULE, None)


@pytest.mark.usefixtures("installed_plugin")
def test_an_entry_point_is_listed_and_found() -> None:
    names = available_strategies()
    assert "plugin_strategy" in names
    assert "elsewhere" not in names
    assert names == sorted(names)
    found = get_strategy("plugin_strategy")
    assert found.__name__ == "PluginStrategy"
    assert found.__module__ == PLUGIN_MODULE
    assert issubclass(found, Strategy)
    assert found(period=9).params == {"period": 9}


@pytest.mark.usefixtures("installed_plugin")
def test_an_entry_point_to_a_non_strategy_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match=r"entry point 'plugin_broken' is 42, not a Strategy"):
        get_strategy("plugin_broken")


@pytest.mark.usefixtures("installed_plugin")
def test_entry_points_take_part_in_suggestions() -> None:
    with pytest.raises(RegistryError, match=r"did you mean 'plugin_strategy'"):
        get_strategy("plugin_strategyy")


def test_without_the_plugin_the_entry_point_is_unknown() -> None:
    assert "plugin_strategy" not in available_strategies()
    with pytest.raises(RegistryError):
        get_strategy("plugin_strategy")
