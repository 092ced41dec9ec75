//! Helpers shared by the integration tests (each test crate uses a part of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

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
