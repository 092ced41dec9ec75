//! Expansion of one capsule environment into the AWS resources it needs: a short driver
//! over one unit per `capsule.toml` table, all building through one `Builder`. Every later
//! feature lands here first: an adapter only realises what these units ask for.

mod builder;
mod caches;
mod databases;
mod dns;
mod email;
mod jobs;
mod load_balancer;
mod secrets;
mod services;
mod sites;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Address, Kind, Resource, reference};
use crate::config::types::HeaderRule;
use crate::config::{Capsule, Environment};
use builder::Builder;

/// What expansion needs to know beyond the configuration.
#[derive(Debug, Clone)]
pub struct ExpandContext {
    /// The AWS account (bucket names include it). Offline, the `account` guard or a
    /// placeholder.
    pub account: String,
    /// The region used when the capsule does not set one.
    pub default_region: String,
}

/// A build output capsule produces and ships besides AWS resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Artifact {
    /// A container image built from a context and pushed to the service's repository.
    Image { name: String, context: PathBuf, dockerfile: String, repository: Address },
    /// A prebuilt image (`image = "..."`), pinned to its digest when the registry tells it.
    Prebuilt { name: String, image: String },
    /// A folder synced to a bucket behind a distribution.
    Site { name: String, dir: PathBuf, spa: bool, headers: Vec<HeaderRule>, bucket: Address, distribution: Address },
}

/// The desired state of one capsule environment.
#[derive(Debug, Clone)]
pub struct Desired {
    pub capsule: String,
    pub env: String,
    pub region: String,
    pub resources: Vec<Resource>,
    pub artifacts: Vec<Artifact>,
}

impl Desired {
    pub fn get(&self, address: &Address) -> Option<&Resource> {
        self.resources.iter().find(|r| &r.address == address)
    }
}

/// Expands `env` of `capsule` into resources and artifacts, in dependency-friendly order
/// (data stores first: services reference their connection secrets).
pub fn expand(capsule: &Capsule, env: &Environment, ctx: &ExpandContext) -> Desired {
    let c = &env.config;
    let region = c.capsule.region.clone().unwrap_or_else(|| ctx.default_region.clone());
    let mut b = Builder::new(&capsule.name, &env.name, region.clone(), &ctx.account, &capsule.dir);
    let zone = dns::zone(c.dns.as_ref());
    let zone = zone.as_deref();

    let secrets = secrets::expand(&mut b, &c.secrets);
    let mut data = DataStores::default();
    databases::expand(&mut b, &c.databases, &mut data);
    caches::expand(&mut b, &c.caches, &mut data);
    let email = email::expand(&mut b, c.email.as_ref(), zone);

    services::cluster(&mut b, &c.services);
    let lb = load_balancer::expand(&mut b, &c.services, zone);
    let refs = References { secrets, data, email };
    let service_groups = services::expand(&mut b, &c.services, &refs, lb.as_ref());
    jobs::expand(&mut b, &c.jobs, &c.services);
    refs.data.admit(&mut b, &service_groups);

    sites::expand(&mut b, &c.sites, zone);
    dns::service_records(&mut b, &c.services, lb.as_ref(), zone);

    Desired {
        capsule: capsule.name.clone(),
        env: env.name.clone(),
        region,
        resources: b.resources,
        artifacts: b.artifacts,
    }
}

/// What services may reference: `[secrets]`, data stores' connection secrets and the
/// email identity.
struct References {
    secrets: BTreeMap<String, Address>,
    data: DataStores,
    email: Option<Address>,
}

/// The data stores of the capsule: their connection secrets by name and the security
/// groups that guard them.
#[derive(Default)]
struct DataStores {
    databases: BTreeMap<String, Address>,
    caches: BTreeMap<String, Address>,
    security_groups: Vec<Address>,
}

impl DataStores {
    /// A data store's security group; whom it admits is decided once every service's
    /// group is known (`admit`).
    fn security_group(&mut self, b: &mut Builder<'_>, name: &str, description: String, port: i64) -> Address {
        let sg = b.add(
            Kind::SecurityGroup,
            name,
            b.name(name, 255),
            json!({
                "description": description,
                "ingress": [ { "port": port, "from": "capsule:services" } ],
            }),
            vec![],
        );
        self.security_groups.push(sg.clone());
        sg
    }

    /// Data stores admit the capsule's services, on their port.
    fn admit(&self, b: &mut Builder<'_>, services: &[Address]) {
        for r in b.resources.iter_mut().filter(|r| self.security_groups.contains(&r.address)) {
            if let Some(Value::Array(rules)) = r.attributes.get_mut("ingress") {
                let port = rules.first().and_then(|x| x.get("port")).cloned().unwrap_or(Value::Null);
                *rules = services.iter().map(|sg| json!({ "port": port, "from": reference(sg, "id") })).collect();
            }
            r.depends_on.extend(services.iter().cloned());
        }
    }
}

fn default_version(table: &[(&str, &str)], engine: &str) -> String {
    table.iter().find(|(e, _)| *e == engine).map(|(_, v)| v.to_string()).unwrap_or_default()
}

/// `${databases.NAME.url}` -> ("databases", "NAME").
fn parse_reference(text: &str) -> Option<(&str, &str)> {
    let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?.trim();
    let mut parts = inner.splitn(3, '.');
    let (kind, name, attr) = (parts.next()?, parts.next()?, parts.next()?);
    (attr == "url").then_some((kind, name))
}
