"""Inbound agreement events (contract §1) and their fold into agreement state (§2).

`parse_event` turns one CloudEvents 1.0 structured-mode JSON message (the text
`message_body` publishes, for an object or a string of a scenario) into an
`AgreementEvent` (a tagged union: `AgreementCreated | AgreementAmended |
AgreementCancelled`) or raises `BadInput` with a code and a field. `fold` turns the
known events of one agreement, in any order and with duplicates, into the state
the billing rules read. `admit` is the ingest-time rule shared by the projector
and `billing preview`: is a new event new, a duplicate, or in conflict with what
is already stored?

- `model`: the typed records (events, plan, state) and the contract's constants;
- `shapes`: one declaration per message shape, walked by the parser and by the
  generator of the published JSON Schemas (billing_local.contracts);
- `parse`: JSON and CloudEvents decoding, the declarations' syntactic checks;
- `rules`: the semantic checks (active currency, known time zone) and the rules
  between events of one agreement (duplicates, conflicts, plan changes);
- `fold`: the events of one agreement folded into its state.
"""

from .fold import fold
from .model import (
    AFTER_CANCELLATION,
    AGREEMENT_AMENDED,
    AGREEMENT_CANCELLED,
    AGREEMENT_CREATED,
    CONFLICT,
    EVENT_TYPES,
    MAX_AMOUNT_MINOR,
    MAX_DATE,
    MAX_EMAIL_LENGTH,
    MAX_EVENT_BYTES,
    MAX_EVENT_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_INTERVAL_COUNT,
    MAX_VERSION,
    MIN_DATE,
    PLAN_CHANGE_NOT_ALLOWED,
    AgreementAmended,
    AgreementCancelled,
    AgreementCreated,
    AgreementEvent,
    AgreementState,
    Fold,
    Plan,
    PriceStep,
    canonical_rate,
)
from .parse import message_body, parse_event
from .rules import REFUSED, admit, id_conflict, is_known_timezone, known_timezones

__all__ = [
    "AFTER_CANCELLATION",
    "AGREEMENT_AMENDED",
    "AGREEMENT_CANCELLED",
    "AGREEMENT_CREATED",
    "CONFLICT",
    "EVENT_TYPES",
    "MAX_AMOUNT_MINOR",
    "MAX_DATE",
    "MAX_EMAIL_LENGTH",
    "MAX_EVENT_BYTES",
    "MAX_EVENT_ID_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_INTERVAL_COUNT",
    "MAX_VERSION",
    "MIN_DATE",
    "PLAN_CHANGE_NOT_ALLOWED",
    "REFUSED",
    "AgreementAmended",
    "AgreementCancelled",
    "AgreementCreated",
    "AgreementEvent",
    "AgreementState",
    "Fold",
    "Plan",
    "PriceStep",
    "admit",
    "canonical_rate",
    "fold",
    "id_conflict",
    "is_known_timezone",
    "known_timezones",
    "message_body",
    "parse_event",
]
