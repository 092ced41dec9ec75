"""The switches of the strict test bed (a helper, not a patch), read once when moto starts.

- CAPSULE_TESTBED_OFF: comma-separated names of rules to turn off (`all` turns off every
  rule of this kind: model validation, documented rules, page sizes); the names are listed
  in testbed/README.md ("Strict test bed").
- CAPSULE_TESTBED_VALIDATION=0: no botocore-model validation (same as OFF=validation).
- CAPSULE_TESTBED_PAGINATION=0: moto's own page sizes (same as OFF=pagination).
- CAPSULE_TESTBED_CONSISTENCY_DELAY=<max seconds> (default 1; 0 = off): eventual consistency.
- CAPSULE_TESTBED_THROTTLE=0: no throttling.
- CAPSULE_TESTBED_FAULTS=<rate 0..1> (default 0) and CAPSULE_TESTBED_FAULTS_SEED: faults.
- CAPSULE_TESTBED_ECS_SLR_SECONDS (default 2): how long after ECS's first cluster the
  service-linked role it creates by itself appears.
- CAPSULE_TESTBED_NAT_SECONDS (default 1): how long a NAT gateway is pending / deleting.
- CAPSULE_TESTBED_IAM_PROPAGATION_SECONDS (default 2): how long a new role cannot be assumed.
- CAPSULE_TESTBED_ROUTE53_INSYNC_SECONDS (default 1): how long a Route 53 change is PENDING;
  CAPSULE_TESTBED_ROUTE53_BUSY_SECONDS (default 0.1): how long after a change the zone
  answers PriorRequestNotComplete.
- CAPSULE_TESTBED_TASK_SECONDS (default 1): how long a one-off ECS task (RunTask) takes from
  PROVISIONING to STOPPED (patches/ecs_tasks.py).

`scripts/testbed up` restarts moto when any CAPSULE_TESTBED_* variable changes.
"""

import math
import os

_off: set[str] | None = None


def _disabled() -> set[str]:
    global _off
    if _off is None:
        _off = {name.strip().lower() for name in os.environ.get("CAPSULE_TESTBED_OFF", "").split(",") if name.strip()}
        if os.environ.get("CAPSULE_TESTBED_VALIDATION", "").strip() == "0":
            _off.add("validation")
        if os.environ.get("CAPSULE_TESTBED_PAGINATION", "").strip() == "0":
            _off.add("pagination")
    return _off


def enabled(name: str) -> bool:
    """Whether the rule `name` is on (every rule is, unless CAPSULE_TESTBED_OFF names it)."""
    off = _disabled()
    return "all" not in off and name.lower() not in off


def number(variable: str, default: float, low: float = 0.0, high: float = 86400.0) -> float:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low or value > high:
        raise SystemExit(f"moto_patched: {variable}={raw!r} is not a number from {low:g} to {high:g}")
    return value


def flag(variable: str, default: bool = True) -> bool:
    raw = os.environ.get(variable, "").strip().lower()
    if not raw:
        return default
    if raw in ("0", "false", "off", "no"):
        return False
    if raw in ("1", "true", "on", "yes"):
        return True
    raise SystemExit(f"moto_patched: {variable}={raw!r} is not 0 or 1")
