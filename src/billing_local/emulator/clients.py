"""The emulator's own AWS clients: on a session without the API-call hook, so never counted."""

from typing import Any

import boto3
from botocore.config import Config

from . import hooks

_sessions: dict[str, boto3.session.Session] = {}


def internal_session(region: str) -> boto3.session.Session:
    """One session per region (keeps botocore's model cache warm), detached from the hook."""
    session = _sessions.get(region)
    if session is None:
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            region_name=region,
        )
        hooks.detach(session.events)
        _sessions[region] = session
    return session


class Clients:
    """``clients("sqs")``: the emulator's client for a service, created on first use while open."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}

    def open(self) -> None:
        self._session = internal_session(self.region)

    def close(self) -> None:
        self._session = None
        self._clients.clear()

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            if self._session is None:
                raise RuntimeError("the LocalCloud is not active: use it as a context manager")
            client = self._session.client(
                service, region_name=self.region, config=Config(account_id_endpoint_mode="disabled")
            )
            self._clients[service] = client
        return client
