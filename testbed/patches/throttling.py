"""Throttling at AWS's published request rates, where they are low enough to matter.

Restores, against moto 5.2.5 (which answers any number of requests): requests beyond the
documented rate are answered with the service's throttling error before moto handles them.
Token buckets, as AWS describes its throttling: a bucket holds at most its capacity (the
burst) and refills at its rate per second; each request takes one token, and a request
that finds a bucket empty is throttled. Buckets are per account (and per region for ACM).

- Route 53: one bucket for all requests of the account (capacity 50, 10 per second) and one
  per operation (50 / 10, except CreateHostedZone 40 / 2, DeleteHostedZone 40 / 5,
  CreateHealthCheck 50 / 0.5, DeleteHealthCheck 15 / 3, AssociateVPCWithHostedZone 20 / 5,
  DisassociateVPCFromHostedZone 10 / 5, GetHealthCheckStatus and
  GetHealthCheckLastFailureReason 4 / 1); a throttled request gets HTTP 400, `Throttling`,
  "Rate exceeded". https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html
  (since 2026-07-30; before, "five requests per second per AWS account",
  DNSLimitations.html). Not modelled: the change-throughput bucket (its sizes are per
  account and not published as defaults) and PriorRequestNotComplete (a change batch that
  arrives while Route 53 still processes the previous one for the zone; moto applies a
  batch at once, so there is no such window).
- ACM: per operation, requests per second (capacity = one second's worth):
  AddTagsToCertificate 5, DeleteCertificate 10, DescribeCertificate 10, ExportCertificate 5,
  ImportCertificate 1, ListCertificates 5, ListTagsForCertificate 10,
  RemoveTagsFromCertificate 5, RequestCertificate 5, ResendValidationEmail 1; HTTP 400
  `ThrottlingException`. https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html
  ("API rate quotas").

Other services publish no rates this low for the calls capsule makes (ECS, EC2, ELBv2, IAM
throttle in the tens to thousands per second, or do not publish their rates).

Switch: CAPSULE_TESTBED_THROTTLE=0.
"""

from __future__ import annotations

import threading
import time

from . import _gate, _switches
from ._gate import Call, Reject

ROUTE53_ACCOUNT = (50.0, 10.0)
ROUTE53_DEFAULT = (50.0, 10.0)
ROUTE53_OPERATIONS = {
    "AssociateVPCWithHostedZone": (20.0, 5.0),
    "ChangeCidrCollection": (40.0, 5.0),
    "CreateCidrCollection": (40.0, 5.0),
    "CreateHealthCheck": (50.0, 0.5),
    "CreateHostedZone": (40.0, 2.0),
    "CreateReusableDelegationSet": (40.0, 2.0),
    "CreateTrafficPolicyInstance": (1.0, 1.0),
    "DeleteCidrCollection": (40.0, 5.0),
    "DeleteHealthCheck": (15.0, 3.0),
    "DeleteHostedZone": (40.0, 5.0),
    "DeleteReusableDelegationSet": (40.0, 5.0),
    "DeleteTrafficPolicyInstance": (1.0, 1.0),
    "DisassociateVPCFromHostedZone": (10.0, 5.0),
    "GetHealthCheckLastFailureReason": (4.0, 1.0),
    "GetHealthCheckStatus": (4.0, 1.0),
}
ACM_RATES = {
    "AddTagsToCertificate": 5.0,
    "DeleteCertificate": 10.0,
    "DescribeCertificate": 10.0,
    "ExportCertificate": 5.0,
    "ImportCertificate": 1.0,
    "ListCertificates": 5.0,
    "ListTagsForCertificate": 10.0,
    "RemoveTagsFromCertificate": 5.0,
    "RequestCertificate": 5.0,
    "ResendValidationEmail": 1.0,
}


class Bucket:
    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.at = time.monotonic()

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now


_buckets: dict[tuple[str, ...], Bucket] = {}
_lock = threading.Lock()


def _take(*buckets: tuple[tuple[str, ...], tuple[float, float]]) -> bool:
    """Take one token from each bucket, or none if any is empty."""
    now = time.monotonic()
    with _lock:
        found = []
        for key, (capacity, rate) in buckets:
            bucket = _buckets.get(key)
            if bucket is None:
                bucket = _buckets[key] = Bucket(capacity, rate)
            bucket.refill(now)
            found.append(bucket)
        if any(bucket.tokens < 1.0 for bucket in found):
            return False
        for bucket in found:
            bucket.tokens -= 1.0
        return True


def _throttle(call: Call) -> None:
    if call.operation is None:
        return
    action = call.operation.name
    if call.botocore_name == "route53":
        account = call.account_id
        if not _take(
            (("route53", account), ROUTE53_ACCOUNT),
            (("route53", account, action), ROUTE53_OPERATIONS.get(action, ROUTE53_DEFAULT)),
        ):
            raise Reject("Throttling", "Rate exceeded")
    elif call.botocore_name == "acm" and action in ACM_RATES:
        rate = ACM_RATES[action]
        if not _take((("acm", call.account_id, call.region, action), (rate, rate))):
            raise Reject("ThrottlingException", "Rate exceeded")


def apply() -> None:
    if not _switches.flag("CAPSULE_TESTBED_THROTTLE", True) or not _switches.enabled("throttling"):
        return
    _gate.install()
    _gate.register(20, "throttling", _throttle)
