"""CloudFormation's read API for the local stack: DescribeStacks, DescribeStackResource(s),
ListStackResources (the query protocol's XML), from the same translated template the emulator
stood up. This is how tools find a deployed stack's functions, queues and outputs, so they find
the local one the same way. Other stacks and actions fall through to moto (which has none).
"""

import uuid
import xml.etree.ElementTree as ET  # nosec B405 # only builds responses, never parses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from billing_local.emulator.cloud import LocalCloud

from .http import Reply

_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
_STATUS = "CREATE_COMPLETE"
_ACTIONS = ("DescribeStacks", "DescribeStackResource", "DescribeStackResources", "ListStackResources")


class CloudFormationApi:
    """Answers the read calls about the local stack; None means "not ours" (moto answers)."""

    def __init__(self, cloud: LocalCloud, public: Callable[[str], str]) -> None:
        self.cloud = cloud
        self.public = public  # a value as an outside client should see it (queue URLs on the endpoint)
        self.stack_id = cloud.resolver.pseudo["AWS::StackId"]
        self.created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def handle(self, body: bytes) -> Reply | None:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        action = form.get("Action", "")
        name = form.get("StackName")
        if action not in _ACTIONS or (
            name is not None and name not in (self.cloud.stack_name, self.stack_id)
        ):
            return None
        if action != "DescribeStacks" and name is None:
            return None
        if action == "DescribeStacks":
            return self._reply(action, lambda result: self._stacks(ET.SubElement(result, "Stacks")))
        if action == "ListStackResources":
            return self._reply(action, self._summaries)
        wanted = form.get("LogicalResourceId")
        if wanted is not None and wanted not in self.cloud.resource_ids():
            return _error(f"Resource {wanted} does not exist for stack {self.cloud.stack_name}")
        if action == "DescribeStackResource":
            if wanted is None:
                return _error("1 validation error detected: LogicalResourceId must not be null")
            return self._reply(
                action, lambda r: self._detail(ET.SubElement(r, "StackResourceDetail"), wanted)
            )
        return self._reply(action, lambda r: self._resources(r, wanted))

    # -- results ------------------------------------------------------------------------------
    def _stacks(self, stacks: ET.Element) -> None:
        member = ET.SubElement(stacks, "member")
        description = self.cloud.template.get("Description")
        _fields(member, StackName=self.cloud.stack_name, StackId=self.stack_id, CreationTime=self.created)
        _fields(member, StackStatus=_STATUS, **({"Description": str(description)} if description else {}))
        parameters = ET.SubElement(member, "Parameters")
        for key, value in sorted(self.cloud.parameters.items()):
            shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            _fields(ET.SubElement(parameters, "member"), ParameterKey=key, ParameterValue=shown)
        outputs = ET.SubElement(member, "Outputs")
        for key, output in self.cloud.outputs().items():
            entry = ET.SubElement(outputs, "member")
            _fields(entry, OutputKey=key, OutputValue=self.public(output["Value"]))
            if "Description" in output:
                _fields(entry, Description=output["Description"])

    def _resource(self, logical_id: str) -> dict[str, str]:
        return {
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": self.public(self.cloud.physical_id(logical_id)),
            "ResourceType": self.cloud.resource_type(logical_id),
        }

    def _detail(self, detail: ET.Element, logical_id: str) -> None:
        _fields(detail, StackName=self.cloud.stack_name, StackId=self.stack_id, **self._resource(logical_id))
        _fields(detail, LastUpdatedTimestamp=self.created, ResourceStatus=_STATUS)

    def _resources(self, result: ET.Element, logical_id: str | None) -> None:
        resources = ET.SubElement(result, "StackResources")
        for lid in [logical_id] if logical_id else self.cloud.resource_ids():
            member = ET.SubElement(resources, "member")
            _fields(member, StackName=self.cloud.stack_name, StackId=self.stack_id, **self._resource(lid))
            _fields(member, Timestamp=self.created, ResourceStatus=_STATUS)

    def _summaries(self, result: ET.Element) -> None:
        summaries = ET.SubElement(result, "StackResourceSummaries")
        for lid in self.cloud.resource_ids():
            member = ET.SubElement(summaries, "member")
            _fields(member, **self._resource(lid), LastUpdatedTimestamp=self.created, ResourceStatus=_STATUS)

    def _reply(self, action: str, fill: Callable[[ET.Element], Any]) -> Reply:
        root = ET.Element(f"{action}Response", xmlns=_NAMESPACE)
        fill(ET.SubElement(root, f"{action}Result"))
        _fields(ET.SubElement(root, "ResponseMetadata"), RequestId=str(uuid.uuid4()))
        return Reply(200, {"Content-Type": "text/xml"}, ET.tostring(root, encoding="utf-8"))


def _fields(parent: ET.Element, **values: str) -> None:
    for tag, text in values.items():
        ET.SubElement(parent, tag).text = text


def _error(message: str) -> Reply:
    root = ET.Element("ErrorResponse", xmlns=_NAMESPACE)
    _fields(ET.SubElement(root, "Error"), Type="Sender", Code="ValidationError", Message=message)
    _fields(root, RequestId=str(uuid.uuid4()))
    return Reply(400, {"Content-Type": "text/xml"}, ET.tostring(root, encoding="utf-8"))


__all__ = ["CloudFormationApi"]
