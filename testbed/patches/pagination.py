"""List and Describe calls answer at most AWS's default page, with a continuation token.

Restores, against moto 5.2.5: the calls below returned every item in one answer, whatever
their number, so a client that never follows `nextToken` / `Marker` passed every test.
Now, without a page size they answer at most AWS's default page, and with one at most that
many; the rest follows with the output token (opaque, and accepted back as the input token;
a token the test bed did not issue fails with the service's invalid-parameter error).
Items are listed in moto's order, which is stable between calls.

| Service | Operation | Default page (AWS) |
| --- | --- | --- |
| ECS | ListServices | 10 (API_ListServices.html: "If this parameter isn't used, then ListServices returns up to 10 results") |
| ECS | ListClusters, ListTasks, ListTaskDefinitions, ListTaskDefinitionFamilies, ListContainerInstances | 100 (API_ListClusters.html ... "returns up to 100 results") |
| ECR | DescribeRepositories | 100 (API_DescribeRepositories.html: "returns up to 100 results") |
| ELBv2 | DescribeTargetGroups, DescribeListeners | 400 (PageSize "a number from 1 to 400", the largest page; the default is not documented) |
| ACM | ListCertificates | 1000 (MaxItems at most 1000; https://docs.aws.amazon.com/acm/latest/userguide/gs-acm-list.html: the CLI lists "up to 1000") |
| RDS | DescribeDBSubnetGroups, DescribeDBSnapshots | 100 (MaxRecords "Default: 100") |
| IAM | ListRolePolicies | 100 (MaxItems: "If you do not include this parameter, the number of items defaults to 100") |
| Route 53 | ListHostedZonesByName | 100 (MaxItems: "If you don't specify a value for maxitems, Route 53 returns up to 100 items"); see below |

ListHostedZonesByName also lists as AWS does: every zone from DNSName (and HostedZoneId) on,
in the order of their names with the labels reversed (moto returned only the zones named
exactly DNSName), with IsTruncated, NextDNSName and NextHostedZoneId. AWS:
https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZonesByName.html.
ListHostedZones (100 a page, as moto did) takes AWS's markers: the id of the next page's
first zone, where moto answered a base64 token longer than the model's 64 characters.

Already paged as AWS does by moto itself (checked, default page no larger than AWS's):
IAM ListRoles / ListAttachedRolePolicies / ListRoleTags (100), CloudWatch Logs
DescribeLogGroups (50), Secrets Manager ListSecrets (100), EventBridge ListRules and
ListTargetsByRule (50), Route 53 ListResourceRecordSets (300),
CloudFront ListDistributions and ListOriginAccessControls (100), RDS DescribeDBInstances
and the ElastiCache Describe calls (100), ELBv2 DescribeLoadBalancers and DescribeRules
(50), Application Auto Scaling (50, patches/applicationautoscaling.py), S3 ListObjectsV2
and ListObjectVersions (1000). EC2 Describe calls without MaxResults return everything,
as on AWS.

Switch: CAPSULE_TESTBED_PAGINATION=0 (or CAPSULE_TESTBED_OFF=pagination).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_pagination_model
from moto.route53.models import Route53Backend
from moto.route53.responses import Route53

from . import _gate, _switches
from ._gate import Call, Reject
from ._util import around

DEFAULT_PAGES: dict[tuple[str, str], int] = {
    ("ecs", "ListServices"): 10,
    ("ecs", "ListClusters"): 100,
    ("ecs", "ListTasks"): 100,
    ("ecs", "ListTaskDefinitions"): 100,
    ("ecs", "ListTaskDefinitionFamilies"): 100,
    ("ecs", "ListContainerInstances"): 100,
    ("ecr", "DescribeRepositories"): 100,
    ("elbv2", "DescribeTargetGroups"): 400,
    ("elbv2", "DescribeListeners"): 400,
    ("acm", "ListCertificates"): 1000,
    ("rds", "DescribeDBSubnetGroups"): 100,
    ("rds", "DescribeDBSnapshots"): 100,
    ("iam", "ListRolePolicies"): 100,
}

# The error a service answers for a token it did not issue.
_BAD_TOKEN = {
    "ecs": "InvalidParameterException",
    "ecr": "InvalidParameterException",
    "acm": "InvalidArgsException",
    "elbv2": "ValidationError",
    "rds": "InvalidParameterValue",
    "iam": "ValidationError",
}

_TOKEN_PREFIX = "tbp1."


def _config(service: str, operation: str) -> dict[str, Any] | None:
    try:
        return get_pagination_model(service).get(operation)
    except Exception:
        return None


def _fingerprint(params: dict[str, Any], config: dict[str, Any]) -> str:
    """What a token belongs to: the request without its token and page size."""
    rest = {k: v for k, v in params.items() if k not in (config["input_token"], config.get("limit_key"))}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}).encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: str, fingerprint: str) -> int | None:
    if not token.startswith(_TOKEN_PREFIX):
        return None
    body = token[len(_TOKEN_PREFIX) :]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        offset = int(data["o"])
    except Exception:
        return None
    if data.get("f") != fingerprint or offset < 0:
        return None
    return offset


def _check_token(call: Call) -> None:
    """Before moto: a token the test bed did not issue (or issued for another listing) is refused."""
    if call.operation is None:
        return
    key = (call.botocore_name, call.operation.name)
    if key not in DEFAULT_PAGES or call.params is None:
        return
    config = _config(*key)
    if config is None:
        return
    token = call.params.get(config["input_token"])
    if token and _offset(token, _fingerprint(call.params, config)) is None:
        raise Reject(_BAD_TOKEN.get(call.botocore_name, "ValidationException"), f"Invalid {config['input_token']}: {token}")


def _paginate(response: BaseResponse, call: Call, result: dict[str, Any], page: int) -> None:
    config = _config(call.botocore_name, call.operation.name)
    if config is None or call.params is None:
        return
    result_key = config["result_key"]
    if isinstance(result_key, list) or result_key not in result:
        return
    items = result[result_key]
    if not isinstance(items, list):
        items = list(items)
    fingerprint = _fingerprint(call.params, config)
    token = call.params.get(config["input_token"])
    start = _offset(token, fingerprint) or 0 if token else 0
    limit = call.params.get(config.get("limit_key")) if config.get("limit_key") else None
    size = int(limit) if isinstance(limit, (int, str)) and str(limit).isdigit() and int(limit) > 0 else page
    result[result_key] = items[start : start + size]
    more = start + size < len(items)
    result[config["output_token"]] = _token(start + size, fingerprint) if more else None
    if config.get("more_results"):
        result[config["more_results"]] = more


def _zone_key(name: str) -> str:
    labels = name.lower().rstrip(".").split(".")
    return ".".join(reversed(labels))


def list_hosted_zones_by_name(self: Route53) -> ActionResult:
    """ListHostedZonesByName as AWS pages it (see the module docstring)."""
    dns_name = self._get_param("DNSName")
    zone_id = self._get_param("HostedZoneId")
    if zone_id:
        zone_id = zone_id.split("/")[-1]
    max_items = self._get_param("MaxItems")
    size = int(max_items) if max_items and str(max_items).isdigit() and int(max_items) > 0 else 100
    backend: Route53Backend = self.backend
    def plain_id(zone: Any) -> str:
        return zone.id.split("/")[-1]

    zones = sorted(backend.zones.values(), key=lambda z: (_zone_key(z.name), plain_id(z)))
    start = 0
    if dns_name:
        wanted = (_zone_key(dns_name), zone_id or "")
        start = next((i for i, z in enumerate(zones) if (_zone_key(z.name), plain_id(z) if zone_id else "") >= wanted), len(zones))
    page = zones[start : start + size]
    after = zones[start + size] if start + size < len(zones) else None
    result = {
        "HostedZones": page,
        "DNSName": (dns_name if dns_name.endswith(".") else dns_name + ".") if dns_name else None,
        "HostedZoneId": zone_id,
        "IsTruncated": after is not None,
        "NextDNSName": after.name if after is not None else None,
        "NextHostedZoneId": plain_id(after) if after is not None else None,
        "MaxItems": str(size),
    }
    return ActionResult(result)


def list_hosted_zones(self: Route53) -> ActionResult:
    """ListHostedZones with AWS's markers: `NextMarker` is the id of the first zone of the
    next page and `Marker` starts the page there (moto's own marker is a base64 token longer
    than the 64 characters the model allows, so the strict validation refused it back).
    AWS: https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZones.html."""
    max_items = self._get_param("MaxItems")
    size = int(max_items) if max_items and str(max_items).isdigit() and int(max_items) > 0 else 100
    marker = self._get_param("Marker")
    zones = list(self.backend.zones.values())
    ids = [z.id.split("/")[-1] for z in zones]
    start = 0
    if marker:
        plain = marker.split("/")[-1]
        if plain not in ids:
            raise _bad_marker(marker)
        start = ids.index(plain)
    page = zones[start : start + size]
    more = start + size < len(zones)
    result = {
        "HostedZones": page,
        "Marker": marker or "",
        "IsTruncated": more,
        "NextMarker": ids[start + size] if more else None,
        "MaxItems": str(size),
    }
    return ActionResult(result)


def _bad_marker(marker: str) -> Exception:
    from moto.route53.exceptions import InvalidInput

    return InvalidInput(f"Invalid marker: {marker}")


def apply() -> None:
    if not _switches.enabled("pagination"):
        return
    _gate.install()
    _gate.register(45, "pagination", _check_token)

    @around(BaseResponse, "serialized")
    def serialized(original: Any, self: BaseResponse, action_result: ActionResult) -> Any:
        if type(action_result) is ActionResult and isinstance(action_result.result, dict):
            call = _gate.current_call()
            if call is not None and call.operation is not None:
                page = DEFAULT_PAGES.get((call.botocore_name, call.operation.name))
                if page is not None:
                    _paginate(self, call, action_result.result, page)
        return original(self, action_result)

    Route53.list_hosted_zones_by_name = list_hosted_zones_by_name  # type: ignore[method-assign]
    Route53.list_hosted_zones = list_hosted_zones  # type: ignore[method-assign]
