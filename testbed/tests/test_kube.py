"""The test bed's Kubernetes cluster really runs workloads (testbed/README.md, "Kubernetes").

Against the running cluster of `scripts/testbed up` (KUBECONFIG), each test in a namespace of
its own: Deployments go through ReplicaSets and scheduled Pods to Available and roll out
changes; the markers of testbed/kube/kwok.yaml make images fail to pull or crash and Jobs
fail; Jobs complete and CronJobs start them; HPAs of autoscaling/v2 scale; RBAC is enforced.
Each test fails on a test bed without the cluster (they skip only with CAPSULE_TESTBED_KUBE=0).
"""

import json

import pytest
from _kube import apply, available, condition, deployment, eventually, get, kubectl, require_cluster, unique


@pytest.fixture
def ns():
    require_cluster()
    name = unique("testbed-kube")
    kubectl("create", "namespace", name)
    # The ServiceAccount admission plugin refuses pods until the namespace's `default`
    # service account exists (the controller manager makes it).
    eventually(lambda: kubectl("get", "-n", name, "serviceaccount", "default", check=False).returncode == 0,
               what="the default service account")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_nodes_are_ready():
    require_cluster()
    nodes = [n for n in get("default", "nodes") if n["metadata"]["labels"].get("type") == "kwok"]
    assert len(nodes) >= 1
    for node in nodes:
        assert condition(node, "Ready")["status"] == "True", node["metadata"]["name"]
        assert node["status"]["allocatable"]["pods"] == "110"


def test_deployment_goes_through_replicaset_and_scheduled_pods_to_available(ns):
    apply(ns, deployment("web", "nginx:1.27", replicas=3))
    d = eventually(lambda: available(ns, "web", 3), what="web Available with 3 replicas")
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"

    [rs] = get(ns, "replicasets", selector="app=web")
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert rs["metadata"]["ownerReferences"][0]["name"] == "web"
    assert rs["status"]["readyReplicas"] == 3

    pods = get(ns, "pods", selector="app=web")
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"]
        assert pod["spec"]["nodeName"].startswith("testbed-node-")  # the scheduler bound it
        assert condition(pod, "PodScheduled")["status"] == "True"
        assert condition(pod, "Ready")["status"] == "True"  # kwok ran it
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"]
        # The service account's token is projected into the pod: the controller manager signs.
        assert any(v.get("projected") for v in pod["spec"]["volumes"])


def test_rollout_rolls_to_a_new_replicaset(ns):
    apply(ns, deployment("api", "nginx:1.27", replicas=2, env={"GREETING": "hello"}))
    eventually(lambda: available(ns, "api", 2), what="api Available")
    [first] = get(ns, "replicasets", selector="app=api")

    apply(ns, deployment("api", "nginx:1.27", replicas=2, env={"GREETING": "bonjour"}))
    d = eventually(lambda: available(ns, "api", 2), what="api rolled out")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"

    replicasets = {rs["metadata"]["name"]: rs for rs in get(ns, "replicasets", selector="app=api")}
    assert len(replicasets) == 2
    new = next(rs for name, rs in replicasets.items() if name != first["metadata"]["name"])
    assert new["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "GREETING", "value": "bonjour"}]
    assert new["status"].get("readyReplicas") == 2
    eventually(lambda: get(ns, "replicaset", first["metadata"]["name"])["status"]["replicas"] == 0,
               what="the old ReplicaSet scaled to 0")
    hash_ = new["metadata"]["labels"]["pod-template-hash"]
    eventually(lambda: all(p["metadata"]["labels"]["pod-template-hash"] == hash_
                           for p in get(ns, "pods", selector="app=api")
                           if not p["metadata"].get("deletionTimestamp")),
               what="only the new ReplicaSet's pods")

    # `kubectl rollout undo` goes back to the first template, as a third revision.
    kubectl("rollout", "undo", "-n", ns, "deployment/api")
    d = eventually(lambda: available(ns, "api", 2), what="api rolled back")
    assert d["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "GREETING", "value": "hello"}]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_unpullable_image_fails_the_rollout(ns):
    """Marker: an image name containing `testbed-unpullable`."""
    apply(ns, deployment("shop", "nginx:1.27", replicas=2, progressDeadlineSeconds=10))
    eventually(lambda: available(ns, "shop", 2), what="shop Available")

    apply(ns, deployment("shop", "registry.invalid/shop:testbed-unpullable", replicas=2, progressDeadlineSeconds=10))

    def stuck():
        d = get(ns, "deployment", "shop")
        progressing = condition(d, "Progressing")
        return d if progressing.get("status") == "False" else None

    d = eventually(stuck, timeout=90, what="Progressing=False")
    progressing = condition(d, "Progressing")
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert "has timed out progressing" in progressing["message"]
    # The old pods still serve: the rollout never took more than maxUnavailable of them.
    assert condition(d, "Available")["status"] == "True"

    new = [p for p in get(ns, "pods", selector="app=shop")
           if p["spec"]["containers"][0]["image"].endswith("testbed-unpullable")]
    assert new
    for pod in new:
        assert pod["status"]["phase"] == "Pending"
        assert condition(pod, "Ready")["status"] == "False"
        [status] = pod["status"]["containerStatuses"]
        assert status["ready"] is False
        assert status["state"]["waiting"]["reason"] == "ImagePullBackOff"
        assert "registry.invalid/shop:testbed-unpullable" in status["state"]["waiting"]["message"]


def test_crashing_container_is_in_crashloopbackoff(ns):
    """Marker: an image name containing `testbed-crashloop`."""
    apply(ns, deployment("worker", "registry.invalid/worker:testbed-crashloop", replicas=1))

    def crashing():
        pods = get(ns, "pods", selector="app=worker")
        statuses = [s for p in pods for s in p.get("status", {}).get("containerStatuses", [])]
        return statuses if statuses and "waiting" in statuses[0]["state"] else None

    [status] = eventually(crashing, what="the pod's container waiting")
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["restartCount"] >= 1
    assert status["ready"] is False
    assert get(ns, "deployment", "worker")["status"].get("availableReplicas", 0) == 0


def test_unready_container_runs_and_the_rollout_hits_its_progress_deadline(ns):
    """Marker: an image name containing `testbed-unready`."""
    apply(ns, deployment("web", "registry.invalid/web:testbed-unready", replicas=1, progressDeadlineSeconds=5))

    def stuck():
        d = get(ns, "deployment", "web")
        return d if condition(d, "Progressing").get("status") == "False" else None

    d = eventually(stuck, timeout=90, what="Progressing=False")
    assert condition(d, "Progressing")["reason"] == "ProgressDeadlineExceeded"
    [pod] = get(ns, "pods", selector="app=web")
    assert pod["status"]["phase"] == "Running"
    assert condition(pod, "Ready")["status"] == "False"
    [status] = pod["status"]["containerStatuses"]
    assert status["ready"] is False and "running" in status["state"] and "waiting" not in status["state"]


def job(name, args=None, backoff_limit=6):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "task", "image": "busybox:1.36", "args": args or ["true"]}],
                }
            },
        },
    }


def test_job_completes(ns):
    apply(ns, job("migrate", ["/app/migrate"]))
    j = eventually(lambda: (j := get(ns, "job", "migrate")) and condition(j, "Complete").get("status") == "True" and j,
                   what="the Job Complete")
    assert j["status"]["succeeded"] == 1
    [pod] = get(ns, "pods", selector="job-name=migrate")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_job_with_exit_marker_fails(ns):
    """Marker: the whole argument `testbed:exit=N` (N not 0) in a Job's container command or args."""
    apply(ns, job("migrate", ["/app/migrate", "testbed:exit=3"], backoff_limit=0))
    j = eventually(lambda: (j := get(ns, "job", "migrate")) and condition(j, "Failed").get("status") == "True" and j,
                   what="the Job Failed")
    assert condition(j, "Failed")["reason"] == "BackoffLimitExceeded"
    [pod] = get(ns, "pods", selector="job-name=migrate")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert terminated["reason"] == "Error"


def test_cronjob_creates_jobs_that_complete(ns):
    apply(ns, {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": job("unused")["spec"]},
        },
    })
    # The next whole minute, at most a minute away, plus the controller's own delay.
    jobs = eventually(lambda: get(ns, "jobs"), timeout=100, interval=2, what="a Job of the CronJob")
    assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert jobs[0]["metadata"]["name"].startswith("nightly-")
    eventually(lambda: condition(get(ns, "job", jobs[0]["metadata"]["name"]), "Complete").get("status") == "True",
               what="the CronJob's Job Complete")
    eventually(lambda: get(ns, "cronjob", "nightly")["status"].get("lastSuccessfulTime"),
               what="the CronJob's lastSuccessfulTime")


def test_hpa_autoscaling_v2_is_accepted_and_scales(ns):
    apply(ns, deployment("api", "nginx:1.27", replicas=1))
    apply(ns, {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "minReplicas": 2,
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    })
    hpa = get(ns, "horizontalpodautoscalers.v2.autoscaling", "api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    # The HPA controller raises the Deployment to minReplicas even without a metrics server.
    eventually(lambda: available(ns, "api", 2), timeout=90, interval=1, what="api scaled to the HPA's minimum")
    hpa = get(ns, "horizontalpodautoscalers.v2.autoscaling", "api")
    assert hpa["status"]["desiredReplicas"] == 2


def test_service_ingress_and_secret_are_accepted(ns):
    apply(ns,
          {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "secret-db"}, "stringData": {"value": "s3cret"}},
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
          {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
           "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
               {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    assert get(ns, "service", "web")["spec"]["clusterIP"].startswith("10.96.")
    assert get(ns, "ingress", "web")["spec"]["rules"][0]["host"] == "shop.example.com"
    assert get(ns, "secret", "secret-db")["data"]["value"] == "czNjcmV0"


def test_rbac_is_enforced(ns):
    kubectl("create", "-n", ns, "serviceaccount", "reader")
    token = kubectl("create", "token", "-n", ns, "reader").stdout.strip()  # signed by the API server

    denied = kubectl("get", "-n", ns, "secrets", token=token, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr
    assert f'User "system:serviceaccount:{ns}:reader" cannot list resource "secrets"' in denied.stderr

    unknown = kubectl("get", "-n", ns, "secrets", token="not-a-token", check=False)
    assert unknown.returncode != 0
    assert "Unauthorized" in unknown.stderr or "must be logged in" in unknown.stderr

    # A Role and RoleBinding grant it: RBAC decides, not a blanket refusal.
    apply(ns,
          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "secrets-reader"},
           "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]},
          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secrets-reader"},
           "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]})
    allowed = eventually(lambda: (p := kubectl("get", "-n", ns, "secrets", "-o", "json", token=token, check=False)).returncode == 0 and p,
                         what="the granted list")
    assert json.loads(allowed.stdout)["kind"] == "List"
