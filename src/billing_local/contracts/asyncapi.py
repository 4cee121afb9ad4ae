"""The AsyncAPI 3.0 document: topics, subscribed queues and their DLQs, who sends and receives what.

Topics, subscriptions, filter policies, raw delivery, queues, DLQs, visibility timeouts and
receive counts, which function receives from or sends to which channel, and the functions'
descriptions come from template.yaml; stack names and regions from samconfig.toml; the version
from pyproject.toml. Which messages pass a subscription's filter policy is found by applying the
policy to the SNS attributes of real billing events (examples.samples()).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from billing.domain.agreements import EVENT_TYPES
from billing.domain.billing_events import OUTBOUND_TYPES, PAYMENT_RETRY_DUE

from .channels import channel_document, sns_consumer
from .common import REPO
from .examples import samples
from .messages import REJECTED, component_id, message, rejected_message
from .wiring import Wiring, matches, project_version, refs, samconfig

__all__ = ["asyncapi"]

_TOPIC_MESSAGES = {"AgreementTopic": EVENT_TYPES, "BillingTopic": OUTBOUND_TYPES}
# Roles the template cannot tell: (function, environment variable, action, the messages it sends
# or receives; None = whatever the channel carries).
_ENV_ROLES: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("OutboxPublisherFunction", "BILLING_TOPIC_ARN", "send", OUTBOUND_TYPES),
    ("EventReplayFunction", "BILLING_TOPIC_ARN", "send", OUTBOUND_TYPES),
    ("EventReplayFunction", "REPLAY_TARGETS", "send", None),
    ("InvoiceGeneratorFunction", "PAYMENT_QUEUE_URL", "send", (PAYMENT_RETRY_DUE,)),
    ("AccountingExporterFunction", "ACCOUNTING_QUEUE_URL", "receive", None),
)
_UPSTREAM = "UpstreamPublisherArn"

_INFO = """\
What the billing system takes in and sends out. Every message body is one CloudEvents 1.0
JSON object (structured mode); each type's JSON Schema (draft 2020-12) is in schemas/.

- Delivery is at least once and unordered, on every channel: deduplicate on the CloudEvent
  `id` (billing event ids are deterministic, so a re-send or a replay carries the same id).
- Agreement events are ordered by their `data.version`, never by arrival.
- Bad input is parked on the consumer's dead-letter queue at once with `rejection_code`
  and `rejection_reason` message attributes, never retried and never dropped.
- `billing replay` re-sends stored billing events, to the topic or to one queue.

Generated from the code by `python -m billing_local.contracts --write`; see docs/EVENTS.md.
"""


def _short(function: str) -> str:
    return function.removesuffix("Function")


def _parks_bad_input(repo: Path, function: Mapping[str, Any]) -> bool:
    """Whether a function parks refused input on the DLQ its DEAD_LETTER_QUEUE_URL names.

    The template gives the variable to every SQS consumer; the handler's code says whether it uses
    it (through billing.rejections, or the variable itself).
    """
    props = function["Properties"]
    if "DEAD_LETTER_QUEUE_URL" not in ((props.get("Environment") or {}).get("Variables") or {}):
        return False
    code = "".join(p.read_text(encoding="utf-8") for p in sorted((repo / props["CodeUri"]).glob("*.py")))
    return "billing.rejections" in code or "DEAD_LETTER_QUEUE_URL" in code


class _Operations:
    """The operations and the messages each channel carries, collected from the template."""

    def __init__(self, repo: Path, wiring: Wiring) -> None:
        self.repo = repo
        self.wiring = wiring
        self.channel_messages: dict[str, list[str]] = {}
        self.operations: dict[str, Any] = {}
        self.receives: list[tuple[str, str, str, str]] = []  # (operation id, channel, title, description)
        self.from_topics: dict[str, list[str]] = {}

    def add(self, channel: str, ids: Iterable[str]) -> None:
        listed = self.channel_messages.setdefault(channel, [])
        listed += [i for i in ids if i not in listed]

    def operation(
        self, op_id: str, action: str, channel: str, types: Iterable[str], title: str, text: str, **extra: Any
    ) -> None:
        if channel not in self.wiring.channels:
            raise KeyError(f"{op_id}: {channel} is not an event channel of the template")
        carried = list(types)
        self.add(channel, carried if action == "send" else [])
        self.operations[op_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": title,
            "description": text,
            "messages": carried,  # types; resolved to references once every channel is known
            **extra,
        }

    def sns_binding(self, topic: str) -> dict[str, Any]:
        consumers = [sns_consumer(self.wiring, s) for s in self.wiring.subscriptions if s.topic == topic]
        return {"sns": {"consumers": consumers, "bindingVersion": "0.1.0"}}

    def topics(self) -> None:
        """What each topic carries, and what passes each queue subscription's filter policy."""
        events = samples()
        for topic in self.wiring.topics:
            if topic not in _TOPIC_MESSAGES:
                raise KeyError(f"{topic}: which messages does it carry? add it to contracts.asyncapi")
            self.add(topic, _TOPIC_MESSAGES[topic])
        for sub in self.wiring.queue_subscriptions:
            passing = []
            for type_ in _TOPIC_MESSAGES[sub.topic]:
                if sub.filter_scope != "MessageAttributes":
                    raise NotImplementedError(f"{sub.logical_id}: filter scope {sub.filter_scope}")
                seen = [e.attributes for e in events.of_type(type_)]
                values = {k: {a[k] for a in seen if k in a} for a in seen for k in a}
                if matches(sub.filter_policy, values) is not None:
                    passing.append(type_)
            self.add(sub.endpoint, passing)
        # What a queue gets from its topics (replays to one queue send those); receivers get that and
        # whatever else is sent to the queue, so receiving operations are added after every sender.
        self.from_topics = {channel: list(types) for channel, types in self.channel_messages.items()}

    def upstream(self) -> None:
        wiring = self.wiring
        policy = next(
            (
                k
                for k in wiring.of_type("AWS::SNS::TopicPolicy")
                if "AgreementTopic" in refs(wiring.resources[k])
            ),
            None,
        )
        if policy is None or _UPSTREAM not in refs(wiring.resources[policy]):
            raise ValueError(f"AgreementTopic's policy does not name the {_UPSTREAM} parameter")
        if "AgreementTopic" in wiring.topics:
            self.operation(
                "UpstreamPublishesToAgreementTopic",
                "send",
                "AgreementTopic",
                _TOPIC_MESSAGES["AgreementTopic"],
                "Upstream publishes agreement events",
                f"The purchase system (the principal in the {_UPSTREAM} parameter; {policy} denies "
                "every other) publishes one CloudEvent per message, at least once, in any order.",
                bindings=self.sns_binding("AgreementTopic"),
            )

    def environment_roles(self) -> None:
        """Senders (and pull receivers) named by the functions' environment variables."""
        for function, env, action, types in _ENV_ROLES:
            for channel in sorted(self.wiring.env(function, env)):
                text = self.wiring.functions()[function]["Properties"].get("Description", "")
                verb = "SendsTo" if action == "send" else "ReceivesFrom"
                title = f"{_short(function)} {action}s {'to' if action == 'send' else 'from'} {channel}"
                op_id, description = f"{_short(function)}{verb}{channel}", f"{function} ({env}): {text}."
                if action == "receive":
                    self.receives.append((op_id, channel, title, description))
                    continue
                carried = types if types is not None else self.from_topics.get(channel, [])
                extra: dict[str, Any] = {}
                if channel in self.wiring.topics:
                    extra["bindings"] = self.sns_binding(channel)
                self.operation(op_id, action, channel, carried, title, description, **extra)

    def consumers(self) -> None:
        """SQS event sources receive; consumers that park bad input send it to their DLQ."""
        for function, resource in self.wiring.functions().items():
            text = resource["Properties"].get("Description", "")
            for queue in self.wiring.sqs_sources(function):
                if queue in self.wiring.channels:
                    self.receives.append(
                        (
                            f"{_short(function)}ReceivesFrom{queue}",
                            queue,
                            f"{_short(function)} receives from {queue}",
                            f"{function} (SQS event source): {text}.",
                        )
                    )
            if not _parks_bad_input(self.repo, resource):
                continue  # no DLQ variable, or code that never uses it (e.g. a pull consumer)
            parked = self.wiring.env(function, "DEAD_LETTER_QUEUE_URL")
            for dlq in sorted(parked & set(self.wiring.channels)):
                self.operation(
                    f"{_short(function)}ParksRejectedInputOn{dlq}",
                    "send",
                    dlq,
                    [REJECTED],
                    f"{_short(function)} parks bad input on {dlq}",
                    f"{function} puts a message it refuses as bad input on {dlq} at once (no retries "
                    "burnt), with rejection_code and rejection_reason attributes.",
                )

    def receivers_and_dead_letters(self) -> None:
        for op_id, channel, title, description in self.receives:
            self.operation(
                op_id, "receive", channel, self.channel_messages.get(channel, []), title, description
            )
        for queue in self.wiring.queues:
            dlq = self.wiring.dead_letter_queue(queue)
            if dlq is not None:
                self.add(dlq, [m for m in self.channel_messages.get(queue, []) if m != REJECTED])

    def messages(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for carried_types in self.channel_messages.values():
            for type_ in carried_types:
                if component_id(type_) not in found:
                    found[component_id(type_)] = rejected_message() if type_ == REJECTED else message(type_)
        return found

    def resolved_operations(self) -> dict[str, Any]:
        for op in self.operations.values():
            channel = op["channel"]["$ref"].rsplit("/", 1)[1]
            op["messages"] = [
                {"$ref": f"#/channels/{channel}/messages/{component_id(t)}"} for t in op["messages"]
            ]
        return self.operations


def _servers(regions: list[str]) -> dict[str, Any]:
    return {
        proto: {
            "host": f"{proto}.{{region}}.amazonaws.com",
            "protocol": proto,
            "description": f"Amazon {proto.upper()} in the stack's region.",
            "variables": {"region": {"enum": regions, "default": regions[0]}},
        }
        for proto in ("sns", "sqs")
    }


def asyncapi(repo: Path = REPO) -> dict[str, Any]:
    wiring = Wiring.load(repo)
    stacks, regions = samconfig(repo)
    ops = _Operations(repo, wiring)
    ops.topics()
    ops.upstream()
    ops.environment_roles()
    ops.consumers()
    ops.receivers_and_dead_letters()
    messages = ops.messages()
    channels = {
        name: channel_document(wiring, name, ops.channel_messages.get(name, [])) for name in wiring.channels
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Recurring billing: event contracts",
            "version": project_version(repo),
            "description": _INFO,
        },
        "defaultContentType": "application/json",
        "servers": _servers(regions),
        "channels": channels,
        "operations": ops.resolved_operations(),
        "components": {
            "parameters": {
                "stackName": {
                    "enum": stacks,
                    "default": stacks[0],
                    "description": "The CloudFormation stack of a stage (samconfig.toml).",
                }
            },
            "messages": messages,
        },
    }
