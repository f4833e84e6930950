"""quantkit.log: JSON lines or console output, levels, logger names, and secrets redacted."""

from __future__ import annotations

import doctest
import io
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from pydantic import SecretBytes, SecretStr
from structlog.testing import capture_logs

import quantkit.log
from quantkit.errors import ConfigError
from quantkit.log import REDACTED, configure_logging, get_logger, redact_secrets
from quantkit.redaction import install_record_redaction, register_secret

SECRET = "s3cr3t-value-0f9a"


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


class TtyStream(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class BareStream:
    """A writable stream without ``isatty``."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def log_secrets(name: str) -> None:
    get_logger(name).warning(
        "order signed",
        symbol="BTC/USDT",
        signature=SECRET,
        params={"apiKey": SECRET, "nested": [SecretStr(SECRET)]},
        key=SecretBytes(SECRET.encode()),
    )


# --- JSON lines -------------------------------------------------------------------------------


def test_json_lines_carry_timestamp_level_logger_and_event() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    get_logger("quantkit.live").info("started", symbol="BTC/USDT", amount=0.5)
    [event] = lines(out)
    assert event["event"] == "started"
    assert event["level"] == "info"
    assert event["logger"] == "quantkit.live"
    assert (event["symbol"], event["amount"]) == ("BTC/USDT", 0.5)
    assert event["timestamp"].endswith("Z")
    stamp = datetime.fromisoformat(event["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_json_output_redacts_secrets() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    log_secrets("quantkit.exchanges")
    assert SECRET not in out.getvalue()
    [event] = lines(out)
    assert event["signature"] == REDACTED
    assert event["params"] == {"apiKey": REDACTED, "nested": [REDACTED]}
    assert event["key"] == REDACTED
    assert event["symbol"] == "BTC/USDT"


def test_json_is_the_default_when_the_stream_is_not_a_terminal() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    get_logger("x").info("hello")
    assert lines(out)[0]["event"] == "hello"


def test_a_stream_without_isatty_counts_as_not_a_terminal() -> None:
    out = BareStream()
    configure_logging(stream=out)  # type: ignore[arg-type]
    get_logger("x").info("hello")
    assert json.loads("".join(out.parts))["event"] == "hello"


def test_exceptions_are_rendered_into_the_json_line() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    try:
        raise RuntimeError("venue down")
    except RuntimeError:
        get_logger("x").exception("request failed")
    [event] = lines(out)
    assert event["level"] == "error"
    assert "RuntimeError: venue down" in event["exception"]


def test_the_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    get_logger("x").info("to stderr")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err)["event"] == "to stderr"


# --- console view -----------------------------------------------------------------------------


def test_console_view_on_request_redacts_secrets() -> None:
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    log_secrets("quantkit.exchanges")
    text = out.getvalue()
    assert SECRET not in text
    assert "order signed" in text
    assert "warning" in text
    assert "quantkit.exchanges" in text
    assert f"signature={REDACTED}" in text
    assert "\x1b[" not in text  # no colours off a terminal
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_console_view_is_the_default_on_a_terminal() -> None:
    out = TtyStream()
    configure_logging(stream=out)
    log_secrets("quantkit.tty")
    text = out.getvalue()
    assert "order signed" in text
    assert SECRET not in text
    assert not text.lstrip().startswith("{")


# --- levels -----------------------------------------------------------------------------------


def test_level_filters_lower_events() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="WARNING", stream=out)
    log = get_logger("x")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [event["event"] for event in lines(out)] == ["w", "e"]


def test_debug_level_lets_everything_through() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="debug", stream=out)
    get_logger("x").debug("d")
    assert lines(out)[0]["level"] == "debug"


def test_unknown_level_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"unknown log level 'warn'.*did you mean 'warning'"):
        configure_logging(level="warn")
    with pytest.raises(ConfigError, match="use one of debug, info") as info:
        configure_logging(level="loud")
    assert "did you mean" not in str(info.value)


# --- loggers ----------------------------------------------------------------------------------


def test_a_logger_made_before_configuration_follows_it() -> None:
    early = get_logger("quantkit.early")
    plain = structlog.get_logger("quantkit.plain")
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    early.info("one")
    plain.info("two")
    assert [(e["logger"], e["event"]) for e in lines(out)] == [
        ("quantkit.early", "one"),
        ("quantkit.plain", "two"),
    ]


def test_an_unnamed_structlog_logger_gets_no_logger_key() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    structlog.get_logger().info("anonymous")
    assert "logger" not in lines(out)[0]


def test_bound_context_is_kept() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    get_logger("x").bind(run_id="r1", token=SECRET).info("tick")
    [event] = lines(out)
    assert (event["run_id"], event["token"]) == ("r1", REDACTED)


def test_get_logger_binds_the_name_under_any_configuration() -> None:
    with capture_logs() as captured:
        get_logger("user.code").info("hi")
    assert captured == [{"logger": "user.code", "event": "hi", "log_level": "info"}]


def test_importing_quantkit_configures_nothing() -> None:
    code = (
        "import logging, structlog\n"
        "import quantkit, quantkit.log, quantkit.secrets\n"
        "print(structlog.is_configured(), len(logging.getLogger().handlers))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "0"]


# --- redact_secrets on its own ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "secret",
        "api_secret",
        "apiKey",
        "API_KEY",
        "password",
        "passphrase",
        "access_token",
        "X-MBX-SIGNATURE",
        "private_key",
    ],
)
def test_secret_looking_keys_are_redacted(key: str) -> None:
    assert redact_secrets(None, "info", {key: SECRET}) == {key: REDACTED}


def test_other_keys_and_values_are_left_alone() -> None:
    event = {"event": "fill", "symbol": "BTC/USDT", "amount": 1.5, "key_id": 3, "none": None}
    assert redact_secrets(None, "info", dict(event)) == event


def test_secret_values_are_found_at_any_depth_without_touching_the_input() -> None:
    nested = {
        "event": "x",
        "rows": [{"Token": "t", "ok": 1}, (SecretStr("a"), 2), {SecretBytes(b"b")}],
        "frozen": frozenset({SecretStr("c")}),
        "map": {1: SecretStr("d"), 2: "visible"},
    }
    original = repr(nested)
    redacted = redact_secrets(None, "info", nested)
    assert redacted == {
        "event": "x",
        "rows": [{"Token": REDACTED, "ok": 1}, (REDACTED, 2), {REDACTED}],
        "frozen": frozenset({REDACTED}),
        "map": {1: REDACTED, 2: "visible"},
    }
    assert repr(nested) == original


def test_containers_nested_too_deep_are_dropped() -> None:
    deep: list[Any] = [SecretStr("bottom")]
    for _ in range(40):
        deep = [deep]
    redacted = redact_secrets(None, "info", {"deep": deep})
    level = redacted["deep"]
    depth = 0
    while isinstance(level, list):
        level = level[0]
        depth += 1
    assert level == "<too deep>"
    assert depth == 32


def test_the_docstring_examples_run() -> None:
    result = doctest.testmod(quantkit.log, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- the standard library's loggers (ccxt, aiohttp, yours) ---------------------------------------

REGISTERED = "registered-key-6b2e91"


def test_stdlib_records_are_rendered_like_events_with_secrets_masked() -> None:
    register_secret(REGISTERED)
    out = io.StringIO()
    configure_logging(json=True, level="debug", stream=out)
    logging.getLogger("ccxt.base.exchange").debug(
        "%s %s, Request: %s %s",
        "GET",
        "http://127.0.0.1:9/api/v3/account?timestamp=1&signature=9f8e7d",
        {"X-MBX-APIKEY": REGISTERED},
        None,
    )
    [event] = lines(out)
    assert (event["logger"], event["level"]) == ("ccxt.base.exchange", "debug")
    assert event["event"] == (
        "GET http://127.0.0.1:9/api/v3/account?timestamp=1&signature=**********, "
        "Request: {'X-MBX-APIKEY': '**********'} None"
    )
    assert "timestamp" in event


def test_a_handler_of_your_own_gets_masked_records_and_tracebacks() -> None:
    register_secret(REGISTERED)
    configure_logging(json=True, level="debug", stream=io.StringIO())
    mine = io.StringIO()
    handler = logging.StreamHandler(mine)
    logging.getLogger().addHandler(handler)
    try:
        raise RuntimeError(f"refused key {REGISTERED}")
    except RuntimeError:
        logging.getLogger("aiohttp.client").exception("request with %s failed", REGISTERED)
    text = mine.getvalue()
    assert "request with ********** failed" in text
    assert "RuntimeError: refused key **********" in text
    assert REGISTERED not in text


def test_the_level_applies_to_stdlib_loggers_and_one_handler_is_kept() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="debug", stream=io.StringIO())
    configure_logging(json=True, level="warning", stream=out)  # replaces the first handler
    logging.getLogger("aiohttp.client").info("not shown")
    logging.getLogger("aiohttp.client").warning("shown")
    assert [e["event"] for e in lines(out)] == ["shown"]
    ours = [h for h in logging.getLogger().handlers if type(h).__module__ == "quantkit.log"]
    assert len(ours) == 1


def test_structlog_events_mask_registered_values_in_any_string() -> None:
    register_secret(REGISTERED)
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    get_logger("x").info(f"sent with {REGISTERED}", url=f"/a?b={REGISTERED}")
    assert REGISTERED not in out.getvalue()
    [event] = lines(out)
    assert event["url"] == f"/a?b={REDACTED}"


def test_record_redaction_installs_once() -> None:
    install_record_redaction()
    factory = logging.getLogRecordFactory()
    install_record_redaction()
    assert logging.getLogRecordFactory() is factory


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_cli_log_flags_and_a_network_error_naming_its_cause(tmp_path: Any) -> None:
    port = _closed_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "quantkit.cli",
            "--log-level",
            "DEBUG",
            "--log-json",
            "download",
            "binance",
            "BTC/USDT",
            "--since",
            "2024-01-01",
            "--api-url",
            f"http://127.0.0.1:{port}",
            "--store",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    *logged, last = done.stderr.splitlines()
    assert last.startswith("error: ")
    assert f"(connection refused by 127.0.0.1:{port})" in last
    events = [json.loads(line) for line in logged]
    assert any(e["logger"] == "ccxt.base.exchange" and e["level"] == "debug" for e in events)
    assert any(e["event"] == "retrying" for e in events)


def test_stdlib_false_leaves_your_logging_setup_alone_but_masks_records() -> None:
    register_secret(REGISTERED)
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging(json=True, stream=io.StringIO(), stdlib=False)
    assert (list(root.handlers), root.level) == before
    record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "%s", (REGISTERED,), None)
    assert record.getMessage() == REDACTED
