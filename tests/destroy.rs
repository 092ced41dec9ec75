//! `capsule destroy` on the test bed: refused without the capsule's name, then everything
//! the capsule environment owns is deleted (services, images' repositories, site bucket
//! and distribution, secrets), another environment and other capsules untouched.

mod common;

use std::path::Path;
use std::process::Output;

use common::{SERVICES_ENV, capsule_with, changes, success_json, testbed, text, unique, write};
use serde_json::Value;

fn capsule(dir: &Path, args: &[&str]) -> Output {
    capsule_with(dir, args, SERVICES_ENV)
}

/// The plan's (address, action) pairs that are not no-ops.
fn plan(dir: &Path, env: &str) -> Vec<(String, String)> {
    changes(&success_json(&capsule(dir, &["plan", "--format", "json", "--env", env])))
}

#[test]
fn destroy_needs_the_name_and_then_deletes_everything_the_environment_owns() {
    testbed();
    let name = unique("gone");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n");
    write(root, "app/a.txt", "a\n");
    write(root, "site/index.html", "<h1>hi</h1>");
    write(
        root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[secrets]\nkey = {{}}\n[services.worker]\nbuild = \"app\"\n\
             [sites.web]\ndir = \"site\"\n[environments.staging]\n[environments.production]\n"
        ),
    );
    for env in ["staging", "production"] {
        let out = capsule(root, &["apply", "--env", env]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let declared = plan(root, "staging").len();
    assert_eq!(declared, 0);

    // Without the name, or with another one: refused, nothing touched.
    for args in [
        vec!["destroy", "--capsule", &name, "--env", "staging"],
        vec!["destroy", "--capsule", &name, "--env", "staging", "--confirm", "someone-else"],
    ] {
        let out = capsule(root, &args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(&format!("--confirm {name}")) && text(&out).contains("Nothing was done"));
    }
    assert_eq!(plan(root, "staging"), vec![]);

    let out =
        capsule(root, &["destroy", "--capsule", &name, "--env", "staging", "--confirm", &name, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    let deleted: Vec<&str> = doc["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "delete" && c["outcome"] == "applied")
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    for kind in ["ecs_service", "ecs_cluster", "ecr_repository", "s3_bucket", "cloudfront_distribution", "secret"] {
        assert!(deleted.contains(&kind), "{kind} not deleted: {deleted:?}");
    }
    // Staging is gone: every resource would be created again, but the secret, which is
    // only scheduled for deletion (30 days), would be restored. Production is untouched.
    let again = plan(root, "staging");
    assert!(!again.is_empty(), "{again:?}");
    for (address, action) in &again {
        let expected = if address.contains(".secret.") { "update" } else { "create" };
        assert_eq!(action, expected, "{address}");
    }
    assert_eq!(plan(root, "production"), vec![]);
    // Destroying what is gone is a no-op that succeeds.
    let out = capsule(root, &["destroy", "--capsule", &name, "--env", "staging", "--confirm", &name]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Destroy complete: 0 deleted."), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_made_by_hand_is_destroyed_with_its_data_and_staging_stays() {
    testbed();
    let name = unique("prev");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[secrets]\nkey = {{}}\n[databases.main]\nengine = \"postgres\"\n\
             [caches.kv]\nengine = \"redis\"\n[environments.staging]\n[environments.preview]\npreview = true\n"
        ),
    );
    for env in ["staging", "pr-7"] {
        let out = capsule(root, &["apply", "--env", env]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let listed = capsule(root, &["preview", "list"]);
    assert!(
        text(&listed).contains("pr-7") && text(&listed).contains("#7"),
        "a preview applied by hand is recorded: {}",
        text(&listed)
    );
    let out = capsule(root, &["apply"]);
    assert!(text(&out).contains(&format!("Skipping preview template {name}/preview")), "{}", text(&out));
    let db = common::db_instance(&format!("{name}-pr-7-main")).await.expect("the preview's database");
    assert_eq!(db.deletion_protection(), Some(false));
    assert_eq!(common::db_instance(&format!("{name}-staging-main")).await.unwrap().deletion_protection(), Some(true));

    let out = capsule(root, &["destroy", "--capsule", &name, "--env", "pr-7", "--confirm", &name]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("deleted without a final snapshot"), "{}", text(&out));
    let listed = capsule(root, &["preview", "list", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]", "destroy forgets the record: {}", text(&listed));
    assert!(common::db_instance(&format!("{name}-pr-7-main")).await.is_none());
    let rds = capsule::aws::Aws::from_env().await.rds("us-east-1");
    let snapshots = rds.describe_db_snapshots().send().await.unwrap();
    let left: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .filter(|s| s.starts_with(&format!("{name}-pr-7")))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        text(&out).contains("cache") && text(&out).contains("deleted without a final snapshot (a preview)"),
        "{}",
        text(&out)
    );
    let ec = capsule::aws::Aws::from_env().await.elasticache("us-east-1");
    let snaps = ec.describe_snapshots().send().await.unwrap();
    let left: Vec<&str> = snaps
        .snapshots()
        .iter()
        .filter_map(|s| s.snapshot_name())
        .filter(|s| s.contains(&format!("{name}-pr-7")))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(plan(root, "staging"), vec![], "staging is untouched");
}
