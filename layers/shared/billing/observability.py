"""Logger and metrics shared by every handler (Powertools, EMF).

Service name, namespace and log level come from the template's Globals. Logs
carry the CloudEvent id and agreement id as correlation keys; they never carry
the customer's e-mail or payment method (see `mask`).
"""

import sys
from typing import IO

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric


class _CurrentStdout:
    """Writes to whatever sys.stdout is now (Powertools would keep the stream of its first import;
    the embedded AWS captures each invocation's output by swapping sys.stdout)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


_stdout: IO[str] = _CurrentStdout()  # type: ignore[assignment]
logger = Logger(stream=_stdout)  # Lambda logs uncaught exceptions itself; no process-wide excepthook
metrics = Metrics()

__all__ = ["MetricUnit", "count", "count_by", "logger", "mask", "metrics"]


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


def mask(value: str | None) -> str | None:
    """Keep a hint for support (first two characters), hide the rest."""
    if not value:
        return value
    return value[:2] + "***"


def count_by(name: str, value: float, dimension: str, dimension_value: str) -> None:
    """A metric with one extra dimension (e.g. an amount per currency), emitted on its own."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        metric.add_dimension(name=dimension, value=dimension_value)
