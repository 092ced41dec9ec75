"""Checks of patches/ec2.py and the network rules of patches/rules.py against the running test
bed (see test_patches.py for how these tests run). Every test fails against plain moto 5.2.5.
"""

import time

import pytest
from _aws import client, unique
from botocore.exceptions import ClientError


def tagged(kind: str, value: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": "probe", "Value": value}]}]


@pytest.fixture(scope="module")
def ec2():
    return client("ec2")


def vpc_with_subnets(ec2, internet_gateway: bool, octet: int) -> tuple[str, list[str]]:
    """A new VPC with two subnets in two zones, with or without an attached internet gateway."""
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
        for i, z in enumerate(zones)
    ]
    if internet_gateway:
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    return vpc, subnets


def test_nat_gateways_are_filtered_by_tags(ec2):
    _, subnets = vpc_with_subnets(ec2, True, 201)
    mine, other = unique("nat"), unique("nat")
    for value in (mine, other):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation, TagSpecifications=tagged("natgateway", value))
    # A new gateway shows up after the test bed's consistency delay (patches/consistency.py).
    deadline = time.time() + 5
    while not (found := ec2.describe_nat_gateways(Filter=[{"Name": "tag:probe", "Values": [mine]}])["NatGateways"]):
        assert time.time() < deadline, "the gateway never showed up"
        time.sleep(0.1)
    assert [t["Value"] for g in found for t in g["Tags"] if t["Key"] == "probe"] == [mine]
    assert ec2.describe_nat_gateways(Filter=[{"Name": "tag-key", "Values": [unique("none")]}])["NatGateways"] == []


def test_a_public_nat_gateway_needs_an_internet_gateway(ec2):
    vpc, subnets = vpc_with_subnets(ec2, False, 202)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    with pytest.raises(ClientError) as excinfo:
        ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)
    assert excinfo.value.response["Error"]["Code"] == "Gateway.NotAttached"
    assert vpc in excinfo.value.response["Error"]["Message"]
    # A private NAT gateway needs none.
    ec2.create_nat_gateway(SubnetId=subnets[0], ConnectivityType="private")


def test_an_internet_facing_load_balancer_needs_an_internet_gateway(ec2):
    elbv2 = client("elbv2")
    vpc, subnets = vpc_with_subnets(ec2, False, 203)
    with pytest.raises(ClientError) as excinfo:
        elbv2.create_load_balancer(Name=unique("lb")[:32], Subnets=subnets)
    assert excinfo.value.response["Error"]["Code"] == "InvalidSubnet"
    assert vpc in excinfo.value.response["Error"]["Message"]
    elbv2.create_load_balancer(Name=unique("lb")[:32], Subnets=subnets, Scheme="internal")
    _, public = vpc_with_subnets(ec2, True, 204)
    elbv2.create_load_balancer(Name=unique("lb")[:32], Subnets=public)


def test_the_default_vpc_routes_to_its_internet_gateway(ec2):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
    assert len(gateways) == 1
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]
    routes = {r.get("DestinationCidrBlock"): r.get("GatewayId") for r in main["Routes"]}
    assert routes.get("0.0.0.0/0") == gateways[0]["InternetGatewayId"]


def state_of(ec2, gateway: str) -> str | None:
    found = ec2.describe_nat_gateways(NatGatewayIds=[gateway])["NatGateways"]
    return found[0]["State"] if found else None


def states_until(ec2, gateway: str, final: str, timeout: float = 10.0) -> list[str]:
    """The states DescribeNatGateways shows, in order, until `final` (the gateway may be
    invisible at first: patches/consistency.py)."""
    seen: list[str] = []
    deadline = time.time() + timeout
    while not seen or seen[-1] != final:
        assert time.time() < deadline, f"still {seen}"
        state = state_of(ec2, gateway)
        if state is not None and (not seen or seen[-1] != state):
            seen.append(state)
        time.sleep(0.05)
    return seen


def test_a_nat_gateway_is_pending_before_available_and_deleting_before_deleted(ec2):
    """patches/ec2.py (ec2-nat-gateway-states). Plain moto: `available` at once, `deleted`
    at once, and the address stays associated with the deleted gateway."""
    _, subnets = vpc_with_subnets(ec2, True, 205)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    made = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)["NatGateway"]
    assert made["State"] == "pending"
    gateway = made["NatGatewayId"]
    assert states_until(ec2, gateway, "available") in (["pending", "available"], ["available"])
    assert ec2.delete_nat_gateway(NatGatewayId=gateway)["NatGatewayId"] == gateway
    assert state_of(ec2, gateway) == "deleting"
    assert states_until(ec2, gateway, "deleted") == ["deleting", "deleted"]
    address = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]
    assert not address.get("AssociationId") and not address.get("NetworkInterfaceId")
