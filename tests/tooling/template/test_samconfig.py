"""samconfig.toml: every stage deploys with parameter values the template accepts.

`sam validate` never looks at parameter_overrides; CloudFormation would reject a bad value only
at deploy time, so the template's AllowedValues/AllowedPattern/MinValue are checked here.
"""

import re
import tomllib
from typing import Any

import pytest

from billing_local.cfn import ROOT
from billing_local.cfn.parameters import samconfig_overrides

CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
ENVIRONMENTS = ["default", "dev", "staging", "prod"]


def overrides(env: str) -> dict[str, str]:
    return samconfig_overrides(ROOT / "samconfig.toml", env)


def test_the_four_environments_exist() -> None:
    assert set(CONFIG) - {"version"} == set(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_settings(env: str) -> None:
    section = CONFIG[env]
    assert section["global"]["parameters"]["stack_name"].startswith("recurring-billing-")
    assert section["global"]["parameters"]["region"]
    deploy = section["deploy"]["parameters"]
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert deploy["resolve_s3"] is True
    # sam build/package/deploy expand Fn::ForEach locally only when asked
    for command in ("build", "package", "deploy"):
        assert section[command]["parameters"]["language_extensions"] is True


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_parameter_overrides_satisfy_the_template(raw_template: dict[str, Any], env: str) -> None:
    declared = raw_template["Parameters"]
    values = overrides(env)
    assert set(values) <= set(declared), set(values) - set(declared)
    for name, value in values.items():
        spec = declared[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], (name, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (name, value)
        if "MinValue" in spec:
            assert float(value) >= spec["MinValue"], (name, value)
        if "MaxValue" in spec:
            assert float(value) <= spec["MaxValue"], (name, value)
    expected_stage = "dev" if env == "default" else env
    assert values["Stage"] == expected_stage


def test_stack_names_differ_per_environment() -> None:
    names = [CONFIG[env]["global"]["parameters"]["stack_name"] for env in ENVIRONMENTS]
    assert len(set(names)) == len(names)


def test_prod_keeps_logs_longest_and_is_not_debug() -> None:
    retention = {env: int(overrides(env)["LogRetentionDays"]) for env in ENVIRONMENTS}
    assert retention["prod"] >= 365 and retention["prod"] == max(retention.values())
    assert overrides("prod")["LogLevel"] in {"INFO", "WARNING"}
