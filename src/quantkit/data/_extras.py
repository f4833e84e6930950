"""Optional extras (``quantkit[polars]``, ``quantkit[xarray]``), imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from quantkit.errors import ConfigError

__all__ = ["import_extra"]


def import_extra(module: str, where: str) -> Any:
    """Import the optional extra ``module``, or say how to install it.

    Args:
        module: The extra's module and the name of quantkit's extra (``"polars"``).
        where: What needs it, for the message.

    Returns:
        The module.

    Raises:
        ConfigError: If the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{where} needs {module}: pip install 'quantkit[{module}]'") from exc
