"""Checks of patches/throttling.py (Route 53's and ACM's published rates) and
patches/faults.py (fault injection).

The throttling checks run in fresh accounts of their own (the buckets are per account), so
they take nothing from other users of the test bed. Both fail against plain moto 5.2.5
(checked against `.testbed/venv/bin/moto_server -p 5399`: no request is ever throttled).
The fault-injection check starts a test bed of its own (testbed/moto_patched.py on a free
port, with CAPSULE_TESTBED_FAULTS=0.5): the only test here that starts a server. Against
plain moto (`moto_server` started the same way) no request fails, so it fails too.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from _aws import client, fresh_account
from botocore.exceptions import ClientError

TESTBED = Path(__file__).resolve().parents[1]


def outcomes(call, count: int) -> Counter:
    seen: Counter = Counter()
    for _ in range(count):
        try:
            call()
            seen["ok"] += 1
        except ClientError as error:
            seen[(error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"])] += 1
    return seen


def test_route53_throttles_past_its_burst_of_fifty():
    """Route 53: an account bucket of 50 requests, refilled at 10 per second; 80 requests in
    well under a second get "Throttling: Rate exceeded" (HTTP 400) for the rest."""
    route53 = client("route53", account=fresh_account())
    start = time.monotonic()
    seen = outcomes(lambda: route53.list_hosted_zones(), 80)
    elapsed = time.monotonic() - start
    allowed = 50 + int(elapsed * 10) + 1
    assert seen[("Throttling", 400)] >= 80 - allowed, seen
    assert seen["ok"] >= 50, seen
    time.sleep(0.3)
    route53.list_hosted_zones()  # refilled: 10 per second


def test_acm_list_certificates_is_throttled_at_five_per_second():
    """ACM ListCertificates: 5 requests per second; 20 in quick succession get
    ThrottlingException (HTTP 400) beyond that."""
    acm = client("acm", account=fresh_account())
    start = time.monotonic()
    seen = outcomes(lambda: acm.list_certificates(), 20)
    allowed = 5 + int((time.monotonic() - start) * 5) + 1
    assert seen[("ThrottlingException", 400)] >= 20 - allowed, seen
    assert seen["ok"] >= 5, seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def faulty_testbed():
    port = free_port()
    command = os.environ.get("CAPSULE_TESTBED_FAULTS_SERVER") or f"{sys.executable} {TESTBED / 'moto_patched.py'}"
    environment = {**os.environ, "CAPSULE_TESTBED_FAULTS": "0.5", "CAPSULE_TESTBED_FAULTS_SEED": "14", "CAPSULE_TESTBED_CONSISTENCY_DELAY": "0"}
    server = subprocess.Popen(
        [*command.split(), "-H", "127.0.0.1", "-p", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=1)
            break
        except Exception:
            assert server.poll() is None and time.time() < deadline, "the test bed did not start"
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


def test_faults_fail_requests_before_they_have_any_effect(faulty_testbed):
    """CAPSULE_TESTBED_FAULTS=0.5: about half the requests fail, with 503 ServiceUnavailable
    or the protocol's throttling error; a failed CreateLogGroup created nothing (a retry
    succeeds, not ResourceAlreadyExists), and /moto-api never fails."""
    logs = client("logs", endpoint=faulty_testbed)
    created, failures = [], Counter()
    for i in range(40):
        name = f"/faults/{i}"
        try:
            logs.create_log_group(logGroupName=name)
            created.append(name)
        except ClientError as error:
            failures[(error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"])] += 1
    assert set(failures) <= {("ServiceUnavailable", 503), ("ThrottlingException", 400)}, failures
    assert 8 <= sum(failures.values()) <= 32, failures
    for _ in range(20):
        urllib.request.urlopen(f"{faulty_testbed}/moto-api/config", timeout=5)
    listed = None
    for _ in range(50):
        try:
            listed = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/faults/")["logGroups"]}
            break
        except ClientError:
            continue
    assert listed == set(created)
    ec2, s3 = client("ec2", endpoint=faulty_testbed), client("s3", endpoint=faulty_testbed)
    codes = set()
    for call in [ec2.describe_vpcs, s3.list_buckets] * 30:
        try:
            call()
        except ClientError as error:
            codes.add((error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert codes <= {("ServiceUnavailable", 503), ("RequestLimitExceeded", 503), ("SlowDown", 503)} and codes, codes
