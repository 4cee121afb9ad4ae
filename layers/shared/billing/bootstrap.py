"""Builds the adapters a handler needs, once per container (the composition root).

Handlers ask for what they use; nothing is created at import time, so a cold
start only pays for the clients its function actually touches.
"""

from functools import cache

from billing import config
from billing.adapters.dynamo import BillingTable
from billing.adapters.messaging import Queue, Topic
from billing.domain.payments import PaymentGateway


@cache
def billing_table() -> BillingTable:
    return BillingTable(config.billing_table(), config.due_shards())


def queue(variable: str) -> Queue:
    """The queue named by an environment variable (cached by URL: the same name differs per function)."""
    return _queue(config.setting(variable))


@cache
def _queue(url: str) -> Queue:
    return Queue(url)


@cache
def billing_topic() -> Topic:
    return Topic(config.setting("BILLING_TOPIC_ARN"))


@cache
def gateway() -> PaymentGateway:
    from billing.adapters.gateway import sandbox_gateway  # only the payment processor needs it

    return sandbox_gateway(config.setting("LEDGER_TABLE"), config.setting("PAYMENT_PROVIDER_KEY_PARAM", ""))


def reset() -> None:
    """Forget every cached adapter (tests and the embedded AWS start new clouds)."""
    for factory in (billing_table, _queue, billing_topic, gateway):
        factory.cache_clear()
