"""AWS::SSM::Parameter on moto."""

from typing import Any

from .clients import Clients
from .resources import Registry, Resource


class Parameters:
    def __init__(self, clients: Clients, registry: Registry) -> None:
        self.clients = clients
        registry.register("AWS::SSM::Parameter", self.create_parameter)

    def create_parameter(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("Name") or f"CFN-{logical_id}"
        kwargs: dict[str, Any] = {
            "Name": name,
            "Value": str(props["Value"]),
            "Type": props.get("Type", "String"),
        }
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if key in props:
                kwargs[key] = props[key]
        self.clients("ssm").put_parameter(**kwargs)
        return Resource(
            logical_id, "AWS::SSM::Parameter", name, {"Type": kwargs["Type"], "Value": kwargs["Value"]}
        )
