"""Read a configuration document: YAML or JSON by the file's extension."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from quantkit.errors import ConfigError

__all__ = ["load_document"]


def load_document(path: str | os.PathLike[str], what: str = "") -> Any:
    """Parse a ``.json`` file as JSON and anything else as YAML.

    Args:
        path: The file.
        what: What the document is, for errors (e.g. ``"risk configuration "``).

    Returns:
        The parsed document.

    Raises:
        ConfigError: If the file cannot be read or parsed; the message names the file.
    """
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what}{target}: cannot read it: {exc}") from exc
    kind = "JSON" if target.suffix.lower() == ".json" else "YAML"
    try:
        if kind == "JSON":
            return json.loads(text)
        import yaml  # noqa: PLC0415 - only configuration needs it

        return yaml.safe_load(text)
    except Exception as exc:  # json's and yaml's parse errors
        raise ConfigError(f"{what}{target}: not valid {kind}: {exc}") from exc
