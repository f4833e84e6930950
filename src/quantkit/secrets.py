"""API credentials held as secrets: never printed, logged or written by quantkit."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

__all__ = ["Credentials"]


class Credentials(BaseModel):
    """The keys of one exchange account.

    The values are `pydantic.SecretStr`: their repr, str and JSON show ``'**********'``; read
    them with ``get_secret_value()`` only where they are handed to the venue client.

    Attributes:
        exchange: The ccxt id of the exchange the keys belong to (keys are never sent to
            another exchange).
        api_key: The API key.
        secret: The API secret.
        password: The passphrase some venues require, if any.

    Examples:
        >>> keys = Credentials(exchange="binance", api_key="my-key", secret="hunter2")
        >>> keys.api_key, "hunter2" in repr(keys) + str(keys)
        (SecretStr('**********'), False)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str
    api_key: SecretStr
    secret: SecretStr
    password: SecretStr | None = None

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
