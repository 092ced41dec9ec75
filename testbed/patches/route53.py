"""Route 53: a change batch is validated against the records that exist, as a whole.

Restores, against moto 5.2.5:

- CREATE of a record set whose name and type (and SetIdentifier) already exist fails
  with InvalidChangeBatch (HTTP 400), "Tried to create resource record set
  [name='www.example.com.', type='A'] but it already exists", and nothing in the batch is
  applied. Moto only refused a CREATE identical to an earlier CREATE in its change journal
  (and then even when that record had been deleted since), so most duplicate CREATEs
  succeeded and left two record sets with one name and type.
- DELETE of a record set that does not exist (or deleting one twice in a batch) fails with
  InvalidChangeBatch, "Tried to delete resource record set [name=..., type=...] but it was
  not found"; moto accepted it whenever its journal had ever seen the record.

The batch is checked in order, so the usual DELETE-then-CREATE of one name and type in a
single batch still succeeds.

- A change is PENDING before it is INSYNC (`route53-change-status`;
  CAPSULE_TESTBED_ROUTE53_INSYNC_SECONDS, default 1): ChangeResourceRecordSets answers a
  change id of its own with Status PENDING, and GetChange of that id answers PENDING until
  that time has passed, then INSYNC. Moto answered one fixed id, always INSYNC.
  AWS: API_ChangeResourceRecordSets.html ("The response includes a ChangeInfo element ...
  the status of the changes is PENDING ... GetChange ... returns a status of INSYNC");
  API_GetChange.html.
- PriorRequestNotComplete (`route53-prior-request`; CAPSULE_TESTBED_ROUTE53_BUSY_SECONDS,
  default 0.1): a change batch for a zone that arrives while Route 53 is still processing
  the previous one for that zone fails with PriorRequestNotComplete (HTTP 400), "The request
  was rejected because Route 53 was still processing a prior request."; nothing is applied.
  AWS documents the error, not how long processing takes ("If Amazon Route 53 can't process
  a request before the next request arrives, it will reject subsequent requests for the same
  hosted zone", API_ChangeResourceRecordSets.html, Errors; the message:
  https://repost.aws/knowledge-center/route-53-avoid-throttling-errors), and Route 53 does
  accept further changes to a zone while earlier ones are still PENDING, so the test bed
  models processing as a short window after each accepted change: back-to-back changes to
  one zone meet the error, changes a moment apart do not. Checked after the batch itself,
  so an invalid batch still answers InvalidChangeBatch.

AWS: https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
("Change batches are considered transactional changes. Route 53 validates the changes in the
request and then either makes all or none of the changes"; "If you try to delete the same
resource record set more than once in a single change batch, Route 53 returns an
InvalidChangeBatch error") and API_Change.html ("CREATE: Creates a resource record set";
"DELETE: Deletes an existing resource record set").
"""

import random
import string
import threading
import time
from typing import Any

from moto.route53.exceptions import Route53ClientError
from moto.route53.models import ChangeList, FakeZone, Route53Backend
from moto.route53.responses import Route53

from . import _switches
from ._util import around

_insync_seconds = 1.0
_busy_seconds = 0.1
# change id -> when it is INSYNC
_changes: dict[str, float] = {}
_lock = threading.Lock()


class InvalidChangeBatch(Route53ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidChangeBatch", message)


def _record_name(name: str) -> str:
    # DNS names compare case-insensitively; Route 53 returns "*" escaped as \052.
    return name.lower().rstrip(".").replace("\\052", "*") + "."


def _key(record_set: dict[str, Any]) -> tuple[str, str, str | None]:
    return (_record_name(record_set["Name"]), record_set["Type"], record_set.get("SetIdentifier"))


def _check_batch(zone: FakeZone, changes: list[dict[str, Any]]) -> None:
    existing = {(_record_name(rrset.name), rrset.type, rrset.set_identifier) for rrset in zone.rrsets}
    for change in changes:
        key = _key(change["ResourceRecordSet"])
        described = f"resource record set [name='{key[0]}', type='{key[1]}']"
        action = change["Action"]
        if action == "CREATE":
            if key in existing:
                raise InvalidChangeBatch(f"[Tried to create {described} but it already exists]")
            existing.add(key)
        elif action == "DELETE":
            if key not in existing:
                raise InvalidChangeBatch(f"[Tried to delete {described} but it was not found]")
            existing.discard(key)
        elif action == "UPSERT":
            existing.add(key)


class PriorRequestNotComplete(Route53ClientError):
    def __init__(self) -> None:
        super().__init__(
            "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request."
        )


def _processing(zone: FakeZone) -> None:
    """Refuses a change while the zone's previous one is being processed, else starts one."""
    with _lock:
        now = time.time()
        if now < getattr(zone, "_testbed_busy_until", 0.0):
            raise PriorRequestNotComplete()
        zone._testbed_busy_until = now + _busy_seconds


def _change_id() -> str:
    return "C" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))


def _change_status() -> None:
    @around(Route53, "change_resource_record_sets")
    def change_resource_record_sets(original: Any, self: Route53) -> Any:
        result = original(self)
        info = result.result.get("ChangeInfo") if isinstance(result.result, dict) else None
        if info is not None:
            change_id = _change_id()
            with _lock:
                _changes[change_id] = time.time() + _insync_seconds
            info["Id"] = f"/change/{change_id}"
            info["Status"] = "PENDING"
        return result

    @around(Route53, "get_change")
    def get_change(original: Any, self: Route53) -> Any:
        result = original(self)
        info = result.result.get("ChangeInfo") if isinstance(result.result, dict) else None
        if info is not None:
            change_id = str(info.get("Id") or "").rsplit("/", 1)[-1]
            due = _changes.get(change_id)
            if due is not None:
                info["Id"] = f"/change/{change_id}"
                info["Status"] = "PENDING" if time.time() < due else "INSYNC"
        return result


def apply() -> None:
    global _insync_seconds, _busy_seconds
    _insync_seconds = _switches.number("CAPSULE_TESTBED_ROUTE53_INSYNC_SECONDS", 1.0, high=3600.0)
    _busy_seconds = _switches.number("CAPSULE_TESTBED_ROUTE53_BUSY_SECONDS", 0.1, high=60.0)
    prior_request = _switches.enabled("route53-prior-request")

    @around(Route53Backend, "change_resource_record_sets")
    def change_resource_record_sets(
        original: Any, self: Route53Backend, zoneid: str, change_list: list[dict[str, Any]]
    ) -> None:
        zone = self.get_hosted_zone(zoneid)
        _check_batch(zone, change_list)
        if prior_request:
            _processing(zone)
        return original(self, zoneid, change_list)

    if _switches.enabled("route53-change-status"):
        _change_status()

    # moto's own duplicate check asks its change journal whether an identical CREATE was
    # ever made (`change in zone.rr_changes`, the journal's only membership test). That
    # rejects re-creating a record deleted since; _check_batch above decides instead.
    ChangeList.__contains__ = lambda self, item: False  # type: ignore[method-assign]
