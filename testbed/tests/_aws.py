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


def client(service: str, account: str | None = None, validate: bool = True, endpoint: str | None = None):
    """A boto3 client of the test bed. `account`: act in that (moto) account instead of the
    default one, e.g. a fresh account of its own; `validate=False`: skip boto3's own
    parameter checks, so that an invalid request reaches the server."""
    made = boto3.client(
        service,
        endpoint_url=endpoint or ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # No retries: a retried 500 from the emulator only hides the first error.
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            parameter_validation=validate,
        ),
    )
    if account is not None:

        def in_account(request, **_):
            request.headers["x-moto-account-id"] = account

        made.meta.events.register("before-send", in_account)
    return made


def fresh_account() -> str:
    """A new account id: nothing in it yet (no service-linked roles, full throttling buckets)."""
    return str(uuid.uuid4().int % 10**12).zfill(12)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, int, str]:
    """AWS's error code, HTTP status and message of a refused call."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


def rejected(call) -> tuple[str, int, str]:
    """`call()`, which must be refused: its error code, HTTP status and message."""
    with pytest.raises(ClientError) as error:
        call()
    return error_of(error)


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
