"""BillingTable: the single-table layout of docs/ARCHITECTURE.md, behind small methods.

Everything about one agreement lives in the partition `AGR#<id>`; sort keys are
chosen so the generator reads all it needs with one Query (`sk < "EVT$"`):

    AGREEMENT             state: rev (optimistic lock), doc_seq, timezone, due-index keys
    DOC#<seq:06d>         issued documents
    EVT#<version:010d>    inbound agreement events (one per version: dedupe and conflicts)
    OUT#<event id>        billing events: the outbox and the event store
    PAY!SETTLEMENT        a closed agreement's settlement: owed, closure, refunds (sorts before PAY#)
    PAY#<document id>     payment state of one invoice; once final, also its outcome event

each inbound event id in its own partition `EVENT#<event id>` (sort key `EVENT`): the
claim of the id (`fingerprint`, `agreement_id`, `version`), written with the event, so that an
id is taken once system-wide and not once per agreement;
each distinct rejected input in `REJ#<sha-256 of the body>` (sort key `REJECTION`): code,
reason, event id, how often it came (`seen`), first_seen, last_seen, parked_at;
each daily run in its own partition `RUN#<run instant>` (sort key `RUN`): the
shards expected, the shards done (a string set), started_at and completed_at; and
each numbering series in `SERIES#<series>` (sort key `SERIES`): `seq`, the sequence
of its last committed document, moved in the document's own transaction.

Every write that matters is conditional or transactional.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import ClientError

from billing.adapters.table import (
    EVENT_ID_SK,
    EVENT_SHARDS,
    REJECTION_SK,
    RUN_SK,
    SERIES_SK,
    SETTLEMENT_SK,
    STATE_SK,
    Table,
    agreement_pk,
    condition_failed,
    deserialize,
    due_shard,
    event_id_pk,
    failed_item,
    outbox_fields,
    rejection_pk,
    run_pk,
    serialize,
    series_pk,
)
from billing.domain.billing_events import BillingEvent
from billing.domain.engine import Document
from billing.domain.settlement import CreditAccount, Refund, with_refund
from billing.ports import (
    BillingView,
    EventIdTaken,
    Payment,
    Rejection,
    RunTally,
    SequenceTaken,
    SettlementAccount,
    SettlementView,
    StaleState,
    StoredInbound,
    VersionTaken,
)

__all__ = ["SETTLEMENT_SK", "STATE_SK", "BillingTable", "agreement_pk", "due_shard"]


class _PaymentRecords(Table):
    """The payment processor's items: payments, settlements and refunds (a PaymentSide)."""

    # -- payments ----------------------------------------------------------------

    def payment(self, agreement_id: str, document_id: str) -> Payment | None:
        response = self._ddb.get_item(
            TableName=self.name,
            Key=serialize(pk=agreement_pk(agreement_id), sk=f"PAY#{document_id}"),
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        return _payment(agreement_id, deserialize(response["Item"]))

    def commit_payment(
        self,
        payment: Payment,
        *,
        previous_attempts: int,
        retry_at: str | None,
        events: Sequence[BillingEvent],
    ) -> None:
        """Record an attempt's outcome (and its billing event) once: conditional on the attempt count.

        The final outcome's event is stored on the payment item itself (one write, not a transaction
        of two: 1 WRU instead of 4); the stream publishes payment items that carry one, and the event
        store reads them beside the `OUT#` items. Raises StaleState if this attempt was already
        recorded (a redelivery).
        """
        if len(events) > 1:
            raise ValueError("an attempt records at most one outcome event")
        pk = agreement_pk(payment.agreement_id)
        item = serialize(
            pk=pk,
            sk=f"PAY#{payment.document_id}",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            payment_method=payment.payment_method,
            status=payment.status,
            attempts=payment.attempts,
            first_attempt_on=payment.first_attempt_on.isoformat(),
        )
        if retry_at is not None:
            item |= serialize(
                gsi1pk=due_shard(payment.agreement_id, self.shards),
                gsi1sk=f"{retry_at}#PAY#{payment.document_id}#{payment.attempts + 1}",
            )
        for event in events:
            item |= serialize(event_id=event.id, **outbox_fields(event))
        put = {
            "TableName": self.name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk) OR attempts = :prev",
            "ExpressionAttributeValues": serialize(**{":prev": previous_attempts}),
        }
        if previous_attempts == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
            del put["ExpressionAttributeValues"]
        self._transact([{"Put": put}])

    # -- settlement --------------------------------------------------------------

    def settlement(self, agreement_id: str) -> SettlementView:
        """The settlement item and every payment item: one consistent Query (`PAY!` sorts before `PAY#`)."""
        account, payments = None, []
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :pay)",
            ExpressionAttributeValues=serialize(**{":pk": agreement_pk(agreement_id), ":pay": "PAY"}),
            ConsistentRead=True,
        ):
            if item["sk"] == SETTLEMENT_SK:
                account = _account(agreement_id, item)
            else:
                payments.append(_payment(agreement_id, item))
        return SettlementView(account, tuple(payments))

    def record_closure(self, account: SettlementAccount) -> bool:
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key=serialize(pk=agreement_pk(account.agreement_id), sk=SETTLEMENT_SK),
                UpdateExpression="SET currency = :cur, payment_method = :pm, owed = :owed, closure = :c, "
                "refunds = if_not_exists(refunds, :none), ver = if_not_exists(ver, :zero) + :one",
                ConditionExpression="attribute_not_exists(pk) OR closure < :c",
                ExpressionAttributeValues=serialize(
                    **{
                        ":cur": account.currency,
                        ":pm": account.payment_method,
                        ":owed": account.owed_minor,
                        ":c": account.closure,
                        ":none": [],
                        ":zero": 0,
                        ":one": 1,
                    }
                ),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def save_refund(
        self, account: SettlementAccount, refund: Refund, events: Sequence[BillingEvent] = ()
    ) -> None:
        refunds = [
            {"id": r.refund_id, "amount": r.amount_minor, "status": r.status}
            for r in with_refund(account.refunds, refund)
        ]
        pk = agreement_pk(account.agreement_id)
        update = {
            "Update": {
                "TableName": self.name,
                "Key": serialize(pk=pk, sk=SETTLEMENT_SK),
                "UpdateExpression": "SET refunds = :refunds, ver = :next",
                "ConditionExpression": "ver = :ver",
                "ExpressionAttributeValues": serialize(
                    **{":refunds": refunds, ":ver": account.ver, ":next": account.ver + 1}
                ),
            }
        }
        self._transact([update, *(self._outbox_put(pk, e) for e in events)])


class BillingTable(_PaymentRecords):
    """Everything BillingTable holds (a BillingStore)."""

    # -- inbound agreement events ------------------------------------------------

    def inbound_events(self, agreement_id: str) -> list[StoredInbound]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :evt)",
            ExpressionAttributeValues=serialize(**{":pk": agreement_pk(agreement_id), ":evt": "EVT#"}),
        )
        return [_inbound(i) for i in items]

    def record_inbound(self, agreement_id: str, stored: StoredInbound, received_at: str, due_at: str) -> None:
        """Store the event once per version, claim its id and mark the agreement due, atomically.

        Raises VersionTaken if the version is already stored (a duplicate or a conflict: the caller
        reads again), else EventIdTaken if the id is claimed with another fingerprint (another
        agreement's event). The claim accepts its own fingerprint again: two concurrent copies of
        one event then differ only in the version, which the caller's re-read sees as a duplicate.
        """
        pk = agreement_pk(agreement_id)
        put = {
            "TableName": self.name,
            "Item": serialize(
                pk=pk,
                sk=f"EVT#{stored.version:010d}",
                version=stored.version,
                event_id=stored.event_id,
                fingerprint=stored.fingerprint,
                body=stored.body,
                received_at=received_at,
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        claim = {
            "TableName": self.name,
            "Item": serialize(
                pk=event_id_pk(stored.event_id),
                sk=EVENT_ID_SK,
                fingerprint=stored.fingerprint,
                agreement_id=agreement_id,
                version=stored.version,
            ),
            "ConditionExpression": "attribute_not_exists(pk) OR fingerprint = :fingerprint",
            "ExpressionAttributeValues": serialize(**{":fingerprint": stored.fingerprint}),
        }
        items = [{"Put": put}, {"Update": self._mark_due(pk, agreement_id, due_at)}, {"Put": claim}]
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except ClientError as error:
            failed = [
                r.get("Code") == "ConditionalCheckFailed"
                for r in error.response.get("CancellationReasons", [])
            ]
            if failed[:1] == [True]:
                raise VersionTaken(f"{agreement_id} v{stored.version}") from error
            if failed[2:3] == [True]:
                raise EventIdTaken(stored.event_id) from error
            raise

    def _mark_due(self, pk: str, agreement_id: str, due_at: str) -> dict[str, Any]:
        # Due at the event's arrival: the next daily run picks the agreement up.
        return {
            "TableName": self.name,
            "Key": serialize(pk=pk, sk=STATE_SK),
            "UpdateExpression": "SET rev = if_not_exists(rev, :zero) + :one, gsi1pk = :shard, "
            "gsi1sk = :due ADD inbound_count :one",
            "ExpressionAttributeValues": serialize(
                **{
                    ":zero": 0,
                    ":one": 1,
                    ":shard": due_shard(agreement_id, self.shards),
                    ":due": f"{due_at}#{STATE_SK}",
                }
            ),
        }

    # -- billing -----------------------------------------------------------------

    def billing_view(self, agreement_id: str) -> BillingView:
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk < :hi",
            ExpressionAttributeValues=serialize(**{":pk": agreement_pk(agreement_id), ":hi": "EVT$"}),
            ConsistentRead=True,
        )
        state: dict[str, Any] = {}
        documents: list[Document] = []
        inbound: list[StoredInbound] = []
        for item in items:
            sk = item["sk"]
            if sk == STATE_SK:
                state = item
            elif sk.startswith("DOC#"):
                documents.append(Document.from_json(json.loads(item["document"]), seq=int(item["seq"])))
            elif sk.startswith("EVT#"):
                inbound.append(_inbound(item))
        return BillingView(
            agreement_id=agreement_id,
            inbound=tuple(inbound),
            documents=tuple(sorted(documents, key=lambda d: d.seq)),
            rev=int(state.get("rev", 0)),
            last_run_at=state.get("last_run_at"),
            credit=CreditAccount(int(state.get("credit", 0)), int(state.get("closures", 0))),
        )

    def last_sequence(self, series: str) -> int:
        item = self._ddb.get_item(
            TableName=self.name,
            Key=serialize(pk=series_pk(series), sk=SERIES_SK),
            ConsistentRead=True,
            ProjectionExpression="seq",
        ).get("Item")
        return int(item["seq"]["N"]) if item else 0

    def commit_run(
        self,
        view: BillingView,
        *,
        run_at: str,
        document: Document | None,
        events: Sequence[BillingEvent],
        next_due_at: str | None,
        credit: CreditAccount | None = None,
    ) -> None:
        """Write the run's outcome for one agreement in one transaction, if nobody changed it since `view`.

        The document, its billing events (the outbox) and the next due instant
        commit together or not at all. Raises StaleState when the agreement
        changed (a new inbound event, another generator): read again and redo.
        """
        pk = agreement_pk(view.agreement_id)
        values: dict[str, Any] = {":rev": view.rev, ":next": view.rev + 1, ":run": run_at}
        sets = ["rev = :next", "last_run_at = :run"]
        if next_due_at is None:
            remove = " REMOVE gsi1pk, gsi1sk"
        else:
            remove = ""
            sets += ["gsi1pk = :shard", "gsi1sk = :due"]
            values[":shard"] = due_shard(view.agreement_id, self.shards)
            values[":due"] = f"{next_due_at}#{STATE_SK}"
        if credit is not None and credit != view.credit:
            sets += ["credit = :credit", "closures = :closures"]
            values |= {":credit": credit.balance_minor, ":closures": credit.closures}
        condition = "attribute_not_exists(rev)" if view.rev == 0 else "rev = :rev"
        if view.rev == 0:
            del values[":rev"]
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": serialize(pk=pk, sk=STATE_SK),
                    "UpdateExpression": "SET " + ", ".join(sets) + remove,
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": serialize(**values),
                }
            }
        ]
        if document is not None:
            items.append(self._take_number(document))
            items.append(
                self._put_new(
                    pk, f"DOC#{document.seq:06d}", document=json.dumps(document.to_json()), seq=document.seq
                )
            )
        items += [self._outbox_put(pk, event) for event in events]
        try:
            self._transact(items)
        except StaleState as error:
            if document is not None and failed_item(error.__cause__) == 1:
                raise SequenceTaken(f"{document.series} {document.sequence}") from error
            raise

    def _take_number(self, document: Document) -> dict[str, Any]:
        """Move the series from the document's sequence - 1 to its sequence (item 1 of the commit)."""
        if document.series is None or document.sequence is None:
            raise ValueError(f"document {document.document_id} has no number: number it before committing")
        first = document.sequence == 1
        values = (
            {":seq": document.sequence}
            if first
            else {":seq": document.sequence, ":prev": document.sequence - 1}
        )
        return {
            "Update": {
                "TableName": self.name,
                "Key": serialize(pk=series_pk(document.series), sk=SERIES_SK),
                "UpdateExpression": "SET seq = :seq",
                "ConditionExpression": "attribute_not_exists(pk)" if first else "seq = :prev",
                "ExpressionAttributeValues": serialize(**values),
            }
        }

    # -- event store -------------------------------------------------------------

    def events_between(self, first_day: date, last_day: date) -> Iterator[dict[str, Any]]:
        """Stored billing events by day (EventsByDay index, every shard of each day), oldest first."""
        day = first_day
        while day <= last_day:
            events = [
                item
                for shard in range(EVENT_SHARDS)
                for item in self._query(
                    IndexName="EventsByDay",
                    KeyConditionExpression="gsi2pk = :day",
                    ExpressionAttributeValues=serialize(**{":day": f"EVT#{day.isoformat()}#{shard}"}),
                )
            ]
            yield from sorted(events, key=lambda item: item["gsi2sk"])
            day += timedelta(days=1)

    def events_of(self, agreement_id: str) -> list[dict[str, Any]]:
        """The `OUT#` items and the payment items that carry their outcome event, oldest first."""
        items = [
            item
            for prefix in ("OUT#", "PAY#")
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=serialize(**{":pk": agreement_pk(agreement_id), ":prefix": prefix}),
            )
            if "body" in item
        ]
        return sorted(items, key=lambda i: (i["time"], i["sk"]))

    # -- due index ---------------------------------------------------------------

    def due_page(
        self, shard: int, upto: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        """One page of (agreement id, due sort key) due at or before `upto` in a shard, and the cursor
        of the next page (None at the end)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": "DueIndex",
            "KeyConditionExpression": "gsi1pk = :shard AND gsi1sk <= :upto",
            "ExpressionAttributeValues": serialize(**{":shard": f"DUE#{shard}", ":upto": f"{upto}#~"}),
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = self._ddb.query(**kwargs)
        items = [deserialize(i) for i in page.get("Items", [])]
        return [(i["pk"].removeprefix("AGR#"), i["gsi1sk"]) for i in items], page.get("LastEvaluatedKey")

    # -- rejected input ----------------------------------------------------------

    def note_rejection(
        self, key: str, *, code: str, reason: str, event_id: str | None, seen_at: str
    ) -> Rejection:
        """Count one delivery of rejected input in one update (ADD: concurrent copies all count)."""
        sets = (
            "first_seen = if_not_exists(first_seen, :at), last_seen = :at, #code = :code, #reason = :reason"
        )
        values: dict[str, Any] = {":at": seen_at, ":code": code, ":reason": reason, ":one": 1}
        if event_id is not None:
            sets += ", event_id = :event_id"
            values[":event_id"] = event_id
        response = self._ddb.update_item(
            TableName=self.name,
            Key=serialize(pk=rejection_pk(key), sk=REJECTION_SK),
            UpdateExpression=f"SET {sets} ADD seen :one",
            ExpressionAttributeNames={"#code": "code", "#reason": "reason"},
            ExpressionAttributeValues=serialize(**values),
            ReturnValues="ALL_NEW",
        )
        return _rejection(key, deserialize(response["Attributes"]))

    def mark_parked(self, key: str, parked_at: str) -> None:
        self._ddb.update_item(
            TableName=self.name,
            Key=serialize(pk=rejection_pk(key), sk=REJECTION_SK),
            UpdateExpression="SET parked_at = :at",
            ExpressionAttributeValues=serialize(**{":at": parked_at}),
        )

    def rejection(self, key: str) -> Rejection | None:
        item = self._ddb.get_item(
            TableName=self.name, Key=serialize(pk=rejection_pk(key), sk=REJECTION_SK), ConsistentRead=True
        ).get("Item")
        return None if item is None else _rejection(key, deserialize(item))

    # -- daily runs --------------------------------------------------------------

    def start_run(self, run_at: str, shards: int, started_at: str) -> None:
        """Record the run once: a retried scheduler invocation of the same run keeps the first start."""
        try:
            self._ddb.put_item(
                TableName=self.name,
                Item=serialize(pk=run_pk(run_at), sk=RUN_SK, jobs_expected=shards, started_at=started_at),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

    def shard_done(self, run_at: str, shard: int) -> RunTally | None:
        """Add the shard to the run's set of done shards (a set: a shard counted twice counts once)."""
        try:
            response = self._ddb.update_item(
                TableName=self.name,
                Key=serialize(pk=run_pk(run_at), sk=RUN_SK),
                UpdateExpression="ADD shards :shard",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=serialize(**{":shard": {str(shard)}}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None  # a job of a run the scheduler never recorded
            raise
        run = deserialize(response["Attributes"])
        return RunTally(
            shards_done=len(run["shards"]),
            shards_expected=int(run["jobs_expected"]),
            started_at=run["started_at"],
            completed_at=run.get("completed_at"),
        )

    def complete_run(self, run_at: str, completed_at: str) -> bool:
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key=serialize(pk=run_pk(run_at), sk=RUN_SK),
                UpdateExpression="SET completed_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(completed_at)",
                ExpressionAttributeValues=serialize(**{":at": completed_at}),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


def _payment(agreement_id: str, item: dict[str, Any]) -> Payment:
    return Payment(
        agreement_id=agreement_id,
        document_id=item["sk"].removeprefix("PAY#"),
        amount_minor=int(item["amount_minor"]),
        currency=item["currency"],
        payment_method=item["payment_method"],
        status=item["status"],
        attempts=int(item["attempts"]),
        first_attempt_on=date.fromisoformat(item["first_attempt_on"]),
    )


def _account(agreement_id: str, item: dict[str, Any]) -> SettlementAccount:
    return SettlementAccount(
        agreement_id=agreement_id,
        currency=item["currency"],
        payment_method=item["payment_method"],
        owed_minor=int(item["owed"]),
        closure=int(item["closure"]),
        refunds=tuple(Refund(r["id"], int(r["amount"]), r["status"]) for r in item["refunds"]),
        ver=int(item["ver"]),
    )


def _inbound(item: dict[str, Any]) -> StoredInbound:
    return StoredInbound(
        version=int(item["version"]),
        event_id=item["event_id"],
        fingerprint=item["fingerprint"],
        body=item["body"],
    )


def _rejection(key: str, item: dict[str, Any]) -> Rejection:
    return Rejection(
        key=key,
        code=item["code"],
        reason=item["reason"],
        event_id=item.get("event_id"),
        seen=int(item["seen"]),
        first_seen=item["first_seen"],
        last_seen=item["last_seen"],
        parked_at=item.get("parked_at"),
    )
