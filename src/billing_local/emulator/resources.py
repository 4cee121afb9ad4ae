"""The template's resources: created on first use from resolved properties, by type.

Each service module (``sqs``, ``sns``, ``dynamodb``, ``s3``, ``ssm``, ``lambdas``, ``scheduler``)
registers a creator per resource type it stands up; every other type gets a synthetic name/ARN
(so references resolve) and an entry in ``skipped``.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billing_local.cfn.intrinsics import ACCOUNT_ID, Resolver, TemplateError


@dataclass
class Resource:
    logical_id: str
    type: str
    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


#: ``creator(logical_id, resolved_properties) -> Resource``
Creator = Callable[[str, dict[str, Any]], Resource]

_ARN_ATTRIBUTES = ("Arn", "StreamArn", "TopicArn")


@dataclass(frozen=True)
class Naming:
    """Deterministic physical names and ARNs: ``<stack_name>-<LogicalId>``."""

    stack_name: str
    region: str
    account_id: str = ACCOUNT_ID

    def default_name(self, logical_id: str, limit: int = 64, suffix: str = "") -> str:
        name = f"{self.stack_name}-{logical_id}"
        return name[: limit - len(suffix)] + suffix

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"


class Registry:
    """Resources by logical id, created on demand (a Ref/GetAtt creates its target first)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any], naming: Naming) -> None:
        self.template = template
        self.naming = naming
        self.resolver = Resolver(
            template,
            parameters,
            region=naming.region,
            stack_name=naming.stack_name,
            ref=self.ref,
            get_att=self.get_att,
        )
        self.definitions: dict[str, dict[str, Any]] = {
            lid: d for lid, d in template["Resources"].items() if self.resolver.is_enabled(d)
        }
        self.skipped: list[tuple[str, str]] = []
        self.active = False
        self._creators: dict[str, Creator] = {}
        self._resources: dict[str, Resource] = {}
        self._creating: list[str] = []
        self._by_arn: dict[str, str] = {}

    def register(self, resource_type: str, creator: Creator) -> None:
        self._creators[resource_type] = creator

    def create_all(self) -> None:
        for logical_id in self.definitions:
            self.ensure(logical_id)

    def ensure(self, logical_id: str) -> Resource:
        resource = self._resources.get(logical_id)
        if resource is not None:
            return resource
        if not self.active:
            raise RuntimeError("the LocalCloud is not active: use it as a context manager")
        definition = self.definitions.get(logical_id)
        if definition is None:
            if logical_id in self.template["Resources"]:
                raise TemplateError(f"{logical_id} is referenced but its Condition is false")
            raise TemplateError(f"unknown resource or parameter {logical_id!r}")
        if logical_id in self._creating:
            cycle = " -> ".join([*self._creating, logical_id])
            raise TemplateError(f"circular reference: {cycle}")
        rtype = str(definition["Type"])
        creator = self._creators.get(rtype)
        self._creating.append(logical_id)
        try:
            if creator is None:
                resource = self.synthetic(logical_id, rtype)
                self.skipped.append((logical_id, rtype))
            else:
                properties = self.resolver.resolve(definition.get("Properties") or {})
                resource = creator(logical_id, properties)
                resource.properties = properties
        finally:
            self._creating.pop()
        self._resources[logical_id] = resource
        for key, value in resource.attrs.items():
            if key in _ARN_ATTRIBUTES and isinstance(value, str):
                self._by_arn[value] = logical_id
        return resource

    def ref(self, logical_id: str) -> Any:
        return self.ensure(logical_id).ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.ensure(logical_id)
        if attribute not in resource.attrs:
            raise TemplateError(f"{logical_id} ({resource.type}) has no attribute {attribute} locally")
        return resource.attrs[attribute]

    def by_arn(self, arn: str) -> Resource | None:
        """The resource an ARN of the template names (Arn, StreamArn or TopicArn), if any."""
        logical_id = self._by_arn.get(arn)
        return self._resources[logical_id] if logical_id else None

    def type_of(self, logical_id: str) -> str:
        return str(self.definitions[logical_id]["Type"])

    def logical_ids(self, resource_type: str) -> list[str]:
        return [lid for lid, d in self.definitions.items() if d.get("Type") == resource_type]

    def skip(self, logical_id: str, label: str) -> None:
        self.skipped.append((logical_id, label))

    def synthetic(self, logical_id: str, rtype: str) -> Resource:
        """A name and ARN for a resource that is not emulated, so references to it resolve."""
        service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "unknown"
        name = self.naming.default_name(logical_id)
        arn = self.naming.arn(service, f"{rtype.split('::')[-1].lower()}/{name}", regional=service != "iam")
        return Resource(logical_id, rtype, name, {"Arn": arn, "Name": name, "Id": name})


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def attribute_string(value: Any) -> str:
    """A template value as an AWS attribute string (booleans lower case, objects as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
