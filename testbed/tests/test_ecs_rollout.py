"""Checks the test bed's simulation of ECS rolling deployments (testbed/patches/ecs.py).

Starts nothing: it talks to the moto of `scripts/testbed up` at $AWS_ENDPOINT_URL. Each test
makes its own cluster, tagged `capsule.testbed/rollout-seconds` so that a rollout takes half a
second (a second where the test watches it progress). Every test fails against unpatched
moto 5.2.5, whose deployments never progress:

    eval "$(scripts/testbed up)" && .testbed/venv/bin/python -m pytest testbed/tests -q
"""

import os
import time

import pytest
from _aws import client, unique
from botocore.exceptions import ClientError

ROLLOUT_TAG = "capsule.testbed/rollout-seconds"
FAIL_LABEL = "capsule.testbed/fail"
ROLLOUT = 0.5
BREAKER_WITH_ROLLBACK = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


@pytest.fixture
def ecs():
    return client("ecs")


def new_cluster(ecs, seconds: float | None = ROLLOUT) -> str:
    name = unique("rollout")
    tags = [] if seconds is None else [{"key": ROLLOUT_TAG, "value": str(seconds)}]
    ecs.create_cluster(clusterName=name, tags=tags)
    return name


def register(ecs, family: str, fail: str | None = None, **container) -> str:
    definition = {"name": "app", "image": "nginx:1.27", "memory": 512, **container}
    if fail is not None:
        definition["dockerLabels"] = {FAIL_LABEL: fail}
    extra = {}
    if fail == "secret":
        extra["executionRoleArn"] = "arn:aws:iam::123456789012:role/api-execution"
    return ecs.register_task_definition(family=family, containerDefinitions=[definition], **extra)[
        "taskDefinition"
    ]["taskDefinitionArn"]


def describe(ecs, cluster: str) -> dict:
    return ecs.describe_services(cluster=cluster, services=["api"])["services"][0]


def wait_until(ecs, cluster: str, done, timeout: float = 10.0) -> tuple[dict, list[dict]]:
    """Polls DescribeServices until done(service); returns it and every service seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        service = describe(ecs, cluster)
        seen.append(service)
        if done(service):
            return service, seen
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout}s; last deployments: {service['deployments']}")
        time.sleep(0.05)


def settled(service: dict) -> bool:
    deployments = service["deployments"]
    return len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED"


def steady_service(ecs, cluster: str, desired: int, task_definition: str, **parameters) -> dict:
    ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=task_definition, desiredCount=desired, **parameters
    )
    return wait_until(ecs, cluster, settled)[0]


def messages(service: dict) -> list[str]:
    """The service's event messages, oldest first."""
    return [event["message"] for event in reversed(service["events"])]


# --- a rollout that succeeds -------------------------------------------------------------


def test_ecs_new_service_rolls_out_over_the_rollout_time(ecs):
    cluster = new_cluster(ecs, seconds=1)
    before = time.monotonic()
    created = ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=register(ecs, unique("api")), desiredCount=2
    )["service"]

    [deployment] = created["deployments"]
    deployment_id = deployment["id"]
    assert (deployment["status"], deployment["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment_id} in progress."
    assert (deployment["runningCount"], deployment["pendingCount"]) == (0, 2)
    assert (created["runningCount"], created["pendingCount"]) == (0, 2)

    service, seen = wait_until(ecs, cluster, settled)
    assert time.monotonic() - before >= 1
    running = [s["deployments"][0]["runningCount"] for s in seen]
    assert running == sorted(running), "the deployment's running count only grows"
    for observed in seen[:-1]:
        [deployment] = observed["deployments"]
        assert deployment["rolloutState"] == "IN_PROGRESS"
        assert deployment["runningCount"] + deployment["pendingCount"] == 2

    [deployment] = service["deployments"]
    assert deployment["id"] == deployment_id
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment_id} completed."
    assert (service["runningCount"], service["pendingCount"], deployment["runningCount"]) == (2, 0, 2)
    events = service["events"]
    assert [event["message"].split(":")[0] for event in events] == [
        "(service api) has reached a steady state.",
        f"(service api) (deployment {deployment_id}) deployment completed.",
        "(service api) has started 2 tasks",
    ]
    assert events[2]["message"].count("(task ") == 2
    assert all(event["id"] for event in events)
    times = [event["createdAt"] for event in events]
    assert times == sorted(times, reverse=True), "newest first"
    assert (times[1] - times[2]).total_seconds() == pytest.approx(1, abs=0.05)
    assert ecs.describe_clusters(clusters=[cluster])["clusters"][0]["runningTasksCount"] == 2


def test_ecs_update_keeps_the_old_deployment_active_until_the_new_one_completes(ecs):
    cluster = new_cluster(ecs)
    family = unique("api")
    first = register(ecs, family)
    old = steady_service(ecs, cluster, 2, first)["deployments"][0]["id"]
    second = register(ecs, family, image="nginx:1.28")

    updated = ecs.update_service(cluster=cluster, service="api", taskDefinition=f"{family}:2")["service"]

    assert updated["taskDefinition"] == second
    new, active = updated["deployments"]
    assert (new["status"], new["taskDefinition"], new["rolloutState"]) == ("PRIMARY", second, "IN_PROGRESS")
    assert new["rolloutStateReason"] == f"ECS deployment {new['id']} in progress."
    assert (new["runningCount"], new["pendingCount"]) == (0, 2)
    assert (active["id"], active["status"], active["taskDefinition"]) == (old, "ACTIVE", first)
    assert (active["rolloutState"], active["runningCount"]) == ("COMPLETED", 2)
    assert (updated["runningCount"], updated["pendingCount"]) == (2, 2)

    service, _ = wait_until(ecs, cluster, lambda s: settled(s) and s["deployments"][0]["id"] == new["id"])
    [deployment] = service["deployments"]
    assert (deployment["taskDefinition"], deployment["runningCount"]) == (second, 2)
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    started, completed, steady = messages(service)[-3:]
    assert started.startswith("(service api) has started 2 tasks: (task ")
    assert completed == f"(service api) (deployment {new['id']}) deployment completed."
    assert steady == "(service api) has reached a steady state."
    assert ecs.describe_clusters(clusters=[cluster])["clusters"][0]["runningTasksCount"] == 2


def test_ecs_force_new_deployment_keeps_the_current_one_listed_as_it_was(ecs):
    cluster = new_cluster(ecs)
    before = steady_service(ecs, cluster, 1, register(ecs, unique("api")))["deployments"][0]

    updated = ecs.update_service(cluster=cluster, service="api", forceNewDeployment=True)["service"]

    new, active = updated["deployments"]
    assert new["id"] != before["id"]
    assert (active["id"], active["createdAt"], active["status"]) == (before["id"], before["createdAt"], "ACTIVE")


def test_ecs_cluster_without_the_tag_uses_the_default_rollout_time(ecs):
    expected = float(os.environ.get("CAPSULE_TESTBED_ECS_ROLLOUT_SECONDS") or 2)
    if expected == 0 or expected > 10:
        pytest.skip(f"CAPSULE_TESTBED_ECS_ROLLOUT_SECONDS={expected}")
    cluster = new_cluster(ecs, seconds=None)
    before = time.monotonic()
    created = ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=register(ecs, unique("api")), desiredCount=1
    )["service"]
    assert created["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    wait_until(ecs, cluster, settled, timeout=expected + 5)
    assert time.monotonic() - before >= expected - 0.05


def test_ecs_rollout_seconds_tag_must_be_a_number(ecs):
    with pytest.raises(ClientError) as invalid:
        ecs.create_cluster(clusterName=unique("rollout"), tags=[{"key": ROLLOUT_TAG, "value": "soon"}])
    assert invalid.value.response["Error"]["Code"] == "InvalidParameterException"


# --- a rollout that fails ----------------------------------------------------------------


def test_ecs_fail_label_must_name_a_known_failure(ecs):
    with pytest.raises(ClientError) as invalid:
        register(ecs, unique("api"), fail="crash")
    assert invalid.value.response["Error"]["Code"] == "ClientException"
    assert "health-check, image-pull, secret, exit" in invalid.value.response["Error"]["Message"]


def target_group() -> str:
    """A target group a load balancer forwards to (ECS refuses one that is not attached)."""
    ec2, elbv2 = client("ec2"), client("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    arn = elbv2.create_target_group(
        Name=unique("tg"), Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    balancer = elbv2.create_load_balancer(Name=unique("lb"), Subnets=subnets[:2])["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}]
    )
    return arn


def stopped_tasks(ecs, cluster: str) -> list[dict]:
    arns = ecs.list_tasks(cluster=cluster, serviceName="api", desiredStatus="STOPPED")["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def check_stopped_task(task: dict, mode: str, balancer: str | None) -> None:
    [container] = task["containers"]
    assert (task["lastStatus"], task["desiredStatus"], container["lastStatus"]) == ("STOPPED",) * 3
    assert task["stoppedAt"] >= task["createdAt"]
    reason = task["stoppedReason"]
    if mode == "health-check":
        assert task["stopCode"] == "ServiceSchedulerInitiated"
        if balancer:
            assert reason == f"Task failed ELB health checks in (target-group {balancer})"
        else:
            assert reason == "Task failed container health checks"
        assert (container["healthStatus"], container["exitCode"]) == ("UNHEALTHY", 137)
        assert "reason" not in container
    elif mode == "image-pull":
        assert task["stopCode"] == "TaskFailedToStart"
        assert reason == (
            "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref "
            "docker.io/library/nginx:1.27: docker.io/library/nginx:1.27: not found"
        )
        assert container["reason"] == reason
        assert "exitCode" not in container
    elif mode == "secret":
        assert task["stopCode"] == "TaskFailedToStart"
        assert reason.startswith(
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
            "retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): "
            "failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf from "
            "secrets manager: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/api-execution/"
        )
        assert "is not authorized to perform: secretsmanager:GetSecretValue" in reason
        assert "exitCode" not in container
    else:
        assert (task["stopCode"], reason) == ("EssentialContainerExited", "Essential container in task exited")
        assert container["exitCode"] == 1


@pytest.mark.parametrize(
    "mode,with_balancer",
    [
        ("health-check", False),
        ("health-check", True),
        ("image-pull", False),
        ("secret", False),
        ("exit", False),
    ],
    ids=["health-check", "health-check-elb", "image-pull", "secret", "exit"],
)
def test_ecs_failing_deployment_is_rolled_back_and_its_stopped_tasks_say_why(ecs, mode, with_balancer):
    cluster = new_cluster(ecs)
    family = unique("api")
    good = register(ecs, family)
    balancer = target_group() if with_balancer else None
    extra = {}
    if balancer:
        extra["loadBalancers"] = [{"targetGroupArn": balancer, "containerName": "app", "containerPort": 80}]
    old = steady_service(ecs, cluster, 1, good, deploymentConfiguration=BREAKER_WITH_ROLLBACK, **extra)
    old_id = old["deployments"][0]["id"]
    container = {}
    if mode == "secret":
        container["secrets"] = [
            {"name": "DB", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"}
        ]
    if mode == "health-check":
        container["healthCheck"] = {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}
    failing = register(ecs, family, fail=mode, **container)

    updated = ecs.update_service(cluster=cluster, service="api", taskDefinition=failing)["service"]
    new = updated["deployments"][0]
    assert (new["taskDefinition"], new["rolloutState"]) == (failing, "IN_PROGRESS")

    # The circuit breaker fails the deployment and starts the rollback ...
    rolling_back, _ = wait_until(ecs, cluster, lambda s: s["deployments"][0]["id"] not in (old_id, new["id"]))
    rollback, failed = rolling_back["deployments"]
    assert (rollback["status"], rollback["taskDefinition"], rollback["rolloutState"]) == (
        "PRIMARY",
        good,
        "IN_PROGRESS",
    ), "the rollback completed before the test saw it in progress"
    assert rollback["rolloutStateReason"] == f"ECS deployment circuit breaker: rolling back to deploymentId {old_id}."
    assert (failed["id"], failed["status"], failed["rolloutState"]) == (new["id"], "ACTIVE", "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert (failed["failedTasks"], failed["runningCount"]) == (3, 0)
    assert rolling_back["taskDefinition"] == good

    # ... which completes one rollout time later.
    service, _ = wait_until(ecs, cluster, settled)
    [deployment] = service["deployments"]
    assert (deployment["id"], deployment["taskDefinition"]) == (rollback["id"], good)
    assert (service["taskDefinition"], service["runningCount"]) == (good, 1)
    events = messages(service)
    failed_at = events.index(f"(service api) (deployment {new['id']}) deployment failed: tasks failed to start.")
    assert events[failed_at + 1] == f"(service api) rolling back to deployment {old_id}."
    assert events[-2:] == [
        f"(service api) (deployment {rollback['id']}) deployment completed.",
        "(service api) has reached a steady state.",
    ]

    tasks = stopped_tasks(ecs, cluster)
    assert len(tasks) == 3, "the circuit breaker's minimum failure threshold"
    for task in tasks:
        assert (task["startedBy"], task["taskDefinitionArn"], task["group"]) == (new["id"], failing, "service:api")
        check_stopped_task(task, mode, balancer)
        assert f"(service api) has started 1 tasks: (task {task['taskArn'].split('/')[-1]})." in events
    assert ecs.list_tasks(cluster=cluster, serviceName="api")["taskArns"] == [], "RUNNING is the default filter"


def test_ecs_failed_deployment_without_rollback_stays_primary(ecs):
    cluster = new_cluster(ecs)
    family = unique("api")
    good = register(ecs, family)
    breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    old_id = steady_service(ecs, cluster, 2, good, deploymentConfiguration=breaker)["deployments"][0]["id"]
    failing = register(ecs, family, fail="exit")
    updated = ecs.update_service(cluster=cluster, service="api", taskDefinition=failing)["service"]
    new_id = updated["deployments"][0]["id"]

    wait_until(ecs, cluster, lambda s: s["deployments"][0]["rolloutState"] == "FAILED")
    time.sleep(ROLLOUT + 0.2)
    service = describe(ecs, cluster)

    failed, active = service["deployments"]
    assert (failed["id"], failed["status"], failed["taskDefinition"]) == (new_id, "PRIMARY", failing)
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert (failed["failedTasks"], failed["runningCount"], failed["pendingCount"]) == (3, 0, 0)
    assert (active["id"], active["status"], active["runningCount"]) == (old_id, "ACTIVE", 2)
    assert (service["taskDefinition"], service["runningCount"]) == (failing, 2)
    assert f"(service api) (deployment {new_id}) deployment failed: tasks failed to start." in messages(service)
    assert not any("rolling back" in message for message in messages(service))
    assert len(stopped_tasks(ecs, cluster)) == 3


def test_ecs_first_deployment_that_fails_has_nothing_to_roll_back_to(ecs):
    cluster = new_cluster(ecs)
    failing = register(ecs, unique("api"), fail="image-pull")
    ecs.create_service(
        cluster=cluster,
        serviceName="api",
        taskDefinition=failing,
        desiredCount=1,
        deploymentConfiguration=BREAKER_WITH_ROLLBACK,
    )

    service, _ = wait_until(ecs, cluster, lambda s: s["deployments"][0]["rolloutState"] != "IN_PROGRESS")
    [deployment] = service["deployments"]
    assert (deployment["status"], deployment["rolloutState"], deployment["taskDefinition"]) == (
        "PRIMARY",
        "FAILED",
        failing,
    )
    assert (service["runningCount"], service["pendingCount"]) == (0, 0)
    assert not any("rolling back" in message for message in messages(service))


def test_ecs_failing_deployment_without_circuit_breaker_keeps_trying(ecs):
    cluster = new_cluster(ecs)
    family = unique("api")
    steady_service(ecs, cluster, 1, register(ecs, family))
    failing = register(ecs, family, fail="health-check")
    ecs.update_service(cluster=cluster, service="api", taskDefinition=failing)

    time.sleep(ROLLOUT * 1.5)
    service = describe(ecs, cluster)
    new, active = service["deployments"]
    assert (new["status"], new["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    assert new["failedTasks"] >= 3
    assert (active["status"], active["runningCount"]) == ("ACTIVE", 1)
    assert any("is unable to consistently start tasks successfully" in message for message in messages(service))
    assert not any("deployment failed" in message for message in messages(service))
    assert len(stopped_tasks(ecs, cluster)) >= new["failedTasks"]


def test_ecs_fail_environment_variable_marks_a_task_definition_like_the_label(ecs):
    # capsule never sets docker labels; end-to-end tests set this variable in capsule.toml.
    cluster = new_cluster(ecs)
    family = unique("api")
    good = register(ecs, family)
    breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    steady_service(ecs, cluster, 1, good, deploymentConfiguration=breaker)
    failing = register(ecs, family, environment=[{"name": "CAPSULE_TESTBED_FAIL", "value": "image-pull"}])
    ecs.update_service(cluster=cluster, service="api", taskDefinition=failing)
    wait_until(ecs, cluster, lambda s: any(d.get("rolloutState") == "FAILED" for d in s["deployments"]))
    reasons = [t["stoppedReason"] for t in stopped_tasks(ecs, cluster)]
    assert reasons and all(r.startswith("CannotPullContainerError") for r in reasons)
    with pytest.raises(ecs.exceptions.ClientException):
        register(ecs, family, environment=[{"name": "CAPSULE_TESTBED_FAIL", "value": "nonsense"}])
