"""Each deploy-readiness rule holds on the real template and fails on a copy with the mistake it guards."""

from collections.abc import Callable
from typing import Any

import pytest
from cfnlint.helpers import create_rules

from billing_local.cfn import render
from billing_local.cfn.rules import deploy
from billing_local.cfn.rules import model as rules
from billing_local.cfn.rules.lint import problems

Template = dict[str, Any]
DEPLOY_RULES = {rule.check.__name__: rule for rule in create_rules(deploy)}


def _statement(template: Template, logical_id: str, field: str, sid: str) -> dict[str, Any]:
    return next(
        s
        for s in rules.statements(template["Resources"][logical_id]["Properties"][field])
        if s.get("Sid") == sid
    )


def principal_from_parameter(t: Template) -> None:
    _statement(t, "AgreementTopicPolicy", "PolicyDocument", "UpstreamPublishes")["Principal"] = {
        "AWS": {"Ref": "UpstreamPublisherArn"}
    }


def unconditional_email(t: Template) -> None:
    del t["Resources"]["AlarmEmailSubscription"]["Condition"]


def no_publisher_key_grant(t: Template) -> None:
    statements = t["Resources"]["BillingKey"]["Properties"]["KeyPolicy"]["Statement"]
    statements[:] = [s for s in statements if "Fn::If" not in s]


def namespace_per_stage(t: Template) -> None:
    variables = t["Resources"]["PaymentProcessorFunction"]["Properties"]["Environment"]["Variables"]
    variables["POWERTOOLS_METRICS_NAMESPACE"] = {"Fn::Sub": "RecurringBilling/${Stage}"}


def alarm_namespace_per_stage(t: Template) -> None:
    t["Resources"]["DailyRunHeartbeatAlarm"]["Properties"]["Namespace"] = {
        "Fn::Sub": "RecurringBilling/${Stage}"
    }


def table_deleted_with_stack(t: Template) -> None:
    del t["Resources"]["BillingTable"]["DeletionPolicy"]


def key_replaced_without_retain(t: Template) -> None:
    t["Resources"]["BillingKey"]["UpdateReplacePolicy"] = "Delete"


def no_xray_policy(t: Template) -> None:
    del t["Resources"]["SnsTracingPolicy"]


def kms_without_via_service(t: Template) -> None:
    del _statement(t, "FunctionBasePolicy", "PolicyDocument", "UseStackKey")["Condition"]


BREAKAGES: list[tuple[str, Callable[[Template], None]]] = [
    ("principals_that_may_not_exist", principal_from_parameter),
    ("email_subscriptions_without_condition", unconditional_email),
    ("publishers_without_key_grant", no_publisher_key_grant),
    ("metrics_not_per_stack", namespace_per_stage),
    ("metrics_not_per_stack", alarm_namespace_per_stage),
    ("stateful_resources_not_retained", table_deleted_with_stack),
    ("stateful_resources_not_retained", key_replaced_without_retain),
    ("traced_topics_without_xray_policy", no_xray_policy),
    ("kms_grants_without_via_service", kms_without_via_service),
]


def test_every_rule_has_a_breakage() -> None:
    assert {name for name, _ in BREAKAGES} == set(DEPLOY_RULES)


@pytest.mark.parametrize("name", sorted(DEPLOY_RULES))
def test_rule_holds_on_the_template(name: str, rendered: Template, rendered_prod: Template) -> None:
    assert problems(DEPLOY_RULES[name], rendered) == []
    assert problems(DEPLOY_RULES[name], rendered_prod) == []


@pytest.mark.parametrize(("name", "breakage"), BREAKAGES, ids=[b.__name__ for _, b in BREAKAGES])
def test_rule_fails_on_the_mistake(
    name: str, breakage: Callable[[Template], None], rendered: Template
) -> None:
    breakage(rendered)
    assert problems(DEPLOY_RULES[name], rendered)


def test_sandbox_data_goes_with_its_stack() -> None:
    sandbox = render.render(parameters={"DataDeletionPolicy": "Delete"})
    # the sandbox opts out, and the rule says so
    assert problems(DEPLOY_RULES["stateful_resources_not_retained"], sandbox)
    assert {r.get("DeletionPolicy") for r in rules.resources(sandbox, *deploy.STATEFUL_TYPES).values()} == {
        "Delete"
    }
