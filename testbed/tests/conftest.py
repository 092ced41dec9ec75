"""Session set-up shared by the tests of the test bed."""

import pytest
from _aws import client
from botocore.exceptions import ClientError


@pytest.fixture(scope="session", autouse=True)
def ecs_service_linked_role():
    """The account's ECS service-linked role, as a real account has it before ECS can run
    awsvpc tasks or use capacity providers (patches/rules.py, ecs-service-linked-role).
    Created once, as a deploy tool would; "has been taken" means it exists."""
    try:
        client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("InvalidInput", "EntityAlreadyExists"):  # the latter: plain moto
            raise
