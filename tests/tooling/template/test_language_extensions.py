"""billing_local.cfn.language_extensions.expand: Fn::ForEach & co. expanded as CloudFormation does."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from billing_local.cfn import TEMPLATE
from billing_local.cfn.language_extensions import LanguageExtensionsError, expand, uses_language_extensions


def tpl(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {
        "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
        "Resources": resources,
        **sections,
    }


def test_loop_replaces_identifier_in_keys_refs_and_subs() -> None:
    template = tpl(
        {
            "Fn::ForEach::Queues": [
                "Name",
                ["Agreement", "Payment"],
                {
                    "${Name}Queue": {
                        "Type": "AWS::SQS::Queue",
                        "Properties": {
                            "QueueName": {"Fn::Sub": "${AWS::StackName}-${Name}"},
                            "Tags": [{"Key": "name", "Value": {"Ref": "Name"}}],
                            "Literal": "${Name} stays outside Fn::Sub",
                        },
                    }
                },
            ]
        }
    )
    out = expand(template)
    assert list(out["Resources"]) == ["AgreementQueue", "PaymentQueue"]
    queue = out["Resources"]["PaymentQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": "${AWS::StackName}-Payment"}
    assert queue["Tags"] == [{"Key": "name", "Value": "Payment"}]
    assert queue["Literal"] == "${Name} stays outside Fn::Sub"


def test_ampersand_key_strips_non_alphanumerics_and_sub_without_variables_collapses() -> None:
    out = expand(
        tpl(
            {
                "Fn::ForEach::T": [
                    "Item",
                    ["a-b.c"],
                    {"X&{Item}": {"Type": "T", "P": {"Fn::Sub": "v-${Item}"}}},
                ]
            }
        )
    )
    assert out["Resources"] == {"Xabc": {"Type": "T", "P": "v-a-b.c"}}


def test_ref_and_getatt_with_intrinsic_logical_ids() -> None:
    out = expand(
        tpl(
            {
                "Fn::ForEach::A": [
                    "N",
                    ["One"],
                    {
                        "${N}Alarm": {
                            "Type": "AWS::CloudWatch::Alarm",
                            "Properties": {
                                "Q": {"Fn::GetAtt": [{"Fn::Sub": "${N}Queue"}, "QueueName"]},
                                "F": {"Ref": {"Fn::Sub": "${N}Function"}},
                                "L": {
                                    "Fn::Sub": [
                                        "/aws/lambda/${X}",
                                        {"X": {"Ref": {"Fn::Sub": "${N}Function"}}},
                                    ]
                                },
                            },
                        }
                    },
                ]
            }
        )
    )
    p = out["Resources"]["OneAlarm"]["Properties"]
    assert p["Q"] == {"Fn::GetAtt": ["OneQueue", "QueueName"]}
    assert p["F"] == {"Ref": "OneFunction"}
    assert p["L"] == {"Fn::Sub": ["/aws/lambda/${X}", {"X": {"Ref": "OneFunction"}}]}


def test_nested_loops_and_escaped_sub_variables() -> None:
    out = expand(
        tpl(
            {
                "Fn::ForEach::Outer": [
                    "A",
                    ["x", "y"],
                    {
                        "Fn::ForEach::Inner": [
                            "B",
                            ["1", "2"],
                            {"R${A}${B}": {"Type": "T", "V": {"Fn::Sub": "${A}-${B}-${!A}"}}},
                        ]
                    },
                ]
            }
        )
    )
    assert list(out["Resources"]) == ["Rx1", "Rx2", "Ry1", "Ry2"]
    assert out["Resources"]["Ry2"]["V"] == {"Fn::Sub": "y-2-${!A}"}


def test_collection_from_parameters_and_loops_in_outputs_and_properties() -> None:
    template = tpl(
        {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"Tags": {"Fn::ForEach::Tags": ["K", ["a", "b"], {"${K}": {"Ref": "K"}}]}},
            }
        },
        Parameters={
            "Names": {"Type": "CommaDelimitedList", "Default": "q1, q2"},
            "Extra": {"Type": "String"},
        },
        Outputs={"Fn::ForEach::O": ["N", {"Ref": "Names"}, {"${N}Out": {"Value": {"Ref": "N"}}}]},
    )
    out = expand(template)
    assert out["Resources"]["Topic"]["Properties"]["Tags"] == {"a": "a", "b": "b"}
    assert out["Outputs"] == {"q1Out": {"Value": "q1"}, "q2Out": {"Value": "q2"}}
    assert expand(template, {"Names": "z"})["Outputs"] == {"zOut": {"Value": "z"}}


def test_find_in_map_with_identifier_parameter_and_default_value() -> None:
    template = tpl(
        {
            "Fn::ForEach::Q": [
                "N",
                ["A", "B"],
                {
                    "${N}": {
                        "Type": "T",
                        "Vis": {"Fn::FindInMap": ["Settings", {"Ref": "N"}, "Vis"]},
                        "Age": {"Fn::FindInMap": ["Ages", {"Ref": "Stage"}, {"Ref": "N"}]},
                        "Def": {"Fn::FindInMap": ["Settings", {"Ref": "N"}, "Missing", {"DefaultValue": 7}]},
                        "Region": {"Fn::FindInMap": ["Settings", {"Ref": "AWS::Region"}, "Vis"]},
                    }
                },
            ]
        },
        Parameters={"Stage": {"Type": "String", "Default": "dev"}},
        Mappings={
            "Settings": {"A": {"Vis": 180}, "B": {"Vis": 360}},
            "Ages": {"dev": {"A": 1, "B": 2}, "prod": {"A": 10, "B": 20}},
        },
    )
    dev = expand(template)["Resources"]
    assert (dev["A"]["Vis"], dev["B"]["Vis"], dev["A"]["Age"], dev["B"]["Def"]) == (180, 360, 1, 7)
    assert dev["A"]["Region"] == {
        "Fn::FindInMap": ["Settings", {"Ref": "AWS::Region"}, "Vis"]
    }  # unknown offline
    assert expand(template, {"Stage": "prod"})["Resources"]["B"]["Age"] == 20


def test_length_and_to_json_string() -> None:
    template = tpl(
        {
            "R": {
                "Type": "T",
                "N": {"Fn::Length": ["a", "b", "c"]},
                "P": {"Fn::Length": {"Ref": "L"}},
                "J": {"Fn::ToJsonString": {"b": [1, True], "a": "${literal}"}},
                "S": {"Fn::ToJsonString": {"q": {"Ref": "Queue"}, "arn": {"Fn::GetAtt": ["Queue", "Arn"]}}},
            }
        },
        Parameters={"L": {"Type": "CommaDelimitedList", "Default": "x,y"}},
    )
    r = expand(template)["Resources"]["R"]
    assert (r["N"], r["P"]) == (3, 2)
    assert r["J"] == '{"b":[1,true],"a":"${literal}"}'
    escaped = expand(tpl({"R": {"Type": "T", "J": {"Fn::ToJsonString": {"a": "${x}", "q": {"Ref": "Q"}}}}}))
    assert escaped["Resources"]["R"]["J"] == {
        "Fn::Sub": ['{"a":"${!x}","q":"${ToJsonVar0}"}', {"ToJsonVar0": {"Ref": "Q"}}]
    }
    assert r["S"] == {
        "Fn::Sub": [
            '{"q":"${ToJsonVar0}","arn":"${ToJsonVar1}"}',
            {"ToJsonVar0": {"Ref": "Queue"}, "ToJsonVar1": {"Fn::GetAtt": ["Queue", "Arn"]}},
        ]
    }


def test_deletion_policy_from_parameter() -> None:
    template = tpl(
        {
            "T": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": {"Ref": "Keep"},
                "UpdateReplacePolicy": "Retain",
            }
        },
        Parameters={"Keep": {"Type": "String", "Default": "Delete"}},
    )
    assert expand(template, {"Keep": "Retain"})["Resources"]["T"]["DeletionPolicy"] == "Retain"


def test_transform_is_dropped_and_input_untouched() -> None:
    template = tpl({"Fn::ForEach::X": ["I", ["a"], {"${I}": {"Type": "T"}}]})
    before = copy.deepcopy(template)
    out = expand(template)
    assert template == before
    assert out["Transform"] == "AWS::Serverless-2016-10-31"
    assert uses_language_extensions(template) and not uses_language_extensions(out)
    assert "Transform" not in expand({"Transform": "AWS::LanguageExtensions", "Resources": {}})


@pytest.mark.parametrize(
    "resources",
    [
        {"Fn::ForEach::Dup": ["I", ["a", "a"], {"${I}": {"Type": "T"}}]},  # same key twice
        {
            "a": {"Type": "T"},
            "Fn::ForEach::Clash": ["I", ["a"], {"${I}": {"Type": "T"}}],
        },  # clashes with a resource
        {"Fn::ForEach::Bad": ["I", ["a"]]},  # not [identifier, collection, fragment]
        {
            "Fn::ForEach::NotList": ["I", {"Ref": "Unknown"}, {"${I}": {"Type": "T"}}]
        },  # unresolvable collection
        {"Fn::ForEach::NotStrings": ["I", [1, 2], {"R${I}": {"Type": "T"}}]},
        {"R": {"Type": "T", "V": {"Fn::FindInMap": ["Nope", "a", "b"]}}},  # no such mapping entry
    ],
)
def test_invalid_uses_are_rejected(resources: dict[str, Any]) -> None:
    with pytest.raises(LanguageExtensionsError):
        expand(tpl(resources))


def test_the_real_template_expands_completely(raw_template: dict[str, Any]) -> None:
    out = expand(raw_template)
    text = json.dumps(out)
    assert "Fn::ForEach" not in text
    assert "AWS::LanguageExtensions" not in text
    resources = out["Resources"]
    dlqs = ["Agreement", "InvoiceJob", "Payment", "Accounting", "Outbox", "Schedule", "Notification"]
    assert {f"{name}DLQ" for name in dlqs} | {f"{name}DLQAlarm" for name in dlqs} <= set(resources)
    assert resources["AgreementQueue"]["Properties"]["VisibilityTimeout"] == 210
    assert resources["AgreementQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["AgreementDLQ", "Arn"]
    }


def test_agrees_with_cfn_lints_own_implementation(raw_template: dict[str, Any]) -> None:
    """cfn-lint expands Fn::ForEach independently: both expansions must give the same template.
    cfn-lint resolves a parameter-keyed Fn::FindInMap to the mapping's last key, hence that stage."""
    from cfnlint.decode import decode
    from cfnlint.template import Template
    from cfnlint.template.transforms._language_extensions import language_extension

    path = Path(TEMPLATE)
    decoded, problems = decode(str(path))
    assert not problems
    matches, theirs = language_extension(Template(str(path), decoded, ["us-east-1"]))
    assert not matches
    stage = list(raw_template["Mappings"]["AlarmThresholds"])[-1]
    assert list(raw_template["Mappings"]["QueueAgeAlarmSeconds"])[-1] == stage
    mine = expand(raw_template, {"Stage": stage})
    theirs = json.loads(json.dumps(theirs))
    # cfn-lint leaves a Ref in DeletionPolicy/UpdateReplacePolicy for CloudFormation; the real transform
    # (and ours) resolves it to the parameter's value.
    for resource in theirs["Resources"].values():
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
            if isinstance(ref := resource.get(attribute), dict):
                resource[attribute] = raw_template["Parameters"][ref["Ref"]]["Default"]
    for section in ("Resources", "Outputs"):
        assert json.loads(json.dumps(mine[section])) == theirs[section], section
