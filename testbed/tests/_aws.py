"""Clients for the running test bed, shared by the tests in this folder."""

import os
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL")
if not ENDPOINT:
    pytest.exit('AWS_ENDPOINT_URL is not set; run: eval "$(scripts/testbed up)"', returncode=2)


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # No retries: a retried 500 from the emulator only hides the first error.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# What AWS answers for a resource that exists but has not propagated yet
# (patches/consistency.py).
NOT_YET_VISIBLE = ("ResourceNotFoundException", "InvalidGroup.NotFound", "NoSuchEntity", "CertificateNotFound")


def eventually(call, codes=NOT_YET_VISIBLE, timeout: float = 10.0):
    """`call()`, retried while AWS answers that what it names is not visible yet, as a
    client of an eventually consistent API must."""
    deadline = time.time() + timeout
    while True:
        try:
            return call()
        except ClientError as error:
            if error.response["Error"]["Code"] not in codes or time.time() > deadline:
                raise
            time.sleep(0.1)
