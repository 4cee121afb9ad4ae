"""The chaos contract of `billing simulate`: what was issued matches `billing preview`, every series
of legal numbers runs 1..n, every invoice is charged at most once and ends with one outcome, every
agreement's money balances (contract §4 "Settlement"), and nothing is left in any queue."""

from collections import Counter, defaultdict
from typing import Any

# Within a series, which document takes which sequence depends on the order the generators commit
# in (concurrent on AWS); preview takes them in issue order. Everything else must be identical.
_ORDER_DEPENDENT = ("number", "sequence")


def net_per_period(documents: list[dict[str, Any]]) -> dict[tuple[str, str, str, str, str], int]:
    """What was issued per (agreement, period, tax rate), net and tax apart."""
    net: Counter[tuple[str, str, str, str, str]] = Counter()
    for document in documents:
        for line in document["lines"]:
            key = (document["agreement_id"], line["period_start"], line["period_end"], line["tax_rate"])
            net[(*key, "net")] += line["net_minor"]
            net[(*key, "tax")] += line["tax_minor"]
    return {key: value for key, value in net.items() if value != 0}


def numbers_gap_free(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Per series, the sequences are exactly 1..n; numbers are unique across the system."""
    by_series: dict[str, list[int]] = defaultdict(list)
    for document in documents:
        by_series[document["series"]].append(document["sequence"])
    broken = sorted(s for s, seqs in by_series.items() if sorted(seqs) != list(range(1, len(seqs) + 1)))
    numbers = [document["number"] for document in documents]
    checks: dict[str, Any] = {
        "every_series_numbered_1_to_n": not broken and len(set(numbers)) == len(numbers),
        "series_checked": len(by_series),
    }
    if broken:
        checks["broken_series"] = broken[:20]
    return checks


def _without_order_dependent(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k not in _ORDER_DEPENDENT} for d in documents]


def check_invariants(result: dict[str, Any], expected: dict[str, Any], *, exact: bool) -> dict[str, Any]:
    """The chaos contract: what was issued matches preview, every invoice is charged at most once and
    ends with one outcome, and nothing is left in any queue."""
    checks = issued_matches_preview(result, expected, exact=exact)
    checks |= numbers_gap_free(result["documents"])
    checks |= charged_at_most_once(result)
    checks |= settlement_holds(result)
    checks |= nothing_left(result, expected)
    checks["all_hold"] = all(v for k, v in checks.items() if isinstance(v, bool))
    return checks


def issued_matches_preview(
    result: dict[str, Any], expected: dict[str, Any], *, exact: bool
) -> dict[str, Any]:
    """Net and tax per agreement, period and rate as preview has them (and, without chaos, the
    documents, but for which sequence of its series each took)."""
    got, want = net_per_period(result["documents"]), net_per_period(expected["documents"])
    mismatched = sorted(set(got) ^ set(want) | {k for k in got.keys() & want.keys() if got[k] != want[k]})
    checks: dict[str, Any] = {
        "net_per_period_matches_preview": not mismatched,
        "periods_checked": len(want),
    }
    if mismatched:
        checks["mismatched_periods"] = [list(k) for k in mismatched[:20]]
    if exact:
        checks["documents_identical_to_preview"] = _without_order_dependent(
            result["documents"]
        ) == _without_order_dependent(expected["documents"])
    return checks


def charged_at_most_once(result: dict[str, Any]) -> dict[str, Any]:
    """Every chargeable invoice charged at most once, its status agreeing with the gateway's ledger."""
    chargeable = {
        d["document_id"]
        for d in result["documents"]
        if d["kind"] == "invoice" and d.get("amount_due_minor", d["total_minor"]) > 0
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


def settlement_holds(result: dict[str, Any]) -> dict[str, Any]:
    """Contract §4, per agreement: refunded ≤ charged always, every refund paid at most once (and
    only when recorded as succeeded), balance 0 once closed, and charged − refunded − balance = owed
    when every payment of the agreement succeeded."""
    all_paid: dict[str, bool] = {}
    for payment in result["payments"]:
        agreement = payment["agreement_id"]
        all_paid[agreement] = all_paid.get(agreement, True) and payment["status"] == "succeeded"
    problems = []
    for refund in result.get("refunds", []):
        if refund["paid"] != (refund["status"] == "succeeded"):
            problems.append(f"{refund['refund_id']}: {refund['status']} but paid {refund['paid']} times")
    for entry in result.get("settlement", []):
        agreement, charged, refunded = entry["agreement_id"], entry["charged_minor"], entry["refunded_minor"]
        balance, owed = entry["credit_balance_minor"], entry["owed_minor"]
        if refunded > charged:
            problems.append(f"{agreement}: refunded {refunded} of {charged} charged")
        if entry["closures"] and balance != 0:
            problems.append(f"{agreement}: closed with a credit balance of {balance}")
        if all_paid.get(agreement, True) and charged - refunded - balance != owed:
            problems.append(
                f"{agreement}: charged {charged} - refunded {refunded} - balance {balance} != {owed}"
            )
    checks: dict[str, Any] = {
        "settlement_balances_per_agreement": not problems,
        "agreements_settled": len(result.get("settlement", [])),
        "refunds_checked": len(result.get("refunds", [])),
    }
    if problems:
        checks["settlement_problems"] = problems[:20]
    return checks


def nothing_left(result: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Only the input preview rejects is parked, and every other queue and DLQ is empty.

    A publish SNS refused (over 256 KiB, not UTF-8) never reached the pipeline: upstream got the
    error. Preview rejects such an event too; it is accounted for by the refusal, not a parked copy.
    """
    left = {name: q["visible"] + q["in_flight"] + q.get("delayed", 0) for name, q in result["queues"].items()}
    parked = {(r["event_id"], r["code"]) for r in result["parked"]}
    rejected = {(r["event_id"], r["reason"].split(":")[0]) for r in expected.get("rejected", [])}
    refused = {r["event_id"] for r in result.get("refused", [])}
    left["AgreementDLQ"] = left.get("AgreementDLQ", 0) - len(result["parked"])
    return {
        "only_bad_input_parked": parked <= rejected and {i for i, _ in rejected - parked} <= refused,
        "only_bad_input_refused": refused <= {i for i, _ in rejected},
        "every_queue_and_dlq_empty": not any(left.values()),
    } | rejections_recorded_once(result)


def rejections_recorded_once(result: dict[str, Any]) -> dict[str, Any]:
    """Each distinct bad body has one rejection record, and every parked message names one. A second
    DLQ copy of a body (a crash between parking it and recording that) is counted, not a failure:
    it names the same record, and an operator groups by it."""
    keys = [p["key"] for p in result["parked"]]
    records = {r["key"] for r in result.get("rejections", [])}
    return {
        "one_rejection_record_per_bad_body": None not in keys and set(keys) == records,
        "rejection_records": len(records),
        "parked_copies": len(keys) - len(set(keys)),
    }
