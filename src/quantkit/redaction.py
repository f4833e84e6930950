"""Secret values masked wherever text leaves the process: reprs, log records, messages.

Three tools work together so that an account's keys never show, whatever prints them:

* `MaskedStr` / `MaskedBytes`: a ``str`` (``bytes``) that works as the plain value (ccxt signs
  and sends with it) but whose ``repr`` is ``'**********'``. Tracebacks that print locals
  (``rich.traceback.install(show_locals=True)``, ``traceback.TracebackException(
  capture_locals=True)``, pytest's ``--showlocals``) print reprs, so a frame holding the key,
  a headers dict holding it, or the bytes ccxt signs with, show the mask. Slices stay masked.
* `register_secret` / `redact_text`: values registered once (the adapter registers the keys it
  hands to ccxt) are masked in any text, together with a ``signature=...`` query parameter.
* `install_record_redaction`: wraps the `logging` record factory so that every record created
  by any stdlib logger (ccxt and aiohttp log request headers and URLs at DEBUG) has its message
  and its exception text masked before any handler sees it. `quantkit.log` applies
  `redact_text` to structlog events as well.

The registry is process-wide on purpose: a log record made by a third-party logger carries no
reference to the client whose key it quotes.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any, SupportsIndex

__all__ = [
    "REDACTED",
    "MaskedBytes",
    "MaskedStr",
    "install_record_redaction",
    "redact_text",
    "register_secret",
]

REDACTED = "**********"
"""What a secret is replaced with (pydantic's `SecretStr` mask)."""

_SIGNATURE = re.compile(r"(?i)(signature=)[A-Za-z0-9%+/=_-]+")
_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_installed = False


class MaskedBytes(bytes):
    """Bytes whose repr hides them (the encoded secret ccxt signs with)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"b'{REDACTED}'"

    def __getitem__(self, index: Any) -> Any:
        part = super().__getitem__(index)
        return MaskedBytes(part) if isinstance(part, bytes) else part


class MaskedStr(str):
    """A string that works as its value but whose repr and slices hide it.

    Examples:
        >>> key = MaskedStr("my-api-key")
        >>> key == "my-api-key", repr(key), repr({"X-KEY": key}), repr(key[:4])
        (True, "'**********'", "{'X-KEY': '**********'}", "'**********'")
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{REDACTED}'"

    def __getitem__(self, index: SupportsIndex | slice) -> str:
        return MaskedStr(super().__getitem__(index))

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """The encoded value, as `MaskedBytes`."""
        return MaskedBytes(super().encode(encoding, errors))


def register_secret(*values: str | None) -> None:
    """Mask these values in every text `redact_text` cleans from now on (empty ones are skipped).

    Args:
        values: Secret strings (API keys, secrets, passphrases).
    """
    global _secrets  # noqa: PLW0603 - the process-wide registry (see the module docstring)
    found = {str.__str__(value) for value in values if value}
    with _lock:
        _secrets = _secrets | found


def redact_text(text: str) -> str:
    """Mask every registered secret and any ``signature=...`` query parameter in ``text``.

    Args:
        text: Any text (a log message, a URL, an error message).

    Returns:
        The text with `REDACTED` in place of each secret.

    Examples:
        >>> redact_text("GET /api/v3/account?timestamp=1&signature=9f0a")
        'GET /api/v3/account?timestamp=1&signature=**********'
    """
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "ignature=" in text or "IGNATURE=" in text:
        text = _SIGNATURE.sub(rf"\g<1>{REDACTED}", text)
    return text


def _scrub(record: logging.LogRecord) -> None:
    """Render the record's message and exception now, masked; drop the arguments."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format is logging's business, not ours
        return
    clean = redact_text(message)
    if clean != message or record.args:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        kind, error, trace = record.exc_info
        text = "".join(traceback.format_exception(kind, error, trace)).rstrip("\n")
        record.exc_text = redact_text(text)


def install_record_redaction() -> None:
    """Mask secrets in every `logging.LogRecord` created from now on (installed once).

    The current record factory is wrapped, so factories installed before keep working. The
    message is rendered when the record is made (``msg % args``) and its arguments dropped;
    an exception's traceback is formatted then too and kept as ``exc_text``, masked.
    """
    global _installed  # noqa: PLW0603 - installed once per process
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
