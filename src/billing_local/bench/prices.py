"""On-demand prices, us-east-1, for `make bench` (docs/PERFORMANCE.md, "Cost model").

A checked-in, dated table: the bench never looks prices up. Each entry is in US dollars per
one unit named by the key; the free tiers are ignored (a system at scale is past them). When
AWS changes a price, change it here, bump `CHECKED_ON` and re-run `make bench`.

Included (variable, per paid invoice):
- Lambda arm64: requests and GB-seconds (first tier, up to 7.5 billion GB-s a month).
- DynamoDB on-demand, Standard table class: write and read request units (the prices after
  the 50 % on-demand price cut of 2024-11-01). Stream reads by a Lambda trigger are free.
- SQS standard: requests (each 64 KB chunk of a request's payload is one request); the
  Lambda pollers' ReceiveMessage/DeleteMessageBatch are billed to the account like any other.
- SNS standard: publishes (a PublishBatch of up to 10 messages is one request per 64 KB of
  aggregate payload); deliveries to SQS queues are free; e-mail notifications are priced.
- S3 Standard: PUT requests (the accounting export objects).
- EventBridge Scheduler: invocations (the daily run and the accounting export schedule).
- CloudWatch Logs: standard ingestion per GB. Custom metrics are written as EMF log lines,
  so the metrics' per-invoice cost is their log bytes; the per-metric monthly charge
  ($0.30 a metric-month for the first 10,000) does not grow with invoices and is listed
  as a fixed cost, as are alarms and the dashboard.

Excluded (documented in docs/PERFORMANCE.md): KMS requests (SQS reuses data keys for
`KmsDataKeyReusePeriodSeconds` = 900 s; DynamoDB and Lambda cache their keys), X-Ray traces
(sampled), storage (DynamoDB GB-month, S3 GB-month, log retention) and data transfer
(all traffic stays in the region).
"""

CHECKED_ON = "2026-11-27"
REGION = "us-east-1"

SOURCES = {
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "sns": "https://aws.amazon.com/sns/pricing/",
    "sns_batch": "https://docs.aws.amazon.com/sns/latest/dg/sns-batch-api-actions.html",
    "s3": "https://aws.amazon.com/s3/pricing/",
    "scheduler": "https://aws.amazon.com/eventbridge/pricing/",
    "cloudwatch": "https://aws.amazon.com/cloudwatch/pricing/",
}

#: USD per unit.
PRICES: dict[str, float] = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "sns_publish_request": 0.50 / 1e6,
    "sns_sqs_delivery": 0.0,
    "sns_email_delivery": 2.00 / 1e5,
    "s3_put_request": 0.005 / 1e3,
    "scheduler_invocation": 1.00 / 1e6,
    "cloudwatch_logs_ingested_gb": 0.50,
    "cloudwatch_custom_metric_month": 0.30,
    "cloudwatch_alarm_month": 0.10,
    "cloudwatch_dashboard_month": 3.00,
}

#: Sizes that turn payloads into billed units.
SQS_SNS_CHUNK_BYTES = 64 * 1024
DYNAMODB_WRITE_UNIT_BYTES = 1024
DYNAMODB_READ_UNIT_BYTES = 4096
