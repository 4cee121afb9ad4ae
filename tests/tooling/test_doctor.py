"""`billing doctor` against the embedded AWS: it names what a first deploy lacks, then passes."""

import sys
from pathlib import Path

import boto3
import pytest
from support import ROOT

from billing_local.cli import main
from billing_local.emulator.cloud import LocalCloud

STACK = ["doctor", "--stack", "recurring-billing-dev", "--root", str(ROOT)]
POWERTOOLS = "/aws/service/powertools/python/arm64/python3.13/3.37.0"
LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")  # the venv has python3.13
    with LocalCloud(ROOT / "template.yaml", stack_name="recurring-billing-dev", region="eu-west-1") as cloud:
        yield cloud


def _doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    code = main(STACK)
    lines = capsys.readouterr().out.splitlines()
    return code, {line.split(":", 1)[0][5:]: line for line in lines}


def test_doctor_names_each_missing_prerequisite(account: object, capsys: pytest.CaptureFixture[str]) -> None:
    code, findings = _doctor(capsys)
    assert code == 1
    assert findings["payment provider key"].startswith("FIX")
    assert (
        "aws ssm put-parameter --type SecureString --name /billing/dev/payment-provider-key"
        in (findings["payment provider key"])
    )
    assert findings["Powertools layer"].startswith("FIX") and POWERTOOLS in findings["Powertools layer"]
    assert findings["stack"].startswith("ok") and "first deploy" in findings["stack"]


def test_doctor_refuses_a_key_the_payment_role_cannot_decrypt(
    account: object, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name="/billing/dev/payment-provider-key", Value="k", Type="SecureString", KeyId=key)
    _, findings = _doctor(capsys)
    finding = findings["payment provider key"]
    assert finding.startswith("FIX") and "alias/aws/ssm" in finding


def test_doctor_passes_once_the_prerequisites_exist(
    account: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # moto reserves /aws/service/ names: point the stage at its own copy of the layer's ARN, as
    # template.yaml allows for a region whose Powertools parameter is missing.
    (tmp_path / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    samconfig = (ROOT / "samconfig.toml").read_text()
    own = '"Stage=dev",\n  "PowertoolsLayerArn=/billing/dev/powertools-layer",'
    (tmp_path / "samconfig.toml").write_text(samconfig.replace('"Stage=dev",', own))
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/billing/dev/payment-provider-key", Value="k", Type="SecureString")
    ssm.put_parameter(Name="/billing/dev/powertools-layer", Value=LAYER, Type="String")
    code = main([*STACK[:-1], str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, lines
    assert [line.split(":", 1)[0] for line in lines] == [
        "ok   python3.13 on PATH",
        "ok   Powertools layer",
        "ok   payment provider key",
        "ok   stack",
        "ok   alarm e-mail",
        "ok   upstream publisher",
    ]
