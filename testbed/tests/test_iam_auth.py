"""IAM enforcement as AWS evaluates it (patches/iam_auth.py). The module starts a test bed of
its own (moto_patched.py on a free port; `CAPSULE_TESTBED_IAM_SERVER` replaces the command,
e.g. `.testbed/venv/bin/moto_server` to check against plain moto), because turning
enforcement on (POST /moto-api/reset-auth) would lock every other user out of a shared one.
Each test fails on plain moto 5.2.5; each docstring says what plain moto does."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from test_strict_throttling import TESTBED, free_port


@pytest.fixture(scope="module")
def enforced():
    """(endpoint, make_user): IAM enforced; make_user(policy) gives a client factory for a new
    user holding only `policy` (users are made before enforcement starts)."""
    port = free_port()
    command = os.environ.get("CAPSULE_TESTBED_IAM_SERVER") or f"{sys.executable} {TESTBED / 'moto_patched.py'}"
    server = subprocess.Popen(
        [*command.split(), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "CAPSULE_TESTBED_CONSISTENCY_DELAY": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
    root = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam = boto3.client("iam", **root)
    policies = {
        "narrow": [{"Effect": "Allow", "Action": ["ecs:CreateCluster", "ecs:TagResource"], "Resource": "arn:aws:ecs:*:*:cluster/iam-auth-*"}],
        "reads": [{"Effect": "Allow", "Action": ["route53:List*", "cloudfront:List*"], "Resource": "*"}],
        "bucket": [{"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:ListBucket"], "Resource": "arn:aws:s3:::iam-auth-*"}],
    }
    keys = {}
    for name, statements in policies.items():
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        keys[name] = iam.create_access_key(UserName=name)["AccessKey"]
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request)

    def client(user, service):
        key = keys[user]
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    yield client
    server.terminate()
    server.wait(timeout=10)


def code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ok"


def test_a_statement_narrowed_to_arns_allows_what_it_names_and_nothing_else(enforced):
    """Plain moto: a 403 without a readable code (it matches the resource `*` of every ECS
    request literally against the ARN, and writes the refusal in XML)."""
    ecs = enforced("narrow", "ecs")
    assert code(lambda: ecs.create_cluster(clusterName="iam-auth-a", tags=[{"key": "k", "value": "v"}])) == "ok"
    assert code(lambda: ecs.create_cluster(clusterName="iam-auth-b")) == "ok"
    assert code(lambda: ecs.list_clusters()) == "AccessDeniedException"


def test_route53_and_cloudfront_reads_are_signed_and_refusals_readable(enforced):
    """Plain moto: SignatureDoesNotMatch for every Route 53 / CloudFront GET, and its errors
    have no code the SDK can read (`Error.Code` empty)."""
    r53 = enforced("reads", "route53")
    assert code(lambda: r53.list_hosted_zones()) == "ok"
    assert code(lambda: r53.create_hosted_zone(Name="iam-auth.example", CallerReference="x")) == "AccessDenied"
    assert code(lambda: enforced("reads", "cloudfront").list_distributions()) == "ok"


def test_s3_checks_the_permission_names_and_create_bucket_with_tags_needs_tag_resource(enforced):
    """Plain moto: HeadBucket needs `s3:HeadBucket` (AccessDenied here, AWS needs s3:ListBucket),
    and CreateBucket with tags succeeds without s3:TagResource."""
    s3 = enforced("bucket", "s3")
    s3.create_bucket(Bucket="iam-auth-plain")
    s3.head_bucket(Bucket="iam-auth-plain")
    tagged = {"Tags": [{"Key": "k", "Value": "v"}]}
    assert code(lambda: s3.create_bucket(Bucket="iam-auth-tagged", CreateBucketConfiguration=tagged)) == "AccessDenied"
