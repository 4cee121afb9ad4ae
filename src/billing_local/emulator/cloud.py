"""LocalCloud: a SAM template stood up on moto, in-process, with the real handlers wired in.

Everything is derived from the translated template: which queue feeds which function,
which topic feeds which queue, which schedule starts which function. Nothing is restated.
The services (``sqs``, ``sns``, ``dynamodb``, ``s3``, ``ssm``, ``lambdas``, ``scheduler``)
create the resources by type; this facade builds them, holds the clients and the API-call
hook, and runs the lifecycle. What an application needs besides (its clock, caches to reset,
secrets to seed) is handed in as ``hooks``.
"""

import collections
import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import boto3

from billing_local.cfn.intrinsics import effective_parameters
from billing_local.cfn.sam import TranslatedTemplate, translate

from . import moto_patches
from .clients import Clients
from .clock import VirtualClock
from .destinations import Destinations
from .dynamodb import Tables
from .handlers import HANDLER_STDOUT, LambdaFunction, LogCapture, patched_environ
from .hooks import ApiHook
from .instrumentation import FaultInjector, Faults, RequestCounter, RequestKey
from .lambdas import AsyncFailure, EventSourceMappings, Functions
from .pollers import PollerWiring, SqsPoller, StreamPoller
from .resources import Naming, Registry, Resource, attribute_string
from .s3 import Buckets
from .scheduler import Scheduler
from .sns import Topics
from .sqs import Queues
from .ssm import Parameters
from .timestamps import VirtualTimestamps

#: An application hook: ``hook(cloud)`` returns a context manager, entered (in order) once the
#: stack's resources exist and exited (in reverse) when the cloud stops. E.g. point the
#: application's clock at ``cloud.clock``, reset its per-process caches, seed a secret.
StackHook = Callable[["LocalCloud"], contextlib.AbstractContextManager[Any]]

_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    # botocore >= 1.40 sends DynamoDB Streams calls that carry an ARN to
    # <account>.streams-ddb.<region>.amazonaws.com, which moto 5.2 doesn't route.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


class LocalCloud:
    """Stand a SAM template up on moto and drive its Lambda handlers in-process."""

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
        hooks: Sequence[StackHook] = (),
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
        self.translated: TranslatedTemplate = translate(
            path, dict(parameters or {}), region, self.project_root
        )
        self.template = self.translated.cfn
        self.parameters = effective_parameters(self.template.get("Parameters") or {}, dict(parameters or {}))
        naming = Naming(stack_name, region)
        self.account_id = naming.account_id
        self._registry = Registry(self.template, self.parameters, naming)
        self.resolver = self._registry.resolver
        self.skipped = self._registry.skipped
        self.clock = VirtualClock(start)
        self.faults = Faults()
        self.async_failures: list[AsyncFailure] = []
        self.log_capture = LogCapture(echo=echo_logs)
        self.api_hook = ApiHook()
        self._hooks = tuple(hooks)
        self._clients = Clients(region)
        self._build_services()
        self._stack = contextlib.ExitStack()
        self.active = False

    def _build_services(self) -> None:
        registry, clients = self._registry, self._clients
        timestamps = VirtualTimestamps(self.clock)
        self._queues = Queues(clients, registry, timestamps)
        self._topics = Topics(clients, registry)
        self._tables = Tables(clients, registry)
        Buckets(clients, registry)
        Parameters(clients, registry)
        send = Destinations(registry, self._queues, self._topics).send
        self._functions = Functions(
            registry,
            self.translated,
            clock=self.clock,
            faults=self.faults,
            logs=self.log_capture,
            send=send,
            async_failures=self.async_failures,
        )
        self._poller_counts: collections.Counter[RequestKey] = collections.Counter()
        wiring = PollerWiring(
            invoke=self._functions.invoke,
            faults=self.faults,
            counts=self._poller_counts,
            timestamps=timestamps,
            region=self.region,
        )
        self._mappings = EventSourceMappings(
            registry,
            clients,
            functions=self._functions,
            queues=self._queues,
            tables=self._tables,
            send=send,
            wiring=wiring,
        )
        self._scheduler = Scheduler(
            registry,
            clients,
            clock=self.clock,
            functions=self._functions,
            send=send,
            async_failures=self.async_failures,
        )
        self._requests = RequestCounter(self._current_function)
        self.api_hook.subscribe(before=self._requests)
        self.api_hook.subscribe(before=FaultInjector(self.faults, self._current_function))
        self.api_hook.subscribe(after=timestamps)

    @property
    def email_subscriptions(self) -> list[dict[str, Any]]:
        return self._topics.email_subscriptions

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "LocalCloud":
        from moto import mock_aws

        stack = self._stack
        try:
            stack.enter_context(
                patched_environ(
                    {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region, **_ENVIRONMENT}
                )
            )
            stack.enter_context(_unset_environ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"))
            mock = mock_aws()
            mock.start()
            stack.callback(mock.stop)
            boto3.DEFAULT_SESSION = None
            stack.callback(setattr, boto3, "DEFAULT_SESSION", None)
            self.api_hook.install()
            stack.callback(self.api_hook.uninstall)
            moto_patches.install()
            stack.callback(moto_patches.uninstall)
            stack.callback(self._functions.unload_all)
            HANDLER_STDOUT.target = self.log_capture
            stack.callback(setattr, HANDLER_STDOUT, "target", None)
            self._clients.open()
            stack.callback(self._clients.close)
            self.active = self._registry.active = True
            stack.callback(self._deactivate)
            self._registry.create_all()
            for hook in self._hooks:
                stack.enter_context(hook(self))
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

    def _deactivate(self) -> None:
        self.active = self._registry.active = False

    def _require_active(self) -> None:
        if not self.active:
            raise RuntimeError("the LocalCloud is not active: use it as a context manager")

    def client(self, service: str) -> Any:
        """The emulator's own client for a service: its calls are not counted nor faulted."""
        return self._clients(service)

    def _current_function(self) -> str | None:
        return self._functions.current

    # -- lookups --------------------------------------------------------------------------
    def physical_id(self, logical_id: str) -> str:
        """The Ref value: queue URL, topic ARN, table/function/bucket name, parameter name."""
        return str(self._registry.ref(logical_id))

    def attr(self, logical_id: str, name: str) -> str:
        """Fn::GetAtt value (Arn, QueueName, QueueUrl, StreamArn, TopicName, ...)."""
        return str(self._registry.get_att(logical_id, name))

    def resource(self, logical_id: str) -> Resource:
        return self._registry.ensure(logical_id)

    def resource_type(self, logical_id: str) -> str:
        return str(self.template["Resources"][logical_id]["Type"])

    def logical_ids(self, resource_type: str) -> list[str]:
        return self._registry.logical_ids(resource_type)

    def resource_ids(self) -> list[str]:
        """Every resource the stack has (its Condition true), in template order."""
        return list(self._registry.definitions)

    def outputs(self) -> dict[str, dict[str, str]]:
        """The template's Outputs, resolved: key -> {"Value", "Description"} (Condition honoured)."""
        self._require_active()
        resolved: dict[str, dict[str, str]] = {}
        for key, output in (self.template.get("Outputs") or {}).items():
            if not self.resolver.is_enabled(output):
                continue
            entry = {"Value": attribute_string(self.resolver.resolve(output["Value"]))}
            if output.get("Description"):
                entry["Description"] = str(output["Description"])
            resolved[key] = entry
        return resolved

    def function_names(self) -> list[str]:
        return self._functions.names()

    def resolve_function(self, name: str) -> str:
        """Logical id, folder name (``agreement_projector``), physical name or ARN -> logical id.

        Case-insensitive; tried in that order, the first unambiguous match wins.
        """
        return self._functions.resolve(name)

    def function(self, name: str) -> LambdaFunction:
        self._require_active()
        return self._functions.functions[self.resolve_function(name)]

    # -- invoking -------------------------------------------------------------------------
    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run a handler once, synchronously (RequestResponse); its exception propagates."""
        self._require_active()
        return self._functions.invoke(self.resolve_function(function), event)

    def invoke_async(self, function: str, event: dict[str, Any], source: str = "invoke") -> None:
        """InvocationType=Event: retried on error, then to the function's failure destination."""
        self._require_active()
        self._functions.invoke_async(self.resolve_function(function), event, source)

    # -- messages ------------------------------------------------------------------------
    def publish(self, topic_logical_id: str, message: str, attributes: dict[str, str] | None = None) -> str:
        """Publish to a topic as an outside producer would (not counted as application calls)."""
        return self._topics.publish(self.physical_id(topic_logical_id), message, attributes)

    def send(
        self,
        queue_logical_id: str,
        body: str,
        attributes: dict[str, str] | None = None,
        *,
        delay_seconds: int | None = None,
    ) -> str:
        """Send to a queue as an outside producer would (not counted as application calls)."""
        return self._queues.send(self.physical_id(queue_logical_id), body, attributes, delay_seconds)

    def receive_all(self, queue_logical_id: str, *, delete: bool = True) -> list[dict[str, Any]]:
        """Take every visible message off a queue (e.g. to inspect a DLQ); returns raw messages."""
        url, name = self.physical_id(queue_logical_id), self.attr(queue_logical_id, "QueueName")
        return self._queues.receive_all(url, name, delete=delete)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        return {
            logical_id: self._queues.depth(self.physical_id(logical_id))
            for logical_id in self.logical_ids("AWS::SQS::Queue")
        }

    def expire_visibility(self, queue_logical_id: str | None = None) -> None:
        """Virtual time: every visibility timeout is over (moto counts real time).

        Call it when the virtual clock has moved past any timeout, e.g. between
        simulated days: messages a crashed consumer had received become visible.
        """
        for logical_id in [queue_logical_id] if queue_logical_id else self.logical_ids("AWS::SQS::Queue"):
            self._queues.expire_visibility(self.attr(logical_id, "QueueName"))

    # -- schedules ------------------------------------------------------------------------
    def schedule_names(self) -> list[str]:
        return list(self._scheduler.schedules)

    def next_fire_time(self, logical_id: str, horizon: timedelta = timedelta(days=400)) -> datetime | None:
        return self._scheduler.next_fire_time(logical_id, horizon)

    def fire_due_schedules(self) -> list[str]:
        """Fire every enabled schedule occurrence up to the clock's now, oldest first."""
        self._require_active()
        return self._scheduler.fire_due()

    def fire_schedule(self, logical_id: str, scheduled_time: datetime) -> Any:
        """Deliver one occurrence of a schedule to its target, as EventBridge Scheduler does."""
        self._require_active()
        return self._scheduler.fire(logical_id, scheduled_time)

    # -- pollers --------------------------------------------------------------------------
    def drain(self, max_rounds: int = 10_000) -> int:
        """Poll every event source mapping, one batch each per round, until a round moves nothing.

        Returns the number of batches handed to functions.
        """
        self._require_active()
        pollers = self._mappings.pollers
        before = sum(p.batches for p in pollers)
        for _ in range(max_rounds):
            progressed = False
            for poller in pollers:
                progressed = poller.poll() or progressed
            if not progressed:
                break
        else:
            warnings.warn(f"drain: still delivering after {max_rounds} rounds", RuntimeWarning, stacklevel=2)
        return sum(p.batches for p in pollers) - before

    def pollers(self) -> list[SqsPoller | StreamPoller]:
        return list(self._mappings.pollers)

    # -- observability ---------------------------------------------------------------------
    @property
    def current_function(self) -> str | None:
        """Logical id of the function whose handler is running now (for fault callbacks)."""
        return self._functions.current

    def request_counts(self) -> collections.Counter[RequestKey]:
        """AWS calls the handlers made, by (service, operation)."""
        return collections.Counter(self._requests.counts)

    def request_counts_by_function(self) -> collections.Counter[tuple[str, str, str]]:
        """AWS calls the handlers made, by (function logical id, service, operation)."""
        return collections.Counter(self._requests.counts_by_function)

    def poller_request_counts(self) -> collections.Counter[RequestKey]:
        """Calls Lambda's pollers would make: ReceiveMessage/DeleteMessageBatch, GetRecords."""
        return collections.Counter(self._poller_counts)

    def reset_request_counts(self) -> None:
        self._requests.clear()
        self._poller_counts.clear()

    def invocation_counts(self) -> dict[str, tuple[int, int]]:
        """Function logical id -> (invocations, errors)."""
        return {lid: (f.invocations, f.errors) for lid, f in self._functions.functions.items()}

    def logs(self, function: str | None = None) -> list[str]:
        """Lines the handlers printed (Powertools logs go to stdout), optionally of one function."""
        wanted = self.resolve_function(function) if function else None
        return [line for lid, line in self.log_capture.lines if wanted is None or lid == wanted]


@contextlib.contextmanager
def _unset_environ(*names: str) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


__all__ = ["LocalCloud", "Resource", "StackHook"]
