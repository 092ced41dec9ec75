//! Databases end to end on the test bed: `capsule apply` on a capsule with one
//! `[databases.main]`, read back through the RDS and Secrets Manager APIs. Safe defaults,
//! a generated password that only the connection secret holds, change classification in
//! the plan, refusals (replacement without consent, shrinking storage, deleting a
//! protected database), and a deletion that leaves a final snapshot.

mod common;

use std::path::Path;

use capsule::aws::Aws;
use common::{capsule, change, changes, db_instance, impact, secret_json, success_json, testbed, text, unique, write};
use serde_json::Value;

/// Applies; returns the apply document and everything the command printed.
fn apply(dir: &Path, args: &[&str]) -> (Value, String) {
    let mut all = vec!["apply", "--format", "json"];
    all.extend_from_slice(args);
    let out = capsule(dir, &all);
    (success_json(&out), text(&out))
}

fn plan(dir: &Path) -> (Value, String) {
    let out = capsule(dir, &["plan", "--format", "json"]);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (doc, text(&out))
}

/// The capsule: a service that reads the database's url, and the database.
fn set_database(dir: &Path, name: &str, settings: &str) {
    write(
        dir,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n\n[services.api]\nimage = \"nginx:1.27\"\n\
             env = {{ DATABASE_URL = \"${{databases.main.url}}\" }}\n\n[databases.main]\n{settings}"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_is_safe_by_default_changed_carefully_and_never_lost() {
    testbed();
    let name = unique("db");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let id = format!("{name}-production-main");
    let rds_address = format!("{name}.production.rds_instance.main");
    set_database(root, &name, "engine = \"postgres\"\n");

    let (p, _) = plan(root);
    assert_eq!(change(&p, &rds_address)["action"], "create", "{p:#}");
    let (doc, log) = apply(root, &[]);
    assert_eq!(doc["ok"], true, "{log}");

    // Safe defaults, read back through the RDS API.
    let db = db_instance(&id).await.expect("created");
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.auto_minor_version_upgrade(), Some(true));
    assert_eq!(db.copy_tags_to_snapshot(), Some(true));
    assert_eq!(db.master_username(), Some("capsule"));
    assert_eq!(db.db_subnet_group().and_then(|g| g.db_subnet_group_name()), Some(id.as_str()));
    assert_eq!(db.vpc_security_groups().len(), 1);
    let tags: Vec<(&str, &str)> = db.tag_list().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert!(tags.contains(&("managed-by", "capsule")) && tags.contains(&("capsule:name", name.as_str())), "{tags:?}");

    // The connection secret holds everything a client needs; the password is nowhere else.
    let conn = secret_json(&format!("capsule/{name}/production/db-main")).await;
    let host = db.endpoint().unwrap().address().unwrap();
    assert_eq!(conn["engine"], "postgres");
    assert_eq!(conn["host"], host);
    assert_eq!(conn["port"], 5432);
    assert_eq!(conn["username"], "capsule");
    assert_eq!(conn["dbname"], "main");
    let password = conn["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 32);
    assert!(!password.contains(['/', '"', '@', ' ']), "RDS refuses these");
    let url = conn["url"].as_str().unwrap();
    // TLS required in the url: RDS for PostgreSQL refuses plaintext clients (rds.force_ssl).
    let tail = format!("@{host}:5432/main?sslmode=require");
    assert!(url.starts_with("postgres://capsule:") && url.ends_with(&tail), "{url}");
    let url_password = &url["postgres://capsule:".len()..url.len() - tail.len()];
    let decoded = percent_encoding::percent_decode_str(url_password).decode_utf8().unwrap();
    assert_eq!(decoded, password, "the url carries the percent-encoded password");
    assert!(!log.contains(&password) && !doc.to_string().contains(&password), "the password leaked:\n{log}");

    // The service gets the url as a secret reference to the secret's `url` key, never as
    // a value.
    let ecs = Aws::from_env().await.ecs("us-east-1");
    let td = ecs.describe_task_definition().task_definition(format!("{name}-production-api")).send().await.unwrap();
    let container = &td.task_definition().unwrap().container_definitions()[0];
    let reference = container.secrets().iter().find(|s| s.name() == "DATABASE_URL").expect("a secret reference");
    let sm = Aws::from_env().await.secrets("us-east-1");
    let arn = sm.describe_secret().secret_id(format!("capsule/{name}/production/db-main")).send().await.unwrap();
    assert_eq!(reference.value_from(), format!("{}:url::", arn.arn().unwrap()));
    assert!(container.environment().iter().all(|e| e.name() != Some("DATABASE_URL")));
    assert!(!format!("{td:?}").contains(&password), "the password is not in the task definition");

    // Nothing changed: nothing to do.
    let (p, out) = plan(root);
    assert_eq!(changes(&p), vec![], "{p:#}");
    assert!(!out.contains(&password));

    // A class change: planned as downtime, for the maintenance window by default. RDS
    // holds it as pending; the plan then has nothing to do but says what waits.
    set_database(root, &name, "engine = \"postgres\"\nclass = \"db.t4g.small\"\nstorage_gb = 40\n");
    let (p, _) = plan(root);
    let c = change(&p, &rds_address);
    assert_eq!(c["action"], "update", "{p:#}");
    assert_eq!(impact(c, "instance_class"), "downtime", "{c:#}");
    assert_eq!(impact(c, "allocated_storage_gb"), "in-place", "{c:#}");
    let reason = c["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("wait for the maintenance window"), "{c:#}");
    apply(root, &[]);
    let db = db_instance(&id).await.unwrap();
    assert_eq!(db.db_instance_class(), Some("db.t4g.micro"), "not before the window");
    let pending = db.pending_modified_values().expect("pending");
    assert_eq!((pending.db_instance_class(), pending.allocated_storage()), (Some("db.t4g.small"), Some(40)));
    let (p, _) = plan(root);
    assert_eq!(changes(&p), vec![], "{p:#}");
    let notes = p["capsules"][0]["notes"].to_string();
    assert!(
        notes.contains("waiting for the maintenance window") && notes.contains("instance_class db.t4g.small"),
        "{p:#}"
    );

    // apply_changes = "immediately": what waited applies now; the password is kept.
    set_database(
        root,
        &name,
        "engine = \"postgres\"\nclass = \"db.t4g.small\"\nstorage_gb = 40\napply_changes = \"immediately\"\n",
    );
    let (p, _) = plan(root);
    let c = change(&p, &rds_address);
    assert_eq!(c["action"], "update", "{p:#}");
    assert!(c["reason"].as_str().unwrap_or_default().contains("applies now"), "{c:#}");
    let (_, log) = apply(root, &[]);
    let db = db_instance(&id).await.unwrap();
    assert_eq!(db.db_instance_class(), Some("db.t4g.small"));
    assert_eq!(db.allocated_storage(), Some(40));
    assert!(db.pending_modified_values().is_none_or(|p| p.db_instance_class().is_none()));
    assert_eq!(secret_json(&format!("capsule/{name}/production/db-main")).await["password"], password.as_str());
    assert!(!log.contains(&password));
    assert_eq!(changes(&plan(root).0), vec![]);

    // A lost connection secret: planned to be written again; the new secret gets a new
    // password (set on the instance first), since nothing else knows the old one.
    let sm = Aws::from_env().await.secrets("us-east-1");
    let secret_name = format!("capsule/{name}/production/db-main");
    sm.delete_secret().secret_id(&secret_name).force_delete_without_recovery(true).send().await.unwrap();
    let (p, _) = plan(root);
    let c = change(&p, &rds_address);
    assert_eq!(c["action"], "update", "{p:#}");
    assert_eq!(impact(c, "connection_secret"), "in-place", "{c:#}");
    let (_, log) = apply(root, &[]);
    let conn = secret_json(&secret_name).await;
    let new_password = conn["password"].as_str().unwrap().to_string();
    assert_eq!(new_password.len(), 32);
    assert_ne!(new_password, password);
    assert_eq!(conn["host"], host);
    assert!(!log.contains(&new_password) && !log.contains(&password), "{log}");
    let password = new_password;
    assert_eq!(changes(&plan(root).0), vec![]);

    // Storage never shrinks: a plan error, and apply refuses.
    set_database(root, &name, "engine = \"postgres\"\nclass = \"db.t4g.small\"\nstorage_gb = 30\n");
    let (p, _) = plan(root);
    let errors = p["capsules"][0]["errors"].to_string();
    assert!(errors.contains("RDS cannot shrink storage (40 -> 30 GB)"), "{p:#}");
    let out = capsule(root, &["apply"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(db_instance(&id).await.unwrap().allocated_storage(), Some(40));

    // An engine change replaces the database: planned so, refused without consent.
    set_database(root, &name, "engine = \"mysql\"\nclass = \"db.t4g.small\"\nstorage_gb = 40\n");
    let (p, _) = plan(root);
    let c = change(&p, &rds_address);
    assert_eq!(c["action"], "replace", "{p:#}");
    assert_eq!(impact(c, "engine"), "replacement", "{c:#}");
    assert!(c["reason"].as_str().unwrap().contains("engine cannot change in place"), "{c:#}");
    let out = capsule(root, &["apply"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--allow-destroy"), "{}", text(&out));
    let db = db_instance(&id).await.unwrap();
    assert_eq!(db.engine(), Some("postgres"), "untouched");

    // Removing a protected database is refused, even with --allow-destroy.
    write(root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n"));
    let (p, _) = plan(root);
    assert_eq!(change(&p, &rds_address)["action"], "delete", "{p:#}");
    let out = capsule(root, &["apply", "--allow-destroy"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("turn deletion_protection off first"), "{}", text(&out));
    assert!(db_instance(&id).await.is_some(), "a protected database is never deleted");

    // Protection off (one apply), then removal (another) leaves a final snapshot.
    set_database(
        root,
        &name,
        "engine = \"postgres\"\nclass = \"db.t4g.small\"\nstorage_gb = 40\ndeletion_protection = false\n",
    );
    let (p, _) = plan(root);
    assert_eq!(impact(change(&p, &rds_address), "deletion_protection"), "in-place", "{p:#}");
    apply(root, &[]);
    assert_eq!(db_instance(&id).await.unwrap().deletion_protection(), Some(false));
    assert_eq!(changes(&plan(root).0), vec![]);

    write(root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n"));
    let out = capsule(root, &["apply"]);
    assert!(!out.status.success(), "deleting a database needs --allow-destroy: {}", text(&out));
    assert!(db_instance(&id).await.is_some());
    let (doc, log) = apply(root, &["--allow-destroy"]);
    assert_eq!(doc["ok"], true, "{log}");
    assert!(db_instance(&id).await.is_none(), "deleted");
    let snapshot = log
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{id}-final-")))
        .unwrap_or_else(|| panic!("the snapshot name is printed:\n{log}"))
        .to_string();
    let rds = Aws::from_env().await.rds("us-east-1");
    let snaps = rds.describe_db_snapshots().db_snapshot_identifier(&snapshot).send().await.unwrap();
    assert_eq!(snaps.db_snapshots()[0].db_instance_identifier(), Some(id.as_str()));
    assert!(!log.contains(&password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprotected_mysql_database_with_on_delete_delete_leaves_no_snapshot() {
    testbed();
    let name = unique("dbm");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let id = format!("{name}-production-main");
    set_database(
        root,
        &name,
        "engine = \"mysql\"\nmulti_az = false\ndeletion_protection = false\non_delete = \"delete\"\n",
    );
    let (doc, log) = apply(root, &[]);
    assert_eq!(doc["ok"], true, "{log}");
    let db = db_instance(&id).await.unwrap();
    assert_eq!((db.engine(), db.multi_az(), db.deletion_protection()), (Some("mysql"), Some(false), Some(false)));
    let conn = secret_json(&format!("capsule/{name}/production/db-main")).await;
    assert_eq!(conn["port"], 3306);
    let url = conn["url"].as_str().unwrap();
    assert!(url.starts_with("mysql://capsule:") && url.ends_with("/main?ssl-mode=REQUIRED"), "{conn}");
    assert_eq!(changes(&plan(root).0), vec![]);

    // The subnet group spans the capsule VPC's isolated subnets, one per zone.
    let rds = Aws::from_env().await.rds("us-east-1");
    let groups = rds.describe_db_subnet_groups().db_subnet_group_name(&id).send().await.unwrap();
    let ec2 = Aws::from_env().await.ec2("us-east-1");
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Filter::builder().name(format!("tag:{k}")).values(v).build();
    let isolated = ec2
        .describe_subnets()
        .filters(tag("capsule:name", &name))
        .filters(tag("capsule:env", "production"))
        .send()
        .await
        .unwrap();
    let mut want: Vec<&str> = isolated
        .subnets()
        .iter()
        .filter(|s| {
            s.tags()
                .iter()
                .any(|t| t.key() == Some("capsule:component") && t.value().is_some_and(|v| v.starts_with("isolated-")))
        })
        .filter_map(|s| s.subnet_id())
        .collect();
    want.sort();
    let mut have: Vec<&str> =
        groups.db_subnet_groups()[0].subnets().iter().filter_map(|s| s.subnet_identifier()).collect();
    have.sort();
    assert_eq!((have.len(), have), (2, want));
    assert_eq!(groups.db_subnet_groups()[0].vpc_id(), isolated.subnets()[0].vpc_id());

    write(root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n"));
    let (doc, log) = apply(root, &["--allow-destroy"]);
    assert_eq!(doc["ok"], true, "{log}");
    assert!(db_instance(&id).await.is_none());
    assert!(log.contains("without a final snapshot"), "{log}");
    let snaps = rds.describe_db_snapshots().db_instance_identifier(&id).send().await.unwrap();
    assert!(snaps.db_snapshots().is_empty(), "{snaps:?}");
    assert!(rds.describe_db_subnet_groups().db_subnet_group_name(&id).send().await.is_err(), "subnet group deleted");
}

/// The database's parameter group and its apply status, and capsule's TLS parameter in it.
async fn parameter_group_of(id: &str, parameter: &str) -> (String, String, Option<String>) {
    let db = db_instance(id).await.expect("the instance");
    let g = &db.db_parameter_groups()[0];
    let name = g.db_parameter_group_name().unwrap().to_string();
    let rds = Aws::from_env().await.rds("us-east-1");
    let params = rds.describe_db_parameters().db_parameter_group_name(&name).source("user").send().await.unwrap();
    let value = params
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some(parameter))
        .and_then(|p| p.parameter_value().map(str::to_string));
    (name, g.parameter_apply_status().unwrap_or_default().to_string(), value)
}

fn notes(doc: &Value) -> String {
    doc["capsules"][0]["notes"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_required_by_the_databases_own_parameter_group_through_reboots_and_upgrades() {
    testbed();
    let name = unique("dbtls");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let id = format!("{name}-production-main");
    let settings = "engine = \"mysql\"\nversion = \"8.0\"\nmulti_az = false\ndeletion_protection = false\non_delete = \"delete\"\n";
    set_database(root, &name, settings);
    let (doc, log) = apply(root, &[]);
    assert_eq!(doc["ok"], true, "{log}");
    let group = format!("{id}-mysql8-0");
    assert_eq!(
        parameter_group_of(&id, "require_secure_transport").await,
        (group.clone(), "in-sync".into(), Some("1".into()))
    );
    assert_eq!(changes(&plan(root).0), vec![]);

    // An instance on another group (made before capsule had its own): moved, and the plan
    // says a reboot is needed, which capsule leaves to the user unless told otherwise.
    let rds = Aws::from_env().await.rds("us-east-1");
    let foreign = format!("{name}-foreign");
    rds.create_db_parameter_group()
        .db_parameter_group_name(&foreign)
        .db_parameter_group_family("mysql8.0")
        .description("not capsule's")
        .send()
        .await
        .unwrap();
    rds.modify_db_instance().db_instance_identifier(&id).db_parameter_group_name(&foreign).send().await.unwrap();
    rds.reboot_db_instance().db_instance_identifier(&id).send().await.unwrap();
    let (p, _) = plan(root);
    let rds_address = format!("{name}.production.rds_instance.main");
    assert_eq!(changes(&p), vec![(rds_address.clone(), "update".to_string())], "{p:#}");
    let c = change(&p, &rds_address);
    assert_eq!(impact(c, "parameter_group"), "reboot");
    assert!(c["reason"].as_str().unwrap().contains("applies at the next reboot"), "{c:#}");
    let (doc, log) = apply(root, &[]);
    assert_eq!(doc["ok"], true, "{log}");
    assert!(!log.contains("rebooting"), "{log}");
    assert_eq!(parameter_group_of(&id, "require_secure_transport").await.1, "pending-reboot");
    let (p, _) = plan(root);
    assert_eq!(changes(&p), vec![]);
    assert!(notes(&p).contains("waits for a reboot"), "{p:#}");
    set_database(root, &name, &format!("{settings}apply_changes = \"immediately\"\n"));
    let (doc, log) = apply(root, &[]);
    assert_eq!(doc["ok"], true, "{log}");
    assert!(log.contains(&format!("database {id}: rebooting to apply parameter group {group}")), "{log}");
    assert_eq!(parameter_group_of(&id, "require_secure_transport").await.1, "in-sync");
    assert!(!notes(&plan(root).0).contains("waits for a reboot"));

    // A major upgrade (8.0 to 8.4) needs a group of the new family: made first, the instance
    // moves to it with the upgrade, then the old group goes.
    let upgraded = settings.replace("\"8.0\"", "\"8.4\"");
    set_database(root, &name, &format!("{upgraded}apply_changes = \"immediately\"\n"));
    let (p, _) = plan(root);
    assert_eq!(change(&p, &format!("{name}.production.db_parameter_group.main"))["action"], "replace", "{p:#}");
    let (doc, log) = apply(root, &[]);
    assert_eq!(doc["ok"], true, "{log}");
    let new_group = format!("{id}-mysql8-4");
    assert_eq!(parameter_group_of(&id, "require_secure_transport").await.0, new_group);
    assert_eq!(db_instance(&id).await.unwrap().engine_version(), Some("8.4"));
    assert!(
        rds.describe_db_parameter_groups().db_parameter_group_name(&group).send().await.is_err(),
        "old group gone: {log}"
    );
    assert_eq!(changes(&plan(root).0), vec![]);

    // Removing the database removes its group; the foreign one stays.
    write(root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n"));
    let (doc, log) = apply(root, &["--allow-destroy"]);
    assert_eq!(doc["ok"], true, "{log}");
    assert!(rds.describe_db_parameter_groups().db_parameter_group_name(&new_group).send().await.is_err());
    assert!(rds.describe_db_parameter_groups().db_parameter_group_name(&foreign).send().await.is_ok());
}
