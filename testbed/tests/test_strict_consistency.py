"""Checks of patches/consistency.py: what was just created is not visible at once.

The delay is random (0.2 to 1 s with the default CAPSULE_TESTBED_CONSISTENCY_DELAY=1): each
check creates a resource and reads it at once, a few times over in case the machine is so
slow that a read comes late; it asserts that a read failed as AWS's does, and that the
resource becomes visible within seconds. Every test fails against plain moto 5.2.5 (checked
against `.testbed/venv/bin/moto_server -p 5399`: the first read always succeeds).
"""

import json
import time

from _aws import client, eventually, unique
from botocore.exceptions import ClientError

ATTEMPTS = 5


def first_read_fails(create, read) -> tuple[str, int]:
    """Create, then read at once; the error code and status of the first failing read."""
    for _ in range(ATTEMPTS):
        made = create()
        try:
            read(made)
        except ClientError as error:
            eventually(lambda: read(made), timeout=5)
            return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{ATTEMPTS} reads right after the create all succeeded")


def vpc() -> str:
    return client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def test_acm_describe_certificate_right_after_request():
    acm = client("acm")
    code = first_read_fails(
        lambda: acm.request_certificate(DomainName=f"{unique('new')}.example.com", ValidationMethod="DNS")["CertificateArn"],
        lambda arn: acm.describe_certificate(CertificateArn=arn),
    )
    assert code == ("ResourceNotFoundException", 400)


def test_ec2_describe_security_group_by_id_right_after_create():
    ec2 = client("ec2")
    network = vpc()
    code = first_read_fails(
        lambda: ec2.create_security_group(GroupName=unique("new"), Description="d", VpcId=network)["GroupId"],
        lambda group: ec2.describe_security_groups(GroupIds=[group]),
    )
    assert code == ("InvalidGroup.NotFound", 400)


def test_ec2_describe_security_groups_by_filter_leaves_a_new_group_out():
    ec2 = client("ec2")
    network = vpc()
    for _ in range(ATTEMPTS):
        name = unique("new")
        ec2.create_security_group(GroupName=name, Description="d", VpcId=network)
        seen = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        if not seen:
            break
    else:
        raise AssertionError("the new group was always listed at once")
    deadline = time.time() + 5
    while not ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]:
        assert time.time() < deadline
        time.sleep(0.1)


def test_ec2_rule_referencing_a_new_group():
    ec2 = client("ec2")
    network = vpc()
    target = ec2.create_security_group(GroupName=unique("target"), Description="d", VpcId=network)["GroupId"]
    eventually(lambda: ec2.describe_security_groups(GroupIds=[target]))

    def authorize(source):
        return ec2.authorize_security_group_ingress(
            GroupId=target,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": source}]}],
        )

    code = first_read_fails(
        lambda: ec2.create_security_group(GroupName=unique("source"), Description="d", VpcId=network)["GroupId"],
        authorize,
    )
    assert code == ("InvalidGroup.NotFound", 400)


def test_iam_get_role_right_after_create():
    iam = client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})

    def create():
        name = unique("new")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        return name

    code = first_read_fails(create, lambda name: iam.get_role(RoleName=name))
    assert code == ("NoSuchEntity", 404)


def test_elbv2_listener_with_a_certificate_issued_moments_ago():
    """A certificate that ACM has just issued is not yet known to ELB: CertificateNotFound."""
    acm, ec2, elb = client("acm"), client("ec2"), client("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc()]}])["Subnets"]][:2]
    balancer = elb.create_load_balancer(Name=unique("lb"), Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]

    def issued_certificate():
        arn = acm.request_certificate(DomainName=f"{unique('new')}.example.com", ValidationMethod="DNS")["CertificateArn"]
        deadline = time.time() + 10
        while eventually(lambda: acm.describe_certificate(CertificateArn=arn))["Certificate"]["Status"] != "ISSUED":
            assert time.time() < deadline, "never issued"
            time.sleep(0.05)
        return arn

    ports = iter(range(8443, 8543))

    def listener(arn):
        port = next(ports)  # a port of its own for each attempt
        return elb.create_listener(
            LoadBalancerArn=balancer, Protocol="HTTPS", Port=port, Certificates=[{"CertificateArn": arn}],
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )

    code = first_read_fails(issued_certificate, listener)
    assert code == ("CertificateNotFound", 400)


def test_ec2_network_objects_are_left_out_of_their_describe_right_after_create():
    ec2 = client("ec2")
    made_vpc = {}

    def new_vpc():
        made_vpc["id"] = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        return made_vpc["id"]

    cases = [
        (new_vpc, lambda i: ec2.describe_vpcs(VpcIds=[i])["Vpcs"]),
        (
            lambda: ec2.create_subnet(VpcId=made_vpc["id"], CidrBlock="10.99.0.0/24")["Subnet"]["SubnetId"],
            lambda i: ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": [i]}])["Subnets"],
        ),
        (
            lambda: ec2.create_route_table(VpcId=made_vpc["id"])["RouteTable"]["RouteTableId"],
            lambda i: ec2.describe_route_tables(Filters=[{"Name": "route-table-id", "Values": [i]}])["RouteTables"],
        ),
        (
            lambda: ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"],
            lambda i: ec2.describe_internet_gateways(InternetGatewayIds=[i])["InternetGateways"],
        ),
        (
            lambda: ec2.allocate_address(Domain="vpc")["AllocationId"],
            lambda i: ec2.describe_addresses(AllocationIds=[i])["Addresses"],
        ),
    ]
    for create, read in cases:
        for _ in range(ATTEMPTS):
            made = create()
            if read(made) == []:
                deadline = time.time() + 5
                while read(made) == []:
                    assert time.time() < deadline, f"{made} still hidden after 5 s"
                    time.sleep(0.1)
                break
        else:
            raise AssertionError(f"{ATTEMPTS} reads right after {create} all found it")
