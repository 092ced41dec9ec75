//! The typed form of one capsule in one environment, after environment overrides and
//! `${env.*}` interpolation. These types are also the source of `capsule schema`, so every
//! doc comment here is what an editor shows. No I/O and no validation beyond shapes here.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One `capsule.toml`: an application deployed into one AWS account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "capsule.toml", extend("$id" = "https://capsule.dev/schema/capsule.json"))]
pub struct CapsuleFile {
    /// Identity of the capsule: its name prefixes every AWS resource it owns.
    pub capsule: CapsuleSection,
    /// Environments in deployment order. None given means one named `production`.
    /// Keys with plain values are variables (`${env.KEY}`); tables override the
    /// top-level table of the same name for that environment.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(with = "IndexMap<String, EnvironmentSchema>")]
    pub environments: IndexMap<String, toml::Table>,
    /// The Route53 hosted zone every domain of this capsule lies in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    /// Container services on ECS Fargate.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, Service>,
    /// Scheduled ECS tasks that reuse a service's image, env and size.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub jobs: IndexMap<String, Job>,
    /// Managed relational databases on RDS.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub databases: IndexMap<String, Database>,
    /// Managed caches on ElastiCache.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub caches: IndexMap<String, Cache>,
    /// Static sites on S3 behind CloudFront.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub sites: IndexMap<String, Site>,
    /// Secrets the capsule's services read. Values are set with `capsule secrets set`,
    /// never written in git.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, SecretDecl>,
    /// Sending email with SES from a domain in `[dns].zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Where the capsule runs in the network. Without it each capsule environment gets
    /// its own VPC (docs/network.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Where services and jobs run with `runtime = "kubernetes"` (docs/kubernetes.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<Kubernetes>,
}

/// `[capsule] runtime`: what runs the capsule's services and jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// ECS Fargate in the capsule's AWS account.
    #[default]
    Ecs,
    /// A Kubernetes cluster (`[kubernetes]`).
    Kubernetes,
}

impl Runtime {
    fn is_ecs(&self) -> bool {
        *self == Runtime::Ecs
    }
}

/// The `[kubernetes]` table (with `runtime = "kubernetes"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Kubernetes {
    /// The kubeconfig context to use; default: the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The namespace of every object; default `<capsule>-<env>`. `${env.name}` works here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Where built images are pushed, e.g. `ghcr.io/acme`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// `spec.ingressClassName` of the Ingress of public services; default: the cluster's
    /// default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,
    /// A TLS Secret (in the namespace) the Ingresses of public services with a `domain` use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<String>,
}

/// The `[capsule]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CapsuleSection {
    /// `^[a-z][a-z0-9-]{1,30}$`; cannot be changed per environment.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{1,30}$"))]
    pub name: String,
    /// AWS region of every regional resource. Defaults to the region of the AWS
    /// configuration capsule runs with (`AWS_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Guard: apply refuses to change any other AWS account than this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    pub account: Option<String>,
    /// What `capsule github reconcile` does when live AWS has drifted from this file:
    /// `report` (one GitHub issue per drifted environment) or `heal` (apply it back, except
    /// changes that would destroy or replace data, which are only reported).
    #[serde(default, skip_serializing_if = "OnDrift::is_report")]
    pub on_drift: OnDrift,
    /// What runs services and jobs: `ecs` (the default) or `kubernetes` (`[kubernetes]`).
    #[serde(default, skip_serializing_if = "Runtime::is_ecs")]
    pub runtime: Runtime,
}

/// `[capsule] on_drift`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnDrift {
    #[default]
    Report,
    Heal,
}

impl OnDrift {
    fn is_report(&self) -> bool {
        *self == OnDrift::Report
    }
}

/// What an `[environments.NAME]` table may hold (used for the JSON Schema only; the loader
/// merges these tables into the top-level ones).
/// Plain keys are variables of this environment, used as `${env.KEY}` (`${env.name}` is
/// built in).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(extend("additionalProperties" = { "type": ["string", "integer", "boolean"] }))]
pub struct EnvironmentSchema {
    /// Overrides of `[capsule]` (`region`, `account`) for this environment.
    capsule: Option<Overrides>,
    /// Overrides of `[dns]` for this environment.
    dns: Option<Overrides>,
    /// Overrides of `[services.NAME]` tables for this environment.
    services: Option<IndexMap<String, Overrides>>,
    /// Overrides of `[jobs.NAME]` tables for this environment.
    jobs: Option<IndexMap<String, Overrides>>,
    /// Overrides of `[databases.NAME]` tables for this environment.
    databases: Option<IndexMap<String, Overrides>>,
    /// Overrides of `[caches.NAME]` tables for this environment.
    caches: Option<IndexMap<String, Overrides>>,
    /// Overrides of `[sites.NAME]` tables for this environment.
    sites: Option<IndexMap<String, Overrides>>,
    /// Overrides of `[secrets]` for this environment.
    secrets: Option<Overrides>,
    /// Overrides of `[email]` for this environment.
    email: Option<Overrides>,
    /// Overrides of `[network]` for this environment.
    network: Option<Overrides>,
    /// Overrides of `[kubernetes]` for this environment.
    kubernetes: Option<Overrides>,
    /// A preview template: never planned or applied as itself; `capsule github preview`
    /// deploys it as `pr-<N>` (`${env.name}`) for each pull request.
    preview: Option<bool>,
    /// Preview templates: `capsule preview sweep` deletes previews older than this, e.g.
    /// `7d` (default), at least `1h`.
    ttl: Option<String>,
    /// Preview templates: at most this many previews of the capsule at once (default 10,
    /// 1 to 100); a new one over it is refused, never made room for.
    #[schemars(range(min = 1, max = 100))]
    max_previews: Option<u32>,
    /// Preview templates: the environment whose secret values a preview reads (otherwise
    /// its secrets start empty).
    secrets_from: Option<String>,
}

/// A partial table deep-merged over the top-level one.
type Overrides = serde_json::Map<String, serde_json::Value>;

/// The `[dns]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Dns {
    /// An existing Route53 hosted zone, e.g. `example.com`.
    pub zone: String,
}

/// A container service (`[services.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Service {
    /// Docker build context, relative to this file (a Dockerfile inside). Exactly one of
    /// `build` and `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// A prebuilt image, e.g. `nginx:1.27`. Exactly one of `build` and `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Dockerfile path inside the build context.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// Container port. No port makes the service a worker without a load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i64>,
    /// Reachable from the internet through the capsule's HTTPS load balancer.
    #[serde(default)]
    pub public: bool,
    /// Host name routed to this service (inside `[dns].zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384.
    #[serde(default = "default_cpu")]
    pub cpu: i64,
    /// Memory in MiB; must be a valid Fargate pairing with `cpu`.
    #[serde(default = "default_memory")]
    pub memory: i64,
    /// Command overriding the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Run once per rollout, before the service moves: one task of the new task definition
    /// (the new image, the service's env, secrets, network and roles) with this command; a
    /// non-zero exit stops the rollout. E.g. `["/app/migrate"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Vec<String>>,
    /// Fixed number of tasks (default 1). Not together with `[autoscale]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Health check of the load balancer and deployment.
    #[serde(default)]
    pub health: Health,
    /// Target tracking on CPU. Not together with `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<Autoscale>,
    /// Environment variables: plain values, `${databases.NAME.url}`, `${caches.NAME.url}`
    /// or `{ secret = "NAME" }`. References become ECS secrets, never plaintext.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, EnvValue>,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}
fn default_cpu() -> i64 {
    256
}
fn default_memory() -> i64 {
    512
}

/// `health = { path = "/healthz", grace = "30s" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Health {
    /// HTTP path the load balancer checks; must answer 200-399.
    #[serde(default = "default_health_path")]
    pub path: String,
    /// Time a new task gets before health checks count, e.g. `30s`, `2m`.
    #[serde(default = "default_grace")]
    pub grace: String,
}

impl Default for Health {
    fn default() -> Self {
        Health { path: default_health_path(), grace: default_grace() }
    }
}

fn default_health_path() -> String {
    "/".into()
}
fn default_grace() -> String {
    "30s".into()
}

/// `[services.NAME.autoscale]`: target tracking on average CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Autoscale {
    /// Fewest tasks.
    pub min: i64,
    /// Most tasks.
    pub max: i64,
    /// Target average CPU percent.
    #[serde(default = "default_target_cpu")]
    pub cpu: i64,
}

fn default_target_cpu() -> i64 {
    60
}

/// A value in `[services.NAME.env]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EnvValue {
    /// A plain value, or a `${databases.NAME.url}` / `${caches.NAME.url}` reference.
    Text(String),
    /// `{ secret = "NAME" }`: a secret declared in `[secrets]`.
    Secret { secret: String },
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = EnvValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number, boolean or `{ secret = \"NAME\" }`")
            }
            fn visit_str<E>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<EnvValue, A::Error> {
                let mut secret = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "secret" {
                        secret = Some(map.next_value::<String>()?);
                    } else {
                        return Err(serde::de::Error::unknown_field(&key, &["secret"]));
                    }
                }
                secret
                    .map(|secret| EnvValue::Secret { secret })
                    .ok_or_else(|| serde::de::Error::missing_field("secret"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl JsonSchema for EnvValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EnvValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A plain value, a reference `${databases.NAME.url}` / `${caches.NAME.url}`, or `{ secret = \"NAME\" }`.",
            "anyOf": [
                { "type": ["string", "integer", "number", "boolean"] },
                { "type": "object", "properties": { "secret": { "type": "string", "description": "A secret declared in [secrets]." } },
                  "required": ["secret"], "additionalProperties": false }
            ]
        })
    }
}

/// A scheduled task (`[jobs.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Job {
    /// The service whose image, env and size the job reuses.
    pub service: String,
    /// Command to run; defaults to the service's command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// EventBridge schedule: `cron(MIN HOUR DOM MON DOW YEAR)` or `rate(N unit)`, in UTC.
    pub schedule: String,
}

/// A relational database (`[databases.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Database {
    /// `postgres`, `mysql` or `mariadb`. Changing it replaces the database.
    pub engine: String,
    /// Engine version, e.g. `16` or `8.0`. Defaults per engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Instance class.
    #[serde(default = "default_db_class")]
    pub class: String,
    /// Allocated storage in GiB (at least 20). Can grow, never shrink.
    #[serde(default = "default_storage")]
    pub storage_gb: i64,
    /// A standby in a second availability zone.
    #[serde(default = "default_true")]
    pub multi_az: bool,
    /// Days automated backups are kept (1-35).
    #[serde(default = "default_backup_days")]
    pub backup_days: i64,
    /// When on, the database cannot be deleted, not even with `--allow-destroy`.
    #[serde(default = "default_true")]
    pub deletion_protection: bool,
    /// What deleting the database leaves behind: `snapshot` (a final snapshot) or `delete`.
    #[serde(default = "default_on_delete")]
    pub on_delete: String,
    /// When changes that need downtime apply: `maintenance-window` or `immediately`.
    #[serde(default = "default_apply_changes")]
    pub apply_changes: String,
    /// Master user name. Changing it replaces the database.
    #[serde(default = "default_db_user")]
    pub username: String,
}

fn default_db_class() -> String {
    "db.t4g.micro".into()
}
fn default_storage() -> i64 {
    20
}
fn default_true() -> bool {
    true
}
fn default_backup_days() -> i64 {
    7
}
fn default_on_delete() -> String {
    "snapshot".into()
}
fn default_apply_changes() -> String {
    "maintenance-window".into()
}
fn default_db_user() -> String {
    "capsule".into()
}

/// A cache (`[caches.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Cache {
    /// `redis`, `valkey` or `memcached`. Changing it replaces the cache.
    pub engine: String,
    /// Engine version; defaults per engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Node type.
    #[serde(default = "default_cache_node")]
    pub node: String,
    /// Number of nodes. Redis/Valkey: primary + replicas, automatic failover from 2.
    #[serde(default = "default_cache_nodes")]
    pub nodes: i64,
}

fn default_cache_node() -> String {
    "cache.t4g.micro".into()
}
fn default_cache_nodes() -> i64 {
    2
}

/// A static site (`[sites.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Site {
    /// Folder of built files, relative to this file. capsule never runs a build.
    pub dir: String,
    /// Host name of the site (inside `[dns].zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Single-page app: paths without a file serve `/index.html`.
    #[serde(default)]
    pub spa: bool,
    /// Response headers by glob, applied in order (later rules win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderRule>,
}

/// `[[sites.NAME.headers]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HeaderRule {
    /// Glob over paths relative to `dir`, e.g. `assets/**`.
    pub glob: String,
    /// `Cache-Control` of matching objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Content-Type` of matching objects, overriding the built-in table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// A secret declaration in `[secrets]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SecretDecl {
    /// What the secret is, shown in Secrets Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The `[email]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Email {
    /// Sending domain: an SES identity with DKIM and a MAIL FROM subdomain.
    pub domain: String,
}

/// The `[network]` table: capsule's own VPC (the default), or an existing one (`vpc_id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Network {
    /// Availability zones of capsule's VPC, 2 (default) or 3: one public, private and
    /// isolated subnet each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 3))]
    pub azs: Option<i64>,
    /// NAT gateways of capsule's VPC: `per-az` (one per zone; the default of an environment
    /// named `production`), `single` (one shared; the default elsewhere) or `none` (no NAT:
    /// interface endpoints for ECR, CloudWatch Logs, Secrets Manager and STS instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<Nat>,
    /// The IPv4 range of capsule's VPC, a /16 to /20 (default: a /20 in 10.0.0.0/8 derived
    /// from the capsule and environment names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// An existing VPC to run in instead of creating one; capsule never changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^vpc-[0-9a-f]{8,17}$"))]
    pub vpc_id: Option<String>,
    /// With `vpc_id`: subnets with a route to an internet gateway, in at least two zones
    /// (the load balancer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_subnets: Vec<String>,
    /// With `vpc_id`: subnets with a NAT route or the VPC endpoints tasks need, in at least
    /// two zones (tasks; databases and caches too unless `isolated_subnets` is given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_subnets: Vec<String>,
    /// With `vpc_id`: subnets for databases and caches, in at least two zones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub isolated_subnets: Vec<String>,
}

/// `[network] nat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Nat {
    PerAz,
    Single,
    None,
}

/// Known engines, with the version used when none is given.
pub const DB_ENGINES: &[(&str, &str)] = &[("postgres", "16"), ("mysql", "8.0"), ("mariadb", "10.11")];
pub const CACHE_ENGINES: &[(&str, &str)] = &[("redis", "7.1"), ("valkey", "8.0"), ("memcached", "1.6.22")];

/// The RDS parameter group family of a database engine and version (`postgres16`,
/// `mysql8.0`, `mariadb10.11`), or why there is none: PostgreSQL families are named by the
/// major version, MySQL and MariaDB by major and minor. Versions older than these families
/// (PostgreSQL 12, MySQL 5.6, MariaDB 10.4) are past RDS standard support, and MariaDB before
/// 10.5 cannot require TLS (`require_secure_transport`).
pub fn db_family(engine: &str, version: &str) -> Result<String, String> {
    let parts: Vec<u32> = version
        .split('.')
        .map(|p| p.parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("version `{version}` is not a number such as `16`, `8.0` or `10.11.9`"))?;
    let (major, minor) = (parts[0], parts.get(1).copied());
    let family = match (engine, minor) {
        ("postgres", _) if major >= 13 => format!("postgres{major}"),
        ("postgres", _) => return Err(format!("PostgreSQL {version} is past RDS support: use 13 or later")),
        ("mysql" | "mariadb", None) => {
            return Err(format!("{engine} versions name major and minor: `{version}.0`, not `{version}`"));
        }
        ("mysql", Some(minor)) if (major, minor) >= (5, 7) => format!("mysql{major}.{minor}"),
        ("mariadb", Some(minor)) if (major, minor) >= (10, 5) => format!("mariadb{major}.{minor}"),
        ("mysql", _) => return Err(format!("MySQL {version} is past RDS support: use 8.0 or later")),
        ("mariadb", _) => return Err(format!("MariaDB {version} cannot require TLS: use 10.5 or later")),
        _ => return Err(format!("unknown database engine `{engine}`")),
    };
    Ok(family)
}
