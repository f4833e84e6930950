"""The examples in the optimize package's docstrings run as written."""

from __future__ import annotations

import doctest
import types

import pytest

from quantkit.optimize import datasets, evaluate, report, search, space, walkforward


@pytest.mark.parametrize(
    "module", [space, evaluate, report, search, walkforward, datasets], ids=lambda m: m.__name__
)
def test_docstring_examples_run(module: types.ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
