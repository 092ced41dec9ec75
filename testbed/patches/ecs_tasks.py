"""ECS one-off tasks (RunTask, DescribeTasks, StopTask) and their awslogs output, as the ECS
API reference and developer guide describe them.

The test bed's contract (DESIGN.md section 7, "Tasks"): a task whose command contains the
argument `testbed:exit=N` stops with exit code N; each `testbed:print=TEXT` argument writes
TEXT as a line to the task's log stream. Other one-off tasks exit 0; service tasks keep
running. `testbed:sleep=S` keeps the task RUNNING for S seconds (a test-bed knob, e.g. for
StopTask or a timeout). The command is the container override's (`overrides.
containerOverrides[].command` of the container's name) if given, else the container
definition's; each argument must be exactly one of those forms to count (`sh -c "..."` hides
them).

Restores, against moto 5.2.5 (whose one-off tasks started RUNNING, moved one step towards
STOPPED per DescribeTasks, had exit code 0 whatever the command, one container only with a
task-definition ARN as its containerArn, no stop code, no timestamps, no logs, kept their
network interface forever, and whose RunTask answered HTTP 500 when the awsvpcConfiguration
named no security groups):

- RunTask answers the task PROVISIONING (desiredStatus RUNNING); the task is PENDING a
  quarter of the task time T later (pullStartedAt), RUNNING at T/2 (startedAt,
  pullStoppedAt; its containers RUNNING with a runtimeId), and when its command ends (T/4
  later, or S seconds with `testbed:sleep=S`) its essential container exits: desiredStatus
  STOPPED, lastStatus DEPROVISIONING, stopCode `EssentialContainerExited`, stoppedReason
  "Essential container in task exited", stoppingAt / executionStoppedAt, each container
  STOPPED with its own exitCode. T/4 later the task is STOPPED (stoppedAt) and its elastic
  network interface is deleted (attachment status DELETED). T is CAPSULE_TESTBED_TASK_SECONDS
  (default 1, read when moto starts; 0 settles within the RunTask call). There is no
  background thread: every ECS and CloudWatch Logs call first brings each task to where the
  wall clock has taken it. Task ids are 32 hex digits as on AWS; containerArn is
  `arn:aws:ecs:REGION:ACCOUNT:container/CLUSTER/TASK-ID/UUID`.
- Logs: a container with logConfiguration `awslogs` gets, when it starts, the stream
  `awslogs-stream-prefix/CONTAINER-NAME/TASK-ID` (without a prefix: the container's
  runtimeId) in `awslogs-group` of `awslogs-region` (default: the task's), and each
  `testbed:print=TEXT` argument, in order, becomes one event per line of TEXT, timestamped
  1 ms apart from startedAt. GetLogEvents and FilterLogEvents then read them. With
  `awslogs-create-group` "true" a missing group is created; otherwise the task fails to
  start: stopCode `TaskFailedToStart`, stoppedReason "ResourceInitializationError: failed to
  validate logger args: create stream has been retried 1 times: failed to create Cloudwatch
  log stream: ResourceNotFoundException: The specified log group does not exist. : exit
  status 1", never RUNNING, no exit codes.
- Secrets: a container `secrets[].valueFrom` naming a Secrets Manager secret (an ARN, full
  or partial, with or without `:json-key:stage:version`) that does not exist, or one marked
  for deletion, or an SSM parameter (name or ARN) that does not exist, makes the task fail to
  start (checked before the log group, as the Fargate agent retrieves execution resources
  first): stopCode `TaskFailedToStart`, stoppedReason "ResourceInitializationError: unable
  to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve
  secret from asm: service call has been retried 1 time(s): failed to fetch secret ARN from
  secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified
  secret. status code: 400, request id: UUID" (SSM: "... unable to retrieve secrets from ssm:
  service call has been retried 1 time(s): invalid ssm parameters: NAME ...").
  What exists is read when the task would start (T/2 after RunTask), not at RunTask.
- StopTask on a task not yet STOPPED: desiredStatus STOPPED, stopCode `UserInitiated`,
  stoppedReason the `reason` given, else "Task stopped by user", stoppingAt now; the answer
  still shows the last status (as in AWS's example). ECS sends SIGTERM and, after the stop
  timeout, SIGKILL; the test bed's command does not handle SIGTERM (a shell as PID 1
  ignores it), so a RUNNING task's containers exit 137 (128 + 9) T/4 later, unless the
  command ends on its own first (then with its exit code); the task is DEPROVISIONING, and
  STOPPED another T/4 later. A task stopped before it ran never gets exit codes. StopTask of
  a STOPPED task answers it unchanged.
- DescribeTasks and ListTasks (desiredStatus STOPPED) keep returning stopped tasks (AWS: at
  least an hour; here until moto restarts).
- RunTask with an awsvpcConfiguration without securityGroups is accepted (the VPC's default
  security group applies), as CreateService already is (patches/ecs.py); and so is a task
  definition whose containers set no `memory` (the task-level memory is enough on Fargate;
  moto answered HTTP 500, a TypeError adding None).
- Unchanged (moto is right): RunTask of a task definition that does not exist fails with
  ClientException "Unable to describe task definition.".

Service tasks are not RunTask tasks: the rollout simulation of patches/ecs.py is untouched.

AWS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html,
API_DescribeTasks.html, API_StopTask.html ("the equivalent of docker stop is issued to the
containers running in the task. This results in a SIGTERM value and a default 30-second
timeout, after which the SIGKILL value is sent"; the example answer: stopCode UserInitiated,
stoppedReason "Task stopped by user", lastStatus RUNNING, desiredStatus STOPPED),
API_Task.html (lastStatus, desiredStatus, stopCode, stoppedReason, createdAt, pullStartedAt,
pullStoppedAt, startedAt, stoppingAt, executionStoppedAt, stoppedAt), API_Container.html
(exitCode, reason, runtimeId), API_TaskOverride.html / API_ContainerOverride.html
(command), API_AwsVpcConfiguration.html, API_LogConfiguration.html, API_Secret.html;
Developer Guide: task-lifecycle.html (PROVISIONING, PENDING, ACTIVATING, RUNNING,
DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED), using_awslogs.html ("awslogs-stream-prefix
... prefix-name/container-name/ecs-task-id"; awslogs-create-group),
stopped-task-error-codes.html, resource-initialization-error.html,
specifying-sensitive-data.html; CloudWatch Logs: API_GetLogEvents.html,
API_FilterLogEvents.html. The stopped reasons' wording is AWS's as reported by its users
(the Fargate agent's messages are not in the reference).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.logs.models import logs_backends
from moto.logs.responses import LogsResponse
from moto.utilities.utils import get_partition

from . import _switches
from ._util import around
from .ecs import _at

TASK_SECONDS_ENV = "CAPSULE_TESTBED_TASK_SECONDS"
DEFAULT_TASK_SECONDS = 1.0

EXIT = "testbed:exit="
PRINT = "testbed:print="
SLEEP = "testbed:sleep="

ESSENTIAL_EXITED = "Essential container in task exited"
STOPPED_BY_USER = "Task stopped by user"
SIGKILLED = 137  # 128 + SIGKILL
LOG_GROUP_MISSING = (
    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. "
    ": exit status 1"
)
_SECRETS_PREFIX = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
)

# Set by apply() from the environment.
_task_seconds = DEFAULT_TASK_SECONDS
# moto's server is threaded; tasks advance on reads, so these calls take turns.
_lock = threading.RLock()


@dataclass
class _Plan:
    """What one container's command does."""

    name: str
    exit_code: int = 0
    lines: list[str] = field(default_factory=list)
    sleep: float | None = None
    log: dict[str, str] | None = None  # awslogs options
    secrets: list[str] = field(default_factory=list)  # valueFrom of each secret


@dataclass
class _OneOff:
    task: Task
    created: float
    quarter: float  # T / 4
    plans: list[_Plan]
    stop_requested: float | None = None


# Tasks started by RunTask that are not STOPPED yet.
_live: list[_OneOff] = []


def _command(definition: dict[str, Any], overrides: dict[str, Any] | None) -> list[str]:
    for override in (overrides or {}).get("containerOverrides") or []:
        if override.get("name") == definition.get("name") and override.get("command") is not None:
            return list(override["command"])
    return list(definition.get("command") or [])


def _plan(definition: dict[str, Any], overrides: dict[str, Any] | None) -> _Plan:
    plan = _Plan(name=definition.get("name") or "")
    for argument in _command(definition, overrides):
        if not isinstance(argument, str):
            continue
        if argument.startswith(EXIT):
            raw = argument[len(EXIT) :]
            try:
                code = int(raw)
            except ValueError:
                code = -1
            if not 0 <= code <= 255:
                raise InvalidParameterException(f"{argument}: the exit code must be a whole number from 0 to 255.")
            plan.exit_code = code
        elif argument.startswith(PRINT):
            plan.lines.extend(argument[len(PRINT) :].split("\n"))
        elif argument.startswith(SLEEP):
            seconds = _switches_seconds(argument[len(SLEEP) :])
            if seconds is None:
                raise InvalidParameterException(f"{argument}: the time must be a number of seconds from 0 to 86400.")
            plan.sleep = seconds
    log = definition.get("logConfiguration") or {}
    if log.get("logDriver") == "awslogs":
        plan.log = dict(log.get("options") or {})
    plan.secrets = [s.get("valueFrom") or "" for s in definition.get("secrets") or []]
    return plan


def _switches_seconds(raw: str) -> float | None:
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 86400 else None


def _make_one_off(backend: EC2ContainerServiceBackend, task: Task, overrides: dict[str, Any] | None, now: float) -> _OneOff:
    definition = backend.describe_task_definition(task.task_definition_arn)
    # AWS's task ids are 32 hex digits (moto's a dashed UUID); re-key the task under its new ARN.
    cluster_tasks = backend.tasks[task.cluster_name]
    cluster_tasks.pop(task.task_arn, None)
    task.id = uuid.uuid4().hex
    cluster_tasks[task.task_arn] = task
    # moto's own state machine (one step per DescribeTasks) is switched off: this module sets lastStatus.
    task._transitions = []
    task._testbed_one_off = True
    task.last_status = "PROVISIONING"
    task.desired_status = "RUNNING"
    task.created_at = _at(now)
    task.pull_started_at = task.pull_stopped_at = task.started_at = None
    task.stopping_at = task.execution_stopped_at = task.stopped_at = None
    task.stop_code = None
    task.stopped_reason = None
    task.cpu = definition.cpu
    task.memory = definition.memory
    task.health_status = "UNKNOWN"
    task.connectivity = None
    task.version = 1
    partition = get_partition(task.region_name)
    plans = []
    task.containers = []
    for container in definition.container_definitions:
        plans.append(_plan(container, overrides))
        entry: dict[str, Any] = {
            "containerArn": f"arn:{partition}:ecs:{task.region_name}:{task._account_id}:container/"
            f"{task.cluster_name}/{task.id}/{uuid.uuid4()}",
            "taskArn": task.task_arn,
            "name": container.get("name"),
            "image": container.get("image"),
            "lastStatus": "PENDING",
            "healthStatus": "UNKNOWN",
            "networkBindings": [],
            "networkInterfaces": [],
            "cpu": str(container.get("cpu", 0)),
        }
        if container.get("memory") is not None:
            entry["memory"] = str(container["memory"])
        task.containers.append(entry)
    return _OneOff(task=task, created=now, quarter=_task_seconds / 4, plans=plans)


# --- why a task fails to start ------------------------------------------------------------


def _secret_failure(one_off: _OneOff) -> str | None:
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.ssm.models import ssm_backends

    task = one_off.task
    missing_parameters: list[str] = []
    for plan in one_off.plans:
        for reference in plan.secrets:
            if ":secretsmanager:" in reference:
                parts = reference.split(":")
                secret_arn = ":".join(parts[:7])
                region, account = parts[3] or task.region_name, parts[4] or task._account_id
                secrets = secretsmanager_backends[account][region].secrets
                secret = secrets.get(secret_arn) if secret_arn in secrets else None
                if secret is None:
                    error = "ResourceNotFoundException: Secrets Manager can't find the specified secret."
                elif getattr(secret, "is_deleted", lambda: False)():
                    error = (
                        "InvalidRequestException: You can't perform this operation on the secret because it "
                        "was marked for deletion."
                    )
                else:
                    continue
                return (
                    f"{_SECRETS_PREFIX}unable to retrieve secret from asm: service call has been retried 1 "
                    f"time(s): failed to fetch secret {secret_arn} from secrets manager: {error} status code: "
                    f"400, request id: {uuid.uuid4()}"
                )
            name, region, account = reference, task.region_name, task._account_id
            if reference.startswith("arn:"):
                parts = reference.split(":", 5)
                region, account = parts[3] or region, parts[4] or account
                rest = parts[5].split("/", 1)[1] if "/" in parts[5] else parts[5]
                name = f"/{rest}" if "/" in rest else rest
            parameters = ssm_backends[account][region]
            if parameters.get_parameter(name) is None and parameters.get_parameter(name.lstrip("/")) is None:
                missing_parameters.append(name)
    if missing_parameters:
        return (
            f"{_SECRETS_PREFIX}unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
            f"invalid ssm parameters: {' '.join(missing_parameters)}"
        )
    return None


def _log_failure(one_off: _OneOff) -> str | None:
    task = one_off.task
    for plan in one_off.plans:
        if plan.log is None:
            continue
        group = plan.log.get("awslogs-group")
        logs = logs_backends[task._account_id][plan.log.get("awslogs-region") or task.region_name]
        if group and group not in logs.groups:
            if str(plan.log.get("awslogs-create-group", "")).lower() == "true":
                logs.ensure_log_group(group)
            else:
                return LOG_GROUP_MISSING
    return None


# --- the task's life -----------------------------------------------------------------------


def _start(one_off: _OneOff, t: float) -> None:
    """The containers start at `t`: log streams are created and the printed lines written."""
    task = one_off.task
    task.last_status = "RUNNING"
    task.started_at = task.pull_stopped_at = _at(t)
    task.connectivity = "CONNECTED"
    started_ms = int(t * 1000)
    tick = 0
    for plan, container in zip(one_off.plans, task.containers):
        container["lastStatus"] = "RUNNING"
        container["runtimeId"] = f"{task.id}-{random.randint(0, 10**10 - 1):010d}"
        if plan.log is None or not plan.log.get("awslogs-group"):
            continue
        logs = logs_backends[task._account_id][plan.log.get("awslogs-region") or task.region_name]
        group = plan.log["awslogs-group"]
        prefix = plan.log.get("awslogs-stream-prefix")
        stream = f"{prefix}/{plan.name}/{task.id}" if prefix else container["runtimeId"]
        logs.ensure_log_stream(group, stream)
        events = []
        for line in plan.lines:
            events.append({"timestamp": started_ms + tick, "message": line})
            tick += 1
        if events:
            logs.put_log_events(group, stream, events)


def _exit(one_off: _OneOff, t: float, killed: bool) -> None:
    """The containers' processes end at `t` (SIGKILLed if `killed`)."""
    task = one_off.task
    for plan, container in zip(one_off.plans, task.containers):
        container["lastStatus"] = "STOPPED"
        container["exitCode"] = SIGKILLED if killed else plan.exit_code
    _deprovision(one_off, t, "EssentialContainerExited", ESSENTIAL_EXITED)


def _deprovision(one_off: _OneOff, t: float, stop_code: str, reason: str) -> None:
    task = one_off.task
    if task.desired_status != "STOPPED":
        task.desired_status = "STOPPED"
        task.stop_code = stop_code
        task.stopped_reason = reason
        task.stopping_at = _at(t)
    for container in task.containers:
        container["lastStatus"] = "STOPPED"
    task.last_status = "DEPROVISIONING"
    task.execution_stopped_at = _at(t)
    task.version += 1


def _stopped(one_off: _OneOff, t: float) -> None:
    task = one_off.task
    task.last_status = "STOPPED"
    task.stopped_at = _at(t)
    task.connectivity = None
    task.version += 1
    ec2 = ec2_backends[task._account_id][task.region_name]
    for attachment in task.attachments:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        attachment["status"] = "DELETED"
        eni = next((d["value"] for d in attachment.get("details", []) if d.get("name") == "networkInterfaceId"), None)
        if eni is not None and eni in ec2.enis:
            ec2.delete_network_interface(eni)


def _run_seconds(one_off: _OneOff) -> float:
    sleeps = [plan.sleep for plan in one_off.plans if plan.sleep is not None]
    return max(sleeps) if sleeps else one_off.quarter


def _advance(one_off: _OneOff, now: float) -> bool:
    """Bring the task to where it is at `now`; True once it is STOPPED."""
    task = one_off.task
    q = one_off.quarter
    pending_at = one_off.created + q
    start_at = one_off.created + 2 * q
    stop = one_off.stop_requested
    while True:
        status = task.last_status
        if status in ("PROVISIONING", "PENDING") and stop is not None:
            # Stopped before it ran: it never starts, and is deprovisioned a moment later.
            if now < stop + q:
                return False
            _deprovision(one_off, stop + q, "UserInitiated", STOPPED_BY_USER)
        elif status == "PROVISIONING":
            if now < pending_at:
                return False
            task.last_status = "PENDING"
            task.pull_started_at = _at(pending_at)
            for container in task.containers:
                container["lastStatus"] = "PENDING"
        elif status == "PENDING":
            if now < start_at:
                return False
            failure = _secret_failure(one_off) or _log_failure(one_off)
            if failure is not None:
                _deprovision(one_off, start_at, "TaskFailedToStart", failure)
            else:
                _start(one_off, start_at)
        elif status == "RUNNING":
            natural = start_at + _run_seconds(one_off)
            killed_at = None if stop is None else max(stop, start_at) + q
            if killed_at is not None and killed_at < natural:
                if now < killed_at:
                    return False
                _exit(one_off, killed_at, killed=True)
            else:
                if now < natural:
                    return False
                _exit(one_off, natural, killed=False)
        elif status == "DEPROVISIONING":
            done_at = _at_seconds(task.execution_stopped_at) + q
            if now < done_at:
                return False
            _stopped(one_off, done_at)
            return True
        else:
            return True


def _at_seconds(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def _advance_all(now: float) -> None:
    with _lock:
        _live[:] = [one_off for one_off in _live if not _advance(one_off, now)]


# --- moto hooks ----------------------------------------------------------------------------


def apply() -> None:
    global _task_seconds
    _task_seconds = _switches.number(TASK_SECONDS_ENV, DEFAULT_TASK_SECONDS)

    @around(EC2ContainerServiceResponse, "call_action")
    def ecs_call_action(original: Any, self: EC2ContainerServiceResponse) -> Any:
        with _lock:
            _advance_all(time.time())
            return original(self)

    @around(LogsResponse, "call_action")
    def logs_call_action(original: Any, self: LogsResponse) -> Any:
        with _lock:
            _advance_all(time.time())
            return original(self)

    original_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def task_resource_requirements(task_definition: Any) -> dict[str, Any]:
        # Container-level memory is optional (API_ContainerDefinition.html, "memory ... If using
        # the Fargate launch type, this parameter is optional"); count a container without it as 0.
        containers = [
            c
            if any(k in c for k in ("memory", "memoryReservation", "Memory", "MemoryReservation"))
            else {**c, "memory": 0}
            for c in task_definition.container_definitions
        ]
        return original_requirements(SimpleNamespace(container_definitions=containers))

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(task_resource_requirements)

    @around(EC2ContainerServiceBackend, "run_task")
    def run_task(
        original: Any,
        self: EC2ContainerServiceBackend,
        cluster_str: str,
        task_definition_str: str,
        count: int,
        overrides: dict[str, Any] | None,
        *args: Any,
        **kwargs: Any,
    ) -> list[Task]:
        args_list = list(args)
        # (started_by, tags, launch_type, networking_configuration, ...): give moto's Task the
        # empty security group list it indexes; the VPC's default group applies.
        network = kwargs.get("networking_configuration", args_list[3] if len(args_list) > 3 else None)
        if isinstance(network, dict):
            vpc = network.get("awsvpcConfiguration")
            if isinstance(vpc, dict) and "securityGroups" not in vpc:
                network = {**network, "awsvpcConfiguration": {**vpc, "securityGroups": []}}
                if "networking_configuration" in kwargs:
                    kwargs["networking_configuration"] = network
                else:
                    args_list[3] = network
        # Parse the commands before moto makes anything, so a bad knob changes nothing.
        definition = self.describe_task_definition(task_definition_str)
        for container in definition.container_definitions:
            _plan(container, overrides)
        with _lock:
            tasks = original(self, cluster_str, task_definition_str, count, overrides, *args_list, **kwargs)
            now = time.time()
            for task in tasks:
                one_off = _make_one_off(self, task, overrides, now)
                if not _advance(one_off, now):
                    _live.append(one_off)
            return tasks

    @around(EC2ContainerServiceBackend, "stop_task")
    def stop_task(original: Any, self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Task:
        with _lock:
            cluster = self._get_cluster(cluster_str)
            task_id = task_str.split("/")[-1]
            one_off = next(
                (o for o in _live if o.task.cluster_name == cluster.name and o.task.id == task_id),
                None,
            )
            if one_off is None:
                stopped = next(
                    (
                        t
                        for arn, t in self.tasks.get(cluster.name, {}).items()
                        if arn.split("/")[-1] == task_id and getattr(t, "_testbed_one_off", False)
                    ),
                    None,
                )
                if stopped is not None:
                    return stopped  # a one-off task that has stopped already: unchanged
                return original(self, cluster_str, task_str, reason)
            task = one_off.task
            now = time.time()
            if _advance(one_off, now):  # what happened before this call, first
                _live.remove(one_off)
                return task
            if one_off.stop_requested is None and task.desired_status == "RUNNING":
                one_off.stop_requested = now
                task.desired_status = "STOPPED"
                task.stop_code = "UserInitiated"
                task.stopped_reason = reason or STOPPED_BY_USER
                task.stopping_at = _at(now)
                task.version += 1
            if _advance(one_off, now):
                _live.remove(one_off)
            return task
