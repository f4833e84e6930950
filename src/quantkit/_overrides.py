"""Environment variables that override configuration fields, checked against the model.

``QUANTKIT_BROKER__CASH=5000`` sets ``broker.cash``: the prefix, then the field path with
``__`` between its parts (any case). A variable whose name holds ``__`` must name a real
section and field, else it is an error naming the variable with the closest known name; a
single-part name (``QUANTKIT_STRATEGY='{"name": "sma_cross"}'``) overrides a whole section
when it names one and is left alone otherwise (``QUANTKIT_STORE``, API keys). Values are read
as JSON when they are JSON, else as text.

An override inside a section that is a tagged union (``broker`` by its ``mode``, ``data`` by
its ``type``) takes the tag from the file, from another variable, or else the section's
default, so ``QUANTKIT_BROKER__CASH=5000`` works on a file with no ``broker:`` section.
"""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from quantkit.errors import ConfigError

__all__ = ["EnvOverrides", "env_overrides", "merge", "suggest_field"]


@dataclass(frozen=True, slots=True)
class EnvOverrides:
    """The overrides found in an environment.

    Attributes:
        tree: Nested values, e.g. ``{"broker": {"cash": 5000}}``.
        variables: Field path to the variable that set it, for error messages.
    """

    tree: dict[str, Any] = field(default_factory=dict)
    variables: dict[tuple[str, ...], str] = field(default_factory=dict)

    def variable_for(self, location: tuple[str, ...]) -> str | None:
        """The variable that set ``location`` or a section holding it, if any."""
        for path, name in self.variables.items():
            if location[: len(path)] == path:
                return name
        return None


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge nested mappings; values of ``overrides`` win, mappings merge key by key.

    Args:
        base: The configuration as given.
        overrides: The values that replace parts of it.

    Returns:
        A new merged mapping.
    """
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _members(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models in a field's annotation (one, several for a union, or none)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found.extend(_members(argument))
    return found


def _tag(model: type[BaseModel], discriminator: str) -> str:
    """The tag value of one member of a tagged union (its ``Literal`` discriminator)."""
    return str(typing.get_args(model.model_fields[discriminator].annotation)[0])


def _choose(
    members: list[type[BaseModel]], discriminator: str, given: Any, default: Any
) -> type[BaseModel] | None:
    """The union member a section's tag selects (given, else the default's)."""
    tag = given.get(discriminator) if isinstance(given, Mapping) else None
    if tag is None and default is not None:
        tag = getattr(default, discriminator, None)
    return next((m for m in members if _tag(m, discriminator) == tag), None)


def _unknown(variable: str, what: str, name: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return ConfigError(f"environment {variable}: unknown {what} {name!r}{hint}")


def _check_path(
    model: type[BaseModel], path: list[str], given: Mapping[str, Any], variable: str
) -> None:
    """Raise unless ``path`` names a field of ``model`` (a free-form dict ends the check)."""
    node: type[BaseModel] = model
    value: Any = given
    siblings: tuple[str, str, list[type[BaseModel]]] | None = None
    for depth, part in enumerate(path):
        fields = node.model_fields
        if part not in fields:
            _refuse_other_member(variable, path[:depth], part, siblings)
            what = "section" if depth == 0 else f"field of {'.'.join(path[:depth])}"
            raise _unknown(variable, what, part, list(fields))
        siblings = None
        info = fields[part]
        value = value.get(part) if isinstance(value, Mapping) else None
        rest = path[depth + 1 :]
        if not rest:
            return
        origin = typing.get_origin(info.annotation)
        if origin is dict or info.annotation is dict:
            return  # free-form (strategy parameters): the owner validates the keys
        members = _members(info.annotation)
        if not members or origin in (list, tuple):
            where = ".".join(path[: depth + 1])
            what = "a list" if origin in (list, tuple) else "a single value"
            raise ConfigError(
                f"environment {variable}: {where} is {what}, not a section; "
                f"set it whole, e.g. {variable.rsplit('__', len(rest))[0]}=<JSON value>"
            )
        if len(members) == 1:
            node = members[0]
            continue
        discriminator = str(info.discriminator)
        default = info.default_factory() if info.default_factory else None  # type: ignore[call-arg]
        chosen = _choose(members, discriminator, value, default)
        if chosen is None:
            return  # no valid tag: validation names the section
        siblings = (discriminator, _tag(chosen, discriminator), members)
        node = chosen


def _refuse_other_member(
    variable: str,
    section: list[str],
    part: str,
    siblings: tuple[str, str, list[type[BaseModel]]] | None,
) -> None:
    """A field of another member of a tagged union: say which tag to set (``data.type``)."""
    if siblings is None:
        return
    discriminator, current, members = siblings
    owners = [_tag(m, discriminator) for m in members if part in m.model_fields]
    if owners:
        where = ".".join(section)
        tag_variable = variable.rsplit("__", 2)[0] + f"__{discriminator.upper()}"
        raise ConfigError(
            f"environment {variable}: {where}.{part} is a field of {discriminator} "
            f"{' or '.join(owners)}, but {where}.{discriminator} is {current!r} (set it with "
            f"{tag_variable} or in the file)"
        )


def suggest_field(model: type[BaseModel], location: tuple[int | str, ...]) -> str:
    """``"; did you mean 'cash'?"`` for an unknown key at a validation error's location.

    Args:
        model: The configuration model.
        location: The error's location, the unknown key last (union tags included, as
            pydantic reports them: ``("broker", "backtest", "cashh")``).

    Returns:
        The hint, or ``""`` when nothing is close or the location is not a model's.
    """
    node: type[BaseModel] | None = model
    parts = list(location[:-1])
    while parts and node is not None:
        part = str(parts.pop(0))
        info = node.model_fields.get(part)
        if info is None:
            return ""
        members = _members(info.annotation)
        if len(members) > 1 and parts:
            discriminator = str(info.discriminator)
            tag = str(parts.pop(0))
            node = next((m for m in members if _tag(m, discriminator) == tag), None)
        else:
            node = members[0] if len(members) == 1 else None
    if node is None:
        return ""
    close = difflib.get_close_matches(str(location[-1]), list(node.model_fields), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _refuse_single_underscore(model: type[BaseModel], variable: str, prefix: str) -> None:
    """``QUANTKIT_BROKER_CASH`` names ``broker.cash`` with one ``_``: refuse, showing ``__``."""
    section, _, rest = variable[len(prefix) :].lower().partition("_")
    info = model.model_fields.get(section)
    if info is None or not rest:
        return
    fields = {name for member in _members(info.annotation) for name in member.model_fields}
    if rest in fields:
        fixed = f"{prefix}{section.upper()}__{rest.upper()}"
        raise ConfigError(
            f"environment {variable}: looks like {section}.{rest}, but nested names take two "
            f"underscores: {fixed}"
        )


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _fill_tags(model: type[BaseModel], data: dict[str, Any], touched: set[str]) -> None:
    """Give an overridden tagged-union section its tag when nothing spelled it out."""
    for name in touched:
        info = model.model_fields[name]
        section = data.get(name)
        if info.discriminator is None or not isinstance(section, Mapping):
            continue
        discriminator = str(info.discriminator)
        if discriminator not in section and info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
            data[name] = {discriminator: getattr(default, discriminator), **section}


def env_overrides(
    model: type[BaseModel], data: Mapping[str, Any], environ: Mapping[str, str], prefix: str
) -> tuple[dict[str, Any], EnvOverrides]:
    """Apply the ``prefix`` variables of ``environ`` to ``data``, checking every path.

    Args:
        model: The configuration model (its fields are the known sections).
        data: The configuration as given.
        environ: The environment.
        prefix: E.g. ``"QUANTKIT_"``.

    Returns:
        The merged configuration and the overrides that went into it.

    Raises:
        ConfigError: If a variable names an unknown section or field, or goes below a value.
    """
    found = EnvOverrides()
    for variable in sorted(environ):
        if not variable.startswith(prefix):
            continue
        rest = variable[len(prefix) :]
        path = [part.lower() for part in rest.split("__")]
        if len(path) == 1 and path[0] not in model.model_fields:
            _refuse_single_underscore(model, variable, prefix)
            continue  # not an override: another use of the prefix (store folder, API keys)
        if "" in path:
            raise ConfigError(f"environment {variable}: an empty name between '__'")
        found.variables[tuple(path)] = variable
        node = found.tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment {variable}: {part} is set whole by another one")
            node = child
        node[path[-1]] = _parse_value(environ[variable])
    merged = merge(data, found.tree)
    for where, name in found.variables.items():
        _check_path(model, list(where), merged, name)
    _fill_tags(model, merged, {path[0] for path in found.variables})
    return merged, found
