//! `capsule backup` and `capsule restore` (docs/recovery.md): manual snapshots of a capsule
//! environment's database, and a restore into a new instance that takes the database's
//! identifier only once it is available. Talks to RDS and Secrets Manager directly, under
//! the environment's apply lock for a restore; it never deletes an instance.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::SystemTime;

use aws_sdk_rds::primitives::{DateTime, DateTimeFormat};
use aws_sdk_rds::types::{DbInstance, DbSnapshot, Tag};
use serde::Serialize;

use crate::aws::adapters::rds_instance::{self, TAG_CONNECTION_SECRET};
use crate::aws::{AwsError, AwsResultExt, ErrorKind, FoundExt};
use crate::config::Project;
use crate::engine::Session;
use crate::lock;
use crate::model::{self, ExpandContext, Kind, TAG_MANAGED_BY};
use crate::output::OutputFormat;

/// Tags on an instance a restore replaced: when, by which snapshot, and the identifier it had.
pub const TAG_REPLACED_AT: &str = "capsule:replaced-at";
pub const TAG_REPLACED_BY_SNAPSHOT: &str = "capsule:replaced-by-snapshot";
pub const TAG_FORMER_IDENTIFIER: &str = "capsule:former-identifier";
/// Tag on a restored instance: the snapshot it was restored from.
pub const TAG_RESTORED_FROM: &str = "capsule:restored-from";

/// A capsule environment's database, named as the model names it.
#[derive(Debug, Clone)]
pub struct Database {
    pub capsule: String,
    pub env: String,
    /// The `[databases.NAME]` name.
    pub name: String,
    /// The RDS instance identifier: `<capsule>-<env>-<name>`, shortened to 63 characters.
    pub identifier: String,
    pub region: String,
    /// The ownership tags capsule gives it.
    pub tags: BTreeMap<String, String>,
}

impl Database {
    fn label(&self) -> String {
        format!("database `{}` of {}/{} (RDS instance {})", self.name, self.capsule, self.env, self.identifier)
    }

    fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

/// Finds `[databases.DB]` of a capsule environment; an unknown name is an error that lists
/// what exists.
pub fn find(project: &Project, session: &Session, capsule: &str, env: &str, db: &str) -> anyhow::Result<Database> {
    let names = |v: Vec<&str>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let c = project.capsule(capsule).ok_or_else(|| {
        anyhow::anyhow!(
            "no capsule named `{capsule}` (capsules: {})",
            names(project.capsules.iter().map(|c| c.name.as_str()).collect())
        )
    })?;
    let e = c.environment(env).ok_or_else(|| {
        anyhow::anyhow!(
            "capsule `{capsule}` has no environment `{env}` (environments: {})",
            names(c.environments.iter().map(|e| e.name.as_str()).collect())
        )
    })?;
    let ctx = ExpandContext { account: session.account.clone(), default_region: session.default_region.clone() };
    let desired = model::expand(c, e, &ctx);
    let databases: Vec<&model::Resource> =
        desired.resources.iter().filter(|r| r.address.kind == Kind::RdsInstance).collect();
    let r = databases.iter().find(|r| r.address.name == db).ok_or_else(|| {
        anyhow::anyhow!(
            "{capsule}/{env} declares no database `{db}` (databases: {})",
            names(databases.iter().map(|r| r.address.name.as_str()).collect())
        )
    })?;
    Ok(Database {
        capsule: capsule.to_string(),
        env: env.to_string(),
        name: db.to_string(),
        identifier: r.aws_name.clone(),
        region: r.region.clone(),
        tags: r.tags.clone(),
    })
}

// ---- the commands ----------------------------------------------------------------------

/// `capsule backup`: a manual snapshot, or with `--list` the database's snapshots, printed
/// for people or as JSON.
pub async fn run_backup(
    project: &Project,
    capsule: &str,
    env: &str,
    db: &str,
    list: bool,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let session = Session::connect().await?;
    let database = find(project, &session, capsule, env, db)?;
    if list {
        let snapshots = snapshots(&session, &database).await?;
        match format {
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "database": database.identifier,
                    "snapshots": snapshots,
                }))?
            ),
            OutputFormat::Text if snapshots.is_empty() => {
                println!("No snapshots of {capsule}/{env} database `{db}` ({}).", database.identifier)
            }
            OutputFormat::Text => {
                let width = snapshots.iter().map(|s| s.snapshot.len()).max().unwrap_or(8).max(8);
                println!("{:width$}  {:9}  {:9}  CREATED", "SNAPSHOT", "KIND", "STATUS");
                for s in &snapshots {
                    println!("{:width$}  {:9}  {:9}  {}", s.snapshot, s.kind, s.status, s.created);
                }
            }
        }
        return Ok(());
    }
    let snapshot = backup(&session, &database).await?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "snapshot": snapshot.snapshot,
                "database": database.identifier,
                "status": snapshot.status,
            }))?
        ),
        OutputFormat::Text => {
            println!("{}", snapshot.snapshot);
            eprintln!("Snapshot of {capsule}/{env} database `{db}` ({}) is {}.", database.identifier, snapshot.status);
        }
    }
    Ok(())
}

/// Refuses `capsule restore` unless `--confirm` repeats the database's name.
pub fn confirm_restore(capsule: &str, env: &str, db: &str, from: &str, confirm: Option<&str>) -> anyhow::Result<()> {
    if confirm != Some(db) {
        anyhow::bail!(
            "capsule restore switches database `{db}` of {capsule}/{env} to the data of snapshot {from}. Nothing was done.\n\
             Repeat the database's name to confirm: capsule restore {capsule} {env} {db} --from {from} --confirm {db}"
        );
    }
    Ok(())
}

/// `capsule restore`: a snapshot into a new instance, which then takes the database's
/// place; says what became of the previous instance and how to delete it.
pub async fn run_restore(
    project: &Project,
    capsule: &str,
    env: &str,
    db: &str,
    from: &str,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let session = Session::connect().await?;
    let database = find(project, &session, capsule, env, db)?;
    let done = restore(&session, &database, from).await?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&done)?),
        OutputFormat::Text => {
            let old = &done.previous;
            println!(
                "Restored {capsule}/{env} database `{db}` from snapshot {from}.\n\
                 \x20 {} is the restored instance; the connection secret {} (same secret, same password).\n\
                 \x20 The previous instance is kept as {old}, no longer managed by capsule.\n\
                 When the restored data is right, delete it (a final snapshot keeps a copy):\n\
                 \x20 aws rds modify-db-instance --db-instance-identifier {old} --no-deletion-protection --apply-immediately\n\
                 \x20 aws rds delete-db-instance --db-instance-identifier {old} --final-db-snapshot-identifier {old}-final",
                done.database,
                if done.secret_updated { "points at it" } else { "already pointed at it" },
            );
        }
    }
    Ok(())
}

// ---- names -----------------------------------------------------------------------------

/// UTC `yyyymmddhhmmss`.
pub fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string().chars().filter(char::is_ascii_digit).collect()
}

/// `<identifier>-manual-<stamp>` (snapshot identifiers allow 255 characters).
pub fn snapshot_name(identifier: &str, stamp: &str) -> String {
    model::aws_name(&[identifier, "manual", stamp], 255)
}

/// `<identifier>-restore-<stamp>`: where a snapshot is restored before the switch.
pub fn restore_name(identifier: &str, stamp: &str) -> String {
    model::aws_name(&[identifier, "restore", stamp], 63)
}

/// `<identifier>-old-<stamp>`: what the replaced instance is renamed to.
pub fn old_name(identifier: &str, stamp: &str) -> String {
    model::aws_name(&[identifier, "old", stamp], 63)
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn tags_of(d: &DbInstance) -> BTreeMap<String, String> {
    d.tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

fn time(t: Option<&DateTime>) -> String {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).unwrap_or_default()
}

// ---- waiting ---------------------------------------------------------------------------

enum Step<T> {
    Done(T),
    Waiting(String),
}

/// Polls `check` until it is done, printing each new status, until `CAPSULE_RDS_TIMEOUT`.
async fn wait_for<T, F, Fut>(what: &str, operation: &'static str, mut check: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>, AwsError>>,
{
    let limit = rds_instance::wait_limit();
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = String::new();
    loop {
        match check().await? {
            Step::Done(t) => return Ok(t),
            Step::Waiting(status) => {
                if status != last {
                    eprintln!("{what}: {status}");
                    last = status;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(AwsError::new(
                ErrorKind::Transient,
                operation,
                format!("{what}: still {last} after {}", humantime::format_duration(limit)),
            ));
        }
        tokio::time::sleep(rds_instance::poll_interval()).await;
    }
}

async fn instance(rds: &aws_sdk_rds::Client, id: &str) -> Result<Option<DbInstance>, AwsError> {
    let out =
        rds.describe_db_instances().db_instance_identifier(id).send().await.aws("rds:DescribeDBInstances").found()?;
    // While RDS renames an instance, the old identifier may still answer with the new one.
    Ok(out.and_then(|o| o.db_instances().first().cloned()).filter(|d| d.db_instance_identifier() == Some(id)))
}

async fn snapshot(rds: &aws_sdk_rds::Client, id: &str) -> Result<Option<DbSnapshot>, AwsError> {
    let out =
        rds.describe_db_snapshots().db_snapshot_identifier(id).send().await.aws("rds:DescribeDBSnapshots").found()?;
    Ok(out.and_then(|o| o.db_snapshots().first().cloned()))
}

/// Waits until instance `id` is available with an endpoint.
async fn available(rds: &aws_sdk_rds::Client, id: &str) -> Result<DbInstance, AwsError> {
    wait_for(&format!("database {id}"), "rds:DescribeDBInstances", || async {
        let Some(d) = instance(rds, id).await? else {
            return Ok(Step::Waiting("not there yet".into()));
        };
        let status = d.db_instance_status().unwrap_or_default().to_string();
        if matches!(
            status.as_str(),
            "failed" | "incompatible-parameters" | "incompatible-network" | "incompatible-restore" | "storage-full"
        ) {
            return Err(AwsError::new(
                ErrorKind::Other,
                "rds:DescribeDBInstances",
                format!("database {id} is {status}"),
            ));
        }
        let has_endpoint = d.endpoint().and_then(|e| e.address()).is_some();
        Ok(if status == "available" && has_endpoint { Step::Done(d) } else { Step::Waiting(status) })
    })
    .await
}

/// Waits until no instance answers to `id` (a rename finished).
async fn freed(rds: &aws_sdk_rds::Client, id: &str) -> Result<(), AwsError> {
    wait_for(&format!("identifier {id}"), "rds:DescribeDBInstances", || async {
        Ok(match instance(rds, id).await? {
            None => Step::Done(()),
            Some(d) => Step::Waiting(format!("still in use ({})", d.db_instance_status().unwrap_or_default())),
        })
    })
    .await
}

/// Renames instance `from` to `to` at once and waits until `to` is available and `from` free.
async fn rename(rds: &aws_sdk_rds::Client, from: &str, to: &str) -> Result<DbInstance, AwsError> {
    rds.modify_db_instance()
        .db_instance_identifier(from)
        .new_db_instance_identifier(to)
        .apply_immediately(true)
        .send()
        .await
        .aws("rds:ModifyDBInstance")?;
    freed(rds, from).await?;
    available(rds, to).await
}

// ---- backup ----------------------------------------------------------------------------

/// The database's live instance, which must carry its ownership tags.
async fn owned_instance(rds: &aws_sdk_rds::Client, db: &Database) -> anyhow::Result<DbInstance> {
    let d = instance(rds, &db.identifier).await?.ok_or_else(|| {
        anyhow::anyhow!("{} does not exist in {} (has the capsule been applied?)", db.label(), db.region)
    })?;
    if !db.owns(&tags_of(&d)) {
        anyhow::bail!(
            "RDS instance {} exists but is not tagged as {}/{}'s database `{}`: capsule will not touch it",
            db.identifier,
            db.capsule,
            db.env,
            db.name
        );
    }
    Ok(d)
}

/// A snapshot, as `backup` and `backup --list` report it.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub snapshot: String,
    /// The instance it was taken of.
    pub database: String,
    /// `manual` (capsule backup or by hand), `final` (left by a delete), `automated`.
    pub kind: String,
    pub status: String,
    /// RFC 3339; empty while RDS has not said.
    pub created: String,
    pub storage_gb: Option<i32>,
    pub engine_version: Option<String>,
    #[serde(skip)]
    created_secs: i64,
}

impl SnapshotInfo {
    fn of(s: &DbSnapshot) -> SnapshotInfo {
        let id = s.db_snapshot_identifier().unwrap_or_default().to_string();
        let kind = match s.snapshot_type() {
            Some("automated") => "automated",
            _ if id.contains("-final-") => "final",
            _ => "manual",
        };
        SnapshotInfo {
            kind: kind.to_string(),
            database: s.db_instance_identifier().unwrap_or_default().to_string(),
            status: s.status().unwrap_or_default().to_string(),
            created: time(s.snapshot_create_time()),
            created_secs: s.snapshot_create_time().map(|t| t.secs()).unwrap_or(i64::MAX),
            storage_gb: s.allocated_storage(),
            engine_version: s.engine_version().map(str::to_string),
            snapshot: id,
        }
    }
}

/// Takes a manual snapshot of the database, tagged as the database's, and waits until it is
/// available.
pub async fn backup(session: &Session, db: &Database) -> anyhow::Result<SnapshotInfo> {
    let rds = session.aws.rds(&db.region);
    owned_instance(&rds, db).await?;
    let tags: Vec<Tag> = db.tags.iter().map(|(k, v)| tag(k, v)).collect();
    let mut attempts = 0;
    let id = loop {
        let id = snapshot_name(&db.identifier, &stamp(SystemTime::now()));
        let created = rds
            .create_db_snapshot()
            .db_instance_identifier(&db.identifier)
            .db_snapshot_identifier(&id)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .aws("rds:CreateDBSnapshot");
        match created {
            Ok(_) => break id,
            // Another backup of this database in the same second: the next second's name.
            Err(e) if e.kind == ErrorKind::Conflict && attempts < 3 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => anyhow::bail!("cannot snapshot {}: {e}", db.label()),
        }
    };
    let done = wait_for(&format!("snapshot {id}"), "rds:DescribeDBSnapshots", || async {
        let Some(s) = snapshot(&rds, &id).await? else {
            return Ok(Step::Waiting("not there yet".into()));
        };
        match s.status().unwrap_or_default() {
            "available" => Ok(Step::Done(s)),
            "failed" | "error" => {
                Err(AwsError::new(ErrorKind::Other, "rds:DescribeDBSnapshots", format!("snapshot {id} failed")))
            }
            other => Ok(Step::Waiting(other.to_string())),
        }
    })
    .await?;
    Ok(SnapshotInfo::of(&done))
}

/// The database's snapshots (manual, final and automated), newest first. The instance need
/// not exist any more: a deleted database's final snapshot is listed too.
pub async fn snapshots(session: &Session, db: &Database) -> anyhow::Result<Vec<SnapshotInfo>> {
    let rds = session.aws.rds(&db.region);
    let mut out = Vec::new();
    let mut pages = rds.describe_db_snapshots().db_instance_identifier(&db.identifier).into_paginator().send();
    while let Some(page) = pages.next().await {
        out.extend(page.aws("rds:DescribeDBSnapshots")?.db_snapshots().iter().map(SnapshotInfo::of));
    }
    newest_first(&mut out);
    Ok(out)
}

fn newest_first(list: &mut [SnapshotInfo]) {
    list.sort_by(|a, b| b.created_secs.cmp(&a.created_secs).then_with(|| b.snapshot.cmp(&a.snapshot)));
}

// ---- restore ---------------------------------------------------------------------------

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The identifier, now the restored instance's.
    pub database: String,
    pub snapshot: String,
    /// The replaced instance, kept under this identifier and no longer capsule's.
    pub previous: String,
    /// The connection secret was rewritten (the endpoint moved).
    pub secret_updated: bool,
}

/// Restores `snapshot` into a new instance and switches the database to it, under the
/// environment's apply lock.
pub async fn restore(session: &Session, db: &Database, snapshot_id: &str) -> anyhow::Result<Restored> {
    let held = lock::acquire(&session.aws, &session.account, &db.region, &db.capsule, &db.env)
        .await
        .map_err(|e| anyhow::anyhow!("Refusing to restore {}: {e}\nNothing was changed.", db.label()))?;
    let outcome = switch(session, db, snapshot_id).await;
    if let Err(e) = held.release().await {
        eprintln!("warning: could not release the apply lock of {}/{}: {e}", db.capsule, db.env);
    }
    outcome
}

/// The settings a restored copy takes over from the instance it replaces.
fn restore_request(
    rds: &aws_sdk_rds::Client,
    live: &DbInstance,
    snap: &DbSnapshot,
    restore_id: &str,
) -> aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::builders::RestoreDBInstanceFromDBSnapshotFluentBuilder
{
    let groups: Vec<String> = live
        .vpc_security_groups()
        .iter()
        .filter(|g| g.status() != Some("removing"))
        .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
        .collect();
    let port = live.endpoint().and_then(|e| e.port()).or(live.db_instance_port().filter(|p| *p != 0));
    // RDS restores the snapshot's storage; an instance grown since keeps its size.
    let storage = live.allocated_storage().filter(|l| snap.allocated_storage().is_some_and(|s| l > &s));
    // The live instance's parameter group (TLS required), when the snapshot is of the same
    // engine family; otherwise RDS's default group, which the next apply replaces.
    let family = |v: Option<&str>| {
        crate::config::types::db_family(live.engine().unwrap_or_default(), v.unwrap_or_default()).ok()
    };
    let parameter_group = live
        .db_parameter_groups()
        .first()
        .and_then(|g| g.db_parameter_group_name())
        .filter(|_| family(snap.engine_version()).is_some_and(|f| Some(f) == family(live.engine_version())))
        .map(str::to_string);
    rds.restore_db_instance_from_db_snapshot()
        .db_instance_identifier(restore_id)
        .set_db_snapshot_identifier(snap.db_snapshot_identifier().map(str::to_string))
        .set_db_instance_class(live.db_instance_class().map(str::to_string))
        .set_db_subnet_group_name(live.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_string))
        .set_vpc_security_group_ids(Some(groups))
        .set_db_parameter_group_name(parameter_group)
        .set_multi_az(live.multi_az())
        .set_port(port)
        .set_allocated_storage(storage)
        .set_publicly_accessible(live.publicly_accessible())
        .set_auto_minor_version_upgrade(live.auto_minor_version_upgrade())
        .set_copy_tags_to_snapshot(live.copy_tags_to_snapshot())
        // Switched on after the switch: a leftover copy must stay easy to delete.
        .deletion_protection(false)
        .tags(tag(TAG_RESTORED_FROM, snap.db_snapshot_identifier().unwrap_or_default()))
}

/// Brings the restored copy to the live instance's settings RDS does not take at restore
/// time, and to the connection secret's password.
async fn prepare(
    session: &Session,
    db: &Database,
    live: &DbInstance,
    restore_id: &str,
) -> Result<DbInstance, AwsError> {
    let rds = session.aws.rds(&db.region);
    let restored = available(&rds, restore_id).await?;
    let mut m = rds.modify_db_instance().db_instance_identifier(restore_id).apply_immediately(true);
    let mut any = false;
    if restored.backup_retention_period() != live.backup_retention_period() {
        m = m.set_backup_retention_period(live.backup_retention_period());
        any = true;
    }
    if let Some(version) = live.engine_version().filter(|v| Some(*v) != restored.engine_version()) {
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        m = m.engine_version(version);
        if restored.engine_version().map(major) != Some(major(version)) {
            m = m.allow_major_version_upgrade(true);
        }
        any = true;
    }
    if any {
        m.send().await.aws("rds:ModifyDBInstance")?;
    }
    if let Some(secret) = tags_of(live).get(TAG_CONNECTION_SECRET) {
        rds_instance::adopt_secret_password(&session.aws, &db.region, secret, restore_id).await?;
    }
    available(&rds, restore_id).await
}

/// Deletes a restored copy that never served (no final snapshot: it is one already).
async fn discard(rds: &aws_sdk_rds::Client, restore_id: &str) -> String {
    let deleted = rds
        .delete_db_instance()
        .db_instance_identifier(restore_id)
        .skip_final_snapshot(true)
        .send()
        .await
        .aws("rds:DeleteDBInstance");
    match deleted {
        Ok(_) => format!("The restored copy {restore_id} is being deleted."),
        Err(e) if e.is_not_found() => String::new(),
        Err(e) => format!(
            "The restored copy {restore_id} could not be deleted ({e}): delete it with\n  aws rds delete-db-instance --db-instance-identifier {restore_id} --skip-final-snapshot"
        ),
    }
}

/// Restores `snapshot_id` into a new instance and switches the database's identifier to it;
/// the previous instance is kept and disowned, never deleted.
async fn switch(session: &Session, db: &Database, snapshot_id: &str) -> anyhow::Result<Restored> {
    let rds = session.aws.rds(&db.region);
    let id = db.identifier.as_str();
    let live = owned_instance(&rds, db).await?;
    let untouched = format!("Nothing was switched: {id} is untouched and serving.");
    if live.db_instance_status() != Some("available") {
        anyhow::bail!(
            "{} is {}: RDS renames only an available instance; try again when it is available.\n{untouched}",
            db.label(),
            live.db_instance_status().unwrap_or("in an unknown state")
        );
    }
    let snap = restorable_snapshot(&rds, db, &live, snapshot_id, &untouched).await?;

    let stamp = stamp(SystemTime::now());
    let (restore_id, old_id) = (restore_name(id, &stamp), old_name(id, &stamp));
    eprintln!("Restoring snapshot {snapshot_id} into a new instance {restore_id} ...");
    restore_request(&rds, &live, &snap, &restore_id)
        .send()
        .await
        .aws("rds:RestoreDBInstanceFromDBSnapshot")
        .map_err(|e| anyhow::anyhow!("cannot restore snapshot {snapshot_id} into {restore_id}: {e}\n{untouched}"))?;
    if let Err(e) = prepare(session, db, &live, &restore_id).await {
        let cleanup = discard(&rds, &restore_id).await;
        anyhow::bail!("the restored copy {restore_id} did not become ready: {e}\n{untouched} {cleanup}");
    }

    // The switch: the live instance steps aside, then the copy takes its identifier.
    eprintln!("Renaming {id} to {old_id} ...");
    if let Err(e) = rename(&rds, id, &old_id).await {
        let now = match instance(&rds, id).await {
            Ok(Some(_)) => {
                let cleanup = discard(&rds, &restore_id).await;
                format!("{untouched} {cleanup}")
            }
            _ => format!(
                "The switch stopped half way: {id} may be renaming to {old_id}; the restored copy is {restore_id}. \
                 When {old_id} is available, rename it back:\n  aws rds modify-db-instance --db-instance-identifier {old_id} --new-db-instance-identifier {id} --apply-immediately"
            ),
        };
        anyhow::bail!("cannot rename {id} to {old_id}: {e}\n{now}");
    }
    eprintln!("Renaming {restore_id} to {id} ...");
    let restored = swap_in(&rds, id, &restore_id, &old_id).await?;
    let finish = |what: &str, e: AwsError| {
        anyhow::anyhow!(
            "{id} now is the restored instance (the previous one is {old_id}), but {what} failed: {e}\n\
             Finish by hand before the next apply; docs/recovery.md lists what a restore sets."
        )
    };

    // The restored instance becomes the database: the live instance's tags (ownership,
    // capsule's settings, the connection secret) and its deletion protection.
    let live_tags = tags_of(&live);
    adopt(&rds, id, &old_id, snapshot_id, &live, &live_tags, &restored).await.map_err(|(what, e)| finish(what, e))?;
    let restored = available(&rds, id).await.map_err(|e| finish("waiting for it", e))?;
    let secret_updated = match live_tags.get(TAG_CONNECTION_SECRET) {
        Some(secret) => {
            let endpoint = restored.endpoint();
            let host = endpoint.and_then(|e| e.address()).unwrap_or_default();
            let port = endpoint.and_then(|e| e.port()).map(i64::from).unwrap_or_default();
            rds_instance::repoint_secret(&session.aws, &db.region, secret, host, port)
                .await
                .map_err(|e| finish("updating the connection secret", e))?
        }
        None => false,
    };
    Ok(Restored { database: id.to_string(), snapshot: snapshot_id.to_string(), previous: old_id, secret_updated })
}

/// The snapshot, if it may be restored into `db`: it exists, is available, holds the same
/// engine and was taken of this database (by identifier or by capsule's tags).
async fn restorable_snapshot(
    rds: &aws_sdk_rds::Client,
    db: &Database,
    live: &DbInstance,
    snapshot_id: &str,
    untouched: &str,
) -> anyhow::Result<DbSnapshot> {
    let id = db.identifier.as_str();
    let snap = snapshot(rds, snapshot_id).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "snapshot `{snapshot_id}` does not exist in {}; `capsule backup {} {} {} --list` lists the database's snapshots.\n{untouched}",
            db.region,
            db.capsule,
            db.env,
            db.name
        )
    })?;
    let source = snap.db_instance_identifier().unwrap_or_default();
    let tagged_ours =
        db.owns(&snap.tag_list().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect());
    if source != id && !source.starts_with(&format!("{id}-")) && !tagged_ours {
        anyhow::bail!(
            "snapshot `{snapshot_id}` was taken of RDS instance {source}, not of {}.\n{untouched}",
            db.label()
        );
    }
    if snap.engine() != live.engine() {
        anyhow::bail!(
            "snapshot `{snapshot_id}` holds a {} database; {} is {}.\n{untouched}",
            snap.engine().unwrap_or("?"),
            db.label(),
            live.engine().unwrap_or("?")
        );
    }
    if snap.status() != Some("available") {
        anyhow::bail!("snapshot `{snapshot_id}` is {}, not available.\n{untouched}", snap.status().unwrap_or("?"));
    }

    Ok(snap)
}

/// The restored copy takes the database's identifier; if it cannot, the previous instance
/// (already renamed to `old_id`) is put back.
async fn swap_in(rds: &aws_sdk_rds::Client, id: &str, restore_id: &str, old_id: &str) -> anyhow::Result<DbInstance> {
    match rename(rds, restore_id, id).await {
        Ok(d) => Ok(d),
        Err(e) => {
            // Put the old instance back where it was.
            let back = match rename(rds, old_id, id).await {
                Ok(_) => format!(
                    "{id} was renamed back: the previous instance serves again. {}",
                    discard(rds, restore_id).await
                ),
                Err(back) => format!(
                    "Renaming {old_id} back to {id} failed too ({back}). The data is safe in {old_id} (the previous instance) and {restore_id} (the restored copy); \
                     give {id} to one of them:\n  aws rds modify-db-instance --db-instance-identifier {old_id} --new-db-instance-identifier {id} --apply-immediately"
                ),
            };
            anyhow::bail!("cannot rename {restore_id} to {id}: {e}\n{back}");
        }
    }
}

/// The restored instance (`restored`, now named `id`) becomes the database: tags, deletion
/// protection; the previous one is untagged and marked. Errs with what failed.
async fn adopt(
    rds: &aws_sdk_rds::Client,
    id: &str,
    old_id: &str,
    snapshot_id: &str,
    live: &DbInstance,
    live_tags: &BTreeMap<String, String>,
    restored: &DbInstance,
) -> Result<(), (&'static str, AwsError)> {
    let arn = restored.db_instance_arn().unwrap_or_default();
    rds.add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(live_tags.iter().map(|(k, v)| tag(k, v)).collect()))
        .send()
        .await
        .aws("rds:AddTagsToResource")
        .map_err(|e| ("tagging it", e))?;
    // The previous instance is no longer capsule's: no plan deletes it or counts it.
    let old = instance(rds, old_id).await.map_err(|e| ("untagging the previous instance", e))?;
    if let Some(old_arn) = old.as_ref().and_then(|o| o.db_instance_arn()) {
        let ours: Vec<String> =
            live_tags.keys().filter(|k| k.starts_with("capsule:") || k.as_str() == TAG_MANAGED_BY).cloned().collect();
        rds.remove_tags_from_resource()
            .resource_name(old_arn)
            .set_tag_keys(Some(ours))
            .send()
            .await
            .aws("rds:RemoveTagsFromResource")
            .map_err(|e| ("untagging the previous instance", e))?;
        let at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        rds.add_tags_to_resource()
            .resource_name(old_arn)
            .tags(tag(TAG_FORMER_IDENTIFIER, id))
            .tags(tag(TAG_REPLACED_AT, &at))
            .tags(tag(TAG_REPLACED_BY_SNAPSHOT, snapshot_id))
            .send()
            .await
            .aws("rds:AddTagsToResource")
            .map_err(|e| ("marking the previous instance", e))?;
    }
    if live.deletion_protection() == Some(true) {
        rds.modify_db_instance()
            .db_instance_identifier(id)
            .deletion_protection(true)
            .apply_immediately(true)
            .send()
            .await
            .aws("rds:ModifyDBInstance")
            .map_err(|e| ("turning deletion protection on", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_rds_identifier(id: &str) -> bool {
        id.len() <= 63
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !id.contains("--")
            && !id.ends_with('-')
    }

    #[test]
    fn stamps_are_utc_digits() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(stamp(at), "20261118110640");
    }

    #[test]
    fn restore_names_are_valid_rds_identifiers_even_for_long_databases() {
        let short = "shop-production-main";
        assert_eq!(restore_name(short, "20261129111309"), "shop-production-main-restore-20261129111309");
        assert_eq!(old_name(short, "20261129111309"), "shop-production-main-old-20261129111309");
        assert_eq!(snapshot_name(short, "20261129111309"), "shop-production-main-manual-20261129111309");
        let long = model::aws_name(&["a-thirty-character-capsule-nam", "production", "orders-archive-db"], 63);
        for name in [restore_name(&long, "20261129111309"), old_name(&long, "20261129111309")] {
            assert!(valid_rds_identifier(&name), "{name}");
        }
        assert_ne!(restore_name(&long, "20261129111309"), restore_name(&long, "20261129111310"));
        assert_ne!(restore_name(&long, "20261129111309"), old_name(&long, "20261129111309"));
    }

    #[test]
    fn snapshots_list_newest_first() {
        let info = |id: &str, secs: i64| SnapshotInfo {
            snapshot: id.into(),
            database: "db".into(),
            kind: "manual".into(),
            status: "available".into(),
            created: String::new(),
            storage_gb: None,
            engine_version: None,
            created_secs: secs,
        };
        let mut list = vec![info("a", 10), info("b", 30), info("c", 20)];
        newest_first(&mut list);
        assert_eq!(list.iter().map(|s| s.snapshot.as_str()).collect::<Vec<_>>(), ["b", "c", "a"]);
    }
}
