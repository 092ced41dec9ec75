"""IAM: service-linked roles have AWS's names, and exist once per account.

Restores, against moto 5.2.5:

- CreateServiceLinkedRole names the role as AWS does: ecs.amazonaws.com ->
  AWSServiceRoleForECS, elasticloadbalancing.amazonaws.com ->
  AWSServiceRoleForElasticLoadBalancing, rds.amazonaws.com -> AWSServiceRoleForRDS,
  elasticache.amazonaws.com -> AWSServiceRoleForElastiCache,
  ecs.application-autoscaling.amazonaws.com ->
  AWSServiceRoleForApplicationAutoScaling_ECSService (moto derived "AWSServiceRoleForecs"
  and the like from the service name), at path /aws-service-role/SERVICE/.
- Creating a service-linked role that exists fails with InvalidInput (HTTP 400), "Service
  role name AWSServiceRoleForECS has been taken in this account, please try a different
  suffix." (moto: EntityAlreadyExists, HTTP 409), so a tool that creates the role and
  ignores "has been taken" works as on AWS.

AWS: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceLinkedRole.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html
(the role name AWSServiceRoleForECS), https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html
(the names per service); the error as AWS answers it:
https://github.com/bcgov/startup-sample-project-aws-containers/issues/13.
"""

from typing import Any

from moto.iam.exceptions import InvalidInput
from moto.iam.models import IAMBackend

from ._util import around

ROLE_NAMES = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "rds.amazonaws.com": "AWSServiceRoleForRDS",
    "elasticache.amazonaws.com": "AWSServiceRoleForElastiCache",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
}

_original_create: Any = None


def create_service_linked_role(backend: IAMBackend, service_name: str, description: str = "", suffix: str = "") -> Any:
    """Create the role as CreateServiceLinkedRole does (for the test bed's own use too)."""
    name = ROLE_NAMES.get(service_name)
    if name is None:
        return _original_create(backend, service_name, description, suffix)
    if suffix:
        name = f"{name}_{suffix}"
    try:
        backend.get_role(name)
    except Exception:
        pass
    else:
        raise InvalidInput(f"Service role name {name} has been taken in this account, please try a different suffix.")
    import json

    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": [service_name]}, "Action": ["sts:AssumeRole"]}],
    }
    return backend.create_role(
        name,
        json.dumps(policy),
        f"/aws-service-role/{service_name}/",
        permissions_boundary=None,
        description=description or "",
        tags=[],
        max_session_duration="3600",
        linked_service=service_name,
    )


def apply() -> None:
    global _original_create
    _original_create = IAMBackend.create_service_linked_role

    @around(IAMBackend, "create_service_linked_role")
    def create(original: Any, self: IAMBackend, service_name: str, description: str, suffix: str) -> Any:
        return create_service_linked_role(self, service_name, description, suffix)
