"""What a park writes is text real SQS accepts (issue 15, item 6): a rejection_reason (or any
attribute value) holding NUL, another control character or a lone surrogate would make SQS refuse
the send, and the message would be retried until it lands on the DLQ without its reason."""

import json
from typing import Any

import pytest
from fakes import FakeBillingTable, FakeQueue
from service_builders import created, project

from billing.adapters.messaging import REASON_MAX, Queue, sqs_text
from billing.domain.agreements import parse_event
from billing.domain.errors import BadInput


def sqs_accepts(text: str) -> bool:
    """SQS's rule for bodies and attribute values: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
    #x10000-#x10FFFF (written out here on its own, not with the adapter's pattern)."""
    allowed = ((0x9, 0x9), (0xA, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))
    return all(any(low <= ord(ch) <= high for low, high in allowed) for ch in text)


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        for name, value in kwargs.get("MessageAttributes", {}).items():
            if not sqs_accepts(value["StringValue"]):  # what real SQS answers
                raise ValueError(f"InvalidParameterValue: attribute {name} holds an invalid character")
        self.sent.append(kwargs)
        return {"MessageId": "m1"}


def extension_named(name: str) -> str:
    event = created("agr-x")
    event[name] = "v"
    return json.dumps(event)  # "bad\u0000name" travels as a JSON escape, as upstream sends it


def test_the_reason_of_an_extension_named_with_a_nul_is_escaped() -> None:
    with pytest.raises(BadInput) as info:
        parse_event(extension_named("bad\u0000name"))
    reason = str(info.value)
    assert reason == (
        "invalid_field: bad\\u0000name: extension attribute names are lower-case letters and digits"
    )
    assert sqs_accepts(reason) and reason.isprintable()


def test_the_projector_parks_it_with_a_reason_sqs_accepts(table: FakeBillingTable) -> None:
    dlq = FakeQueue()
    body = extension_named("bad\u0000name")
    assert project(table, dlq, body) == {"batchItemFailures": []}
    [(parked_body, _, code, reason)] = dlq.parked
    assert (parked_body, code) == (body, "invalid_field")
    assert reason.startswith("invalid_field: bad\\u0000name: ") and sqs_accepts(reason)


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x07", "\x7f", "\u200b", "\ufffe", "\ud800"])
def test_a_reason_is_one_visible_line_whatever_its_field_and_message_quote(character: str) -> None:
    error = BadInput("invalid_field", f"a{character}b", f"data.x{character}y")
    assert str(error).isprintable() and sqs_accepts(str(error))
    assert f"\\u{ord(character):04x}" in str(error)
    assert BadInput(error.code, error.message, error.field) == error  # escaping twice changes nothing


def test_park_escapes_every_attribute_value_sqs_refuses_and_keeps_the_cut() -> None:
    sqs = RecordingSqs()
    reason = "invalid_field: bad\x00name: " + "\x01" * 2000
    Queue("https://sqs/dlq", client=sqs).park(
        '{"id":"e1"}', {"trace": "t\x00\ud800\uffff", "fine": "tab\there é 😀"}, "invalid_field", reason
    )
    [sent] = sqs.sent
    attributes = {k: v["StringValue"] for k, v in sent["MessageAttributes"].items()}
    assert attributes["trace"] == "t\\u0000\\ud800\\uffff"
    assert attributes["fine"] == "tab\there é 😀"  # what SQS takes is kept as it is
    assert attributes["rejection_reason"].startswith("invalid_field: bad\\u0000name: \\u0001")
    assert len(attributes["rejection_reason"]) == REASON_MAX
    assert sent["MessageBody"] == '{"id":"e1"}'


def test_sqs_text_leaves_what_sqs_accepts() -> None:
    text = "\t\n\r ~\x7f\x80\ud7ff\ue000\ufffd\U00010000\U0010ffff"
    assert sqs_accepts(text) and sqs_text(text) == text
