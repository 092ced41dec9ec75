//! `[databases.*]`: an RDS subnet group, security group, parameter group (TLS required),
//! connection secret and instance per database. What a change to an instance costs (downtime, reboot, replacement) is the
//! adapter's to say, not this module's.

use indexmap::IndexMap;
use serde_json::json;

use super::DataStores;
use super::builder::Builder;
use super::default_version;
use crate::config::types::{DB_ENGINES, Database, db_family};
use crate::model::{Kind, reference};

pub(super) fn expand(b: &mut Builder<'_>, databases: &IndexMap<String, Database>, data: &mut DataStores) {
    for (name, d) in databases {
        let version = d.version.clone().unwrap_or_else(|| default_version(DB_ENGINES, &d.engine));
        let port = if d.engine == "postgres" { 5432 } else { 3306 };
        let subnet = b.add(
            Kind::DbSubnetGroup,
            name,
            b.name(name, 255),
            json!({
                "description": format!("capsule {} {} database {name}", b.capsule, b.env),
                "subnets": b.net.isolated,
            }),
            b.net.isolated_deps.clone(),
        );
        let sg = data.security_group(
            b,
            ("databases", name),
            format!("database {name}: from the services that use it only"),
            port,
        );
        let parameters = parameter_group(b, name, &d.engine, &version);
        let secret = super::secrets::connection(
            b,
            &format!("db-{name}"),
            format!("connection settings of database {name} (host, port, user, password, url)"),
        );
        b.add(
            Kind::RdsInstance,
            name,
            b.name(name, 63),
            json!({
                "engine": d.engine,
                "engine_version": version,
                "instance_class": d.class,
                "allocated_storage_gb": d.storage_gb,
                "storage_encrypted": true,
                "multi_az": d.multi_az,
                "backup_retention_days": d.backup_days,
                "deletion_protection": d.deletion_protection,
                "auto_minor_version_upgrade": true,
                "publicly_accessible": false,
                "copy_tags_to_snapshot": true,
                "username": d.username,
                "port": port,
                "on_delete": d.on_delete,
                "apply_changes": d.apply_changes,
                "db_subnet_group": reference(&subnet, "name"),
                "security_groups": [reference(&sg, "id")],
                "parameter_group": reference(&parameters, "name"),
                "connection_secret": reference(&secret, "arn"),
            }),
            vec![subnet, sg, parameters, secret.clone()],
        );
        data.databases.insert(name.clone(), secret);
    }
}

/// The database's own parameter group, which makes the server refuse connections without
/// TLS: `require_secure_transport` for MySQL and MariaDB (off by default on RDS), and
/// `rds.force_ssl` for PostgreSQL (on by default only from 15). Its family is part of its
/// name, so a major upgrade makes a new group beside the one in use.
fn parameter_group(b: &mut Builder<'_>, name: &str, engine: &str, version: &str) -> crate::model::Address {
    // Validation refused versions without a family; an empty family fails at AWS, loudly.
    let family = db_family(engine, version).unwrap_or_default();
    let tls = if engine == "postgres" { "rds.force_ssl" } else { "require_secure_transport" };
    b.add(
        Kind::DbParameterGroup,
        name,
        crate::model::aws_name(&[b.capsule, b.env, name, &family.replace('.', "-")], 255),
        json!({
            "family": family,
            "parameters": { tls: "1" },
        }),
        Vec::new(),
    )
}
