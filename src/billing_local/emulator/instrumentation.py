"""Subscribers of the API-call hook (``hooks.ApiHook``): request counting and fault injection.

Only calls made while a handler runs are the application's: they are counted (per function too)
and go through ``Faults.before_aws_call``. Calls from test or simulator code outside handlers are
neither counted nor faulted; the emulator's own clients are not hooked at all.
"""

import collections
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .hooks import ApiCall

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
      (not the emulator's own calls); raise ``client_error(...)`` to make the call fail.
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


class RequestCounter:
    """Counts the AWS calls handler code makes, by (service, operation) and by function too.

    A ``before`` subscriber: a call is counted when it is made, whether it then succeeds or not.
    """

    def __init__(self, current_function: Callable[[], str | None]) -> None:
        self.current_function = current_function
        self.counts: collections.Counter[RequestKey] = collections.Counter()
        self.counts_by_function: collections.Counter[tuple[str, str, str]] = collections.Counter()

    def __call__(self, call: ApiCall, response: dict[str, Any] | None) -> None:
        function = self.current_function()
        if function is not None:
            self.counts[(call.service, call.operation)] += 1
            self.counts_by_function[(function, call.service, call.operation)] += 1

    def clear(self) -> None:
        self.counts.clear()
        self.counts_by_function.clear()


class FaultInjector:
    """A ``before`` subscriber: ``faults.before_aws_call`` for each call handler code makes."""

    def __init__(self, faults: Faults, current_function: Callable[[], str | None]) -> None:
        self.faults = faults
        self.current_function = current_function

    def __call__(self, call: ApiCall, response: dict[str, Any] | None) -> None:
        if self.current_function() is not None:
            self.faults.before_aws_call(call.service, call.operation)
