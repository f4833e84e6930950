"""Read a configuration document: YAML or JSON by the file's extension.

The YAML reader follows the YAML 1.2 core schema, not PyYAML's YAML 1.1 default, so a value
means what it looks like:

* ``true``/``false`` are booleans; ``yes``, ``no``, ``on``, ``off`` stay strings (the field's
  own validation decides what they mean);
* integers are decimal (``0o17`` octal and ``0x1F`` hex when spelled so); a leading zero such as
  ``fast: 010`` is refused, naming the key and line, instead of being read as octal 8;
  ``1:30`` is a string, not the sexagesimal 90;
* dates and datetimes (``start: 2024-01-01``) stay text, exactly as written, and the fields
  that hold times parse them;
* a key given twice in one mapping is an error naming the key and both lines.

A file that is not UTF-8 text (a binary file, a Latin-1 export) is refused with its file name
and the offending position, never with a traceback.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantkit.errors import ConfigError

if TYPE_CHECKING:
    import yaml

__all__ = ["load_document"]

_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class _DocumentError(Exception):
    """A problem found while reading, with its line (1-based) and, if known, its key."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@cache
def _loader_class() -> type[yaml.SafeLoader]:
    """A SafeLoader with YAML 1.2 core scalars, duplicate-key and leading-zero checks."""
    import yaml  # noqa: PLC0415 - only configuration needs it

    class Yaml12Loader(yaml.SafeLoader):
        yaml_implicit_resolvers = {}  # noqa: RUF012 - PyYAML's own class-level table

        def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
            if not isinstance(node, yaml.MappingNode):
                return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # merged keys may be overridden: that is what a merge is for
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DocumentError(
                        f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line})",
                        line,
                    )
                seen[key] = line
                _check_scalar(value_node, key)
            return super().construct_mapping(node, deep=deep)

    _check_scalar_tag = "tag:quantkit:leading-zero"
    resolvers = [
        ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"]),
        ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
        ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
        (_check_scalar_tag, _LEADING_ZERO, list("-+0")),
        ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
        ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
    ]
    for tag, pattern, first in resolvers:
        Yaml12Loader.add_implicit_resolver(tag, pattern, first)
    Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    Yaml12Loader.add_constructor(_check_scalar_tag, _refuse_leading_zero)
    return Yaml12Loader


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text)


def _leading_zero_message(text: str, key: object | None) -> str:
    where = f"{key}: " if key is not None else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    return (
        f"{where}{text} has a leading zero; write {digits} for the number, or quote it "
        f"('{text}') for text"
    )


def _refuse_leading_zero(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise _DocumentError(_leading_zero_message(str(node.value), None), node.start_mark.line + 1)


def _check_scalar(node: yaml.Node, key: object) -> None:
    """Refuse a plain leading-zero number as a mapping value, naming its key."""
    import yaml  # noqa: PLC0415

    if (
        isinstance(node, yaml.ScalarNode)
        and node.style is None
        and _LEADING_ZERO.match(str(node.value))
    ):
        raise _DocumentError(_leading_zero_message(str(node.value), key), node.start_mark.line + 1)


def _read_text(target: Path, what: str) -> str:
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}{target}: cannot read it: {exc}") from exc
    if b"\x00" in raw[:8192]:
        raise ConfigError(
            f"{what}{target}: this is a binary file (it holds NUL bytes), not YAML or JSON text"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{what}{target}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None


def _json_pairs(text: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise _DocumentError(
                    f"key {key!r} appears twice in one object", _last_line(text, key)
                )
            found[key] = value
        return found

    return json.loads(text, object_pairs_hook=hook)


def _last_line(text: str, key: str) -> int:
    """The line of the last ``"key":`` in the text (where a duplicate is found)."""
    matches = list(re.finditer(re.escape(json.dumps(key)) + r"\s*:", text))
    return text.count("\n", 0, matches[-1].start()) + 1 if matches else 0


def load_document(path: str | os.PathLike[str], what: str = "") -> Any:
    """Parse a ``.json`` file as JSON and anything else as YAML (1.2 core rules).

    Args:
        path: The file.
        what: What the document is, for errors (e.g. ``"risk configuration "``).

    Returns:
        The parsed document.

    Raises:
        ConfigError: If the file cannot be read, is not UTF-8 text, cannot be parsed, holds a
            duplicate key or a leading-zero number; the message names the file and line.
    """
    target = Path(path)
    text = _read_text(target, what)
    kind = "JSON" if target.suffix.lower() == ".json" else "YAML"
    try:
        if kind == "JSON":
            return _json_pairs(text)
        import yaml  # noqa: PLC0415 - only configuration needs it

        return yaml.load(text, Loader=_loader_class())
    except _DocumentError as exc:
        raise ConfigError(f"{what}{target}: line {exc.line}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what}{target}: not valid JSON: {exc}") from None
    except Exception as exc:  # yaml's scanner, parser and composer errors
        raise ConfigError(f"{what}{target}: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: Exception) -> str:
    """One line for a YAML error: where (line, column) and what, without PyYAML's excerpt."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f"not valid YAML: {exc}"
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else str(problem)
    return f"not valid YAML: line {mark.line + 1}, column {mark.column + 1}: {detail}"
