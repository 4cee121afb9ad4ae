"""The declarations of shapes.py against the records of model.py and the CloudEvents attributes."""

import dataclasses
import typing

import pytest

from billing.domain.agreements import (
    EVENT_TYPES,
    AgreementAmended,
    AgreementCancelled,
    AgreementCreated,
    AgreementEvent,
    Plan,
)
from billing.domain.agreements.model import CONTENT_FIELDS
from billing.domain.agreements.shapes import CE_KNOWN, CLOUDEVENT, DATA, PLAN

KINDS = {t.__dataclass_fields__["type"].default: t for t in typing.get_args(AgreementEvent)}
HEADER = {"event_id", "time", "fingerprint", "type"}


def test_one_record_kind_and_one_data_shape_per_event_type():
    assert tuple(KINDS) == EVENT_TYPES == tuple(DATA)
    assert set(KINDS.values()) == {AgreementCreated, AgreementAmended, AgreementCancelled}


@pytest.mark.parametrize("type_", EVENT_TYPES)
def test_each_kind_holds_exactly_its_declared_data_fields(type_):
    declared = [f.name for f in DATA[type_].fields]
    held = {f.name for f in dataclasses.fields(KINDS[type_])} - HEADER
    assert set(declared) == held
    assert set(declared) <= set(CONTENT_FIELDS)
    # The fields the kind does not hold read as None (the flat view of every event).
    missing = set(CONTENT_FIELDS) - held
    assert all(isinstance(getattr(KINDS[type_], name), property) for name in missing)


def test_the_plan_shape_is_the_plan_record():
    assert [f.name for f in PLAN.fields] == [f.name for f in dataclasses.fields(Plan)]
    assert PLAN.record is Plan


def test_the_envelope_is_cloudevents_1_0_structured_mode():
    assert {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "dataschema",
        "data",
    } == CE_KNOWN
    assert [f.name for f in CLOUDEVENT.attributes if f.required] == ["specversion", "id", "source", "type"]
    assert CLOUDEVENT.tag == "type" and CLOUDEVENT.payload == "data"
