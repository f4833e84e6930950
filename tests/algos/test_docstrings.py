"""The docstring examples of the parent-order modules run."""

from __future__ import annotations

import doctest

import pytest

import quantkit.algos.schedule
import quantkit.algos.state


@pytest.mark.parametrize("module", [quantkit.algos.schedule, quantkit.algos.state])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.failed == 0
    assert result.attempted > 0
