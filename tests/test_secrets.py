"""Credentials: where load_credentials looks, in what order, and that values never leak."""

from __future__ import annotations

import copy
import doctest
import io
import json
import os
import pickle
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
import structlog
from keyring.errors import KeyringError, PasswordDeleteError
from pydantic import SecretStr

import quantkit.secrets
from quantkit.errors import ConfigError
from quantkit.log import configure_logging, get_logger
from quantkit.secrets import Credentials, load_credentials

KEY = "key-7c1f0a"
SECRET = "secret-9d2e44"
PASSWORD = "pass-51b3"
VALUES = (KEY, SECRET, PASSWORD)
FULL_ENV = {
    "QUANTKIT_BINANCE_API_KEY": KEY,
    "QUANTKIT_BINANCE_SECRET": SECRET,
    "QUANTKIT_BINANCE_PASSWORD": PASSWORD,
}


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps its entries in a dict (the OS keyring is unusable here)."""

    priority = 1

    def __init__(self, fail: bool = False) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}
        self.fail = fail

    def get_password(self, service: str, username: str) -> str | None:
        if self.fail:
            raise KeyringError("the keyring is locked")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def store_in_keyring(service: str, exchange: str, **fields: str) -> None:
    for field, value in fields.items():
        keyring.set_password(service, f"{exchange}:{field}", value)


def write_dotenv(path: Path, **variables: str) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in variables.items()))
    return path


def assert_no_value_leaks(exc: BaseException, values: tuple[str, ...] = VALUES) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.args)
    for value in values:
        assert value not in text


# --- where the keys come from -----------------------------------------------------------------


def test_environment_variables_give_all_three_values() -> None:
    keys = load_credentials("binance", env=FULL_ENV, dotenv=None)
    assert keys.exchange == "binance"
    assert keys.api_key.get_secret_value() == KEY
    assert keys.secret.get_secret_value() == SECRET
    assert keys.password is not None and keys.password.get_secret_value() == PASSWORD
    assert keys.source == "env"


def test_os_environ_is_the_default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTKIT_KRAKEN_API_KEY", KEY)
    monkeypatch.setenv("QUANTKIT_KRAKEN_SECRET", SECRET)
    keys = load_credentials("kraken", dotenv=None)
    assert (keys.api_key.get_secret_value(), keys.source) == (KEY, "env")
    assert keys.password is None


@pytest.mark.parametrize(
    ("prefix", "name"), [("", "BINANCE_API_KEY"), ("bot", "BOT_BINANCE_API_KEY")]
)
def test_prefix_shapes_the_variable_names(prefix: str, name: str) -> None:
    env = {name: KEY, name.replace("API_KEY", "SECRET"): SECRET}
    keys = load_credentials("binance", env=env, prefix=prefix, dotenv=None)
    assert keys.api_key.get_secret_value() == KEY


def test_exchange_id_is_upper_cased_in_names_only() -> None:
    env = {"QUANTKIT_BINANCEUSDM_API_KEY": KEY, "QUANTKIT_BINANCEUSDM_SECRET": SECRET}
    assert load_credentials("binanceusdm", env=env, dotenv=None).exchange == "binanceusdm"


def test_dotenv_file_is_read_when_the_environment_has_no_key(tmp_path: Path) -> None:
    path = write_dotenv(tmp_path / "keys.env", **FULL_ENV)
    before = dict(os.environ)
    keys = load_credentials("binance", env={}, dotenv=path)
    assert keys.secret.get_secret_value() == SECRET
    assert keys.source == f"dotenv:{path}"
    assert dict(os.environ) == before  # the file never reaches os.environ


def test_dotenv_default_is_dot_env_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dotenv(tmp_path / ".env", **FULL_ENV)
    monkeypatch.chdir(tmp_path)
    keys = load_credentials("binance", env={})
    assert keys.source == f"dotenv:{tmp_path / '.env'}"


def test_dotenv_values_are_verbatim(tmp_path: Path) -> None:
    raw = "ab${HOME}cd"
    path = write_dotenv(
        tmp_path / ".env", QUANTKIT_BINANCE_API_KEY=KEY, QUANTKIT_BINANCE_SECRET=f"'{raw}'"
    )
    keys = load_credentials("binance", env={"HOME": "/root"}, dotenv=path)
    assert keys.secret.get_secret_value() == raw


def test_dotenv_none_skips_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dotenv(tmp_path / ".env", **FULL_ENV)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no API key found"):
        load_credentials("binance", env={}, dotenv=None)


def test_keyring_is_read_last(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    store_in_keyring("quantkit", "binance", api_key=KEY, secret=SECRET, password=PASSWORD)
    keys = load_credentials(
        "binance", env={}, dotenv=tmp_path / "missing.env", keyring_service="quantkit"
    )
    assert keys.source == "keyring:quantkit"
    assert keys.password is not None and keys.password.get_secret_value() == PASSWORD


def test_precedence_is_environment_then_dotenv_then_keyring(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    store_in_keyring("svc", "binance", api_key="k3", secret="s3")
    path = write_dotenv(
        tmp_path / ".env", QUANTKIT_BINANCE_API_KEY="k2", QUANTKIT_BINANCE_SECRET="s2"
    )
    env = {"QUANTKIT_BINANCE_API_KEY": "k1", "QUANTKIT_BINANCE_SECRET": "s1"}
    first = load_credentials("binance", env=env, dotenv=path, keyring_service="svc")
    second = load_credentials("binance", env={}, dotenv=path, keyring_service="svc")
    path.unlink()
    third = load_credentials("binance", env={}, dotenv=path, keyring_service="svc")
    got = [(k.api_key.get_secret_value(), k.source.split(":")[0]) for k in (first, second, third)]
    assert got == [("k1", "env"), ("k2", "dotenv"), ("k3", "keyring")]


def test_empty_values_count_as_unset(tmp_path: Path) -> None:
    path = write_dotenv(tmp_path / ".env", **FULL_ENV)
    env = {"QUANTKIT_BINANCE_API_KEY": "", "QUANTKIT_BINANCE_SECRET": "s"}
    assert load_credentials("binance", env=env, dotenv=path).source.startswith("dotenv:")
    env = {**FULL_ENV, "QUANTKIT_BINANCE_PASSWORD": ""}
    assert load_credentials("binance", env=env, dotenv=None).password is None


def test_a_secret_without_a_key_does_not_stop_the_search(tmp_path: Path) -> None:
    path = write_dotenv(tmp_path / ".env", **FULL_ENV)
    keys = load_credentials("binance", env={"QUANTKIT_BINANCE_SECRET": "stray"}, dotenv=path)
    assert keys.secret.get_secret_value() == SECRET


# --- errors -----------------------------------------------------------------------------------


def test_nothing_found_names_the_exchange_and_every_place(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    path = tmp_path / "absent.env"
    with pytest.raises(ConfigError) as info:
        load_credentials("okx", env={}, dotenv=path, keyring_service="trading")
    message = str(info.value)
    for expected in (
        "'okx'",
        "QUANTKIT_OKX_API_KEY",
        "QUANTKIT_OKX_SECRET",
        "QUANTKIT_OKX_PASSWORD",
        str(path),
        "'trading'",
        "okx:api_key",
        "okx:secret",
    ):
        assert expected in message
    assert "not asked" not in message


def test_nothing_found_says_the_keyring_was_not_asked() -> None:
    with pytest.raises(ConfigError, match=r"keyring was not asked \(keyring_service=None\)"):
        load_credentials("okx", env={}, dotenv=None)


def test_key_without_secret_in_the_environment_is_an_error(tmp_path: Path) -> None:
    path = write_dotenv(tmp_path / ".env", **FULL_ENV)  # would be complete, but comes second
    with pytest.raises(ConfigError, match="environment variables QUANTKIT_BINANCE_API_KEY") as info:
        load_credentials("binance", env={"QUANTKIT_BINANCE_API_KEY": KEY}, dotenv=path)
    assert "no secret" in str(info.value)
    assert_no_value_leaks(info.value)


def test_key_without_secret_in_the_dotenv_file_names_the_file(tmp_path: Path) -> None:
    path = write_dotenv(
        tmp_path / ".env", QUANTKIT_BINANCE_API_KEY=KEY, QUANTKIT_BINANCE_PASSWORD=PASSWORD
    )
    with pytest.raises(ConfigError, match="no secret") as info:
        load_credentials("binance", env={}, dotenv=path)
    assert f"the .env file {path}" in str(info.value)
    assert_no_value_leaks(info.value)


def test_key_without_secret_in_the_keyring_names_the_service(
    memory_keyring: MemoryKeyring,
) -> None:
    store_in_keyring("vault", "binance", api_key=KEY)
    with pytest.raises(ConfigError, match=r"keyring service 'vault'.*no secret") as info:
        load_credentials("binance", env={}, dotenv=None, keyring_service="vault")
    assert_no_value_leaks(info.value)


@pytest.mark.parametrize(
    ("exchange", "prefix", "match"),
    [
        ("", "QUANTKIT", "exchange must be a ccxt exchange id"),
        ("bin ance", "QUANTKIT", "exchange must be a ccxt exchange id"),
        ("binance", "MY-APP", "prefix must be"),
    ],
)
def test_malformed_exchange_or_prefix(exchange: str, prefix: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_credentials(exchange, env=FULL_ENV, prefix=prefix, dotenv=None)


def test_missing_keyring_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes `import keyring` fail
    with pytest.raises(ConfigError, match=r"pip install quantkit\[keyring\]") as info:
        load_credentials("binance", env={}, dotenv=None, keyring_service="quantkit")
    assert "'binance'" in str(info.value) and "'quantkit'" in str(info.value)


def test_missing_keyring_package_is_not_needed_without_a_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    assert load_credentials("binance", env=FULL_ENV, dotenv=None).source == "env"


def test_a_failing_keyring_is_a_config_error_naming_the_service() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring(fail=True))
    try:
        with pytest.raises(ConfigError, match="service 'locked' cannot be read: KeyringError"):
            load_credentials("binance", env={}, dotenv=None, keyring_service="locked")
    finally:
        keyring.set_keyring(previous)


def test_a_dotenv_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(f"QUANTKIT_BINANCE_SECRET={SECRET}\xff\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text") as info:
        load_credentials("binance", env={}, dotenv=path)
    assert str(path) in str(info.value)
    assert_no_value_leaks(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc")
def test_an_unreadable_dotenv_file_is_a_config_error() -> None:
    # /proc/self/mem is a regular file whose first page cannot be read (EIO): an OSError even
    # for root, who can read a chmod 000 file.
    with pytest.raises(
        ConfigError, match=r"cannot read the \.env file /proc/self/mem: Input/output"
    ):
        load_credentials("binance", env={}, dotenv="/proc/self/mem")


# --- the Credentials value and its secrecy ----------------------------------------------------


@pytest.fixture
def loaded() -> Credentials:
    return load_credentials("binance", env=FULL_ENV, dotenv=None)


def rendered_forms(keys: Credentials) -> dict[str, str]:
    return {
        "repr": repr(keys),
        "str": str(keys),
        "format": f"{keys}",
        "json": keys.model_dump_json(),
        "json-mode dump": json.dumps(keys.model_dump(mode="json")),
        "python dump": repr(keys.model_dump()),
        "fields": repr([keys.api_key, keys.secret, keys.password]),
    }


def test_values_never_appear_when_rendered(loaded: Credentials) -> None:
    for form, text in rendered_forms(loaded).items():
        for value in VALUES:
            assert value not in text, form
    assert json.loads(loaded.model_dump_json())["secret"] == "**********"


def test_pickling_is_refused_without_showing_a_value(loaded: Credentials) -> None:
    with pytest.raises(TypeError, match="cannot be pickled") as info:
        pickle.dumps(loaded)
    assert "'binance'" in str(info.value)
    assert_no_value_leaks(info.value)


def test_copies_work_and_stay_equal(loaded: Credentials) -> None:
    assert copy.deepcopy(loaded) == loaded
    assert copy.copy(loaded) == loaded
    assert copy.deepcopy(loaded).secret.get_secret_value() == SECRET


def test_source_is_left_out_of_equality_and_hash(loaded: Credentials) -> None:
    direct = Credentials(
        exchange="binance",
        api_key=SecretStr(KEY),
        secret=SecretStr(SECRET),
        password=SecretStr(PASSWORD),
    )
    assert direct.source == "direct"
    assert direct == loaded and hash(direct) == hash(loaded)
    assert direct != direct.model_copy(update={"secret": SecretStr("other")})
    assert direct != direct.model_copy(update={"exchange": "kraken"})
    assert direct.__eq__("binance") is NotImplemented


def test_credentials_validation_is_kept() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        Credentials(exchange="binance", api_key=SecretStr(""), secret=SecretStr("s"))
    with pytest.raises(ValueError, match="ccxt exchange id"):
        Credentials(exchange="not an id", api_key=SecretStr("k"), secret=SecretStr("s"))
    with pytest.raises(ValueError, match="Extra inputs"):
        Credentials.model_validate(
            {"exchange": "binance", "api_key": "k", "secret": "s", "token": "t"}
        )


def test_values_never_reach_the_log(loaded: Credentials) -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out, level="debug")
    try:
        log = get_logger("quantkit.test")
        log.info("loaded", credentials=loaded, source=loaded.source)
        log.info("fields", api_key=loaded.api_key, secret=loaded.secret, password=loaded.password)
        careless = {"secret": SECRET, "apiKey": loaded.api_key.get_secret_value()}
        log.info("careless", **careless)
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert len(text.splitlines()) == 3
    for value in VALUES:
        assert value not in text
    assert [json.loads(line)["event"] for line in text.splitlines()] == [
        "loaded",
        "fields",
        "careless",
    ]


def test_the_docstring_examples_run() -> None:
    result = doctest.testmod(quantkit.secrets, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- masked values (quantkit.redaction) ---------------------------------------------------------


def test_masked_strings_work_as_their_value_and_never_show_it() -> None:
    from quantkit.redaction import REDACTED, MaskedBytes, MaskedStr

    key = MaskedStr("plain-key-value")
    assert key == "plain-key-value"
    assert key + "!" == "plain-key-value!"  # arithmetic gives a plain str: ccxt builds with it
    assert {"h": key}["h"].startswith("plain")
    shown = [repr(key), str([key]), repr((key,)), repr(key[2:9]), repr(key.encode())]
    assert shown == [
        f"'{REDACTED}'",
        f"['{REDACTED}']",
        f"('{REDACTED}',)",
        f"'{REDACTED}'",
        f"b'{REDACTED}'",
    ]
    assert isinstance(key.encode()[:3], MaskedBytes)
    assert key.encode() == b"plain-key-value"


def test_redact_text_masks_registered_values_and_signatures() -> None:
    from quantkit.redaction import redact_text, register_secret

    register_secret("registered-7d1c", None, "")
    text = "GET /x?apiKey=registered-7d1c&signature=ab12CD%2B%3D, then SIGNATURE=ff."
    assert redact_text(text) == (
        "GET /x?apiKey=**********&signature=**********, then SIGNATURE=**********."
    )
    assert redact_text("nothing to hide") == "nothing to hide"


def test_the_redaction_docstring_examples_run() -> None:
    import quantkit.exchanges.causes
    import quantkit.exchanges.client
    import quantkit.exchanges.clock
    import quantkit.redaction

    for module in (
        quantkit.redaction,
        quantkit.exchanges.client,
        quantkit.exchanges.clock,
        quantkit.exchanges.causes,
    ):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
