"""`billing up` with real clients: the unmodified AWS CLI (v1, from PyPI) and plain boto3.

One server is shared by the module's tests (it takes a few seconds to start); each test leaves
it as it found it (no message left in a DLQ), so they hold in any order and on any worker.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from support import ROOT

BIN = Path(sys.executable).parent
START = "2026-01-30T00:00:00Z"  # the day before agreement-created.json's start_date
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_PAGER": "",
}


def _environment() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return clean | CLIENT_ENV


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start_server(port: int, *extra: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`billing up --json` as a subprocess; returns once it printed its JSON (it is serving)."""
    command = [str(BIN / "billing"), "up", "--port", str(port), "--start", START, "--json", *extra]
    process = subprocess.Popen(
        command, cwd=ROOT, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise AssertionError(f"billing up did not start: {process.stderr.read() if process.stderr else ''}")
    return process, json.loads(line)


def stop_server(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@dataclass
class LocalStack:
    endpoint: str
    info: dict[str, Any]

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.info["outputs"])

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(command),
            cwd=ROOT,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"{command}: {done.stdout[-1500:]} {done.stderr[-1500:]}"
        return done

    def aws(self, *args: str) -> Any:
        """The unmodified AWS CLI against the server; its JSON answer (None if it printed nothing)."""
        done = self.run(str(BIN / "aws"), "--endpoint-url", self.endpoint, "--output", "json", *args)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def billing(self, *args: str) -> Any:
        return json.loads(self.run(str(BIN / "billing"), *args, "--endpoint-url", self.endpoint).stdout)

    def boto3(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.info["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # the server takes any credentials
        )


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    process, info = start_server(_free_port())
    try:
        yield LocalStack(info["endpoint"], info)
    finally:
        stop_server(process)


def _dlq_depths(stack: LocalStack) -> dict[str, int]:
    depths = {}
    for key, url in stack.outputs.items():
        if key.endswith("DLQUrl"):
            attributes = stack.aws(
                "sqs",
                "get-queue-attributes",
                "--queue-url",
                url,
                "--attribute-names",
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            )["Attributes"]
            depths[key] = sum(int(n) for n in attributes.values())
    return depths


@pytest.mark.slow
def test_an_agreement_published_with_the_aws_cli_is_invoiced_exported_and_leaves_no_dead_letter(
    stack: LocalStack,
) -> None:
    stack.aws(
        "sns",
        "publish",
        "--topic-arn",
        stack.outputs["AgreementTopicArn"],
        "--message",
        "file://events/agreement_topic/agreement-created.json",
    )
    stack.run(
        str(BIN / "billing"),
        "clock",
        "advance",
        "--to",
        "2026-01-31T00:05:00Z",
        "--endpoint-url",
        stack.endpoint,
    )
    report = json.loads(
        stack.run(str(BIN / "billing"), "clock", "advance", "1d", "--endpoint-url", stack.endpoint).stdout
    )
    assert report["now"] == "2026-02-01T00:05:00Z"
    assert any(name.endswith("DailyBillingSchedule") for name in report["fired"])

    found = stack.billing("events", "query", "--from", "2026-01-31", "--agreement", "agr-1001")
    types = [event["type"] for event in found["events"]]
    assert "billing.invoice.issued" in types and "billing.payment.succeeded" in types

    table = stack.boto3("dynamodb").scan(TableName=stack.outputs["BillingTableName"])["Items"]
    [document] = [json.loads(i["document"]["S"]) for i in table if i["sk"]["S"].startswith("DOC#")]
    assert (document["kind"], document["total_minor"], document["issue_date"]) == (
        "invoice",
        1999,
        "2026-01-31",
    )

    bucket = stack.outputs["AccountingBucketName"]
    listing = stack.run(
        str(BIN / "aws"), "--endpoint-url", stack.endpoint, "s3", "ls", f"s3://{bucket}", "--recursive"
    )
    [key] = [line.split()[-1] for line in listing.stdout.splitlines() if line.strip()]
    assert key.startswith("exports/2026/01/31/")
    export = stack.run(
        str(BIN / "aws"), "--endpoint-url", stack.endpoint, "s3", "cp", f"s3://{bucket}/{key}", "-"
    )
    assert document["document_id"] in export.stdout

    assert _dlq_depths(stack) == dict.fromkeys(_dlq_depths(stack), 0)
    assert len(_dlq_depths(stack)) == 7


@pytest.mark.slow
def test_a_bad_event_published_with_the_aws_cli_is_parked_with_its_reason_and_redrive_counts_it(
    stack: LocalStack, tmp_path: Path
) -> None:
    event = json.loads((ROOT / "events/agreement_topic/agreement-created.json").read_text())
    event["id"], event["data"]["agreement_id"] = "bad-currency-local", "agr-bad-local"
    event["data"]["plan"]["currency"] = "XXZ"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(event))
    dlq = stack.outputs["AgreementDLQUrl"]
    try:
        stack.aws(
            "sns", "publish", "--topic-arn", stack.outputs["AgreementTopicArn"], "--message", f"file://{bad}"
        )
        stack.run(str(BIN / "billing"), "clock", "now", "--endpoint-url", stack.endpoint)  # settled

        received = stack.aws(
            "sqs",
            "receive-message",
            "--queue-url",
            dlq,
            "--message-attribute-names",
            "All",
            "--max-number-of-messages",
            "10",
            "--visibility-timeout",
            "0",
        )
        [parked] = [m for m in received["Messages"] if json.loads(m["Body"])["id"] == "bad-currency-local"]
        attributes = parked["MessageAttributes"]
        assert attributes["rejection_code"]["StringValue"]
        assert "currency" in attributes["rejection_reason"]["StringValue"].lower()

        counted = stack.billing("redrive", "--queue", "agreement", "--dry-run")
        assert (counted["dry_run"], counted["examined"], counted["moved"]) == (True, 1, 0)
        rejected = stack.billing("redrive", "--queue", "agreement", "--dry-run", "--include-rejected")
        assert (rejected["matched"], rejected["moved"]) == (1, 0)
    finally:
        stack.aws("sqs", "purge-queue", "--queue-url", dlq)


@pytest.mark.slow
def test_the_stack_answers_boto3_as_a_deployed_one_and_billing_invoke_runs_its_functions(
    stack: LocalStack,
) -> None:
    [described] = stack.boto3("cloudformation").describe_stacks(StackName=stack.info["stack_name"])["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs.items() >= stack.outputs.items()
    names = {f["FunctionName"] for f in stack.boto3("lambda").list_functions()["Functions"]}
    functions = re.findall(
        r"^  \w+:\n    Type: AWS::Serverless::Function$", (ROOT / "template.yaml").read_text(), re.M
    )
    assert stack.outputs["EventReplayFunctionName"] in names and len(names) == len(functions)
    assert stack.boto3("sns").get_topic_attributes(TopicArn=stack.outputs["AgreementTopicArn"])["Attributes"]

    result = stack.billing("invoke", "event_replay", "--event", "events/event_replay/query-invoices.json")
    assert "events" in result and "count" in result


@pytest.mark.slow
def test_the_clock_never_goes_back_and_a_busy_port_or_another_address_is_one_line(stack: LocalStack) -> None:
    back = stack.run(
        str(BIN / "billing"),
        "clock",
        "advance",
        "--to",
        "2000-01-01T00:00:00Z",
        "--endpoint-url",
        stack.endpoint,
        check=False,
    )
    assert back.returncode == 2 and "never goes back" in back.stderr and back.stderr.count("\n") == 1

    port = stack.endpoint.rsplit(":", 1)[1]
    busy = stack.run(str(BIN / "billing"), "up", "--port", port, check=False)
    assert busy.returncode == 2 and "busy" in busy.stderr and busy.stderr.count("\n") == 1

    exposed = stack.run(str(BIN / "billing"), "up", "--host", "0.0.0.0", "--port", "0", check=False)
    assert exposed.returncode == 2 and "127.0.0.1 only" in exposed.stderr
    assert exposed.stderr.count("\n") == 1


@pytest.mark.slow
def test_sigint_stops_the_server_and_nothing_is_left_listening() -> None:
    port = _free_port()
    process, info = start_server(port)
    assert info["endpoint"] == f"http://127.0.0.1:{port}" and not _port_is_free(port)
    assert stop_server(process) == 0
    assert _port_is_free(port)
    assert process.stderr is not None and "stopped" in process.stderr.read()


def _rehearsal_agreements(stack: LocalStack, count: int) -> None:
    """Upstream publishes `count` agreements (the sample event, renamed) with plain boto3."""
    event = json.loads((ROOT / "events/agreement_topic/agreement-created.json").read_text())
    sns = stack.boto3("sns")
    for n in range(count):
        event["id"], event["data"]["agreement_id"] = f"evt-rehearsal-{n}", f"agr-rehearsal-{n}"
        sns.publish(TopicArn=stack.outputs["AgreementTopicArn"], Message=json.dumps(event))


def _private(stack: LocalStack, path: str) -> Any:
    with urllib.request.urlopen(stack.endpoint + path, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7])
def test_an_incident_rehearsed_locally_ends_with_every_invoice_charged_once_and_no_dead_letter(
    seed: int,
) -> None:
    """RUNBOOK.md "Rehearsing an incident locally": faults until the fix, then the runbook."""
    process, info = start_server(_free_port(), "--chaos", str(seed), "--chaos-until", "2026-02-02T00:00:00Z")
    stack = LocalStack(info["endpoint"], info)
    try:
        _rehearsal_agreements(stack, 60)
        billing = [str(BIN / "billing")]
        stack.run(
            *billing, "clock", "advance", "--to", "2026-02-02T00:00:00Z", "--endpoint-url", stack.endpoint
        )
        chaos = _private(stack, "/_billing/stack")["chaos"]
        assert chaos["active"] is False and sum(chaos["faults"].values()) > 0

        for queue in ("agreement", "invoice-job", "payment", "accounting"):
            stack.billing("redrive", "--queue", queue)
        if _dlq_depths(stack)["OutboxDLQUrl"]:
            stack.billing("replay", "--from", "2026-01-30", "--to", "2026-02-02", "--target", "topic")
        for dlq in ("OutboxDLQUrl", "ScheduleDLQUrl"):
            stack.aws("sqs", "purge-queue", "--queue-url", stack.outputs[dlq])
        report = json.loads(
            stack.run(*billing, "clock", "advance", "1d", "--endpoint-url", stack.endpoint).stdout
        )
        assert report["dead_letters"] == {}

        ddb = stack.boto3("dynamodb")
        items = ddb.scan(TableName=stack.outputs["BillingTableName"])["Items"]
        documents = [json.loads(i["document"]["S"]) for i in items if i["sk"]["S"].startswith("DOC#")]
        assert sorted(d["agreement_id"] for d in documents) == sorted(f"agr-rehearsal-{n}" for n in range(60))
        assert {(d["kind"], d["total_minor"]) for d in documents} == {("invoice", 1999)}
        payments = [i for i in items if i["sk"]["S"].startswith("PAY#")]
        assert len(payments) == 60 and {p["status"]["S"] for p in payments} == {"succeeded"}
        ledger = ddb.scan(TableName=stack.outputs["SandboxLedgerTableName"])["Items"]
        charged = [e["document_id"]["S"] for e in ledger if e["status"]["S"] == "succeeded"]
        assert sorted(charged) == sorted(d["document_id"] for d in documents)  # each exactly once
    finally:
        stop_server(process)
