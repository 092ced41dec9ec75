//! Helpers shared by the integration tests (each test crate uses a part of them).
#![allow(dead_code)]

pub mod github;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Fails (never skips) when the test bed is not there: scripts/test starts it.
pub fn testbed() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| v.starts_with("http://127.0.0.1")),
        "these tests need the local test bed: eval \"$(scripts/testbed up)\" (scripts/test does it)"
    );
}

/// A capsule name no other test (or earlier run against the same test bed) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}{}{}", nanos % 100_000, N.fetch_add(1, Ordering::SeqCst))
}

/// Writes `body` to `root/rel`, creating folders.
pub fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// Stages everything (deletions too) and commits; returns the commit id.
pub fn commit(repo: &git2::Repository, message: &str) -> String {
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.com").unwrap();
    let parents: Vec<git2::Commit> = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents).unwrap().to_string()
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs the capsule binary in `dir`, without colours.
pub fn capsule(dir: &Path, args: &[&str]) -> Output {
    capsule_with(dir, args, &[])
}

/// What the tests that build images and roll services out set: buildah, quick rollout polls.
pub const SERVICES_ENV: &[(&str, &str)] = &[("CAPSULE_ROLLOUT_POLL", "200ms"), ("CAPSULE_BUILDER", "buildah")];

/// Runs the capsule binary in `dir`, without colours, with `env` set too.
pub fn capsule_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The JSON document a command printed, which must have succeeded.
pub fn success_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The (address, action) pairs of a plan document that are not no-ops.
pub fn changes(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| (c["address"].as_str().unwrap().to_string(), c["action"].as_str().unwrap().to_string()))
        .collect()
}

/// The change of `address` in a plan document.
pub fn change<'a>(doc: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    doc["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change of {address}: {doc:#}"))
}

/// The impact the plan gives one attribute of a change.
pub fn impact(c: &serde_json::Value, path: &str) -> String {
    let a = c["attributes"].as_array().unwrap().iter().find(|a| a["path"] == path).unwrap();
    a["impact"].as_str().unwrap_or_default().to_string()
}

/// The JSON a secret holds.
pub async fn secret_json(name: &str) -> serde_json::Value {
    let sm = capsule::aws::Aws::from_env().await.secrets("us-east-1");
    let v = sm.get_secret_value().secret_id(name).send().await.unwrap();
    serde_json::from_str(v.secret_string().unwrap()).unwrap()
}

/// The RDS instance `id`, or `None` when there is none.
pub async fn db_instance(id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    let rds = capsule::aws::Aws::from_env().await.rds("us-east-1");
    match rds.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(o) => o.db_instances().first().cloned(),
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_db_instance_not_found_fault(), "{e:?}");
            None
        }
    }
}

/// Creates the public hosted zone `name`; returns its id (without `/hostedzone/`).
pub async fn hosted_zone(name: &str) -> String {
    let r53 = capsule::aws::Aws::from_env().await.route53("us-east-1");
    let out = r53.create_hosted_zone().name(name).caller_reference(unique("ref")).send().await.unwrap();
    out.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_string()
}

/// Every record in the zone: (name without the final dot, type, values or alias target).
pub async fn zone_records(zone_id: &str) -> Vec<(String, String, Vec<String>)> {
    let r53 = capsule::aws::Aws::from_env().await.route53("us-east-1");
    let out = r53.list_resource_record_sets().hosted_zone_id(zone_id).max_items(300).send().await.unwrap();
    out.resource_record_sets()
        .iter()
        .map(|s| {
            let values = match s.alias_target() {
                Some(a) => vec![a.dns_name().to_string()],
                None => s.resource_records().iter().map(|r| r.value().to_string()).collect(),
            };
            (s.name().trim_end_matches('.').to_string(), s.r#type().as_str().to_string(), values)
        })
        .collect()
}

/// The repository's root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto of its own, with the test bed's patches, stopped when dropped.
pub struct OwnTestbed {
    child: Child,
    pub endpoint: String,
}

impl Drop for OwnTestbed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `env` is added to moto's environment (e.g. `CAPSULE_TESTBED_FAULTS`).
pub fn own_testbed(env: &[(&str, &str)]) -> OwnTestbed {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let python = root().join(".testbed/venv/bin/python");
    assert!(python.exists(), "the test bed's venv is missing: run scripts/testbed up");
    let child = Command::new(python)
        .arg(root().join("testbed/moto_patched.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_ACM_VALIDATION_WAIT", "1")
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "moto did not start on {port}");
        std::thread::sleep(Duration::from_millis(200));
    }
    OwnTestbed { child, endpoint }
}

/// examples/shop, copied so that nothing is written into the repository.
pub fn shop() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("cp").arg("-r").arg(root().join("examples/shop/.")).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    dir
}

pub async fn config(endpoint: &str, region: &str) -> aws_types::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_types::region::Region::new(region.to_string()))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
        .load()
        .await
}

/// The shop's zone, as the user would have it before the first apply.
pub async fn zone(endpoint: &str) {
    let r53 = aws_sdk_route53::Client::new(&config(endpoint, "us-east-1").await);
    r53.create_hosted_zone().name("example.com").caller_reference("shop").send().await.unwrap();
}
