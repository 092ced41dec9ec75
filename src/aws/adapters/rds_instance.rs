//! RDS DB instances: a capsule's databases, changed carefully and never lost.
//!
//! Attributes (normalised as the model writes them): `engine`, `engine_version` (a
//! major-only version such as `16` matches a live `16.4`), `instance_class`,
//! `allocated_storage_gb`, `storage_encrypted`, `multi_az`, `backup_retention_days`,
//! `deletion_protection`, `auto_minor_version_upgrade`, `publicly_accessible`,
//! `copy_tags_to_snapshot`, `username`, `port`, `db_subnet_group` (name),
//! `security_groups` (sorted ids), `parameter_group` (name), and three that only capsule knows, kept as RDS tags on
//! the instance so `observe` reads them back and `delete` (which only gets what `observe`
//! or `list_owned` saw) can act on them: `on_delete` (`capsule:on-delete`),
//! `apply_changes` (`capsule:apply-changes`) and `connection_secret` (the ARN of the
//! secret holding the connection settings, `capsule:connection-secret`).
//! Changes RDS has accepted but not applied yet (`PendingModifiedValues`, e.g. a class
//! change waiting for the maintenance window) are reported as the observed value: they
//! are requested already, and planning them again would change nothing.
//! Outputs: `arn`, `endpoint` (host name), `port`, `name` (identifier).
//!
//! What a change does to the running database (`assess`, shown in the plan):
//!
//! | attribute | impact |
//! |---|---|
//! | `engine`, `storage_encrypted`, `username` | replacement (a new, empty instance) |
//! | `instance_class`, `engine_version`, `db_subnet_group` | downtime |
//! | `port` | reboot (RDS restarts the database whatever `ApplyImmediately` says) |
//! | `parameter_group` | reboot (RDS switches the group at once but applies it at the next reboot: capsule reboots when `apply_changes = "immediately"`, otherwise the plan and `notes` say it waits) |
//! | `allocated_storage_gb` increase (by at least 10%) | in place |
//! | `allocated_storage_gb` decrease, or increase under 10% | refused (plan error) |
//! | `multi_az`, `backup_retention_days`, `deletion_protection`, `auto_minor_version_upgrade`, `publicly_accessible`, `copy_tags_to_snapshot`, `security_groups` | in place |
//! | `on_delete`, `apply_changes`, `connection_secret` | in place (capsule's tags) |
//!
//! Changes apply at once when `apply_changes = "immediately"`, in the next maintenance
//! window otherwise (`ApplyImmediately`).
//!
//! The master password is generated here (32 characters RDS accepts), sent only in
//! CreateDBInstance / ModifyDBInstance (fields the SDK redacts from its Debug output)
//! and stored only in the connection secret (PutSecretValue) as JSON
//! `{engine, host, port, username, password, dbname, url}`. It is held in a type whose
//! Debug and Display print `(sensitive)`, and never enters attributes, outputs, tags or
//! errors. An adopted instance keeps its password unless the secret holds none (then a
//! new one is set and written).
//!
//! Deleting: refused while deletion protection is on (turn it off in one apply, remove
//! the database in another): by `delete` at apply time, and by `assess` as a plan error
//! for a planned delete whose `deletion_protection` was on (effective once the engine
//! assesses deletes of undeclared resources, which it does not yet); otherwise RDS keeps a final snapshot named
//! `<identifier>-final-<unix time>` (printed) unless `on_delete = "delete"`.
//!
//! Waits on RDS poll every `CAPSULE_RDS_POLL` (default 15s) and give up after
//! `CAPSULE_RDS_TIMEOUT` (default 60m). `capsule backup` / `capsule restore` (src/recovery.rs)
//! share them, and use `adopt_secret_password` / `repoint_secret` below so the password stays
//! inside this file's types.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance, Tag};
use percent_encoding::utf8_percent_encode;
use serde_json::{Value, json};

use super::secret::{restore_if_deleted, secret_document, secret_written};
use super::sensitive::{Sensitive, USERINFO};
use super::tag_map;
use crate::aws::adapter::{Visible, attr_bool, attr_i64, attr_str};
use crate::aws::{Adapter, Aws, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live, Seen};
use crate::model::{Kind, Resource};
use crate::plan::{Action, Change};

pub struct RdsInstanceAdapter;

const TAG_ON_DELETE: &str = "capsule:on-delete";
const TAG_APPLY_CHANGES: &str = "capsule:apply-changes";
pub(crate) const TAG_CONNECTION_SECRET: &str = "capsule:connection-secret";

/// Attributes a change of which means a new instance.
const REPLACING: &[&str] = &["engine", "storage_encrypted", "username"];

/// How long RDS may take to make an instance (or snapshot) available, rename or delete it:
/// `CAPSULE_RDS_TIMEOUT` (default 60m).
pub(crate) fn wait_limit() -> Duration {
    duration_env("CAPSULE_RDS_TIMEOUT", Duration::from_secs(60 * 60))
}

/// How often those waits ask RDS: `CAPSULE_RDS_POLL` (default 15s).
pub(crate) fn poll_interval() -> Duration {
    duration_env("CAPSULE_RDS_POLL", Duration::from_secs(15))
}

fn duration_env(key: &str, default: Duration) -> Duration {
    std::env::var(key).ok().and_then(|v| humantime::parse_duration(v.trim()).ok()).unwrap_or(default)
}

fn limit_text() -> String {
    humantime::format_duration(wait_limit()).to_string()
}

// ---- the master password ---------------------------------------------------------------

/// What RDS accepts in a master password (printable ASCII but `/`, `"`, `@` and space),
/// narrowed to characters no shell or URL parser trips over once percent-encoded.
const PASSWORD_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!^*+=";
const PASSWORD_LEN: usize = 32;

/// A master password. Never printed (see sensitive.rs).
type Password = Sensitive;

fn new_password() -> Password {
    Sensitive::generate(PASSWORD_CHARS, PASSWORD_LEN)
}

/// What the connection secret holds.
struct Connection<'a> {
    engine: &'a str,
    host: &'a str,
    port: i64,
    username: &'a str,
    dbname: &'a str,
}

impl Connection<'_> {
    fn scheme(&self) -> &'static str {
        if self.engine == "postgres" { "postgres" } else { "mysql" }
    }
    /// TLS required: RDS for PostgreSQL expects TLS (`rds.force_ssl` is on from 15), and
    /// drivers whose default is plaintext are refused; MySQL and MariaDB would accept
    /// plaintext and send the password across the VPC unencrypted.
    fn tls_query(&self) -> &'static str {
        if self.engine == "postgres" { "?sslmode=require" } else { "?ssl-mode=REQUIRED" }
    }
    fn url(&self, password: &Password) -> String {
        format!(
            "{}://{}:{}@{}:{}/{}{}",
            self.scheme(),
            utf8_percent_encode(self.username, USERINFO),
            utf8_percent_encode(password.expose(), USERINFO),
            self.host,
            self.port,
            self.dbname,
            self.tls_query()
        )
    }
    /// The secret's JSON text.
    fn document(&self, password: &Password) -> String {
        json!({
            "engine": self.engine,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": password.expose(),
            "dbname": self.dbname,
            "url": self.url(password),
        })
        .to_string()
    }
    /// The secret already says this (apart from the password).
    fn matches(&self, doc: &Value) -> bool {
        doc.get("engine").and_then(Value::as_str) == Some(self.engine)
            && doc.get("host").and_then(Value::as_str) == Some(self.host)
            && doc.get("port").and_then(Value::as_i64) == Some(self.port)
            && doc.get("username").and_then(Value::as_str) == Some(self.username)
            && doc.get("dbname").and_then(Value::as_str) == Some(self.dbname)
            && doc.get("url").and_then(Value::as_str).is_some_and(|u| u.ends_with(self.tls_query()))
    }
}

/// The database RDS creates in the instance: the component name, letters and digits only,
/// starting with a letter (RDS's rule for postgres and mysql database names).
fn db_name(component: &str) -> String {
    let mut name: String = component.chars().filter(char::is_ascii_alphanumeric).take(60).collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "db");
    }
    name
}

// ---- reading ---------------------------------------------------------------------------

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// `live` reported as `desired` when `desired` is a prefix version of it (`16` of `16.4`).
fn version_seen(live: &str, desired: Option<&str>) -> String {
    match desired {
        Some(d) if live.starts_with(&format!("{d}.")) => d.to_string(),
        _ => live.to_string(),
    }
}

fn live_of(d: &DbInstance, region: &str, desired: Option<&BTreeMap<String, Value>>) -> Live {
    let tags = tag_map(d.tag_list(), |t| (t.key(), t.value()));
    let pending = d.pending_modified_values();
    let class = pending.and_then(|p| p.db_instance_class()).or(d.db_instance_class()).unwrap_or_default();
    let storage = pending.and_then(|p| p.allocated_storage()).or(d.allocated_storage());
    let version = pending.and_then(|p| p.engine_version()).or(d.engine_version()).unwrap_or_default();
    let multi_az = pending.and_then(|p| p.multi_az()).or(d.multi_az());
    let backup = pending.and_then(|p| p.backup_retention_period()).or(d.backup_retention_period());
    let port = pending
        .and_then(|p| p.port())
        .or(d.endpoint().and_then(|e| e.port()))
        .or(d.db_instance_port().filter(|p| *p != 0));
    let desired_version = desired.and_then(|a| a.get("engine_version")).and_then(Value::as_str);
    let security_groups = sorted(
        d.vpc_security_groups()
            .iter()
            .filter(|g| g.status() != Some("removing"))
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
    );
    let tag = |k: &str| tags.get(k).map(|v| json!(v)).unwrap_or(Value::Null);
    let parameter_group = d.db_parameter_groups().first();
    let attributes = BTreeMap::from([
        ("engine".into(), json!(d.engine().unwrap_or_default())),
        ("engine_version".into(), json!(version_seen(version, desired_version))),
        ("instance_class".into(), json!(class)),
        ("allocated_storage_gb".into(), json!(storage)),
        ("storage_encrypted".into(), json!(d.storage_encrypted().unwrap_or(false))),
        ("multi_az".into(), json!(multi_az.unwrap_or(false))),
        ("backup_retention_days".into(), json!(backup)),
        ("deletion_protection".into(), json!(d.deletion_protection().unwrap_or(false))),
        ("auto_minor_version_upgrade".into(), json!(d.auto_minor_version_upgrade().unwrap_or(false))),
        ("publicly_accessible".into(), json!(d.publicly_accessible().unwrap_or(false))),
        ("copy_tags_to_snapshot".into(), json!(d.copy_tags_to_snapshot().unwrap_or(false))),
        ("username".into(), json!(d.master_username().unwrap_or_default())),
        ("port".into(), json!(port)),
        ("db_subnet_group".into(), json!(d.db_subnet_group().and_then(|g| g.db_subnet_group_name()))),
        ("security_groups".into(), json!(security_groups)),
        ("parameter_group".into(), json!(parameter_group.and_then(|g| g.db_parameter_group_name()))),
        ("on_delete".into(), tag(TAG_ON_DELETE)),
        ("apply_changes".into(), tag(TAG_APPLY_CHANGES)),
        ("connection_secret".into(), tag(TAG_CONNECTION_SECRET)),
    ]);
    let id = d.db_instance_identifier().unwrap_or_default();
    Live {
        aws_name: id.to_string(),
        region: region.to_string(),
        attributes,
        outputs: BTreeMap::from([
            ("arn".into(), json!(d.db_instance_arn().unwrap_or_default())),
            ("endpoint".into(), json!(d.endpoint().and_then(|e| e.address()))),
            ("port".into(), json!(port)),
            ("name".into(), json!(id)),
            ("dbname".into(), json!(d.db_name())),
            ("status".into(), json!(d.db_instance_status())),
            ("pending".into(), pending_of(d)),
            ("maintenance_window".into(), json!(d.preferred_maintenance_window())),
            // "in-sync", "applying" or "pending-reboot" (the group applies at the next reboot)
            ("parameters_status".into(), json!(parameter_group.and_then(|g| g.parameter_apply_status()))),
        ]),
        tags,
    }
}

/// Modifications RDS holds for the maintenance window, as {attribute: value}.
fn pending_of(d: &DbInstance) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(p) = d.pending_modified_values() {
        let values = [
            ("instance_class", p.db_instance_class().map(|v| json!(v))),
            ("allocated_storage_gb", p.allocated_storage().map(|v| json!(v))),
            ("engine_version", p.engine_version().map(|v| json!(v))),
            ("multi_az", p.multi_az().map(|v| json!(v))),
            ("backup_retention_days", p.backup_retention_period().map(|v| json!(v))),
            ("port", p.port().map(|v| json!(v))),
            ("db_subnet_group", p.db_subnet_group_name().map(|v| json!(v))),
        ];
        out.extend(values.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))));
    }
    Value::Object(out)
}

/// "instance_class db.t4g.small, multi_az true" of a pending object.
fn pending_text(pending: &serde_json::Map<String, Value>) -> String {
    pending
        .iter()
        .map(|(k, v)| format!("{k} {}", v.as_str().map(str::to_string).unwrap_or(v.to_string())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Attributes whose change RDS holds for the maintenance window unless `ApplyImmediately`.
/// ModifyDBInstance holds these for the maintenance window unless ApplyImmediately
/// (API_ModifyDBInstance: DBSubnetGroupName too).
const WINDOWED: &[&str] = &["instance_class", "allocated_storage_gb", "engine_version", "multi_az", "db_subnet_group"];

/// Ownership tags plus capsule's own settings.
fn tags_for(cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Vec<Tag> {
    let mut t = cx.tags_of(r);
    for (key, attr) in [
        (TAG_ON_DELETE, "on_delete"),
        (TAG_APPLY_CHANGES, "apply_changes"),
        (TAG_CONNECTION_SECRET, "connection_secret"),
    ] {
        let v = attr_str(attrs, attr);
        if !v.is_empty() {
            t.insert(key.to_string(), v.to_string());
        }
    }
    t.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    sorted(
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    )
}

/// The major version as RDS counts it: PostgreSQL's first number, MySQL's and MariaDB's
/// first two (8.0 to 8.4 is a major upgrade), i.e. the parameter group family.
fn major(engine: &str, version: &str) -> String {
    crate::config::types::db_family(engine, version)
        .unwrap_or_else(|_| version.split('.').next().unwrap_or(version).to_string())
}

fn i32_of(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i32> {
    attr_i64(attrs, key).and_then(|v| i32::try_from(v).ok())
}

type Modify = aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder;
/// Sets one attribute on a ModifyDBInstance request, given the desired and the live attributes.
type SetAttr = fn(Modify, &BTreeMap<String, Value>, &BTreeMap<String, Value>) -> Modify;

/// The attributes ModifyDBInstance changes when they differ, each with how it sets the
/// desired value. `security_groups` is compared as a sorted list in `modify` itself.
const MODIFIABLE: &[(&str, SetAttr)] = &[
    ("instance_class", |m, a, _| m.db_instance_class(attr_str(a, "instance_class"))),
    ("engine_version", |m, a, have| {
        let want = attr_str(a, "engine_version");
        let m = m.engine_version(want);
        let engine = attr_str(a, "engine");
        if major(engine, want) != major(engine, attr_str(have, "engine_version")) {
            m.allow_major_version_upgrade(true)
        } else {
            m
        }
    }),
    ("allocated_storage_gb", |m, a, _| m.set_allocated_storage(i32_of(a, "allocated_storage_gb"))),
    ("multi_az", |m, a, _| m.multi_az(attr_bool(a, "multi_az"))),
    ("backup_retention_days", |m, a, _| m.set_backup_retention_period(i32_of(a, "backup_retention_days"))),
    ("deletion_protection", |m, a, _| m.deletion_protection(attr_bool(a, "deletion_protection"))),
    ("auto_minor_version_upgrade", |m, a, _| m.auto_minor_version_upgrade(attr_bool(a, "auto_minor_version_upgrade"))),
    ("publicly_accessible", |m, a, _| m.publicly_accessible(attr_bool(a, "publicly_accessible"))),
    ("copy_tags_to_snapshot", |m, a, _| m.copy_tags_to_snapshot(attr_bool(a, "copy_tags_to_snapshot"))),
    ("port", |m, a, _| m.set_db_port_number(i32_of(a, "port"))),
    ("db_subnet_group", |m, a, _| m.db_subnet_group_name(attr_str(a, "db_subnet_group"))),
    ("parameter_group", |m, a, _| m.db_parameter_group_name(attr_str(a, "parameter_group"))),
];

impl RdsInstanceAdapter {
    async fn describe(&self, cx: &Cx, id: &str, region: &str) -> Result<Option<DbInstance>, AwsError> {
        let out = cx
            .aws
            .rds(region)
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .aws("rds:DescribeDBInstances")
            .found()?;
        Ok(out.and_then(|o| o.db_instances().first().cloned()))
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let Some(d) = self.describe(cx, &r.aws_name, &r.region).await? else {
            return Ok(None);
        };
        let mut live = live_of(&d, &r.region, Some(&r.attributes));
        // The connection secret counts as written only while it holds a current value and
        // is not scheduled for deletion; otherwise the plan shows it to be written again.
        if let Some(arn) = live.attributes.get("connection_secret").and_then(Value::as_str).map(str::to_string)
            && !secret_written(cx, &r.region, &arn).await?
        {
            live.attributes.insert("connection_secret".into(), Value::Null);
        }
        Ok(Some(live))
    }

    /// Waits until the instance is available with an endpoint (RDS takes minutes).
    async fn available(&self, cx: &Cx, r: &Resource) -> Result<Live, AwsError> {
        let deadline = tokio::time::Instant::now() + wait_limit();
        loop {
            let live = self.find(cx, r).await?.visible("rds:DescribeDBInstances")?;
            let status = live.outputs.get("status").and_then(Value::as_str).unwrap_or_default();
            let has_endpoint = live.outputs.get("endpoint").is_some_and(|e| e.is_string());
            if status == "available" && has_endpoint {
                return Ok(live);
            }
            if matches!(status, "failed" | "incompatible-parameters" | "incompatible-network" | "storage-full") {
                return Err(AwsError::new(
                    ErrorKind::Other,
                    "rds:DescribeDBInstances",
                    format!("database {} is {status}", r.aws_name),
                ));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(AwsError::new(
                    ErrorKind::Transient,
                    "rds:DescribeDBInstances",
                    format!("database {} is still {status} after {}", r.aws_name, limit_text()),
                ));
            }
            tokio::time::sleep(poll_interval()).await;
        }
    }

    /// Writes the connection secret of `live`. With `password` (a new instance), writes it;
    /// without, keeps the password the secret holds and rewrites the secret only when the
    /// connection moved; a secret without a password gets a new one, set on the instance
    /// first.
    async fn sync_secret(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
        password: Option<Password>,
    ) -> Result<(), AwsError> {
        let secret = attr_str(attrs, "connection_secret");
        if secret.is_empty() {
            return Ok(());
        }
        let client = cx.aws.secrets(&r.region);
        restore_if_deleted(cx, &r.region, secret).await?;
        let dbname =
            live.outputs.get("dbname").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
                if attr_str(attrs, "engine") == "postgres" { "postgres".into() } else { String::new() }
            });
        let conn = Connection {
            engine: attr_str(&live.attributes, "engine"),
            host: live.outputs.get("endpoint").and_then(Value::as_str).unwrap_or_default(),
            port: live.outputs.get("port").and_then(Value::as_i64).unwrap_or_default(),
            username: attr_str(&live.attributes, "username"),
            dbname: &dbname,
        };
        let password = match password {
            Some(p) => p,
            None => {
                let current = secret_document(&cx.aws, &r.region, secret).await?;
                let kept = current
                    .as_ref()
                    .and_then(|d| d.get("password"))
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                    .map(Sensitive::new);
                match kept {
                    Some(_) if current.as_ref().is_some_and(|d| conn.matches(d)) => return Ok(()),
                    Some(p) => p,
                    None => {
                        // No password anywhere capsule can read: set a new one.
                        let p = new_password();
                        cx.aws
                            .rds(&r.region)
                            .modify_db_instance()
                            .db_instance_identifier(&live.aws_name)
                            .master_user_password(p.expose())
                            .apply_immediately(true)
                            .send()
                            .await
                            .aws("rds:ModifyDBInstance")?;
                        p
                    }
                }
            }
        };
        client
            .put_secret_value()
            .secret_id(secret)
            .secret_string(conn.document(&password))
            .send()
            .await
            .aws("secretsmanager:PutSecretValue")?;
        Ok(())
    }

    async fn set_tags(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<(), AwsError> {
        let Some(arn) = live.outputs.get("arn").and_then(Value::as_str).filter(|a| !a.is_empty()) else {
            return Ok(());
        };
        cx.aws
            .rds(&r.region)
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(tags_for(cx, r, attrs)))
            .send()
            .await
            .aws("rds:AddTagsToResource")?;
        Ok(())
    }

    /// Reboots the instance so that its new parameter group applies.
    async fn reboot(&self, cx: &Cx, r: &Resource, live: &Live) -> Result<(), AwsError> {
        eprintln!(
            "database {}: rebooting to apply parameter group {}",
            live.aws_name,
            attr_str(&live.attributes, "parameter_group")
        );
        cx.aws
            .rds(&r.region)
            .reboot_db_instance()
            .db_instance_identifier(&live.aws_name)
            .send()
            .await
            .aws("rds:RebootDBInstance")?;
        Ok(())
    }

    /// ModifyDBInstance with what differs between `attrs` and `live`, if anything.
    async fn modify(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<(), AwsError> {
        let have = &live.attributes;
        let differs = |k: &str| attrs.get(k) != have.get(k);
        let immediately = attr_str(attrs, "apply_changes") == "immediately";
        let mut m = cx
            .aws
            .rds(&r.region)
            .modify_db_instance()
            .db_instance_identifier(&live.aws_name)
            .apply_immediately(immediately);
        // Switching to "immediately" applies what waits for the window, even alone.
        let mut any =
            immediately && live.outputs.get("pending").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
        for (key, set) in MODIFIABLE {
            if differs(key) {
                m = set(m, attrs, have);
                any = true;
            }
        }
        if string_list(attrs.get("security_groups")) != string_list(have.get("security_groups")) {
            m = m.set_vpc_security_group_ids(Some(string_list(attrs.get("security_groups"))));
            any = true;
        }
        if any {
            m.send().await.aws("rds:ModifyDBInstance")?;
        }
        Ok(())
    }
}

/// The instance's parameter group waits for a reboot to apply.
fn reboot_pending(live: &Live) -> bool {
    live.outputs.get("parameters_status").and_then(Value::as_str) == Some("pending-reboot")
}

/// When an update takes effect: now, in the maintenance window (`apply_changes`), or at
/// the next reboot (a new parameter group).
fn when(change: &Change, seen: &Seen<'_>) -> Option<String> {
    let timing = window_timing(change, seen);
    if !change.attributes.iter().any(|a| a.path == "parameter_group") {
        return timing;
    }
    let immediately = seen.desired.is_some_and(|d| attr_str(d, "apply_changes") == "immediately");
    let reboot = if immediately {
        "parameter_group: capsule reboots the database to apply it (apply_changes = \"immediately\"; a minute or two offline)"
    } else {
        "parameter_group applies at the next reboot, which capsule does not do: apply_changes = \"immediately\" reboots now"
    };
    Some(timing.map_or(reboot.to_string(), |t| format!("{t}; {reboot}")))
}

/// When the maintenance-window settings of an update take effect.
fn window_timing(change: &Change, seen: &Seen<'_>) -> Option<String> {
    let immediately = seen.desired.is_some_and(|d| attr_str(d, "apply_changes") == "immediately");
    let outputs = seen.live.map(|l| &l.outputs);
    let window = outputs.and_then(|o| o.get("maintenance_window")).and_then(Value::as_str).unwrap_or("weekly");
    let held = outputs.and_then(|o| o.get("pending")).and_then(Value::as_object).filter(|p| !p.is_empty());
    let windowed: Vec<&str> =
        change.attributes.iter().map(|a| a.path.as_str()).filter(|p| WINDOWED.contains(p)).collect();
    match (immediately, held) {
        (true, Some(held)) => Some(format!(
            "applies now (apply_changes = \"immediately\"), with what waited for the maintenance window: {}",
            pending_text(held)
        )),
        (true, None) if !windowed.is_empty() => {
            Some(format!("{} apply now (apply_changes = \"immediately\")", windowed.join(", ")))
        }
        (false, _) if !windowed.is_empty() => Some(format!(
            "{} wait for the maintenance window ({window}); apply_changes = \"immediately\" applies them now",
            windowed.join(", ")
        )),
        _ => None,
    }
}

#[async_trait]
impl Adapter for RdsInstanceAdapter {
    fn kind(&self) -> Kind {
        Kind::RdsInstance
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        REPLACING
    }

    fn assess(&self, change: &mut Change, seen: &Seen<'_>) -> Option<String> {
        if change.action == Action::Delete {
            // Removing a protected database is refused before anything is applied (so
            // its subnet group, security group and secret stay too).
            let protected =
                change.attributes.iter().any(|a| a.path == "deletion_protection" && a.before == json!(true));
            return protected.then(|| {
                "the database has deletion protection on: turn deletion_protection off first (one apply), then remove the database (another)"
                    .to_string()
            });
        }
        let mut refusal = None;
        // A new instance takes any storage: the storage rules only bind a change in place.
        let replacing = change.action == Action::Replace
            || change.attributes.iter().any(|a| a.forces_replacement || REPLACING.contains(&a.path.as_str()));
        for a in change.attributes.iter_mut() {
            let impact = match a.path.as_str() {
                p if REPLACING.contains(&p) => "replacement",
                "instance_class" | "engine_version" | "db_subnet_group" => "downtime",
                "port" | "parameter_group" => "reboot",
                "allocated_storage_gb" => {
                    if let (Some(before), Some(after), false) = (a.before.as_i64(), a.after.as_i64(), replacing) {
                        if after < before {
                            refusal = Some(format!(
                                "RDS cannot shrink storage ({before} -> {after} GB): restore a snapshot into a smaller instance"
                            ));
                        } else if after * 10 < before * 11 {
                            refusal = Some(format!(
                                "RDS grows storage by at least 10% ({before} -> {after} GB): ask for {} GB or more",
                                (before * 11 + 9) / 10
                            ));
                        }
                    }
                    "in-place"
                }
                _ => "in-place",
            };
            a.impact = Some(impact.to_string());
            if impact == "replacement" {
                a.forces_replacement = true;
            }
        }
        let causes: Vec<&str> =
            change.attributes.iter().filter(|a| a.forces_replacement).map(|a| a.path.as_str()).collect();
        if !causes.is_empty() {
            change.action = Action::Replace;
            change.reason = Some(format!(
                "{} cannot change in place: a new, empty database replaces this one (its final snapshot is kept unless on_delete = \"delete\")",
                causes.join(", ")
            ));
        } else if change.action == Action::Update {
            change.reason = when(change, seen);
        }
        refusal
    }

    fn notes(&self, address: &str, live: &Live) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(held) = live.outputs.get("pending").and_then(Value::as_object).filter(|p| !p.is_empty()) {
            let window = live.outputs.get("maintenance_window").and_then(Value::as_str).unwrap_or("weekly");
            notes.push(format!(
                "{address}: waiting for the maintenance window ({window}): {}; apply_changes = \"immediately\" applies it at the next apply",
                pending_text(held)
            ));
        }
        if reboot_pending(live) {
            notes.push(format!(
                "{address}: parameter group {} waits for a reboot (until then TLS may not be required); apply_changes = \"immediately\" reboots at the next apply",
                attr_str(&live.attributes, "parameter_group")
            ));
        }
        notes
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        let groups = string_list(attrs.get("security_groups"));
        attrs.insert("security_groups".into(), json!(groups));
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, r).await? {
            // Left by an interrupted apply: adopt it when it is ours, keep its password.
            let live = live.ensure_owned(cx, "rds:CreateDBInstance")?;
            return self.update(cx, r, attrs, &live).await;
        }
        let password = new_password();
        let created = cx
            .aws
            .rds(&r.region)
            .create_db_instance()
            .db_instance_identifier(&r.aws_name)
            .engine(attr_str(attrs, "engine"))
            .engine_version(attr_str(attrs, "engine_version"))
            .db_instance_class(attr_str(attrs, "instance_class"))
            .set_allocated_storage(i32_of(attrs, "allocated_storage_gb"))
            .storage_encrypted(attr_bool(attrs, "storage_encrypted"))
            .multi_az(attr_bool(attrs, "multi_az"))
            .set_backup_retention_period(i32_of(attrs, "backup_retention_days"))
            .deletion_protection(attr_bool(attrs, "deletion_protection"))
            .auto_minor_version_upgrade(attr_bool(attrs, "auto_minor_version_upgrade"))
            .publicly_accessible(attr_bool(attrs, "publicly_accessible"))
            .copy_tags_to_snapshot(attr_bool(attrs, "copy_tags_to_snapshot"))
            .set_port(i32_of(attrs, "port"))
            .db_subnet_group_name(attr_str(attrs, "db_subnet_group"))
            .set_db_parameter_group_name(
                Some(attr_str(attrs, "parameter_group")).filter(|g| !g.is_empty()).map(str::to_string),
            )
            .set_vpc_security_group_ids(Some(string_list(attrs.get("security_groups"))))
            .db_name(db_name(&r.address.name))
            .master_username(attr_str(attrs, "username"))
            .master_user_password(password.expose())
            .set_tags(Some(tags_for(cx, r, attrs)))
            .send()
            .await
            .aws("rds:CreateDBInstance");
        match created {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {
                return self.adopt(cx, r, attrs, e, "rds:CreateDBInstance").await;
            }
            Err(e) => return Err(e),
        }
        let live = self.available(cx, r).await?;
        self.sync_secret(cx, r, attrs, &live, Some(password)).await?;
        Ok(live)
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        self.modify(cx, r, attrs, live).await?;
        self.set_tags(cx, r, attrs, live).await?;
        let mut live = self.available(cx, r).await?;
        if attr_str(attrs, "apply_changes") == "immediately" && reboot_pending(&live) {
            self.reboot(cx, r, &live).await?;
            live = self.available(cx, r).await?;
        }
        self.sync_secret(cx, r, attrs, &live, None).await?;
        Ok(live)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let client = cx.aws.rds(&live.region);
        // Decide on the instance as it is now, not as it was planned.
        let Some(d) = self.describe(cx, &live.aws_name, &live.region).await? else {
            return Ok(());
        };
        if d.db_instance_status() == Some("deleting") {
            return self.gone(cx, live).await;
        }
        if d.deletion_protection() == Some(true) {
            return Err(AwsError::new(
                ErrorKind::Conflict,
                "rds:DeleteDBInstance",
                format!(
                    "database {} has deletion protection on: turn deletion_protection off first (one apply), then remove the database (another)",
                    live.aws_name
                ),
            ));
        }
        let tags = tag_map(d.tag_list(), |t| (t.key(), t.value()));
        let keep_snapshot = tags.get(TAG_ON_DELETE).map(String::as_str) != Some("delete");
        let mut request = client.delete_db_instance().db_instance_identifier(&live.aws_name);
        let snapshot = keep_snapshot.then(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
            format!("{}-final-{now}", live.aws_name)
        });
        request = match &snapshot {
            Some(s) => request.skip_final_snapshot(false).final_db_snapshot_identifier(s),
            None => request.skip_final_snapshot(true),
        };
        match request.send().await.aws("rds:DeleteDBInstance") {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        }
        match &snapshot {
            Some(s) => eprintln!("database {}: final snapshot {s}", live.aws_name),
            None => eprintln!("database {}: deleted without a final snapshot (on_delete = \"delete\")", live.aws_name),
        }
        self.gone(cx, live).await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.rds(&cx.region);
        let mut out = Vec::new();
        let mut pages = client.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            for d in page.aws("rds:DescribeDBInstances")?.db_instances() {
                let live = live_of(d, &cx.region, None);
                if live.is_owned_by(&cx.capsule, &cx.env) {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}

impl RdsInstanceAdapter {
    /// Waits until a deleted instance is gone (its identifier and subnet group free again).
    async fn gone(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let deadline = tokio::time::Instant::now() + wait_limit();
        while self.describe(cx, &live.aws_name, &live.region).await?.is_some() {
            if tokio::time::Instant::now() > deadline {
                return Err(AwsError::new(
                    ErrorKind::Transient,
                    "rds:DeleteDBInstance",
                    format!("database {} is still being deleted after {}", live.aws_name, limit_text()),
                ));
            }
            tokio::time::sleep(poll_interval()).await;
        }
        Ok(())
    }
}

// ---- restoring (capsule restore) ---------------------------------------------------------

/// Sets the password the connection secret holds on `instance` (a copy restored from a
/// snapshot, whose password is the one of the snapshot's time), so the secret stays the
/// one truth. Returns false when the secret holds no password (nothing set).
pub(crate) async fn adopt_secret_password(
    aws: &Aws,
    region: &str,
    secret: &str,
    instance: &str,
) -> Result<bool, AwsError> {
    let Some(doc) = secret_document(aws, region, secret).await? else {
        return Ok(false);
    };
    let Some(password) = doc.get("password").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let password = Sensitive::new(password);
    aws.rds(region)
        .modify_db_instance()
        .db_instance_identifier(instance)
        .master_user_password(password.expose())
        .apply_immediately(true)
        .send()
        .await
        .aws("rds:ModifyDBInstance")?;
    Ok(true)
}

/// Points the connection secret at `host:port` (`url` included), keeping everything else
/// it holds, the password first. Returns whether the secret changed.
pub(crate) async fn repoint_secret(
    aws: &Aws,
    region: &str,
    secret: &str,
    host: &str,
    port: i64,
) -> Result<bool, AwsError> {
    let doc = secret_document(aws, region, secret).await?.ok_or_else(|| {
        AwsError::new(
            ErrorKind::NotFound,
            "secretsmanager:GetSecretValue",
            format!("{secret} holds no connection settings"),
        )
    })?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (engine, username, dbname) = (field("engine"), field("username"), field("dbname"));
    let password = Sensitive::new(field("password"));
    let conn = Connection { engine: &engine, host, port, username: &username, dbname: &dbname };
    if conn.matches(&doc) && doc.get("url").and_then(Value::as_str) == Some(conn.url(&password).as_str()) {
        return Ok(false);
    }
    aws.secrets(region)
        .put_secret_value()
        .secret_id(secret)
        .secret_string(conn.document(&password))
        .send()
        .await
        .aws("secretsmanager:PutSecretValue")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::AttributeChange;

    fn change(attrs: &[(&str, Value, Value)]) -> Change {
        Change {
            address: "shop.production.rds_instance.main".into(),
            kind: "rds_instance".into(),
            action: Action::Update,
            reason: None,
            attributes: attrs
                .iter()
                .map(|(p, b, a)| AttributeChange {
                    path: p.to_string(),
                    before: b.clone(),
                    after: a.clone(),
                    forces_replacement: false,
                    impact: None,
                })
                .collect(),
            stateful: true,
            outcome: None,
            error: None,
        }
    }

    fn impact(c: &Change, path: &str) -> String {
        c.attributes.iter().find(|a| a.path == path).and_then(|a| a.impact.clone()).unwrap()
    }

    #[test]
    fn changes_are_classified() {
        let mut c = change(&[
            ("instance_class", json!("db.t4g.micro"), json!("db.t4g.small")),
            ("engine_version", json!("16"), json!("17")),
            ("allocated_storage_gb", json!(20), json!(40)),
            ("multi_az", json!(false), json!(true)),
            ("port", json!(5432), json!(5433)),
        ]);
        assert_eq!(RdsInstanceAdapter.assess(&mut c, &Seen::default()), None);
        assert_eq!(c.action, Action::Update);
        assert_eq!(impact(&c, "instance_class"), "downtime");
        assert_eq!(impact(&c, "engine_version"), "downtime");
        assert_eq!(impact(&c, "allocated_storage_gb"), "in-place");
        assert_eq!(impact(&c, "multi_az"), "in-place");
        assert_eq!(impact(&c, "port"), "reboot");
    }

    #[test]
    fn engine_encryption_and_username_replace() {
        for path in ["engine", "storage_encrypted", "username"] {
            let mut c = change(&[(path, json!("a"), json!("b")), ("multi_az", json!(false), json!(true))]);
            assert_eq!(RdsInstanceAdapter.assess(&mut c, &Seen::default()), None);
            assert_eq!(c.action, Action::Replace);
            assert!(c.reason.as_deref().unwrap().starts_with(path), "{:?}", c.reason);
            assert_eq!(impact(&c, path), "replacement");
            assert!(c.attributes.iter().find(|a| a.path == path).unwrap().forces_replacement);
        }
    }

    #[test]
    fn storage_never_shrinks_and_grows_by_ten_percent() {
        let mut c = change(&[("allocated_storage_gb", json!(100), json!(50))]);
        assert_eq!(
            RdsInstanceAdapter.assess(&mut c, &Seen::default()).as_deref(),
            Some("RDS cannot shrink storage (100 -> 50 GB): restore a snapshot into a smaller instance")
        );
        let mut c = change(&[("allocated_storage_gb", json!(100), json!(105))]);
        assert!(RdsInstanceAdapter.assess(&mut c, &Seen::default()).unwrap().contains("110 GB"));
        let mut c = change(&[("allocated_storage_gb", json!(20), json!(22))]);
        assert_eq!(RdsInstanceAdapter.assess(&mut c, &Seen::default()), None);
        // A replacement starts a new instance with any storage.
        let mut c =
            change(&[("engine", json!("postgres"), json!("mysql")), ("allocated_storage_gb", json!(40), json!(30))]);
        assert_eq!(RdsInstanceAdapter.assess(&mut c, &Seen::default()), None);
        assert_eq!(c.action, Action::Replace);
    }

    #[test]
    fn removing_a_protected_database_is_refused() {
        let mut c = change(&[("deletion_protection", json!(true), Value::Null)]);
        c.action = Action::Delete;
        assert!(
            RdsInstanceAdapter.assess(&mut c, &Seen::default()).unwrap().contains("turn deletion_protection off first")
        );
        let mut c = change(&[("deletion_protection", json!(false), Value::Null)]);
        c.action = Action::Delete;
        assert_eq!(RdsInstanceAdapter.assess(&mut c, &Seen::default()), None);
    }

    #[test]
    fn updates_say_when_they_take_effect() {
        let live = Live {
            outputs: BTreeMap::from([
                ("maintenance_window".into(), json!("wed:06:38-wed:07:08")),
                ("pending".into(), json!({})),
            ]),
            ..Live::default()
        };
        let window = BTreeMap::from([("apply_changes".to_string(), json!("maintenance-window"))]);
        let now = BTreeMap::from([("apply_changes".to_string(), json!("immediately"))]);
        let mut c = change(&[("instance_class", json!("db.t4g.micro"), json!("db.t4g.small"))]);
        RdsInstanceAdapter.assess(&mut c, &Seen { desired: Some(&window), live: Some(&live) });
        assert_eq!(
            c.reason.as_deref(),
            Some(
                "instance_class wait for the maintenance window (wed:06:38-wed:07:08); apply_changes = \"immediately\" applies them now"
            )
        );
        RdsInstanceAdapter.assess(&mut c, &Seen { desired: Some(&now), live: Some(&live) });
        assert_eq!(c.reason.as_deref(), Some("instance_class apply now (apply_changes = \"immediately\")"));
        // RDS holds a subnet group change for the window too.
        let mut c = change(&[("db_subnet_group", json!("a"), json!("b"))]);
        RdsInstanceAdapter.assess(&mut c, &Seen { desired: Some(&window), live: Some(&live) });
        assert!(c.reason.as_deref().is_some_and(|r| r.starts_with("db_subnet_group wait for the maintenance window")));
        // Settings RDS applies at once say nothing about a window.
        let mut c = change(&[("backup_retention_days", json!(7), json!(3))]);
        RdsInstanceAdapter.assess(&mut c, &Seen { desired: Some(&window), live: Some(&live) });
        assert_eq!(c.reason, None);
        // What waits is listed in a note, and applied now once asked.
        let mut held = live.clone();
        held.outputs.insert("pending".into(), json!({"instance_class": "db.t4g.small"}));
        let notes = RdsInstanceAdapter.notes("a.b.rds_instance.main", &held);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("waiting for the maintenance window (wed:06:38-wed:07:08): instance_class db.t4g.small")
        );
        let mut c = change(&[("apply_changes", json!("maintenance-window"), json!("immediately"))]);
        RdsInstanceAdapter.assess(&mut c, &Seen { desired: Some(&now), live: Some(&held) });
        assert!(c.reason.unwrap().contains("with what waited for the maintenance window: instance_class db.t4g.small"));
        assert!(RdsInstanceAdapter.notes("x", &live).is_empty());
    }

    #[test]
    fn passwords_are_long_random_and_never_printed() {
        let p = new_password();
        assert_eq!(p.expose().len(), PASSWORD_LEN);
        assert!(p.expose().bytes().all(|b| PASSWORD_CHARS.contains(&b)));
        assert!(!p.expose().contains(['/', '"', '@', ' ']));
        assert_ne!(p, new_password());
        assert_eq!(format!("{p:?} {p}"), "(sensitive) (sensitive)");
    }

    #[test]
    fn urls_percent_encode_the_password() {
        let conn =
            Connection { engine: "postgres", host: "db.example", port: 5432, username: "capsule", dbname: "main" };
        let p = Sensitive::new("a+b=c!d");
        assert_eq!(conn.url(&p), "postgres://capsule:a%2Bb%3Dc%21d@db.example:5432/main?sslmode=require");
        let doc: Value = serde_json::from_str(&conn.document(&p)).unwrap();
        assert_eq!(doc["password"], "a+b=c!d");
        assert!(conn.matches(&doc));
        let mysql = Connection { engine: "mariadb", ..conn };
        assert!(mysql.url(&p).starts_with("mysql://"));
        assert!(!mysql.matches(&doc));
    }

    #[test]
    fn names_and_versions() {
        assert_eq!(db_name("main"), "main");
        assert_eq!(db_name("2nd-db"), "db2nddb");
        assert_eq!(version_seen("16.4", Some("16")), "16");
        assert_eq!(version_seen("16.4", Some("17")), "16.4");
        assert_eq!(version_seen("16", None), "16");
        assert_eq!(major("mysql", "8.0.35"), major("mysql", "8.0"));
        assert_ne!(major("mysql", "8.0.35"), major("mysql", "8.4"));
        assert_eq!(major("postgres", "16.4"), major("postgres", "16"));
        assert_ne!(major("postgres", "16.4"), major("postgres", "17"));
    }
}
