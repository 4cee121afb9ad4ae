"""Legal numbers under concurrent generators: how often a commit loses the race for its series' next
number, for a number of generator threads and numbering lanes (docs/SCALE.md "Numbering").

The embedded AWS runs one handler at a time, so this measurement runs the real service
(`bill_agreement`) and the real adapter (`BillingTable`) in threads against one moto table. moto
answers each request under one lock (as DynamoDB is linearizable per item), and every request
waits `round_trip_ms` outside the lock, as a network round trip would: that is the window in which
another generator can take the number a commit was about to take.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import batched
from typing import Any

from billing.adapters.dynamo import BillingTable
from billing.domain.agreements import parse_event
from billing.ports import StoredInbound
from billing.service.invoicing import AGREEMENTS_PER_JOB, bill_agreement

RUN_AT = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
TABLE = "numbering-bench"


class _Linearized:
    """A DynamoDB client whose requests are answered one at a time, each after a round trip."""

    def __init__(self, client: Any, round_trip_ms: float) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._delay = round_trip_ms / 1000

    def __getattr__(self, name: str) -> Callable[..., Any]:
        call = getattr(self._client, name)

        def linearized(**kwargs: Any) -> Any:
            time.sleep(self._delay / 2)  # the request travels
            with self._lock:
                answer = call(**kwargs)
            time.sleep(self._delay / 2)  # the answer travels
            return answer

        return linearized


def _created(agreement_id: str) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"{agreement_id}-v1",
            "source": "urn:bench",
            "type": "agreement.created",
            "data": {
                "agreement_id": agreement_id,
                "customer_id": "cus-bench",
                "version": 1,
                "start_date": "2026-03-01",
                "plan": {"amount_minor": 1000, "currency": "EUR", "interval": "month", "interval_count": 1},
                "payment_method": "pm_ok",
            },
        }
    )


def _table(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def measure_once(agreements: int, threads: int, lanes: int, round_trip_ms: float) -> dict[str, Any]:
    """Bill `agreements` new agreements with `threads` concurrent generators over `lanes` series."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _table(client)
        table = BillingTable(TABLE, shards=32, client=client)
        ids = [f"agr-{i:05d}" for i in range(agreements)]
        for agreement_id in ids:
            body = _created(agreement_id)
            event = parse_event(body)
            table.record_inbound(
                agreement_id,
                StoredInbound(1, event.event_id, event.fingerprint, body),
                "2026-02-28T00:00:00Z",
                "2026-03-01T00:00:00Z",
            )
        racing = BillingTable(TABLE, shards=32, client=_Linearized(client, round_trip_ms))

        def job(chunk: tuple[str, ...]) -> tuple[int, list[tuple[str, int]]]:
            conflicts, numbers = 0, []
            for agreement_id in chunk:
                billed = bill_agreement(racing, agreement_id, RUN_AT, lanes)
                conflicts += billed.number_conflicts
                if billed.document is not None:
                    numbers.append((str(billed.document.series), int(billed.document.sequence or 0)))
            return conflicts, numbers

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(job, batched(ids, AGREEMENTS_PER_JOB, strict=False)))
        seconds = time.perf_counter() - started
    by_series: dict[str, list[int]] = defaultdict(list)
    for _, numbers in outcomes:
        for series, sequence in numbers:
            by_series[series].append(sequence)
    documents = sum(len(s) for s in by_series.values())
    conflicts = sum(c for c, _ in outcomes)
    return {
        "threads": threads,
        "lanes": lanes,
        "documents": documents,
        "number_conflicts": conflicts,
        "conflicts_per_document": round(conflicts / documents, 3) if documents else None,
        "gap_free": all(sorted(s) == list(range(1, len(s) + 1)) for s in by_series.values()),
        "documents_per_second_local": round(documents / seconds, 1),
    }


def measure_numbering(
    agreements: int = 400,
    threads: tuple[int, ...] = (8, 32),
    lanes: tuple[int, ...] = (1, 4, 16, 64),
    round_trip_ms: float = 4.0,
) -> dict[str, Any]:
    """The conflict rate and local rate per (threads, lanes)."""
    rows = [measure_once(agreements, t, n, round_trip_ms) for t in threads for n in lanes]
    return {"agreements": agreements, "round_trip_ms": round_trip_ms, "runs": rows}


if __name__ == "__main__":
    print(json.dumps(measure_numbering(), indent=2))
