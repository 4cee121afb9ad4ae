"""The arithmetic behind `make bench` (units, cost, floor, ratios). Nothing here measures time."""

from datetime import date

import pytest

from billing_local.bench import prices
from billing_local.bench.cold_start import ratio_of_medians
from billing_local.bench.costs import (
    PRICE_OF,
    Design,
    IndexSpec,
    Usage,
    attribute_size,
    billed_chunks,
    cost_usd,
    floor_invocations,
    floor_lines,
    index_write_units,
    item_size,
    lambda_gb_seconds,
    per_invoice,
    read_units,
    scale_usage,
    write_units,
)
from billing_local.bench.meter import event_units
from billing_local.bench.report import GOALS, goal_status, least_squares
from billing_local.bench.runs import bench_scenario

DUE = IndexSpec("DueIndex", ("gsi1pk", "gsi1sk"))
KEYS = ("pk", "sk")


def state(due: str | None, **extra: dict[str, str]) -> dict[str, dict[str, str]]:
    item = {"pk": {"S": "AGR#a"}, "sk": {"S": "AGREEMENT"}, "rev": {"N": "3"}, **extra}
    if due is not None:
        item |= {"gsi1pk": {"S": "DUE#7"}, "gsi1sk": {"S": due}}
    return item


# -- item sizes ------------------------------------------------------------------------------


def test_attribute_sizes_follow_dynamodb_rules() -> None:
    assert attribute_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert attribute_size({"N": "12345"}) == 4  # ~1 byte per 2 significant digits, plus 1
    assert attribute_size({"N": "-0.5"}) == 2
    assert attribute_size({"BOOL": True}) == 1
    assert attribute_size({"NULL": True}) == 1
    assert attribute_size({"B": b"\x00\x01"}) == 2
    assert attribute_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert attribute_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    with pytest.raises(ValueError):
        attribute_size({"X": 1})


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"pk": {"S": "AGR#1"}, "n": {"N": "7"}}) == (2 + 5) + (1 + 2)
    assert item_size(None) == 0
    assert item_size({}) == 0


# -- request units ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "transactional", "units"),
    [(0, False, 1), (1024, False, 1), (1025, False, 2), (3000, False, 3), (1024, True, 2), (1025, True, 4)],
)
def test_write_units_round_up_per_kb_and_double_in_transactions(
    size: int, transactional: bool, units: int
) -> None:
    assert write_units(size, transactional=transactional) == units


@pytest.mark.parametrize(
    ("size", "consistent", "units"),
    [
        (0, True, 1.0),
        (0, False, 0.5),
        (4096, True, 1.0),
        (4097, True, 2.0),
        (4097, False, 1.0),
        (10_000, False, 1.5),
    ],
)
def test_read_units_round_up_per_4kb_and_halve_when_eventually_consistent(
    size: int, consistent: bool, units: float
) -> None:
    assert read_units(size, consistent=consistent) == units


def test_gsi_writes_entering_leaving_and_moving_a_sparse_index() -> None:
    assert index_write_units(None, state("2026-03-01"), DUE, KEYS) == 1  # a new item enters
    assert index_write_units(state(None), state("2026-03-01"), DUE, KEYS) == 1  # an item enters
    assert index_write_units(state("2026-03-01"), state(None), DUE, KEYS) == 1  # leaves: one delete
    assert index_write_units(state("2026-03-01"), state("2026-04-01"), DUE, KEYS) == 2  # delete + put
    assert index_write_units(state(None), state(None), DUE, KEYS) == 0  # never in the index
    assert index_write_units(state("2026-03-01"), state("2026-03-01"), DUE, KEYS) == 0  # nothing changed
    changed = state("2026-03-01", rev={"N": "4"})
    assert index_write_units(state("2026-03-01"), changed, DUE, KEYS) == 1  # projected attribute changed


def test_gsi_write_size_follows_the_projection() -> None:
    big = state("2026-03-01", body={"S": "x" * 3000})
    assert index_write_units(None, big, DUE, KEYS) == 3  # ALL: the whole 3 KB item
    keys_only = IndexSpec("DueIndex", ("gsi1pk", "gsi1sk"), projection="KEYS_ONLY")
    assert index_write_units(None, big, keys_only, KEYS) == 1
    include = IndexSpec("DueIndex", ("gsi1pk", "gsi1sk"), projection="INCLUDE", included=("body",))
    assert index_write_units(None, big, include, KEYS) == 3
    assert index_write_units(state("a", rev={"N": "1"}), state("a", rev={"N": "2"}), keys_only, KEYS) == 0


def test_sqs_and_sns_bill_each_64kb_chunk() -> None:
    assert billed_chunks(0) == 1
    assert billed_chunks(65_536) == 1
    assert billed_chunks(65_537) == 2
    assert billed_chunks(256 * 1024) == 4


# -- per invoice, ratios, Lambda -------------------------------------------------------------


def test_per_invoice_divides_every_count() -> None:
    assert per_invoice({"a": 30, "b": 1}, 3) == {"a": 10.0, "b": 0.3333}
    assert per_invoice({"a": 30}, 0) == {}


def test_ratio_of_medians() -> None:
    assert ratio_of_medians([2.0, 4.0, 100.0], [1.0, 2.0, 3.0]) == 2.0
    assert ratio_of_medians([1.0, 1.0], [2.0, 2.0, 2.0, 2.0]) == 0.5
    with pytest.raises(ValueError):
        ratio_of_medians([1.0], [0.0])


def test_lambda_gb_seconds_bill_each_invocation_to_the_next_millisecond() -> None:
    assert lambda_gb_seconds([0.0101, 0.002], 1024) == pytest.approx(0.013)  # 11 ms + 2 ms
    assert lambda_gb_seconds([0.0101, 0.002], 256) == pytest.approx(0.013 / 4)
    assert lambda_gb_seconds([], 256) == 0


# -- cost ------------------------------------------------------------------------------------


def test_cost_is_usage_times_the_price_table() -> None:
    usage = Usage(
        lambda_requests=1e6,
        lambda_gb_seconds=1e5,
        dynamodb_wru=4e6,
        dynamodb_rru=2e6,
        sqs_requests=1e6,
        sns_publish_requests=2e5,
        sns_sqs_deliveries=3e6,
        s3_put_requests=1e3,
        scheduler_invocations=1e6,
        log_gb=2.0,
    )
    cost = cost_usd(usage)
    assert cost["lambda_requests"] == pytest.approx(0.20)
    assert cost["lambda_gb_seconds"] == pytest.approx(1.33334)
    assert cost["dynamodb_wru"] == pytest.approx(2.50)
    assert cost["dynamodb_rru"] == pytest.approx(0.25)
    assert cost["sqs_requests"] == pytest.approx(0.40)
    assert cost["sns_publish_requests"] == pytest.approx(0.10)
    assert cost["sns_sqs_deliveries"] == 0
    assert cost["s3_put_requests"] == pytest.approx(0.005)
    assert cost["scheduler_invocations"] == pytest.approx(1.00)
    assert cost["log_gb"] == pytest.approx(1.00)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))


def test_cost_with_another_price_table() -> None:
    table = dict.fromkeys(prices.PRICES, 0.0) | {"dynamodb_write_request_unit": 1.0}
    assert cost_usd(Usage(dynamodb_wru=3, sqs_requests=10), table)["total"] == 3.0


def test_scaling_usage_scales_every_line() -> None:
    scaled = scale_usage(Usage(lambda_requests=2, log_gb=0.5), 10)
    assert scaled.lambda_requests == 20
    assert scaled.log_gb == 5


def test_price_table_is_dated_and_complete() -> None:
    date.fromisoformat(prices.CHECKED_ON)
    assert prices.REGION == "us-east-1"
    assert set(PRICE_OF.values()) <= set(prices.PRICES)
    assert all(price >= 0 for price in prices.PRICES.values())


# -- the floor -------------------------------------------------------------------------------


def test_floor_of_the_current_design() -> None:
    lines = floor_lines(Design())
    assert lines[("InvoiceGeneratorFunction", "dynamodb", "Query")] == pytest.approx(1.002)  # + due page
    assert lines[("InvoiceGeneratorFunction", "dynamodb", "TransactWriteItems")] == 1
    assert lines[("OutboxPublisherFunction", "sns", "PublishBatch")] == pytest.approx(0.2)
    assert lines[("InvoiceGeneratorFunction", "sqs", "SendMessageBatch")] == pytest.approx(1 / 250)
    assert lines[("(poller) InvoiceJobQueue", "sqs", "ReceiveMessage")] == pytest.approx(0.0042)
    assert lines[("(poller) PaymentQueue", "sqs", "ReceiveMessage")] == pytest.approx(0.1)
    assert lines[("PaymentProcessorFunction", "dynamodb", "GetItem")] == 0  # the ledger writes first
    assert lines[("PaymentProcessorFunction", "dynamodb", "Query")] == 1  # settle after the payment
    # generator 2 + due pages 0.002 + outbox 0.2 + payment polls 0.2 + payment 3 (ledger, payment
    # transaction, settlement read) + accounting 0.402 + job plumbing 0.0124 (agreement jobs of 25
    # and shard pages of 500, in batches of 10)
    assert sum(lines.values()) == pytest.approx(5.8164)
    assert not any(function == "InvoiceSchedulerFunction" for function, _, _ in lines)  # per run only


def test_floor_follows_the_design_constants() -> None:
    base = floor_lines(Design())
    bigger_jobs = floor_lines(Design(agreements_per_job=50, due_page=10**9))
    assert bigger_jobs[("InvoiceGeneratorFunction", "sqs", "SendMessageBatch")] == pytest.approx(
        base[("InvoiceGeneratorFunction", "sqs", "SendMessageBatch")] / 2
    )
    assert bigger_jobs[("(poller) InvoiceJobQueue", "sqs", "ReceiveMessage")] == pytest.approx(1 / 500)
    with_read = floor_lines(Design(payment_reads_before_charge=1))
    assert sum(with_read.values()) == pytest.approx(sum(base.values()) + 1)
    read_first = floor_lines(Design(gateway_reads_per_charge=1))  # the ledger as it was: read, then write
    assert read_first[("PaymentProcessorFunction", "dynamodb", "GetItem")] == 1


def test_floor_invocations() -> None:
    assert floor_invocations(Design()) == pytest.approx(
        {
            "InvoiceGeneratorFunction": 0.0042,  # (1/25 + 1/500) / 10
            "OutboxPublisherFunction": 0.02,
            "PaymentProcessorFunction": 0.1,
        }
    )


# -- goals and workload ----------------------------------------------------------------------


def test_goal_status_says_met_or_by_how_much_missed() -> None:
    status = goal_status(
        {
            "aws_requests_per_paid_invoice": 7.0,
            "lambda_invocations_per_invoice": 0.3,
            "layer_unzipped_bytes": None,
        }
    )
    assert status["aws_requests_per_paid_invoice"] == {
        "value": 7.0,
        "goal_at_most": 3.5,
        "met": False,
        "over_by": 2.0,
    }
    assert status["lambda_invocations_per_invoice"]["met"] is True
    assert status["lambda_invocations_per_invoice"]["over_by"] is None
    assert status["layer_unzipped_bytes"]["met"] is False  # not measured is not met
    assert set(status) == set(GOALS)


def test_bench_workload_pays_every_invoice() -> None:
    scenario = bench_scenario(20, 10, seed=3)
    methods = {
        d["event"]["data"]["payment_method"]
        for d in scenario["deliveries"]
        if "payment_method" in d["event"]["data"]
    }
    assert methods == {"pm_ok"}
    assert {d["event"]["type"] for d in scenario["deliveries"]} >= {"agreement.created"}


def test_least_squares_fits_fixed_and_per_unit_cost() -> None:
    assert least_squares([(0, 1.0), (10, 2.0), (20, 3.0)]) == pytest.approx((1.0, 0.1))
    assert least_squares([(5, 1.0), (5, 3.0)]) == (2.0, 0.0)  # x never varies: the mean, no slope
    assert least_squares([]) == (0.0, 0.0)
    assert least_squares(iter([(1, 1.0), (2, 2.0)])) == pytest.approx((0.0, 1.0))


def test_event_units_count_records_and_job_agreements() -> None:
    job = {"Records": [{"body": '{"agreement_ids": ["a", "b"]}'}, {"body": '{"shard": 3}'}, {"body": "x"}]}
    assert event_units(job) == {"records": 3, "agreements": 2}
    assert event_units({"run_at": "2026-03-01T00:05:00Z"}) == {"records": 0, "agreements": 0}
