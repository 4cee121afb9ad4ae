"""The billing system's local stack: the generic emulator with the billing layer's hooks.

``local_cloud(...)`` takes LocalCloud's arguments and wires in what the billing layer needs
from its surroundings:

- its clock (``billing.clock``) reads the emulator's virtual clock while the cloud is active;
- its per-container caches (``billing.bootstrap``'s adapters, the engine's fold memo) start
  empty and are emptied again when the cloud stops: a new cloud must not inherit them;
- the payment provider's key, a SecureString parameter named by the payment function's
  ``PAYMENT_PROVIDER_KEY_PARAM``, exists (the sandbox's dummy key), as the deploy checklist has it.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billing_local.emulator import LocalCloud, StackHook

PROVIDER_KEY = "sandbox-key-not-a-secret"  # the sandbox's dummy key, stored as SecureString
PROVIDER_KEY_VARIABLE = "PAYMENT_PROVIDER_KEY_PARAM"


@contextlib.contextmanager
def billing_clock(cloud: LocalCloud) -> Iterator[None]:
    from billing import clock

    clock.set_source(cloud.clock.now)
    try:
        yield
    finally:
        clock.set_source(None)


def _reset_layer_caches() -> None:
    """A new cloud means cold Lambda environments: nothing cached by an earlier cloud survives."""
    from aws_lambda_powertools.utilities import parameters

    from billing import bootstrap
    from billing.domain import engine  # its memo trusts one append-only history per agreement id

    bootstrap.reset()
    engine.clear_cache()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # the provider key, cached by Powertools


@contextlib.contextmanager
def fresh_layer(cloud: LocalCloud) -> Iterator[None]:
    _reset_layer_caches()
    try:
        yield
    finally:
        _reset_layer_caches()


def provider_key(value: str = PROVIDER_KEY) -> StackHook:
    """A hook that stores the provider key under every name the functions' environment gives."""

    @contextlib.contextmanager
    def seed(cloud: LocalCloud) -> Iterator[None]:
        names = {cloud.function(f).environment.get(PROVIDER_KEY_VARIABLE) for f in cloud.function_names()}
        for name in sorted(n for n in names if n):
            cloud.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        yield

    return seed


def billing_hooks(key: str | None = PROVIDER_KEY) -> tuple[StackHook, ...]:
    hooks: tuple[StackHook, ...] = (billing_clock, fresh_layer)
    return (*hooks, provider_key(key)) if key is not None else hooks


def local_cloud(
    template: str | Path = "template.yaml", *, key: str | None = PROVIDER_KEY, **options: Any
) -> LocalCloud:
    """A LocalCloud of the billing template (``options``: LocalCloud's), with the billing hooks."""
    return LocalCloud(template, hooks=billing_hooks(key), **options)
