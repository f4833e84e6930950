"""Risk chains as configuration: pydantic-validated, loadable from YAML, JSON or Python dicts.

A chain is a list of policies, each a mapping with a ``type`` (the policy's snake-case name)
and the policy's constructor arguments::

    policies:
      - type: fixed_fraction
        fraction: 0.5
      - type: max_drawdown_breaker
        max_drawdown: 0.2
        flatten: true

Each policy's configuration model is derived from its constructor's signature (names, types
and defaults), so the schema and the classes cannot drift apart; `risk_config_schema` gives the
JSON Schema. Errors name the exact place: ``policies[1] (max_drawdown_breaker): max_drawdown:
Input should be a valid number``. Users add their own policies with `register_policy`.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskChain, RiskPolicy

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "PolicyConfig",
    "build_risk",
    "load_risk",
    "parse_policies",
    "policy_name",
    "register_policy",
    "registered_policies",
    "risk_config_schema",
]

# Built-in policies by configuration name, imported on first use.
_BUILTIN: dict[str, str] = {
    "consecutive_losses": "quantkit.risk.breakers:ConsecutiveLosses",
    "daily_loss_limit": "quantkit.risk.breakers:DailyLossLimit",
    "fixed_amount": "quantkit.risk.sizing:FixedAmount",
    "fixed_fraction": "quantkit.risk.sizing:FixedFraction",
    "fixed_notional": "quantkit.risk.sizing:FixedNotional",
    "kelly_sizer": "quantkit.risk.kelly:KellySizer",
    "max_concentration": "quantkit.risk.exposure:MaxConcentration",
    "max_drawdown_breaker": "quantkit.risk.breakers:MaxDrawdownBreaker",
    "max_gross_exposure": "quantkit.risk.exposure:MaxGrossExposure",
    "max_leverage": "quantkit.risk.exposure:MaxLeverage",
    "max_net_exposure": "quantkit.risk.exposure:MaxNetExposure",
    "max_order_notional": "quantkit.risk.order_limits:MaxOrderNotional",
    "max_position_size": "quantkit.risk.limits:MaxPositionSize",
    "max_slippage": "quantkit.risk.order_limits:MaxSlippage",
    "order_rate_limit": "quantkit.risk.order_limits:OrderRateLimit",
    "price_band": "quantkit.risk.validation:PriceBand",
    "reduce_only_check": "quantkit.risk.validation:ReduceOnlyCheck",
    "sane_order": "quantkit.risk.validation:SaneOrder",
    "stale_signal": "quantkit.risk.validation:StaleSignal",
    "var_limit": "quantkit.risk.var_policy:VaRLimit",
    "volatility_target": "quantkit.risk.sizing:VolatilityTarget",
}
_REGISTERED: dict[str, type[RiskPolicy]] = {}


class PolicyConfig(BaseModel):
    """The configuration of one risk policy: its ``type`` and its constructor's arguments.

    Each policy has its own subclass, derived from its constructor (``MaxPositionSizeConfig``
    has ``max_amount`` and ``max_notional``); `parse_policies` returns them.

    Attributes:
        type: The policy's configuration name, e.g. ``"max_position_size"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    type: str

    def build(self) -> RiskPolicy:
        """Construct the policy this configuration describes.

        Returns:
            The policy.

        Raises:
            ConfigError: If the type is not registered or the policy refuses the arguments.
        """
        known = registered_policies()
        if self.type not in known:
            raise ConfigError(f"unknown risk policy type {self.type!r}")
        return known[self.type](**self.model_dump(exclude={"type"}, exclude_unset=True))


def policy_name(cls: type[RiskPolicy]) -> str:
    """The configuration name of a policy class: its name in snake case.

    Args:
        cls: The policy class.

    Returns:
        E.g. ``"max_position_size"`` for ``MaxPositionSize``.

    Examples:
        >>> from quantkit.risk.limits import MaxPositionSize
        >>> policy_name(MaxPositionSize)
        'max_position_size'
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def register_policy(cls: type[RiskPolicy], name: str | None = None) -> type[RiskPolicy]:
    """Make a policy class available to configurations (usable as a class decorator).

    Args:
        cls: A `RiskPolicy` subclass whose constructor takes keyword arguments.
        name: Its configuration name (default: `policy_name`).

    Returns:
        The class, unchanged.

    Raises:
        ConfigError: If it is not a RiskPolicy subclass or the name is taken by another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, RiskPolicy)):
        raise ConfigError(f"register_policy: {cls!r} is not a RiskPolicy subclass")
    key = name or policy_name(cls)
    known = _REGISTERED.get(key)
    if key in _BUILTIN or (known is not None and known is not cls):
        raise ConfigError(f"register_policy: the name {key!r} is taken")
    _REGISTERED[key] = cls
    _model_union.cache_clear()
    return cls


def registered_policies() -> dict[str, type[RiskPolicy]]:
    """Every policy a configuration can name, built-in and registered.

    Returns:
        Configuration name to class, sorted by name.
    """
    found = {name: _load(target) for name, target in _BUILTIN.items()}
    found.update(_REGISTERED)
    return dict(sorted(found.items()))


def _load(target: str) -> type[RiskPolicy]:
    module, _, name = target.partition(":")
    loaded: type[RiskPolicy] = getattr(importlib.import_module(module), name)
    return loaded


@cache
def _policy_model(cls: type[RiskPolicy], name: str) -> type[PolicyConfig]:
    """A pydantic model of ``cls``'s constructor arguments, plus ``type: Literal[name]``."""
    from pydantic import create_model  # noqa: PLC0415

    hints = typing.get_type_hints(cls.__init__)
    fields: dict[str, Any] = {"type": (typing.Literal[name], ...)}
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name == "self" or parameter.kind in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        ):
            continue
        hint = hints.get(parameter.name, Any)
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hint, default)
    model: type[PolicyConfig] = create_model(
        f"{cls.__name__}Config",
        __base__=PolicyConfig,
        __doc__=f"Configuration of `{cls.__module__}.{cls.__name__}`.",
        **fields,
    )
    return model


@cache
def _model_union() -> type[BaseModel]:
    from typing import Annotated, Union  # noqa: PLC0415

    from pydantic import Field, create_model  # noqa: PLC0415

    models: Any = tuple(_policy_model(cls, name) for name, cls in registered_policies().items())
    entry: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007
    model: type[BaseModel] = create_model(
        "RiskConfig",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="A risk chain: the policies, first applied first.",
        policies=(list[entry], ...),
    )
    return model


def risk_config_schema() -> dict[str, Any]:
    """The JSON Schema of a risk configuration (for editors that validate YAML files).

    Returns:
        The schema.
    """
    schema: dict[str, Any] = _model_union().model_json_schema()
    return schema


def _path(location: Sequence[int | str], policies: Sequence[Any]) -> str:
    """``("policies", 1, "max_drawdown_breaker", "flatten")`` -> ``policies[1] (...): flatten``."""
    items = list(location)
    if len(items) < 2 or items[0] != "policies" or not isinstance(items[1], int):
        return ".".join(str(item) for item in items)
    index, rest = items[1], items[2:]
    entry = policies[index]
    kind = entry.get("type") if isinstance(entry, Mapping) else None
    if rest and rest[0] == kind:
        rest = rest[1:]
    head = f"policies[{index}]" + (f" ({kind})" if kind else "")
    return head + (": " + ".".join(str(item) for item in rest) if rest else "")


def _refuse_unknown_types(policies: Sequence[Any]) -> None:
    known = registered_policies()
    for index, entry in enumerate(policies):
        if isinstance(entry, PolicyConfig):
            continue
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if kind not in known:
            import difflib  # noqa: PLC0415

            close = difflib.get_close_matches(str(kind), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            raise ConfigError(f"risk configuration: policies[{index}]: unknown type {kind!r}{hint}")


def _problems(error: ValidationError, policies: Sequence[Any]) -> str:
    found = [f"{_path(e['loc'], policies)}: {e['msg']}" for e in error.errors()]
    return "risk configuration: " + "; ".join(found)


def parse_policies(policies: Sequence[Any]) -> tuple[PolicyConfig, ...]:
    """Validate policy configurations into their typed models (without building policies).

    Args:
        policies: Mappings with a ``type`` and the policy's arguments, or `PolicyConfig`
            values (kept as they are).

    Returns:
        One `PolicyConfig` subclass instance per policy, in order; each was also built once,
        so a constructor's own checks (e.g. a negative limit) are errors here.

    Raises:
        ConfigError: If an entry is invalid; the message names its index, type and field.
    """
    from pydantic import ValidationError  # noqa: PLC0415

    if isinstance(policies, str | bytes | Mapping) or not isinstance(policies, Sequence):
        raise ConfigError("risk configuration: 'policies' must be a list of policies")
    _refuse_unknown_types(policies)
    try:
        parsed = _model_union().model_validate(
            {
                "policies": [
                    p.model_dump(exclude_unset=True) if isinstance(p, PolicyConfig) else p
                    for p in policies
                ]
            }
        )
    except ValidationError as exc:
        raise ConfigError(_problems(exc, policies)) from None
    entries: tuple[PolicyConfig, ...] = tuple(getattr(parsed, "policies"))  # noqa: B009
    for index, entry in enumerate(entries):
        try:
            entry.build()
        except ConfigError as exc:
            raise ConfigError(
                f"risk configuration: policies[{index}] ({entry.type}): {exc}"
            ) from None
    return entries


def build_risk(
    config: Mapping[str, Any] | Sequence[Mapping[str, Any] | PolicyConfig],
) -> RiskChain:
    """Build a `RiskChain` from a configuration (``{"policies": [...]}`` or the list itself).

    Args:
        config: The configuration, e.g. parsed from YAML, or `PolicyConfig` values.

    Returns:
        The chain, policies in the configured order.

    Raises:
        ConfigError: If the configuration is invalid; the message names the exact place.

    Examples:
        >>> chain = build_risk([{"type": "max_position_size", "max_amount": 2.0}])
        >>> chain.policies
        (MaxPositionSize(max_amount=2.0, max_notional=None),)
    """
    policies = config.get("policies") if isinstance(config, Mapping) else config
    if isinstance(config, Mapping) and set(config) - {"policies"}:
        extra = sorted(set(config) - {"policies"})[0]
        raise ConfigError(f"risk configuration: {extra}: Extra inputs are not permitted")
    if not isinstance(policies, Sequence) or isinstance(policies, str):
        raise ConfigError("risk configuration: 'policies' must be a list of policies")
    return RiskChain([entry.build() for entry in parse_policies(policies)])


def load_risk(path: str | Path) -> RiskChain:
    """Build a `RiskChain` from a YAML or JSON file.

    Args:
        path: The file (``.yaml``/``.yml`` or ``.json``).

    Returns:
        The chain.

    Raises:
        ConfigError: If the file cannot be read or parsed, or the configuration is invalid.
    """
    from quantkit._documents import load_document  # noqa: PLC0415

    target = Path(path)
    data = load_document(target, "risk configuration ")
    if not isinstance(data, Mapping | list):
        raise ConfigError(f"risk configuration {target}: expected a mapping or a list")
    try:
        return build_risk(data)
    except ConfigError as exc:
        raise ConfigError(f"{target}: {exc}") from None
