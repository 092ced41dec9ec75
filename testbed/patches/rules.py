"""Documented rules the botocore models do not carry, checked before moto handles a request.

Each rule is one function below, with its AWS reference; each is on unless
CAPSULE_TESTBED_OFF names it (see testbed/README.md, "Strict test bed"). Moto 5.2.5 checks
none of them (except where a docstring says what moto already does and what is added).
A violation answers the service's error, in its protocol's shape (patches/_gate.py), and
nothing is changed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timezone
from typing import Any

from . import _gate, _switches
from ._gate import Call, Reject

Rule = Callable[[Call], None]
# (botocore service, operation) -> [(rule name, rule)]
_RULES: dict[tuple[str, str], list[tuple[str, Rule]]] = {}


def rule(name: str, service: str, *operations: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        function.rule_name = name  # type: ignore[attr-defined]
        for operation in operations:
            _RULES.setdefault((service, operation), []).append((name, function))
        return function

    return register


def _check(call: Call) -> None:
    if call.operation is None:
        return
    if call.botocore_name == "iam" and _switches.enabled("ecs-service-linked-role"):
        _ecs_role_exists(call.account_id)  # the role ECS creates itself appears on time
    rules = _RULES.get((call.botocore_name, call.operation.name))
    if not rules or call.params is None:
        return
    for name, function in rules:
        if _switches.enabled(name):
            function(call)


# --- EC2 ------------------------------------------------------------------------------------

_SG_TEXT = re.compile(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*")
_SG_RULE_TEXT = re.compile(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=;{}!$*]*")


@rule("ec2-security-group-names", "ec2", "CreateSecurityGroup")
def ec2_security_group_names(call: Call) -> None:
    """CreateSecurityGroup: GroupName and GroupDescription are at most 255 characters of
    a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* and the name does not start with sg-.

    AWS: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
    ("GroupDescription ... Constraints: Up to 255 characters in length. Valid characters:
    a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"; "GroupName ... Constraints: Up to 255
    characters in length. Cannot start with sg-. Valid characters: ..." the same set);
    InvalidParameterValue. Moto accepted any text (an apostrophe, as capsule sent, included).
    """
    params = call.params
    name = params.get("GroupName")
    if isinstance(name, str) and name.lower().startswith("sg-"):
        raise Reject("InvalidParameterValue", "Group names may not be in the format sg-*.")
    for member, wire in (("GroupName", "GroupName"), ("Description", "GroupDescription")):
        value = params.get(member)
        if not isinstance(value, str):
            continue
        if len(value) > 255 or _SG_TEXT.fullmatch(value) is None:
            what = "name" if member == "GroupName" else "description"
            raise Reject(
                "InvalidParameterValue",
                f"Value ({value}) for parameter {wire} is invalid. Invalid security group {what}: valid "
                "ones are up to 255 characters from a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
            )


@rule(
    "ec2-rule-descriptions",
    "ec2",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "UpdateSecurityGroupRuleDescriptionsEgress",
)
def ec2_rule_descriptions(call: Call) -> None:
    """Security group rule descriptions are at most 255 characters of a-z, A-Z, 0-9, spaces
    and ._-:/()#,@[]+=;{}!$* (no & here, unlike group descriptions).

    AWS: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html,
    API_UserIdGroupPair.html, API_Ipv6Range.html, API_PrefixListId.html ("Description ...
    Constraints: Up to 255 characters in length. Allowed characters are a-z, A-Z, 0-9,
    spaces, and ._-:/()#,@[]+=;{}!$*"); InvalidParameterValue. Moto accepted any text.
    """
    for permission in call.params.get("IpPermissions") or []:
        if not isinstance(permission, dict):
            continue
        for key in ("IpRanges", "Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds"):
            for entry in permission.get(key) or []:
                description = entry.get("Description") if isinstance(entry, dict) else None
                if isinstance(description, str) and (len(description) > 255 or _SG_RULE_TEXT.fullmatch(description) is None):
                    raise Reject(
                        "InvalidParameterValue",
                        f"Invalid rule description. Valid descriptions are strings less than 256 characters from the "
                        f"following set:  a-zA-Z0-9. _-:/()#,@[]+=;{{}}!$*: {description}",
                    )


def _ec2(call: Call) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[call.account_id][call.region]


def _has_internet_gateway(ec2: Any, vpc_id: str) -> bool:
    return any(getattr(g, "vpc", None) is not None and g.vpc.id == vpc_id for g in ec2.internet_gateways.values())


@rule("ec2-nat-needs-internet-gateway", "ec2", "CreateNatGateway")
def ec2_nat_needs_internet_gateway(call: Call) -> None:
    """CreateNatGateway (public connectivity, the default) in a subnet of a VPC without an
    attached internet gateway fails with Gateway.NotAttached, "Network vpc-... has no
    Internet gateway attached".

    AWS: https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html
    ("NAT gateway creation fails": Gateway.NotAttached); moto created the gateway.
    """
    if (call.params.get("ConnectivityType") or "public") != "public":
        return
    ec2 = _ec2(call)
    try:
        subnet = ec2.get_subnet(call.params.get("SubnetId"))
    except Exception:
        return  # an unknown subnet is moto's to reject
    if not _has_internet_gateway(ec2, subnet.vpc_id):
        raise Reject("Gateway.NotAttached", f"Network {subnet.vpc_id} has no Internet gateway attached")


def _live_nat_holding(ec2: Any, allocation_id: str | None) -> Any:
    """The NAT gateway, not yet `deleted`, whose public address is `allocation_id`."""
    if not allocation_id:
        return None
    for gateway in getattr(ec2, "nat_gateways", {}).values():
        if gateway.state != "deleted" and any(a.get("allocationId") == allocation_id for a in gateway.address_set):
            return gateway
    return None


def _nat_interfaces(ec2: Any) -> set[str]:
    return {g._eni.id for g in getattr(ec2, "nat_gateways", {}).values() if getattr(g, "_eni", None) is not None}


_NOT_YOURS = "You do not have permission to access the specified resource."


@rule("ec2-address-in-use", "ec2", "ReleaseAddress", "DisassociateAddress")
def ec2_address_in_use(call: Call) -> None:
    """An Elastic IP address is not released while something uses it:

    - ReleaseAddress or DisassociateAddress of the address of a NAT gateway that is not
      `deleted` yet (pending, available, or deleting) fails with AuthFailure, "You do not
      have permission to access the specified resource.": the NAT gateway service owns
      that association, and the address is free only once the gateway is gone;
    - ReleaseAddress of an address associated with a network interface or an instance in a
      nondefault VPC fails with InvalidIPAddress.InUse ("[Nondefault VPC] You must
      disassociate the Elastic IP address before you can release it").

    AWS: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReleaseAddress.html
    (InvalidIPAddress.InUse; "[Default VPC] Releasing an Elastic IP address automatically
    disassociates it"); the NAT gateway's address, as AWS answers while the gateway is
    deleting: https://github.com/eformat/sno-for-100/issues/5 ("AuthFailure when calling
    the ReleaseAddress operation: You do not have permission to access the specified
    resource"; released once the gateway is deleted), and for its association:
    https://github.com/hashicorp/terraform-provider-aws/pull/4675 ("allow AWS to manage
    the association, otherwise you will see AuthFailure errors"). Moto released or
    disassociated any address, the NAT gateway's included.
    """
    ec2 = _ec2(call)
    params = call.params
    try:
        if params.get("AllocationId"):
            found = ec2.address_by_allocation([params["AllocationId"]])
        elif params.get("AssociationId"):
            found = ec2.address_by_association([params["AssociationId"]])
        elif params.get("PublicIp"):
            found = ec2.address_by_ip([params["PublicIp"]])
        else:
            return
    except Exception:
        return  # an unknown address is moto's to reject
    address = found[0] if found else None
    if address is None:
        return
    if _live_nat_holding(ec2, address.allocation_id) is not None:
        raise Reject("AuthFailure", _NOT_YOURS)
    if call.action != "ReleaseAddress" or address.domain != "vpc":
        return
    interface = address.eni
    if interface is None and address.instance is not None:
        interface = (address.instance.nics or {}).get(0)
    if interface is None or interface.id in _nat_interfaces(ec2):
        return  # not associated, or left over from a deleted NAT gateway
    vpc = ec2.vpcs.get(getattr(interface.subnet, "vpc_id", None)) if getattr(interface, "subnet", None) else None
    if vpc is not None and not vpc.is_default:
        raise Reject("InvalidIPAddress.InUse", f"Address {address.allocation_id} is in use.")


@rule("iam-role-propagation", "ec2", "CreateFlowLogs")
def iam_role_propagation(call: Call) -> None:
    """A role created a moment ago cannot be assumed yet by the service it is handed to:
    CreateFlowLogs with a DeliverLogsPermissionArn of a role created less than
    CAPSULE_TESTBED_IAM_PROPAGATION_SECONDS (default 2) ago fails with InvalidParameter
    (HTTP 400), "Unable to assume given IAM role: 'ARN'"; the same request succeeds once
    the role has propagated.

    AWS: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
    ("changes ... take time to become visible from all possible endpoints ... we recommend
    that you do not include such IAM changes in the critical, high-availability code
    paths"); the error, as EC2 answers for a just-made role:
    https://github.com/hashicorp/terraform-provider-aws/issues/29323 ("InvalidParameter:
    Unable to assume given IAM role: 'arn:aws:iam::...:role/vpc-flow-log-role-...' status
    code: 400"). Moto accepted any role at once. Of the services capsule hands roles to,
    EC2 flow logs is the one that assumes the role while answering; ECS tasks, EventBridge
    targets and Application Auto Scaling fail later, asynchronously (not modelled).
    """
    arn = call.params.get("DeliverLogsPermissionArn")
    if not isinstance(arn, str) or ":role/" not in arn:
        return
    try:
        role = _iam(call.account_id).get_role(arn.rsplit("/", 1)[-1])
    except Exception:
        return  # an unknown role is refused later, when EC2 delivers (not modelled)
    created = role.create_date
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    if time.time() < created.timestamp() + _iam_propagation_seconds:
        raise Reject("InvalidParameter", f"Unable to assume given IAM role: '{arn}'")


@rule("elbv2-internet-facing-needs-internet-gateway", "elbv2", "CreateLoadBalancer")
def elbv2_internet_facing_needs_internet_gateway(call: Call) -> None:
    """CreateLoadBalancer with the internet-facing scheme (the default) in subnets of a VPC
    without an internet gateway fails with InvalidSubnet, "VPC vpc-... has no internet
    gateway".

    AWS: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
    (InvalidSubnet) and https://repost.aws/knowledge-center/elb-fix-failing-health-checks-alb
    ("an internet-facing load balancer ... subnets must have a route to an internet
    gateway"); moto created the load balancer.
    """
    if (call.params.get("Scheme") or "internet-facing") != "internet-facing":
        return
    subnets = call.params.get("Subnets") or []
    if not subnets:
        return
    ec2 = _ec2(call)
    try:
        found = [ec2.get_subnet(s) for s in subnets]
    except Exception:
        return  # unknown subnets are moto's to reject
    for subnet in found:
        if not _has_internet_gateway(ec2, subnet.vpc_id):
            raise Reject("InvalidSubnet", f"VPC {subnet.vpc_id} has no internet gateway")


# --- ECS ------------------------------------------------------------------------------------


def _elbv2(call: Call) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[call.account_id][call.region]


def _ecs(call: Call) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[call.account_id][call.region]


@rule("ecs-target-group-attached", "ecs", "CreateService", "UpdateService")
def ecs_target_group_attached(call: Call) -> None:
    """CreateService / UpdateService with `loadBalancers[].targetGroupArn` needs that target
    group attached to a load balancer: a listener's default action or a listener rule must
    forward to it. Otherwise InvalidParameterException, "The target group with
    targetGroupArn ARN does not have an associated load balancer."

    AWS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/register-multiple-targetgroups.html
    and https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LoadBalancer.html
    ("targetGroupArn ... the target group must be associated with a load balancer"); the
    error as reported: https://github.com/aws/aws-cdk/issues/1160. Moto created the service.
    """
    balancers = call.params.get("loadBalancers")
    if not balancers:
        return
    elbv2 = _elbv2(call)
    for balancer in balancers:
        arn = balancer.get("targetGroupArn") if isinstance(balancer, dict) else None
        if not arn or arn not in elbv2.target_groups:
            continue  # an unknown target group is moto's (and the model's) to reject
        if not elbv2._any_listener_using(arn):
            raise Reject(
                "InvalidParameterException",
                f"The target group with targetGroupArn {arn} does not have an associated load balancer.",
            )


@rule("ecs-target-type-ip", "ecs", "CreateService")
def ecs_target_type_ip(call: Call) -> None:
    """A service whose task definition uses the awsvpc network mode can only register with
    target groups of target type `ip`.

    AWS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb.html ("If your
    service's task definition uses the awsvpc network mode ... you must choose ip as the
    target type, not instance"); InvalidParameterException. Moto accepted any target type.
    """
    balancers = call.params.get("loadBalancers")
    definition_name = call.params.get("taskDefinition")
    if not balancers or not definition_name:
        return
    try:
        definition = _ecs(call).describe_task_definition(definition_name)
    except Exception:
        return
    if getattr(definition, "network_mode", None) != "awsvpc":
        return
    elbv2 = _elbv2(call)
    for balancer in balancers:
        group = elbv2.target_groups.get(balancer.get("targetGroupArn") if isinstance(balancer, dict) else None)
        if group is not None and (group.target_type or "instance") != "ip":
            raise Reject(
                "InvalidParameterException",
                f"The provided target group {group.arn} has target type {group.target_type or 'instance'}, which is "
                "incompatible with the awsvpc network mode specified in the task definition.",
            )


ECS_SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"
_slr_lock = threading.Lock()
_slr_seconds = 2.0
_iam_propagation_seconds = 2.0


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def _ecs_role_exists(account_id: str) -> bool:
    iam = _iam(account_id)
    with _slr_lock:
        due = getattr(iam, "_testbed_ecs_slr_due", None)
        if due is not None and time.time() >= due:
            iam._testbed_ecs_slr_due = None
            try:
                iam.get_role(ECS_SERVICE_LINKED_ROLE)
            except Exception:
                from .iam import create_service_linked_role

                create_service_linked_role(iam, "ecs.amazonaws.com", "Role to enable Amazon ECS to manage your cluster.")
    try:
        iam.get_role(ECS_SERVICE_LINKED_ROLE)
        return True
    except Exception:
        return False


def _ecs_creates_role(account_id: str) -> None:
    """ECS creates its service-linked role itself on the first CreateCluster; it appears
    (in IAM, and for ECS) a moment later."""
    if _ecs_role_exists(account_id):
        return
    iam = _iam(account_id)
    with _slr_lock:
        if getattr(iam, "_testbed_ecs_slr_due", None) is None:
            iam._testbed_ecs_slr_due = time.time() + _slr_seconds


def _needs_ecs_role(call: Call) -> bool:
    params = call.params
    action = call.action
    if action == "PutClusterCapacityProviders":
        return True
    if action == "CreateCluster":
        return bool(params.get("capacityProviders") or params.get("defaultCapacityProviderStrategy"))
    network = params.get("networkConfiguration")
    return isinstance(network, dict) and network.get("awsvpcConfiguration") is not None


@rule(
    "ecs-service-linked-role",
    "ecs",
    "CreateCluster",
    "PutClusterCapacityProviders",
    "CreateService",
    "UpdateService",
    "RunTask",
)
def ecs_service_linked_role(call: Call) -> None:
    """ECS acts through the service-linked role AWSServiceRoleForECS, which a new account
    does not have. The first CreateCluster makes ECS create it (it appears a moment later,
    CAPSULE_TESTBED_ECS_SLR_SECONDS, default 2); `iam:CreateServiceLinkedRole
    --aws-service-name ecs.amazonaws.com` creates it at once. Until it exists, the calls
    that need it fail with InvalidParameterException, "Unable to assume the service linked
    role. Please verify that the ECS service linked role exists.": capacity providers
    (PutClusterCapacityProviders, CreateCluster with capacity providers) and tasks with
    awsvpc networking (CreateService, UpdateService, RunTask with a networkConfiguration).

    AWS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html
    ("Amazon ECS uses the service-linked role ... to manage elastic network interfaces ...
    When you create a cluster ... Amazon ECS creates the service-linked role for you");
    the failure: https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/818.
    Moto needed no role.
    """
    account = call.account_id
    if call.action == "CreateCluster":
        _ecs_creates_role(account)
    if _needs_ecs_role(call) and not _ecs_role_exists(account):
        raise Reject(
            "InvalidParameterException",
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
        )


@rule("ecs-awsvpc-limits", "ecs", "CreateService", "UpdateService", "RunTask")
def ecs_awsvpc_limits(call: Call) -> None:
    """An awsvpcConfiguration has 1 to 16 subnets and at most 5 security groups, and
    assignPublicIp ENABLED only with the Fargate launch type.

    AWS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html
    ("subnets ... There's a limit of 16 subnets"; "securityGroups ... There's a limit of 5
    security groups"; "assignPublicIp ... This property is only used for tasks that use
    the Fargate launch type"); InvalidParameterException. Moto accepted any number.
    """
    network = call.params.get("networkConfiguration")
    vpc = network.get("awsvpcConfiguration") if isinstance(network, dict) else None
    if not isinstance(vpc, dict):
        return
    subnets = vpc.get("subnets") or []
    if call.action != "UpdateService" and not subnets:
        raise Reject("InvalidParameterException", "subnets can not be empty.")
    if len(subnets) > 16:
        raise Reject("InvalidParameterException", "subnets can have at most 16 items.")
    if len(vpc.get("securityGroups") or []) > 5:
        raise Reject("InvalidParameterException", "securityGroups can have at most 5 items.")
    if vpc.get("assignPublicIp") == "ENABLED" and call.params.get("launchType") == "EC2":
        raise Reject("InvalidParameterException", "Assign public IP is not supported for this launch type.")


_ECS_DESCRIBE_LIMITS = {"DescribeServices": ("services", 10), "DescribeTasks": ("tasks", 100), "DescribeClusters": ("clusters", 100)}


@rule("ecs-describe-limits", "ecs", *_ECS_DESCRIBE_LIMITS)
def ecs_describe_limits(call: Call) -> None:
    """DescribeServices takes at most 10 services, DescribeTasks and DescribeClusters at
    most 100 tasks / clusters per call.

    AWS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
    ("You may specify up to 10 services to describe in a single operation"),
    API_DescribeTasks.html ("A list of up to 100 task IDs or full ARN entries"),
    API_DescribeClusters.html ("A list of up to 100 cluster names or full cluster ARN
    entries"); InvalidParameterException. Moto described any number.
    """
    member, limit = _ECS_DESCRIBE_LIMITS[call.action]
    given = call.params.get(member) or []
    if len(given) > limit:
        raise Reject("InvalidParameterException", f"{member} can have at most {limit} items.")


# --- ELBv2 ----------------------------------------------------------------------------------

_ELBV2_DESCRIBE_LIMITS = {"DescribeTags": ("ResourceArns", 20), "DescribeLoadBalancers": ("LoadBalancerArns", 20)}


@rule("elbv2-describe-limits", "elbv2", *_ELBV2_DESCRIBE_LIMITS)
def elbv2_describe_limits(call: Call) -> None:
    """DescribeTags takes at most 20 resource ARNs, DescribeLoadBalancers at most 20 load
    balancer ARNs per call.

    AWS: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTags.html
    ("ResourceArns ... You can specify up to 20 resources in a single call"),
    API_DescribeLoadBalancers.html ("You can specify up to 20 load balancers in a single
    call"); ValidationError. Moto described any number.
    """
    member, limit = _ELBV2_DESCRIBE_LIMITS[call.action]
    given = call.params.get(member) or []
    if len(given) > limit:
        raise Reject("ValidationError", f"You can specify up to {limit} {member[0].lower() + member[1:]} in a single call, not {len(given)}.")


_ONE_CERTIFICATE = {"AddListenerCertificates": "add", "RemoveListenerCertificates": "remove"}


@rule("elbv2-one-certificate-per-call", "elbv2", *_ONE_CERTIFICATE)
def elbv2_one_certificate_per_call(call: Call) -> None:
    """AddListenerCertificates and RemoveListenerCertificates take one certificate a call.

    AWS: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AddListenerCertificates.html
    ("Certificates.member.N: The certificate to add. You can specify one certificate per
    call") and API_RemoveListenerCertificates.html ("The certificate to remove. You can
    specify one certificate per call"). The reference names no error for a second
    certificate (TooManyCertificates is the per-load-balancer quota); the test bed answers
    ValidationError (HTTP 400), the query API's error for a parameter outside its
    documented constraint. Moto added or removed every certificate given.
    """
    certificates = call.params.get("Certificates") or []
    if len(certificates) > 1:
        raise Reject(
            "ValidationError",
            f"You can {_ONE_CERTIFICATE[call.action]} only one certificate per call, not {len(certificates)}.",
        )


# --- ElastiCache ----------------------------------------------------------------------------

_FULL_VERSION = re.compile(r"\d+\.\d+\.\d+")
_MAJOR_MINOR = re.compile(r"\d+\.(\d+|x)")


@rule("elasticache-engine-versions", "elasticache", "CreateCacheCluster", "CreateReplicationGroup", "ModifyCacheCluster", "ModifyReplicationGroup")
def elasticache_engine_versions(call: Call) -> None:
    """Memcached engine versions are full versions (1.6.22, not 1.6); Redis OSS 6 and later
    and Valkey take major.minor (7.1, 8.0), not a patch version.

    AWS: https://docs.aws.amazon.com/AmazonElastiCache/latest/mem-ug/supported-engine-versions-mc.html
    (memcached: 1.6.22, 1.6.17, 1.6.12, ... only),
    https://docs.aws.amazon.com/config/latest/developerguide/elasticache-supported-engine-version.html
    ("(for example, 1.6.6, not 1.6)"),
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/engine-versions.html (Redis OSS
    6+: "you can specify the major and minor version, e.g. 6.2"). An unknown version is
    InvalidParameterCombination, "Cannot find version 1.6 for memcached" (as AWS answers,
    e.g. "Cannot find version 4.0.13 for redis",
    https://github.com/ministryofjustice/cloud-platform-environments/pull/5753); a patch
    version for Redis 6+ is InvalidParameterValue, "Specific version selection is not
    allowed for '6.2.6', please use '6.2'"
    (https://github.com/crossplane-contrib/provider-aws/issues/1617). Moto accepted any string.
    """
    version = call.params.get("EngineVersion")
    if not isinstance(version, str) or not version:
        return
    engine = (call.params.get("Engine") or "").lower()
    if not engine and call.action.startswith("Modify"):
        engine = _current_engine(call)
    if engine == "memcached":
        if _FULL_VERSION.fullmatch(version) is None:
            raise Reject("InvalidParameterCombination", f"Cannot find version {version} for memcached")
    elif engine in ("redis", "valkey") or (not engine and call.action == "CreateReplicationGroup"):
        major = version.split(".", 1)[0]
        if major.isdigit() and (int(major) >= 6 or engine == "valkey") and _FULL_VERSION.fullmatch(version):
            short = ".".join(version.split(".")[:2])
            raise Reject("InvalidParameterValue", f"Specific version selection is not allowed for '{version}', please use '{short}'")
        if major.isdigit() and int(major) >= 6 and _MAJOR_MINOR.fullmatch(version) is None and _FULL_VERSION.fullmatch(version) is None:
            raise Reject("InvalidParameterCombination", f"Cannot find version {version} for {engine or 'redis'}")


def _current_engine(call: Call) -> str:
    from moto.elasticache.models import elasticache_backends

    backend = elasticache_backends[call.account_id][call.region]
    if call.action == "ModifyCacheCluster":
        cluster = backend.cache_clusters.get(call.params.get("CacheClusterId") or "")
        return (getattr(cluster, "engine", "") or "").lower()
    group = backend.replication_groups.get(call.params.get("ReplicationGroupId") or "")
    return (getattr(group, "engine", "") or "").lower()


_IDENTIFIER = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*")


def _identifier_problem(value: str, limit: int) -> bool:
    return not (0 < len(value) <= limit and _IDENTIFIER.fullmatch(value) and not value.endswith("-"))


def _check_identifiers(call: Call, members: tuple[tuple[str, int], ...]) -> None:
    """Each of `members` (name, length limit) the request gives is an RDS / ElastiCache
    identifier: a letter first, letters, digits and single hyphens, no trailing hyphen."""
    for member, limit in members:
        value = call.params.get(member)
        if isinstance(value, str) and _identifier_problem(value, limit):
            raise Reject(
                "InvalidParameterValue",
                f"The parameter {member} is not a valid identifier. Identifiers must begin with a letter; must contain "
                "only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.",
            )


_ELASTICACHE_IDS = {
    "CreateCacheCluster": (("CacheClusterId", 50),),
    "CreateReplicationGroup": (("ReplicationGroupId", 40),),
    "CreateSnapshot": (("SnapshotName", 255),),
}


@rule("elasticache-identifiers", "elasticache", *_ELASTICACHE_IDS, "CreateCacheSubnetGroup")
def elasticache_identifiers(call: Call) -> None:
    """Cache cluster ids (at most 50 characters), replication group ids (at most 40) and
    snapshot names begin with a letter, contain only ASCII letters, digits and hyphens, and
    neither end with a hyphen nor contain two consecutive hyphens; cache subnet group names
    are at most 255 letters, digits or hyphens.

    AWS: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheCluster.html
    ("CacheClusterId ... Constraints: A name must contain from 1 to 50 alphanumeric
    characters or hyphens. The first character must be a letter. A name cannot end with a
    hyphen or contain two consecutive hyphens"), API_CreateReplicationGroup.html (the same,
    "from 1 to 40"), API_CreateCacheSubnetGroup.html ("Must contain no more than 255
    alphanumeric characters or hyphens"); InvalidParameterValue. Moto accepted any id.
    """
    if call.action == "CreateCacheSubnetGroup":
        name = call.params.get("CacheSubnetGroupName")
        if isinstance(name, str) and (not re.fullmatch(r"[A-Za-z0-9-]{1,255}", name) or name.lower() == "default"):
            raise Reject("InvalidParameterValue", f"The parameter CacheSubnetGroupName is not a valid identifier: {name}")
        return
    _check_identifiers(call, _ELASTICACHE_IDS[call.action])


# --- RDS ------------------------------------------------------------------------------------

_RDS_IDS = {
    "ModifyDBInstance": (("NewDBInstanceIdentifier", 63),),
    "RestoreDBInstanceFromDBSnapshot": (("DBInstanceIdentifier", 63),),
    "CreateDBInstance": (("DBInstanceIdentifier", 63),),
    "CreateDBSnapshot": (("DBSnapshotIdentifier", 255),),
    "DeleteDBInstance": (("FinalDBSnapshotIdentifier", 255),),
}


@rule("rds-identifiers", "rds", *_RDS_IDS, "CreateDBSubnetGroup")
def rds_identifiers(call: Call) -> None:
    """DB instance identifiers (1 to 63 characters; also as NewDBInstanceIdentifier and for a
    restore) and DB snapshot identifiers begin with a letter, contain only ASCII letters,
    digits and hyphens, and neither end with a hyphen nor contain two consecutive hyphens.
    DB subnet group names are at most 255 letters, digits, periods, underscores, spaces or
    hyphens, begin with a letter, and are not "default".

    AWS: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
    API_ModifyDBInstance.html (NewDBInstanceIdentifier), API_RestoreDBInstanceFromDBSnapshot.html,
    API_CreateDBSnapshot.html ("Must contain from 1 to 63 letters, numbers, or hyphens.
    First character must be a letter. Can't end with a hyphen or contain two consecutive
    hyphens"), API_CreateDBSubnetGroup.html ("Must contain no more than 255 letters,
    numbers, periods, underscores, spaces, or hyphens. Must not be default"); and the
    message RDS answers with (InvalidParameterValue). Moto 5.2.5 checks CreateDBInstance,
    CreateDBSnapshot and DeleteDBInstance itself; the rule adds ModifyDBInstance's new
    identifier, the restore's identifier and subnet group names.
    """
    if call.action == "CreateDBSubnetGroup":
        name = call.params.get("DBSubnetGroupName")
        if isinstance(name, str) and (not re.fullmatch(r"[A-Za-z][A-Za-z0-9._ -]{0,254}", name) or name.lower() == "default"):
            raise Reject(
                "InvalidParameterValue",
                f"The parameter DBSubnetGroupName is not a valid identifier. It must begin with a letter and contain no "
                f"more than 255 letters, numbers, periods, underscores, spaces, or hyphens, and must not be default: {name}",
            )
        return
    _check_identifiers(call, _RDS_IDS[call.action])


_PAGED_DESCRIBES = {
    "rds": ("DescribeDBInstances", "DescribeDBSubnetGroups", "DescribeDBSnapshots", "DescribeDBClusters", "DescribeDBParameterGroups"),
    "elasticache": ("DescribeCacheClusters", "DescribeReplicationGroups", "DescribeCacheSubnetGroups", "DescribeSnapshots", "DescribeCacheParameterGroups"),
}


def _max_records(call: Call) -> None:
    """MaxRecords of the RDS and ElastiCache Describe calls is 20 to 100.

    AWS: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html
    ("MaxRecords ... Default: 100. Constraints: Minimum 20, maximum 100"),
    https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeCacheClusters.html
    (the same); InvalidParameterValue. Moto took any number.
    """
    value = call.params.get("MaxRecords")
    if isinstance(value, int) and not 20 <= value <= 100:
        raise Reject("InvalidParameterValue", f"Invalid value {value} for MaxRecords. Must be between 20 and 100")


for _service, _operations in _PAGED_DESCRIBES.items():
    rule("max-records", _service, *_operations)(_max_records)


# --- ACM ------------------------------------------------------------------------------------


@rule("acm-domain-names", "acm", "RequestCertificate")
def acm_domain_names(call: Call) -> None:
    """A certificate has at most 10 domain names (the domain name and the subject
    alternative names together).

    AWS: https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html ("Number of domain
    names per ACM certificate ... The default quota is 10 domain names for each ACM
    certificate"); API_RequestCertificate.html (LimitExceededException "An ACM quota has
    been exceeded"). Moto issued certificates with any number of names.
    """
    names = {call.params.get("DomainName")} | set(call.params.get("SubjectAlternativeNames") or [])
    names.discard(None)
    if len(names) > 10:
        raise Reject(
            "LimitExceededException",
            f"Cannot request a certificate for {len(names)} domain names: the quota is 10 domain names per certificate.",
        )


# --- CloudFront -----------------------------------------------------------------------------


@rule(
    "cloudfront-if-match",
    "cloudfront",
    "UpdateDistribution",
    "DeleteDistribution",
    "UpdateOriginAccessControl",
    "DeleteOriginAccessControl",
    "UpdateCachePolicy",
    "DeleteCachePolicy",
)
def cloudfront_if_match(call: Call) -> None:
    """Updates and deletes need the resource's current ETag in If-Match; without one
    CloudFront answers InvalidIfMatchVersion (HTTP 400).

    AWS: https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html
    and API_DeleteDistribution.html ("InvalidIfMatchVersion: The If-Match version is
    missing or not valid for the resource", HTTP 400). Moto (and patches/cloudfront.py,
    which checks a stale one) accepted an origin access control update or delete without
    it (moto checks it for distributions itself).
    """
    if not call.params.get("IfMatch"):
        raise Reject("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")


# --- S3 -------------------------------------------------------------------------------------

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


@rule("s3-bucket-names", "s3", "CreateBucket")
def s3_bucket_names(call: Call) -> None:
    """General purpose bucket names: 3 to 63 lowercase letters, digits, dots and hyphens,
    beginning and ending with a letter or digit, no two adjacent dots, not an IP address,
    not beginning with xn--, sthree- or amzn-s3-demo-, not ending with -s3alias, --ol-s3,
    .mrap, --x-s3 or --table-s3.

    AWS: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html;
    InvalidBucketName, "The specified bucket is not valid." (API_CreateBucket.html). Moto
    checked the length only.
    """
    name = call.params.get("Bucket")
    if not isinstance(name, str):
        return
    if (
        _BUCKET.fullmatch(name) is None
        or ".." in name
        or _IP.fullmatch(name)
        or name.startswith(_BUCKET_PREFIXES)
        or name.endswith(_BUCKET_SUFFIXES)
    ):
        raise Reject("InvalidBucketName", "The specified bucket is not valid.")


# --- Route 53 -------------------------------------------------------------------------------


@rule("route53-change-batch-limits", "route53", "ChangeResourceRecordSets")
def route53_change_batch_limits(call: Call) -> None:
    """A change batch holds at most 1,000 ResourceRecord elements and 32,000 characters of
    values; an UPSERT counts twice.

    AWS: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html
    ("Number of elements and characters in ChangeResourceRecordSets requests":
    "ResourceRecord elements: 1,000 ... When the value of the Action element is UPSERT,
    each ResourceRecord element is counted twice"; "Maximum number of characters: 32,000
    ..."); InvalidChangeBatch. Moto 5.2.5 counts the records itself; it took any number of
    characters.
    """
    batch = call.params.get("ChangeBatch") or {}
    records = characters = 0
    for change in batch.get("Changes") or []:
        weight = 2 if change.get("Action") == "UPSERT" else 1
        values = [(r or {}).get("Value") or "" for r in (change.get("ResourceRecordSet") or {}).get("ResourceRecords") or []]
        records += weight * len(values)
        characters += weight * sum(len(v) for v in values)
    if records > 1000:
        raise Reject("InvalidChangeBatch", f"Number of records limit of 1000 exceeded (found {records}).")
    if characters > 32000:
        raise Reject("InvalidChangeBatch", f"Number of characters limit of 32000 exceeded (found {characters}).")


def apply() -> None:
    global _slr_seconds, _iam_propagation_seconds
    _slr_seconds = _switches.number("CAPSULE_TESTBED_ECS_SLR_SECONDS", 2.0)
    _iam_propagation_seconds = _switches.number("CAPSULE_TESTBED_IAM_PROPAGATION_SECONDS", 2.0, high=600.0)
    _gate.install()
    _gate.register(40, "rules", _check)
