"""Find strategies by name: a decorator for your own, entry points for installed plugins."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from quantkit.errors import ConfigError, RegistryError
from quantkit.strategy.base import Strategy

__all__ = ["ENTRY_POINT_GROUP", "available_strategies", "get_strategy", "register_strategy"]

ENTRY_POINT_GROUP = "quantkit.strategies"
_REGISTRY: dict[str, type[Strategy]] = {}

S = TypeVar("S", bound=type[Strategy])


def register_strategy(name: str | None = None) -> Callable[[S], S]:
    """Register a strategy class under ``name`` (default: the class name).

    Args:
        name: The name to look it up by, e.g. in a config file.

    Returns:
        A class decorator that returns the class unchanged.

    Raises:
        RegistryError: If another class is already registered under the name.

    Examples:
        >>> @register_strategy("doc_example")
        ... class DocExample(Strategy):
        ...     def on_bar(self, bar): ...
        >>> get_strategy("doc_example") is DocExample
        True
    """

    def decorate(cls: S) -> S:
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ConfigError(f"register_strategy: {cls!r} is not a Strategy subclass")
        key = name or cls.__name__
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not cls:
            raise RegistryError(
                f"strategy name {key!r} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
        _REGISTRY[key] = cls
        return cls

    return decorate


def _plugins() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_strategies() -> list[str]:
    """Names of every registered strategy, including installed plugins, sorted.

    Returns:
        The names.
    """
    return sorted(set(_REGISTRY) | set(_plugins()))


def get_strategy(name: str) -> type[Strategy]:
    """Look a strategy class up by registered name, plugin name or ``"module:Class"``.

    Args:
        name: A registered name, an entry point in the ``quantkit.strategies`` group, or an
            import path such as ``"mypackage.strategies:MyStrategy"``.

    Returns:
        The strategy class.

    Raises:
        RegistryError: If nothing matches; close matches are suggested.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    plugin = _plugins().get(name)
    if plugin is not None:
        loaded = plugin.load()  # type: ignore[attr-defined]
        return _as_strategy(loaded, f"entry point {name!r}")
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            module = importlib.import_module(module_name)
            loaded = getattr(module, attribute)
        except (ImportError, AttributeError, SyntaxError) as exc:
            raise RegistryError(f"cannot import strategy {name!r}: {exc}") from exc
        return _as_strategy(loaded, name)
    names = available_strategies()
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise RegistryError(
        f"no strategy named {name!r}{hint} (registered: {', '.join(names) or 'none'})"
    )


def _as_strategy(obj: object, where: str) -> type[Strategy]:
    if isinstance(obj, type) and issubclass(obj, Strategy):
        return obj
    raise RegistryError(f"{where} is {obj!r}, not a Strategy subclass")
