"""`billing doctor`: the pre-deploy checks that read-only AWS calls can make.

Each check answers one question of README's "First deploy" list and, when the answer is no, says
what to do. Nothing here writes to the account: the operator runs the fixes.
"""

import shutil
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from billing_local.cfn.loader import load_yaml
from billing_local.cfn.parameters import samconfig_overrides

SSM_DEFAULT_KEY = "alias/aws/ssm"
BROKEN_STATES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")


@dataclass(frozen=True)
class Finding:
    ok: bool
    check: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FIX '} {self.check}: {self.detail}"


@dataclass(frozen=True)
class Target:
    """The stack to check and the parameters it will be deployed with."""

    stack: str
    region: str
    parameters: dict[str, str]

    @property
    def provider_key_name(self) -> str:
        custom = self.parameters.get("PaymentProviderKeyParameter", "")
        return custom or f"/billing/{self.parameters.get('Stage', 'dev')}/payment-provider-key"


def template_defaults(path: Path) -> dict[str, str]:
    declared = load_yaml(path).get("Parameters") or {}
    return {name: str(spec.get("Default", "")) for name, spec in declared.items()}


def target_from_samconfig(root: Path, stack: str, region: str | None) -> Target:
    """The stage of samconfig.toml that deploys `stack` (its overrides over the template defaults)."""
    config = tomllib.loads((root / "samconfig.toml").read_text())
    parameters = template_defaults(root / "template.yaml")
    for env, sections in config.items():
        globals_ = sections.get("global", {}).get("parameters", {}) if isinstance(sections, dict) else {}
        if globals_.get("stack_name") == stack:
            region = region or globals_.get("region")
            parameters |= samconfig_overrides(root / "samconfig.toml", env)
            break
    if region is None:
        raise ValueError(f"{stack!r} is not a stack of samconfig.toml: pass --region")
    return Target(stack, region, parameters)


def check_python(_: Target, __: Callable[[str], Any]) -> Iterator[Finding]:
    found = shutil.which("python3.13")
    yield Finding(
        found is not None,
        "python3.13 on PATH",
        found or "sam build needs it for the python3.13 runtime: install it, or run `make sam-build`",
    )


def check_powertools_layer(target: Target, client: Callable[[str], Any]) -> Iterator[Finding]:
    name = target.parameters["PowertoolsLayerArn"]
    try:
        value = client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        yield Finding(
            False,
            "Powertools layer",
            f"{name} not readable in {target.region} ({_code(error)}): "
            "pass PowertoolsLayerArn with the layer's ARN for this region",
        )
        return
    right_region = f":lambda:{target.region}:" in value
    detail = value if right_region else f"{value} is not a layer of {target.region}"
    yield Finding(right_region, "Powertools layer", detail)


def check_provider_key(target: Target, client: Callable[[str], Any]) -> Iterator[Finding]:
    name = target.provider_key_name
    answer = client("ssm").describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    found = answer.get("Parameters", [])
    create = f"aws ssm put-parameter --type SecureString --name {name} --value '...'"
    if not found:
        yield Finding(False, "payment provider key", f"{name} is missing: {create}")
        return
    [parameter] = found
    if parameter["Type"] != "SecureString":
        yield Finding(
            False, "payment provider key", f"{name} is a {parameter['Type']}: delete it, then {create}"
        )
    elif parameter.get("KeyId", SSM_DEFAULT_KEY) != SSM_DEFAULT_KEY:
        yield Finding(
            False,
            "payment provider key",
            f"{name} is encrypted with {parameter['KeyId']}; the "
            f"payment role may decrypt only {SSM_DEFAULT_KEY}: re-create it with the default key",
        )
    else:
        yield Finding(True, "payment provider key", f"{name} (SecureString, {SSM_DEFAULT_KEY})")


def check_stack_state(target: Target, client: Callable[[str], Any]) -> Iterator[Finding]:
    try:
        [stack] = client("cloudformation").describe_stacks(StackName=target.stack)["Stacks"]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        yield Finding(True, "stack", f"{target.stack} does not exist yet: this is its first deploy")
        return
    status = stack["StackStatus"]
    if status in BROKEN_STATES:
        fix = f"delete it first (aws cloudformation delete-stack --stack-name {target.stack})"
        yield Finding(False, "stack", f"{target.stack} is {status}: {fix}")
    elif status.endswith("_IN_PROGRESS"):
        yield Finding(False, "stack", f"{target.stack} is {status}: wait until it settles")
    else:
        yield Finding(True, "stack", f"{target.stack} is {status}")


def check_alarm_email(target: Target, _: Callable[[str], Any]) -> Iterator[Finding]:
    email = target.parameters.get("AlarmEmail", "")
    detail = (
        f"{email}: confirm the subscription e-mail after the deploy, or alarms reach nobody"
        if email
        else "none: no e-mail subscription; subscribe AlarmTopic to a pager or chat instead"
    )
    yield Finding(True, "alarm e-mail", detail)


def check_publisher(target: Target, client: Callable[[str], Any]) -> Iterator[Finding]:
    arn = target.parameters.get("UpstreamPublisherArn", "")
    if not arn:
        yield Finding(True, "upstream publisher", "none: only identities of this account may publish")
        return
    account = client("sts").get_caller_identity()["Account"]
    if arn.split(":")[4] != account:
        yield Finding(
            True,
            "upstream publisher",
            f"{arn} (another account): give it the grant of README "
            "step 6 on its side, with the stack's topic and key ARNs",
        )
        return
    try:
        client("iam").get_role(RoleName=arn.rsplit("/", 1)[1]) if ":role/" in arn else None
    except ClientError:
        yield Finding(False, "upstream publisher", f"{arn} does not exist in this account: fix the ARN")
        return
    yield Finding(True, "upstream publisher", arn)


CHECKS = (
    check_python,
    check_powertools_layer,
    check_provider_key,
    check_stack_state,
    check_alarm_email,
    check_publisher,
)


def run(target: Target, client: Callable[[str], Any]) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(target, client)]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "error"))
