//! The binary end to end: exit codes, output streams, colour, for the commands that need
//! no AWS.

use std::path::Path;
use std::process::{Command, Output};

fn capsule(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capsule"));
    cmd.args(args).env_remove("NO_COLOR");
    // No AWS endpoint or credentials: a command that tried to reach AWS would fail
    // differently (or hang), which the assertions below would catch.
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "x");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn examples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").display().to_string()
}

fn invalid_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        "[capsule]\nname = \"shop\"\n[services.api]\nimage = \"x\"\nprot = 80\n",
    )
    .unwrap();
    dir
}

#[test]
fn validate_reports_the_examples_valid() {
    let out = capsule(&["validate", "--root", &examples()], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3 capsules valid (5 environments).\n");
}

#[test]
fn invalid_config_exits_1_before_any_aws_call_for_every_command() {
    let dir = invalid_root();
    let root = dir.path().to_str().unwrap();
    for args in [
        vec!["validate", "--root", root],
        vec!["plan", "--root", root],
        vec!["plan", "--offline", "--root", root],
        vec!["apply", "--root", root],
    ] {
        let out = capsule(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("capsule.toml:5:1: unknown key `prot` in [services.api]"), "{args:?}: {err}");
        assert!(err.contains("nothing was sent to AWS"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn offline_plan_detailed_exitcode_is_2_with_changes() {
    let out = capsule(&["plan", "--offline", "--root", &examples(), "--capsule", "hello", "--detailed-exitcode"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = capsule(&["plan", "--offline", "--root", &examples(), "--capsule", "hello"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Plan: 4 to add, 0 to change, 0 to destroy."), "{text}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
}

#[test]
fn plan_json_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let out = capsule(
        &[
            "plan",
            "--offline",
            "--root",
            &examples(),
            "--env",
            "staging",
            "--format",
            "json",
            "--out",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["capsules"].as_array().unwrap().len(), 1, "only shop has a staging environment");
    assert_eq!(doc["capsules"][0]["environment"], "staging");
}

#[test]
fn unknown_selection_is_an_error_naming_what_exists() {
    let out = capsule(&["plan", "--offline", "--root", &examples(), "--capsule", "nope"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no capsule named `nope`") && err.contains("hello, demo, shop"), "{err}");
    let out = capsule(&["plan", "--offline", "--root", &examples(), "--env", "qa"], &[]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn schema_prints_json_schema() {
    let out = capsule(&["schema"], &[]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

#[test]
fn a_preview_template_is_skipped_once_and_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        "[capsule]\nname = \"shop\"\n[environments.staging]\n[environments.preview]\npreview = true\nttl = \"3d\"\n\
         [secrets]\nstripe = { description = \"key\" }\n",
    )
    .unwrap();
    let root = dir.path().to_str().unwrap();
    let out = capsule(&["plan", "--offline", "--root", root, "--format", "json"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let envs: Vec<&str> =
        doc["capsules"].as_array().unwrap().iter().map(|c| c["environment"].as_str().unwrap()).collect();
    assert_eq!(envs, ["staging"], "the template is not planned");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("Skipping preview template shop/preview").count(), 1, "{err}");

    let out = capsule(&["plan", "--offline", "--root", root, "--env", "preview"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a preview template") && err.contains("pr-<N>"), "{err}");
}

#[test]
fn env_pr_n_plans_the_preview_made_from_the_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        "[capsule]\nname = \"shop\"\n[environments.staging]\n[environments.preview]\npreview = true\n\
         [databases.main]\nengine = \"postgres\"\n",
    )
    .unwrap();
    let root = dir.path().to_str().unwrap();
    let out = capsule(&["plan", "--offline", "--root", root, "--env", "pr-7", "--format", "json"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["capsules"].as_array().unwrap().len(), 1, "{doc:#}");
    assert_eq!(doc["capsules"][0]["environment"], "pr-7");
    let db = doc["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "shop.pr-7.rds_instance.main")
        .expect("the preview's database");
    let protection = db["attributes"].as_array().unwrap().iter().find(|a| a["path"] == "deletion_protection").unwrap();
    assert_eq!(protection["after"], false, "a preview's database is disposable: {db:#}");
    // Without a template there is no pr-<N>.
    std::fs::write(dir.path().join("capsule.toml"), "[capsule]\nname = \"shop\"\n").unwrap();
    let out = capsule(&["plan", "--offline", "--root", root, "--env", "pr-7"], &[]);
    assert_eq!(out.status.code(), Some(1));
}
