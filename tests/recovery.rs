//! Recovery end to end on the test bed: `capsule backup` takes a tagged manual snapshot of
//! an applied database, `capsule restore --from` it puts a new instance restored from it in
//! the database's place (the previous one kept, renamed, no longer owned), the connection
//! secret follows with its password, and the next plan has nothing to do. Refusals leave the
//! database untouched.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use aws_sdk_rds::types::DbInstance;
use capsule::aws::Aws;
use common::{capsule_with, db_instance, secret_json, testbed, text, unique, write};
use serde_json::Value;

const ENV: &[(&str, &str)] = &[("CAPSULE_RDS_POLL", "100ms"), ("CAPSULE_RDS_TIMEOUT", "60s")];

fn capsule(dir: &Path, args: &[&str]) -> Output {
    capsule_with(dir, args, ENV)
}

/// Every instance whose identifier starts with `prefix`.
async fn instances_named(prefix: &str) -> Vec<DbInstance> {
    let rds = Aws::from_env().await.rds("us-east-1");
    let all = rds.describe_db_instances().send().await.unwrap();
    all.db_instances()
        .iter()
        .filter(|d| d.db_instance_identifier().is_some_and(|i| i.starts_with(prefix)))
        .cloned()
        .collect()
}

fn tags(d: &DbInstance) -> BTreeMap<String, String> {
    d.tag_list().iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_into_a_new_instance_that_takes_the_database_place() {
    testbed();
    let name = unique("rec");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let id = format!("{name}-production-main");
    let secret_name = format!("capsule/{name}/production/db-main");
    write(root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n\n[databases.main]\nengine = \"postgres\"\n"));
    let out = capsule(root, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let before = db_instance(&id).await.expect("applied");
    let conn_before = secret_json(&secret_name).await;
    let password = conn_before["password"].as_str().unwrap().to_string();

    // An unknown database is a clear error naming what exists.
    let out = capsule(root, &["backup", &name, "production", "orders"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("declares no database `orders` (databases: main)"), "{}", text(&out));

    // backup: a manual snapshot, available, tagged as the database's.
    let out = capsule(root, &["backup", &name, "production", "main", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!((doc["database"].as_str(), doc["status"].as_str()), (Some(id.as_str()), Some("available")), "{doc}");
    let snapshot_id = doc["snapshot"].as_str().unwrap().to_string();
    assert!(snapshot_id.starts_with(&format!("{id}-manual-")), "{snapshot_id}");
    let rds = Aws::from_env().await.rds("us-east-1");
    let snaps = rds.describe_db_snapshots().db_snapshot_identifier(&snapshot_id).send().await.unwrap();
    let snap = &snaps.db_snapshots()[0];
    assert_eq!((snap.status(), snap.db_instance_identifier()), (Some("available"), Some(id.as_str())));
    let snap_tags: BTreeMap<&str, &str> =
        snap.tag_list().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    for (k, v) in [
        ("managed-by", "capsule"),
        ("capsule:name", name.as_str()),
        ("capsule:env", "production"),
        ("capsule:component", "main"),
    ] {
        assert_eq!(snap_tags.get(k), Some(&v), "{snap_tags:?}");
    }

    // --list: the database's snapshots, newest first.
    let out = capsule(root, &["backup", &name, "production", "main", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = capsule(root, &["backup", &name, "production", "main", "--list", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<&str> =
        list["snapshots"].as_array().unwrap().iter().map(|s| s["snapshot"].as_str().unwrap()).collect();
    assert_eq!(listed[..2], [second["snapshot"].as_str().unwrap(), snapshot_id.as_str()], "{list:#}");
    assert_eq!(list["snapshots"][1]["kind"], "manual");

    // restore without --confirm DB (or with another name) is refused.
    for confirm in [&[][..], &["--confirm", "production"][..]] {
        let mut args = vec!["restore", &name, "production", "main", "--from", &snapshot_id];
        args.extend_from_slice(confirm);
        let out = capsule(root, &args);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("--confirm main"), "{}", text(&out));
    }
    // A snapshot that does not exist: a clear error, the database untouched.
    let out =
        capsule(root, &["restore", &name, "production", "main", "--from", "no-such-snapshot", "--confirm", "main"]);
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("snapshot `no-such-snapshot` does not exist"), "{said}");
    assert!(said.contains(&format!("{id} is untouched and serving")), "{said}");
    let same = db_instance(&id).await.unwrap();
    assert_eq!(same.dbi_resource_id(), before.dbi_resource_id());
    assert_eq!(tags(&same), tags(&before));
    assert_eq!(instances_named(&id).await.len(), 1, "no copy left behind");

    // A snapshot of another instance is refused.
    let foreign = format!("{name}-elsewhere");
    rds.create_db_instance()
        .db_instance_identifier(&foreign)
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("someone")
        .master_user_password("not-a-real-password")
        .send()
        .await
        .unwrap();
    rds.create_db_snapshot().db_instance_identifier(&foreign).db_snapshot_identifier(&foreign).send().await.unwrap();
    let out = capsule(root, &["restore", &name, "production", "main", "--from", &foreign, "--confirm", "main"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("was taken of RDS instance {foreign}, not of database `main`")),
        "{}",
        text(&out)
    );
    assert_eq!(db_instance(&id).await.unwrap().dbi_resource_id(), before.dbi_resource_id());
    assert_eq!(instances_named(&id).await.len(), 1);

    // A restore waits for no apply: while another run holds the environment's apply lock, it
    // is refused and changes nothing.
    let s3 = Aws::from_env().await.s3("us-east-1");
    let (bucket, key) = ("capsule-locks-123456789012-us-east-1", format!("locks/{name}/production.json"));
    let holder = r#"{"owner": "someone@elsewhere (pid 1)", "acquired_at": "2026-01-01T00:00:00Z", "token": "t", "host": "elsewhere", "pid": 1}"#;
    s3.put_object().bucket(bucket).key(&key).body(holder.as_bytes().to_vec().into()).send().await.unwrap();
    let out = capsule(root, &["restore", &name, "production", "main", "--from", &snapshot_id, "--confirm", "main"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is locked") && text(&out).contains("Nothing was changed"), "{}", text(&out));
    assert_eq!(db_instance(&id).await.unwrap().dbi_resource_id(), before.dbi_resource_id());
    assert_eq!(instances_named(&id).await.len(), 1);
    s3.delete_object().bucket(bucket).key(&key).send().await.unwrap();

    // restore: a new instance from the snapshot takes the identifier.
    let out = capsule(root, &["restore", &name, "production", "main", "--from", &snapshot_id, "--confirm", "main"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains(&password), "the password leaked:\n{said}");
    let after = db_instance(&id).await.expect("the identifier is served");
    assert_ne!(after.dbi_resource_id(), before.dbi_resource_id(), "a new instance");
    assert!(after.instance_create_time().unwrap().secs() >= snap.snapshot_create_time().unwrap().secs());
    assert_eq!(after.db_instance_status(), Some("available"));
    assert_eq!(tags(&after).get("capsule:restored-from"), Some(&snapshot_id));
    let mut owned = tags(&after);
    owned.remove("capsule:restored-from");
    assert_eq!(owned, tags(&before), "the restored instance carries the database's tags");
    assert_eq!(
        (after.deletion_protection(), after.multi_az(), after.db_instance_class()),
        (before.deletion_protection(), before.multi_az(), before.db_instance_class())
    );
    assert_eq!(
        after.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        before.db_subnet_group().and_then(|g| g.db_subnet_group_name())
    );
    assert_eq!(after.vpc_security_groups(), before.vpc_security_groups());

    // The previous instance is kept under an -old- name, no longer owned.
    let old = instances_named(&format!("{id}-old-")).await;
    assert_eq!(old.len(), 1, "{old:?}");
    let old = &old[0];
    assert_eq!(old.dbi_resource_id(), before.dbi_resource_id(), "the previous instance itself");
    let old_tags = tags(old);
    for k in ["managed-by", "capsule:name", "capsule:env", "capsule:component", "capsule:connection-secret"] {
        assert!(!old_tags.contains_key(k), "{k} left on the previous instance: {old_tags:?}");
    }
    assert_eq!(old_tags.get("capsule:former-identifier"), Some(&id));
    assert!(said.contains(old.db_instance_identifier().unwrap()), "the previous instance is named:\n{said}");
    assert_eq!(instances_named(&id).await.len(), 2, "no restore copy left: {:?}", instances_named(&id).await);

    // The same connection secret points at the restored endpoint, password kept.
    let conn = secret_json(&secret_name).await;
    let host = after.endpoint().unwrap().address().unwrap();
    assert_eq!(conn["host"], host);
    assert_eq!(conn["password"], password.as_str());
    assert!(conn["url"].as_str().unwrap().ends_with(&format!("@{host}:5432/main?sslmode=require")), "{conn}");
    assert_eq!(tags(&after).get("capsule:connection-secret"), tags(&before).get("capsule:connection-secret"));

    // The capsule sees its database as declared: nothing to do.
    let out = capsule(root, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
