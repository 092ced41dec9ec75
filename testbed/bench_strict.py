"""What the strict test bed costs per request (a benchmark, not a test).

    .testbed/venv/bin/python testbed/bench_strict.py            # against $AWS_ENDPOINT_URL
    .testbed/venv/bin/python testbed/bench_strict.py --inproc   # the gates alone, in this process

Over HTTP: requests/s for N ECS DescribeServices and N S3 PutObject (8 client threads);
run it once against a moto started with CAPSULE_TESTBED_OFF=all (and no consistency delay,
throttling or faults) and once with the defaults. In process: the time the gates
(request parsing, model validation, rules) take for the same requests, without moto or
HTTP (every gate: validation, rules, page-token check, consistency, throttling), which is
the overhead itself.
"""

import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

N = int(os.environ.get("BENCH_N", "2000"))


def over_http() -> None:
    import boto3
    from botocore.config import Config

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, max_pool_connections=16)

    def client(service: str):
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing", config=config)

    ecs, s3 = client("ecs"), client("s3")
    cluster = f"bench-{uuid.uuid4().hex[:8]}"
    ecs.create_cluster(clusterName=cluster)
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)

    def run(label: str, call) -> None:
        call(0)
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(call, range(N)))
        elapsed = time.perf_counter() - start
        print(f"{label}: {N} requests in {elapsed:.2f} s = {N / elapsed:.0f} requests/s")

    run("ECS DescribeServices", lambda i: ecs.describe_services(cluster=cluster, services=["nothing"]))
    run("S3 PutObject (1 KiB)", lambda i: s3.put_object(Bucket=bucket, Key=f"k/{i}", Body=b"x" * 1024))


def in_process() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import json

    import moto_patched  # noqa: F401  (imports moto)
    from moto.core.request import Request

    from patches import _gate, consistency, pagination, rules, throttling, validation

    from patches import _regex

    for module in (validation, rules, pagination, consistency, throttling):
        module.apply()
    _regex._category_classes()  # the Unicode tables the background warm-up builds at start
    body = json.dumps({"cluster": "c", "services": ["s"], "include": ["TAGS"]}).encode()
    ecs_headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeServices",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x",
    }
    s3_headers = {
        "Content-Type": "application/octet-stream",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x",
    }
    task_body = json.dumps({
        "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [{
            "name": "web", "image": "nginx:1.27", "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": f"K{i}", "value": "v"} for i in range(20)],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:url::"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/capsule/x", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}},
        }],
        "tags": [{"key": "capsule", "value": "shop"}],
    }).encode()
    cases = {
        "ECS DescribeServices": lambda: Request.from_primitives("POST", "http://127.0.0.1:5000/", ecs_headers, body),
        "ECS RegisterTaskDefinition": lambda: Request.from_primitives(
            "POST", "http://127.0.0.1:5000/", {**ecs_headers, "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition"}, task_body),
        "S3 PutObject": lambda: Request.from_primitives("PUT", "http://127.0.0.1:5000/bucket/k/1", s3_headers, b"x" * 1024),
    }
    services = {"ECS DescribeServices": "ecs", "ECS RegisterTaskDefinition": "ecs", "S3 PutObject": "s3"}
    for label, make in cases.items():
        for request in [make() for _ in range(50)]:  # warm up: checks compiled, models loaded
            assert _gate._gate(_gate.make_call(services[label], request)) is None
        requests = [make() for _ in range(N)]
        start = time.perf_counter()
        for request in requests:
            call = _gate.make_call(services[label], request)
            assert call is not None and call.action is not None, label
            assert _gate._gate(call) is None, label
        elapsed = time.perf_counter() - start
        print(f"{label}: gates {elapsed / N * 1e6:.0f} µs per request ({N} requests)")


if __name__ == "__main__":
    in_process() if "--inproc" in sys.argv else over_http()
