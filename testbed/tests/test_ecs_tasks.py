"""Checks the test bed's one-off ECS tasks (testbed/patches/ecs_tasks.py): RunTask, DescribeTasks,
StopTask, and what their containers write through the awslogs log driver.

Starts nothing: it talks to the moto of `scripts/testbed up` at $AWS_ENDPOINT_URL, whose tasks
take CAPSULE_TESTBED_TASK_SECONDS (default 1) from PROVISIONING to STOPPED. Every test fails
against unpatched moto 5.2.5 (checked against `.testbed/venv/bin/moto_server -p 5357`), whose
tasks answer RUNNING at once, step towards STOPPED once per DescribeTasks, always exit 0, have
no stop code and write no logs; except `test_guard_*`, which pin down what moto already does
right:

    eval "$(scripts/testbed up)" && .testbed/venv/bin/python -m pytest testbed/tests/test_ecs_tasks.py -q
"""

import time

import pytest
from _aws import client, rejected, unique
from botocore.exceptions import ClientError

REGION = "us-east-1"
LIFECYCLE = ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]


@pytest.fixture
def ecs():
    return client("ecs")


@pytest.fixture
def logs():
    return client("logs")


@pytest.fixture(scope="module")
def network():
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    # Right after moto starts, the default group is new: a filtered read leaves it out for a
    # moment (patches/consistency.py), as AWS's eventually consistent reads may.
    deadline = time.monotonic() + 10
    while True:
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
        if groups or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    group = groups[0]["GroupId"]
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}


@pytest.fixture
def cluster(ecs):
    name = unique("tasks")
    ecs.create_cluster(clusterName=name)
    return name


def awslogs(group: str, prefix: str = "migrate", **options) -> dict:
    return {
        "logDriver": "awslogs",
        "options": {"awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": prefix, **options},
    }


def register(ecs, command=None, memory: int | None = 512, **container) -> str:
    definition = {"name": "app", "image": "busybox:1.36", **container}
    if memory is not None:
        definition["memory"] = memory
    if command is not None:
        definition["command"] = command
    return ecs.register_task_definition(
        family=unique("oneoff"),
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn="arn:aws:iam::123456789012:role/oneoff-execution",
        containerDefinitions=[definition],
    )["taskDefinition"]["taskDefinitionArn"]


def run(ecs, cluster: str, network: dict, task_definition: str, **parameters) -> dict:
    answer = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        networkConfiguration=network,
        **parameters,
    )
    assert answer["failures"] == []
    [task] = answer["tasks"]
    return task


def describe(ecs, cluster: str, task_arn: str) -> dict:
    [task] = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
    return task


def wait_for(ecs, cluster: str, task_arn: str, status: str = "STOPPED", timeout: float = 10.0) -> tuple[dict, list[str]]:
    """Polls DescribeTasks until the task's lastStatus is `status`; returns it and every
    lastStatus seen, without repeats."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        task = describe(ecs, cluster, task_arn)
        if not seen or seen[-1] != task["lastStatus"]:
            seen.append(task["lastStatus"])
        if task["lastStatus"] == status:
            return task, seen
        if time.monotonic() > deadline:
            pytest.fail(f"not {status} within {timeout}s; statuses seen: {seen}")
        time.sleep(0.05)


def task_id(task: dict) -> str:
    return task["taskArn"].split("/")[-1]


def log_messages(logs, group: str, stream: str) -> list[str]:
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]]


# --- exit codes ----------------------------------------------------------------------------


def test_task_moves_through_its_lifecycle_and_exits_with_the_code_its_command_names(ecs, cluster, network):
    started = run(ecs, cluster, network, register(ecs, ["./migrate", "--all", "testbed:exit=3"]))
    assert (started["lastStatus"], started["desiredStatus"]) == ("PROVISIONING", "RUNNING")
    assert started.get("stopCode") is None and "exitCode" not in started["containers"][0]
    assert len(task_id(started)) == 32, "ECS task ids are 32 hex digits"

    stopped, seen = wait_for(ecs, cluster, started["taskArn"])
    assert seen[0] in ("PROVISIONING", "PENDING") and "RUNNING" in seen
    assert seen == sorted(seen, key=LIFECYCLE.index), "lastStatus only moves forward"
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    [container] = stopped["containers"]
    assert (container["name"], container["lastStatus"], container["exitCode"]) == ("app", "STOPPED", 3)
    assert container["containerArn"].startswith(f"arn:aws:ecs:{REGION}:123456789012:container/{cluster}/{task_id(started)}/")
    assert stopped["createdAt"] <= stopped["startedAt"] <= stopped["stoppingAt"] <= stopped["stoppedAt"]


def test_task_without_the_exit_argument_exits_0(ecs, cluster, network):
    for command in (["./migrate"], None):
        started = run(ecs, cluster, network, register(ecs, command))
        stopped, _ = wait_for(ecs, cluster, started["taskArn"])
        assert stopped["stopCode"] == "EssentialContainerExited"
        assert stopped["containers"][0]["exitCode"] == 0


def test_override_command_wins_over_the_task_definitions(ecs, logs, cluster, network):
    group = unique("/capsule/oneoff")
    logs.create_log_group(logGroupName=group)
    definition = register(ecs, ["testbed:print=from the definition", "testbed:exit=1"], logConfiguration=awslogs(group))
    started = run(
        ecs,
        cluster,
        network,
        definition,
        overrides={"containerOverrides": [{"name": "app", "command": ["testbed:print=from the override", "testbed:exit=4"]}]},
    )
    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    assert stopped["containers"][0]["exitCode"] == 4
    assert log_messages(logs, group, f"migrate/app/{task_id(started)}") == ["from the override"]

    # An override of another container, or without a command, leaves the definition's command.
    started = run(
        ecs, cluster, network, definition, overrides={"containerOverrides": [{"name": "app", "environment": []}]}
    )
    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    assert stopped["containers"][0]["exitCode"] == 1
    assert log_messages(logs, group, f"migrate/app/{task_id(started)}") == ["from the definition"]


# --- logs ----------------------------------------------------------------------------------


def test_printed_lines_are_the_events_of_the_tasks_stream_in_order(ecs, logs, cluster, network):
    group = unique("/capsule/oneoff")
    logs.create_log_group(logGroupName=group)
    lines = ["Applying migration 0001_initial", "Applying migration 0002_users ... OK", "done: 2 applied"]
    command = ["./migrate"] + [f"testbed:print={line}" for line in lines] + ["testbed:exit=0"]
    started = run(ecs, cluster, network, register(ecs, command, logConfiguration=awslogs(group, prefix="jobs")))
    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    stream = f"jobs/app/{task_id(started)}"

    [described] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert described["logStreamName"] == stream

    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [e["message"] for e in events] == lines
    started_ms = stopped["startedAt"].timestamp() * 1000
    stopped_ms = stopped["stoppedAt"].timestamp() * 1000
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps) and started_ms - 1 <= stamps[0] and stamps[-1] <= stopped_ms + 1

    filtered = logs.filter_log_events(logGroupName=group, logStreamNames=[stream], startTime=int(started_ms) - 1)
    assert [e["message"] for e in filtered["events"]] == lines
    assert {e["logStreamName"] for e in filtered["events"]} == {stream}

    # One event per page, following nextToken, gives the same lines in the same order.
    paged, token = [], None
    for _ in range(10):
        page = logs.filter_log_events(
            logGroupName=group, logStreamNames=[stream], limit=1, **({"nextToken": token} if token else {})
        )
        paged += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert paged == lines


def test_awslogs_create_group_creates_a_missing_group(ecs, logs, cluster, network):
    group = unique("/capsule/oneoff")
    config = awslogs(group, **{"awslogs-create-group": "true"})
    started = run(ecs, cluster, network, register(ecs, ["testbed:print=hello"], logConfiguration=config))
    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    assert (stopped["stopCode"], stopped["containers"][0]["exitCode"]) == ("EssentialContainerExited", 0)
    assert log_messages(logs, group, f"migrate/app/{task_id(started)}") == ["hello"]


# --- tasks that cannot start -----------------------------------------------------------------


def assert_failed_to_start(stopped: dict, seen: list[str]) -> None:
    assert "RUNNING" not in seen, seen
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert "startedAt" not in stopped
    assert "exitCode" not in stopped["containers"][0]


def test_missing_log_group_makes_the_task_fail_to_start(ecs, logs, cluster, network):
    group = unique("/capsule/missing")
    started = run(ecs, cluster, network, register(ecs, ["testbed:print=never"], logConfiguration=awslogs(group)))
    stopped, seen = wait_for(ecs, cluster, started["taskArn"])
    assert_failed_to_start(stopped, seen)
    assert stopped["stoppedReason"] == (
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. "
        ": exit status 1"
    )
    with pytest.raises(ClientError):
        logs.describe_log_streams(logGroupName=group)


def test_missing_secret_makes_the_task_fail_to_start(ecs, cluster, network):
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{unique('capsule/missing')}-AbCdEf"
    definition = register(ecs, ["./migrate"], secrets=[{"name": "DATABASE_URL", "valueFrom": f"{arn}:url::"}])
    stopped, seen = wait_for(ecs, cluster, run(ecs, cluster, network, definition)["taskArn"])
    assert_failed_to_start(stopped, seen)
    reason = stopped["stoppedReason"]
    assert reason.startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secret from asm: service call has been retried 1 time(s): "
        f"failed to fetch secret {arn} from secrets manager: "
        "ResourceNotFoundException: Secrets Manager can't find the specified secret. status code: 400, request id: "
    ), reason


def test_missing_ssm_parameter_makes_the_task_fail_to_start(ecs, cluster, network):
    name = f"/{unique('capsule')}/missing"
    definition = register(ecs, ["./migrate"], secrets=[{"name": "TOKEN", "valueFrom": name}])
    stopped, seen = wait_for(ecs, cluster, run(ecs, cluster, network, definition)["taskArn"])
    assert_failed_to_start(stopped, seen)
    assert stopped["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        f"unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid ssm parameters: {name}"
    )


def test_existing_secrets_let_the_task_run(ecs, cluster, network):
    secret = client("secretsmanager").create_secret(Name=unique("capsule/db"), SecretString='{"url": "postgres://"}')
    parameter = f"/{unique('capsule')}/token"
    client("ssm").put_parameter(Name=parameter, Value="t", Type="SecureString")
    secrets = [{"name": "DATABASE_URL", "valueFrom": f"{secret['ARN']}:url::"}, {"name": "TOKEN", "valueFrom": parameter}]
    definition = register(ecs, ["testbed:exit=5"], secrets=secrets)
    stopped, seen = wait_for(ecs, cluster, run(ecs, cluster, network, definition)["taskArn"])
    assert "RUNNING" in seen
    assert (stopped["stopCode"], stopped["containers"][0]["exitCode"]) == ("EssentialContainerExited", 5)


def test_guard_missing_task_definition_is_a_client_exception(ecs, cluster, network):
    code, status, message = rejected(
        lambda: ecs.run_task(
            cluster=cluster, taskDefinition=f"{unique('nothing')}:1", launchType="FARGATE", networkConfiguration=network
        )
    )
    assert (code, status, message) == ("ClientException", 400, "Unable to describe task definition.")


# --- StopTask, and what stays ----------------------------------------------------------------


def test_stop_task_stops_a_running_task_with_sigkill(ecs, cluster, network):
    started = run(ecs, cluster, network, register(ecs, ["./worker", "testbed:sleep=60"]))
    wait_for(ecs, cluster, started["taskArn"], "RUNNING")

    answer = ecs.stop_task(cluster=cluster, task=started["taskArn"])["task"]
    assert (answer["lastStatus"], answer["desiredStatus"]) == ("RUNNING", "STOPPED")
    assert (answer["stopCode"], answer["stoppedReason"]) == ("UserInitiated", "Task stopped by user")
    assert "stoppingAt" in answer

    stopped, seen = wait_for(ecs, cluster, started["taskArn"])
    assert seen[0] == "RUNNING" and seen[-1] == "STOPPED"
    assert (stopped["stopCode"], stopped["stoppedReason"]) == ("UserInitiated", "Task stopped by user")
    assert stopped["containers"][0]["exitCode"] == 137, "SIGTERM ignored, SIGKILL after the stop timeout"

    again = ecs.stop_task(cluster=cluster, task=started["taskArn"], reason="twice")["task"]
    assert (again["lastStatus"], again["stoppedReason"]) == ("STOPPED", "Task stopped by user")


def test_stop_task_before_the_task_runs_keeps_the_reason_given(ecs, cluster, network):
    started = run(ecs, cluster, network, register(ecs, ["testbed:exit=2"]))
    answer = ecs.stop_task(cluster=cluster, task=task_id(started), reason="deploy cancelled")["task"]
    assert (answer["desiredStatus"], answer["stopCode"], answer["stoppedReason"]) == (
        "STOPPED",
        "UserInitiated",
        "deploy cancelled",
    )
    stopped, seen = wait_for(ecs, cluster, started["taskArn"])
    assert "RUNNING" not in seen
    assert stopped["stoppedReason"] == "deploy cancelled"
    assert "exitCode" not in stopped["containers"][0], "no process ever ran"


def test_stopped_task_stays_visible_and_its_network_interface_is_gone(ecs, cluster, network):
    started = run(ecs, cluster, network, register(ecs, ["testbed:exit=0"]))
    [attachment] = started["attachments"]
    eni = next(d["value"] for d in attachment["details"] if d["name"] == "networkInterfaceId")
    assert client("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]

    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    assert stopped["attachments"][0]["status"] == "DELETED"
    code, _, _ = rejected(lambda: client("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni]))
    assert code == "InvalidNetworkInterfaceID.NotFound"

    time.sleep(0.5)
    assert describe(ecs, cluster, started["taskArn"])["lastStatus"] == "STOPPED"
    assert started["taskArn"] in ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    assert started["taskArn"] not in ecs.list_tasks(cluster=cluster)["taskArns"]


def test_run_task_without_security_groups_or_container_memory_is_accepted(ecs, cluster, network):
    """No container here sets `memory` (Fargate needs only the task's); moto answered 500 to both."""
    subnets = network["awsvpcConfiguration"]["subnets"]
    started = run(ecs, cluster, {"awsvpcConfiguration": {"subnets": subnets}}, register(ecs, ["testbed:exit=6"]))
    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    assert stopped["containers"][0]["exitCode"] == 6
    started = run(ecs, cluster, network, register(ecs, ["testbed:exit=7"], memory=None))
    stopped, _ = wait_for(ecs, cluster, started["taskArn"])
    assert stopped["containers"][0]["exitCode"] == 7


def test_service_tasks_keep_running(ecs, network):
    """A service whose command would exit still settles: its tasks are not one-off tasks."""
    name = unique("tasks")
    ecs.create_cluster(clusterName=name, tags=[{"key": "capsule.testbed/rollout-seconds", "value": "0.5"}])
    ecs.create_service(
        cluster=name,
        serviceName="api",
        taskDefinition=register(ecs, ["testbed:exit=3"]),
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    deadline = time.monotonic() + 10
    while True:
        service = ecs.describe_services(cluster=name, services=["api"])["services"][0]
        if service["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        assert time.monotonic() < deadline, service["deployments"]
        time.sleep(0.05)
    time.sleep(1.5)  # longer than a one-off task lives
    service = ecs.describe_services(cluster=name, services=["api"])["services"][0]
    assert (service["runningCount"], service["deployments"][0]["failedTasks"]) == (2, 0)
    assert ecs.list_tasks(cluster=name, serviceName="api", desiredStatus="STOPPED")["taskArns"] == []
