"""ACM: a certificate in use cannot be deleted.

Restores, against moto 5.2.5: DeleteCertificate of a certificate that a load balancer
listener (ELBv2, same account and region) or a CloudFront distribution (same account)
uses fails with ResourceInUseException (HTTP 400), "Certificate ARN is in use", and the
certificate stays. Moto deleted it, leaving the listener or distribution pointing at a
certificate that no longer exists, so a tool that deleted a certificate before moving its
users off it went unnoticed.

AWS: https://docs.aws.amazon.com/acm/latest/APIReference/API_DeleteCertificate.html
("You cannot delete an ACM certificate that is being used by another AWS service. To
delete a certificate that is in use, the certificate association must first be removed";
ResourceInUseException: "The certificate is in use by another AWS service in the
caller's account").
"""

from typing import Any

from moto.acm.models import AWSCertificateManagerBackend
from moto.cloudfront.models import cloudfront_backends
from moto.core.exceptions import AWSError
from moto.elbv2.models import elbv2_backends

from ._util import around


class ResourceInUse(AWSError):
    TYPE = "ResourceInUseException"


def _users(account_id: str, region: str, arn: str) -> list[str]:
    users = []
    if region in elbv2_backends[account_id]:
        for balancer in elbv2_backends[account_id][region].load_balancers.values():
            for listener in balancer.listeners.values():
                if arn in (listener.certificates or []):
                    users.append(balancer.arn)
    for partition in ("aws",):
        for dist in cloudfront_backends[account_id][partition].distributions.values():
            viewer = dist.distribution_config.ViewerCertificate
            if getattr(viewer, "acm_certificate_arn", "") == arn:
                users.append(dist.arn)
    return users


def apply() -> None:
    @around(AWSCertificateManagerBackend, "delete_certificate")
    def delete_certificate(original: Any, self: AWSCertificateManagerBackend, arn: str) -> Any:
        if arn in self._certificates and _users(self.account_id, self.region_name, arn):
            raise ResourceInUse(f"Certificate ARN {arn} is in use", status=400)
        return original(self, arn)
