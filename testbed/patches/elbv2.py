"""ELBv2: one listener per port and load balancer.

Restores, against moto 5.2.5: CreateListener on a port the load balancer already listens
on, and ModifyListener moving a listener to a port another listener of the load balancer
uses, fail with DuplicateListener (HTTP 400), "A listener with the specified port already
exists." Moto's own check compared the port with the listeners' ARNs, so it never matched
and a load balancer could get two listeners on one port.

AWS: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html
and API_ModifyListener.html ("DuplicateListener: A listener with the specified port
already exists", HTTP 400).
"""

from typing import Any

from moto.elbv2.exceptions import DuplicateListenerError
from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

from ._util import around


def _port_taken(balancer: FakeLoadBalancer | None, port: Any, except_arn: str | None = None) -> bool:
    if balancer is None or port is None:
        return False
    return any(str(l.port) == str(port) and l.arn != except_arn for l in balancer.listeners.values())


def apply() -> None:
    @around(ELBv2Backend, "create_listener")
    def create_listener(original: Any, self: ELBv2Backend, load_balancer_arn: str, *args: Any, **kwargs: Any) -> Any:
        port = kwargs.get("port", args[1] if len(args) > 1 else None)
        if _port_taken(self.load_balancers.get(load_balancer_arn), port):
            raise DuplicateListenerError()
        return original(self, load_balancer_arn, *args, **kwargs)

    @around(ELBv2Backend, "modify_listener")
    def modify_listener(original: Any, self: ELBv2Backend, arn: str, port: Any = None, *args: Any, **kwargs: Any) -> Any:
        for balancer in self.load_balancers.values():
            if arn in balancer.listeners and _port_taken(balancer, port, except_arn=arn):
                raise DuplicateListenerError()
        return original(self, arn, port, *args, **kwargs)
