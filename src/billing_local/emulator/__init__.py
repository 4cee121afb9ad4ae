"""Embedded AWS: stands a SAM template up on moto, in-process, and drives the real handlers.

Generic: nothing here knows the application; ``billing_local.stack`` hands in the billing
system's hooks.
"""

from billing_local.cfn.intrinsics import TemplateError

from .clock import VirtualClock
from .cloud import LocalCloud, StackHook
from .hooks import ApiCall, ApiHook
from .instrumentation import Faults, RequestCounter, client_error

__all__ = [
    "ApiCall",
    "ApiHook",
    "Faults",
    "LocalCloud",
    "RequestCounter",
    "StackHook",
    "TemplateError",
    "VirtualClock",
    "client_error",
]
