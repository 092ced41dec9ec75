"""CloudFront: origins, versions (ETags), deletion and invalidations as AWS documents them.

Restores, against moto 5.2.5:

- An origin keeps `OriginAccessControlId` and `S3OriginConfig` as they were sent, and
  GetDistribution / GetDistributionConfig return them (moto dropped both, so a config
  read back never equalled the config written). An origin without an origin access
  control reads back `OriginAccessControlId: ""`, as on AWS.
- Every UpdateDistribution gives the distribution a new ETag, and UpdateDistribution /
  DeleteDistribution with an `IfMatch` other than the current ETag fail with
  `PreconditionFailed` (HTTP 412). Moto kept one ETag forever and accepted any IfMatch.
- DeleteDistribution of a distribution that is still enabled fails with
  `DistributionNotDisabled` (HTTP 409); moto deleted it.
- An invalidation's status is `Completed` (moto: `COMPLETED`, which the SDKs'
  invalidation-completed waiter never accepts).

AWS: https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Origin.html,
API_UpdateDistribution.html ("IfMatch: the value of the ETag header that you received when
retrieving the distribution's configuration"; errors PreconditionFailed 412),
API_DeleteDistribution.html ("you must first disable the distribution"; errors
DistributionNotDisabled 409, PreconditionFailed 412), API_Invalidation.html
(Status: InProgress | Completed).
"""

from typing import Any

from moto.cloudfront.exceptions import CloudFrontException
from moto.cloudfront.models import CloudFrontBackend, Invalidation, Origin, random_id

from ._util import around


class DistributionNotDisabled(CloudFrontException):
    def __init__(self) -> None:
        super().__init__(
            "DistributionNotDisabled",
            "The distribution you are trying to delete has not been disabled.",
        )


class PreconditionFailed(CloudFrontException):
    def __init__(self) -> None:
        super().__init__(
            "PreconditionFailed",
            "The request failed because it didn't meet the preconditions "
            "in one or more request-header fields.",
        )


def _is_enabled(value: Any) -> bool:
    return str(value).lower() == "true"


def apply() -> None:
    @around(Origin, "__init__")
    def origin_init(original: Any, self: Origin, origin: dict[str, Any]) -> None:
        original(self, origin)
        # The response serializer reads these attribute names from the Origin shape.
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
        if "S3OriginConfig" in origin:
            self.s3_origin_config = dict(origin["S3OriginConfig"])

    @around(CloudFrontBackend, "update_distribution")
    def update_distribution(
        original: Any, self: CloudFrontBackend, dist_config: dict[str, Any], _id: str, if_match: Any
    ) -> Any:
        dist = self.distributions.get(_id)
        if dist is not None and if_match and if_match != dist.etag:
            raise PreconditionFailed()
        dist, location, _ = original(self, dist_config, _id, if_match)
        dist.etag = random_id()
        return dist, location, dist.etag

    @around(CloudFrontBackend, "delete_distribution")
    def delete_distribution(
        original: Any, self: CloudFrontBackend, distribution_id: str, if_match: Any
    ) -> None:
        dist = self.distributions.get(distribution_id)
        if dist is not None and if_match:
            if if_match != dist.etag:
                raise PreconditionFailed()
            if _is_enabled(dist.distribution_config.Enabled):
                raise DistributionNotDisabled()
        return original(self, distribution_id, if_match)

    @around(Invalidation, "__init__")
    def invalidation_init(original: Any, self: Invalidation, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.status = "Completed"
