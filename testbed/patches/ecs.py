"""ECS: clusters, services and deployments as the ECS API reference describes them.

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
- A service reaches a steady state: its tasks run (`runningCount` = `desiredCount`,
  `pendingCount` 0) and its PRIMARY deployment is `rolloutState` COMPLETED. A new
  deployment (new task definition, network configuration, platform version, load
  balancers, or `forceNewDeployment`) replaces the PRIMARY one with a new id, as AWS does
  once the old deployment has drained; each completed rollout adds the service event
  "(service NAME) has reached a steady state.". Moto left services with 0 running tasks
  and the deployment IN_PROGRESS forever, so no "services stable" waiter could succeed.
  Rollouts complete at once: there is no IN_PROGRESS phase to observe.

- CreateService with an `awsvpcConfiguration` that names no security groups is accepted
  (the VPC's default security group applies); moto answered HTTP 500 (a KeyError).

Why not MOTO_ECS_SERVICE_RUNNING: moto uses it as a fixed running count for every
service (with 100, a service of 2 shows 100 running and -98 pending), which no waiter accepts.

AWS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html,
API_CreateService.html, API_UpdateService.html, API_DeploymentConfiguration.html,
API_Deployment.html, API_AwsVpcConfiguration.html ("securityGroups ... If you don't specify a
security group, the default security group for the VPC is used"), and the Developer Guide's
"Viewing Amazon ECS service event messages".
"""

import copy
import uuid
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api._internal import mock_random

from ._util import around

# UpdateService parameters that start a new deployment when they change the service.
_REDEPLOYING_PROPERTIES = (
    "network_configuration",
    "platform_version",
    "load_balancers",
    "service_registries",
    "capacity_provider_strategy",
)


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


def _settle(service: Service) -> None:
    """Bring the service and its PRIMARY deployment to the steady state AWS reaches once
    every task of the deployment runs."""
    service.running_count = service.desired_count
    service.pending_count = 0
    for deployment in service.deployments:
        if deployment.get("status") != "PRIMARY":
            continue
        already_completed = deployment.get("rolloutState") == "COMPLETED"
        deployment.update(
            desiredCount=service.desired_count,
            runningCount=service.desired_count,
            pendingCount=0,
            rolloutState="COMPLETED",
            rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
            taskDefinition=service.task_definition,
        )
        if not already_completed:
            deployment["updatedAt"] = utcnow()
            # DescribeServices lists events newest first and keeps the last 100.
            service.events.insert(
                0,
                {
                    "id": str(uuid.uuid4()),
                    "createdAt": utcnow(),
                    "message": f"(service {service.name}) has reached a steady state.",
                },
            )
            del service.events[100:]


def _start_new_deployment(service: Service) -> None:
    primary = next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return
    now = utcnow()
    deployment = dict(primary)
    deployment.update(
        id=f"ecs-svc/{mock_random.randint(0, 32**12)}",
        createdAt=now,
        updatedAt=now,
        rolloutState="IN_PROGRESS",
        networkConfiguration=service.network_configuration or None,
        platformVersion=service.platform_version,
    )
    service.deployments = [deployment]


def apply() -> None:
    @around(EC2ContainerServiceBackend, "create_cluster")
    def create_cluster(
        original: Any, self: EC2ContainerServiceBackend, cluster_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        existing = self.clusters.get(cluster_name)
        if existing is not None and existing.status == "ACTIVE":
            return existing
        return original(self, cluster_name, *args, **kwargs)

    @around(Service, "__init__")
    def service_init(original: Any, self: Service, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # Before the backend adds this service's task counts to its cluster.
        _settle(self)

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
        running_elsewhere = cluster.running_tasks_count - before.running_count
        pending_elsewhere = cluster.pending_tasks_count - before.pending_count

        service = original(self, props)

        if given_configuration is not None:
            service.deployment_configuration = _merged(previous_configuration or {}, given_configuration)
        if service.task_definition and not service.task_definition.startswith("arn:"):
            service.task_definition = self.describe_task_definition(service.task_definition).arn
        if redeploy or service.task_definition != previous_task_definition:
            _start_new_deployment(service)
        _settle(service)
        # moto's own bookkeeping of the cluster's task counts loses this service's tasks
        # unless desiredCount was given; recount them from the settled service.
        cluster.running_tasks_count = running_elsewhere + service.running_count
        cluster.pending_tasks_count = pending_elsewhere + service.pending_count
        return service
