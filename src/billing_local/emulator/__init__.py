"""Embedded AWS: stands template.yaml up on moto, in-process, and drives the real handlers."""

from .clock import VirtualClock
from .cloud import LocalCloud
from .instrumentation import Faults, client_error
from .intrinsics import TemplateError

__all__ = ["Faults", "LocalCloud", "TemplateError", "VirtualClock", "client_error"]
