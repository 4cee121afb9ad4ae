"""Embedded AWS: stands template.yaml up on moto, in-process, and drives the real handlers."""

from billing_local.cfn.intrinsics import TemplateError

from .clock import VirtualClock
from .cloud import LocalCloud
from .instrumentation import Faults, client_error

__all__ = ["Faults", "LocalCloud", "TemplateError", "VirtualClock", "client_error"]
