"""`billing simulate --chaos`: under duplicates, reordering, delays, transient errors and crashes,
the pipeline issues what `billing preview` issues, charges every invoice at most once with one
outcome, and ends with every queue empty (DLQs hold only the bad input preview rejects)."""

from pathlib import Path

import pytest
from support import ROOT

from billing_local.preview import load_scenario, parse_scenario, preview
from billing_local.sim.simulate import Simulation
from billing_local.sim.workload import generate

SCENARIOS = sorted((ROOT / "tests" / "fixtures" / "scenarios").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_without_chaos_the_pipeline_issues_exactly_what_preview_issues(path: Path) -> None:
    scenario = load_scenario(path)
    result = Simulation(scenario, template=ROOT / "template.yaml").run()
    assert result["documents"] == preview(scenario)["documents"]
    assert result["invariants"]["all_hold"], result["invariants"]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_chaos_keeps_every_invariant(path: Path, seed: int) -> None:
    result = Simulation(load_scenario(path), template=ROOT / "template.yaml", chaos_seed=seed).run()
    assert result["invariants"]["all_hold"], result["invariants"]
    assert sum(result["chaos"]["faults"].values()) > 0
    # Issue 15 item 7: one rejection record per distinct bad event, however often it was delivered.
    records = [(r["event_id"], r["code"]) for r in result["rejections"]]
    assert sorted(records, key=str) == sorted({(p["event_id"], p["code"]) for p in result["parked"]}, key=str)


@pytest.mark.parametrize("seed", [11, 12])
def test_chaos_on_a_generated_workload(seed: int) -> None:
    scenario = parse_scenario(generate(agreements=25, days=20, seed=seed))
    result = Simulation(scenario, template=ROOT / "template.yaml", chaos_seed=seed).run()
    invariants = result["invariants"]
    assert invariants["all_hold"], invariants
    assert invariants["invoices_checked"] > 20
    faults = result["chaos"]["faults"]
    assert {"crash_after_write", "dynamodb_error", "duplicate_delivery"} <= set(faults)
