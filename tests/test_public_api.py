"""The public face of quantkit: an explicit sorted __all__, documented names, a light import."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

import quantkit
import quantkit.risk
import quantkit.strategy

FACADES = [quantkit, quantkit.strategy, quantkit.risk]
HEAVY = ("pandas", "pyarrow", "plotly", "ccxt", "talib", "structlog")


def public_names(module: types.ModuleType) -> set[str]:
    """Public names bound in the module, plus those it serves lazily on first use."""
    bound = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    return bound | set(getattr(module, "_LAZY", {}))


@pytest.mark.parametrize("module", FACADES, ids=lambda m: m.__name__)
def test_all_is_sorted_without_duplicates(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__)
    assert len(module.__all__) == len(set(module.__all__))


@pytest.mark.parametrize("module", FACADES, ids=lambda m: m.__name__)
def test_all_equals_the_public_names(module: types.ModuleType) -> None:
    assert set(module.__all__) == public_names(module)


def test_the_strategy_and_risk_facades_agree_with_the_top_level() -> None:
    for module in (quantkit.strategy, quantkit.risk):
        for name in set(module.__all__) & set(quantkit.__all__):
            assert getattr(module, name) is getattr(quantkit, name), name


def test_every_exported_name_resolves_to_a_quantkit_object() -> None:
    for name in quantkit.__all__:
        value = getattr(quantkit, name)
        assert value.__module__.startswith("quantkit."), name


@pytest.mark.parametrize("name", quantkit.__all__)
def test_every_exported_name_has_a_docstring(name: str) -> None:
    value = getattr(quantkit, name)
    doc = vars(value).get("__doc__") if isinstance(value, type) else value.__doc__
    assert doc, f"{name} has no docstring"
    assert doc.strip()
    # dataclasses without a docstring get their signature as __doc__: not documentation
    assert not doc.startswith(f"{name}("), f"{name} only has a generated docstring"


def test_importing_quantkit_stays_light() -> None:
    code = (
        "import json, sys\n"
        "import quantkit\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


def test_the_subprocess_check_would_notice_a_heavy_import() -> None:
    code = (
        "import json, sys\n"
        "import quantkit\n"
        "import pandas\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pandas" in json.loads(done.stdout)


def test_exchange_error_names_the_venue() -> None:
    error = quantkit.ExchangeError("bad symbol FOO/BAR", exchange="binance")
    assert str(error) == "binance: bad symbol FOO/BAR"
    assert error.exchange == "binance"
    assert isinstance(quantkit.StoreError("x"), quantkit.QuantkitError)
    assert str(quantkit.ExchangeError("plain")) == "plain"


def test_lazy_names_resolve_and_unknown_names_fail() -> None:
    lazy = quantkit._LAZY  # type: ignore[attr-defined]
    assert "ParquetStore" in lazy and "ParquetStore" in dir(quantkit)
    for name in lazy:
        assert getattr(quantkit, name).__module__.startswith("quantkit."), name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        quantkit.nope  # type: ignore[attr-defined]  # noqa: B018
