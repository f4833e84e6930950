"""Structured logging with structlog: JSON lines or a console view, secrets always redacted.

Importing quantkit configures nothing. Call `configure_logging` once, early (the command line
and the live engine do it when asked), and log through `get_logger`::

    from quantkit.log import configure_logging, get_logger

    configure_logging(level="debug")
    get_logger("my.bot").info("order sent", symbol="BTC/USDT", amount=0.1)

Every event passes through `redact_secrets` before it is rendered. If you configure structlog
yourself instead, put `redact_secrets` in your processor chain before the renderer.
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from pydantic import SecretBytes, SecretStr
from structlog._config import BoundLoggerLazyProxy
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from quantkit.errors import ConfigError

__all__ = ["REDACTED", "SECRET_KEY_WORDS", "configure_logging", "get_logger", "redact_secrets"]

REDACTED = "**********"
"""What `redact_secrets` puts in place of a secret value."""

SECRET_KEY_WORDS: tuple[str, ...] = (
    "secret",
    "apikey",
    "api_key",
    "password",
    "passphrase",
    "token",
    "signature",
    "private_key",
)
"""A key whose lowercased name contains one of these words has its value redacted."""

_MAX_DEPTH = 32
_LEVELS = ("debug", "info", "warning", "error", "critical")


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor that hides secrets in an event, at any depth.

    It replaces with `REDACTED`: the value of every key (in the event and in nested mappings)
    whose lowercased name contains one of `SECRET_KEY_WORDS`, and every
    `pydantic.SecretStr` / `pydantic.SecretBytes` value, also inside nested mappings, lists,
    tuples and sets. The event and its nested containers are copied, never modified. Containers
    nested deeper than 32 levels are replaced by ``"<too deep>"``.

    `configure_logging` always includes it. Add it to your own chain, before the renderer, if
    you call ``structlog.configure`` yourself.

    Args:
        logger: The wrapped logger (unused).
        method_name: The name of the log method called (unused).
        event_dict: The event.

    Returns:
        A copy of the event with secrets replaced.

    Examples:
        >>> from pydantic import SecretStr
        >>> redact_secrets(None, "info", {"event": "login", "apiKey": "abc", "x": [SecretStr("s")]})
        {'event': 'login', 'apiKey': '**********', 'x': ['**********']}
    """
    return {key: _redact_item(key, value, 0) for key, value in event_dict.items()}


def _is_secret_key(key: object) -> bool:
    name = str(key).lower()
    return any(word in name for word in SECRET_KEY_WORDS)


def _redact_item(key: object, value: Any, depth: int) -> Any:
    return REDACTED if _is_secret_key(key) else _redact_value(value, depth)


def _redact_value(value: Any, depth: int) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if not isinstance(value, Mapping | list | tuple | set | frozenset):
        return value
    if depth >= _MAX_DEPTH:
        return "<too deep>"
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item, depth + 1) for key, item in value.items()}
    items = [_redact_value(item, depth + 1) for item in value]
    if isinstance(value, list):
        return items
    if isinstance(value, tuple):
        return tuple(items)
    return frozenset(items) if isinstance(value, frozenset) else set(items)


class _NamedWriteLogger(structlog.WriteLogger):
    """A WriteLogger that remembers the name it was asked for with ``get_logger(name)``."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


def _add_logger_name(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    name = getattr(logger, "name", "")
    if name and "logger" not in event_dict:
        event_dict["logger"] = name
    return event_dict


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _level_number(level: str) -> int:
    name = level.lower()
    if name not in _LEVELS:
        close = difflib.get_close_matches(name, _LEVELS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}{hint}")
    return int(logging.getLevelNamesMapping()[name.upper()])


def configure_logging(
    *, json: bool | None = None, level: str = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog for quantkit and for your own code (a global setting).

    Each event gets an ISO-8601 UTC ``timestamp``, its ``level`` and, for loggers made with
    `get_logger` or ``structlog.get_logger(name)``, a ``logger`` name; then `redact_secrets`
    runs; then the event is rendered as one JSON object per line, or for people by structlog's
    console renderer (coloured on a terminal). Events below ``level`` are dropped.

    Args:
        json: ``True`` for JSON lines, ``False`` for the console view, ``None`` to choose
            JSON unless the stream is a terminal.
        level: The lowest level written: ``"debug"``, ``"info"``, ``"warning"``, ``"error"``
            or ``"critical"`` (any case).
        stream: Where to write; ``sys.stderr`` by default.

    Raises:
        ConfigError: If ``level`` is not one of the levels above.

    Examples:
        >>> import io, json
        >>> out = io.StringIO()
        >>> configure_logging(json=True, stream=out)
        >>> get_logger("demo").info("hello", password="hunter2")
        >>> event = json.loads(out.getvalue())
        >>> event["event"], event["level"], event["logger"], event["password"]
        ('hello', 'info', 'demo', '**********')
        >>> structlog.reset_defaults()
    """
    threshold = _level_number(level)
    out = sys.stderr if stream is None else stream
    tty = _is_tty(out)
    as_json = not tty if json is None else json
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact_secrets,
    ]
    if as_json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=tty))

    def logger_factory(*args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(out, str(args[0]) if args else "")

    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        context_class=dict,
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> FilteringBoundLogger:
    """A structlog logger whose events carry ``logger=name``.

    It is lazy: it uses the configuration in force when it logs, so module-level loggers made
    before `configure_logging` is called follow it.

    Args:
        name: The logger's name, such as ``"quantkit.live"`` or your own module's name.

    Returns:
        A structlog bound logger (``info``, ``warning``, ``bind``, ...).

    Examples:
        >>> log = get_logger("quantkit.example").bind(symbol="BTC/USDT")
        >>> callable(log.info)
        True
    """
    # structlog.get_logger(name, logger=name) would collide with wrap_logger's own `logger`
    # parameter; the lazy proxy it returns is built directly instead, with the same arguments.
    proxy: Any = BoundLoggerLazyProxy(
        None, initial_values={"logger": name}, logger_factory_args=(name,)
    )
    logger: FilteringBoundLogger = proxy
    return logger
