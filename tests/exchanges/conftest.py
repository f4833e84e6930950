"""Every test here fails if a ccxt client or an aiohttp session it opened is left unclosed.

ccxt does not warn when an async client is dropped open: it *logs* "requires to release all
resources" (logger ``ccxt.base.exchange``) from ``__del__``; aiohttp reports "Unclosed client
session" / "Unclosed connector" through asyncio's logger as well as a ResourceWarning
(``filterwarnings = error`` turns that one into a failure already). After each test the garbage
is collected and any such record fails the test.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest

UNCLOSED = ("requires to release all resources", "Unclosed client session", "Unclosed connector")


class _Unclosed(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(text in message for text in UNCLOSED):
            self.messages.append(message)


@pytest.fixture(autouse=True)
def _no_unclosed_client() -> Iterator[None]:
    catcher = _Unclosed()
    loggers = [logging.getLogger(name) for name in ("ccxt", "asyncio")]
    for logger in loggers:
        logger.addHandler(catcher)
    try:
        yield
        gc.collect()
    finally:
        for logger in loggers:
            logger.removeHandler(catcher)
    assert catcher.messages == [], "a ccxt client or aiohttp session was left open"
