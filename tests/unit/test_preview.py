"""`billing preview`: scenario parsing, delivery semantics, the fixtures' expected output."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_local.preview import (
    ScenarioError,
    benchmark,
    generate_scenario,
    load_scenario,
    parse_scenario,
    preview,
    run_instants,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
SCENARIOS = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def run(data: dict) -> dict:
    return preview(parse_scenario(data))


def net(result: dict) -> dict[tuple[str, str, str], int]:
    out: dict[tuple[str, str, str], int] = {}
    for doc in result["documents"]:
        for line in doc["lines"]:
            key = (doc["agreement_id"], line["period_start"], line["period_end"])
            out[key] = out.get(key, 0) + line["amount_minor"]
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_fixture_scenarios_preview_to_their_expected_output(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert preview(load_scenario(path)) == data["expected"]


def test_fixtures_include_the_contract_worked_example():
    docs = load("worked_example")["expected"]["documents"]
    assert [(d["kind"], d["issue_date"], d["total_minor"]) for d in docs] == [
        ("invoice", "2026-03-01", 1000),
        ("credit_note", "2026-03-12", -677),
    ]


def test_output_has_exactly_the_contract_shape():
    result = run(load("worked_example"))
    assert list(result) == ["documents"]  # no "rejected" key when nothing was rejected
    assert list(result["documents"][0]) == [
        "document_id",
        "kind",
        "agreement_id",
        "issue_date",
        "currency",
        "number",
        "series",
        "sequence",
        "subtotal_minor",
        "tax_minor",
        "total_minor",
        "credit_applied_minor",  # invoices only: the credit balance used, and what is left to charge
        "amount_due_minor",
        "lines",
    ]
    assert list(result["documents"][0]["lines"][0]) == [
        "period_start",
        "period_end",
        "tax_rate",
        "net_minor",
        "tax_minor",
        "amount_minor",
    ]
    json.dumps(result)  # plain JSON


def test_documents_are_ordered_by_issue_date_then_agreement():
    docs = run(load("late_and_bad_events"))["documents"]
    keys = [(d["issue_date"], d["agreement_id"]) for d in docs]
    assert keys == sorted(keys)


def test_far_apart_time_zones():
    docs = run(load("far_apart_time_zones"))["documents"]
    assert [(d["agreement_id"], d["issue_date"]) for d in docs] == [
        ("agr-akl", "2026-03-01"),
        ("agr-lax", "2026-03-01"),
    ]
    # Stop the runs after the Mar 1 UTC run: only Auckland has reached Mar 1.
    data = load("far_apart_time_zones")
    data["runs"]["through"] = "2026-03-01"
    assert [d["agreement_id"] for d in run(data)["documents"]] == ["agr-akl"]


class TestDeliveries:
    def test_duplicated_deliveries_change_nothing(self):
        data = load("worked_example")
        doubled = copy.deepcopy(data)
        doubled["deliveries"] = data["deliveries"] * 3
        assert run(doubled) == run(data)

    def test_a_delivery_before_the_first_run_arrives_before_it(self):
        data = load("worked_example")
        data["deliveries"][0]["on"] = "2025-12-01"
        assert run(data) == data["expected"]

    def test_deliveries_after_the_last_run_never_affect_the_output(self):
        data = load("worked_example")
        data["deliveries"][1]["on"] = "2026-05-02"
        result = run(data)
        assert [(d["issue_date"], d["total_minor"]) for d in result["documents"]] == [
            ("2026-03-01", 1000),
            ("2026-04-01", 1000),
            ("2026-05-01", 1000),
        ]
        data["deliveries"].append({"on": "2026-06-01", "event": {"not": "an event"}})
        assert run(data)["rejected"][0]["reason"].startswith("not_cloudevent")

    def test_a_delivery_on_a_skipped_day_arrives_before_the_next_run(self):
        data = load("worked_example")
        data["runs"]["skip"] = ["2026-03-12", "2026-03-13"]
        assert [(d["issue_date"], d["total_minor"]) for d in run(data)["documents"]] == [
            ("2026-03-01", 1000),
            ("2026-03-14", -677),
        ]

    def test_the_first_delivered_of_two_conflicting_events_wins(self):
        data = load("worked_example")
        cancel = data["deliveries"][1]
        other = copy.deepcopy(cancel)
        other["event"]["id"] = "e2-other"
        other["event"]["data"]["effective_date"] = "2026-03-21"
        other["on"] = "2026-03-12"
        # Same day: list order decides.
        data["deliveries"] = [data["deliveries"][0], other, cancel]
        result = run(data)
        assert [d["total_minor"] for d in result["documents"]] == [1000, -355]  # 1000*20/31 = 645.16
        assert [(r["event_id"], r["reason"].split(":")[0]) for r in result["rejected"]] == [
            ("e2", "conflict")
        ]
        # Listed first but delivered later: the earlier delivery wins.
        other["on"] = "2026-03-13"
        data["deliveries"] = [data["deliveries"][0], other, cancel]
        result = run(data)
        assert [d["total_minor"] for d in result["documents"]] == [1000, -677]
        assert [r["event_id"] for r in result["rejected"]] == ["e2-other"]

    def test_bad_events_are_skipped_and_reported(self):
        result = run(load("late_and_bad_events"))
        assert [(r["event_id"], r["reason"].split(":")[0]) for r in result["rejected"]] == [
            ("bad-1", "unknown_currency"),
            (None, "invalid_json"),
            ("k3-conflict", "conflict"),
            ("w3-usd", "plan_change_not_allowed"),
        ]
        assert all(d["agreement_id"] != "agr-bad" for d in result["documents"])

    def test_an_amendment_judged_only_once_the_creation_arrives_is_reported(self):
        data = load("worked_example")
        amendment = copy.deepcopy(data["deliveries"][1])
        amendment["event"].update(id="e-usd", type="agreement.amended")
        data["deliveries"][1]["event"]["data"]["version"] = 3
        amendment["event"]["data"].update(
            version=2,
            effective_date="2026-03-05",
            plan={"amount_minor": 5, "currency": "USD", "interval": "month", "interval_count": 1},
        )
        amendment["on"] = "2026-02-01"  # before the creation is known: stored, then ignored
        data["deliveries"].insert(0, amendment)
        result = run(data)
        assert result["documents"] == data["expected"]["documents"]
        assert [(r["event_id"], r["on"], r["reason"].split(":")[0]) for r in result["rejected"]] == [
            ("e-usd", "2026-02-01", "plan_change_not_allowed")
        ]

    def test_an_event_may_be_given_as_its_json_text(self):
        data = load("worked_example")
        for delivery in data["deliveries"]:
            delivery["event"] = json.dumps(delivery["event"])
        assert run(data) == data["expected"]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_delivery_days_and_order_never_change_the_final_net(self, data):
        scenario = load("late_and_bad_events")
        expected = net(scenario["expected"])
        deliveries = scenario["deliveries"]
        days = [
            f"2026-{m:02d}-{d:02d}" for m, d in [(2, 20), (3, 1), (3, 4), (3, 9), (3, 15), (3, 21), (3, 28)]
        ]
        # Every valid event of agr-k and agr-w (not the bad ones), on any day up to Mar 28, in any order.
        keep = [
            copy.deepcopy(d)
            for d in deliveries
            if isinstance(d["event"], dict) and d["event"]["id"] in {"w1", "w2", "w4", "k1", "k2", "k3"}
        ]
        for d in keep:
            d["on"] = data.draw(st.sampled_from(days))
        keep = data.draw(st.permutations(keep))
        keep = keep + data.draw(st.lists(st.sampled_from(keep), max_size=3))
        scenario["deliveries"] = keep
        assert net(run(scenario)) == expected


class TestScenarioParsing:
    def test_run_instants(self):
        s = parse_scenario(
            {"runs": {"from": "2026-03-01", "through": "2026-03-04", "skip": ["2026-03-02"], "at": "06:30"}}
        )
        assert run_instants(s) == [
            datetime(2026, 3, 1, 6, 30, tzinfo=UTC),
            datetime(2026, 3, 3, 6, 30, tzinfo=UTC),
            datetime(2026, 3, 4, 6, 30, tzinfo=UTC),
        ]
        s = parse_scenario({"runs": {"from": "2026-03-01", "through": "2026-03-01"}})
        assert run_instants(s) == [datetime(2026, 3, 1, 0, 5, tzinfo=UTC)]  # default 00:05 UTC
        assert s.deliveries == ()

    def test_deliveries_keep_their_raw_event(self):
        s = parse_scenario(load("worked_example"))
        assert s.deliveries[0].on == date(2026, 3, 1)
        assert s.deliveries[1].event["id"] == "e2"
        assert s.runs.from_date == date(2026, 3, 1)

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ([], "a scenario is a JSON object"),
            ({}, "missing runs"),
            ({"runs": []}, "runs: expected an object"),
            ({"runs": {"through": "2026-03-01"}}, "missing runs.from"),
            ({"runs": {"from": "2026-03-01"}}, "missing runs.through"),
            (
                {"runs": {"from": "2026-02-30", "through": "2026-03-01"}},
                "runs.from: '2026-02-30' is not a date",
            ),
            ({"runs": {"from": 20260301, "through": "2026-03-01"}}, "runs.from: expected a date"),
            (
                {"runs": {"from": "2026-03-02", "through": "2026-03-01"}},
                "runs.through (2026-03-01) is before",
            ),
            ({"runs": {"from": "1999-03-02", "through": "2026-03-01"}}, "runs.from: 1999-03-02 is outside"),
            ({"runs": {"from": "2026-03-01", "through": "2026-03-01", "at": "25:00"}}, "runs.at: '25:00'"),
            ({"runs": {"from": "2026-03-01", "through": "2026-03-01", "at": "5"}}, "runs.at: '5'"),
            ({"runs": {"from": "2026-03-01", "through": "2026-03-01", "skip": "2026-03-01"}}, "runs.skip"),
            ({"runs": {"from": "2026-03-01", "through": "2026-03-01", "skip": ["x"]}}, "runs.skip[0]"),
            ({"runs": {"from": "2026-03-01", "through": "2026-03-01", "form": "x"}}, "unknown key 'form'"),
            (
                {"runs": {"from": "2026-03-01", "through": "2026-03-01"}, "deliveries": {}},
                "deliveries: expected a list",
            ),
            (
                {
                    "runs": {"from": "2026-03-01", "through": "2026-03-01"},
                    "deliveries": [{"on": "2026-03-01"}],
                },
                "deliveries[0]: delivery without event",
            ),
            (
                {"runs": {"from": "2026-03-01", "through": "2026-03-01"}, "deliveries": [{"event": {}}]},
                "deliveries[0]: delivery without on",
            ),
            (
                {
                    "runs": {"from": "2026-03-01", "through": "2026-03-01"},
                    "deliveries": [{"on": "March 1", "event": {}}],
                },
                "deliveries[0].on",
            ),
            (
                {"runs": {"from": "2026-03-01", "through": "2026-03-01"}, "deliveries": ["x"]},
                "deliveries[0]: expected an object",
            ),
        ],
    )
    def test_bad_scenarios(self, data, message):
        with pytest.raises(ScenarioError) as info:
            parse_scenario(data)
        assert message in str(info.value)
        assert "\n" not in str(info.value)

    def test_load_scenario_errors_name_the_file(self, tmp_path):
        with pytest.raises(ScenarioError, match="no such file"):
            load_scenario(tmp_path / "missing.json")
        bad = tmp_path / "bad.json"
        bad.write_text("{", encoding="utf-8")
        with pytest.raises(ScenarioError, match=r"bad\.json: not JSON"):
            load_scenario(bad)
        shape = tmp_path / "shape.json"
        shape.write_text('{"runs": {"from": "2026-03-01"}}', encoding="utf-8")
        with pytest.raises(ScenarioError, match=r"shape\.json: missing runs\.through"):
            load_scenario(shape)

    def test_extra_top_level_keys_are_ignored(self):
        data = {"description": "x", "expected": {}, "runs": {"from": "2026-03-01", "through": "2026-03-01"}}
        assert preview(parse_scenario(data)) == {"documents": []}


def test_generated_workload_and_benchmark_run():
    data = generate_scenario(30, 40, seed=7)
    assert data == generate_scenario(30, 40, seed=7)
    first = run(data)
    assert first == run(data)  # preview is repeatable (the engine's memo leaks nothing)
    assert first["documents"]
    figures = benchmark(20, 30)
    assert {"agreements", "days", "documents", "seconds"} <= set(figures)


def test_preview_rejects_what_the_pipeline_parks_by_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error only the content can cause (here a UnicodeEncodeError past the parser) is rejected
    with the code the projector parks it under (`input_fault`), not raised."""
    import billing_local.preview as module

    real = module.parse_event

    def slipping(raw: object) -> object:
        if isinstance(raw, dict) and raw.get("id") == "poison":
            "\ud800".encode()
        return real(raw)

    monkeypatch.setattr(module, "parse_event", slipping)
    data = load("worked_example")
    expected = run(data)["documents"]
    poison = dict(data["deliveries"][0]["event"], id="poison")
    data["deliveries"].append({"on": "2026-03-01", "event": poison})
    result = run(data)
    assert [(r["event_id"], r["reason"].split(" (")[0]) for r in result["rejected"]] == [
        ("poison", "invalid_json: not Unicode text")
    ]
    assert result["documents"] == expected


def _created(event_id: str, agreement_id: str) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:example:purchases",
        "type": "agreement.created",
        "data": {
            "agreement_id": agreement_id,
            "customer_id": "cus-1",
            "version": 1,
            "start_date": "2026-03-01",
            "plan": {"amount_minor": 1000, "currency": "EUR", "interval": "month", "interval_count": 1},
            "payment_method": "pm_ok",
        },
    }


def test_an_event_id_reused_by_another_agreement_is_rejected_as_a_conflict():
    """Issue 15 item 3: the id check is global, as in the pipeline; the first one accepted wins."""
    result = run(
        {
            "runs": {"from": "2026-03-01", "through": "2026-03-01"},
            "deliveries": [
                {"on": "2026-03-01", "event": _created("agr-000-v1", "agr-000")},
                {"on": "2026-03-01", "event": _created("agr-000-v1", "agr-001")},
            ],
        }
    )
    assert [d["agreement_id"] for d in result["documents"]] == ["agr-000"]
    assert result["rejected"] == [
        {
            "event_id": "agr-000-v1",
            "on": "2026-03-01",
            "reason": "conflict: id: this event id was already received with different content",
        }
    ]
