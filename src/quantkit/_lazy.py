"""Serve a package's heavier public names on first use (PEP 562), keeping its import light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a package's ``__getattr__`` and ``__dir__`` for names loaded on first use.

    Args:
        package: The package's ``__name__``, for error messages.
        table: Public name -> module that defines it.
        namespace: The package's ``globals()``; a loaded name is stored there, so each module
            is imported once and later lookups are plain attribute reads.

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook's own name
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the PEP 562 hook's own name
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
