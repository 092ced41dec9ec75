"""IAM authorization as AWS evaluates it, where moto's differs. moto enforces identity
policies once `INITIAL_NO_AUTH_ACTION_COUNT` requests have passed (or after POST
/moto-api/reset-auth); capsule's IAM-enforced suite test (tests/policy.rs) relies on it.

- **Resources moto does not know.** moto passes the resource `*` for every service but IAM
  roles, STS, SQS and S3, and matches it literally against a statement's `Resource`, so every
  statement narrowed to ARNs denies what AWS, evaluating the request's real ARN, allows.
  Here an unknown resource matches any `Resource`: actions are enforced for every service,
  resources where moto knows them (IAM roles, S3 buckets and objects).
- **S3 permission names.** AWS checks the permission an operation needs (HeadBucket and
  ListObjectsV2 need `s3:ListBucket`, multipart uploads `s3:PutObject`, GetBucketEncryption
  `s3:GetEncryptionConfiguration` ...; AmazonS3/latest/API, "Required permissions" of each
  operation, and userguide/using-with-s3-policy-actions.html); moto checks made-up names
  (`s3:HeadBucket`, `s3:ListObjectsV2`, and `s3:CreateBucket` for PutBucketEncryption).
- **Permissions a call needs besides its own** (moto: none): a create that carries tags also
  needs the service's tagging permission (IAM id_tags_roles.html, ECS
  supported-iam-actions-tagging.html, ELB tag-on-create, S3 CreateBucket with tags
  `s3:TagResource`, Secrets Manager, CloudWatch Logs, ECR, RDS, ElastiCache, EventBridge, ACM,
  Application Auto Scaling); CloudFront CreateDistributionWithTags needs
  `cloudfront:CreateDistribution` and `cloudfront:TagResource`; a role handed to a service
  needs `iam:PassRole` on that role (ECS RegisterTaskDefinition, EventBridge PutTargets;
  IAM id_roles_use_passrole.html).

Two faults of moto's enforcement itself, which no client could work with:
- **Signatures.** moto recomputes each request's signature from what it parsed, not from the
  bytes sent: a form body is re-encoded (IAM CreateRole's policy document, RDS and EC2 creates
  then differ), and a GET without a body is signed with its headers as a form body (every
  Route 53 and CloudFront read): all failed with SignatureDoesNotMatch. The test bed does not
  check signatures (the SDKs sign correctly; that is not what these tests are about); an
  unknown access key still fails with InvalidClientTokenId.
- **Error shapes.** moto writes its auth errors (AccessDenied, InvalidClientTokenId,
  SignatureDoesNotMatch) in one XML shape for every service, which the SDKs of json, query
  and Route 53 / CloudFront services cannot read ("unhandled error"). Here they are written in
  the service's protocol, as the gates write theirs (S3's own shape is kept).
"""

from __future__ import annotations

from typing import Any

from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase, S3IAMRequest
from werkzeug.exceptions import HTTPException

from ._gate import Reject, current_call, render
from ._util import around

S3_PERMISSIONS = {
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListBuckets": "ListAllMyBuckets",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "HeadObject": "GetObject",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeleteBucketTagging": "PutBucketTagging",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
}


def _has(key: str) -> Any:
    return lambda p: bool(p.get(key))


# (botocore service, operation) -> (does this request tag?, the permission that takes).
TAG_ON_CREATE = {
    ("iam", "CreateRole"): (_has("Tags"), "iam:TagRole"),
    ("secretsmanager", "CreateSecret"): (_has("Tags"), "secretsmanager:TagResource"),
    ("ecs", "CreateCluster"): (_has("tags"), "ecs:TagResource"),
    ("ecs", "CreateService"): (_has("tags"), "ecs:TagResource"),
    ("ecs", "RegisterTaskDefinition"): (_has("tags"), "ecs:TagResource"),
    ("ec2", "CreateSecurityGroup"): (_has("TagSpecifications"), "ec2:CreateTags"),
    ("logs", "CreateLogGroup"): (_has("tags"), "logs:TagResource"),
    ("ecr", "CreateRepository"): (_has("tags"), "ecr:TagResource"),
    ("events", "PutRule"): (_has("Tags"), "events:TagResource"),
    ("acm", "RequestCertificate"): (_has("Tags"), "acm:AddTagsToCertificate"),
    ("application-autoscaling", "RegisterScalableTarget"): (_has("Tags"), "application-autoscaling:TagResource"),
    ("s3", "CreateBucket"): (lambda p: bool((p.get("CreateBucketConfiguration") or {}).get("Tags")), "s3:TagResource"),
    ("cloudfront", "CreateDistributionWithTags"): (lambda p: True, "cloudfront:TagResource"),
}
for _op in ("CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"):
    TAG_ON_CREATE[("elbv2", _op)] = (_has("Tags"), "elasticloadbalancing:AddTags")
for _op in ("CreateDBInstance", "CreateDBSubnetGroup", "CreateDBSnapshot", "RestoreDBInstanceFromDBSnapshot"):
    TAG_ON_CREATE[("rds", _op)] = (_has("Tags"), "rds:AddTagsToResource")
for _op in ("CreateReplicationGroup", "CreateCacheCluster", "CreateCacheSubnetGroup"):
    TAG_ON_CREATE[("elasticache", _op)] = (_has("Tags"), "elasticache:AddTagsToResource")

RENAMED = {("cloudfront", "CreateDistributionWithTags"): "cloudfront:CreateDistribution"}


def _passed_roles(service: str, action: str, params: dict[str, Any]) -> list[str]:
    if (service, action) == ("ecs", "RegisterTaskDefinition"):
        return [params[k] for k in ("executionRoleArn", "taskRoleArn") if params.get(k)]
    if (service, action) == ("events", "PutTargets"):
        return [t["RoleArn"] for t in params.get("Targets") or [] if t.get("RoleArn")]
    return []


def required(service: str, action: str | None, params: dict[str, Any] | None, moto_action: str) -> list[tuple[str, str | None]]:
    """The (permission, resource or None for the request's own) AWS checks for one request."""
    if action is None:
        return [(moto_action, None)]
    params = params or {}
    if service == "s3":
        name = S3_PERMISSIONS.get(action, action)
        if action in ("DeleteObject", "GetObject") and params.get("VersionId"):
            name += "Version"
        out: list[tuple[str, str | None]] = [(f"s3:{name}", None)]
    else:
        out = [(RENAMED.get((service, action), moto_action), None)]
    tags = TAG_ON_CREATE.get((service, action))
    if tags is not None and tags[0](params):
        out.append((tags[1], None))
    out.extend(("iam:PassRole", arn) for arn in _passed_roles(service, action, params))
    return out


def apply() -> None:
    @around(IAMRequestBase, "check_action_permitted")
    def check_action_permitted(original: Any, self: IAMRequestBase, resource: str) -> None:
        call = current_call()
        if call is None:
            return original(self, resource)
        moto_action = self._action
        try:
            for permission, on in required(call.botocore_name, call.action, call.params, moto_action):
                self._action = permission
                original(self, on or resource)
        finally:
            self._action = moto_action

    @around(IAMPolicyStatement, "_check_element_matches")
    def check_element_matches(original: Any, self: IAMPolicyStatement, element: str, value: str) -> bool:
        if element == "Resource" and value == "*":
            return True
        return original(self, element, value)

    @around(IAMRequestBase, "check_signature")
    def check_signature(original: Any, self: IAMRequestBase) -> None:
        return None

    @around(ActionAuthenticatorMixin, "_authenticate_and_authorize_action")
    def authenticate(original: Any, self: Any, iam_request_cls: type, resource: str = "*") -> None:
        try:
            original(self, iam_request_cls, resource)
        except HTTPException as error:
            call = current_call()
            code = getattr(error, "error_type", None)
            if call is None or code is None or issubclass(iam_request_cls, S3IAMRequest):
                raise
            if code == "AccessDenied" and call.protocol in ("json", "rest-json"):
                code = "AccessDeniedException"  # as the json services name it
            status, _, body = render(call, Reject(code, getattr(error, "message", ""), status=error.code or 403))
            raise _Rendered(status, body) from error


class _Rendered(HTTPException):
    """An auth error already written in the service's shape (moto's call_action answers an
    HTTPException with its description and code)."""

    def __init__(self, status: int, body: str):
        super().__init__(description=body)
        self.code = status
