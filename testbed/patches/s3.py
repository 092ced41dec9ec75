"""S3: DeleteObjects takes at most 1,000 keys per request.

Restores, against moto 5.2.5: a DeleteObjects request listing more than 1,000 objects
fails with MalformedXML (HTTP 400) and deletes nothing. Moto deleted any number, so a
client that forgot to split its deletes into batches passed every test.

AWS: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html ("The request
can contain a list of up to 1,000 keys that you want to delete"); a larger list is
rejected as not matching the schema: MalformedXML, "The XML you provided was not
well-formed or did not validate against our published schema".
"""

from typing import Any

import xmltodict
from moto.s3.exceptions import MalformedXML
from moto.s3.responses import S3Response

from ._util import around

MAX_KEYS_PER_DELETE = 1000


def apply() -> None:
    @around(S3Response, "_bucket_response_delete_keys")
    def delete_keys(original: Any, self: S3Response, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            objects = xmltodict.parse(self.body)["Delete"].get("Object", [])
        except Exception:
            objects = []  # a broken body: moto's own parsing reports it
        if isinstance(objects, list) and len(objects) > MAX_KEYS_PER_DELETE:
            raise MalformedXML()
        return original(self, bucket_name, *args, **kwargs)
