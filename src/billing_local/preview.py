"""`billing preview`: the pure billing engine run over a scenario file (contract §5).

No AWS at all. Deliveries are ingested with the same rule as the projector
(`admit`: duplicates change nothing, the first of two conflicting events wins),
each run bills the agreements that have something due or got new events, and
the documents are listed by issue_date, agreement_id, seq.

Agreements with nothing to do are not visited: each one waits in a heap keyed
by the UTC instant of its next bill date (`next_bill_date` + `midnight_utc`, the
same arithmetic as the scheduler's due index), so a year of 10,000 agreements
previews in seconds (`benchmark`).
"""

from __future__ import annotations

import gc
import heapq
import json
import random
import sys
import time as _time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from billing.domain.agreements import (
    MAX_DATE,
    MIN_DATE,
    REFUSED,
    AgreementEvent,
    Fold,
    admit,
    fold,
    id_conflict,
    parse_event,
)
from billing.domain.engine import Document, bill_and_next, clear_cache, local_date, midnight_utc
from billing.domain.errors import BadInput, input_fault
from billing.domain.numbering import DEFAULT_SERIES_COUNT, series_for
from billing.domain.settlement import CreditAccount, settle_run

__all__ = [
    "DEFAULT_RUN_AT",
    "Delivery",
    "Runs",
    "Scenario",
    "ScenarioError",
    "benchmark",
    "generate_scenario",
    "load_scenario",
    "parse_scenario",
    "preview",
    "run_instants",
]

DEFAULT_RUN_AT = time(0, 5, tzinfo=UTC)


class ScenarioError(Exception):
    """A scenario file that cannot be run; the message is one line naming the problem."""


@dataclass(frozen=True)
class Runs:
    from_date: date
    through: date
    skip: frozenset[date] = frozenset()
    at: time = DEFAULT_RUN_AT  # UTC


class Delivery(NamedTuple):
    on: date
    event: Any  # the raw CloudEvent: normally a JSON object; a string is taken as the message body


@dataclass(frozen=True)
class Scenario:
    runs: Runs
    deliveries: tuple[Delivery, ...] = field(default=())


# --------------------------------------------------------------------------- parsing


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; ScenarioError on a missing file, bad JSON or bad shape."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{p}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{p}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ScenarioError(f"{p}: not JSON this parser can read: nested too deeply") from None
    except ValueError:  # Python's integer limit: a number with thousands of digits
        limit = sys.get_int_max_str_digits()
        raise ScenarioError(
            f"{p}: not JSON this parser can read: a number of more than {limit} digits"
        ) from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{p}: {exc}") from None


def _date(value: Any, where: str, *, bounded: bool = False) -> date:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: expected a date YYYY-MM-DD, got {json.dumps(value)}")
    try:
        if len(value) != 10:
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise ScenarioError(f"{where}: {value!r} is not a date YYYY-MM-DD") from None
    if bounded and not MIN_DATE <= day <= MAX_DATE:
        raise ScenarioError(f"{where}: {value} is outside {MIN_DATE}..{MAX_DATE}")
    return day


def _run_time(value: Any) -> time:
    if not isinstance(value, str):
        raise ScenarioError(f"runs.at: expected a UTC time HH:MM, got {json.dumps(value)}")
    parts = value.split(":")
    try:
        if len(parts) not in (2, 3) or not all(len(p) == 2 and p.isdigit() for p in parts):
            raise ValueError
        hour, minute, second = (int(p) for p in [*parts, "00"][:3])
        return time(hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise ScenarioError(f"runs.at: {value!r} is not a time HH:MM (UTC)") from None


def _object(value: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    """Check a decoded scenario (contract §5). Top-level keys other than runs and
    deliveries (a description, expected output ...) are ignored; inside runs and
    deliveries, unknown keys are errors (a typo must not silently drop events)."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"a scenario is a JSON object, got {type(data).__name__}")
    if "runs" not in data:
        raise ScenarioError("missing runs")
    runs = _object(data["runs"], "runs", {"from", "through", "skip", "at"})
    for key in ("from", "through"):
        if key not in runs:
            raise ScenarioError(f"missing runs.{key}")
    first = _date(runs["from"], "runs.from", bounded=True)
    through = _date(runs["through"], "runs.through", bounded=True)
    if through < first:
        raise ScenarioError(f"runs.through ({through}) is before runs.from ({first})")
    skip_raw = runs.get("skip", [])
    if not isinstance(skip_raw, list):
        raise ScenarioError("runs.skip: expected a list of dates")
    skip = frozenset(_date(v, f"runs.skip[{i}]") for i, v in enumerate(skip_raw))
    at = _run_time(runs["at"]) if "at" in runs else DEFAULT_RUN_AT

    raw_deliveries = data.get("deliveries", [])
    if not isinstance(raw_deliveries, list):
        raise ScenarioError("deliveries: expected a list")
    deliveries = []
    for i, item in enumerate(raw_deliveries):
        where = f"deliveries[{i}]"
        obj = _object(item, where, {"on", "event"})
        if "on" not in obj:
            raise ScenarioError(f"{where}: delivery without on (its date)")
        if "event" not in obj:
            raise ScenarioError(f"{where}: delivery without event")
        deliveries.append(Delivery(_date(obj["on"], f"{where}.on"), obj["event"]))
    return Scenario(Runs(first, through, skip, at), tuple(deliveries))


def run_instants(s: Scenario) -> list[datetime]:
    """UTC instants of the scenario's runs: every date from..through at `at`, minus skip."""
    out = []
    day = s.runs.from_date
    while day <= s.runs.through:
        if day not in s.runs.skip:
            out.append(datetime.combine(day, s.runs.at))
        day += timedelta(days=1)
    return out


# --------------------------------------------------------------------------- the runs


@dataclass
class _Agreement:
    events: list[AgreementEvent] = field(default_factory=list)
    delivered_on: dict[str, date] = field(default_factory=dict)
    folded: Fold | None = None
    docs: list[Document] = field(default_factory=list)  # as the engine issued them (its memo's input)
    credited: list[Document] = field(default_factory=list)  # the same with the credit balance applied
    account: CreditAccount = field(default_factory=CreditAccount)
    due: datetime | None = None

    def state_fold(self) -> Fold:
        if self.folded is None:
            self.folded = fold(self.events)
        return self.folded


def _raw_id(raw: Any) -> str | None:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode: no id
            return None
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
        return str(raw["id"])
    return None


def _bad_input(error: Exception) -> BadInput:
    bad = input_fault(error)
    if bad is None:
        raise error
    return bad


class _Preview:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.agreements: dict[str, _Agreement] = {}
        self.event_ids: dict[str, str] = {}  # accepted event id -> fingerprint, system-wide (as the store)
        self.rejected: list[dict[str, Any]] = []
        self.heap: list[tuple[datetime, int, str]] = []
        self.pushes = 0
        self.dirty: dict[str, None] = {}
        self._local_days: dict[tuple[datetime, str], date] = {}
        self._day_starts: dict[tuple[date, str], datetime] = {}

    def local_day(self, instant: datetime, timezone: str) -> date:
        """local_date, remembered per (run, zone): thousands of agreements share a few zones."""
        key = (instant, timezone)
        day = self._local_days.get(key)
        if day is None:
            day = self._local_days[key] = local_date(instant, timezone)
        return day

    def day_start(self, day: date, timezone: str) -> datetime:
        """midnight_utc, remembered per (date, zone)."""
        key = (day, timezone)
        instant = self._day_starts.get(key)
        if instant is None:
            instant = self._day_starts[key] = midnight_utc(day, timezone)
        return instant

    def reject(self, event_id: str | None, on: date, exc: BadInput) -> None:
        self.rejected.append({"event_id": event_id, "on": on.isoformat(), "reason": str(exc)})

    def ingest(self, delivery: Delivery) -> None:
        # What the projector parks (the one rule, `input_fault`) is rejected here, with its code.
        try:
            event = parse_event(delivery.event)
        except Exception as exc:
            self.reject(_raw_id(delivery.event), delivery.on, _bad_input(exc))
            return
        agreement = self.agreements.setdefault(event.agreement_id, _Agreement())
        try:
            verdict = admit(agreement.events, event)
        except Exception as exc:
            self.reject(event.event_id, delivery.on, _bad_input(exc))
            return
        if verdict == "duplicate":
            return
        if self.event_ids.setdefault(event.event_id, event.fingerprint) != event.fingerprint:
            self.reject(event.event_id, delivery.on, id_conflict())  # another agreement's id
            return
        agreement.events.append(event)
        agreement.delivered_on[event.event_id] = delivery.on
        agreement.folded = None
        self.dirty[event.agreement_id] = None

    def run_one(self, agreement_id: str, instant: datetime) -> None:
        agreement = self.agreements[agreement_id]
        state = agreement.state_fold().state
        if state is None:
            agreement.due = None
            return
        today = self.local_day(instant, state.timezone)
        doc, nxt = bill_and_next(state, agreement.docs, today)
        finished = state.cancel_date is not None and nxt is None
        settled = settle_run(agreement.account, agreement.credited, doc, finished=finished)
        agreement.account = settled.account
        if doc is not None and settled.document is not None:
            agreement.docs.append(doc)
            agreement.credited.append(settled.document)
        agreement.due = None if nxt is None else self.day_start(nxt, state.timezone)
        if agreement.due is not None:
            self.pushes += 1
            heapq.heappush(self.heap, (agreement.due, self.pushes, agreement_id))

    def run(self) -> dict[str, Any]:
        order = [d for _, d in sorted(enumerate(self.scenario.deliveries), key=lambda p: (p[1].on, p[0]))]
        pending = 0
        for instant in run_instants(self.scenario):
            day = instant.date()
            while pending < len(order) and order[pending].on <= day:
                self.ingest(order[pending])
                pending += 1
            touched = list(self.dirty)
            self.dirty.clear()
            for agreement_id in touched:
                self.run_one(agreement_id, instant)
            while self.heap and self.heap[0][0] <= instant:
                due, _, agreement_id = heapq.heappop(self.heap)
                if self.agreements[agreement_id].due == due:
                    self.run_one(agreement_id, instant)
        # Deliveries after the last run arrive too late to change any document,
        # but a bad one is still rejected.
        for delivery in order[pending:]:
            self.ingest(delivery)
        # Events held before their creation and refused by it (the projector parks them when the
        # creation arrives: the same rule, REFUSED, the same reasons).
        for agreement in self.agreements.values():
            for event, exc in agreement.state_fold().ignored:
                if exc.code in REFUSED:
                    self.reject(event.event_id, agreement.delivered_on[event.event_id], exc)

        docs = sorted(
            (doc for agreement in self.agreements.values() for doc in agreement.credited),
            key=lambda d: (d.issue_date, d.agreement_id, d.seq),
        )
        result: dict[str, Any] = {"documents": [doc.to_json() for doc in numbered(docs)]}
        if self.rejected:
            result["rejected"] = self.rejected
        return result


def numbered(docs: list[Document]) -> list[Document]:
    """The documents with their legal numbers, taken in this order within each series, as the store
    would (the pipeline's generators run concurrently, so their order within a day may differ)."""
    taken: dict[str, int] = {}
    out = []
    for doc in docs:
        series = series_for(doc.kind, doc.issue_date, doc.agreement_id, DEFAULT_SERIES_COUNT)
        taken[series] = taken.get(series, 0) + 1
        out.append(doc.numbered(series, taken[series]))
    return out


def preview(s: Scenario) -> dict[str, Any]:
    """The documents the scenario's runs issue: ``{"documents": [...]}`` (contract §5),
    by issue_date, agreement_id, seq; lines by period_start. Events the pipeline
    would reject are skipped and listed under ``"rejected"`` (only when there are
    any) as ``{"event_id", "on", "reason"}``."""
    # The run allocates many small acyclic objects (documents, lines): the cyclic
    # garbage collector only slows it down (by ~30% at 10,000 agreements).
    enabled = gc.isenabled()
    gc.disable()
    # The engine's memo is per system (it trusts an agreement's documents to be one append-only
    # history); a preview is a system of its own, so it neither reads nor leaves entries.
    clear_cache()
    try:
        return _Preview(s).run()
    finally:
        clear_cache()
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------- benchmark

_ZONES = ("UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland", "Asia/Tokyo", "Asia/Kolkata")
_PLANS = (  # (currency, interval, interval_count, amount range, weight in "mixed", in "monthly")
    ("EUR", "month", 1, (500, 5000), 50, 60),
    ("JPY", "month", 1, (500, 20000), 10, 20),
    ("USD", "year", 1, (5000, 50000), 10, 0),
    ("KWD", "week", 2, (1000, 9000), 10, 0),
    ("EUR", "week", 1, (100, 2000), 10, 0),
    ("CLF", "day", 1, (10, 900), 10, 0),
    ("KWD", "month", 3, (1000, 90000), 0, 20),
)
MIXES = ("mixed", "monthly")


def _cloudevent(event_id: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:example:purchases",
        "type": type_,
        "subject": data["agreement_id"],
        "datacontenttype": "application/json",
        "data": data,
    }


def generate_scenario(
    n_agreements: int, days: int, seed: int = 1, start: date = date(2026, 1, 1), mix: str = "mixed"
) -> dict[str, Any]:
    """A deterministic workload as scenario JSON: agreements of several plans, currencies and
    time zones starting over the first month; about 20% amended (some late), 10%
    cancelled (some after the period was invoiced), 10% of deliveries duplicated.

    mix "mixed": 10% daily and 20% weekly plans among monthly and yearly ones (the daily
    plans issue most of the documents); "monthly": monthly and quarterly plans only.
    """
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {MIXES}")
    # A reproducible workload, not a secret: the seeded standard generator is right here.
    rng = random.Random(seed)  # nosec B311
    deliveries: list[dict[str, Any]] = []
    weights = [p[4] if mix == "mixed" else p[5] for p in _PLANS]
    for i in range(n_agreements):
        agreement_id = f"agr-{i:06d}"
        currency, interval, count, (low, high), _, _ = rng.choices(_PLANS, weights)[0]
        begin = start + timedelta(days=rng.randrange(0, min(days, 31)))
        plan = {"amount_minor": rng.randint(low, high), "currency": currency, "interval": interval}
        plan["interval_count"] = count
        created = _cloudevent(
            f"{agreement_id}-v1",
            "agreement.created",
            {
                "agreement_id": agreement_id,
                "customer_id": f"cus-{i}",
                "version": 1,
                "start_date": begin.isoformat(),
                "timezone": rng.choice(_ZONES),
                "plan": plan,
                "payment_method": "pm_ok",
            },
        )
        deliveries.append({"on": begin.isoformat(), "event": created})
        version = 1
        if rng.random() < 0.2:
            version += 1
            effective = begin + timedelta(days=rng.randrange(1, max(2, days)))
            amended = _cloudevent(
                f"{agreement_id}-v{version}",
                "agreement.amended",
                {
                    "agreement_id": agreement_id,
                    "version": version,
                    "effective_date": effective.isoformat(),
                    "plan": {**plan, "amount_minor": rng.randint(low, high)},
                },
            )
            arrives = effective + timedelta(days=rng.choice((-10, -1, 0, 3, 20)))
            deliveries.append({"on": max(arrives, begin).isoformat(), "event": amended})
        if rng.random() < 0.1:
            version += 1
            effective = begin + timedelta(days=rng.randrange(0, max(1, days)))
            cancelled = _cloudevent(
                f"{agreement_id}-v{version}",
                "agreement.cancelled",
                {"agreement_id": agreement_id, "version": version, "effective_date": effective.isoformat()},
            )
            arrives = effective + timedelta(days=rng.choice((-5, 0, 2, 15)))
            deliveries.append({"on": max(arrives, begin).isoformat(), "event": cancelled})
    for item in rng.sample(deliveries, len(deliveries) // 10):
        deliveries.append(dict(item))
    deliveries.sort(key=lambda d: str(d["on"]))
    through = start + timedelta(days=days - 1)
    return {"runs": {"from": start.isoformat(), "through": through.isoformat()}, "deliveries": deliveries}


def benchmark(
    n_agreements: int = 10_000, days: int = 365, seed: int = 1, mix: str = "mixed"
) -> dict[str, Any]:
    """Preview a generated workload and report how long it took (for `make bench`, never tests)."""
    scenario = parse_scenario(generate_scenario(n_agreements, days, seed, mix=mix))
    t0, c0 = _time.perf_counter(), _time.process_time()
    result = preview(scenario)
    seconds, cpu = _time.perf_counter() - t0, _time.process_time() - c0
    documents = len(result["documents"])
    return {
        "agreements": n_agreements,
        "days": days,
        "mix": mix,
        "deliveries": len(scenario.deliveries),
        "documents": documents,
        "lines": sum(len(d["lines"]) for d in result["documents"]),
        "rejected": len(result.get("rejected", [])),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),  # less sensitive than wall time to other load on the machine
        "documents_per_second": round(documents / seconds) if seconds else None,
    }


if __name__ == "__main__":  # pragma: no cover - `python -m billing_local.preview [N [DAYS [MIX]]]`
    import sys

    argv = sys.argv[1:]
    n = int(argv[0]) if argv else 10_000
    horizon = int(argv[1]) if len(argv) > 1 else 365
    print(json.dumps(benchmark(n, horizon, mix=argv[2] if len(argv) > 2 else "mixed"), indent=2))
