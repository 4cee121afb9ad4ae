"""The runtime's pure parts: schedule expressions, event filters, intrinsics, the clock."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing_local.cfn.intrinsics import NO_VALUE, Resolver, TemplateError, effective_parameters
from billing_local.emulator.clock import VirtualClock, iso_z
from billing_local.emulator.filters import matches, matches_any, parse_filters, sqs_filter_view
from billing_local.emulator.schedule_expressions import Schedule, ScheduleExpressionError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fires(expression: str, days: float, tz: str = "UTC", start: datetime = T0) -> list[str]:
    schedule = Schedule(expression, tz, anchor=start)
    return [iso_z(t) for t in schedule.occurrences(start, start + timedelta(days=days))]


def test_cron_fields() -> None:
    assert _fires("cron(5 0 * * ? *)", 2) == ["2026-01-01T00:05:00Z", "2026-01-02T00:05:00Z"]
    assert _fires("cron(0/20 9-10 * * ? *)", 1) == [
        f"2026-01-01T{h:02d}:{m:02d}:00Z" for h in (9, 10) for m in (0, 20, 40)
    ]
    assert _fires("cron(0 12 ? * MON,WED *)", 7) == ["2026-01-05T12:00:00Z", "2026-01-07T12:00:00Z"]
    assert _fires("cron(0 12 ? * 2 *)", 7) == ["2026-01-05T12:00:00Z"]  # 2 = Monday
    assert _fires("cron(0 0 L * ? *)", 65) == [
        "2026-01-31T00:00:00Z",
        "2026-02-28T00:00:00Z",
    ]
    assert _fires("cron(0 0 1 JAN,MAR ? 2026-2027)", 400) == [
        "2026-03-01T00:00:00Z",  # 2026-01-01T00:00 is the window's (excluded) start
        "2027-01-01T00:00:00Z",
    ]
    # A fire time equal to `after` is not included (the caller's half-open window).
    assert "2026-01-01T00:00:00Z" not in _fires("cron(0 0 * * ? *)", 1)
    with pytest.raises(ScheduleExpressionError):
        Schedule("cron(61 0 * * ? *)", "UTC", anchor=T0)
    with pytest.raises(ScheduleExpressionError):
        Schedule("cron(0 0 * *)", "UTC", anchor=T0)


def test_cron_in_a_time_zone_across_dst() -> None:
    # America/New_York springs forward on 2026-03-08: 02:30 local does not exist that day.
    start = datetime(2026, 3, 7, tzinfo=UTC)
    assert _fires("cron(30 2 * * ? *)", 3, "America/New_York", start) == [
        "2026-03-07T07:30:00Z",
        "2026-03-09T06:30:00Z",
    ]


def test_rate_and_at() -> None:
    assert _fires("rate(6 hours)", 1) == [
        "2026-01-01T06:00:00Z",
        "2026-01-01T12:00:00Z",
        "2026-01-01T18:00:00Z",
        "2026-01-02T00:00:00Z",
    ]
    assert _fires("rate(1 day)", 2.5) == ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]
    assert _fires("at(2026-01-01T10:00:00)", 1, "Europe/Berlin") == ["2026-01-01T09:00:00Z"]
    assert _fires("at(2026-02-01T10:00:00)", 1) == []
    with pytest.raises(ScheduleExpressionError):
        Schedule("rate(0 minutes)", "UTC", anchor=T0)


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": ["x"]}, {"a": "x"}, True),
        ({"a": ["x"]}, {"a": "y"}, False),
        ({"a": ["x"]}, {}, False),
        ({"a": [1]}, {"a": 1.0}, True),
        ({"a": ["x"]}, {"a": ["y", "x"]}, True),
        ({"a": {"b": ["x"]}}, {"a": {"b": "x"}}, True),
        ({"a": {"b": ["x"]}}, {"a": "x"}, False),
        ({"a": [{"prefix": "OUT#"}]}, {"a": "OUT#1"}, True),
        ({"a": [{"prefix": "OUT#"}]}, {"a": "IN#1"}, False),
        ({"a": [{"suffix": ".json"}]}, {"a": "x.json"}, True),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
        ({"a": [{"anything-but": "x"}]}, {"a": "x"}, False),
        ({"a": [{"anything-but": {"prefix": "t"}}]}, {"a": "test"}, False),
        ({"a": [{"exists": True}]}, {"a": None}, True),
        ({"a": [{"exists": False}]}, {"b": 1}, True),
        ({"a": [{"exists": False}]}, {"a": 1}, False),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 5}, True),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 0}, False),
        ({"a": [{"numeric": ["=", 3]}]}, {"a": "3"}, False),
        ({"a": [{"equals-ignore-case": "ABC"}]}, {"a": "abc"}, True),
        ({"a": [None]}, {"a": None}, True),
        ({"a": [True]}, {"a": 1}, False),
    ],
)
def test_filter_patterns(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_filter_criteria_on_sqs_bodies() -> None:
    patterns = parse_filters({"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'}]})
    assert matches_any(patterns, sqs_filter_view({"body": '{"kind": "order"}'}))
    assert not matches_any(patterns, sqs_filter_view({"body": "kind order"}))
    text = parse_filters({"Filters": [{"Pattern": '{"body": [{"prefix": "kind"}]}'}]})
    assert matches_any(text, sqs_filter_view({"body": "kind order"}))
    assert matches_any([], {"anything": 1})  # no filters: everything passes


def test_a_body_too_deep_to_decode_is_matched_as_plain_text() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    assert sqs_filter_view({"body": deep})["body"] == deep
    text = parse_filters({"Filters": [{"Pattern": '{"body": [{"prefix": "[["}]}'}]})
    assert matches_any(text, sqs_filter_view({"body": deep}))


def _resolver(template: dict[str, Any], overrides: dict[str, str] | None = None) -> Resolver:
    params = effective_parameters(template.get("Parameters", {}), overrides or {})
    return Resolver(
        template,
        params,
        region="eu-west-1",
        stack_name="s",
        ref=lambda lid: f"ref:{lid}",
        get_att=lambda lid, attr: f"att:{lid}.{attr}",
    )


def test_intrinsics() -> None:
    template = {
        "Parameters": {
            "Names": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "Count": {"Type": "Number", "Default": 3},
            "Env": {"Type": "String", "Default": "dev"},
        },
        "Mappings": {"M": {"dev": {"Size": "small"}}},
        "Conditions": {
            "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
            "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Not": [{"Fn::Equals": ["1", "2"]}]}]},
            "Either": {"Fn::Or": [{"Fn::Equals": ["1", "2"]}, {"Condition": "Both"}]},
        },
        "Resources": {},
    }
    r = _resolver(template)
    assert r.resolve({"Ref": "Names"}) == ["a", "b"]
    assert r.resolve({"Ref": "Count"}) == "3"
    assert r.resolve({"Fn::Join": ["-", {"Ref": "Names"}]}) == "a-b"
    assert r.resolve({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert r.resolve(
        {"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${Env}/${Thing}/${Thing.Arn}/${!Literal}"}
    ) == ("eu-west-1/123456789012/dev/ref:Thing/att:Thing.Arn/${Literal}")
    assert r.resolve({"Fn::Sub": ["${X}-${AWS::StackName}", {"X": {"Ref": "Env"}}]}) == "dev-s"
    assert r.resolve({"Fn::GetAtt": "Q.QueueName"}) == "att:Q.QueueName"
    assert r.resolve({"Fn::FindInMap": ["M", {"Ref": "Env"}, "Size"]}) == "small"
    assert r.resolve({"Fn::FindInMap": ["M", "prod", "Size", {"DefaultValue": "tiny"}]}) == "tiny"
    assert r.condition("Both") and r.condition("Either")
    assert r.resolve({"Fn::If": ["IsDev", "yes", "no"]}) == "yes"
    assert r.resolve({"k": {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, 1]}, "j": 2}) == {"j": 2}
    assert r.resolve([1, {"Ref": "AWS::NoValue"}]) == [1]
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert r.resolve({"Fn::Base64": "hi"}) == "aGk="
    assert r.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    with pytest.raises(TemplateError):
        r.resolve({"Fn::ImportValue": "x"})
    with pytest.raises(TemplateError, match="no default"):
        effective_parameters({"P": {"Type": "String"}}, {})


def test_virtual_clock() -> None:
    clock = VirtualClock(T0)
    before = time.time()
    assert clock.now() == T0
    clock.advance(timedelta(days=1))
    clock.advance(hours=1)
    clock.advance(30)
    assert clock.now() == T0 + timedelta(days=1, hours=1, seconds=30)
    assert clock.virtual_at(before - 1000) == T0  # before the clock existed
    assert clock.virtual_at(time.time()) == clock.now()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.advance_to(datetime(2030, 1, 1))  # naive: the point of the test
