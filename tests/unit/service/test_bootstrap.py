"""The composition root takes overrides (no monkeypatching): tests and the local tooling inject fakes."""

import pytest
from fakes import FakeBillingTable, FakeQueue, FakeTopic, sandbox_gateway

from billing import bootstrap
from billing.config import MissingSetting
from billing.ports import BillingStore, Gateway, Publisher, PullQueue, WorkQueue


def test_the_fakes_are_the_ports() -> None:
    table: BillingStore = FakeBillingTable()
    queue: WorkQueue = FakeQueue()
    pulled: PullQueue = FakeQueue()
    topic: Publisher = FakeTopic()
    gateway: Gateway = sandbox_gateway()
    assert isinstance(topic, Publisher) and not isinstance(queue, Publisher)
    assert None not in (table, pulled, gateway)


def test_an_override_is_used_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBillingTable()
    bootstrap.override(table=lambda: fake)
    assert bootstrap.billing_table() is fake
    bootstrap.reset()
    bootstrap.override(billing_topic=FakeTopic)
    assert isinstance(bootstrap.billing_topic(), FakeTopic)
    assert bootstrap.billing_topic() is bootstrap.billing_topic()  # built once
    bootstrap.reset()
    monkeypatch.delenv("BILLING_TABLE", raising=False)
    with pytest.raises(MissingSetting):  # the real table again, which needs its variable
        bootstrap.billing_table()


def test_an_override_as_a_context_manager_restores_the_one_before() -> None:
    outer, inner = FakeBillingTable(), FakeBillingTable()
    with bootstrap.override(table=lambda: outer):
        with bootstrap.override(table=lambda: inner, queues={"INVOICE_JOB_QUEUE_URL": FakeQueue}):
            assert bootstrap.billing_table() is inner
            assert isinstance(bootstrap.queue("INVOICE_JOB_QUEUE_URL"), FakeQueue)
        assert bootstrap.billing_table() is outer


def test_a_wrapping_override_builds_on_the_real_adapter() -> None:
    """How `billing simulate --chaos` wraps the gateway: the wrapper is built lazily, on first use."""
    built: list[str] = []

    class Wrapper:
        def __init__(self, inner: Gateway) -> None:
            built.append("wrapper")
            self.inner = inner

    bootstrap.override(gateway=lambda: Wrapper(sandbox_gateway()))  # type: ignore[arg-type,return-value]
    assert built == []
    assert isinstance(bootstrap.gateway(), Wrapper)
    assert bootstrap.gateway() is bootstrap.gateway() and built == ["wrapper"]
