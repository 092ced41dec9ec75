//! Semantic checks of one capsule in one environment: everything a shape cannot say
//! (names, pairings, ranges, references, domains, schedules, globs, leaked secrets).
//! Pure: no file system, no AWS. Path existence is checked by the project loader.

use std::sync::LazyLock;

use regex::Regex;

use super::cidr::Cidr;
use super::diag::did_you_mean;
use super::load::Reporter;
use super::spans::SpanIndex;
use super::types::*;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|_| unreachable!("static pattern"))
}

static CAPSULE_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z][a-z0-9-]{1,30}$"));
static ENTRY_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z][a-z0-9-]{0,19}$"));
static REGION: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z]{2}(-[a-z]+)+-[0-9]$"));
static ACCOUNT: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]{12}$"));
static ENV_VAR: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z_][A-Za-z0-9_]*$"));
static HOSTNAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$"));
static VPC_ID: LazyLock<Regex> = LazyLock::new(|| re(r"^vpc-[0-9a-f]{8,17}$"));
static SUBNET_ID: LazyLock<Regex> = LazyLock::new(|| re(r"^subnet-[0-9a-f]{8,17}$"));
static DB_USER: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-zA-Z][a-zA-Z0-9_]{0,15}$"));
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| re(r"\$\{\s*(databases|caches)\.([^.}]*)\.([^}]*)\}"));
static SECRETISH_NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(secret|token|passw(or)?d|api_?key|private_?key|access_?key|credential)"));
static KNOWN_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(sk_live_|rk_live_|sk_test_|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{20}|github_pat_|xox[abpr]-|-----BEGIN [A-Z ]*PRIVATE KEY)",
    )
});

/// A name AWS accepts inside every resource name capsule builds from it: RDS and
/// ElastiCache identifiers may not contain `--` or end with `-`.
pub fn is_entry_name(name: &str) -> bool {
    ENTRY_NAME.is_match(name) && dashes_ok(name)
}

/// No `--` and no trailing `-` (RDS, ElastiCache; S3 reserves `xn--`).
fn dashes_ok(name: &str) -> bool {
    !name.contains("--") && !name.ends_with('-')
}

/// Prefixes AWS reserves at the start of a name capsule derives from the capsule name:
/// security group names (`sg-`), S3 buckets (`sthree-`, `amzn-s3-demo-`).
const RESERVED_PREFIXES: &[&str] = &["sg-", "sthree-", "amzn-s3-demo-"];

/// The reason AWS would refuse names built from capsule name `name`, if any.
pub fn capsule_name_problem(name: &str) -> Option<String> {
    if !CAPSULE_NAME.is_match(name) || !dashes_ok(name) {
        return Some(
            "use 2 to 31 lowercase letters, digits and single dashes, starting with a letter and not ending with a dash"
                .to_string(),
        );
    }
    let with_dash = format!("{name}-");
    RESERVED_PREFIXES.iter().find(|p| with_dash.starts_with(*p)).map(|p| {
        format!("AWS reserves names starting with `{p}` (capsule's resource names start with `{name}-`): choose another name")
    })
}

/// Valid Fargate (cpu, memory) pairs, memory in MiB.
pub fn fargate_pair_valid(cpu: i64, memory: i64) -> bool {
    let (lo, hi, step) = match cpu {
        256 => return matches!(memory, 512 | 1024 | 2048),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return false,
    };
    (lo..=hi).contains(&memory) && (memory - lo) % step == 0
}

fn fargate_memories(cpu: i64) -> String {
    let options: Vec<String> =
        (512..=122880).step_by(512).filter(|m| fargate_pair_valid(cpu, *m)).map(|m| m.to_string()).collect();
    match options.len() {
        0 => String::new(),
        n if n <= 4 => options.join(", "),
        n => format!("{} to {} (in steps of {})", options[0], options[n - 1], {
            let a: i64 = options[1].parse().unwrap_or(0);
            let b: i64 = options[0].parse().unwrap_or(0);
            a - b
        }),
    }
}

struct Check<'r, 'a> {
    r: &'r mut Reporter<'a>,
    spans: &'r SpanIndex,
}

impl Check<'_, '_> {
    fn at(&mut self, path: &str, message: impl Into<String>, hint: impl Into<Option<String>>) {
        let span = self.spans.value(path);
        self.r.error(span, message, hint.into());
    }
    fn at_key(&mut self, path: &str, message: impl Into<String>, hint: impl Into<Option<String>>) {
        let span = self.spans.key(path);
        self.r.error(span, message, hint.into());
    }
}

pub(crate) fn check(r: &mut Reporter<'_>, c: &CapsuleFile, spans: &SpanIndex, env: &str) {
    let mut k = Check { r, spans };
    check_capsule(&mut k, c);
    let mut domains = Domains::new(&mut k, c, env);
    let kubernetes = c.capsule.runtime == Runtime::Kubernetes;
    check_kubernetes(&mut k, c, env);
    for (sname, s) in &c.services {
        check_service(&mut k, &mut domains, sname, s, kubernetes);
        check_service_env(&mut k, c, sname, s);
    }
    for (jname, j) in &c.jobs {
        check_job(&mut k, c, jname, j);
    }
    for (dname, d) in &c.databases {
        check_database(&mut k, dname, d);
    }
    for (cname, cache) in &c.caches {
        check_cache(&mut k, cname, cache);
    }
    for (sname, site) in &c.sites {
        check_site(&mut k, &mut domains, sname, site);
    }
    if let Some(email) = &c.email {
        domains.check(&mut k, "email.domain", &email.domain, false);
    }
    if let Some(network) = &c.network {
        check_network(&mut k, network, c.services.values().any(|s| s.public));
    }
}

static DNS_LABEL: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"));

/// `runtime = "kubernetes"` and `[kubernetes]`: what the Kubernetes runtime cannot do yet is
/// an error with the reason, never a silent skip (docs/kubernetes.md).
fn check_kubernetes(k: &mut Check, c: &CapsuleFile, env: &str) {
    if c.capsule.runtime != Runtime::Kubernetes {
        if c.kubernetes.is_some() {
            k.at_key(
                "kubernetes",
                "`[kubernetes]` is set but the capsule runs on ECS",
                "add `runtime = \"kubernetes\"` to `[capsule]`, or remove `[kubernetes]`".to_string(),
            );
        }
        return;
    }
    let cfg = c.kubernetes.clone().unwrap_or_default();
    let namespace = cfg.namespace.clone().unwrap_or_else(|| format!("{}-{env}", c.capsule.name));
    if !DNS_LABEL.is_match(&namespace) {
        let (path, hint) = if cfg.namespace.is_some() {
            ("kubernetes.namespace", "a namespace is a DNS label: at most 63 lowercase letters, digits and dashes, starting and ending with a letter or digit".to_string())
        } else {
            (
                "capsule.runtime",
                format!("the default namespace `{namespace}` is not a DNS label: set `namespace` in `[kubernetes]`"),
            )
        };
        k.at(path, format!("invalid Kubernetes namespace `{namespace}`"), hint);
    }
    if let Some(class) = &cfg.ingress_class
        && !DNS_LABEL.is_match(class)
    {
        k.at(
            "kubernetes.ingress_class",
            format!("invalid ingress class `{class}`"),
            "an ingress class name is a DNS label such as `nginx`".to_string(),
        );
    }
    for dname in c.databases.keys() {
        k.at_key(
            &format!("databases.{dname}"),
            format!("database `{dname}` cannot run with runtime = \"kubernetes\" yet"),
            "capsule's databases are RDS in the capsule's AWS network, which pods on a Kubernetes cluster cannot reach; use a database the cluster can reach and pass its URL as a secret".to_string(),
        );
    }
    for cname in c.caches.keys() {
        k.at_key(
            &format!("caches.{cname}"),
            format!("cache `{cname}` cannot run with runtime = \"kubernetes\" yet"),
            "capsule's caches are ElastiCache in the capsule's AWS network, which pods on a Kubernetes cluster cannot reach".to_string(),
        );
    }
    // Sites and email are AWS resources; until one apply plans both runtimes, a Kubernetes
    // capsule refuses them rather than leaving them out of its plan.
    for sname in c.sites.keys() {
        k.at_key(
            &format!("sites.{sname}"),
            format!("site `{sname}` cannot be in a capsule with runtime = \"kubernetes\" yet"),
            "a Kubernetes capsule plans its cluster only: put the site in a capsule of its own (runtime \"ecs\", the default)".to_string(),
        );
    }
    if c.email.is_some() {
        k.at_key(
            "email",
            "`[email]` cannot be in a capsule with runtime = \"kubernetes\" yet",
            "a Kubernetes capsule plans its cluster only: put `[email]` in a capsule of its own".to_string(),
        );
    }
    if c.network.is_some() {
        k.at_key(
            "network",
            "`[network]` has no meaning with runtime = \"kubernetes\"",
            "the cluster's network is the cluster's own: remove `[network]`".to_string(),
        );
    }
    let registry = c.kubernetes.as_ref().and_then(|k| k.registry.as_deref()).is_some_and(|r| !r.trim().is_empty());
    for (sname, s) in &c.services {
        if s.build.is_some() && !registry {
            k.at_key(
                &format!("services.{sname}.build"),
                format!("service `{sname}` builds its image, but `[kubernetes]` names no `registry` to push it to"),
                "add `registry = \"host/prefix\"` to `[kubernetes]` (images go to <registry>/<capsule>/<service>), or give a prebuilt `image`".to_string(),
            );
        }
    }
    for (sname, s) in &c.services {
        if let Some(a) = &s.autoscale
            && a.min == 0
        {
            k.at(
                &format!("services.{sname}.autoscale.min"),
                "autoscale min 0 is not possible on Kubernetes",
                "a HorizontalPodAutoscaler keeps at least 1 replica: use `min = 1`".to_string(),
            );
        }
    }
    for (jname, j) in &c.jobs {
        if c.services.contains_key(jname) {
            k.at_key(
                &format!("jobs.{jname}"),
                format!("job `{jname}` has the name of a service"),
                "on Kubernetes a service's Deployment would select the job's pods: rename the job".to_string(),
            );
        }
        if check_schedule(&j.schedule).is_ok()
            && let Err(why) = super::schedule::to_kubernetes(&j.schedule)
        {
            k.at(
                &format!("jobs.{jname}.schedule"),
                format!("schedule `{}` cannot run as a Kubernetes CronJob: {why}", j.schedule),
                "use a schedule a 5-field cron can say, e.g. `cron(0 3 * * ? *)` or `rate(15 minutes)`".to_string(),
            );
        }
    }
}

/// `[network]`: capsule's own VPC (`azs`, `nat`, `cidr`) or an existing one (`vpc_id` and
/// its subnets), never a mix. What only AWS knows (zones, routes) is checked by the plan.
/// `public`: a public service needs public subnets for its load balancer.
fn check_network(k: &mut Check, n: &Network, public: bool) {
    if let Some(azs) = n.azs
        && !(2..=3).contains(&azs)
    {
        k.at("network.azs", format!("azs {azs} is out of range"), "use 2 or 3 availability zones".to_string());
    }
    if let Some(text) = &n.cidr {
        match Cidr::parse(text) {
            Err(why) => k.at("network.cidr", format!("invalid cidr `{text}`"), why),
            Ok(c) if !(16..=20).contains(&c.prefix) => k.at(
                "network.cidr",
                format!("cidr `{text}` is a /{}", c.prefix),
                "give a /16 to /20: capsule splits it into three subnets per zone".to_string(),
            ),
            Ok(c) if !c.is_private() => k.at(
                "network.cidr",
                format!("cidr `{text}` is not a private range"),
                "use a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16".to_string(),
            ),
            Ok(_) => {}
        }
    }
    let lists = [
        ("public_subnets", &n.public_subnets),
        ("private_subnets", &n.private_subnets),
        ("isolated_subnets", &n.isolated_subnets),
    ];
    let Some(vpc) = &n.vpc_id else {
        for (key, _) in lists.iter().filter(|(_, l)| !l.is_empty()) {
            k.at_key(
                &format!("network.{key}"),
                format!("`{key}` without `vpc_id`"),
                "subnets are given with an existing VPC: add `vpc_id`, or remove them to let capsule create its VPC"
                    .to_string(),
            );
        }
        return;
    };
    if !VPC_ID.is_match(vpc) {
        k.at(
            "network.vpc_id",
            format!("invalid VPC id `{vpc}`"),
            "a VPC id looks like `vpc-0abc12345def67890`".to_string(),
        );
    }
    for (key, set) in [("azs", n.azs.is_some()), ("nat", n.nat.is_some()), ("cidr", n.cidr.is_some())] {
        if set {
            k.at_key(
                &format!("network.{key}"),
                format!("`{key}` with `vpc_id`"),
                format!("`{key}` shapes the VPC capsule creates; an existing VPC keeps its own: remove it"),
            );
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (key, list) in lists {
        let required = key == "private_subnets" || (key == "public_subnets" && public);
        if required && list.len() < 2 {
            k.at_key(
                &format!("network.{key}"),
                format!("`{key}` needs at least two subnets"),
                "give subnets in at least two availability zones, so losing a zone is not an outage".to_string(),
            );
        }
        if !required && list.len() == 1 {
            k.at_key(
                &format!("network.{key}"),
                format!("`{key}` needs at least two subnets"),
                "subnets span at least two availability zones: give two or more, or none".to_string(),
            );
        }
        for (i, id) in list.iter().enumerate() {
            let path = format!("network.{key}.{i}");
            if !SUBNET_ID.is_match(id) {
                k.at(
                    &path,
                    format!("invalid subnet id `{id}`"),
                    "a subnet id looks like `subnet-0abc12345def67890`".to_string(),
                );
            } else if !seen.insert(id.as_str()) {
                k.at(
                    &path,
                    format!("subnet `{id}` is listed twice"),
                    "each subnet is public, private or isolated, once".to_string(),
                );
            }
        }
    }
}

/// `[capsule]`: name, region, account.
fn check_capsule(k: &mut Check, c: &CapsuleFile) {
    let name = &c.capsule.name;
    if let Some(hint) = capsule_name_problem(name) {
        k.at("capsule.name", format!("invalid capsule name `{name}`"), hint);
    }
    if let Some(region) = &c.capsule.region
        && !REGION.is_match(region)
    {
        k.at(
            "capsule.region",
            format!("invalid region `{region}`"),
            "use an AWS region code such as `us-east-1` or `eu-west-1`".to_string(),
        );
    }
    if let Some(account) = &c.capsule.account
        && !ACCOUNT.is_match(account)
    {
        k.at(
            "capsule.account",
            format!("invalid account id `{account}`"),
            "an AWS account id is 12 digits, written as a string".to_string(),
        );
    }
}

/// The domains of one capsule environment: each inside `[dns].zone`, and each served by
/// one service or site only.
struct Domains<'e> {
    zone: Option<String>,
    env: &'e str,
    seen: Vec<(String, String)>,
}

impl<'e> Domains<'e> {
    /// Checks `[dns].zone` itself.
    fn new(k: &mut Check, c: &CapsuleFile, env: &'e str) -> Self {
        let zone = c.dns.as_ref().map(|d| d.zone.trim_end_matches('.').to_ascii_lowercase());
        if let Some(zone) = &zone
            && !HOSTNAME.is_match(zone)
        {
            k.at(
                "dns.zone",
                format!("invalid DNS zone `{zone}`"),
                "write the hosted zone's domain, e.g. `example.com`".to_string(),
            );
        }
        Domains { zone, env, seen: Vec::new() }
    }

    /// `unique`: a host served by one service or site only (the email domain may be shared).
    fn check(&mut self, k: &mut Check, path: &str, domain: &str, unique: bool) {
        let (zone, env) = (&self.zone, self.env);
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        if !HOSTNAME.is_match(&d) {
            k.at(path, format!("invalid domain `{domain}`"), "use a host name such as `app.example.com`".to_string());
            return;
        }
        match zone {
            None => k.at(
                path,
                format!("domain `{domain}` needs a DNS zone"),
                "add `[dns]` with `zone = \"...\"`, the Route53 hosted zone the domain lies in".to_string(),
            ),
            Some(z) if !(d == *z || d.ends_with(&format!(".{z}"))) => k.at(
                path,
                format!("domain `{domain}` is not inside the DNS zone `{z}`"),
                format!("use a name ending in `.{z}` (in environment `{env}`), or change `[dns].zone`"),
            ),
            _ => {}
        }
        if !unique {
            return;
        }
        if let Some((other, _)) = self.seen.iter().find(|(_, o)| *o == d) {
            k.at(
                path,
                format!("domain `{domain}` is already used by `{other}`"),
                "every service and site needs a domain of its own".to_string(),
            );
        }
        self.seen.push((path.to_string(), d));
    }
}

/// `[services.NAME]` apart from its env.
fn check_service(k: &mut Check, domains: &mut Domains, sname: &str, s: &Service, kubernetes: bool) {
    let p = |key: &str| format!("services.{sname}.{key}");
    match (&s.build, &s.image) {
        (Some(_), Some(_)) => k.at_key(
            &p("image"),
            format!("service `{sname}` has both `build` and `image`"),
            "keep exactly one: `build` (a context to build) or `image` (a prebuilt image)".to_string(),
        ),
        (None, None) => k.at_key(
            &format!("services.{sname}"),
            format!("service `{sname}` needs `build` or `image`"),
            "add `build = \"path/to/context\"` or `image = \"repo:tag\"`".to_string(),
        ),
        (Some(b), None) if b.trim().is_empty() => {
            k.at(&p("build"), "`build` is empty", "give the build context directory, relative to this file".to_string())
        }
        (None, Some(i)) if i.trim().is_empty() || i.contains(char::is_whitespace) => k.at(
            &p("image"),
            format!("invalid image reference `{i}`"),
            "use `repository:tag` or `repository@sha256:...`".to_string(),
        ),
        _ => {}
    }
    if let Some(port) = s.port
        && !(1..=65535).contains(&port)
    {
        k.at(&p("port"), format!("port {port} is out of range"), "use a port from 1 to 65535".to_string());
    }
    if s.public && s.port.is_none() {
        k.at(
            &p("public"),
            format!("public service `{sname}` has no `port`"),
            "add `port = ...`, the port the container listens on; a service without a port is a worker".to_string(),
        );
    }
    if let Some(domain) = &s.domain {
        if !s.public {
            k.at(
                &p("domain"),
                format!("service `{sname}` has a domain but is not public"),
                "add `public = true` to route the domain to it through the load balancer".to_string(),
            );
        }
        if kubernetes {
            // Only the Ingress's host: capsule makes no DNS record for it on Kubernetes yet.
            if !HOSTNAME.is_match(&domain.trim_end_matches('.').to_ascii_lowercase()) {
                k.at(
                    &p("domain"),
                    format!("invalid domain `{domain}`"),
                    "use a host name such as `app.example.com`".to_string(),
                );
            }
        } else {
            domains.check(k, &p("domain"), domain, true);
        }
    }
    if !fargate_pair_valid(s.cpu, 512)
        && !fargate_pair_valid(s.cpu, 1024)
        && !fargate_pair_valid(s.cpu, 2048)
        && !fargate_pair_valid(s.cpu, 4096)
        && ![8192, 16384].contains(&s.cpu)
    {
        k.at(
            &p("cpu"),
            format!("invalid Fargate cpu {}", s.cpu),
            "use 256, 512, 1024, 2048, 4096, 8192 or 16384".to_string(),
        );
    } else if !fargate_pair_valid(s.cpu, s.memory) {
        k.at(
            &p("memory"),
            format!("memory {} MiB is not valid with cpu {}", s.memory, s.cpu),
            format!("with cpu = {}, memory must be {}", s.cpu, fargate_memories(s.cpu)),
        );
    }
    if let Some(cmd) = &s.command
        && cmd.is_empty()
    {
        k.at(
            &p("command"),
            "`command` is empty",
            "remove it to use the image's CMD, or give the program and its arguments".to_string(),
        );
    }
    if let Some(release) = &s.release
        && (release.is_empty() || release.iter().any(|a| a.trim().is_empty()))
    {
        k.at(
            &p("release"),
            "`release` is empty or has an empty argument",
            "give the program and its arguments, e.g. `release = [\"/app/migrate\"]`, or remove it".to_string(),
        );
    }
    if let Some(count) = s.count {
        if s.autoscale.is_some() {
            k.at_key(
                &p("count"),
                format!("service `{sname}` has both `count` and `[autoscale]`"),
                "keep `count` for a fixed number of tasks or `[autoscale]` to scale on CPU, not both".to_string(),
            );
        }
        if !(0..=1000).contains(&count) {
            k.at(&p("count"), format!("count {count} is out of range"), "use 0 to 1000 tasks".to_string());
        }
    }
    if let Some(a) = &s.autoscale {
        if a.min < 0 {
            k.at(&p("autoscale.min"), format!("autoscale min {} is negative", a.min), "use 0 or more".to_string());
        }
        if a.max < 1 {
            k.at(&p("autoscale.max"), format!("autoscale max {} must be at least 1", a.max), None);
        }
        if a.min > a.max {
            k.at(
                &p("autoscale.min"),
                format!("autoscale min {} is greater than max {}", a.min, a.max),
                "make `min` at most `max`".to_string(),
            );
        }
        if !(1..=100).contains(&a.cpu) {
            k.at(
                &p("autoscale.cpu"),
                format!("target CPU {}% is out of range", a.cpu),
                "use a percentage from 1 to 100, e.g. 60".to_string(),
            );
        }
    }
    if !s.health.path.starts_with('/') {
        k.at(&p("health.path"), format!("health path `{}` must start with `/`", s.health.path), None);
    }
    match humantime::parse_duration(&s.health.grace) {
        Ok(d) if d.as_secs() > 7200 => k.at(
            &p("health.grace"),
            format!("grace period `{}` is too long", s.health.grace),
            "use at most 2h".to_string(),
        ),
        Ok(_) => {}
        Err(_) => k.at(
            &p("health.grace"),
            format!("invalid duration `{}`", s.health.grace),
            "write a duration such as `30s`, `90s` or `2m`".to_string(),
        ),
    }
}

/// `[services.NAME.env]`: variable names, secrets and references.
fn check_service_env(k: &mut Check, c: &CapsuleFile, sname: &str, s: &Service) {
    for (var, value) in &s.env {
        let vp = format!("services.{sname}.env.{var}");
        if !ENV_VAR.is_match(var) {
            k.at_key(
                &vp,
                format!("invalid environment variable name `{var}`"),
                "use letters, digits and underscores, not starting with a digit".to_string(),
            );
        }
        match value {
            EnvValue::Secret { secret } => {
                if !c.secrets.contains_key(secret) {
                    k.at(
                        &vp,
                        format!("unknown secret `{secret}`"),
                        match did_you_mean(secret, c.secrets.keys().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("declare it in `[secrets]`: `{secret} = {{ description = \"...\" }}`"),
                        },
                    );
                }
            }
            EnvValue::Text(text) => check_env_text(k, c, &vp, var, text),
        }
    }
}

/// `[jobs.NAME]`.
fn check_job(k: &mut Check, c: &CapsuleFile, jname: &str, j: &Job) {
    let p = |key: &str| format!("jobs.{jname}.{key}");
    if !c.services.contains_key(&j.service) {
        k.at(
            &p("service"),
            format!("job `{jname}` refers to unknown service `{}`", j.service),
            match did_you_mean(&j.service, c.services.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "a job reuses a service's image, env and size: name one of `[services.*]`".to_string(),
            },
        );
    }
    if let Err(why) = check_schedule(&j.schedule) {
        k.at(&p("schedule"), format!("invalid schedule `{}`: {why}", j.schedule), "use `cron(MIN HOUR DAY MONTH WEEKDAY YEAR)` with `?` in day or weekday, e.g. `cron(0 3 * * ? *)`, or `rate(5 minutes)`".to_string());
    }
    if let Some(cmd) = &j.command
        && cmd.is_empty()
    {
        k.at(&p("command"), "`command` is empty", "remove it to use the service's command".to_string());
    }
}

/// `[databases.NAME]`.
fn check_database(k: &mut Check, dname: &str, d: &Database) {
    let p = |key: &str| format!("databases.{dname}.{key}");
    if !DB_ENGINES.iter().any(|(e, _)| *e == d.engine) {
        k.at(&p("engine"), format!("unknown database engine `{}`", d.engine), engine_hint(&d.engine, DB_ENGINES));
    }
    if d.version.as_deref().is_some_and(|v| v.trim().is_empty()) {
        k.at(&p("version"), "`version` is empty", "remove it for the engine's default or give e.g. `16`".to_string());
    } else if let Some(v) = &d.version
        && DB_ENGINES.iter().any(|(e, _)| *e == d.engine)
        && let Err(why) = db_family(&d.engine, v)
    {
        k.at(
            &p("version"),
            why,
            "give a version RDS supports, e.g. `16` (postgres), `8.0` (mysql), `10.11` (mariadb)".to_string(),
        );
    }
    if !d.class.starts_with("db.") {
        k.at(
            &p("class"),
            format!("invalid instance class `{}`", d.class),
            "RDS classes start with `db.`, e.g. `db.t4g.micro`".to_string(),
        );
    }
    if !(20..=65536).contains(&d.storage_gb) {
        k.at(
            &p("storage_gb"),
            format!("storage_gb {} is out of range", d.storage_gb),
            "use 20 to 65536 GiB".to_string(),
        );
    }
    if !(1..=35).contains(&d.backup_days) {
        k.at(
            &p("backup_days"),
            format!("backup_days {} is out of range", d.backup_days),
            "keep automated backups 1 to 35 days".to_string(),
        );
    }
    if !["snapshot", "delete"].contains(&d.on_delete.as_str()) {
        k.at(
            &p("on_delete"),
            format!("unknown on_delete `{}`", d.on_delete),
            "use `snapshot` (keep a final snapshot) or `delete`".to_string(),
        );
    }
    if !["maintenance-window", "immediately"].contains(&d.apply_changes.as_str()) {
        k.at(
            &p("apply_changes"),
            format!("unknown apply_changes `{}`", d.apply_changes),
            "use `maintenance-window` or `immediately`".to_string(),
        );
    }
    if !DB_USER.is_match(&d.username) || ["admin", "postgres", "rdsadmin", "root"].contains(&d.username.as_str()) {
        k.at(&p("username"), format!("invalid database username `{}`", d.username), "use 1 to 16 letters, digits or underscores, starting with a letter, not a reserved name (admin, postgres, rdsadmin, root)".to_string());
    }
}

/// `[caches.NAME]`.
fn check_cache(k: &mut Check, cname: &str, cache: &Cache) {
    let p = |key: &str| format!("caches.{cname}.{key}");
    if !CACHE_ENGINES.iter().any(|(e, _)| *e == cache.engine) {
        k.at(
            &p("engine"),
            format!("unknown cache engine `{}`", cache.engine),
            engine_hint(&cache.engine, CACHE_ENGINES),
        );
    }
    if !cache.node.starts_with("cache.") {
        k.at(
            &p("node"),
            format!("invalid node type `{}`", cache.node),
            "ElastiCache node types start with `cache.`, e.g. `cache.t4g.micro`".to_string(),
        );
    }
    if cache.engine == "memcached"
        && let Some(v) = &cache.version
        && !memcached_version_ok(v)
    {
        k.at(
            &p("version"),
            format!("invalid memcached version `{v}`"),
            "use a full version from 1.6.12 on (ElastiCache encrypts memcached traffic from there), e.g. `1.6.22`; remove `version` for the default".to_string(),
        );
    }
    let max = if cache.engine == "memcached" { 40 } else { 6 };
    if !(1..=max).contains(&cache.nodes) {
        k.at(
            &p("nodes"),
            format!("nodes {} is out of range", cache.nodes),
            format!("use 1 to {max} nodes for {}", cache.engine),
        );
    }
}

/// `[sites.NAME]` and its header rules.
fn check_site(k: &mut Check, domains: &mut Domains, sname: &str, site: &Site) {
    let p = |key: &str| format!("sites.{sname}.{key}");
    if site.dir.trim().is_empty() {
        k.at(&p("dir"), "`dir` is empty", "give the folder of built files, relative to this file".to_string());
    }
    if let Some(domain) = &site.domain {
        domains.check(k, &p("domain"), domain, true);
    }
    for (i, h) in site.headers.iter().enumerate() {
        let hp = format!("sites.{sname}.headers.{i}");
        if let Err(e) = globset::GlobBuilder::new(&h.glob).literal_separator(true).build() {
            k.at(
                &format!("{hp}.glob"),
                format!("invalid glob `{}`: {}", h.glob, e.kind()),
                "globs match paths relative to `dir`, e.g. `assets/**` or `*.html`".to_string(),
            );
        }
        if h.cache_control.is_none() && h.content_type.is_none() {
            k.at_key(&hp, "header rule sets nothing", "add `cache_control` or `content_type`".to_string());
        }
        if h.cache_control.as_deref().is_some_and(|v| v.trim().is_empty() || v.contains(['\n', '\r'])) {
            k.at(
                &format!("{hp}.cache_control"),
                "invalid `cache_control`",
                "give a Cache-Control value such as `public, max-age=300`".to_string(),
            );
        }
    }
}

/// ElastiCache lists memcached versions in full (`1.6.22`); `1.6` is not one
/// (docs.aws.amazon.com/AmazonElastiCache/latest/mem-ug/supported-engine-versions-mc.html).
/// capsule encrypts memcached traffic, which ElastiCache supports from 1.6.12.
fn memcached_version_ok(v: &str) -> bool {
    let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.len() == 3 && v.split('.').all(|p| p.bytes().all(|b| b.is_ascii_digit())) && parts >= vec![1, 6, 12]
}

fn engine_hint(engine: &str, known: &[(&str, &str)]) -> String {
    match did_you_mean(engine, known.iter().map(|(e, _)| *e)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("use one of: {}", known.iter().map(|(e, _)| *e).collect::<Vec<_>>().join(", ")),
    }
}

/// A plain env value: references must be whole values and resolve; literal secrets are refused.
fn check_env_text(k: &mut Check, c: &CapsuleFile, path: &str, var: &str, text: &str) {
    let mut refs = 0;
    for cap in REFERENCE.captures_iter(text) {
        refs += 1;
        let (kind, name, attr) = (&cap[1], &cap[2], &cap[3]);
        let known: Vec<&str> = if kind == "databases" {
            c.databases.keys().map(String::as_str).collect()
        } else {
            c.caches.keys().map(String::as_str).collect()
        };
        if !known.contains(&name) {
            k.at(
                path,
                format!("unknown {} `{name}` in `{}`", if kind == "databases" { "database" } else { "cache" }, &cap[0]),
                match did_you_mean(name, known.iter().copied()) {
                    Some(s) => format!("did you mean `${{{kind}.{s}.{attr}}}`?"),
                    None => format!(
                        "declare `[{kind}.{name}]` or use one of: {}",
                        if known.is_empty() { "(none declared)".to_string() } else { known.join(", ") }
                    ),
                },
            );
        } else if attr != "url" {
            k.at(path, format!("unknown attribute `{attr}` in `{}`", &cap[0]), format!("use `${{{kind}.{name}.url}}`"));
        }
    }
    if refs > 0 && !REFERENCE.find(text).is_some_and(|m| m.start() == 0 && m.end() == text.len()) {
        k.at(path, format!("`{var}` mixes a reference with other text"), "a database or cache reference becomes an ECS secret and must be the whole value, e.g. `\"${databases.main.url}\"`".to_string());
    }
    if refs == 0 && looks_like_secret(var, text) {
        k.at(path, format!("`{var}` looks like a secret value committed to git"), format!(
            "declare it in `[secrets]` (`{} = {{ description = \"...\" }}`), store it with `capsule secrets set CAPSULE ENV {}`, and write `{var} = {{ secret = \"{}\" }}`; rotate the value, it is in the history now",
            var.to_ascii_lowercase().replace('_', "-"), var.to_ascii_lowercase().replace('_', "-"), var.to_ascii_lowercase().replace('_', "-")
        ));
    }
}

fn looks_like_secret(var: &str, value: &str) -> bool {
    if KNOWN_TOKEN.is_match(value) {
        return true;
    }
    SECRETISH_NAME.is_match(var)
        && value.len() >= 16
        && !value.contains([' ', '/', '$'])
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
}

/// EventBridge schedule expressions: `cron(...)` with six fields or `rate(N unit)`.
pub fn check_schedule(s: &str) -> Result<(), String> {
    if let Some(inner) = s.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("a rate is `rate(VALUE UNIT)`".into());
        };
        let n: u32 = n.parse().map_err(|_| format!("`{n}` is not a positive whole number"))?;
        if n == 0 {
            return Err("the rate must be at least 1".into());
        }
        let ok = match unit {
            "minute" | "hour" | "day" => n == 1,
            "minutes" | "hours" | "days" => n > 1,
            _ => return Err(format!("unknown unit `{unit}` (minutes, hours or days)")),
        };
        if !ok {
            return Err(format!(
                "use the singular unit for 1 and the plural otherwise (`rate({n} {})`)",
                if n == 1 {
                    unit.trim_end_matches('s').to_string()
                } else {
                    format!("{}s", unit.trim_end_matches('s'))
                }
            ));
        }
        return Ok(());
    }
    let Some(inner) = s.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) else {
        return Err("a schedule is `cron(...)` or `rate(...)`".into());
    };
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found {}",
            fields.len()
        ));
    }
    let limits: [(&str, u32, u32, &str); 6] = [
        ("minutes", 0, 59, ",-*/"),
        ("hours", 0, 23, ",-*/"),
        ("day-of-month", 1, 31, ",-*?/LW"),
        ("month", 1, 12, ",-*/"),
        ("day-of-week", 1, 7, ",-*?/L#"),
        ("year", 1970, 2199, ",-*/"),
    ];
    for (field, (name, lo, hi, specials)) in fields.iter().zip(limits) {
        let upper = field.to_ascii_uppercase();
        let words: &[&str] = match name {
            "month" => &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
            "day-of-week" => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        };
        let mut rest = upper.clone();
        for w in words {
            rest = rest.replace(w, "1");
        }
        if let Some(bad) = rest.chars().find(|ch| !ch.is_ascii_digit() && !specials.contains(*ch)) {
            return Err(format!("`{bad}` is not allowed in the {name} field"));
        }
        for number in rest.split(|ch: char| !ch.is_ascii_digit()).filter(|n| !n.is_empty()) {
            let v: u32 = number.parse().unwrap_or(u32::MAX);
            let is_step = upper.contains(&format!("/{number}"));
            if !is_step && !(lo..=hi).contains(&v) {
                return Err(format!("{v} is out of range for {name} ({lo}-{hi})"));
            }
        }
    }
    let (dom, dow) = (fields[2], fields[4]);
    if (dom == "?") == (dow == "?") {
        return Err("exactly one of day-of-month and day-of-week must be `?`".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_pairs_follow_the_aws_table() {
        assert!(fargate_pair_valid(256, 512));
        assert!(fargate_pair_valid(256, 2048));
        assert!(!fargate_pair_valid(256, 4096));
        assert!(fargate_pair_valid(512, 3072));
        assert!(!fargate_pair_valid(512, 512));
        assert!(fargate_pair_valid(4096, 30720));
        assert!(!fargate_pair_valid(8192, 18432));
        assert!(fargate_pair_valid(8192, 20480));
        assert!(!fargate_pair_valid(300, 512));
        assert_eq!(fargate_memories(256), "512, 1024, 2048");
        assert_eq!(fargate_memories(1024), "2048 to 8192 (in steps of 1024)");
    }

    #[test]
    fn names_aws_would_refuse_are_refused() {
        for ok in ["api", "web-2", "a1", "my-app"] {
            assert!(is_entry_name(ok), "{ok}");
        }
        // RDS and ElastiCache identifiers: no `--`, no trailing `-`; S3: no `xn--`.
        for bad in ["api--v2", "api-", "xn--abc", "1api", "Api", "a_b"] {
            assert!(!is_entry_name(bad), "{bad}");
        }
        assert_eq!(capsule_name_problem("shop"), None);
        assert_eq!(capsule_name_problem("sgx"), None);
        for bad in ["shop--x", "shop-", "sg", "sg-app", "sthree", "sthree-web", "amzn-s3-demo-x", "x"] {
            assert!(capsule_name_problem(bad).is_some(), "{bad}");
        }
        assert!(capsule_name_problem("sg-app").is_some_and(|h| h.contains("`sg-`")));
    }

    #[test]
    fn memcached_versions_must_be_full_versions() {
        assert!(memcached_version_ok("1.6.22"));
        assert!(!memcached_version_ok("1.6"));
        assert!(!memcached_version_ok("1"));
        assert!(!memcached_version_ok("1.6.x"));
        assert!(!memcached_version_ok("1.6.6"), "no in-transit encryption before 1.6.12");
        assert!(memcached_version_ok("1.6.12"));
        let text = "[capsule]\nname = \"shop\"\n[caches.pages]\nengine = \"memcached\"\nversion = \"1.6\"\n";
        let err = crate::config::load_str(std::path::Path::new("capsule.toml"), text).err().map(|d| format!("{d:?}"));
        assert!(err.as_deref().is_some_and(|e| e.contains("invalid memcached version `1.6`")), "{err:?}");
    }

    #[test]
    fn schedules_accept_aws_forms() {
        for ok in [
            "cron(0 3 * * ? *)",
            "cron(0/15 * ? * MON-FRI *)",
            "cron(0 12 L * ? *)",
            "rate(1 day)",
            "rate(5 minutes)",
            "cron(30 2 ? * 6#3 2027)",
        ] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn schedules_reject_with_a_reason() {
        let cases = [
            ("0 3 * * *", "a schedule is `cron(...)` or `rate(...)`"),
            (
                "cron(0 3 * * *)",
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found 5",
            ),
            ("cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be `?`"),
            ("cron(61 3 * * ? *)", "61 is out of range for minutes (0-59)"),
            ("rate(1 days)", "use the singular unit for 1 and the plural otherwise (`rate(1 day)`)"),
            ("rate(0 minutes)", "the rate must be at least 1"),
            ("rate(5 weeks)", "unknown unit `weeks` (minutes, hours or days)"),
        ];
        for (input, why) in cases {
            assert_eq!(check_schedule(input), Err(why.to_string()), "{input}");
        }
    }

    #[test]
    fn secret_detection_catches_tokens_not_config() {
        assert!(looks_like_secret("STRIPE_KEY", "sk_live_51Habc"));
        assert!(looks_like_secret("API_TOKEN", "a8f9d0c7e6b5a4938271"));
        assert!(!looks_like_secret("RUST_LOG", "info"));
        assert!(!looks_like_secret("SECRET_FILE", "/run/secrets/app"));
        assert!(!looks_like_secret("PUBLIC_URL", "https://example.com/a1b2c3d4e5f6g7h8"));
    }
}
