"""outbox_publisher handler (placeholder until wired)."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}
