"""LocalCloud: a SAM template stood up on moto, in-process, with the real handlers wired in.

Everything is derived from the translated template: which queue feeds which function,
which topic feeds which queue, which schedule starts which function. Nothing is restated.
"""

import collections
import contextlib
import json
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import moto_patches
from .clock import VirtualClock, iso_z
from .instrumentation import ApiHook, Faults, RequestKey, mark_internal
from .intrinsics import ACCOUNT_ID, Resolver, TemplateError, effective_parameters
from .lambdas import HANDLER_STDOUT, LambdaFunction, LogCapture
from .pollers import SqsPoller, StreamPoller
from .schedules import Schedule
from .template import TranslatedTemplate, translate

#: Errors of the Lambda Invoke API itself (the scheduler retries those, then uses its DLQ).
INVOKE_API_ERRORS = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "ServiceException", "EC2ThrottledException"}
)

_SCHEDULER_CONTEXT = re.compile(
    r"<aws\.scheduler\.(scheduled-time|schedule-arn|execution-id|attempt-number)>"
)


@dataclass
class Resource:
    logical_id: str
    type: str
    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class AsyncConfig:
    max_retries: int = 2
    on_failure: str | None = None  # destination ARN (EventInvokeConfig)
    dead_letter: str | None = None  # DeadLetterConfig.TargetArn


@dataclass
class ScheduleState:
    logical_id: str
    name: str
    arn: str
    schedule: Schedule
    target: dict[str, Any]
    enabled: bool
    checked_until: datetime
    fired: int = 0


@dataclass
class AsyncFailure:
    """An asynchronous invocation that failed for good (kept when no destination took it)."""

    function: str
    event: Any
    error: str
    source: str


class LocalCloud:
    """Stand a SAM template up on moto and drive its Lambda handlers in-process."""

    _clients_for = ("sqs", "sns", "dynamodb", "dynamodbstreams", "s3", "ssm", "scheduler")

    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        parameters: dict[str, str] | None = None,
        start: datetime | None = None,
        region: str = "us-east-1",
        project_root: Path | None = None,
        stack_name: str = "local",
        echo_logs: TextIO | None = None,
    ) -> None:
        path = Path(template)
        if not path.is_absolute() and project_root is not None:
            path = Path(project_root) / path
        path = path.resolve()
        if not path.is_file():
            raise FileNotFoundError(f"template not found: {path}")
        self.template_path = path
        self.project_root = Path(project_root).resolve() if project_root is not None else path.parent
        self.region = region
        self.stack_name = stack_name
        self.account_id = ACCOUNT_ID
        self.translated: TranslatedTemplate = translate(
            path, dict(parameters or {}), region, self.project_root
        )
        self.template = self.translated.cfn
        self.parameters = effective_parameters(self.template.get("Parameters") or {}, dict(parameters or {}))
        self.resolver = Resolver(
            self.template,
            self.parameters,
            region=region,
            stack_name=stack_name,
            ref=self._ref,
            get_att=self._get_att,
        )
        self.clock = VirtualClock(start)
        self.faults = Faults()
        self.skipped: list[tuple[str, str]] = []
        self.email_subscriptions: list[dict[str, Any]] = []
        self.async_failures: list[AsyncFailure] = []
        self.log_capture = LogCapture(echo=echo_logs)
        self._definitions: dict[str, dict[str, Any]] = {
            lid: d for lid, d in self.template["Resources"].items() if self.resolver.is_enabled(d)
        }
        self._resources: dict[str, Resource] = {}
        self._creating: list[str] = []
        self._by_arn: dict[str, str] = {}
        self._functions: dict[str, LambdaFunction] = {}
        self._async: dict[str, AsyncConfig] = {}
        self._pollers: list[SqsPoller | StreamPoller] = []
        self._schedules: dict[str, ScheduleState] = {}
        self._poller_counts: collections.Counter[RequestKey] = collections.Counter()
        self._hook = ApiHook(self.faults)
        self._clients: dict[str, Any] = {}
        self._session: boto3.session.Session | None = None
        self._mock: Any = None
        self._stack = contextlib.ExitStack()
        self.active = False

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "LocalCloud":
        from moto import mock_aws

        from .lambdas import patched_environ

        stack = self._stack
        try:
            stack.enter_context(
                patched_environ(
                    {
                        "AWS_DEFAULT_REGION": self.region,
                        "AWS_REGION": self.region,
                        "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing",
                        "AWS_SECURITY_TOKEN": "testing",
                        # botocore >= 1.40 sends DynamoDB Streams calls that carry an ARN to
                        # <account>.streams-ddb.<region>.amazonaws.com, which moto 5.2 doesn't route.
                        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                    }
                )
            )
            stack.enter_context(_unset_environ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"))
            self._mock = mock_aws()
            self._mock.start()
            stack.callback(self._mock.stop)
            boto3.DEFAULT_SESSION = None
            stack.callback(setattr, boto3, "DEFAULT_SESSION", None)
            self._hook.response_filters.update(
                {
                    ("sqs", "ReceiveMessage"): self._virtual_sqs_timestamps,
                    ("dynamodbstreams", "GetRecords"): self._virtual_stream_timestamps,
                }
            )
            self._hook.install()
            moto_patches.install()
            stack.callback(moto_patches.uninstall)
            stack.callback(self._hook.uninstall)
            self._set_clock_source(self.clock.now)
            stack.callback(self._set_clock_source, None)
            _reset_layer_caches()
            stack.callback(_reset_layer_caches)
            stack.callback(self._unload_functions)
            HANDLER_STDOUT.target = self.log_capture
            stack.callback(setattr, HANDLER_STDOUT, "target", None)
            self._session = _internal_session(self.region)
            self.active = True
            stack.callback(setattr, self, "active", False)
            for logical_id in self._definitions:
                self._ensure(logical_id)
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()
        self._clients.clear()

    @staticmethod
    def _set_clock_source(source: Callable[[], datetime] | None) -> None:
        try:
            from billing import clock
        except ImportError:  # the runtime also works for templates without the billing layer
            return
        clock.set_source(source)

    def _virtual_sqs_timestamps(self, response: dict[str, Any]) -> None:
        """moto stamps messages with real time; code sees the virtual instant they were sent at."""
        for message in response.get("Messages", []):
            attributes = message.get("Attributes")
            if attributes:
                for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
                    if key in attributes:
                        attributes[key] = str(self.clock.virtual_millis(attributes[key]))

    def _virtual_stream_timestamps(self, response: dict[str, Any]) -> None:
        for record in response.get("Records", []):
            dynamodb = record.get("dynamodb", {})
            created = dynamodb.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                virtual = self.clock.virtual_at(created.timestamp())
                dynamodb["ApproximateCreationDateTime"] = virtual.replace(microsecond=0)

    def _unload_functions(self) -> None:
        for function in self._functions.values():
            function.unload()

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            if self._session is None:
                raise RuntimeError("the LocalCloud is not active: use it as a context manager")
            client = mark_internal(
                self._session.client(
                    service, region_name=self.region, config=Config(account_id_endpoint_mode="disabled")
                )
            )
            self._clients[service] = client
        return client

    @property
    def _sqs(self) -> Any:
        return self._client("sqs")

    @property
    def _streams(self) -> Any:
        return self._client("dynamodbstreams")

    def _require_active(self) -> None:
        if not self.active:
            raise RuntimeError("the LocalCloud is not active: use it as a context manager")

    # -- resources ------------------------------------------------------------------------
    def _ensure(self, logical_id: str) -> Resource:
        resource = self._resources.get(logical_id)
        if resource is not None:
            return resource
        self._require_active()
        definition = self._definitions.get(logical_id)
        if definition is None:
            if logical_id in self.template["Resources"]:
                raise TemplateError(f"{logical_id} is referenced but its Condition is false")
            raise TemplateError(f"unknown resource or parameter {logical_id!r}")
        if logical_id in self._creating:
            cycle = " -> ".join([*self._creating, logical_id])
            raise TemplateError(f"circular reference: {cycle}")
        rtype = str(definition["Type"])
        creator = _CREATORS.get(rtype)
        self._creating.append(logical_id)
        try:
            if creator is None:
                resource = self._synthetic(logical_id, rtype)
                self.skipped.append((logical_id, rtype))
            else:
                properties = self.resolver.resolve(definition.get("Properties") or {})
                resource = creator(self, logical_id, properties)
                resource.properties = properties
        finally:
            self._creating.pop()
        self._resources[logical_id] = resource
        for key, value in resource.attrs.items():
            if key in ("Arn", "StreamArn", "TopicArn") and isinstance(value, str):
                self._by_arn[value] = logical_id
        return resource

    def _ref(self, logical_id: str) -> Any:
        return self._ensure(logical_id).ref

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self._ensure(logical_id)
        if attribute not in resource.attrs:
            raise TemplateError(f"{logical_id} ({resource.type}) has no attribute {attribute} locally")
        return resource.attrs[attribute]

    def _default_name(self, logical_id: str, limit: int = 64, suffix: str = "") -> str:
        name = f"{self.stack_name}-{logical_id}"
        return name[: limit - len(suffix)] + suffix

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"

    def _synthetic(self, logical_id: str, rtype: str) -> Resource:
        service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "unknown"
        name = self._default_name(logical_id)
        arn = self._arn(service, f"{rtype.split('::')[-1].lower()}/{name}", regional=service != "iam")
        return Resource(logical_id, rtype, name, {"Arn": arn, "Name": name, "Id": name})

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> Resource:
        fifo = _truthy(props.get("FifoQueue"))
        name = props.get("QueueName") or self._default_name(logical_id, 80, ".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
        ):
            if key in props:
                attributes[key] = _attribute_string(props[key])
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        sqs = self._sqs
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Resource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _create_topic(self, logical_id: str, props: dict[str, Any]) -> Resource:
        fifo = _truthy(props.get("FifoTopic"))
        name = props.get("TopicName") or self._default_name(logical_id, 256, ".fifo" if fifo else "")
        attributes = {
            key: _attribute_string(props[key])
            for key in ("DisplayName", "FifoTopic", "ContentBasedDeduplication")
            if key in props
        }
        arn = self._client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        resource = Resource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})
        for subscription in props.get("Subscription") or []:
            self._subscribe(f"{logical_id}.Subscription", arn, subscription)
        return resource

    def _create_subscription(self, logical_id: str, props: dict[str, Any]) -> Resource:
        arn = self._subscribe(logical_id, str(props["TopicArn"]), props)
        return Resource(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})

    def _subscribe(self, logical_id: str, topic_arn: str, props: dict[str, Any]) -> str:
        protocol = str(props["Protocol"])
        endpoint = str(props["Endpoint"])
        if protocol != "sqs":
            # e-mail (and other push protocols) are recorded, not delivered.
            self.email_subscriptions.append(
                {"logical_id": logical_id, "topic_arn": topic_arn, "protocol": protocol, "endpoint": endpoint}
            )
            if protocol not in ("email", "email-json", "sms"):
                self.skipped.append((logical_id, f"AWS::SNS::Subscription({protocol})"))
            return f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, logical_id)}"
        attributes: dict[str, str] = {}
        for key in (
            "RawMessageDelivery",
            "FilterPolicyScope",
            "RedrivePolicy",
            "FilterPolicy",
            "DeliveryPolicy",
        ):
            if key in props:
                value = props[key]
                attributes[key] = (
                    json.dumps(value) if isinstance(value, (dict, list)) else _attribute_string(value)
                )
        response = self._client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol=protocol,
            Endpoint=endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return str(response["SubscriptionArn"])

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("TableName") or self._default_name(logical_id, 255)
        billing_mode = props.get("BillingMode", "PROVISIONED")
        default_throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": billing_mode,
        }
        if billing_mode == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = _throughput(
                props.get("ProvisionedThroughput"), default_throughput
            )

        def index(spec: dict[str, Any], global_index: bool) -> dict[str, Any]:
            out: dict[str, Any] = {k: spec[k] for k in ("IndexName", "KeySchema", "Projection") if k in spec}
            if global_index and billing_mode == "PROVISIONED":
                out["ProvisionedThroughput"] = _throughput(
                    spec.get("ProvisionedThroughput"), default_throughput
                )
            return out

        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [index(s, True) for s in props["GlobalSecondaryIndexes"]]
        if props.get("LocalSecondaryIndexes"):
            kwargs["LocalSecondaryIndexes"] = [index(s, False) for s in props["LocalSecondaryIndexes"]]
        stream = props.get("StreamSpecification")
        if stream and stream.get("StreamViewType"):
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        dynamodb = self._client("dynamodb")
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _truthy(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attrs = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attrs["StreamArn"] = description["LatestStreamArn"]
        return Resource(logical_id, "AWS::DynamoDB::Table", name, attrs)

    def _create_bucket(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("BucketName") or re.sub(
            r"[^a-z0-9.-]", "-", self._default_name(logical_id, 63).lower()
        )
        s3 = self._client("s3")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        attrs = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
        }
        return Resource(logical_id, "AWS::S3::Bucket", name, attrs)

    def _create_parameter(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("Name") or f"CFN-{logical_id}"
        kwargs: dict[str, Any] = {
            "Name": name,
            "Value": str(props["Value"]),
            "Type": props.get("Type", "String"),
        }
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if key in props:
                kwargs[key] = props[key]
        self._client("ssm").put_parameter(**kwargs)
        return Resource(
            logical_id, "AWS::SSM::Parameter", name, {"Type": kwargs["Type"], "Value": kwargs["Value"]}
        )

    def _create_function(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("FunctionName") or self._default_name(logical_id, 64)
        arn = self._arn("lambda", f"function:{name}")
        variables = (props.get("Environment") or {}).get("Variables") or {}
        function = LambdaFunction(
            logical_id,
            name=name,
            arn=arn,
            code_dir=self.translated.code_dir(props.get("Code")),
            handler=str(props.get("Handler", "app.handler")),
            environment={k: _attribute_string(v) for k, v in variables.items()},
            timeout=float(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            runtime=str(props.get("Runtime", "python3.13")),
            region=self.region,
            logs=self.log_capture,
            properties=props,
        )
        self._functions[logical_id] = function
        config = self._async.setdefault(logical_id, AsyncConfig())
        config.dead_letter = (props.get("DeadLetterConfig") or {}).get("TargetArn")
        return Resource(logical_id, "AWS::Lambda::Function", name, {"Arn": arn})

    def _create_version_or_alias(self, logical_id: str, props: dict[str, Any]) -> Resource:
        definition = self._definitions[logical_id]
        function = self.resolve_function(str(props["FunctionName"]))
        base = self._functions[function].arn
        qualifier = str(props.get("Name", "1"))
        arn = f"{base}:{qualifier}"
        attrs = {"Arn": arn, "Version": "1", "AliasArn": arn, "Name": qualifier}
        return Resource(logical_id, str(definition["Type"]), arn, attrs)

    def _create_event_invoke_config(self, logical_id: str, props: dict[str, Any]) -> Resource:
        function = self.resolve_function(str(props["FunctionName"]))
        config = self._async.setdefault(function, AsyncConfig())
        if "MaximumRetryAttempts" in props:
            config.max_retries = int(props["MaximumRetryAttempts"])
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        config.on_failure = str(on_failure) if on_failure else None
        return Resource(logical_id, "AWS::Lambda::EventInvokeConfig", f"{function}-invoke-config")

    def _create_event_source_mapping(self, logical_id: str, props: dict[str, Any]) -> Resource:
        source_arn = str(props.get("EventSourceArn", ""))
        source = self._by_arn.get(source_arn)
        source_type = self._resources[source].type if source else ""
        poller: SqsPoller | StreamPoller
        if source and source_type == "AWS::SQS::Queue":
            poller = SqsPoller(self, logical_id, props, source)
        elif (
            source
            and source_type == "AWS::DynamoDB::Table"
            and ":table/" in source_arn
            and "/stream/" in source_arn
        ):
            poller = StreamPoller(self, logical_id, props)
        else:
            self.skipped.append((logical_id, f"AWS::Lambda::EventSourceMapping({source_arn})"))
            return self._synthetic(logical_id, "AWS::Lambda::EventSourceMapping")
        self._pollers.append(poller)
        mapping_id = str(uuid.uuid5(uuid.NAMESPACE_URL, logical_id))
        return Resource(logical_id, "AWS::Lambda::EventSourceMapping", mapping_id, {"Id": mapping_id})

    def _create_schedule(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("Name") or self._default_name(logical_id, 64)
        group = props.get("GroupName") or "default"
        arn = self._arn("scheduler", f"schedule/{group}/{name}")
        now = self.clock.now()
        schedule = Schedule(
            str(props["ScheduleExpression"]),
            props.get("ScheduleExpressionTimezone") or "UTC",
            anchor=now,
            start=_parse_instant(props.get("StartDate")),
            end=_parse_instant(props.get("EndDate")),
        )
        self._schedules[logical_id] = ScheduleState(
            logical_id=logical_id,
            name=name,
            arn=arn,
            schedule=schedule,
            target=dict(props["Target"]),
            enabled=props.get("State", "ENABLED") == "ENABLED",
            checked_until=now - timedelta(microseconds=1),  # a fire time equal to the start is due
        )
        with contextlib.suppress(ClientError):  # best effort: lets code list the schedules
            self._client("scheduler").create_schedule(
                Name=name,
                GroupName=group,
                ScheduleExpression=schedule.expression,
                ScheduleExpressionTimezone=props.get("ScheduleExpressionTimezone") or "UTC",
                FlexibleTimeWindow=props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                Target={k: v for k, v in props["Target"].items() if k in ("Arn", "RoleArn", "Input")},
                State=props.get("State", "ENABLED"),
            )
        return Resource(logical_id, "AWS::Scheduler::Schedule", name, {"Arn": arn})

    # -- lookups --------------------------------------------------------------------------
    def physical_id(self, logical_id: str) -> str:
        """The Ref value: queue URL, topic ARN, table/function/bucket name, parameter name."""
        return str(self._ref(logical_id))

    def attr(self, logical_id: str, name: str) -> str:
        """Fn::GetAtt value (Arn, QueueName, QueueUrl, StreamArn, TopicName, ...)."""
        return str(self._get_att(logical_id, name))

    def resource_type(self, logical_id: str) -> str:
        return str(self.template["Resources"][logical_id]["Type"])

    def logical_ids(self, resource_type: str) -> list[str]:
        return [lid for lid, d in self._definitions.items() if d.get("Type") == resource_type]

    def function_names(self) -> list[str]:
        return self.logical_ids("AWS::Lambda::Function")

    def resolve_function(self, name: str) -> str:
        """Logical id, folder name (``agreement_projector``), physical name or ARN -> logical id.

        Case-insensitive; tried in that order, the first unambiguous match wins.
        """
        functions = self.function_names()
        if name in functions:
            return name
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        wanted = _normalise(name)

        def physical(logical_id: str) -> set[str]:
            function = self._functions.get(logical_id)
            return {_normalise(function.name)} if function is not None else set()

        def folder(logical_id: str) -> set[str]:
            code = (self._definitions[logical_id].get("Properties") or {}).get("Code")
            code_dir = self.translated.code_dir(code)
            return {_normalise(code_dir.name)} if code_dir is not None else set()

        keys_by_rule: list[Callable[[str], set[str]]] = [
            lambda lid: {_normalise(lid), _normalise(lid.removesuffix("Function"))},
            physical,
            folder,
        ]
        for keys in keys_by_rule:
            candidates = [lid for lid in functions if wanted in keys(lid)]
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                raise KeyError(f"{name!r} is ambiguous: {', '.join(candidates)}")
        raise KeyError(f"no function {name!r}; known: {', '.join(functions)}")

    def function(self, name: str) -> LambdaFunction:
        self._require_active()
        return self._functions[self.resolve_function(name)]

    # -- invoking -------------------------------------------------------------------------
    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run a handler once, synchronously (RequestResponse); its exception propagates."""
        self._require_active()
        return self._invoke(self.resolve_function(function), event)

    def _invoke(self, logical_id: str, event: Any) -> Any:
        # Lambda passes JSON: the handler gets a copy, and must return something JSON can encode.
        payload = json.loads(json.dumps(event))
        self.faults.before_invoke(logical_id, payload)
        hook = self._hook
        caller, hook.current_function = hook.current_function, logical_id
        try:
            result = self._functions[logical_id](payload)
        finally:
            hook.current_function = caller
        return None if result is None else json.loads(json.dumps(result))

    def _invoke_async(self, logical_id: str, event: Any, source: str) -> Any:
        """InvocationType=Event: Lambda retries function errors, then uses the failure destination."""
        config = self._async.get(logical_id, AsyncConfig())
        error: Exception | None = None
        for attempt in range(1 + max(config.max_retries, 0)):
            try:
                return self._invoke(logical_id, event)
            except ClientError as exc:
                if _error_code(exc) in INVOKE_API_ERRORS and attempt == 0:
                    raise  # the Invoke API call itself failed: the caller (scheduler) handles it
                error = exc
            except Exception as exc:
                error = exc
        assert error is not None
        self._async_failed(logical_id, event, error, config, source)
        return None

    def _async_failed(
        self, logical_id: str, event: Any, error: Exception, config: AsyncConfig, source: str
    ) -> None:
        function = self._functions[logical_id]
        if config.on_failure:
            record = {
                "version": "1.0",
                "timestamp": iso_z(self.clock.now()),
                "requestContext": {
                    "requestId": self._new_request_id(),
                    "functionArn": f"{function.arn}:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 1 + max(config.max_retries, 0),
                },
                "requestPayload": event,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
            }
            self._deliver_to_arn(config.on_failure, json.dumps(record))
        elif config.dead_letter:
            self._deliver_to_arn(
                config.dead_letter,
                json.dumps(event),
                {"RequestID": self._new_request_id(), "ErrorCode": "200", "ErrorMessage": str(error)[:256]},
            )
        else:
            self.async_failures.append(AsyncFailure(logical_id, event, repr(error), source))

    def _new_request_id(self) -> str:
        return str(uuid.uuid4())

    def _deliver_to_arn(self, arn: str, body: str, attributes: dict[str, str] | None = None) -> None:
        target = self._by_arn.get(arn)
        kind = self._resources[target].type if target else ""
        message_attributes = {
            k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()
        }
        if kind == "AWS::SQS::Queue":
            assert target is not None
            self._sqs.send_message(
                QueueUrl=self.physical_id(target), MessageBody=body, MessageAttributes=message_attributes
            )
        elif kind == "AWS::SNS::Topic":
            self._client("sns").publish(TopicArn=arn, Message=body, MessageAttributes=message_attributes)
        else:
            warnings.warn(f"cannot deliver to {arn}: not a queue or topic of the template", stacklevel=2)

    # -- messages ------------------------------------------------------------------------
    def publish(self, topic_logical_id: str, message: str, attributes: dict[str, str] | None = None) -> str:
        """Publish to a topic as an outside producer would (not counted as application calls)."""
        response = self._client("sns").publish(
            TopicArn=self.physical_id(topic_logical_id),
            Message=message,
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()
            },
        )
        return str(response["MessageId"])

    def send(
        self,
        queue_logical_id: str,
        body: str,
        attributes: dict[str, str] | None = None,
        *,
        delay_seconds: int | None = None,
    ) -> str:
        """Send to a queue as an outside producer would (not counted as application calls)."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self.physical_id(queue_logical_id),
            "MessageBody": body,
            "MessageAttributes": {
                k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()
            },
        }
        if delay_seconds is not None:
            kwargs["DelaySeconds"] = delay_seconds
        return str(self._sqs.send_message(**kwargs)["MessageId"])

    def receive_all(self, queue_logical_id: str, *, delete: bool = True) -> list[dict[str, Any]]:
        """Take every visible message off a queue (e.g. to inspect a DLQ); returns raw messages."""
        url = self.physical_id(queue_logical_id)
        self._undelay(queue_logical_id)
        messages: list[dict[str, Any]] = []
        while True:
            batch = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        for message in messages:
            if delete:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                self._sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return messages

    def queue_depths(self) -> dict[str, dict[str, int]]:
        depths: dict[str, dict[str, int]] = {}
        for logical_id in self.logical_ids("AWS::SQS::Queue"):
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.physical_id(logical_id),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depths[logical_id] = {
                "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
            }
        return depths

    def _undelay(self, queue_logical_id: str) -> None:
        """Virtual time: a message's DelaySeconds is over by the next poll (moto counts real time)."""
        from moto.sqs.models import sqs_backends

        name = self.attr(queue_logical_id, "QueueName")
        queue = sqs_backends[self.account_id][self.region].queues.get(name)
        if queue is None:
            return
        for message in queue._messages:
            if message.delayed_until:
                message.delayed_until = 0.0

    def expire_visibility(self, queue_logical_id: str | None = None) -> None:
        """Virtual time: every visibility timeout is over (moto counts real time).

        Call it when the virtual clock has moved past any timeout, e.g. between
        simulated days: messages a crashed consumer had received become visible.
        """
        from moto.sqs.models import sqs_backends

        queues = sqs_backends[self.account_id][self.region].queues
        for logical_id in [queue_logical_id] if queue_logical_id else self.logical_ids("AWS::SQS::Queue"):
            queue = queues.get(self.attr(logical_id, "QueueName"))
            for message in queue._messages if queue is not None else ():
                message.visible_at = 0.0

    def _forget_shard_iterator(self, iterator: str) -> None:
        """moto keeps every shard iterator it ever issued; pollers issue one per GetRecords."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        dynamodbstreams_backends[self.account_id][self.region].shard_iterators.pop(iterator, None)

    # -- schedules ------------------------------------------------------------------------
    def schedule_names(self) -> list[str]:
        return list(self._schedules)

    def next_fire_time(self, logical_id: str, horizon: timedelta = timedelta(days=400)) -> datetime | None:
        state = self._schedules[logical_id]
        for instant in state.schedule.occurrences(state.checked_until, self.clock.now() + horizon):
            return instant
        return None

    def fire_due_schedules(self) -> list[str]:
        """Fire every enabled schedule occurrence up to the clock's now, oldest first."""
        self._require_active()
        now = self.clock.now()
        due: list[tuple[datetime, str]] = []
        for state in self._schedules.values():
            if state.enabled:
                due.extend(
                    (t, state.logical_id) for t in state.schedule.occurrences(state.checked_until, now)
                )
            state.checked_until = now
        due.sort()
        for instant, logical_id in due:
            self.fire_schedule(logical_id, instant)
        return [logical_id for _, logical_id in due]

    def fire_schedule(self, logical_id: str, scheduled_time: datetime) -> Any:
        """Deliver one occurrence of a schedule to its target, as EventBridge Scheduler does."""
        self._require_active()
        state = self._schedules[logical_id]
        state.fired += 1
        target = state.target
        target_arn = str(target["Arn"])
        retry = target.get("RetryPolicy") or {}
        retries = int(retry.get("MaximumRetryAttempts", 185))
        execution_id = self._new_request_id()
        last_error: Exception | None = None
        for attempt in range(1 + retries):
            payload = self._scheduler_input(
                target.get("Input"), state, scheduled_time, execution_id, attempt + 1
            )
            try:
                return self._schedule_target(target_arn, payload, logical_id)
            except ClientError as error:
                last_error = error
        assert last_error is not None
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter:
            self._deliver_to_arn(
                str(dead_letter),
                target.get("Input") or "{}",
                {
                    "ERROR_CODE": _error_code(last_error) or type(last_error).__name__,
                    "ERROR_MESSAGE": str(last_error)[:256],
                    "EXECUTION_ID": execution_id,
                    "RETRY_ATTEMPTS": str(retries),
                    "SCHEDULE_ARN": state.arn,
                    "TARGET_ARN": target_arn,
                },
            )
        else:
            self.async_failures.append(
                AsyncFailure(logical_id, target.get("Input"), repr(last_error), "scheduler")
            )
        return None

    def _scheduler_input(
        self, template: Any, state: ScheduleState, scheduled_time: datetime, execution_id: str, attempt: int
    ) -> str:
        values = {
            "scheduled-time": iso_z(scheduled_time),
            "schedule-arn": state.arn,
            "execution-id": execution_id,
            "attempt-number": str(attempt),
        }
        text = template if isinstance(template, str) else json.dumps(template or {})
        return _SCHEDULER_CONTEXT.sub(lambda m: values[m.group(1)], text)

    def _schedule_target(self, target_arn: str, payload: str, schedule_id: str) -> Any:
        target = self._by_arn.get(target_arn) or self._by_arn.get(target_arn.rsplit(":", 1)[0])
        kind = self._resources[target].type if target else ""
        if kind in ("AWS::Lambda::Function", "AWS::Lambda::Alias", "AWS::Lambda::Version"):
            function = self.resolve_function(target_arn)
            return self._invoke_async(function, json.loads(payload), f"schedule:{schedule_id}")
        self._deliver_to_arn(target_arn, payload)
        return None

    # -- pollers --------------------------------------------------------------------------
    def drain(self, max_rounds: int = 10_000) -> int:
        """Poll every event source mapping, one batch each per round, until a round moves nothing.

        Returns the number of batches handed to functions.
        """
        self._require_active()
        before = sum(p.batches for p in self._pollers)
        for _ in range(max_rounds):
            progressed = False
            for poller in self._pollers:
                progressed = poller.poll() or progressed
            if not progressed:
                break
        else:
            warnings.warn(f"drain: still delivering after {max_rounds} rounds", RuntimeWarning, stacklevel=2)
        return sum(p.batches for p in self._pollers) - before

    def pollers(self) -> list[SqsPoller | StreamPoller]:
        return list(self._pollers)

    # -- observability ---------------------------------------------------------------------
    @property
    def current_function(self) -> str | None:
        """Logical id of the function whose handler is running now (for fault callbacks)."""
        return self._hook.current_function

    def request_counts(self) -> collections.Counter[RequestKey]:
        """AWS calls the handlers made, by (service, operation)."""
        return collections.Counter(self._hook.counts)

    def request_counts_by_function(self) -> collections.Counter[tuple[str, str, str]]:
        """AWS calls the handlers made, by (function logical id, service, operation)."""
        return collections.Counter(self._hook.counts_by_function)

    def poller_request_counts(self) -> collections.Counter[RequestKey]:
        """Calls Lambda's pollers would make: ReceiveMessage/DeleteMessageBatch, GetRecords."""
        return collections.Counter(self._poller_counts)

    def reset_request_counts(self) -> None:
        self._hook.counts.clear()
        self._hook.counts_by_function.clear()
        self._poller_counts.clear()

    def invocation_counts(self) -> dict[str, tuple[int, int]]:
        """Function logical id -> (invocations, errors)."""
        return {lid: (f.invocations, f.errors) for lid, f in self._functions.items()}

    def logs(self, function: str | None = None) -> list[str]:
        """Lines the handlers printed (Powertools logs go to stdout), optionally of one function."""
        wanted = self.resolve_function(function) if function else None
        return [line for lid, line in self.log_capture.lines if wanted is None or lid == wanted]


def _reset_layer_caches() -> None:
    """The layer caches adapters per container (process); a new cloud must not inherit them."""
    try:
        from billing import bootstrap
    except ImportError:
        return
    reset = getattr(bootstrap, "reset", None)
    if callable(reset):
        reset()
    from billing.domain import engine  # its memo trusts one append-only history per agreement id

    engine.clear_cache()


_internal_sessions: dict[str, boto3.session.Session] = {}


def _internal_session(region: str) -> boto3.session.Session:
    """One session per region for the runtime's own clients (keeps botocore's model cache warm)."""
    session = _internal_sessions.get(region)
    if session is None:
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            region_name=region,
        )
        _internal_sessions[region] = session
    return session


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _throughput(spec: dict[str, Any] | None, default: dict[str, int]) -> dict[str, int]:
    spec = spec or default
    return {
        "ReadCapacityUnits": int(spec["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(spec["WriteCapacityUnits"]),
    }


def _parse_instant(value: Any) -> datetime | None:
    if not value:
        return None
    instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


@contextlib.contextmanager
def _unset_environ(*names: str) -> Iterator[None]:
    import os

    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


_CREATORS: dict[str, Callable[[LocalCloud, str, dict[str, Any]], Resource]] = {
    "AWS::SQS::Queue": LocalCloud._create_queue,
    "AWS::SNS::Topic": LocalCloud._create_topic,
    "AWS::SNS::Subscription": LocalCloud._create_subscription,
    "AWS::DynamoDB::Table": LocalCloud._create_table,
    "AWS::S3::Bucket": LocalCloud._create_bucket,
    "AWS::SSM::Parameter": LocalCloud._create_parameter,
    "AWS::Lambda::Function": LocalCloud._create_function,
    "AWS::Lambda::Version": LocalCloud._create_version_or_alias,
    "AWS::Lambda::Alias": LocalCloud._create_version_or_alias,
    "AWS::Lambda::EventInvokeConfig": LocalCloud._create_event_invoke_config,
    "AWS::Lambda::EventSourceMapping": LocalCloud._create_event_source_mapping,
    "AWS::Scheduler::Schedule": LocalCloud._create_schedule,
}

__all__ = ["LocalCloud", "Resource"]
