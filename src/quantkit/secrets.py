"""API credentials held as secrets: never printed, logged or written by quantkit.

`load_credentials` finds the keys of one exchange account in the first of three places that
holds its API key: environment variables, a ``.env`` file, then the OS keyring. The keys come
back as a `Credentials` whose values are `pydantic.SecretStr`, so that printing, logging or
serialising them shows ``'**********'``. See ``docs/security.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from quantkit.errors import ConfigError

__all__ = ["Credentials", "load_credentials"]

_FIELDS = ("API_KEY", "SECRET", "PASSWORD")
_KEYRING_FIELDS = ("api_key", "secret", "password")


class Credentials(BaseModel):
    """The keys of one exchange account.

    The values are `pydantic.SecretStr`: their repr, str and JSON show ``'**********'``; read
    them with ``get_secret_value()`` only where they are handed to the venue client.
    Credentials refuse to be pickled (pickling would write the plain values into the bytes);
    ``copy.copy`` and ``copy.deepcopy`` work.

    Attributes:
        exchange: The ccxt id of the exchange the keys belong to (keys are never sent to
            another exchange).
        api_key: The API key.
        secret: The API secret.
        password: The passphrase some venues require, if any.
        source: Where the keys were found: ``"env"`` (environment variables), ``"dotenv:<path>"``
            (a ``.env`` file), ``"keyring:<service>"`` (the OS keyring), or ``"direct"`` when
            built in code. It is not part of equality or the hash: the same keys loaded from two
            places are equal.

    Examples:
        >>> keys = Credentials(exchange="binance", api_key="my-key", secret="hunter2")
        >>> keys.api_key, "hunter2" in repr(keys) + str(keys)
        (SecretStr('**********'), False)
        >>> keys.source, keys == keys.model_copy(update={"source": "env"})
        ('direct', True)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str
    api_key: SecretStr
    secret: SecretStr
    password: SecretStr | None = None
    source: str = "direct"

    @field_validator("exchange")
    @classmethod
    def _exchange_id(cls, value: str) -> str:
        if not value or not value.isidentifier():
            raise ValueError(f"must be a ccxt exchange id such as 'binance', got {value!r}")
        return value

    @field_validator("api_key", "secret")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    def _identity(self) -> tuple[str, SecretStr, SecretStr, SecretStr | None]:
        return (self.exchange, self.api_key, self.secret, self.password)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            f"Credentials for {self.exchange!r} cannot be pickled: pickling would write the "
            "secret values in plain text; load them again with load_credentials() instead"
        )


@dataclass(frozen=True)
class _Found:
    """The values one source holds (``None`` where it has none)."""

    api_key: str | None
    secret: str | None
    password: str | None


@dataclass(frozen=True)
class _Source:
    """One place to look: its `Credentials.source` tag, its description and its reader."""

    tag: str
    where: str
    read: Callable[[], _Found]


def load_credentials(
    exchange: str,
    *,
    env: Mapping[str, str] | None = None,
    prefix: str = "QUANTKIT",
    dotenv: str | os.PathLike[str] | None = ".env",
    keyring_service: str | None = None,
) -> Credentials:
    """Load the API keys of one exchange account from the first place that has its API key.

    The places, in order:

    1. environment variables ``{PREFIX}_{EXCHANGE}_API_KEY``, ``{PREFIX}_{EXCHANGE}_SECRET`` and
       the optional ``{PREFIX}_{EXCHANGE}_PASSWORD`` (exchange upper-cased; with ``prefix=""``
       the names are ``{EXCHANGE}_API_KEY`` and so on);
    2. the same names in the ``dotenv`` file, read without touching ``os.environ`` and without
       ``${VAR}`` interpolation (values are taken verbatim); a missing file is skipped;
    3. the OS keyring, when ``keyring_service`` is given: the entries ``"{exchange}:api_key"``,
       ``"{exchange}:secret"`` and ``"{exchange}:password"`` of that service.

    An empty value counts as unset. Error messages name the exchange and the places looked in,
    never a value.

    Args:
        exchange: The ccxt id of the exchange, such as ``"binance"``.
        env: The environment to read; ``os.environ`` by default.
        prefix: The first part of the variable names.
        dotenv: The ``.env`` file to read (relative paths are from the working directory), or
            ``None`` to skip it.
        keyring_service: The keyring service to read, or ``None`` to skip the keyring. Needs
            the ``keyring`` package (``pip install quantkit[keyring]``).

    Returns:
        The keys, with `Credentials.source` telling where they were found.

    Raises:
        ConfigError: If the exchange id or prefix is malformed; if no place holds the API key;
            if the first place holding it has no secret; if the ``.env`` file cannot be read;
            or if the keyring is asked for but the package is missing or the keyring fails.

    Examples:
        >>> keys = load_credentials(
        ...     "binance",
        ...     env={"QUANTKIT_BINANCE_API_KEY": "my-key", "QUANTKIT_BINANCE_SECRET": "hunter2"},
        ...     dotenv=None,
        ... )
        >>> keys.exchange, keys.source, keys.secret
        ('binance', 'env', SecretStr('**********'))
    """
    if not exchange.isidentifier():
        raise ConfigError(
            f"exchange must be a ccxt exchange id such as 'binance', got {exchange!r}"
        )
    if prefix and not prefix.isidentifier():
        raise ConfigError(
            f"prefix must be a valid variable-name prefix such as 'QUANTKIT', got {prefix!r}"
        )
    names = _variable_names(exchange, prefix)
    sources = _sources(exchange, names, os.environ if env is None else env, dotenv, keyring_service)
    for source in sources:
        found = source.read()
        if found.api_key is None:
            continue
        if found.secret is None:
            raise ConfigError(
                f"credentials for exchange {exchange!r}: {source.where} has the API key but "
                "no secret; set both"
            )
        return Credentials(
            exchange=exchange,
            api_key=SecretStr(found.api_key),
            secret=SecretStr(found.secret),
            password=None if found.password is None else SecretStr(found.password),
            source=source.tag,
        )
    looked = "; ".join(source.where for source in sources)
    skipped = "" if keyring_service else "; the OS keyring was not asked (keyring_service=None)"
    raise ConfigError(
        f"no API key found for exchange {exchange!r}: looked in {looked}{skipped}. "
        f"Set {names[0]} and {names[1]} (see docs/security.md)"
    )


def _variable_names(exchange: str, prefix: str) -> tuple[str, str, str]:
    start = f"{prefix.upper()}_{exchange.upper()}" if prefix else exchange.upper()
    key, secret, password = (f"{start}_{field}" for field in _FIELDS)
    return key, secret, password


def _sources(
    exchange: str,
    names: tuple[str, str, str],
    env: Mapping[str, str],
    dotenv: str | os.PathLike[str] | None,
    keyring_service: str | None,
) -> list[_Source]:
    listed = ", ".join(names)
    sources = [_Source("env", f"environment variables {listed}", lambda: _from_mapping(env, names))]
    if dotenv is not None:
        path = Path(dotenv).absolute()
        sources.append(
            _Source(
                f"dotenv:{path}",
                f"the .env file {path} ({listed})",
                lambda: _from_dotenv(path, names),
            )
        )
    if keyring_service is not None:
        entries = ", ".join(f"{exchange}:{field}" for field in _KEYRING_FIELDS)
        service = keyring_service
        sources.append(
            _Source(
                f"keyring:{service}",
                f"the OS keyring service {service!r} ({entries})",
                lambda: _from_keyring(service, exchange),
            )
        )
    return sources


def _present(value: str | None) -> str | None:
    return value or None


def _from_mapping(values: Mapping[str, str | None], names: tuple[str, str, str]) -> _Found:
    key, secret, password = (_present(values.get(name)) for name in names)
    return _Found(key, secret, password)


def _from_dotenv(path: Path, names: tuple[str, str, str]) -> _Found:
    from dotenv import dotenv_values  # noqa: PLC0415 - keep `import quantkit` light

    if not path.is_file():
        return _Found(None, None, None)
    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the .env file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read the .env file {path}: it is not UTF-8 text") from None
    return _from_mapping(values, names)


def _from_keyring(service: str, exchange: str) -> _Found:
    try:
        import keyring  # noqa: PLC0415 - optional dependency
        from keyring.errors import KeyringError  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"credentials for exchange {exchange!r}: reading the OS keyring service {service!r} "
            "needs the keyring package: pip install quantkit[keyring]"
        ) from exc
    try:
        key, secret, password = (
            _present(keyring.get_password(service, f"{exchange}:{field}"))
            for field in _KEYRING_FIELDS
        )
    except KeyringError as exc:
        raise ConfigError(
            f"credentials for exchange {exchange!r}: the OS keyring service {service!r} "
            f"cannot be read: {type(exc).__name__}: {exc}"
        ) from None
    return _Found(key, secret, password)
