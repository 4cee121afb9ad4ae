"""Builds the adapters a handler needs, once per container (the composition root).

Handlers ask for what they use; nothing is created at import time, so a cold
start only pays for the clients its function actually touches. Tests and the
local tooling replace an adapter with `override` (a factory per adapter, called
on first use) instead of patching this module; `reset` forgets every adapter
built and every override.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from billing import config
from billing.adapters.dynamo import BillingTable
from billing.adapters.messaging import Queue, Topic
from billing.adapters.objects import Bucket
from billing.ports import (
    BillingStore,
    DeadLetterQueue,
    Gateway,
    ObjectStore,
    Publisher,
    PullQueue,
    WorkQueue,
)


@dataclass(frozen=True, slots=True)
class Overrides:
    table: Callable[[], BillingStore] | None = None
    gateway: Callable[[], Gateway] | None = None
    billing_topic: Callable[[], Publisher] | None = None
    queues: dict[str, Callable[[], "SqsQueue"]] = field(default_factory=dict)  # by environment variable


class SqsQueue(WorkQueue, PullQueue, DeadLetterQueue, Protocol):
    """What a handler gets from `queue`: a queue it sends to, receives from, and parks bad input on."""


_overrides = Overrides()


def override(
    *,
    table: Callable[[], BillingStore] | None = None,
    gateway: Callable[[], Gateway] | None = None,
    billing_topic: Callable[[], Publisher] | None = None,
    queues: dict[str, Callable[[], SqsQueue]] | None = None,
) -> "Overriding":
    """Use these factories instead of the real adapters, from now on (until `reset`, or the end of the
    `with` block when used as a context manager, which restores the overrides before it)."""
    global _overrides
    previous = _overrides
    _overrides = Overrides(
        table=table or previous.table,
        gateway=gateway or previous.gateway,
        billing_topic=billing_topic or previous.billing_topic,
        queues={**previous.queues, **(queues or {})},
    )
    _clear_caches()
    return Overriding(previous)


class Overriding:
    def __init__(self, previous: Overrides) -> None:
        self._previous = previous

    def __enter__(self) -> "Overriding":
        return self

    def __exit__(self, *exc: object) -> None:
        global _overrides
        _overrides = self._previous
        _clear_caches()


@cache
def billing_table() -> BillingStore:
    if _overrides.table is not None:
        return _overrides.table()
    return BillingTable(config.billing_table(), config.due_shards())


def queue(variable: str) -> SqsQueue:
    """The queue named by an environment variable (cached by URL: the same name differs per function)."""
    factory = _overrides.queues.get(variable)
    if factory is not None:
        return _overridden_queue(variable, factory)
    return queue_at(config.setting(variable))


@cache
def _overridden_queue(variable: str, factory: Callable[[], SqsQueue]) -> SqsQueue:
    return factory()


@cache
def queue_at(url: str) -> Queue:
    return Queue(url)


def bucket(variable: str) -> ObjectStore:
    """The bucket named by an environment variable (cached by name)."""
    return _bucket(config.setting(variable))


@cache
def _bucket(name: str) -> Bucket:
    return Bucket(name)


@cache
def billing_topic() -> Publisher:
    if _overrides.billing_topic is not None:
        return _overrides.billing_topic()
    return Topic(config.setting("BILLING_TOPIC_ARN"))


@cache
def gateway() -> Gateway:
    if _overrides.gateway is not None:
        return _overrides.gateway()
    return build_gateway()


def build_gateway() -> Gateway:
    """The configured gateway itself, never an override (a wrapper in an override builds on it)."""
    from billing.adapters.gateway import sandbox_gateway  # only the payment processor needs it

    return sandbox_gateway(config.setting("LEDGER_TABLE"), config.setting("PAYMENT_PROVIDER_KEY_PARAM", ""))


def reset() -> None:
    """Forget every cached adapter and every override (tests and the embedded AWS start new clouds)."""
    global _overrides
    _overrides = Overrides()
    _clear_caches()


def _clear_caches() -> None:
    for factory in (billing_table, _overridden_queue, queue_at, _bucket, billing_topic, gateway):
        factory.cache_clear()


def _check_adapters_implement_ports(table: BillingTable, sqs: Queue, topic: Topic, s3: Bucket) -> None:
    """Never called: mypy checks here that the concrete adapters satisfy the ports."""
    _store: BillingStore = table
    _queue: SqsQueue = sqs
    _publisher: Publisher = topic
    _objects: ObjectStore = s3
