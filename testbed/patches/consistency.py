"""Eventual consistency: what was just created is not visible at once, as AWS documents.

Restores, against moto 5.2.5 (where every write is visible to the next read): for a short
random delay after it is created (uniform between a fifth of the maximum and the maximum;
CAPSULE_TESTBED_CONSISTENCY_DELAY=<max seconds>, default 1, 0 turns this off), a resource
is invisible to the calls AWS documents as eventually consistent:

| Just created | Call | Answer meanwhile |
| --- | --- | --- |
| ACM certificate (RequestCertificate) | DescribeCertificate | ResourceNotFoundException |
| EC2 security group (CreateSecurityGroup) | DescribeSecurityGroups by id or name | InvalidGroup.NotFound |
| | DescribeSecurityGroups by filter (or all) | the group is left out |
| | AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroupIngress/Egress, on it or referencing it (UserIdGroupPairs) | InvalidGroup.NotFound |
| IAM role (CreateRole) | GetRole | NoSuchEntity (404) |
| EC2 VPC, subnet, internet gateway, route table, Elastic IP, NAT gateway, VPC endpoint, flow log | its Describe call (DescribeVpcs, DescribeSubnets, ...) by id or filter | left out of the answer |
| ACM certificate just issued | ELBv2 CreateListener, ModifyListener, AddListenerCertificates with it | CertificateNotFound |

AWS: https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
(the ARN returned may not be usable by DescribeCertificate at once; the ACM controllers and
CDK retry for that reason: https://github.com/aws-controllers-k8s/acm-controller/pull/2),
https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html ("if you run a
command to modify or describe the resource that you just created, its ID might not have
propagated throughout the system ... InvalidGroup.NotFound"),
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
("changes ... take time to become visible"),
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html
(CertificateNotFound, "The specified certificate does not exist"), as reported right after
issuance: the review's F3.
"""

from __future__ import annotations

import random
import time
from datetime import timezone
from typing import Any

from moto import settings as moto_settings
from moto.acm.models import AWSCertificateManagerBackend
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.responses.security_groups import SecurityGroups
from moto.iam.models import IAMBackend

from . import _gate, _switches
from ._gate import Call, Reject
from ._util import around

_max_delay = 1.0
_random = random.Random()


def _delay() -> float:
    return _random.uniform(_max_delay / 5, _max_delay)


def _hidden(thing: Any, now: float | None = None) -> bool:
    until = getattr(thing, "_testbed_visible_at", None)
    return until is not None and (now or time.time()) < until


# --- ACM ------------------------------------------------------------------------------------


def _acm(call: Call) -> AWSCertificateManagerBackend:
    from moto.acm.models import acm_backends

    return acm_backends[call.account_id][call.region]


def _acm_describe(call: Call) -> None:
    arn = call.params.get("CertificateArn")
    bundle = _acm(call)._certificates.get(arn) if arn else None
    if bundle is not None and _hidden(bundle):
        raise Reject("ResourceNotFoundException", f"Could not find certificate {arn}.")


def _issued_at(bundle: Any) -> float | None:
    if getattr(bundle, "type", None) != "AMAZON_ISSUED":
        return None
    created = bundle.created_at.replace(tzinfo=timezone.utc).timestamp()
    return created + float(moto_settings.ACM_VALIDATION_WAIT)


def _elbv2_certificates(call: Call) -> None:
    certificates = call.params.get("Certificates") or []
    if not certificates:
        return
    backend = _acm(call)
    now = time.time()
    for certificate in certificates:
        arn = certificate.get("CertificateArn") if isinstance(certificate, dict) else None
        bundle = backend._certificates.get(arn) if arn else None
        issued = _issued_at(bundle) if bundle is not None else None
        if issued is None:
            continue
        if now < issued + getattr(bundle, "_testbed_elb_delay", 0.0):
            raise Reject("CertificateNotFound", f"Certificate '{arn}' not found")


# --- EC2 ------------------------------------------------------------------------------------


def _ec2(call: Call) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[call.account_id][call.region]


def _group_not_found(group: str) -> Reject:
    return Reject("InvalidGroup.NotFound", f"The security group '{group}' does not exist")


def _ec2_describe(call: Call) -> None:
    backend = _ec2(call)
    for group_id in call.params.get("GroupIds") or []:
        group = backend.get_security_group_from_id(group_id)
        if group is not None and _hidden(group):
            raise _group_not_found(group_id)
    for name in call.params.get("GroupNames") or []:
        group = backend.get_security_group_from_name(name)
        if group is not None and _hidden(group):
            raise Reject("InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC")


def _ec2_rules(call: Call) -> None:
    backend = _ec2(call)
    ids = [call.params.get("GroupId")]
    for permission in call.params.get("IpPermissions") or []:
        for pair in (permission or {}).get("UserIdGroupPairs") or []:
            ids.append((pair or {}).get("GroupId"))
    for group_id in ids:
        if not group_id:
            continue
        group = backend.get_security_group_from_id(group_id)
        if group is not None and _hidden(group):
            raise _group_not_found(group_id)
    name = call.params.get("GroupName")
    if name and not call.params.get("GroupId"):
        group = backend.get_security_group_from_name(name)
        if group is not None and _hidden(group):
            raise _group_not_found(name)


# --- IAM ------------------------------------------------------------------------------------


def _iam_get_role(call: Call) -> None:
    from moto.iam.models import iam_backends

    name = call.params.get("RoleName")
    if not name:
        return
    try:
        role = iam_backends[call.account_id]["aws"].get_role(name)
    except Exception:
        return
    if _hidden(role):
        raise Reject("NoSuchEntity", f"The role with name {name} cannot be found.", status=404)


_CHECKS = {
    ("acm", "DescribeCertificate"): _acm_describe,
    ("ec2", "DescribeSecurityGroups"): _ec2_describe,
    ("ec2", "AuthorizeSecurityGroupIngress"): _ec2_rules,
    ("ec2", "AuthorizeSecurityGroupEgress"): _ec2_rules,
    ("ec2", "RevokeSecurityGroupIngress"): _ec2_rules,
    ("ec2", "RevokeSecurityGroupEgress"): _ec2_rules,
    ("iam", "GetRole"): _iam_get_role,
    ("elbv2", "CreateListener"): _elbv2_certificates,
    ("elbv2", "ModifyListener"): _elbv2_certificates,
    ("elbv2", "AddListenerCertificates"): _elbv2_certificates,
}


# EC2 network objects: (moto backend class path, create method, Describe operation, describe method).
_EC2_NETWORK = [
    ("moto.ec2.models.vpcs:VPCBackend", "create_vpc", "DescribeVpcs", "describe_vpcs"),
    ("moto.ec2.models.subnets:SubnetBackend", "create_subnet", "DescribeSubnets", "describe_subnets"),
    ("moto.ec2.models.internet_gateways:InternetGatewayBackend", "create_internet_gateway", "DescribeInternetGateways", "describe_internet_gateways"),
    ("moto.ec2.models.route_tables:RouteBackend", "create_route_table", "DescribeRouteTables", "describe_route_tables"),
    ("moto.ec2.models.elastic_ip_addresses:ElasticAddressBackend", "allocate_address", "DescribeAddresses", "describe_addresses"),
    ("moto.ec2.models.nat_gateways:NatGatewayBackend", "create_nat_gateway", "DescribeNatGateways", "describe_nat_gateways"),
    ("moto.ec2.models.vpcs:VPCBackend", "create_vpc_endpoint", "DescribeVpcEndpoints", "describe_vpc_endpoints"),
]


def _answering(operation: str) -> bool:
    """Whether the request being handled is that EC2 Describe call (moto also describes
    internally, e.g. while creating, where the object must stay visible)."""
    call = _gate.current_call()
    return call is not None and call.botocore_name == "ec2" and call.action == operation


def _ec2_network_consistency() -> None:
    import importlib

    for path, create, operation, describe in _EC2_NETWORK:
        module, name = path.split(":")
        owner = getattr(importlib.import_module(module), name)

        def created(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
            made = original(self, *args, **kwargs)
            # Only what a request creates: a region's default VPC, made when its backend
            # starts, is there from the beginning.
            call = _gate.current_call()
            if call is not None and (call.action or "").startswith(("Create", "Allocate")):
                made._testbed_visible_at = time.time() + _delay()
            return made

        def described(original: Any, self: Any, *args: Any, _operation: str = operation, **kwargs: Any) -> Any:
            found = original(self, *args, **kwargs)
            if not _answering(_operation) or not isinstance(found, list):
                return found
            now = time.time()
            return [thing for thing in found if not _hidden(thing, now)]

        around(owner, create)(created)
        around(owner, describe)(described)


def _check(call: Call) -> None:
    if call.operation is None:
        return
    check = _CHECKS.get((call.botocore_name, call.operation.name))
    if check is not None and call.params is not None:
        check(call)


def apply() -> None:
    global _max_delay
    _max_delay = _switches.number("CAPSULE_TESTBED_CONSISTENCY_DELAY", 1.0, high=600.0)
    if _max_delay <= 0 or not _switches.enabled("consistency"):
        return
    _gate.install()
    _gate.register(50, "consistency", _check)

    @around(AWSCertificateManagerBackend, "request_certificate")
    def request_certificate(original: Any, self: AWSCertificateManagerBackend, *args: Any, **kwargs: Any) -> Any:
        arn = original(self, *args, **kwargs)
        bundle = self._certificates.get(arn)
        if bundle is not None and not hasattr(bundle, "_testbed_visible_at"):
            # A repeated request (same idempotency token) answers the same, older certificate.
            bundle._testbed_visible_at = time.time() + _delay()
            bundle._testbed_elb_delay = _delay()
        return arn

    @around(SecurityGroupBackend, "create_security_group")
    def create_security_group(original: Any, self: SecurityGroupBackend, *args: Any, **kwargs: Any) -> Any:
        group = original(self, *args, **kwargs)
        group._testbed_visible_at = time.time() + _delay()
        return group

    @around(SecurityGroups, "describe_security_groups")
    def describe_security_groups(original: Any, self: SecurityGroups) -> Any:
        result = original(self)
        groups = result.result.get("SecurityGroups") if isinstance(result.result, dict) else None
        if groups:
            now = time.time()
            result.result["SecurityGroups"] = [g for g in groups if not _hidden(g, now)]
        return result

    _ec2_network_consistency()

    @around(IAMBackend, "create_role")
    def create_role(original: Any, self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        role = original(self, *args, **kwargs)
        if not kwargs.get("linked_service"):
            role._testbed_visible_at = time.time() + _delay()
        return role
