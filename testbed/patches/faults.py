"""Fault injection: a share of requests fails as AWS fails under load, before moto sees them.

CAPSULE_TESTBED_FAULTS=<rate from 0 to 1> (default 0: off) makes that share of AWS requests
(chosen at random; CAPSULE_TESTBED_FAULTS_SEED=<integer> seeds the choice) answer, half of
them each:

- HTTP 503 `ServiceUnavailable` ("Service is unavailable. Try again later."), a server
  error every SDK retries;
- a throttling error, in the service's protocol and with the code its SDKs classify as
  throttling (and so retry): json and rest-json `ThrottlingException` (400), query and
  Route 53 / CloudFront `Throttling` (400), EC2 `RequestLimitExceeded` (503), S3 `SlowDown`
  (503).

The fault is answered before moto handles the request, so nothing is created or changed:
a client that retries converges on the same end state as without faults. Requests to moto's
own API (/moto-api) never fail.

AWS: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html (what the
SDKs retry: throttling errors, transient errors and HTTP 500/502/503/504),
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html
(RequestLimitExceeded), https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
(SlowDown, 503; ServiceUnavailable, 503).
"""

from __future__ import annotations

import random
import threading

from . import _gate, _switches
from ._gate import Call, Reject

_rate = 0.0
_random = random.Random()
_lock = threading.Lock()


def throttling_error(call: Call) -> Reject:
    protocol = call.protocol or (call.model.protocol if call.model is not None else "json")
    if protocol == "ec2":
        return Reject("RequestLimitExceeded", "Request limit exceeded.", status=503)
    if call.botocore_name == "s3":
        return Reject("SlowDown", "Please reduce your request rate.", status=503)
    if protocol in ("json", "rest-json"):
        return Reject("ThrottlingException", "Rate exceeded")
    return Reject("Throttling", "Rate exceeded")


def _inject(call: Call) -> None:
    with _lock:
        failing = _random.random() < _rate
        throttled = _random.random() < 0.5
    if not failing:
        return
    if throttled:
        raise throttling_error(call)
    raise Reject("ServiceUnavailable", "Service is unavailable. Try again later.", status=503, sender=False)


def apply() -> None:
    global _rate
    _rate = _switches.number("CAPSULE_TESTBED_FAULTS", 0.0, high=1.0)
    seed = _switches.number("CAPSULE_TESTBED_FAULTS_SEED", -1.0, low=-1.0, high=2**63)
    if seed >= 0:
        _random.seed(int(seed))
    if _rate <= 0:
        return
    _gate.install()
    _gate.register(10, "faults", _inject)
