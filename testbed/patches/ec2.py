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

- NAT gateways take time to come and go (`ec2-nat-gateway-states`; CAPSULE_TESTBED_NAT_SECONDS,
  default 1): CreateNatGateway answers `pending` and the gateway is `available` that long
  after; DeleteNatGateway answers `deleting` and the gateway is `deleted` that long after.
  Only then is its Elastic IP disassociated and its network interface gone. Moto made
  gateways `available` at once, `deleted` at once, and left the address associated forever.
  AWS: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html ("pending:
  The NAT gateway is being created and is not ready to process traffic ... deleting: The NAT
  gateway is in the process of being terminated ... deleted: The NAT gateway has been
  terminated"), https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-working-with.html
  ("Deleting a NAT gateway disassociates its Elastic IP address, but does not release the
  address from your account").

The rules that refuse a public NAT gateway or an internet-facing load balancer in a VPC without
an internet gateway, and the release of an address a NAT gateway still holds, are in rules.py
(ec2-nat-needs-internet-gateway, elbv2-internet-facing-needs-internet-gateway, ec2-address-in-use).
"""

from __future__ import annotations

import time
from typing import Any

from . import _gate, _switches


def _tag_match(resource: Any, filters: dict[str, list[str]]) -> bool:
    tags = {t["key"]: t["value"] for t in resource.get_tags()} if hasattr(resource, "get_tags") else {}
    for name, values in filters.items():
        if name.startswith("tag:") and tags.get(name[4:]) not in values:
            return False
        if name == "tag-key" and not any(k in tags for k in values):
            return False
    return True


# The state a gateway moves to when its time is up.
_NEXT = {"pending": "available", "deleting": "deleted"}
_nat_seconds = 1.0


def _gone(gateway: Any) -> None:
    """A deleted gateway lets go of its address and network interface."""
    backend = gateway.ec2_backend
    for address in list(getattr(backend, "addresses", [])):
        if address.eni is not None and address.eni.id == gateway._eni.id:
            backend.disassociate_address(address=address.public_ip)
    try:
        backend.delete_network_interface(gateway._eni.id)
    except Exception:
        pass  # already gone


def _get_state(gateway: Any) -> str:
    state, due = gateway.__dict__.get("_testbed_state", ("available", None))
    if due is not None and time.time() >= due:
        state, due = _NEXT[state], None
        gateway.__dict__["_testbed_state"] = (state, None)
        if state == "deleted":
            _gone(gateway)
    return state


def _set_state(gateway: Any, value: str) -> None:
    if value == "deleted" and "_testbed_state" in gateway.__dict__:
        current = _get_state(gateway)
        if current != "deleted":
            # DeleteNatGateway: on its way out first (a second delete keeps the first's time).
            if current != "deleting":
                gateway.__dict__["_testbed_state"] = ("deleting", time.time() + _nat_seconds)
            return
    gateway.__dict__["_testbed_state"] = (value, None)


def _nat_gateway_states() -> None:
    from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend

    NatGateway.state = property(_get_state, _set_state)  # type: ignore[assignment]
    create = NatGatewayBackend.create_nat_gateway

    def create_nat_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
        gateway = create(self, *args, **kwargs)
        call = _gate.current_call()
        if call is not None and call.action == "CreateNatGateway":
            gateway.__dict__["_testbed_state"] = ("pending", time.time() + _nat_seconds)
        return gateway

    NatGatewayBackend.create_nat_gateway = create_nat_gateway


def apply() -> None:
    global _nat_seconds
    _nat_seconds = _switches.number("CAPSULE_TESTBED_NAT_SECONDS", 1.0, high=3600.0)
    if _switches.enabled("ec2-nat-gateway-states"):
        _gate.install()
        _nat_gateway_states()

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
