"""billing_local.cfn's small parts: the reference walker, parameters, the CodeUri rewrite, the render CLI."""

import json
from pathlib import Path
from typing import Any

import pytest

from billing_local.cfn import ROOT, render
from billing_local.cfn.loader import parse
from billing_local.cfn.parameters import (
    TemplateError,
    effective_parameters,
    known_parameters,
    samconfig_overrides,
)
from billing_local.cfn.references import references, target_id
from billing_local.cfn.sam import CODE_BUCKET, TranslatedTemplate, rewrite_code_uris


def test_references_follow_ref_getatt_and_sub_but_not_sub_variables() -> None:
    value = {
        "A": {"Ref": "Queue"},
        "B": [{"Fn::GetAtt": ["Table", "Arn"]}, {"Fn::GetAtt": "Topic.TopicName"}],
        "C": {"Fn::Sub": ["${Local}-${Bucket.Arn}-${!Literal}", {"Local": {"Ref": "Stage"}}]},
    }
    assert references(value) == {"Queue", "Table", "Topic", "Bucket", "Stage"}


def test_target_id() -> None:
    assert target_id({"Ref": "Q"}) == "Q"
    assert target_id({"Fn::GetAtt": ["Q", "Arn"]}) == "Q"
    assert target_id({"Fn::GetAtt": "Q.Arn"}) == "Q"
    assert target_id({"Fn::Sub": "${Q}"}) is None


def test_the_loader_reads_short_form_tags_and_keeps_dates_as_text() -> None:
    document = parse("Version: 2010-09-09\nResources:\n  Q:\n    Arn: !GetAtt T.Arn\n    Name: !Sub '${T}'\n")
    assert document["Version"] == "2010-09-09"
    assert document["Resources"]["Q"] == {"Arn": {"Fn::GetAtt": ["T", "Arn"]}, "Name": {"Fn::Sub": "${T}"}}
    with pytest.raises(ValueError, match="no Resources"):
        parse("a: 1")


def test_parameters_strict_and_lenient() -> None:
    declared: dict[str, Any] = {
        "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Names": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "Key": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/k"},
        "Email": {"Type": "String"},
    }
    assert known_parameters(declared, {}) == {"Stage": "dev", "Names": ["a", "b"]}
    assert effective_parameters(declared, {"Email": "x@y"})["Names"] == ["a", "b"]
    with pytest.raises(TemplateError, match="no default"):
        effective_parameters(declared, {})
    with pytest.raises(TemplateError, match="AllowedValues"):
        effective_parameters(declared, {"Email": "", "Stage": "qa"})


def test_samconfig_overrides_per_environment() -> None:
    assert samconfig_overrides(ROOT / "samconfig.toml", "prod")["Stage"] == "prod"


def test_one_code_uri_rewrite_maps_back_to_the_folder(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "Globals": {"Function": {"CodeUri": "functions/common/"}},
        "Resources": {
            "F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "functions/f/"}},
            "L": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layers/x"}},
            "S": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k.zip"}},
        },
    }
    code_dirs: dict[str, Path] = {}
    rewrite_code_uris(document, tmp_path, code_dirs)
    assert document["Resources"]["F"]["Properties"]["CodeUri"] == f"s3://{CODE_BUCKET}/functions/f"
    assert document["Resources"]["S"]["Properties"]["CodeUri"] == "s3://b/k.zip"
    translated = TranslatedTemplate(tmp_path / "t.yaml", {}, code_dirs)
    assert translated.code_dir({"S3Bucket": CODE_BUCKET, "S3Key": "layers/x"}) == tmp_path / "layers" / "x"
    assert translated.code_dir({"S3Bucket": "b", "S3Key": "k.zip"}) is None


def test_render_cli_writes_the_template_with_samconfig_overrides(tmp_path: Path) -> None:
    out = tmp_path / "rendered.json"
    assert render.main(["--out", str(out), "--config-env", "prod", "--param", "LogLevel=WARNING"]) == 0
    rendered = json.loads(out.read_text(encoding="utf-8"))
    assert "Transform" not in rendered
    assert not [r for r in rendered["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
