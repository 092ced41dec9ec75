"""S3: DeleteObjects limits, CreateBucket tags, GetBucketVersioning of a new bucket.

1. DeleteObjects takes at most 1,000 keys per request.

Restores, against moto 5.2.5: a DeleteObjects request listing more than 1,000 objects
fails with MalformedXML (HTTP 400) and deletes nothing. Moto deleted any number, so a
client that forgot to split its deletes into batches passed every test.

AWS: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html ("The request
can contain a list of up to 1,000 keys that you want to delete"); a larger list is
rejected as not matching the schema: MalformedXML, "The XML you provided was not
well-formed or did not validate against our published schema".

2. CreateBucket applies `CreateBucketConfiguration/Tags` to the new bucket. Moto ignored
them, so a bucket made with tags came out untagged. AWS:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html ("Tags: An array of
tags that you can apply to the bucket that you're creating"). Tagging at creation is how
capsule never leaves an untagged bucket behind.

3. GetBucketVersioning of a bucket that never had versioning answers an empty
`<VersioningConfiguration/>` element. Moto answered `<GetBucketVersioningResponse/>`, a
root element the AWS SDKs do not accept ("unhandled error" in the Rust SDK). AWS:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html ("If the
versioning state has never been set on a bucket, then no versioning state is returned"),
with `VersioningConfiguration` as the response's root element.
"""

from typing import Any

import xmltodict
from moto.s3.exceptions import MalformedXML
from moto.s3.responses import S3Response

from ._util import around

MAX_KEYS_PER_DELETE = 1000


EMPTY_VERSIONING = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
)


def _create_tags(body: bytes) -> dict[str, str]:
    try:
        config = xmltodict.parse(body)["CreateBucketConfiguration"]
    except Exception:
        return {}
    tags = ((config or {}).get("Tags") or {}).get("Tag", [])
    if isinstance(tags, dict):
        tags = [tags]
    return {t["Key"]: t.get("Value") or "" for t in tags if isinstance(t, dict) and "Key" in t}


def apply() -> None:
    @around(S3Response, "get_bucket_versioning")
    def get_bucket_versioning(original: Any, self: S3Response) -> Any:
        if self.backend.get_bucket_versioning(self.bucket_name) is None:
            return 200, {}, EMPTY_VERSIONING
        return original(self)

    @around(S3Response, "_bucket_response_put")
    def bucket_put(original: Any, self: S3Response, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        is_create = not querystring
        existed = is_create and bucket_name in self.backend.buckets
        result = original(self, request, bucket_name, querystring)
        if is_create and not existed and self.body:
            tags = _create_tags(self.body)
            if tags:
                self.backend.put_bucket_tagging(bucket_name, tags)
        return result

    @around(S3Response, "_bucket_response_delete_keys")
    def delete_keys(original: Any, self: S3Response, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            objects = xmltodict.parse(self.body)["Delete"].get("Object", [])
        except Exception:
            objects = []  # a broken body: moto's own parsing reports it
        if isinstance(objects, list) and len(objects) > MAX_KEYS_PER_DELETE:
            raise MalformedXML()
        return original(self, bucket_name, *args, **kwargs)
