"""The public face of quantkit.metrics: explicit exports, and no pandas at import time."""

from __future__ import annotations

import os
import subprocess
import sys

import quantkit.metrics
from quantkit.metrics import stats


def public_names(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("quantkit.")
    }


def test_all_lists_exactly_the_public_names() -> None:
    assert quantkit.metrics.__all__ == sorted(quantkit.metrics.__all__)
    assert set(quantkit.metrics.__all__) == public_names(quantkit.metrics)
    assert set(stats.__all__) == public_names(stats) - {"ConfigError", "DataError"}
    for name in quantkit.metrics.__all__:
        assert getattr(quantkit.metrics, name) is getattr(stats, name)


def test_importing_metrics_does_not_load_pandas() -> None:
    code = "import sys, quantkit.metrics; sys.exit('pandas' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert result.returncode == 0
