//! `capsule changed` on real git repositories made in temporary directories.

mod common;

use common::{commit, write};
use std::path::Path;
use std::process::{Command, Output};

use git2::Repository;

fn changed(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsule")).arg("changed").args(args).arg("--root").arg(root).output().unwrap()
}

fn names(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().iter().map(|c| c["capsule"].as_str().unwrap().to_string()).collect()
}

/// Three capsules: `api` builds from a shared folder outside its own; `web` has a site;
/// `other` is untouched by every change below.
fn repo() -> (tempfile::TempDir, Repository, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Repository::init(root).unwrap();
    write(
        root,
        "apps/api/capsule.toml",
        "[capsule]\nname = \"api\"\n[environments.staging]\n[environments.production]\n[services.api]\nbuild = \"../../shared/ctx\"\n",
    );
    write(root, "shared/ctx/Dockerfile", "FROM scratch\n");
    write(root, "apps/web/capsule.toml", "[capsule]\nname = \"web\"\n[sites.web]\ndir = \"public\"\n");
    write(root, "apps/web/public/index.html", "hi");
    write(root, "apps/other/capsule.toml", "[capsule]\nname = \"other\"\n");
    write(root, "README.md", "readme");
    let base = commit(&repo, "base");
    (dir, repo, base)
}

#[test]
fn a_change_inside_a_capsule_directory_marks_only_that_capsule() {
    let (dir, repo, base) = repo();
    write(dir.path(), "apps/web/public/index.html", "hello");
    let head = commit(&repo, "edit web");
    assert_eq!(names(&changed(dir.path(), &["--base", &base, "--head", &head, "--format", "json"])), ["web"]);
}

#[test]
fn a_change_in_a_referenced_path_outside_marks_the_capsule() {
    let (dir, repo, base) = repo();
    write(dir.path(), "shared/ctx/Dockerfile", "FROM scratch\nCOPY x /x\n");
    let head = commit(&repo, "edit shared context");
    let out = changed(dir.path(), &["--base", &base, "--head", &head, "--format", "json"]);
    assert_eq!(names(&out), ["api"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["because"], "shared/ctx/Dockerfile");
}

#[test]
fn unrelated_changes_mark_nothing() {
    let (dir, repo, base) = repo();
    write(dir.path(), "README.md", "new readme");
    let head = commit(&repo, "docs");
    assert!(names(&changed(dir.path(), &["--base", &base, "--head", &head, "--format", "json"])).is_empty());
}

#[test]
fn matrix_has_one_entry_per_changed_capsule_and_environment() {
    let (dir, repo, base) = repo();
    write(
        dir.path(),
        "apps/api/capsule.toml",
        "[capsule]\nname = \"api\"\n[environments.staging]\n[environments.production]\n[services.api]\nbuild = \"../../shared/ctx\"\ncount = 2\n",
    );
    write(dir.path(), "apps/web/public/new.html", "new");
    commit(&repo, "two capsules");
    let out = changed(dir.path(), &["--base", &base, "--format", "matrix"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({ "include": [
            { "capsule": "api", "environment": "staging", "dir": "apps/api" },
            { "capsule": "api", "environment": "production", "dir": "apps/api" },
            { "capsule": "web", "environment": "production", "dir": "apps/web" },
        ] })
    );
}

#[test]
fn a_missing_base_says_how_to_fetch_it() {
    let (dir, _repo, _) = repo();
    let out = changed(dir.path(), &["--base", "0123456789abcdef0123456789abcdef01234567"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not in this clone") && err.contains("fetch-depth: 0"), "{err}");
}
