"""The Lambda service: functions run in-process, versions/aliases, async invocation, mappings."""

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from billing_local.cfn.sam import TranslatedTemplate

from .clients import Clients
from .clock import VirtualClock, iso_z
from .dynamodb import Tables
from .handlers import LambdaFunction, LogCapture
from .instrumentation import Faults
from .pollers import PollerWiring, SqsPoller, StreamPoller
from .resources import Registry, Resource, attribute_string
from .sqs import Queues

#: Errors of the Lambda Invoke API itself (the scheduler retries those, then uses its DLQ).
INVOKE_API_ERRORS = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "ServiceException", "EC2ThrottledException"}
)

#: ``send(destination_arn, body, string_attributes=None)``: a queue or topic of the template.
Sender = Callable[..., None]


@dataclass
class AsyncConfig:
    max_retries: int = 2
    on_failure: str | None = None  # destination ARN (EventInvokeConfig)
    dead_letter: str | None = None  # DeadLetterConfig.TargetArn


@dataclass
class AsyncFailure:
    """An asynchronous invocation that failed for good (kept when no destination took it)."""

    function: str
    event: Any
    error: str
    source: str


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class Functions:
    """AWS::Lambda::Function (+ Version, Alias, EventInvokeConfig): invoke, invoke_async."""

    def __init__(
        self,
        registry: Registry,
        translated: TranslatedTemplate,
        *,
        clock: VirtualClock,
        faults: Faults,
        logs: LogCapture,
        send: Sender,
        async_failures: list[AsyncFailure],
    ) -> None:
        self.registry = registry
        self.translated = translated
        self.clock = clock
        self.faults = faults
        self.logs = logs
        self.send = send
        self.async_failures = async_failures
        #: logical id of the function whose handler is running now (None outside handlers)
        self.current: str | None = None
        self.functions: dict[str, LambdaFunction] = {}
        self._async: dict[str, AsyncConfig] = {}
        registry.register("AWS::Lambda::Function", self.create_function)
        registry.register("AWS::Lambda::Version", self.create_version_or_alias)
        registry.register("AWS::Lambda::Alias", self.create_version_or_alias)
        registry.register("AWS::Lambda::EventInvokeConfig", self.create_event_invoke_config)

    # -- resources ------------------------------------------------------------------------
    def create_function(self, logical_id: str, props: dict[str, Any]) -> Resource:
        naming = self.registry.naming
        name = props.get("FunctionName") or naming.default_name(logical_id, 64)
        arn = naming.arn("lambda", f"function:{name}")
        variables = (props.get("Environment") or {}).get("Variables") or {}
        self.functions[logical_id] = LambdaFunction(
            logical_id,
            name=name,
            arn=arn,
            code_dir=self.translated.code_dir(props.get("Code")),
            handler=str(props.get("Handler", "app.handler")),
            environment={k: attribute_string(v) for k, v in variables.items()},
            timeout=float(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            runtime=str(props.get("Runtime", "python3.13")),
            region=naming.region,
            logs=self.logs,
            properties=props,
        )
        config = self._async.setdefault(logical_id, AsyncConfig())
        config.dead_letter = (props.get("DeadLetterConfig") or {}).get("TargetArn")
        return Resource(logical_id, "AWS::Lambda::Function", name, {"Arn": arn})

    def create_version_or_alias(self, logical_id: str, props: dict[str, Any]) -> Resource:
        function = self.resolve(str(props["FunctionName"]))
        base = self.functions[function].arn
        qualifier = str(props.get("Name", "1"))
        arn = f"{base}:{qualifier}"
        attrs = {"Arn": arn, "Version": "1", "AliasArn": arn, "Name": qualifier}
        return Resource(logical_id, self.registry.type_of(logical_id), arn, attrs)

    def create_event_invoke_config(self, logical_id: str, props: dict[str, Any]) -> Resource:
        function = self.resolve(str(props["FunctionName"]))
        config = self._async.setdefault(function, AsyncConfig())
        if "MaximumRetryAttempts" in props:
            config.max_retries = int(props["MaximumRetryAttempts"])
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        config.on_failure = str(on_failure) if on_failure else None
        return Resource(logical_id, "AWS::Lambda::EventInvokeConfig", f"{function}-invoke-config")

    # -- lookups --------------------------------------------------------------------------
    def names(self) -> list[str]:
        return self.registry.logical_ids("AWS::Lambda::Function")

    def resolve(self, name: str) -> str:
        """Logical id, folder name (``agreement_projector``), physical name or ARN -> logical id.

        Case-insensitive; tried in that order, the first unambiguous match wins.
        """
        functions = self.names()
        if name in functions:
            return name
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        wanted = _normalise(name)

        def physical(logical_id: str) -> set[str]:
            function = self.functions.get(logical_id)
            return {_normalise(function.name)} if function is not None else set()

        def folder(logical_id: str) -> set[str]:
            code = (self.registry.definitions[logical_id].get("Properties") or {}).get("Code")
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

    def unload_all(self) -> None:
        for function in self.functions.values():
            function.unload()

    # -- invoking -------------------------------------------------------------------------
    def invoke(self, logical_id: str, event: Any) -> Any:
        """RequestResponse: Lambda passes JSON, so the handler gets a copy and must return JSON."""
        payload = json.loads(json.dumps(event))
        self.faults.before_invoke(logical_id, payload)
        caller, self.current = self.current, logical_id
        try:
            result = self.functions[logical_id](payload)
        finally:
            self.current = caller
        return None if result is None else json.loads(json.dumps(result))

    def invoke_async(self, logical_id: str, event: Any, source: str) -> Any:
        """InvocationType=Event: Lambda retries function errors, then uses the failure destination."""
        config = self._async.get(logical_id, AsyncConfig())
        error: Exception | None = None
        for attempt in range(1 + max(config.max_retries, 0)):
            try:
                return self.invoke(logical_id, event)
            except ClientError as exc:
                if error_code(exc) in INVOKE_API_ERRORS and attempt == 0:
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
        function = self.functions[logical_id]
        if config.on_failure:
            record = {
                "version": "1.0",
                "timestamp": iso_z(self.clock.now()),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
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
            self.send(config.on_failure, json.dumps(record))
        elif config.dead_letter:
            self.send(
                config.dead_letter,
                json.dumps(event),
                {"RequestID": str(uuid.uuid4()), "ErrorCode": "200", "ErrorMessage": str(error)[:256]},
            )
        else:
            self.async_failures.append(AsyncFailure(logical_id, event, repr(error), source))


class EventSourceMappings:
    """AWS::Lambda::EventSourceMapping: an SQS or DynamoDB-stream poller, built with what it uses."""

    def __init__(
        self,
        registry: Registry,
        clients: Clients,
        *,
        functions: Functions,
        queues: Queues,
        tables: Tables,
        send: Sender,
        wiring: PollerWiring,
    ) -> None:
        self.registry = registry
        self.clients = clients
        self.functions = functions
        self.queues = queues
        self.tables = tables
        self.send = send
        self.wiring = wiring
        self.pollers: list[SqsPoller | StreamPoller] = []
        registry.register("AWS::Lambda::EventSourceMapping", self.create_mapping)

    def create_mapping(self, logical_id: str, props: dict[str, Any]) -> Resource:
        source_arn = str(props.get("EventSourceArn", ""))
        source = self.registry.by_arn(source_arn)
        source_type = source.type if source is not None else ""
        poller: SqsPoller | StreamPoller
        if source is not None and source_type == "AWS::SQS::Queue":
            function = self.functions.resolve(str(props["FunctionName"]))
            queue_name = str(source.attrs["QueueName"])
            poller = SqsPoller(
                logical_id,
                props,
                function=function,
                queue=source.logical_id,
                queue_url=str(source.ref),
                client=self.clients("sqs"),
                release_delayed=lambda: self.queues.release_delayed(queue_name),
                wiring=self.wiring,
            )
        elif source_type == "AWS::DynamoDB::Table" and ":table/" in source_arn and "/stream/" in source_arn:
            function = self.functions.resolve(str(props["FunctionName"]))
            poller = StreamPoller(
                logical_id,
                props,
                function=function,
                function_arn=self.functions.functions[function].arn,
                client=self.clients("dynamodbstreams"),
                forget_iterator=self.tables.forget_shard_iterator,
                send=self.send,
                now=self.functions.clock.now,
                wiring=self.wiring,
            )
        else:
            self.registry.skip(logical_id, f"AWS::Lambda::EventSourceMapping({source_arn})")
            return self.registry.synthetic(logical_id, "AWS::Lambda::EventSourceMapping")
        self.pollers.append(poller)
        mapping_id = str(uuid.uuid5(uuid.NAMESPACE_URL, logical_id))
        return Resource(logical_id, "AWS::Lambda::EventSourceMapping", mapping_id, {"Id": mapping_id})
