//! The Kubernetes runtime against the test bed's real cluster (kube-apiserver, controllers,
//! scheduler, kwok nodes; testbed/README.md "Kubernetes cluster"): the capsule binary plans
//! and applies, and every claim is read back through the Kubernetes API. Each test has a
//! capsule (hence a namespace) of its own.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use capsule::k8s;
use capsule::model::Kind;
use common::{changes, success_json, text, unique, write};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

/// Fails (never skips) without the test bed's cluster.
fn cluster() {
    common::testbed();
    let kubeconfig = std::env::var("KUBECONFIG").unwrap_or_default();
    assert!(
        !kubeconfig.is_empty() && Path::new(&kubeconfig).exists(),
        "these tests need the test bed's Kubernetes cluster: eval \"$(scripts/testbed up)\" with CAPSULE_TESTBED_KUBE=1"
    );
}

fn capsule(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capsule"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1").env("CAPSULE_ROLLOUT_POLL", "200ms");
    let Some(input) = stdin else { return cmd.output().unwrap() };
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The binary with extra environment variables (`HOSTNAME`: who a lock holder is).
fn capsule_with(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capsule"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1").env("CAPSULE_ROLLOUT_POLL", "200ms");
    cmd.envs(vars.iter().copied()).output().unwrap()
}

fn plan(dir: &Path) -> Value {
    success_json(&capsule(dir, &["plan", "--format", "json"], None))
}

fn apply(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["apply"];
    all.extend_from_slice(args);
    capsule(dir, &all, None)
}

fn registry() -> String {
    std::env::var("CAPSULE_REGISTRY").expect("CAPSULE_REGISTRY from the test bed")
}

/// Pushes a minimal OCI image (a config, no layers) as `repo:tag` into the test bed's
/// registry; returns its digest.
async fn push_image(repo: &str, tag: &str) -> String {
    use sha2::Digest;
    let base = format!("http://{}", registry());
    let http = reqwest::Client::new();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["TAG={tag}"]}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    let config_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(config.as_bytes())));
    let start = http.post(format!("{base}/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(start.status().as_u16(), 202, "{:?}", start.text().await);
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let location = if location.starts_with("http") { location } else { format!("{base}{location}") };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = http.put(format!("{location}{sep}digest={config_digest}")).body(config.clone()).send().await.unwrap();
    assert!(put.status().is_success(), "{:?}", put.text().await);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [],
    })
    .to_string();
    let put = http
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{:?}", put.text().await);
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(manifest.as_bytes())))
}

async fn client() -> kube::Client {
    k8s::connect(None).await.unwrap()
}

/// Every object of `kind` in the namespace, as JSON.
async fn objects(ns: &str, kind: Kind) -> Vec<Value> {
    let list = k8s::api(&client().await, ns, kind).list(&ListParams::default()).await.unwrap();
    list.items.iter().map(|o| serde_json::to_value(o).unwrap()).collect()
}

async fn names(ns: &str, kind: Kind) -> Vec<String> {
    let mut n: Vec<String> =
        objects(ns, kind).await.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect();
    // Service accounts' tokens and the like are not capsule's; only its Secrets count.
    if kind == Kind::K8sSecret {
        n.retain(|s| s.starts_with("secret-"));
    }
    n.sort();
    n
}

async fn deployment(ns: &str, name: &str) -> Deployment {
    Api::<Deployment>::namespaced(client().await, ns).get(name).await.unwrap()
}

/// Waits (at most a minute) until `n` replicas of the Deployment are available: the HPA
/// raises a new Deployment to its minimum within its sync period.
async fn wait_available(ns: &str, name: &str, n: i32) -> Deployment {
    let started = std::time::Instant::now();
    loop {
        let d = deployment(ns, name).await;
        let st = d.status.clone().unwrap_or_default();
        if st.available_replicas == Some(n) && st.replicas == Some(n) {
            return d;
        }
        assert!(started.elapsed().as_secs() < 60, "{name} never had {n} available: {st:?}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn image_of(d: &Deployment) -> String {
    d.spec.template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

fn capsule_toml(name: &str, image: &str, extra_api: &str, more: &str) -> String {
    format!(
        r#"[capsule]
name = "{name}"
runtime = "kubernetes"

[kubernetes]
ingress_class = "nginx"

[secrets]
stripe = {{ description = "Stripe API key" }}

[services.api]
image = "{image}"
port = 8080
public = true
domain = "api.example.com"
cpu = 256
memory = 512
health = {{ path = "/healthz" }}
{extra_api}
[services.api.env]
MODE = "live"
STRIPE_KEY = {{ secret = "stripe" }}

[services.api.autoscale]
min = 2
max = 4
{more}"#
    )
}

const WORKER_AND_JOB: &str = r#"
[services.worker]
image = "IMAGE"
count = 1

[jobs.nightly]
service = "worker"
schedule = "cron(30 2 ? * MON-FRI *)"
"#;

struct Fixture {
    dir: tempfile::TempDir,
    name: String,
    ns: String,
    image: String,
    digest: String,
}

async fn fixture(prefix: &str, extra_api: &str, more: &str) -> Fixture {
    cluster();
    let name = unique(prefix);
    let repo = format!("{name}/app");
    let digest = push_image(&repo, "1").await;
    let image = format!("{}/{repo}:1", registry());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "capsule.toml", &capsule_toml(&name, &image, extra_api, &more.replace("IMAGE", &image)));
    let ns = format!("{name}-production");
    Fixture { dir, name, ns, image, digest }
}

/// The test's namespace goes when the test ends, passed or failed: the simulated nodes have
/// room for a few dozen pods only.
impl Drop for Fixture {
    fn drop(&mut self) {
        let kubectl = common::root().join(".testbed/kube/bin/kubectl");
        let _ = Command::new(kubectl).args(["delete", "namespace", &self.ns, "--wait=false"]).output();
    }
}

impl Fixture {
    fn rewrite(&self, image: &str, extra_api: &str, more: &str) {
        write(
            self.dir.path(),
            "capsule.toml",
            &capsule_toml(&self.name, image, extra_api, &more.replace("IMAGE", &self.image)),
        );
    }
    fn applied(&self, args: &[&str]) -> Output {
        let out = apply(self.dir.path(), args);
        assert!(out.status.success(), "{}", text(&out));
        out
    }
}

#[tokio::test]
async fn first_apply_creates_exactly_the_labelled_objects_and_a_replan_is_a_no_op() {
    let f = fixture("k8sa", "", WORKER_AND_JOB).await;
    let planned = plan(f.dir.path());
    let api = format!("{}.production.k8s_deployment.api", f.name);
    assert!(changes(&planned).contains(&(api.clone(), "create".to_string())), "{planned:#}");
    f.applied(&[]);

    let ns = &f.ns;
    assert_eq!(names(ns, Kind::K8sDeployment).await, ["api", "worker"]);
    assert_eq!(names(ns, Kind::K8sService).await, ["api"]);
    assert_eq!(names(ns, Kind::K8sIngress).await, ["api"]);
    assert_eq!(names(ns, Kind::K8sHpa).await, ["api"]);
    assert_eq!(names(ns, Kind::K8sCronjob).await, ["nightly"]);
    assert_eq!(names(ns, Kind::K8sSecret).await, ["secret-stripe"]);
    for kind in
        [Kind::K8sDeployment, Kind::K8sService, Kind::K8sIngress, Kind::K8sHpa, Kind::K8sCronjob, Kind::K8sSecret]
    {
        for o in objects(ns, kind).await {
            let l = &o["metadata"]["labels"];
            if kind == Kind::K8sSecret && !o["metadata"]["name"].as_str().unwrap().starts_with("secret-") {
                continue;
            }
            assert_eq!(l["app.kubernetes.io/managed-by"], "capsule", "{kind}: {o:#}");
            assert_eq!(l["capsule/name"], f.name.as_str());
            assert_eq!(l["capsule/env"], "production");
            assert!(l["capsule/component"].is_string(), "{kind}: {o:#}");
        }
    }
    let ns_obj = k8s::api(&client().await, ns, Kind::K8sNamespace).get(ns).await.unwrap();
    assert_eq!(ns_obj.metadata.labels.unwrap()["capsule/name"], f.name);

    let d = deployment(ns, "api").await;
    assert_eq!(image_of(&d), format!("{}@{}", f.image, f.digest), "pinned by digest");
    let c = &d.spec.template.spec.as_ref().unwrap().containers[0];
    let env = serde_json::to_value(c.env.as_ref().unwrap()).unwrap();
    assert_eq!(
        env,
        json!([
            { "name": "MODE", "value": "live" },
            { "name": "STRIPE_KEY", "valueFrom": { "secretKeyRef": { "name": "secret-stripe", "key": "value" } } },
        ])
    );
    let res = serde_json::to_value(c.resources.as_ref().unwrap()).unwrap();
    assert_eq!(res["limits"], json!({ "cpu": "250m", "memory": "512Mi" }));
    assert_eq!(c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap().path.as_deref(), Some("/healthz"));
    assert!(d.status.unwrap().available_replicas.unwrap_or(0) >= 1, "Available after the apply");
    wait_available(ns, "api", 2).await;
    let hpa = &objects(ns, Kind::K8sHpa).await[0];
    assert_eq!((hpa["spec"]["minReplicas"].clone(), hpa["spec"]["maxReplicas"].clone()), (json!(2), json!(4)));
    let cron = &objects(ns, Kind::K8sCronjob).await[0];
    assert_eq!(cron["spec"]["schedule"], "30 2 * * MON-FRI");
    assert_eq!(cron["spec"]["timeZone"], "Etc/UTC");
    let ing = &objects(ns, Kind::K8sIngress).await[0];
    assert_eq!(ing["spec"]["ingressClassName"], "nginx");
    assert_eq!(ing["spec"]["rules"][0]["host"], "api.example.com");
    let secret =
        &objects(ns, Kind::K8sSecret).await.into_iter().find(|s| s["metadata"]["name"] == "secret-stripe").unwrap();
    assert!(secret.get("data").is_none(), "capsule writes no value: {secret:#}");

    let again = plan(f.dir.path());
    assert_eq!(changes(&again), vec![], "{again:#}");
}

#[tokio::test]
async fn a_changed_env_var_plans_only_that_and_rolls_out() {
    let f = fixture("k8sb", "", "").await;
    f.applied(&[]);
    let before = wait_available(&f.ns, "api", 2).await;
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml"))
        .unwrap()
        .replace("MODE = \"live\"", "MODE = \"test\"");
    write(f.dir.path(), "capsule.toml", &toml);
    let planned = plan(f.dir.path());
    let api = format!("{}.production.k8s_deployment.api", f.name);
    assert_eq!(changes(&planned), vec![(api.clone(), "update".to_string())], "{planned:#}");
    let c = common::change(&planned, &api);
    let paths: Vec<&str> = c["attributes"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["spec.template.spec.containers[api].env[MODE].value"], "{c:#}");
    f.applied(&[]);
    let after = deployment(&f.ns, "api").await;
    let rev = |d: &Deployment| d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone();
    assert_eq!((rev(&before), rev(&after)), ("1".to_string(), "2".to_string()), "a new ReplicaSet rolled out");
    let st = after.status.unwrap();
    assert_eq!((st.updated_replicas, st.available_replicas), (Some(2), Some(2)), "{st:?}");
    assert_eq!(changes(&plan(f.dir.path())), vec![]);
}

#[tokio::test]
async fn an_unpullable_image_fails_the_rollout_with_the_reason_and_rolls_back() {
    let f = fixture("k8sc", "", "").await;
    f.applied(&[]);
    let good = image_of(&deployment(&f.ns, "api").await);
    f.rewrite(&format!("{}/testbed-unpullable/app:1", registry()), "", "");
    let out = apply(f.dir.path(), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("ImagePullBackOff"), "{said}");
    assert!(said.contains("event Normal api: ScalingReplicaSet"), "the controllers' events are shown: {said}");
    assert!(said.contains("likely fix"), "{said}");
    assert!(said.contains("Rolled back to the template of revision 1"), "{said}");
    let d = deployment(&f.ns, "api").await;
    assert_eq!(image_of(&d), good, "the previous template is back");
    let planned = plan(f.dir.path());
    let api = format!("{}.production.k8s_deployment.api", f.name);
    assert_eq!(changes(&planned), vec![(api, "update".to_string())], "the next plan tries again: {planned:#}");
}

#[tokio::test]
async fn a_release_that_exits_non_zero_stops_the_rollout() {
    let f = fixture("k8sd", "release = [\"/app/migrate\"]", "").await;
    f.applied(&[]);
    let before = deployment(&f.ns, "api").await;
    f.rewrite(&f.image, "release = [\"/app/migrate\", \"testbed:exit=3\"]\ncommand = [\"/app/serve\", \"--v2\"]", "");
    let out = apply(f.dir.path(), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("release of api failed") && said.contains("exited with 3"), "{said}");
    let after = deployment(&f.ns, "api").await;
    let template = |d: &Deployment| serde_json::to_value(&d.spec.template).unwrap();
    assert_eq!(template(&after), template(&before), "the Deployment did not move");
    let rev = |d: &Deployment| d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone();
    assert_eq!(rev(&after), "1");
}

#[tokio::test]
async fn an_unlabelled_lookalike_is_a_plan_error_and_left_untouched() {
    let f = fixture("k8se", "", "").await;
    let client = client().await;
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    ns.create(&PostParams::default(), &serde_json::from_value(json!({ "metadata": { "name": f.ns } })).unwrap())
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &f.ns);
    let theirs: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "api", "labels": { "app": "theirs" } },
        "spec": { "selector": { "matchLabels": { "app": "theirs" } },
                  "template": { "metadata": { "labels": { "app": "theirs" } },
                                "spec": { "containers": [{ "name": "x", "image": "theirs:1" }] } } },
    }))
    .unwrap();
    let created = deployments.create(&PostParams::default(), &theirs).await.unwrap();
    let out = capsule(f.dir.path(), &["plan"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("without capsule's labels"), "{}", text(&out));
    let out = apply(f.dir.path(), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Refusing to apply"), "{}", text(&out));
    let now = deployments.get("api").await.unwrap();
    assert_eq!(now.metadata.generation, created.metadata.generation, "its spec never changed");
    assert_eq!(now.metadata.labels, created.metadata.labels, "nor its labels");
    let managers: Vec<String> =
        now.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(!managers.iter().any(|m| m.starts_with("capsule")), "capsule never wrote to it: {managers:?}");
    assert!(names(&f.ns, Kind::K8sService).await.is_empty(), "nothing else was applied either");
}

#[tokio::test]
async fn removing_a_service_deletes_its_objects_and_secrets_need_allow_destroy() {
    let f = fixture("k8sf", "", WORKER_AND_JOB).await;
    f.applied(&[]);
    // Drop the worker (and its job); keep api.
    f.rewrite(&f.image, "", "");
    let planned = plan(f.dir.path());
    let mut got = changes(&planned);
    got.sort();
    let a = |k: &str, n: &str| (format!("{}.production.{k}.{n}", f.name), "delete".to_string());
    assert_eq!(got, vec![a("k8s_cronjob", "nightly"), a("k8s_deployment", "worker")], "{planned:#}");
    f.applied(&[]);
    assert_eq!(names(&f.ns, Kind::K8sDeployment).await, ["api"]);
    assert!(names(&f.ns, Kind::K8sCronjob).await.is_empty());

    // Without [secrets] (and the env reference), the Secret is planned as deleted: data.
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap();
    let toml = toml
        .replace("stripe = { description = \"Stripe API key\" }", "")
        .replace("STRIPE_KEY = { secret = \"stripe\" }", "");
    write(f.dir.path(), "capsule.toml", &toml);
    let out = apply(f.dir.path(), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--allow-destroy"), "{}", text(&out));
    assert_eq!(names(&f.ns, Kind::K8sSecret).await, ["secret-stripe"], "refused: nothing deleted");
    f.applied(&["--allow-destroy"]);
    assert!(names(&f.ns, Kind::K8sSecret).await.is_empty());
}

#[tokio::test]
async fn secret_values_are_set_by_secrets_set_and_never_appear_in_a_plan() {
    let f = fixture("k8sg", "", "").await;
    f.applied(&[]);
    let value = "sk_live_k8s_never_shown_42";
    let out = capsule(f.dir.path(), &["secrets", "set", &f.name, "production", "stripe"], Some(value));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(value));
    let secret =
        objects(&f.ns, Kind::K8sSecret).await.into_iter().find(|s| s["metadata"]["name"] == "secret-stripe").unwrap();
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    assert_eq!(secret["data"]["value"], encoded.as_str(), "stored in the Secret");
    // The value stays after an apply (capsule's field manager does not own it) and a
    // change elsewhere: no plan format shows it, plain or base64.
    let toml =
        std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap().replace("MODE = \"live\"", "MODE = \"x\"");
    write(f.dir.path(), "capsule.toml", &toml);
    for format in ["text", "markdown", "json"] {
        let out = capsule(f.dir.path(), &["plan", "--format", format], None);
        assert!(out.status.success(), "{}", text(&out));
        let said = text(&out);
        assert!(!said.contains(value) && !said.contains(&encoded), "{format}: {said}");
    }
    f.applied(&[]);
    let secret =
        objects(&f.ns, Kind::K8sSecret).await.into_iter().find(|s| s["metadata"]["name"] == "secret-stripe").unwrap();
    assert_eq!(secret["data"]["value"], encoded.as_str(), "apply keeps the value");
}

#[tokio::test]
async fn examples_k8s_applies_and_re_plans_as_a_no_op() {
    cluster();
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(common::root().join("examples/k8s/capsule.toml")).unwrap();
    // Its own capsule name, so that runs and namespaces never meet.
    let name = unique("demo");
    write(
        dir.path(),
        "capsule.toml",
        &example
            .replace("name    = \"demo\"", &format!("name    = \"{name}\""))
            .replace("demo-${env.name}", &format!("{name}-${{env.name}}")),
    );
    let ns = format!("{name}-production");
    let _cleanup = Fixture { dir, name, ns: ns.clone(), image: String::new(), digest: String::new() };
    let out = apply(_cleanup.dir.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(names(&ns, Kind::K8sDeployment).await, ["api", "worker"]);
    assert_eq!(names(&ns, Kind::K8sCronjob).await, ["nightly"]);
    assert_eq!(changes(&plan(_cleanup.dir.path())), vec![]);
}

/// Writes the apply lock's Lease as another holder would (`capsule/holder` as in src/lock.rs).
async fn hold_lock(capsule: &str, ns: &str, holder: Value) {
    use k8s_openapi::api::coordination::v1::Lease;
    let client = client().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let labels = json!({ "app.kubernetes.io/managed-by": "capsule", "capsule/name": capsule,
                         "capsule/env": "production", "capsule/component": "namespace" });
    let namespace = json!({ "metadata": { "name": ns, "labels": labels } });
    let _ = namespaces.create(&PostParams::default(), &serde_json::from_value(namespace).unwrap()).await;
    let lease: Lease = serde_json::from_value(json!({
        "metadata": { "name": "capsule-lock", "annotations": { "capsule/holder": holder.to_string() } },
        "spec": { "holderIdentity": holder["owner"] },
    }))
    .unwrap();
    Api::<Lease>::namespaced(client, ns).create(&PostParams::default(), &lease).await.unwrap();
}

async fn lease_exists(ns: &str) -> bool {
    use k8s_openapi::api::coordination::v1::Lease;
    Api::<Lease>::namespaced(client().await, ns).get_opt("capsule-lock").await.unwrap().is_some()
}

#[tokio::test]
async fn a_held_apply_lock_refuses_the_apply_until_unlock_and_a_dead_holder_is_taken_over() {
    let f = fixture("k8sh", "", "").await;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    hold_lock(
        &f.name,
        &f.ns,
        json!({ "owner": "octocat (workflow \"deploy\")", "acquired_at": now, "token": "t1",
                "run_url": "https://github.com/acme/shop/actions/runs/7", "run_id": "7", "run_attempt": 1 }),
    )
    .await;
    let out = apply(f.dir.path(), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains(&format!("{}/production is locked", f.name)), "{said}");
    assert!(said.contains("held by octocat (workflow \"deploy\")"), "{said}");
    assert!(said.contains("run: https://github.com/acme/shop/actions/runs/7"), "{said}");
    assert!(said.contains(&format!("capsule unlock {} production", f.name)), "{said}");
    assert!(names(&f.ns, Kind::K8sDeployment).await.is_empty(), "nothing was applied");

    let out = capsule(f.dir.path(), &["unlock", &f.name, "production"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Broke the apply lock") && text(&out).contains("octocat"), "{}", text(&out));
    assert!(!lease_exists(&f.ns).await);
    f.applied(&[]);
    assert_eq!(names(&f.ns, Kind::K8sDeployment).await, ["api"]);
    assert!(!lease_exists(&f.ns).await, "apply releases its lock");

    // A holder on this machine whose process is gone is taken over.
    hold_lock(
        &f.name,
        &f.ns,
        json!({ "owner": "someone@k8s-lock-host (pid 4000000)", "acquired_at": now, "token": "t2",
                "host": "k8s-lock-host", "pid": 4_000_000 }),
    )
    .await;
    let out = capsule_with(f.dir.path(), &["apply"], &[("HOSTNAME", "k8s-lock-host")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Took over the apply lock"), "{}", text(&out));
    assert!(!lease_exists(&f.ns).await);
    let out = capsule(f.dir.path(), &["unlock", &f.name, "production"], None);
    assert!(text(&out).contains("was not locked"), "{}", text(&out));
}

/// The digest of `repo:tag` in the test bed's registry (one `HEAD`), if it has it.
async fn registry_digest(repo: &str, tag: &str) -> Option<String> {
    let url = format!("http://{}/v2/{repo}/manifests/{tag}", registry());
    let resp = reqwest::Client::new()
        .head(url)
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    resp.status().is_success().then(|| resp.headers()["docker-content-digest"].to_str().unwrap().to_string())
}

fn artifact<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["capsules"][0]["artifacts"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()
}

#[tokio::test]
async fn a_built_image_is_pushed_to_the_registry_and_the_deployment_pins_its_digest() {
    cluster();
    let name = unique("k8si");
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[capsule]\nname = \"{name}\"\nruntime = \"kubernetes\"\n\n[kubernetes]\nregistry = \"{}\"\n\n\
         [services.api]\nbuild = \"app\"\nport = 8080\n",
        registry()
    );
    write(dir.path(), "capsule.toml", &toml);
    write(dir.path(), "app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n");
    write(dir.path(), "app/a.txt", "one");
    let ns = format!("{name}-production");
    let f = Fixture { dir, name: name.clone(), ns: ns.clone(), image: String::new(), digest: String::new() };

    let planned = plan(f.dir.path());
    let a = artifact(&planned, "api");
    assert_eq!(a["action"], "build", "{planned:#}");
    let tag = a["tag"].as_str().unwrap().to_string();
    assert!(tag.starts_with("ctx-"), "{a:#}");
    let repo = format!("{name}/api");
    let offline = success_json(&capsule(f.dir.path(), &["plan", "--offline", "--format", "json"], None));
    assert_eq!(artifact(&offline, "api")["tag"], tag.as_str(), "{offline:#}");
    let created = common::change(&offline, &format!("{name}.production.k8s_deployment.api"));
    let image =
        created["attributes"].as_array().unwrap().iter().find(|a| a["path"].as_str().unwrap().ends_with(".image"));
    assert_eq!(image.unwrap()["after"], format!("{}/{repo}:{tag}", registry()).as_str(), "{created:#}");
    assert_eq!(registry_digest(&repo, &tag).await, None, "plan pushes nothing");

    f.applied(&[]);
    let digest = registry_digest(&repo, &tag).await.expect("apply pushed the image");
    let d = deployment(&ns, "api").await;
    assert_eq!(image_of(&d), format!("{}/{repo}@{digest}", registry()), "pinned by the pushed digest");

    let again = plan(f.dir.path());
    assert_eq!(changes(&again), vec![], "{again:#}");
    assert_eq!(artifact(&again, "api")["action"], "up-to-date");

    write(f.dir.path(), "app/a.txt", "two");
    let planned = plan(f.dir.path());
    assert_eq!(artifact(&planned, "api")["action"], "build", "{planned:#}");
    assert_ne!(artifact(&planned, "api")["tag"], tag.as_str(), "a new context hash");
    f.applied(&[]);
    let now = image_of(&deployment(&ns, "api").await);
    assert!(now.starts_with(&format!("{}/{repo}@sha256:", registry())) && !now.ends_with(&digest), "{now}");
}

#[tokio::test]
async fn status_reports_deployments_pods_jobs_and_whether_secrets_are_set_never_their_values() {
    let f = fixture("k8sj", "", WORKER_AND_JOB).await;
    f.applied(&[]);
    wait_available(&f.ns, "api", 2).await;
    let out = capsule(f.dir.path(), &["status", &f.name, "production", "--format", "json"], None);
    let doc = success_json(&out);
    assert_eq!(doc["namespace"], f.ns.as_str());
    let svc = |n: &str| doc["services"].as_array().unwrap().iter().find(|s| s["name"] == n).unwrap().clone();
    let api = svc("api");
    assert_eq!(api["replicas"]["available"], 2, "{api:#}");
    assert_eq!(api["image"], format!("{}@{}", f.image, f.digest).as_str());
    assert_eq!(api["revision"], 1);
    let pods = api["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 2, "{api:#}");
    assert!(pods.iter().all(|p| p["ready"] == true && p["phase"] == "Running"), "{api:#}");
    assert_eq!(svc("worker")["replicas"]["available"], 1);
    assert_eq!(doc["jobs"][0]["schedule"], "30 2 * * MON-FRI");
    assert_eq!(doc["ingresses"][0]["hosts"], json!(["api.example.com"]));
    assert_eq!(doc["secrets"], json!([{ "name": "secret-stripe", "set": false }]));

    let value = "sk_status_never_shown_7";
    assert!(capsule(f.dir.path(), &["secrets", "set", &f.name, "production", "stripe"], Some(value)).status.success());
    let out = capsule(f.dir.path(), &["status", &f.name, "production"], None);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("service api: 2/2 available (2 updated), revision 1"), "{said}");
    assert!(said.contains("secret secret-stripe: set"), "{said}");
    assert!(said.contains("job nightly: schedule 30 2 * * MON-FRI"), "{said}");
    assert!(!said.contains(value), "{said}");
}

#[tokio::test]
async fn logs_read_pods_through_the_api_and_say_clearly_when_a_node_has_none() {
    let f = fixture("k8sk", "", "").await;
    f.applied(&[]);
    wait_available(&f.ns, "api", 2).await;
    let out = capsule(f.dir.path(), &["logs", &f.name, "production", "api"], None);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(said.matches("no logs").count(), 2, "one line per pod: {said}");
    assert!(said.contains("kwok"), "{said}");
    let out = capsule(f.dir.path(), &["logs", &f.name, "production", "nope"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("has no nope"), "{}", text(&out));
}

#[tokio::test]
async fn rollback_returns_a_service_to_the_previous_template_and_the_next_apply_rolls_forward() {
    let f = fixture("k8sl", "", "").await;
    f.applied(&[]);
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap();
    write(f.dir.path(), "capsule.toml", &toml.replace("MODE = \"live\"", "MODE = \"test\""));
    f.applied(&[]);
    let mode = |d: &Deployment| {
        let c = &d.spec.template.spec.as_ref().unwrap().containers[0];
        c.env.as_ref().unwrap().iter().find(|e| e.name == "MODE").unwrap().value.clone().unwrap()
    };
    let rev = |d: &Deployment| d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone();
    assert_eq!(mode(&deployment(&f.ns, "api").await), "test");

    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    hold_lock(&f.name, &f.ns, json!({ "owner": "octocat", "acquired_at": now, "token": "t3" })).await;
    let out = capsule(f.dir.path(), &["rollback", &f.name, "production", "api"], None);
    assert!(!out.status.success() && text(&out).contains("is locked"), "under the apply lock: {}", text(&out));
    assert_eq!(mode(&deployment(&f.ns, "api").await), "test", "nothing moved");
    assert!(capsule(f.dir.path(), &["unlock", &f.name, "production"], None).status.success());

    let out = capsule(f.dir.path(), &["rollback", &f.name, "production", "api"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Rolled back to the template of revision 1"), "{}", text(&out));
    let d = deployment(&f.ns, "api").await;
    assert_eq!((mode(&d), rev(&d)), ("live".to_string(), "3".to_string()), "revision 1's template, as revision 3");
    let st = d.status.unwrap();
    assert_eq!(st.available_replicas, Some(2), "the rollback was watched to its end: {st:?}");
    let out = capsule(f.dir.path(), &["rollback", &f.name, "production", "api", "--to", "3"], None);
    assert!(!out.status.success() && text(&out).contains("already runs revision 3"), "{}", text(&out));

    let api = format!("{}.production.k8s_deployment.api", f.name);
    assert_eq!(changes(&plan(f.dir.path())), vec![(api, "update".to_string())], "the file still says test");
    f.applied(&[]);
    assert_eq!(mode(&deployment(&f.ns, "api").await), "test");
}

#[tokio::test]
async fn destroy_deletes_every_labelled_object_secrets_included_and_leaves_the_rest() {
    let f = fixture("k8sm", "", WORKER_AND_JOB).await;
    f.applied(&[]);
    let client = client().await;
    let theirs: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "theirs" },
        "spec": { "selector": { "matchLabels": { "app": "theirs" } },
                  "template": { "metadata": { "labels": { "app": "theirs" } },
                                "spec": { "containers": [{ "name": "x", "image": "theirs:1" }] } } },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &f.ns).create(&PostParams::default(), &theirs).await.unwrap();

    let out = capsule(f.dir.path(), &["destroy", "--capsule", &f.name, "--env", "production"], None);
    assert!(!out.status.success() && text(&out).contains("--confirm"), "{}", text(&out));
    assert_eq!(names(&f.ns, Kind::K8sSecret).await, ["secret-stripe"], "nothing was done");

    let args = ["destroy", "--capsule", &f.name, "--env", "production", "--confirm", &f.name];
    let out = capsule(f.dir.path(), &args, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Destroy complete: 7 deleted"), "{}", text(&out));
    assert_eq!(names(&f.ns, Kind::K8sDeployment).await, ["theirs"], "an unlabelled object stays");
    for kind in [Kind::K8sService, Kind::K8sIngress, Kind::K8sHpa, Kind::K8sCronjob, Kind::K8sSecret] {
        assert!(names(&f.ns, kind).await.is_empty(), "{kind} left");
    }
    assert!(k8s::api(&client, &f.ns, Kind::K8sNamespace).get_opt(&f.ns).await.unwrap().is_some(), "namespace stays");
    assert!(!lease_exists(&f.ns).await, "the lock is released");

    // An environment never applied: nothing to destroy, and no namespace is made for the lock.
    let (gone, other) = (tempfile::tempdir().unwrap(), unique("k8sq"));
    write(gone.path(), "capsule.toml", &capsule_toml(&other, &f.image, "", ""));
    let out = capsule(gone.path(), &["destroy", "--capsule", &other, "--env", "production", "--confirm", &other], None);
    assert!(out.status.success() && text(&out).contains("nothing to destroy"), "{}", text(&out));
    let ns = format!("{other}-production");
    assert!(k8s::api(&client, &ns, Kind::K8sNamespace).get_opt(&ns).await.unwrap().is_none(), "no namespace made");
}

/// Applies a failing change and checks what the error says: the reason, its likely fix, and
/// that the previous template is back.
fn assert_fails_and_rolls_back(out: &Output, reason: &str, fix: &str) -> String {
    assert!(!out.status.success(), "{}", text(out));
    let said = text(out);
    assert!(said.contains("rollout of api failed: ") && said.contains(reason), "{said}");
    assert!(said.contains(&format!("likely fix: {fix}")), "{said}");
    assert!(said.contains("Rolled back to the template of revision 1"), "{said}");
    said
}

#[tokio::test]
async fn a_crashing_container_fails_the_rollout_with_crashloopbackoff_and_rolls_back() {
    let f = fixture("k8sn", "", "").await;
    f.applied(&[]);
    let good = image_of(&deployment(&f.ns, "api").await);
    f.rewrite(&format!("{}/testbed-crashloop/app:1", registry()), "", "");
    let out = apply(f.dir.path(), &[]);
    assert_fails_and_rolls_back(&out, "CrashLoopBackOff", "the container exits right after it starts");
    assert_eq!(image_of(&deployment(&f.ns, "api").await), good);
}

#[tokio::test]
async fn a_pod_no_node_has_room_for_fails_the_rollout_as_unschedulable_and_rolls_back() {
    let f = fixture("k8so", "", "").await;
    f.applied(&[]);
    // 8 vCPU and 16 GiB: a valid Fargate size, more than a test-bed node's 4 CPUs.
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap();
    write(f.dir.path(), "capsule.toml", &toml.replace("cpu = 256\nmemory = 512", "cpu = 8192\nmemory = 16384"));
    let out = apply(f.dir.path(), &[]);
    let said = assert_fails_and_rolls_back(&out, "Unschedulable", "no node has room for the pod's cpu and memory");
    assert!(said.contains("Insufficient cpu"), "the scheduler's message: {said}");
    let d = deployment(&f.ns, "api").await;
    let limits = serde_json::to_value(&d.spec.template.spec.unwrap().containers[0].resources).unwrap();
    assert_eq!(limits["limits"]["cpu"], "250m", "the previous template is back");
}

#[tokio::test]
async fn pods_that_never_become_ready_fail_the_rollout_at_its_deadline_and_roll_back() {
    let f = fixture("k8sp", "", "").await;
    f.applied(&[]);
    let good = image_of(&deployment(&f.ns, "api").await);
    f.rewrite(&format!("{}/testbed-unready/app:1", registry()), "", "");
    let out = capsule_with(f.dir.path(), &["apply"], &[("CAPSULE_ROLLOUT_TIMEOUT", "4s")]);
    let said = assert_fails_and_rolls_back(
        &out,
        "ProgressDeadlineExceeded",
        "the new pods never became ready: check the health path",
    );
    assert!(said.contains("containers with unready status: [api]"), "which pods, and why: {said}");
    assert_eq!(image_of(&deployment(&f.ns, "api").await), good);
}

#[tokio::test]
async fn a_second_apply_during_a_rollout_is_refused_naming_the_first() {
    let f = fixture("k8sr", "", "").await;
    f.applied(&[]);
    // The first apply waits on pods that never become ready, holding the lock meanwhile.
    f.rewrite(&format!("{}/testbed-unready/app:1", registry()), "", "");
    let first = Command::new(env!("CARGO_BIN_EXE_capsule"))
        .arg("apply")
        .current_dir(f.dir.path())
        .env("NO_COLOR", "1")
        .env("CAPSULE_ROLLOUT_POLL", "200ms")
        .env("CAPSULE_ROLLOUT_TIMEOUT", "8s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id();
    let started = std::time::Instant::now();
    while !lease_exists(&f.ns).await {
        assert!(started.elapsed().as_secs() < 20, "the first apply never took the lock");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = apply(f.dir.path(), &[]);
    assert!(!second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("is locked") && text(&second).contains(&format!("(pid {pid})")),
        "{}",
        text(&second)
    );
    let first = first.wait_with_output().unwrap();
    assert!(!first.status.success() && text(&first).contains("ProgressDeadlineExceeded"), "{}", text(&first));
    assert!(!lease_exists(&f.ns).await, "released after a failed apply too");
}

#[tokio::test]
async fn run_starts_a_job_from_the_live_template_and_exits_with_its_code() {
    use k8s_openapi::api::batch::v1::Job;
    let f = fixture("k8ss", "", "").await;
    f.applied(&[]);
    let out = capsule(f.dir.path(), &["run", &f.name, "production", "api", "--", "/app/manage", "check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("exited with code 0"), "{}", text(&out));
    let out =
        capsule(f.dir.path(), &["run", &f.name, "production", "api", "--", "/app/manage", "testbed:exit=4"], None);
    assert_eq!(out.status.code(), Some(4), "the command's exit code: {}", text(&out));

    let jobs: Vec<Job> =
        Api::<Job>::namespaced(client().await, &f.ns).list(&ListParams::default()).await.unwrap().items;
    assert_eq!(jobs.len(), 2);
    let d = deployment(&f.ns, "api").await;
    for j in &jobs {
        let c = &j.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.image, Some(image_of(&d)), "the live, pinned image");
        assert!(c.env.as_ref().unwrap().iter().any(|e| e.name == "STRIPE_KEY" && e.value_from.is_some()));
        let labels = j.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels.clone().unwrap();
        assert_eq!(labels["capsule/component"], "api-run", "the Service never selects a run's pod");
    }
    let revision = &d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"];
    assert_eq!(revision, "1", "the Deployment's template is untouched");
    let out = capsule(f.dir.path(), &["run", &f.name, "production", "api", "--detach", "--", "/app/manage", "x"], None);
    assert!(out.status.success() && text(&out).contains("job api-run-"), "{}", text(&out));
}

#[tokio::test]
async fn drift_is_a_plan_against_the_cluster_exit_2_when_someone_changed_a_live_object() {
    let f = fixture("k8st", "", "").await;
    f.applied(&[]);
    let out = capsule(f.dir.path(), &["drift"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let kubectl = common::root().join(".testbed/kube/bin/kubectl");
    let set =
        Command::new(kubectl).args(["-n", &f.ns, "set", "env", "deployment/api", "MODE=hand-edited"]).output().unwrap();
    assert!(set.status.success(), "{}", text(&set));
    let out = capsule(f.dir.path(), &["drift", "--format", "json"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let api = format!("{}.production.k8s_deployment.api", f.name);
    assert_eq!(changes(&doc), vec![(api.clone(), "update".to_string())], "{doc:#}");
    let c = common::change(&doc, &api);
    assert_eq!(c["attributes"][0]["before"], "hand-edited", "{c:#}");
}

/// `capsule github COMMAND` as GitHub Actions runs it on `event`, against the stand-in.
fn github_on(gh: &common::github::FakeGitHub, run: &Path, root: &Path, command: &str, event: &Value) -> Output {
    let path = run.join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["github", command, "--root"])
        .arg(root)
        .env("NO_COLOR", "1")
        .env("CAPSULE_ROLLOUT_POLL", "200ms")
        .env("CAPSULE_GITHUB_PR_WAIT", "5")
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_GRAPHQL_URL", &gh.graphql)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", common::github::TOKEN)
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_STEP_SUMMARY", run.join("summary.md"))
        .env("GITHUB_OUTPUT", run.join("output"))
        .envs(if command == "reconcile" {
            vec![("GITHUB_EVENT_NAME", "schedule"), ("GITHUB_SHA", "0123456789abcdef")]
        } else {
            vec![]
        })
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_plan_plans_a_changed_kubernetes_capsule_against_its_cluster() {
    let f = fixture("k8su", "", "").await;
    f.applied(&[]);
    let repo = git2::Repository::init(f.dir.path()).unwrap();
    let base = common::commit(&repo, "base");
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap();
    write(f.dir.path(), "capsule.toml", &toml.replace("MODE = \"live\"", "MODE = \"test\""));
    let head = common::commit(&repo, "change MODE");

    let gh = common::github::FakeGitHub::start();
    let run = tempfile::tempdir().unwrap();
    let pr = json!({ "pull_request": { "number": 7, "base": { "sha": base, "repo": { "full_name": "o/r" } },
                                       "head": { "sha": head, "repo": { "full_name": "o/r" } } } });
    let out = github_on(&gh, run.path(), f.dir.path(), "plan", &pr);
    assert!(out.status.success(), "{}", text(&out));
    let comments = gh.comments(7);
    let body = &comments.iter().find(|(_, b)| b.starts_with("<!-- capsule:plan -->")).expect("a plan comment").1;
    assert!(body.contains("k8s_deployment.api") && body.contains("MODE"), "only the changed env var: {body}");
    assert!(!body.contains("k8s_service"), "a no-op is not listed as a change: {body}");
    let outputs = std::fs::read_to_string(run.path().join("output")).unwrap();
    assert!(outputs.contains("has_changes=true"), "{outputs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_apply_applies_a_pushed_kubernetes_capsule_and_comments_how_to_roll_back() {
    let f = fixture("k8sv", "", "").await;
    f.applied(&[]);
    let repo = git2::Repository::init(f.dir.path()).unwrap();
    let base = common::commit(&repo, "base");
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap();
    write(f.dir.path(), "capsule.toml", &toml.replace("MODE = \"live\"", "MODE = \"test\""));
    let head = common::commit(&repo, "change MODE");
    let gh = common::github::FakeGitHub::start();
    gh.seed_pull(json!({ "number": 9, "merged": true, "merge_commit_sha": head }));
    let run = tempfile::tempdir().unwrap();
    let push = json!({ "ref": "refs/heads/main", "before": base, "after": head, "repository": { "full_name": "o/r" },
                       "head_commit": { "id": head, "message": "change MODE" } });
    let out = github_on(&gh, run.path(), f.dir.path(), "apply", &push);
    assert!(out.status.success(), "{}", text(&out));
    let d = deployment(&f.ns, "api").await;
    let rev = &d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"];
    assert_eq!(rev, "2", "the push rolled out: {}", text(&out));
    let marker = format!("<!-- capsule:apply {head} -->");
    let comments = gh.comments(9);
    let body = &comments.iter().find(|(_, b)| b.starts_with(&marker)).expect("an apply comment").1;
    assert!(body.contains(":white_check_mark: applied"), "{body}");
    assert!(body.contains(&format!("`capsule rollback {} production api`", f.name)), "{body}");
    assert!(!lease_exists(&f.ns).await, "the lock was taken and released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_kubernetes_apply_names_the_aws_environments_it_left_unapplied() {
    let f = fixture("k8sx", "", "").await;
    f.applied(&[]);
    // An AWS capsule declared before the Kubernetes one (aws/ sorts before capsule.toml).
    let aws = unique("k8sy");
    let secrets = |extra: &str| format!("[capsule]\nname = \"{aws}\"\n[secrets]\nkey = {{}}\n{extra}");
    write(f.dir.path(), "aws/capsule.toml", &secrets(""));
    let repo = git2::Repository::init(f.dir.path()).unwrap();
    let base = common::commit(&repo, "base");
    write(f.dir.path(), "aws/capsule.toml", &secrets("token = {}\n"));
    f.rewrite(&format!("{}/testbed-unpullable/app:1", registry()), "", "");
    let head = common::commit(&repo, "both runtimes");
    let gh = common::github::FakeGitHub::start();
    gh.seed_pull(json!({ "number": 10, "merged": true, "merge_commit_sha": head }));
    let run = tempfile::tempdir().unwrap();
    let push = json!({ "ref": "refs/heads/main", "before": base, "after": head, "repository": { "full_name": "o/r" },
                       "head_commit": { "id": head, "message": "both runtimes" } });
    let out = github_on(&gh, run.path(), f.dir.path(), "apply", &push);
    assert!(!out.status.success(), "the rollout fails: {}", text(&out));
    let marker = format!("<!-- capsule:apply {head} -->");
    let comments = gh.comments(10);
    let body = &comments.iter().find(|(_, b)| b.starts_with(&marker)).expect("an apply comment").1;
    assert!(
        body.contains(&format!("Not applied after the failure: `{aws}` · production")),
        "the AWS capsule, applied after the Kubernetes one, is the one not reached: {body}"
    );
    let line = body.lines().find(|l| l.contains("Not applied after the failure")).unwrap();
    assert!(!line.contains(&f.name), "the Kubernetes one was attempted: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_reconcile_heals_a_hand_edited_deployment_of_a_kubernetes_capsule() {
    let f = fixture("k8sw", "", "").await;
    let toml = std::fs::read_to_string(f.dir.path().join("capsule.toml")).unwrap();
    write(
        f.dir.path(),
        "capsule.toml",
        &toml.replace("runtime = \"kubernetes\"", "runtime = \"kubernetes\"\non_drift = \"heal\""),
    );
    f.applied(&[]);
    let kubectl = common::root().join(".testbed/kube/bin/kubectl");
    let set =
        Command::new(kubectl).args(["-n", &f.ns, "set", "env", "deployment/api", "MODE=hand-edited"]).output().unwrap();
    assert!(set.status.success(), "{}", text(&set));
    let gh = common::github::FakeGitHub::start();
    let run = tempfile::tempdir().unwrap();
    let out = github_on(&gh, run.path(), f.dir.path(), "reconcile", &json!({ "schedule": "17 6 * * 1-5" }));
    assert!(out.status.success(), "{}", text(&out));
    let outputs = std::fs::read_to_string(run.path().join("output")).unwrap();
    assert!(outputs.contains(&format!("healed=[\"{}/production\"]", f.name)), "{outputs}\n{}", text(&out));
    let d = deployment(&f.ns, "api").await;
    let c = &d.spec.template.spec.as_ref().unwrap().containers[0];
    let mode = c.env.as_ref().unwrap().iter().find(|e| e.name == "MODE").unwrap().value.clone();
    assert_eq!(mode.as_deref(), Some("live"), "put back");
    assert_eq!(changes(&plan(f.dir.path())), vec![]);
}
