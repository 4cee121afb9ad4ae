"""AWS::Scheduler::Schedule: fired from the virtual clock, delivered as EventBridge Scheduler does."""

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from .clients import Clients
from .clock import VirtualClock, iso_z
from .lambdas import AsyncFailure, Functions, Sender, error_code
from .resources import Registry, Resource
from .schedule_expressions import Schedule

_SCHEDULER_CONTEXT = re.compile(
    r"<aws\.scheduler\.(scheduled-time|schedule-arn|execution-id|attempt-number)>"
)
_LAMBDA_TYPES = ("AWS::Lambda::Function", "AWS::Lambda::Alias", "AWS::Lambda::Version")


@dataclass
class ScheduleState:
    logical_id: str
    name: str
    arn: str
    schedule: Schedule
    target: dict[str, Any]
    enabled: bool
    checked_until: datetime
    fired: int = 0


def _parse_instant(value: Any) -> datetime | None:
    if not value:
        return None
    instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class Scheduler:
    """The schedules of the template; Lambda targets are invoked asynchronously, others sent to."""

    def __init__(
        self,
        registry: Registry,
        clients: Clients,
        *,
        clock: VirtualClock,
        functions: Functions,
        send: Sender,
        async_failures: list[AsyncFailure],
    ) -> None:
        self.registry = registry
        self.clients = clients
        self.clock = clock
        self.functions = functions
        self.send = send
        self.async_failures = async_failures
        self.schedules: dict[str, ScheduleState] = {}
        registry.register("AWS::Scheduler::Schedule", self.create_schedule)

    def create_schedule(self, logical_id: str, props: dict[str, Any]) -> Resource:
        naming = self.registry.naming
        name = props.get("Name") or naming.default_name(logical_id, 64)
        group = props.get("GroupName") or "default"
        arn = naming.arn("scheduler", f"schedule/{group}/{name}")
        now = self.clock.now()
        schedule = Schedule(
            str(props["ScheduleExpression"]),
            props.get("ScheduleExpressionTimezone") or "UTC",
            anchor=now,
            start=_parse_instant(props.get("StartDate")),
            end=_parse_instant(props.get("EndDate")),
        )
        self.schedules[logical_id] = ScheduleState(
            logical_id=logical_id,
            name=name,
            arn=arn,
            schedule=schedule,
            target=dict(props["Target"]),
            enabled=props.get("State", "ENABLED") == "ENABLED",
            checked_until=now - timedelta(microseconds=1),  # a fire time equal to the start is due
        )
        with contextlib.suppress(ClientError):  # best effort: lets code list the schedules
            self.clients("scheduler").create_schedule(
                Name=name,
                GroupName=group,
                ScheduleExpression=schedule.expression,
                ScheduleExpressionTimezone=props.get("ScheduleExpressionTimezone") or "UTC",
                FlexibleTimeWindow=props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                Target={k: v for k, v in props["Target"].items() if k in ("Arn", "RoleArn", "Input")},
                State=props.get("State", "ENABLED"),
            )
        return Resource(logical_id, "AWS::Scheduler::Schedule", name, {"Arn": arn})

    def next_fire_time(self, logical_id: str, horizon: timedelta) -> datetime | None:
        state = self.schedules[logical_id]
        for instant in state.schedule.occurrences(state.checked_until, self.clock.now() + horizon):
            return instant
        return None

    def fire_due(self) -> list[str]:
        """Fire every enabled schedule occurrence up to the clock's now, oldest first."""
        now = self.clock.now()
        due: list[tuple[datetime, str]] = []
        for state in self.schedules.values():
            if state.enabled:
                due.extend(
                    (t, state.logical_id) for t in state.schedule.occurrences(state.checked_until, now)
                )
            state.checked_until = now
        due.sort()
        for instant, logical_id in due:
            self.fire(logical_id, instant)
        return [logical_id for _, logical_id in due]

    def fire(self, logical_id: str, scheduled_time: datetime) -> Any:
        """Deliver one occurrence of a schedule to its target, as EventBridge Scheduler does."""
        state = self.schedules[logical_id]
        state.fired += 1
        target = state.target
        target_arn = str(target["Arn"])
        retry = target.get("RetryPolicy") or {}
        retries = int(retry.get("MaximumRetryAttempts", 185))
        execution_id = str(uuid.uuid4())
        last_error: Exception | None = None
        for attempt in range(1 + retries):
            payload = self._input(target.get("Input"), state, scheduled_time, execution_id, attempt + 1)
            try:
                return self._deliver(target_arn, payload, logical_id)
            except ClientError as error:
                last_error = error
        assert last_error is not None
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter:
            self.send(
                str(dead_letter),
                target.get("Input") or "{}",
                {
                    "ERROR_CODE": error_code(last_error) or type(last_error).__name__,
                    "ERROR_MESSAGE": str(last_error)[:256],
                    "EXECUTION_ID": execution_id,
                    "RETRY_ATTEMPTS": str(retries),
                    "SCHEDULE_ARN": state.arn,
                    "TARGET_ARN": target_arn,
                },
            )
        else:
            self.async_failures.append(
                AsyncFailure(logical_id, target.get("Input"), repr(last_error), "scheduler")
            )
        return None

    @staticmethod
    def _input(
        template: Any, state: ScheduleState, scheduled_time: datetime, execution_id: str, attempt: int
    ) -> str:
        values = {
            "scheduled-time": iso_z(scheduled_time),
            "schedule-arn": state.arn,
            "execution-id": execution_id,
            "attempt-number": str(attempt),
        }
        text = template if isinstance(template, str) else json.dumps(template or {})
        return _SCHEDULER_CONTEXT.sub(lambda m: values[m.group(1)], text)

    def _deliver(self, target_arn: str, payload: str, schedule_id: str) -> Any:
        target = self.registry.by_arn(target_arn) or self.registry.by_arn(target_arn.rsplit(":", 1)[0])
        if target is not None and target.type in _LAMBDA_TYPES:
            function = self.functions.resolve(target_arn)
            return self.functions.invoke_async(function, json.loads(payload), f"schedule:{schedule_id}")
        self.send(target_arn, payload)
        return None
