"""One agreement travels the whole deployed path on the embedded AWS (template.yaml's wiring)."""

import json
from datetime import date

import boto3
from support import Pipeline, agreement_event


def test_created_agreement_is_invoiced_charged_once_published_and_every_queue_empties(
    pipeline: Pipeline,
) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-e2e", 1, start_date="2026-03-01"))
    pipeline.run_day(date(2026, 3, 1))

    [invoice] = pipeline.documents("agr-e2e")
    assert invoice["kind"] == "invoice"
    assert invoice["total_minor"] == 1000
    assert invoice["lines"] == [
        {
            "period_start": "2026-03-01",
            "period_end": "2026-04-01",
            "tax_rate": "0",
            "net_minor": 1000,
            "tax_minor": 0,
            "amount_minor": 1000,
        }
    ]
    assert (invoice["sequence"], invoice["number"]) == (1, f"{invoice['series']}-000001")
    [payment] = pipeline.payments("agr-e2e")
    assert payment["document_id"] == invoice["document_id"]
    assert (payment["status"], payment["attempts"], payment["charges"], payment["outcome_events"]) == (
        "succeeded",
        1,
        1,
        1,
    )
    assert pipeline.left_in_queues() == {}

    bucket = pipeline.cloud.physical_id("AccountingBucket")
    [obj] = boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    lines = boto3.client("s3").get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines()
    assert {json.loads(line)["type"] for line in lines} == {
        "billing.invoice.issued",
        "billing.payment.succeeded",
    }


def test_running_the_same_day_twice_issues_nothing_new(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-twice", 1, start_date="2026-03-01"))
    pipeline.run_day(date(2026, 3, 1))
    pipeline.run_day(date(2026, 3, 1))
    assert len(pipeline.documents("agr-twice")) == 1
    assert [p["charges"] for p in pipeline.payments("agr-twice")] == [1]


def test_logs_are_json_with_correlation_keys_and_no_pii(pipeline: Pipeline) -> None:
    event = agreement_event(
        "agreement.created",
        "agr-pii",
        1,
        start_date="2026-03-01",
        customer_email="ana.secret@example.com",
        payment_method="pm_ok",
    )
    pipeline.publish(event)
    pipeline.publish(event)  # a duplicate: logged at INFO, with its correlation keys
    bad = agreement_event(
        "agreement.created", "agr-pii2", 1, start_date="2026-03-01", customer_email="bob.secret@example.com"
    )
    bad["data"]["plan"]["interval"] = "fortnight"
    pipeline.publish(bad)
    pipeline.run_day(date(2026, 3, 1))
    lines = [json.loads(line) for line in pipeline.cloud.logs() if line.startswith("{")]
    messages = [line for line in lines if "message" in line]
    assert messages, "handlers log structured JSON"
    text = json.dumps(lines)
    assert "ana.secret@example.com" not in text and "bob.secret@example.com" not in text
    assert '"pm_ok"' not in text
    [duplicate] = [m for m in messages if m["message"] == "agreement event duplicate"]
    assert duplicate["level"] == "INFO" and duplicate["service"] == "billing"
    assert (duplicate["agreement_id"], duplicate["event_id"]) == ("agr-pii", event["id"])
    [rejected] = [m for m in messages if m["message"] == "input rejected"]
    assert (
        rejected["reason"].split(":")[0] in ("invalid_field", "unknown_value")
        and "interval" in rejected["reason"]
    )
    # What went right is counted and stored (events, documents, payments), not logged at INFO (those
    # lines were most of an invoice's log bytes, docs/PERFORMANCE.md); what went wrong is.
    quiet = ("agreement event stored", "invoice issued", "payment succeeded")
    assert not [m for m in messages if m["message"] in quiet]


def test_business_and_operational_metrics_are_emitted_as_emf(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-m", 1, start_date="2026-03-01"))
    bad = agreement_event("agreement.created", "agr-m2", 1, start_date="2026-03-01")
    bad["data"]["plan"]["interval"] = "fortnight"
    pipeline.publish(bad)
    pipeline.run_day(date(2026, 3, 1))
    emitted: dict[str, list[dict[str, object]]] = {}
    for line in pipeline.cloud.logs():
        if '"_aws"' not in line:
            continue
        record = json.loads(line)
        [directive] = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == f"RecurringBilling/{pipeline.cloud.stack_name}"
        for metric in directive["Metrics"]:
            emitted.setdefault(metric["Name"], []).append(record)
    for name in (
        "AgreementEventsStored",
        "EventsRejected",
        "InvoicesIssued",
        "PaymentsSucceeded",
        "DailyRunHeartbeat",
    ):
        assert name in emitted, name
    [amount] = emitted["InvoicedAmountMinor"]
    assert (amount["currency"], amount["service"], amount["InvoicedAmountMinor"]) == (
        "EUR",
        "billing",
        [1000.0],
    )
