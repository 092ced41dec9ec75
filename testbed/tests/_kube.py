"""Helpers for the checks of the test bed's Kubernetes cluster (testbed/README.md, "Kubernetes").

They talk to the running API server through the kubectl built with the cluster (from
testbed/kube/go.mod, so the same release), with the admin kubeconfig that `scripts/testbed up`
exports as KUBECONFIG. Nothing is mocked: every object goes through the API server, etcd, the
controllers, the scheduler and kwok.
"""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = os.environ.get("CAPSULE_TESTBED_KUBECTL", str(ROOT / ".testbed" / "kube" / "bin" / "kubectl"))


def require_cluster():
    """Skip when the test bed was started without its cluster (CAPSULE_TESTBED_KUBE=0); else
    fail, not skip, when KUBECONFIG is missing: a test bed that should have a cluster and has
    none is broken."""
    if os.environ.get("CAPSULE_TESTBED_KUBE") == "0":
        pytest.skip("CAPSULE_TESTBED_KUBE=0: the test bed has no cluster")
    if not os.environ.get("KUBECONFIG"):
        pytest.fail("KUBECONFIG is not set: run eval \"$(scripts/testbed up)\" (or set CAPSULE_TESTBED_KUBE=0)")
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"{KUBECTL} is missing: scripts/testbed up builds it with the cluster")


def kubectl(*args, input=None, check=True, token=None):
    """Run kubectl; return the completed process (text). `token` replaces the admin's."""
    command = [KUBECTL, *(["--token", token] if token else []), *args]
    process = subprocess.run(
        command,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and process.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({process.returncode}): {process.stderr.strip()}")
    return process


def apply(namespace, *objects):
    """kubectl apply the objects (dicts) into the namespace."""
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def get(namespace, kind, name=None, selector=None):
    """The object (or, without a name, the list's items) as JSON."""
    args = ["get", "-n", namespace, kind, "-o", "json"]
    if name:
        args.insert(4, name)
    if selector:
        args += ["-l", selector]
    document = json.loads(kubectl(*args).stdout)
    return document if name else document["items"]


def condition(obj, kind):
    """The status condition of that type, or {}."""
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def eventually(check, timeout=60, interval=0.5, what="the condition"):
    """Call check() until it returns something truthy; return that. Fail after `timeout` s
    with the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s; last: {last!r}")
        time.sleep(interval)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def deployment(name, image, replicas=2, env=None, **spec):
    """A Deployment of one container, labelled app=<name>."""
    container = {"name": "app", "image": image, "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
            **spec,
        },
    }


def available(namespace, name, replicas):
    """The Deployment when its latest generation is observed and fully rolled out and Available."""
    d = get(namespace, "deployment", name)
    status = d.get("status", {})
    done = (
        status.get("observedGeneration") == d["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("readyReplicas") == replicas
        and status.get("availableReplicas") == replicas
        and status.get("replicas") == replicas
        and condition(d, "Available").get("status") == "True"
    )
    return d if done else None
