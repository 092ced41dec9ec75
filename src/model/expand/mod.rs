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
mod network;
mod notes;
mod secrets;
mod services;
mod sites;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Address, Resource, reference};
use indexmap::IndexMap;

use crate::config::types::{EnvValue, HeaderRule, Service};
use crate::config::{Capsule, Environment};
use builder::Builder;
pub use network::{ExistingNetwork, INTERFACE_ENDPOINTS};

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
    /// The existing VPC of `[network] vpc_id`, which the plan checks first.
    pub existing_network: Option<ExistingNetwork>,
    /// What the plan should tell whatever AWS says: warnings, monthly cost estimates.
    pub notes: Vec<String>,
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

    let in_vpc = !(c.services.is_empty() && c.jobs.is_empty() && c.databases.is_empty() && c.caches.is_empty());
    let existing_network = network::expand(&mut b, c.network.as_ref(), in_vpc);

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
    refs.data.admit(&mut b, &c.services, &service_groups);

    sites::expand(&mut b, &c.sites, zone);
    dns::service_records(&mut b, &c.services, lb.as_ref(), zone);

    let notes = notes::of(c, &env.name, &region, &b.resources);
    Desired {
        capsule: capsule.name.clone(),
        env: env.name.clone(),
        region,
        resources: b.resources,
        artifacts: b.artifacts,
        existing_network,
        notes,
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
    /// ((`databases` | `caches`, name), its security group, its port).
    security_groups: Vec<((&'static str, String), Address, i64)>,
}

impl DataStores {
    /// A data store's security group; whom it admits is decided once every service's
    /// group is known (`admit`).
    fn security_group(
        &mut self,
        b: &mut Builder<'_>,
        store: (&'static str, &str),
        description: String,
        port: i64,
    ) -> Address {
        let name = format!("{}-{}", if store.0 == "databases" { "db" } else { "cache" }, store.1);
        let sg = b.security_group(&name, description, vec![], vec![]);
        // A database or cache answers; it starts no connection: no egress at all.
        if let Some(r) = b.resources.iter_mut().find(|r| r.address == sg) {
            r.attributes.insert("egress".into(), json!([]));
        }
        self.security_groups.push(((store.0, store.1.to_string()), sg.clone(), port));
        sg
    }

    /// Each data store admits, on its port, exactly the services whose environment
    /// references it (`${databases.NAME.url}`, `${caches.NAME.url}`); their jobs run with
    /// the same security group.
    fn admit(&self, b: &mut Builder<'_>, services: &IndexMap<String, Service>, groups: &[Address]) {
        for ((kind, name), sg, port) in &self.security_groups {
            let references = |s: &Service| {
                s.env
                    .values()
                    .any(|v| matches!(v, EnvValue::Text(t) if parse_reference(t) == Some((kind, name.as_str()))))
            };
            let admitted: Vec<Address> =
                services.values().zip(groups).filter(|(s, _)| references(s)).map(|(_, g)| g.clone()).collect();
            let Some(r) = b.resources.iter_mut().find(|r| &r.address == sg) else { continue };
            let rules: Vec<Value> =
                admitted.iter().map(|g| json!({ "port": port, "from": reference(g, "id") })).collect();
            r.attributes.insert("ingress".into(), Value::Array(rules));
            r.depends_on.extend(admitted);
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use regex::Regex;

    use super::*;
    use crate::config::load_str;
    use crate::model::Kind;

    /// Every table capsule knows, with every engine, in two environments.
    const EVERYTHING: &str = r#"
        [capsule]
        name = "shop"
        [environments.staging]
        domain = "staging.shop.example.com"
        [environments.production]
        domain = "shop.example.com"
        [dns]
        zone = "example.com"
        [services.api]
        image = "nginx:1.27"
        port = 8080
        public = true
        domain = "api.${env.domain}"
        env = { DATABASE_URL = "${databases.main.url}", OTHER = "${databases.legacy.url}", CACHE = "${caches.sessions.url}", MC = "${caches.pages.url}", KEY = { secret = "stripe" } }
        [services.admin]
        image = "nginx:1.27"
        port = 8081
        public = true
        [services.worker-2]
        build = "."
        [jobs.nightly]
        service = "api"
        schedule = "rate(1 day)"
        [databases.main]
        engine = "postgres"
        [databases.legacy]
        engine = "mysql"
        [caches.sessions]
        engine = "valkey"
        [caches.pages]
        engine = "memcached"
        [sites.web]
        dir = "."
        domain = "${env.domain}"
        [secrets]
        stripe = { description = "Stripe API key" }
        [email]
        domain = "${env.domain}"
    "#;

    fn everything() -> Vec<Desired> {
        let capsule = load_str(Path::new("capsule.toml"), EVERYTHING).unwrap_or_else(|e| panic!("{e:?}"));
        let ctx = ExpandContext { account: "123456789012".into(), default_region: "eu-west-1".into() };
        capsule.environments.iter().map(|env| expand(&capsule, env, &ctx)).collect()
    }

    /// EC2 CreateSecurityGroup: "Valid characters: a-z, A-Z, 0-9, spaces, and
    /// ._-:/()#,@[]+=&;{}!$*", at most 255, and a name may not start with `sg-`
    /// (docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html).
    #[test]
    fn every_security_group_name_and_description_is_one_ec2_accepts() {
        let allowed = Regex::new(r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$").unwrap_or_else(|e| panic!("{e}"));
        let mut seen = 0;
        for desired in everything() {
            for r in desired.resources.iter().filter(|r| r.address.kind == Kind::SecurityGroup) {
                let description = r.attributes["description"].as_str().unwrap_or_default();
                assert!(allowed.is_match(description), "{}: description {description:?}", r.address);
                assert!(allowed.is_match(&r.aws_name), "{}: name {:?}", r.address, r.aws_name);
                assert!(!r.aws_name.starts_with("sg-"), "{}", r.address);
                seen += 1;
            }
        }
        // alb, three services, two databases, two caches, in two environments
        assert_eq!(seen, 16);
    }

    #[test]
    fn a_public_service_waits_for_the_rule_and_listener_that_attach_its_target_group() {
        for desired in everything() {
            for name in ["api", "admin"] {
                let service = desired
                    .resources
                    .iter()
                    .find(|r| r.address.kind == Kind::EcsService && r.address.name == name)
                    .unwrap_or_else(|| panic!("no service {name}"));
                let kinds: Vec<Kind> = service.depends_on.iter().map(|a| a.kind).collect();
                for kind in [Kind::LbTargetGroup, Kind::LbListenerRule, Kind::LbListener] {
                    assert!(kinds.contains(&kind), "{}: {kinds:?} lacks {kind}", service.address);
                }
            }
        }
    }

    /// ACM allows 10 names per certificate: 12 public service domains need two, and the
    /// HTTPS listener serves the second by SNI.
    #[test]
    fn more_than_ten_service_domains_get_a_second_certificate() {
        let mut text = String::from("[capsule]\nname = \"big\"\n[dns]\nzone = \"example.com\"\n");
        for i in 1..=12 {
            text.push_str(&format!(
                "[services.s{i}]\nimage = \"nginx:1.27\"\nport = 80\npublic = true\ndomain = \"s{i}.example.com\"\n"
            ));
        }
        let capsule = load_str(Path::new("capsule.toml"), &text).unwrap_or_else(|e| panic!("{e:?}"));
        let ctx = ExpandContext { account: "123456789012".into(), default_region: "eu-west-1".into() };
        let desired = expand(&capsule, &capsule.environments[0], &ctx);
        let certs: Vec<&Resource> =
            desired.resources.iter().filter(|r| r.address.kind == Kind::AcmCertificate).collect();
        let names = |r: &Resource| 1 + r.attributes["alternative_names"].as_array().map_or(0, Vec::len);
        assert_eq!(
            certs.iter().map(|r| (r.address.name.as_str(), names(r))).collect::<Vec<_>>(),
            [("lb", 10), ("lb-2", 2)]
        );
        let https = desired.resources.iter().find(|r| r.address.kind == Kind::LbListener && r.address.name == "https");
        let https = https.unwrap_or_else(|| panic!("no https listener"));
        assert_eq!(https.attributes["extra_certificates"].as_array().map(Vec::len), Some(1));
        assert!(https.depends_on.contains(&certs[1].address));
    }
}
