"""ECS: clusters, services, deployments and their tasks as the ECS API reference describes them.

Restores, against moto 5.2.5:

- CreateCluster on the name of an ACTIVE cluster returns that cluster unchanged, tags
  included (creating a cluster is idempotent; moto replaced it and dropped its tags).
  A deleted (INACTIVE) cluster's name still gives a new cluster, as on AWS.
- CreateService stores `deploymentConfiguration` and `healthCheckGracePeriodSeconds` and
  DescribeServices returns them (moto dropped both). Unset fields of the deployment
  configuration read back as the documented defaults for the rolling-update controller:
  maximumPercent 200, minimumHealthyPercent 100 (100 / 0 for DAEMON services) and a
  disabled circuit breaker. UpdateService merges a given configuration into the current one.
- UpdateService stores the task definition's full ARN, as DescribeServices always
  returns it (moto stored whatever string was passed, e.g. `family:3`).
- CreateService with an `awsvpcConfiguration` that names no security groups is accepted
  (the VPC's default security group applies); moto answered HTTP 500 (a KeyError).

- Rolling deployments progress over time, as the ECS rolling-update scheduler reports them
  (moto left one PRIMARY deployment IN_PROGRESS forever, never started a new one on an
  update, and had no service events):
  * CreateService, and an UpdateService that changes the task definition, network
    configuration, platform version, load balancers, service registries or capacity
    provider strategy, or sets forceNewDeployment, starts a new PRIMARY deployment:
    rolloutState IN_PROGRESS, "ECS deployment ecs-svc/ID in progress.". The deployments it
    replaces stay listed as ACTIVE, their running tasks draining as the new ones start.
  * After the rollout time the new deployment is COMPLETED ("ECS deployment ecs-svc/ID
    completed."), the old ones are gone, and the service runs `desiredCount` tasks. Events,
    newest first: "has started N tasks: (task ID) ...", "(deployment ecs-svc/ID) deployment
    completed.", "has reached a steady state.".
  * A task definition with a container whose docker label `capsule.testbed/fail` (or
    environment variable `CAPSULE_TESTBED_FAIL`) is `health-check`, `image-pull`, `secret`
    or `exit` (a test bed knob; ECS stores dockerLabels and environment as given) never gets a task to run: its tasks stop one after the other,
    spread over the rollout time, with the stop code, stopped reason and container exit
    code / reason / health of that failure. With the circuit breaker on, the deployment
    is FAILED once its failure threshold (3 to 200 tasks: half the desired count) is
    reached: "ECS deployment circuit breaker: tasks failed to start.". With rollback on,
    ECS starts a new PRIMARY deployment of the last COMPLETED deployment's task
    definition ("ECS deployment circuit breaker: rolling back to deploymentId
    ecs-svc/OLD.") and the service's taskDefinition goes back to it; the failed deployment
    stays ACTIVE until the rollback completes one more rollout time later. Without
    rollback (or with no completed deployment to return to) the failed deployment stays
    PRIMARY. With the circuit breaker off, the deployment stays IN_PROGRESS and tasks keep
    failing.
  * The rollout time is CAPSULE_TESTBED_ECS_ROLLOUT_SECONDS (read when moto starts, default
    2), or the cluster tag `capsule.testbed/rollout-seconds` (e.g. "0.5"; "0" completes at
    once), read when a deployment starts. Time is the wall clock; every ECS call first
    brings each service up to date, so there is no background thread.
- ListTasks filters by `serviceName` (the service's tasks have group "service:NAME") and,
  when no `desiredStatus` is given, returns only tasks whose desired status is RUNNING
  (moto ignored serviceName and returned tasks of every status). The stopped tasks of a
  failing deployment are found with desiredStatus STOPPED, and DescribeTasks returns them
  with `startedBy` = the deployment id.

Why not MOTO_ECS_SERVICE_RUNNING: moto uses it as a fixed running count for every
service (with 100, a service of 2 shows 100 running and -98 pending), which no waiter accepts.

AWS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html,
API_CreateService.html, API_UpdateService.html, API_DeploymentConfiguration.html,
API_AwsVpcConfiguration.html ("securityGroups ... If you don't specify a security group, the
default security group for the VPC is used"), API_Deployment.html (status PRIMARY / ACTIVE,
rolloutState, rolloutStateReason, failedTasks), API_ServiceEvent.html, API_ListTasks.html ("The
default status filter is RUNNING"), API_Task.html (stopCode, stoppedReason, startedBy, group),
API_Container.html (exitCode, reason, healthStatus), API_ContainerDefinition.html
(dockerLabels); Developer Guide:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
(failure threshold, rollback to the last COMPLETED deployment),
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html.
"""

import copy
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import EcsClientException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service, Task, TaskDefinition
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.utilities.utils import get_partition

from ._util import around

ROLLOUT_SECONDS_ENV = "CAPSULE_TESTBED_ECS_ROLLOUT_SECONDS"
ROLLOUT_SECONDS_TAG = "capsule.testbed/rollout-seconds"
FAIL_LABEL = "capsule.testbed/fail"
# The same knob as a container environment variable: capsule never sets docker labels, but
# a capsule.toml can set environment variables, so end-to-end tests mark a service failing
# with `[services.NAME.env] CAPSULE_TESTBED_FAIL = "image-pull"`.
FAIL_ENV = "CAPSULE_TESTBED_FAIL"


def _fail_mode(container: dict[str, Any]) -> str | None:
    mode = (container.get("dockerLabels") or {}).get(FAIL_LABEL)
    if mode is None:
        mode = next((e.get("value") for e in container.get("environment") or [] if e.get("name") == FAIL_ENV), None)
    return mode
FAILURE_MODES = ("health-check", "image-pull", "secret", "exit")
DEFAULT_ROLLOUT_SECONDS = 2.0

# Set by apply() from the environment.
_rollout_seconds = DEFAULT_ROLLOUT_SECONDS
# moto's server is threaded; a rollout advances on reads, so ECS calls take turns.
_lock = threading.RLock()

# UpdateService parameters that start a new deployment when they change the service.
_REDEPLOYING_PROPERTIES = (
    "network_configuration",
    "platform_version",
    "load_balancers",
    "service_registries",
    "capacity_provider_strategy",
)

# With the circuit breaker off, tasks keep failing; keep at most this many of them.
_STOPPED_TASKS_KEPT = 100

_IMPAIRED = (
    "is unable to consistently start tasks successfully. For more information, see the "
    "Troubleshooting section of the Amazon ECS Developer Guide."
)


def _parse_seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0 or seconds > 86400:
        return None
    return seconds


def _default_deployment_configuration(scheduling_strategy: str) -> dict[str, Any]:
    daemon = scheduling_strategy == "DAEMON"
    return {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 100 if daemon else 200,
        "minimumHealthyPercent": 0 if daemon else 100,
    }


def _merged(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _uses_ecs_controller(service: Service) -> bool:
    return service.deployment_controller.get("type", "ECS") == "ECS"


def _at(t: float) -> datetime:
    # moto keeps naive UTC datetimes (moto.core.utils.utcnow).
    return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)


def _event(service: Service, t: float, message: str) -> None:
    """Add a service event; DescribeServices lists them newest first and keeps the last 100."""
    created = _at(t)
    last = getattr(service, "_testbed_last_event", None)
    if last is not None and created <= last:
        # Several events of one instant keep their order when sorted by time.
        created = last + timedelta(milliseconds=1)
    service._testbed_last_event = created
    service.events.insert(
        0, {"id": str(uuid.uuid4()), "createdAt": created, "message": f"(service {service.name}) {message}"}
    )
    del service.events[100:]


def _task_id() -> str:
    return uuid.uuid4().hex


# --- the simulated rollout ---------------------------------------------------------------


@dataclass
class _Rollout:
    deployment: dict[str, Any]  # the new PRIMARY deployment
    previous: list[tuple[dict[str, Any], int]]  # replaced deployments, running tasks at the start
    started: float
    seconds: float
    failure: str | None  # a FAILURE_MODES value
    failing_container: str | None
    threshold: int  # circuit breaker: failed tasks that fail the deployment
    tasks: list["_ServiceTask"] = field(default_factory=list)
    stopped: int = 0
    impaired_reported: bool = False
    rollback: dict[str, Any] | None = None
    rollback_started: float = 0.0
    rollback_running: int = 0


def _rollout_of(service: Service) -> _Rollout | None:
    return getattr(service, "_testbed_rollout", None)


def _primary(service: Service) -> dict[str, Any] | None:
    return next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)


def _seconds_for(backend: EC2ContainerServiceBackend, cluster_name: str) -> float:
    cluster = backend.clusters.get(cluster_name)
    for tag in (cluster.tags if cluster is not None else None) or []:
        if tag.get("key") == ROLLOUT_SECONDS_TAG:
            seconds = _parse_seconds(tag.get("value"))
            if seconds is not None:
                return seconds
    return _rollout_seconds


def _failure_of(backend: EC2ContainerServiceBackend, task_definition: str | None) -> tuple[str, str] | None:
    if not task_definition:
        return None
    definition = backend.describe_task_definition(task_definition)
    for container in definition.container_definitions:
        mode = _fail_mode(container)
        if mode:
            return mode, container.get("name")
    return None


def _breaker(service: Service) -> dict[str, Any]:
    configuration = getattr(service, "deployment_configuration", None) or {}
    return configuration.get("deploymentCircuitBreaker") or {}


def _new_deployment(template: dict[str, Any], service: Service, t: float, task_definition: str) -> dict[str, Any]:
    deployment_id = f"ecs-svc/{mock_random.randint(10**18, 10**19 - 1)}"
    deployment = dict(template)
    deployment.update(
        id=deployment_id,
        status="PRIMARY",
        taskDefinition=task_definition,
        desiredCount=service.desired_count,
        pendingCount=0,
        runningCount=0,
        failedTasks=0,
        createdAt=_at(t),
        updatedAt=_at(t),
        launchType=service.launch_type,
        networkConfiguration=service.network_configuration or None,
        platformVersion=service.platform_version,
        rolloutState="IN_PROGRESS",
        rolloutStateReason=f"ECS deployment {deployment_id} in progress.",
    )
    return deployment


def _begin(backend: EC2ContainerServiceBackend, service: Service, now: float, creating: bool) -> None:
    """Start a new PRIMARY deployment of the service's current task definition."""
    template = _primary(service) or (service.deployments[0] if service.deployments else None)
    if template is None:
        return
    deployment = _new_deployment(template, service, now, service.task_definition)
    current = _rollout_of(service)
    if current is not None:
        _stop_unfinished(current, now, f"Scaling activity initiated by (deployment {deployment['id']})")
        if current.failure is not None and current.rollback is None:
            # A failing deployment's only tasks were the ones just stopped.
            current.deployment.update(runningCount=0, pendingCount=0)
    previous: list[tuple[dict[str, Any], int]] = []
    if not creating:
        for old in service.deployments:
            old["status"] = "ACTIVE"
            previous.append((old, old.get("runningCount", 0)))
    service.deployments = [deployment] + [old for old, _ in previous]
    failure = _failure_of(backend, service.task_definition) if service.desired_count > 0 else None
    rollout = _Rollout(
        deployment=deployment,
        previous=previous,
        started=now,
        seconds=_seconds_for(backend, service.cluster_name),
        failure=failure[0] if failure else None,
        failing_container=failure[1] if failure else None,
        threshold=min(200, max(3, math.ceil(service.desired_count * 0.5))),
    )
    service._testbed_rollout = rollout
    if failure is None:
        _started(service, now, service.desired_count)
    else:
        deployment["pendingCount"] = service.desired_count


def _started(service: Service, t: float, count: int) -> None:
    if count > 0:
        tasks = " ".join(f"(task {_task_id()})" for _ in range(count))
        _event(service, t, f"has started {count} tasks: {tasks}.")


def _drain(rollout: _Rollout, replaced: int) -> None:
    """The replaced deployments stop as many tasks as the new one runs, oldest first."""
    for old, running_at_start in reversed(rollout.previous):
        stopping = min(replaced, running_at_start)
        replaced -= stopping
        old["runningCount"] = old["desiredCount"] = running_at_start - stopping
        old["pendingCount"] = 0


def _complete(service: Service, deployment: dict[str, Any], t: float) -> None:
    deployment.update(
        status="PRIMARY",
        desiredCount=service.desired_count,
        runningCount=service.desired_count,
        pendingCount=0,
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
        updatedAt=_at(t),
    )
    service.deployments = [deployment]
    service._testbed_completed = {"id": deployment["id"], "taskDefinition": deployment["taskDefinition"]}
    service._testbed_rollout = None
    _event(service, t, f"(deployment {deployment['id']}) deployment completed.")
    _event(service, t, "has reached a steady state.")


def _fail(service: Service, rollout: _Rollout, t: float) -> None:
    deployment = rollout.deployment
    deployment.update(
        rolloutState="FAILED",
        rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
        pendingCount=0,
        runningCount=0,
        updatedAt=_at(t),
    )
    _event(service, t, f"(deployment {deployment['id']}) deployment failed: tasks failed to start.")
    target = getattr(service, "_testbed_completed", None)
    if not _breaker(service).get("rollback") or target is None:
        # Stays PRIMARY and FAILED; the deployments it was replacing keep their tasks.
        service._testbed_rollout = None
        return
    _event(service, t, f"rolling back to deployment {target['id']}.")
    rollback = _new_deployment(deployment, service, t, target["taskDefinition"])
    rollback["rolloutStateReason"] = f"ECS deployment circuit breaker: rolling back to deploymentId {target['id']}."
    # The rollback takes over the tasks that still run; the failed deployment drains.
    running = min(service.desired_count, sum(old.get("runningCount", 0) for old, _ in rollout.previous))
    rollback.update(runningCount=running, pendingCount=service.desired_count - running)
    deployment["status"] = "ACTIVE"
    service.deployments = [rollback, deployment]
    service.task_definition = target["taskDefinition"]
    rollout.previous = []
    rollout.rollback = rollback
    rollout.rollback_started = t
    rollout.rollback_running = running
    _started(service, t, service.desired_count - running)


def _progress(deployment: dict[str, Any], desired: int, start_running: int, fraction: float) -> int:
    running = start_running + math.floor(max(0, desired - start_running) * fraction)
    running = min(running, max(desired - 1, start_running))
    deployment.update(desiredCount=desired, runningCount=running, pendingCount=max(0, desired - running))
    return running


def _advance(backend: EC2ContainerServiceBackend, service: Service, now: float) -> None:
    """Bring the service's rollout to where it is at `now`."""
    rollout = _rollout_of(service)
    if rollout is None or service.status != "ACTIVE":
        return
    desired = service.desired_count
    if rollout.rollback is None:
        end = rollout.started + rollout.seconds
        if rollout.failure is None:
            if now >= end:
                _complete(service, rollout.deployment, end)
            else:
                fraction = (now - rollout.started) / rollout.seconds
                _drain(rollout, _progress(rollout.deployment, desired, 0, fraction))
        else:
            _run_failing_tasks(backend, service, rollout, now)
            breaker = _breaker(service)
            if rollout.stopped >= rollout.threshold:
                if breaker.get("enable"):
                    _fail(service, rollout, end)
                elif not rollout.impaired_reported:
                    rollout.impaired_reported = True
                    interval = rollout.seconds / rollout.threshold
                    _event(service, rollout.started + rollout.threshold * interval, _IMPAIRED)
    if rollout.rollback is not None and _rollout_of(service) is rollout:
        end = rollout.rollback_started + rollout.seconds
        if now >= end:
            _complete(service, rollout.rollback, end)
        else:
            fraction = (now - rollout.rollback_started) / rollout.seconds
            _progress(rollout.rollback, desired, rollout.rollback_running, fraction)


def _recount(
    backend: EC2ContainerServiceBackend, service: Service, elsewhere: tuple[int, int] | None = None
) -> None:
    """Service counts are the sum of its deployments'; the cluster's follow them."""
    if service.deployments:
        running = sum(d.get("runningCount", 0) for d in service.deployments)
        pending = sum(d.get("pendingCount", 0) for d in service.deployments)
    else:
        running, pending = service.desired_count, 0
    cluster = backend.clusters.get(service.cluster_name)
    if cluster is not None:
        if elsewhere is not None:
            cluster.running_tasks_count = elsewhere[0] + running
            cluster.pending_tasks_count = elsewhere[1] + pending
        elif service.status == "ACTIVE":
            cluster.running_tasks_count += running - service.running_count
            cluster.pending_tasks_count += pending - service.pending_count
    service.running_count = running
    service.pending_count = pending


# --- the tasks of a failing deployment -----------------------------------------------------


class _ServiceTask(Task):
    """A task the simulated scheduler started for a deployment. Built without
    Task.__init__, which would create an ENI for awsvpc tasks that nothing deletes."""

    def __init__(
        self,
        backend: EC2ContainerServiceBackend,
        service: Service,
        deployment: dict[str, Any],
        definition: TaskDefinition,
        mode: str,
        t: float,
    ):
        # No transitions: the simulation sets lastStatus itself.
        ManagedState.__init__(self, model_name="ecs::task", transitions=[("STOPPED", "STOPPED")])
        cluster = backend.clusters[service.cluster_name]
        self.id = _task_id()
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.region_name = cluster.region_name
        self._account_id = backend.account_id
        self._backend = backend
        self.container_instance_arn = None
        self.resource_requirements = None
        self.capacity_provider_name = None
        self.attachments: list[dict[str, Any]] = []
        self.overrides: dict[str, Any] = {}
        self.tags: list[dict[str, str]] = []
        self.group = f"service:{service.name}"
        self.started_by = deployment["id"]
        self.task_definition_arn = definition.arn
        self.launch_type = service.launch_type
        self.platform_version = service.platform_version
        self.cpu = definition.cpu
        self.memory = definition.memory
        # The task reaches RUNNING unless it fails while starting.
        runs = mode in ("health-check", "exit")
        self.desired_status = "RUNNING"
        self.last_status = "RUNNING" if runs else "PENDING"
        self.health_status = "UNKNOWN"
        self.created_at = _at(t)
        self.started_at = _at(t) if runs else None
        self.stopping_at = self.stopped_at = self.execution_stopped_at = None
        self.stop_code = self.stopped_reason = None
        partition = get_partition(self.region_name)
        self.containers = [
            {
                "containerArn": f"arn:{partition}:ecs:{self.region_name}:{self._account_id}:container/"
                f"{cluster.name}/{self.id}/{uuid.uuid4()}",
                "taskArn": self.task_arn,
                "name": container.get("name"),
                "image": container.get("image"),
                "lastStatus": self.last_status,
                "healthStatus": "UNKNOWN",
                "networkBindings": [],
                "networkInterfaces": [],
            }
            for container in definition.container_definitions
        ]


def _run_failing_tasks(backend: EC2ContainerServiceBackend, service: Service, rollout: _Rollout, now: float) -> None:
    """Start and stop the failing deployment's tasks one after the other: task i runs from
    started + i * interval to started + (i + 1) * interval."""
    interval = rollout.seconds / rollout.threshold
    keep = rollout.threshold if interval == 0 or _breaker(service).get("enable") else _STOPPED_TASKS_KEPT
    keep = max(keep, rollout.threshold)
    deployment = rollout.deployment
    definition = backend.describe_task_definition(deployment["taskDefinition"])
    while rollout.stopped < keep:
        index = rollout.stopped
        start = rollout.started + index * interval
        if start > now:
            break
        if len(rollout.tasks) == index:
            task = _ServiceTask(backend, service, deployment, definition, rollout.failure or "exit", start)
            backend.tasks.setdefault(service.cluster_name, {})[task.task_arn] = task
            rollout.tasks.append(task)
            _event(service, start, f"has started 1 tasks: (task {task.id}).")
        task = rollout.tasks[index]
        stop = start + interval
        if stop > now:
            break
        _stop_failed(service, rollout, definition, task, stop)
        rollout.stopped += 1
        deployment.update(failedTasks=rollout.stopped, updatedAt=_at(stop))
    in_flight = [task for task in rollout.tasks[rollout.stopped :] if task.desired_status == "RUNNING"]
    deployment["runningCount"] = sum(1 for task in in_flight if task.last_status == "RUNNING")
    deployment["pendingCount"] = service.desired_count if rollout.stopped < keep else 0


def _image_ref(image: str) -> str:
    """The reference containerd resolves: docker.io/library/ for short Docker Hub names."""
    first, _, rest = image.partition("/")
    if not rest:
        image = f"docker.io/library/{image}"
    elif "." not in first and ":" not in first and first != "localhost":
        image = f"docker.io/{image}"
    if "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        image += ":latest"
    return image


def _secret_reason(task: _ServiceTask, definition: TaskDefinition, container: dict[str, Any]) -> str:
    partition = get_partition(task.region_name)
    secrets = container.get("secrets") or [s for c in definition.container_definitions for s in c.get("secrets") or []]
    role_arn = getattr(definition, "execution_role_arn", None) or "ecsTaskExecutionRole"
    principal = f"arn:{partition}:sts::{task._account_id}:assumed-role/{role_arn.split('/')[-1]}/{task.id}"
    reference = secrets[0]["valueFrom"] if secrets else None
    prefix = (
        "ResourceInitializationError: unable to pull secrets or registry auth: "
        "execution resource retrieval failed:"
    )
    request_id = uuid.uuid4()
    if reference is None or ":secretsmanager:" in reference:
        secret = (
            ":".join(reference.split(":")[:7])
            if reference
            else f"arn:{partition}:secretsmanager:{task.region_name}:{task._account_id}:secret:{definition.family}"
        )
        return (
            f"{prefix} unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"failed to fetch secret {secret} from secrets manager: AccessDeniedException: User: {principal} "
            f"is not authorized to perform: secretsmanager:GetSecretValue on resource: {secret} because no "
            f"identity-based policy allows the secretsmanager:GetSecretValue action status code: 400, "
            f"request id: {request_id}"
        )
    parameter = (
        reference
        if reference.startswith("arn:")
        else f"arn:{partition}:ssm:{task.region_name}:{task._account_id}:parameter/{reference.lstrip('/')}"
    )
    return (
        f"{prefix} unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
        f"AccessDeniedException: User: {principal} is not authorized to perform: ssm:GetParameters on "
        f"resource: {parameter} because no identity-based policy allows the ssm:GetParameters action "
        f"status code: 400, request id: {request_id}"
    )


def _stop_failed(
    service: Service, rollout: _Rollout, definition: TaskDefinition, task: _ServiceTask, t: float
) -> None:
    mode = rollout.failure
    failing = next((c for c in task.containers if c["name"] == rollout.failing_container), task.containers[0])
    definitions = {c.get("name"): c for c in definition.container_definitions}
    ran = mode in ("health-check", "exit")
    for container in task.containers:
        container["lastStatus"] = "STOPPED"
        if ran:
            # The other containers get SIGTERM when the task stops and exit cleanly.
            container["exitCode"] = 0
    if mode == "health-check":
        balancer = next((lb for lb in service.load_balancers if lb.get("targetGroupArn")), None)
        task.stop_code = "ServiceSchedulerInitiated"
        # ECS stops the task (SIGTERM, then SIGKILL after the stop timeout); a process
        # hung badly enough to fail its health check is killed: 128 + 9.
        failing["exitCode"] = 137
        if balancer is None:
            task.stopped_reason = "Task failed container health checks"
            failing["healthStatus"] = "UNHEALTHY"
            _event(service, t, f"(task {task.id}) failed container health checks.")
        else:
            target_group = balancer["targetGroupArn"]
            task.stopped_reason = f"Task failed ELB health checks in (target-group {target_group})"
            has_check = bool(definitions.get(failing["name"], {}).get("healthCheck"))
            failing["healthStatus"] = "UNHEALTHY" if has_check else "UNKNOWN"
            port = balancer.get("containerPort")
            _event(
                service,
                t,
                f"(task {task.id}) (port {port}) is unhealthy in (target-group {target_group}) "
                "due to (reason Health checks failed).",
            )
        task.health_status = failing["healthStatus"]
        _event(service, t, f"has stopped 1 running tasks: (task {task.id}).")
    elif mode == "image-pull":
        ref = _image_ref(failing.get("image") or "")
        task.stop_code = "TaskFailedToStart"
        task.stopped_reason = (
            f"CannotPullContainerError: pull image manifest has been retried 7 time(s): "
            f"failed to resolve ref {ref}: {ref}: not found"
        )
        failing["reason"] = task.stopped_reason
    elif mode == "secret":
        task.stop_code = "TaskFailedToStart"
        task.stopped_reason = _secret_reason(task, definition, definitions.get(failing["name"], {}))
    else:  # exit
        task.stop_code = "EssentialContainerExited"
        task.stopped_reason = "Essential container in task exited"
        failing["exitCode"] = 1
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopping_at = task.stopped_at = task.execution_stopped_at = _at(t)


def _stop_unfinished(rollout: _Rollout, t: float, reason: str) -> None:
    """A superseded or deleted deployment's tasks that are still starting are stopped."""
    for task in rollout.tasks[rollout.stopped :]:
        if task.desired_status != "RUNNING":
            continue
        for container in task.containers:
            container["lastStatus"] = "STOPPED"
        task.stop_code = "ServiceSchedulerInitiated"
        task.stopped_reason = reason
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopping_at = task.stopped_at = task.execution_stopped_at = _at(t)


# --- moto hooks ----------------------------------------------------------------------------


def apply() -> None:
    global _rollout_seconds
    raw = os.environ.get(ROLLOUT_SECONDS_ENV, "").strip()
    if raw:
        seconds = _parse_seconds(raw)
        if seconds is None:
            raise SystemExit(f"moto_patched: {ROLLOUT_SECONDS_ENV}={raw!r} is not a number of seconds from 0 to 86400")
        _rollout_seconds = seconds

    @around(EC2ContainerServiceResponse, "call_action")
    def call_action(original: Any, self: EC2ContainerServiceResponse) -> Any:
        # Every ECS call sees each rollout where the wall clock has brought it.
        with _lock:
            backend = self.ecs_backend
            now = time.time()
            for service in list(backend.services.values()):
                if service.status == "ACTIVE":
                    _advance(backend, service, now)
                    _recount(backend, service)
            return original(self)

    @around(EC2ContainerServiceBackend, "create_cluster")
    def create_cluster(
        original: Any, self: EC2ContainerServiceBackend, cluster_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        existing = self.clusters.get(cluster_name)
        if existing is not None and existing.status == "ACTIVE":
            return existing
        tags = kwargs.get("tags", args[0] if args else None) or []
        for tag in tags:
            if tag.get("key") == ROLLOUT_SECONDS_TAG and _parse_seconds(tag.get("value")) is None:
                raise InvalidParameterException(
                    f"Tag {ROLLOUT_SECONDS_TAG} must be a number of seconds from 0 to 86400, not {tag.get('value')!r}."
                )
        return original(self, cluster_name, *args, **kwargs)

    @around(EC2ContainerServiceBackend, "register_task_definition")
    def register_task_definition(
        original: Any,
        self: EC2ContainerServiceBackend,
        family: str,
        container_definitions: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        for container in container_definitions or []:
            mode = _fail_mode(container)
            if mode is not None and mode not in FAILURE_MODES:
                raise EcsClientException(
                    f"Docker label {FAIL_LABEL} (or environment variable {FAIL_ENV}) must be one of "
                    f"{', '.join(FAILURE_MODES)}, not {mode!r}."
                )
        return original(self, family, container_definitions, *args, **kwargs)

    @around(Service, "_validate_network")
    def validate_network(original: Any, self: Service, configuration: dict[str, Any]) -> dict[str, Any]:
        vpc = configuration.get("awsvpcConfiguration", {})
        if "securityGroups" not in vpc:
            original(self, {**configuration, "awsvpcConfiguration": {**vpc, "securityGroups": []}})
            return configuration
        return original(self, configuration)

    @around(EC2ContainerServiceResponse, "create_service")
    def create_service(original: Any, self: EC2ContainerServiceResponse) -> Any:
        result = original(self)
        service = result.result["service"]
        given = self._get_param("deploymentConfiguration")
        if _uses_ecs_controller(service):
            defaults = _default_deployment_configuration(service.scheduling_strategy)
            service.deployment_configuration = _merged(defaults, given or {})
        elif given is not None:
            service.deployment_configuration = given
        grace = self._get_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            service.health_check_grace_period_seconds = int(grace)
        backend = self.ecs_backend
        now = time.time()
        if _uses_ecs_controller(service):
            _begin(backend, service, now, creating=True)
            _advance(backend, service, now)
        _recount(backend, service)
        return result

    @around(EC2ContainerServiceBackend, "update_service")
    def update_service(original: Any, self: EC2ContainerServiceBackend, props: dict[str, Any]) -> Service:
        # moto pops what it reads from `props`, so look first.
        before = self._get_service(props.get("cluster", "default"), props.get("service", "").split("/")[-1])
        previous_task_definition = before.task_definition
        previous_configuration = getattr(before, "deployment_configuration", None)
        redeploy = bool(props.get("force_new_deployment")) or any(
            name in props and props[name] is not None and props[name] != getattr(before, name, None)
            for name in _REDEPLOYING_PROPERTIES
        )
        given_configuration = props.get("deployment_configuration")
        cluster = self._get_cluster(before.cluster_name)
        elsewhere = (
            cluster.running_tasks_count - before.running_count,
            cluster.pending_tasks_count - before.pending_count,
        )
        # moto's forceNewDeployment renames the PRIMARY deployment in place; keep them as they were.
        saved = [dict(d) for d in before.deployments]

        service = original(self, props)

        for deployment, as_before in zip(service.deployments, saved):
            deployment.clear()
            deployment.update(as_before)
        if given_configuration is not None:
            service.deployment_configuration = _merged(previous_configuration or {}, given_configuration)
        if service.task_definition and not service.task_definition.startswith("arn:"):
            service.task_definition = self.describe_task_definition(service.task_definition).arn
        now = time.time()
        if _uses_ecs_controller(service) and (redeploy or service.task_definition != previous_task_definition):
            _begin(self, service, now, creating=False)
        else:
            primary = _primary(service)
            if primary is not None:
                primary["desiredCount"] = service.desired_count
                if _rollout_of(service) is None and primary.get("rolloutState") == "COMPLETED":
                    # Scaling alone: the steady deployment runs the new count.
                    primary.update(runningCount=service.desired_count, pendingCount=0)
        _advance(self, service, now)
        # moto's own bookkeeping of the cluster's task counts loses this service's tasks
        # unless desiredCount was given; recount them from the service.
        _recount(self, service, elsewhere)
        return service

    @around(EC2ContainerServiceBackend, "delete_service")
    def delete_service(original: Any, self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Service:
        service = original(self, *args, **kwargs)
        rollout = _rollout_of(service)
        if rollout is not None:
            reason = f"Scaling activity initiated by (deployment {rollout.deployment['id']})"
            _stop_unfinished(rollout, time.time(), reason)
            service._testbed_rollout = None
        return service

    @around(EC2ContainerServiceResponse, "list_tasks")
    def list_tasks(original: Any, self: EC2ContainerServiceResponse) -> ActionResult:
        service_name = self._get_param("serviceName")
        tasks = self.ecs_backend.list_tasks(
            self._get_param("cluster", "default"),
            self._get_param("containerInstance"),
            self._get_param("family"),
            self._get_param("startedBy"),
            service_name,
            self._get_param("desiredStatus") or "RUNNING",
        )
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [task for task in tasks if getattr(task, "group", None) == group]
        return ActionResult({"taskArns": [task.task_arn for task in tasks]})
