"""Hooks on every boto3/botocore call: request counting and fault injection.

Handlers build their own clients (``boto3.client``, ``boto3.resource``, or a fresh
``boto3.session.Session()`` inside Powertools), so the hook wraps
``botocore.client.BaseClient._make_api_call`` for the lifetime of a LocalCloud. Only calls made
while a handler runs are the application's: they are counted (per function too) and go through
``Faults.before_aws_call``. Calls from test or simulator code outside handlers, and from the
clients the runtime builds for itself (tagged), are neither counted nor faulted.
"""

import collections
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

INTERNAL_ATTRIBUTE = "_billing_local_internal"

RequestKey = tuple[str, str]


def _no_call(service: str, operation: str) -> None:
    return None


def _no_invoke(function_logical_id: str, event: dict[str, Any]) -> None:
    return None


def _never(function_logical_id: str, record: dict[str, Any]) -> bool:
    return False


def _same_order(function_logical_id: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return records


class Faults:
    """Callbacks a chaos engine sets; every default is a no-op.

    - ``before_aws_call(service, operation)``: called before each AWS call a handler makes
      (not the runtime's own calls); raise ``client_error(...)`` to make the call fail.
    - ``before_invoke(function_logical_id, event)``: called before each handler invocation
      (pollers, schedules, ``invoke``); raise to fail the invocation as a crash would.
    - ``duplicate_record(function_logical_id, record) -> bool``: True delivers that SQS
      record twice in the same batch.
    - ``redeliver_record(function_logical_id, record) -> bool``: True leaves a successfully
      processed SQS message on the queue, so a later batch delivers it again.
    - ``reorder_batch(function_logical_id, records) -> records``: reorder a batch.
    """

    def __init__(self) -> None:
        self.before_aws_call: Callable[[str, str], None] = _no_call
        self.before_invoke: Callable[[str, dict[str, Any]], None] = _no_invoke
        self.duplicate_record: Callable[[str, dict[str, Any]], bool] = _never
        self.redeliver_record: Callable[[str, dict[str, Any]], bool] = _never
        self.reorder_batch: Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]] = _same_order

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def client_error(
    code: str, operation: str, message: str = "injected fault", status: int = 400
) -> ClientError:
    """A botocore ClientError shaped like AWS's (e.g. ThrottlingException, InternalError)."""
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class ApiHook:
    """Installs the call wrapper; counts application calls and applies ``Faults``."""

    _installed: "ApiHook | None" = None

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.counts: collections.Counter[RequestKey] = collections.Counter()
        self.counts_by_function: collections.Counter[tuple[str, str, str]] = collections.Counter()
        #: logical id of the function whose handler is running (None outside handlers)
        self.current_function: str | None = None
        #: (service, operation) -> function rewriting the parsed response, for every client.
        self.response_filters: dict[RequestKey, Callable[[dict[str, Any]], None]] = {}
        self._original: Any = None

    def install(self) -> None:
        if ApiHook._installed is not None:
            raise RuntimeError("another LocalCloud is already active in this process")
        original = BaseClient._make_api_call
        hook = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            function = hook.current_function
            if function is not None and not getattr(client, INTERNAL_ATTRIBUTE, False):
                hook.counts[(service, operation_name)] += 1
                hook.counts_by_function[(function, service, operation_name)] += 1
                hook.faults.before_aws_call(service, operation_name)
            response = original(client, operation_name, api_params)
            rewrite = hook.response_filters.get((service, operation_name))
            if rewrite is not None and isinstance(response, dict):
                rewrite(response)
            return response

        self._original = original
        BaseClient._make_api_call = _make_api_call
        ApiHook._installed = self

    def uninstall(self) -> None:
        if ApiHook._installed is self:
            BaseClient._make_api_call = self._original
            ApiHook._installed = None


def mark_internal(client: BaseClient) -> BaseClient:
    setattr(client, INTERNAL_ATTRIBUTE, True)
    return client
