"""One hook on the AWS calls made through boto3/botocore while an emulator is active.

Handlers build their own clients (``boto3.client``, ``boto3.resource``, or a fresh
``boto3.session.Session()`` inside Powertools), so the hook is registered once per process in
botocore's ``BUILTIN_HANDLERS``, the way moto registers its ``BotocoreStubber`` on
``before-send``: every botocore session created afterwards carries it. It listens to two events
of ``BaseClient._make_api_call``:

- ``before-parameter-build.<service>.<operation>``: the caller's parameters (``params``), before
  the request is built; the subscribers' ``before`` callbacks run here, and an exception one
  raises (``client_error(...)``) fails the call before it is sent;
- ``after-call.<service>.<operation>``: the parsed response; ``after`` callbacks run here and may
  rewrite it in place (it is what the caller gets).

Between the two the call is carried in botocore's per-request ``context`` dict. While no
``ApiHook`` is installed the handlers do nothing. The emulator's own clients are created on a
session the handlers are removed from (``detach``): its calls never reach a subscriber.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore import handlers as botocore_handlers


@dataclass(frozen=True)
class ApiCall:
    """One AWS call, as subscribers see it."""

    service: str  #: botocore's service name: "sqs", "dynamodb", "dynamodbstreams", ...
    operation: str  #: the API operation: "ReceiveMessage", "Query", ...
    params: Mapping[str, Any]  #: the parameters the caller passed (read them, do not change them)
    model: Any  #: botocore.model.OperationModel of the operation


#: ``subscriber(call, response)``. As ``before``: called before the call is sent, ``response`` is
#: always None; raise to make the call fail. As ``after``: called once AWS (moto) answered, with the
#: parsed response dict when the call succeeded (mutable: the caller gets what is left), None when
#: AWS answered with an error. A call failed by a ``before`` subscriber never reaches ``after``.
Subscriber = Callable[[ApiCall, dict[str, Any] | None], None]

_CONTEXT_KEY = "billing_local.emulator.api_call"


class ApiHook:
    """Subscribers to every AWS call made on a hooked session while this hook is installed."""

    def __init__(self) -> None:
        self._before: list[Subscriber] = []
        self._after: list[Subscriber] = []

    def subscribe(
        self, after: Subscriber | None = None, *, before: Subscriber | None = None
    ) -> Callable[[], None]:
        """Add callbacks (run in subscription order); returns a function that removes them."""
        if before is not None:
            self._before.append(before)
        if after is not None:
            self._after.append(after)

        def unsubscribe() -> None:
            if before is not None and before in self._before:
                self._before.remove(before)
            if after is not None and after in self._after:
                self._after.remove(after)

        return unsubscribe

    def install(self) -> None:
        """Make this the process's hook (one emulator is active at a time)."""
        if _installed:
            raise RuntimeError("another LocalCloud is already active in this process")
        _installed.append(self)

    def uninstall(self) -> None:
        if self in _installed:
            _installed.remove(self)

    def before(self, call: ApiCall) -> None:
        for subscriber in tuple(self._before):
            subscriber(call, None)

    def after(self, call: ApiCall, response: dict[str, Any] | None) -> None:
        for subscriber in tuple(self._after):
            subscriber(call, response)


#: The installed hook, if any (at most one).
_installed: list[ApiHook] = []


def active_hook() -> ApiHook | None:
    return _installed[0] if _installed else None


def _before_parameter_build(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    hook = active_hook()
    if hook is None:
        return
    call = ApiCall(model.service_model.service_name, model.name, params, model)
    context[_CONTEXT_KEY] = call
    hook.before(call)


def _after_call(http_response: Any, parsed: Any, context: dict[str, Any], **_: Any) -> None:
    hook = active_hook()
    call = context.get(_CONTEXT_KEY)
    if hook is None or call is None:
        return
    succeeded = http_response.status_code < 300 and isinstance(parsed, dict)
    hook.after(call, parsed if succeeded else None)


_HANDLERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("before-parameter-build", _before_parameter_build),
    ("after-call", _after_call),
)


def _register_once() -> None:
    for spec in _HANDLERS:
        if spec not in botocore_handlers.BUILTIN_HANDLERS:
            botocore_handlers.BUILTIN_HANDLERS.append(spec)


def detach(events: Any) -> None:
    """Remove the hook from one session's event emitter (``boto3.session.Session().events``)."""
    for event_name, handler in _HANDLERS:
        events.unregister(event_name, handler)


_register_once()
