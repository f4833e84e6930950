"""Structured logging with structlog: JSON lines or a console view, secrets always redacted.

Importing quantkit configures nothing. Call `configure_logging` once, early (the command line
and the live engine do it when asked), and log through `get_logger`::

    from quantkit.log import configure_logging, get_logger

    configure_logging(level="debug")
    get_logger("my.bot").info("order sent", symbol="BTC/USDT", amount=0.1)

Every event passes through `redact_secrets` before it is rendered. If you configure structlog
yourself instead, put `redact_secrets` in your processor chain before the renderer.

`configure_logging` also routes the standard library's loggers (ccxt, aiohttp, asyncio, your
own) through the same renderer with one handler on the root logger, at the same level, and
masks secrets in every `logging.LogRecord` (`quantkit.redaction.install_record_redaction`):
ccxt logs each request's headers and URL at DEBUG, and none of them shows a key, a secret or a
signature.
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
from quantkit.redaction import REDACTED as _REDACTED
from quantkit.redaction import install_record_redaction, redact_text

__all__ = ["REDACTED", "SECRET_KEY_WORDS", "configure_logging", "get_logger", "redact_secrets"]

REDACTED = _REDACTED
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
    tuples and sets. In every other string it masks the values registered with
    `quantkit.redaction.register_secret` (the keys a `CcxtExchange` holds) and any
    ``signature=...`` query parameter. The event and its nested containers are copied, never
    modified. Containers nested deeper than 32 levels are replaced by ``"<too deep>"``.

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
    if isinstance(value, str):
        return redact_text(value)
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


class _RootHandler(logging.StreamHandler[TextIO]):
    """The root logger's handler `configure_logging` installs (replaced by the next call)."""


class _StderrHandler(_RootHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def _route_stdlib(
    threshold: int, out: TextIO | None, chain: list[Processor], renderer: Processor
) -> None:
    """One root handler rendering stdlib records like structlog events; secrets masked."""
    install_record_redaction()
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(old)
    handler: _RootHandler = _StderrHandler() if out is None else _RootHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[_stdlib_name, *chain],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root.addHandler(handler)
    root.setLevel(threshold)


def _stdlib_name(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord) and "logger" not in event_dict:
        event_dict["logger"] = record.name
    return event_dict


def configure_logging(
    *,
    json: bool | None = None,
    level: str = "info",
    stream: TextIO | None = None,
    stdlib: bool = True,
) -> None:
    """Configure structlog and the standard library's logging for quantkit (a global setting).

    Each event gets an ISO-8601 UTC ``timestamp``, its ``level`` and, for loggers made with
    `get_logger` or ``structlog.get_logger(name)``, a ``logger`` name; an exception is
    formatted as plain text (never with the values of local variables); then
    `redact_secrets` runs; then the event is rendered as one JSON object per line, or for
    people by structlog's console renderer (coloured on a terminal). Events below ``level``
    are dropped. Records of the standard library's loggers (ccxt, aiohttp, ...) go through
    the same chain, by one handler on the root logger (set to ``level``; a handler installed
    by an earlier call is replaced), with secrets masked in each record.

    Args:
        json: ``True`` for JSON lines, ``False`` for the console view, ``None`` to choose
            JSON unless the stream is a terminal.
        level: The lowest level written: ``"debug"``, ``"info"``, ``"warning"``, ``"error"``
            or ``"critical"`` (any case).
        stream: Where to write; ``sys.stderr`` (whatever it is when a record is written) by
            default.
        stdlib: Route the standard library's loggers too (one root handler, root level set
            to ``level``). ``False`` leaves your own `logging` setup alone; secrets are still
            masked in every record.

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
    chain: list[Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,  # plain text, no locals; then redacted
        redact_secrets,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=tty)
    )
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_logger_name,
        *chain,
        renderer,
    ]

    def logger_factory(*args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(out, str(args[0]) if args else "")

    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        context_class=dict,
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    if stdlib:
        _route_stdlib(threshold, stream, chain, renderer)
    else:
        install_record_redaction()


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
