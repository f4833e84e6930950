"""Risk chains from configuration: YAML, JSON and dicts, with errors that name the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantkit.domain.order import OrderRequest
from quantkit.errors import ConfigError
from quantkit.risk.config import (
    build_risk,
    load_risk,
    policy_name,
    register_policy,
    registered_policies,
    risk_config_schema,
)
from quantkit.risk.limits import MaxPositionSize
from quantkit.risk.policy import Decision, RiskContext, RiskPolicy


class CapOrders(RiskPolicy):
    """A user policy: refuses orders above ``max_amount``."""

    def __init__(self, *, max_amount: float, note: str = "") -> None:
        if max_amount <= 0:
            raise ConfigError(f"CapOrders: max_amount must be > 0, got {max_amount}")
        self.max_amount = max_amount
        self.note = note

    def check(self, request: OrderRequest, context: RiskContext) -> Decision:
        if (request.amount or 0.0) > self.max_amount:
            return Decision.reject(self.name, "too big")
        return Decision.approve(request, self.name)


def test_yaml_and_json_files_build_the_same_chain(tmp_path: Path) -> None:
    yaml_file = tmp_path / "risk.yaml"
    yaml_file.write_text(
        "policies:\n  - type: max_position_size\n    max_amount: 2.0\n    max_notional: 1e5\n"
    )
    json_file = tmp_path / "risk.json"
    json_file.write_text(
        json.dumps(
            {"policies": [{"type": "max_position_size", "max_amount": 2.0, "max_notional": 1e5}]}
        )
    )
    for path in (yaml_file, json_file):
        (policy,) = load_risk(path).policies
        assert isinstance(policy, MaxPositionSize)
        assert (policy.max_amount, policy.max_notional) == (2.0, 1e5)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            [{"type": "max_position_sise", "max_amount": 1}],
            r"policies\[0\]: unknown type 'max_position_sise'; did you mean 'max_position_size'",
        ),
        ([{"max_amount": 1}], r"policies\[0\]: unknown type None"),
        (
            [
                {"type": "max_position_size", "max_amount": 1},
                {"type": "max_position_size", "max_amount": "lots"},
            ],
            r"policies\[1\] \(max_position_size\): max_amount: Input should be a valid number",
        ),
        (
            [{"type": "max_position_size", "maxamount": 1}],
            r"policies\[0\] \(max_position_size\): maxamount: Extra inputs",
        ),
        (
            [{"type": "max_position_size", "max_amount": -1}],
            r"policies\[0\] \(max_position_size\): MaxPositionSize: max_amount must be",
        ),
        ({"policies": "max_position_size"}, r"'policies' must be a list"),
        ({"policies": [], "extra": 1}, r"extra: Extra inputs"),
    ],
)
def test_errors_name_the_exact_place(config: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_risk(config)  # type: ignore[arg-type]


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_risk(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML: line 2, column 1"):
        load_risk(bad)
    scalar = tmp_path / "scalar.json"
    scalar.write_text("3")
    with pytest.raises(ConfigError, match="expected a mapping or a list"):
        load_risk(scalar)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("- type: nope\n")
    with pytest.raises(ConfigError, match=r"wrong.yaml: risk configuration: policies\[0\]"):
        load_risk(wrong)


def test_user_policies_register_and_appear_in_the_schema() -> None:
    register_policy(CapOrders)
    assert registered_policies()["cap_orders"] is CapOrders
    chain = build_risk({"policies": [{"type": "cap_orders", "max_amount": 3}]})
    assert chain.policies[0].max_amount == 3.0  # type: ignore[attr-defined]
    schema = risk_config_schema()
    assert "CapOrdersConfig" in schema["$defs"]
    assert schema["$defs"]["CapOrdersConfig"]["required"] == ["type", "max_amount"]
    with pytest.raises(ConfigError, match="taken"):
        register_policy(MaxPositionSize, "cap_orders")
    with pytest.raises(ConfigError, match="not a RiskPolicy"):
        register_policy(int)  # type: ignore[arg-type]


def test_policy_names_are_snake_case() -> None:
    assert policy_name(MaxPositionSize) == "max_position_size"
    assert policy_name(CapOrders) == "cap_orders"
