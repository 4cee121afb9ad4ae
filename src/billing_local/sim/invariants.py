"""The chaos contract of `billing simulate`: what was issued matches `billing preview`, every invoice
is charged at most once and ends with one outcome, and nothing is left in any queue."""

from collections import Counter
from typing import Any


def net_per_period(documents: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    net: Counter[tuple[str, str, str]] = Counter()
    for document in documents:
        for line in document["lines"]:
            net[(document["agreement_id"], line["period_start"], line["period_end"])] += line["amount_minor"]
    return {key: value for key, value in net.items() if value != 0}


def check_invariants(result: dict[str, Any], expected: dict[str, Any], *, exact: bool) -> dict[str, Any]:
    """The chaos contract: what was issued matches preview, every invoice is charged at most once and
    ends with one outcome, and nothing is left in any queue."""
    checks = issued_matches_preview(result, expected, exact=exact)
    checks |= charged_at_most_once(result)
    checks |= nothing_left(result, expected)
    checks["all_hold"] = all(v for k, v in checks.items() if isinstance(v, bool))
    return checks


def issued_matches_preview(
    result: dict[str, Any], expected: dict[str, Any], *, exact: bool
) -> dict[str, Any]:
    """Net amounts per agreement and period as preview has them (and, without chaos, the documents)."""
    got, want = net_per_period(result["documents"]), net_per_period(expected["documents"])
    mismatched = sorted(set(got) ^ set(want) | {k for k in got.keys() & want.keys() if got[k] != want[k]})
    checks: dict[str, Any] = {
        "net_per_period_matches_preview": not mismatched,
        "periods_checked": len(want),
    }
    if mismatched:
        checks["mismatched_periods"] = [list(k) for k in mismatched[:20]]
    if exact:
        checks["documents_identical_to_preview"] = result["documents"] == expected["documents"]
    return checks


def charged_at_most_once(result: dict[str, Any]) -> dict[str, Any]:
    """Every chargeable invoice charged at most once, its status agreeing with the gateway's ledger."""
    chargeable = {
        d["document_id"] for d in result["documents"] if d["kind"] == "invoice" and d["total_minor"] > 0
    }
    payments = {p["document_id"]: p for p in result["payments"]}
    problems = [
        problem
        for document_id in sorted(chargeable)
        if (problem := payment_problem(document_id, payments.get(document_id))) is not None
    ]
    checks: dict[str, Any] = {
        "every_invoice_charged_at_most_once_with_one_outcome": not problems,
        "invoices_checked": len(chargeable),
    }
    if problems:
        checks["payment_problems"] = problems[:20]
    return checks


def payment_problem(document_id: str, payment: dict[str, Any] | None) -> str | None:
    """What is wrong with one chargeable invoice's payment, if anything."""
    if payment is None:
        return f"{document_id}: never charged"
    if payment["charges"] > 1:
        return f"{document_id}: charged {payment['charges']} times"
    if payment["status"] == "succeeded" and payment["charges"] != 1:
        return f"{document_id}: succeeded without a charge in the gateway ledger"
    if payment["status"] != "succeeded" and payment["charges"] != 0:
        return f"{document_id}: {payment['status']} but the gateway took the money"
    if payment["status"] in ("succeeded", "failed") and payment["outcome_events"] != 1:
        return f"{document_id}: {payment['outcome_events']} final outcome events"
    return None


def nothing_left(result: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Only the input preview rejects is parked, and every other queue and DLQ is empty."""
    left = {name: q["visible"] + q["in_flight"] + q.get("delayed", 0) for name, q in result["queues"].items()}
    parked = {(r["event_id"], r["code"]) for r in result["parked"]}
    rejected = {(r["event_id"], r["reason"].split(":")[0]) for r in expected.get("rejected", [])}
    left["AgreementDLQ"] = left.get("AgreementDLQ", 0) - len(result["parked"])
    return {
        "only_bad_input_parked": parked == rejected,
        "every_queue_and_dlq_empty": not any(left.values()),
    }
