"""EC2: the VPC calls capsule's network adapters make, as the EC2 API reference describes them.

Restores, against moto 5.2.5:

- DescribeNatGateways honours `tag:<key>` and `tag-key` filters, as every EC2 Describe call
  does (moto ignored them and answered every NAT gateway of the region, so a lookup by
  ownership tags found other capsules' gateways).
  AWS: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html

- The default VPC has an internet gateway and its main route table sends 0.0.0.0/0 to it, as
  every AWS account's default VPC does (moto's had neither, so nothing internet-facing could
  be placed in it once the rules below hold).
  AWS: https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc-components.html

The rules that refuse a public NAT gateway or an internet-facing load balancer in a VPC without
an internet gateway are in rules.py (ec2-nat-needs-internet-gateway,
elbv2-internet-facing-needs-internet-gateway).
"""

from __future__ import annotations

from typing import Any


def _tag_match(resource: Any, filters: dict[str, list[str]]) -> bool:
    tags = {t["key"]: t["value"] for t in resource.get_tags()} if hasattr(resource, "get_tags") else {}
    for name, values in filters.items():
        if name.startswith("tag:") and tags.get(name[4:]) not in values:
            return False
        if name == "tag-key" and not any(k in tags for k in values):
            return False
    return True


def apply() -> None:
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    original = NatGatewayBackend.describe_nat_gateways

    def describe_nat_gateways(self, filters: Any, nat_gateway_ids: Any) -> Any:
        found = original(self, filters, nat_gateway_ids)
        if not filters:
            return found
        return [g for g in found if _tag_match(g, filters)]

    NatGatewayBackend.describe_nat_gateways = describe_nat_gateways

    from moto.ec2.models.vpcs import VPCBackend

    create_default_vpc = VPCBackend.create_default_vpc

    def create_default_vpc_with_internet_gateway(self) -> Any:
        vpc = create_default_vpc(self)
        igw = self.create_internet_gateway()
        self.attach_internet_gateway(igw.id, vpc.id)
        main = next(t for t in self.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id)
        self.create_route(main.id, "0.0.0.0/0", gateway_id=igw.id)
        return vpc

    VPCBackend.create_default_vpc = create_default_vpc_with_internet_gateway
