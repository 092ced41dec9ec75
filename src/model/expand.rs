//! Expansion of one capsule environment into the AWS resources it needs. Every later
//! feature lands here first: an adapter only realises what this module asks for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Address, Kind, Resource, aws_name, ownership_tags, reference};
use crate::config::types::{CACHE_ENGINES, DB_ENGINES, EnvValue, HeaderRule};
use crate::config::{Capsule, Environment};

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

struct Builder<'a> {
    capsule: &'a str,
    env: &'a str,
    region: String,
    resources: Vec<Resource>,
}

impl Builder<'_> {
    fn addr(&self, kind: Kind, name: &str) -> Address {
        Address { capsule: self.capsule.to_string(), env: self.env.to_string(), kind, name: name.to_string() }
    }

    fn name(&self, name: &str, max: usize) -> String {
        aws_name(&[self.capsule, self.env, name], max)
    }

    fn add(
        &mut self,
        kind: Kind,
        name: &str,
        aws_name: String,
        attributes: Value,
        depends_on: Vec<Address>,
    ) -> Address {
        self.add_in(kind, name, aws_name, self.region.clone(), attributes, depends_on)
    }

    fn add_in(
        &mut self,
        kind: Kind,
        name: &str,
        aws_name: String,
        region: String,
        attributes: Value,
        depends_on: Vec<Address>,
    ) -> Address {
        let address = self.addr(kind, name);
        let attributes: BTreeMap<String, Value> = match attributes {
            Value::Object(m) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        self.resources.push(Resource {
            address: address.clone(),
            aws_name,
            region,
            attributes,
            depends_on,
            tags: ownership_tags(self.capsule, self.env, name),
        });
        address
    }
}

/// Expands `env` of `capsule` into resources and artifacts, in dependency-friendly order.
pub fn expand(capsule: &Capsule, env: &Environment, ctx: &ExpandContext) -> Desired {
    let c = &env.config;
    let region = c.capsule.region.clone().unwrap_or_else(|| ctx.default_region.clone());
    let mut b = Builder { capsule: &capsule.name, env: &env.name, region: region.clone(), resources: Vec::new() };
    let mut artifacts = Vec::new();
    let role_path = format!("/capsule/{}/{}/", capsule.name, env.name);
    let secret_path = |name: &str| format!("capsule/{}/{}/{}", capsule.name, env.name, name);

    // Secrets the user sets with `capsule secrets set`.
    let mut secrets: BTreeMap<String, Address> = BTreeMap::new();
    for (name, decl) in &c.secrets {
        let a = b.add(
            Kind::Secret,
            name,
            secret_path(name),
            json!({
                "description": decl.description.clone().unwrap_or_default(),
                "value_source": "user",
            }),
            vec![],
        );
        secrets.insert(name.clone(), a);
    }

    // DNS zone, looked up by name (it must exist; capsule never creates zones).
    let zone = c.dns.as_ref().map(|d| d.zone.trim_end_matches('.').to_string());

    // Data stores first: services reference their connection secrets.
    let mut db_secrets: BTreeMap<String, Address> = BTreeMap::new();
    let mut data_security_groups: Vec<Address> = Vec::new();
    for (name, d) in &c.databases {
        let version = d.version.clone().unwrap_or_else(|| default_version(DB_ENGINES, &d.engine));
        let port = if d.engine == "postgres" { 5432 } else { 3306 };
        let subnet = b.add(
            Kind::DbSubnetGroup,
            name,
            b.name(name, 255),
            json!({
                "description": format!("capsule {} {} database {name}", capsule.name, env.name),
                "subnets": "vpc:private",
            }),
            vec![],
        );
        let sg = b.add(
            Kind::SecurityGroup,
            &format!("db-{name}"),
            b.name(&format!("db-{name}"), 255),
            json!({
                "description": format!("database {name}: from the capsule's services only"),
                "ingress": [ { "port": port, "from": "capsule:services" } ],
            }),
            vec![],
        );
        data_security_groups.push(sg.clone());
        let secret = b.add(
            Kind::Secret,
            &format!("db-{name}"),
            secret_path(&format!("db-{name}")),
            json!({
                "description": format!("connection settings of database {name} (host, port, user, password, url)"),
                "value_source": "generated",
            }),
            vec![],
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
                "connection_secret": reference(&secret, "arn"),
            }),
            vec![subnet, sg, secret.clone()],
        );
        db_secrets.insert(name.clone(), secret);
    }
    let mut cache_secrets: BTreeMap<String, Address> = BTreeMap::new();
    for (name, cache) in &c.caches {
        let version = cache.version.clone().unwrap_or_else(|| default_version(CACHE_ENGINES, &cache.engine));
        let port = if cache.engine == "memcached" { 11211 } else { 6379 };
        let subnet = b.add(
            Kind::CacheSubnetGroup,
            name,
            b.name(name, 255),
            json!({
                "description": format!("capsule {} {} cache {name}", capsule.name, env.name),
                "subnets": "vpc:private",
            }),
            vec![],
        );
        let sg = b.add(
            Kind::SecurityGroup,
            &format!("cache-{name}"),
            b.name(&format!("cache-{name}"), 255),
            json!({
                "description": format!("cache {name}: from the capsule's services only"),
                "ingress": [ { "port": port, "from": "capsule:services" } ],
            }),
            vec![],
        );
        data_security_groups.push(sg.clone());
        let secret = b.add(
            Kind::Secret,
            &format!("cache-{name}"),
            secret_path(&format!("cache-{name}")),
            json!({
                "description": format!("connection settings of cache {name} (host, port, auth token, url)"),
                "value_source": "generated",
            }),
            vec![],
        );
        let deps = vec![subnet.clone(), sg.clone(), secret.clone()];
        if cache.engine == "memcached" {
            b.add(
                Kind::ElasticacheCluster,
                name,
                b.name(name, 40),
                json!({
                    "engine": cache.engine,
                    "engine_version": version,
                    "node_type": cache.node,
                    "nodes": cache.nodes,
                    "port": port,
                    "subnet_group": reference(&subnet, "name"),
                    "security_groups": [reference(&sg, "id")],
                    "connection_secret": reference(&secret, "arn"),
                }),
                deps,
            );
        } else {
            b.add(
                Kind::ElasticacheReplicationGroup,
                name,
                b.name(name, 40),
                json!({
                    "engine": cache.engine,
                    "engine_version": version,
                    "node_type": cache.node,
                    "nodes": cache.nodes,
                    "automatic_failover": cache.nodes >= 2,
                    "multi_az": cache.nodes >= 2,
                    "transit_encryption": true,
                    "at_rest_encryption": true,
                    "port": port,
                    "subnet_group": reference(&subnet, "name"),
                    "security_groups": [reference(&sg, "id")],
                    "connection_secret": reference(&secret, "arn"),
                }),
                deps,
            );
        }
        cache_secrets.insert(name.clone(), secret);
    }

    // Email: the SES identity and its records.
    let mut email_identity = None;
    if let Some(email) = &c.email {
        let identity = b.add(
            Kind::SesIdentity,
            "email",
            email.domain.clone(),
            json!({
                "domain": email.domain,
                "dkim": true,
                "mail_from_domain": format!("mail.{}", email.domain),
                "zone": zone,
            }),
            vec![],
        );
        email_identity = Some((email.domain.clone(), identity.clone()));
        for i in 1..=3 {
            b.add(
                Kind::Route53Record,
                &format!("email-dkim-{i}"),
                format!("dkim-{i}.{}", email.domain),
                json!({
                    "zone": zone, "type": "CNAME", "ttl": 1800,
                    "name": reference(&identity, &format!("dkim_name_{i}")),
                    "values": [reference(&identity, &format!("dkim_value_{i}"))],
                }),
                vec![identity.clone()],
            );
        }
        b.add(
            Kind::Route53Record,
            "email-mail-from-mx",
            format!("mail.{}", email.domain),
            json!({
                "zone": zone, "type": "MX", "ttl": 300, "name": format!("mail.{}", email.domain),
                "values": [format!("10 feedback-smtp.{region}.amazonses.com")],
            }),
            vec![identity.clone()],
        );
        b.add(
            Kind::Route53Record,
            "email-mail-from-spf",
            format!("mail.{}", email.domain),
            json!({
                "zone": zone, "type": "TXT", "ttl": 300, "name": format!("mail.{}", email.domain),
                "values": ["\"v=spf1 include:amazonses.com ~all\""],
            }),
            vec![identity.clone()],
        );
        b.add(
            Kind::Route53Record,
            "email-dmarc",
            format!("_dmarc.{}", email.domain),
            json!({
                "zone": zone, "type": "TXT", "ttl": 300, "name": format!("_dmarc.{}", email.domain),
                "values": ["\"v=DMARC1; p=none;\""],
                "only_if_absent": true,
            }),
            vec![identity],
        );
    }

    // Container services and jobs.
    let has_containers = !c.services.is_empty();
    let public: Vec<&String> = c.services.iter().filter(|(_, s)| s.public).map(|(n, _)| n).collect();
    if has_containers {
        b.add(
            Kind::EcsCluster,
            "main",
            b.name("", 255),
            json!({
                "container_insights": true,
                "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
            }),
            vec![],
        );
    }
    let mut alb = None;
    if !public.is_empty() {
        let sg = b.add(
            Kind::SecurityGroup,
            "alb",
            b.name("alb", 255),
            json!({
                "description": "load balancer: HTTP and HTTPS from the internet",
                "ingress": [ { "port": 80, "cidr": "0.0.0.0/0" }, { "port": 80, "cidr": "::/0" },
                             { "port": 443, "cidr": "0.0.0.0/0" }, { "port": 443, "cidr": "::/0" } ],
            }),
            vec![],
        );
        let lb = b.add(
            Kind::Lb,
            "main",
            b.name("", 32),
            json!({
                "type": "application",
                "scheme": "internet-facing",
                // IPv4: the default VPC's subnets have no IPv6 ranges, which dualstack needs.
                "ip_address_type": "ipv4",
                "subnets": "vpc:public",
                "security_groups": [reference(&sg, "id")],
                "idle_timeout_seconds": 60,
                "drop_invalid_header_fields": true,
            }),
            vec![sg.clone()],
        );
        let domains: Vec<String> = public.iter().filter_map(|n| c.services[*n].domain.clone()).collect();
        let mut cert = None;
        if !domains.is_empty() {
            cert = Some(b.add(
                Kind::AcmCertificate,
                "lb",
                domains[0].clone(),
                json!({
                    "domain": domains[0],
                    "alternative_names": domains[1..],
                    "validation": "dns",
                    "zone": zone,
                }),
                vec![],
            ));
        }
        let http = b.add(Kind::LbListener, "http", b.name("http", 255), json!({
            "load_balancer": reference(&lb, "arn"),
            "port": 80,
            "protocol": "HTTP",
            "default_action": if cert.is_some() { json!({ "redirect": { "protocol": "HTTPS", "port": 443, "status": "HTTP_301" } }) }
                              else { json!({ "fixed_response": { "status": 404 } }) },
        }), vec![lb.clone()]);
        let mut rules_on = http.clone();
        if let Some(cert) = &cert {
            rules_on = b.add(
                Kind::LbListener,
                "https",
                b.name("https", 255),
                json!({
                    "load_balancer": reference(&lb, "arn"),
                    "port": 443,
                    "protocol": "HTTPS",
                    "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                    "certificate": reference(cert, "arn"),
                    "default_action": { "fixed_response": { "status": 404 } },
                }),
                vec![lb.clone(), cert.clone()],
            );
        }
        alb = Some((lb, sg, rules_on, cert));
    }

    let mut service_sgs: Vec<Address> = Vec::new();
    for (priority, (name, s)) in c.services.iter().enumerate() {
        let log = b.add(
            Kind::LogGroup,
            name,
            format!("/capsule/{}/{}/{name}", capsule.name, env.name),
            json!({
                "retention_days": 30,
            }),
            vec![],
        );
        // (variable, secret, output naming the value): connection settings are JSON, so a
        // url reference names the secret's `url` key (`<arn>:url::`, ECS's JSON-key syntax).
        let mut secret_refs: Vec<(String, Address, &str)> = Vec::new();
        let mut environment: BTreeMap<String, String> = BTreeMap::new();
        for (var, value) in &s.env {
            match value {
                EnvValue::Secret { secret } => {
                    if let Some(a) = secrets.get(secret) {
                        secret_refs.push((var.clone(), a.clone(), "arn"));
                    }
                }
                EnvValue::Text(text) => match parse_reference(text) {
                    Some(("databases", db)) if db_secrets.contains_key(db) => {
                        secret_refs.push((var.clone(), db_secrets[db].clone(), "url_value_from"))
                    }
                    Some(("caches", cache)) if cache_secrets.contains_key(cache) => {
                        secret_refs.push((var.clone(), cache_secrets[cache].clone(), "url_value_from"))
                    }
                    _ => {
                        environment.insert(var.clone(), text.clone());
                    }
                },
            }
        }
        secret_refs.sort();
        let mut secret_addrs: Vec<Address> = secret_refs.iter().map(|(_, a, _)| a.clone()).collect();
        secret_addrs.dedup();
        let mut exec_statements = vec![json!({
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [reference(&log, "arn")],
        })];
        let mut exec_deps: Vec<Address> = secret_addrs.iter().cloned().chain([log.clone()]).collect();
        if s.build.is_some() {
            let repo = b.addr(Kind::EcrRepository, name);
            exec_statements
                .push(json!({ "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"] }));
            exec_statements.push(json!({
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": [reference(&repo, "arn")],
            }));
            exec_deps.push(repo);
        }
        if !secret_addrs.is_empty() {
            exec_statements.push(json!({
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": secret_addrs.iter().map(|a| reference(a, "arn")).collect::<Vec<_>>(),
            }));
        }
        let execution = b.add(
            Kind::IamRole,
            &format!("{name}-execution"),
            b.name(&format!("{name}-execution"), 64),
            role_attributes(
                &role_path,
                &format!(
                    "capsule {} {}: start service {name} (pull its image, write its logs, read its secrets)",
                    capsule.name, env.name
                ),
                "ecs-tasks.amazonaws.com",
                exec_statements,
            ),
            exec_deps,
        );
        let task_statements: Vec<Value> = email_identity
            .iter()
            .map(|(_, a)| json!({ "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": [reference(a, "arn")] }))
            .collect();
        let task_role = b.add(
            Kind::IamRole,
            &format!("{name}-task"),
            b.name(&format!("{name}-task"), 64),
            role_attributes(
                &role_path,
                &format!("capsule {} {}: the permissions of service {name}", capsule.name, env.name),
                "ecs-tasks.amazonaws.com",
                task_statements,
            ),
            email_identity.iter().map(|(_, a)| a.clone()).collect(),
        );
        let mut ingress = Vec::new();
        if let (Some(port), Some((_, alb_sg, _, _)), true) = (s.port, &alb, s.public) {
            ingress.push(json!({ "port": port, "from": reference(alb_sg, "id") }));
        }
        let mut sg_deps = Vec::new();
        if let Some((_, alb_sg, _, _)) = &alb
            && s.public
        {
            sg_deps.push(alb_sg.clone());
        }
        let sg = b.add(
            Kind::SecurityGroup,
            name,
            b.name(name, 255),
            json!({
                "description": format!("service {name}"),
                "ingress": ingress,
            }),
            sg_deps,
        );
        service_sgs.push(sg.clone());

        let repo = s.build.as_ref().map(|context| {
            let repo = b.add(Kind::EcrRepository, name, b.name(name, 256), json!({
                "image_tag_mutability": "IMMUTABLE",
                "scan_on_push": true,
                "encryption": "AES256",
                // Tags are content hashes that live task definitions pin: ECR never
                // expires a tagged image; untagged leftovers of interrupted pushes go.
                "lifecycle_policy": { "rules": [{
                    "rulePriority": 1,
                    "description": "expire untagged images after 14 days",
                    "selection": { "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14 },
                    "action": { "type": "expire" }
                }] },
            }), vec![]);
            artifacts.push(Artifact::Image {
                name: name.clone(),
                context: capsule.dir.join(context),
                dockerfile: s.dockerfile.clone(),
                repository: repo.clone(),
            });
            repo
        });
        let image = match (&repo, &s.image) {
            (Some(repo), _) => reference(repo, "image"),
            (None, Some(image)) => {
                artifacts.push(Artifact::Prebuilt { name: name.clone(), image: image.clone() });
                json!(image)
            }
            (None, None) => Value::Null,
        };
        let container = json!({
            "name": name,
            "image": image,
            "command": s.command,
            "port": s.port,
            "environment": environment,
            "secrets": secret_refs.iter().map(|(var, a, output)| (var.clone(), reference(a, output))).collect::<BTreeMap<_, _>>(),
            "log_group": reference(&log, "name"),
        });
        let mut td_deps = vec![execution.clone(), task_role.clone(), log.clone()];
        td_deps.extend(repo.iter().cloned());
        let task_def = b.add(
            Kind::EcsTaskDefinition,
            name,
            b.name(name, 255),
            json!({
                "cpu": s.cpu,
                "memory": s.memory,
                "network_mode": "awsvpc",
                "requires": "FARGATE",
                "execution_role": reference(&execution, "arn"),
                "task_role": reference(&task_role, "arn"),
                "container": container,
            }),
            td_deps,
        );

        let mut load_balancer = Value::Null;
        let cluster_addr = b.addr(Kind::EcsCluster, "main");
        let mut svc_deps = vec![cluster_addr.clone(), task_def.clone(), sg.clone()];
        if let (true, Some(port), Some((lb, _, listener, _))) = (s.public, s.port, &alb) {
            let tg = b.add(
                Kind::LbTargetGroup,
                name,
                b.name(name, 32),
                json!({
                    "port": port,
                    "protocol": "HTTP",
                    "target_type": "ip",
                    "vpc": "vpc:default",
                    "health_path": s.health.path,
                    "health_matcher": "200-399",
                    "deregistration_delay_seconds": 30,
                }),
                vec![lb.clone()],
            );
            let condition = match &s.domain {
                Some(d) => json!({ "host_header": [d] }),
                None => json!({ "path_pattern": ["/*"] }),
            };
            b.add(
                Kind::LbListenerRule,
                name,
                b.name(name, 255),
                json!({
                    "listener": reference(listener, "arn"),
                    "priority": 100 + priority as i64 * 10 + if s.domain.is_none() { 5000 } else { 0 },
                    "condition": condition,
                    "forward_to": reference(&tg, "arn"),
                }),
                vec![listener.clone(), tg.clone()],
            );
            load_balancer = json!({ "target_group": reference(&tg, "arn"), "container": name, "port": port });
            svc_deps.push(tg);
        }
        let grace = humantime::parse_duration(&s.health.grace).map(|d| d.as_secs()).unwrap_or(30);
        let service = b.add(Kind::EcsService, name, name.clone(), json!({
            "cluster": reference(&cluster_addr, "arn"),
            "task_definition": reference(&task_def, "arn"),
            "launch_type": "FARGATE",
            "desired_count": if s.autoscale.is_some() { Value::String("(autoscaled)".into()) } else { json!(s.count.unwrap_or(1)) },
            "deployment_circuit_breaker": { "enable": true, "rollback": true },
            "health_check_grace_seconds": if load_balancer.is_null() { Value::Null } else { json!(grace) },
            "load_balancer": load_balancer,
            "subnets": "vpc:private-or-default",
            "security_groups": [reference(&sg, "id")],
            // The default VPC has public subnets only and no NAT: a task reaches ECR, Secrets
            // Manager and CloudWatch Logs through its public IP. Its security group still
            // admits nothing but the load balancer.
            "assign_public_ip": true,
        }), svc_deps);
        if let Some(a) = &s.autoscale {
            let target = b.add(
                Kind::AutoscalingTarget,
                name,
                format!("service/{}/{}", b.name("", 255), name),
                json!({
                    "service_namespace": "ecs",
                    "scalable_dimension": "ecs:service:DesiredCount",
                    "min": a.min,
                    "max": a.max,
                }),
                vec![service.clone()],
            );
            b.add(
                Kind::AutoscalingPolicy,
                name,
                b.name(&format!("{name}-cpu"), 255),
                json!({
                    "type": "TargetTrackingScaling",
                    "metric": "ECSServiceAverageCPUUtilization",
                    "target_percent": a.cpu,
                    "scale_in_cooldown_seconds": 300,
                    "scale_out_cooldown_seconds": 60,
                }),
                vec![target],
            );
        }
    }

    if !c.jobs.is_empty() {
        let job_defs: Vec<Value> = c
            .jobs
            .keys()
            .map(|j| reference(&b.addr(Kind::EcsTaskDefinition, &format!("job-{j}")), "family_arn"))
            .collect();
        let passed_roles: Vec<Address> = c
            .jobs
            .values()
            .flat_map(|j| [format!("{}-execution", j.service), format!("{}-task", j.service)])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|role| b.addr(Kind::IamRole, &role))
            .collect();
        let pass: Vec<Value> = passed_roles.iter().map(|a| reference(a, "arn")).collect();
        // The policy names the job task definitions and the roles it passes: they exist first.
        let events_deps: Vec<Address> = c
            .jobs
            .keys()
            .map(|j| b.addr(Kind::EcsTaskDefinition, &format!("job-{j}")))
            .chain(passed_roles.iter().cloned())
            .collect();
        let events_role = b.add(
            Kind::IamRole,
            "events",
            b.name("events", 64),
            role_attributes(
                &role_path,
                &format!("capsule {} {}: start the scheduled jobs", capsule.name, env.name),
                "events.amazonaws.com",
                vec![
                    json!({ "Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": job_defs }),
                    json!({ "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": pass }),
                ],
            ),
            events_deps,
        );
        for (name, j) in &c.jobs {
            let Some(s) = c.services.get(&j.service) else {
                continue;
            };
            let service_td = b.addr(Kind::EcsTaskDefinition, &j.service);
            let mut container = b
                .resources
                .iter()
                .find(|r| r.address == service_td)
                .and_then(|r| r.attributes.get("container").cloned())
                .unwrap_or(Value::Null);
            if let Some(obj) = container.as_object_mut() {
                obj.insert("name".into(), json!(name));
                obj.insert("port".into(), Value::Null);
                if j.command.is_some() {
                    obj.insert("command".into(), json!(j.command));
                }
            }
            let deps =
                b.resources.iter().find(|r| r.address == service_td).map(|r| r.depends_on.clone()).unwrap_or_default();
            let exec = b.addr(Kind::IamRole, &format!("{}-execution", j.service));
            let task_role = b.addr(Kind::IamRole, &format!("{}-task", j.service));
            let td = b.add(
                Kind::EcsTaskDefinition,
                &format!("job-{name}"),
                b.name(&format!("job-{name}"), 255),
                json!({
                    "cpu": s.cpu,
                    "memory": s.memory,
                    "network_mode": "awsvpc",
                    "requires": "FARGATE",
                    "execution_role": reference(&exec, "arn"),
                    "task_role": reference(&task_role, "arn"),
                    "container": container,
                }),
                deps,
            );
            let sg = b.addr(Kind::SecurityGroup, &j.service);
            b.add(
                Kind::EventRule,
                name,
                b.name(&format!("job-{name}"), 64),
                json!({
                    "schedule": j.schedule,
                    "cluster": reference(&b.addr(Kind::EcsCluster, "main"), "arn"),
                    "task_definition": reference(&td, "arn"),
                    "role": reference(&events_role, "arn"),
                    "subnets": "vpc:private-or-default",
                    "security_groups": [reference(&sg, "id")],
                }),
                vec![td, events_role.clone(), sg, b.addr(Kind::EcsCluster, "main")],
            );
        }
    }

    // Data stores admit the capsule's services: resolve the placeholder now that all
    // service security groups are known.
    for r in b.resources.iter_mut().filter(|r| data_security_groups.contains(&r.address)) {
        if let Some(Value::Array(rules)) = r.attributes.get_mut("ingress") {
            let port = rules.first().and_then(|x| x.get("port")).cloned().unwrap_or(Value::Null);
            *rules = service_sgs.iter().map(|sg| json!({ "port": port, "from": reference(sg, "id") })).collect();
        }
        r.depends_on.extend(service_sgs.iter().cloned());
    }

    // Static sites.
    for (name, site) in &c.sites {
        let bucket = b.add(
            Kind::S3Bucket,
            name,
            aws_name(&[&capsule.name, &env.name, name, &ctx.account], 63),
            json!({
                "encryption": "AES256",
                "object_ownership": "BucketOwnerEnforced",
                "block_public_access": true,
                "versioning": false,
            }),
            vec![],
        );
        let oac = b.add(
            Kind::CloudfrontOac,
            name,
            b.name(name, 64),
            json!({
                "origin_type": "s3",
                "signing_behavior": "always",
                "signing_protocol": "sigv4",
            }),
            vec![],
        );
        let mut dist_deps = vec![bucket.clone(), oac.clone()];
        let mut cert = None;
        if let Some(domain) = &site.domain {
            let c = b.add_in(
                Kind::AcmCertificate,
                &format!("site-{name}"),
                domain.clone(),
                "us-east-1".into(),
                json!({
                    "domain": domain,
                    "alternative_names": [],
                    "validation": "dns",
                    "zone": zone,
                }),
                vec![],
            );
            dist_deps.push(c.clone());
            cert = Some(c);
        }
        let dist = b.add_in(
            Kind::CloudfrontDistribution,
            name,
            b.name(name, 128),
            "us-east-1".into(),
            json!({
                "origin_bucket": reference(&bucket, "regional_domain_name"),
                "origin_access_control": reference(&oac, "id"),
                "aliases": site.domain.iter().collect::<Vec<_>>(),
                "certificate": cert.as_ref().map(|c| reference(c, "arn")),
                "default_root_object": "index.html",
                "viewer_protocol_policy": "redirect-to-https",
                "compress": true,
                "http_version": "http2and3",
                "price_class": "PriceClass_100",
                // Unknown paths answer /index.html (custom error responses, docs/sites.md).
                "spa": site.spa,
                "enabled": true,
            }),
            dist_deps,
        );
        b.add(
            Kind::S3BucketPolicy,
            name,
            b.resources.iter().find(|r| r.address == bucket).map(|r| r.aws_name.clone()).unwrap_or_default(),
            json!({
                "allow_read_from_distribution": reference(&dist, "arn"),
            }),
            vec![bucket.clone(), dist.clone()],
        );
        if let Some(domain) = &site.domain {
            for rtype in ["A", "AAAA"] {
                b.add(
                    Kind::Route53Record,
                    &format!("{name}-{}", rtype.to_ascii_lowercase()),
                    domain.clone(),
                    json!({
                        "zone": zone, "type": rtype, "name": domain,
                        "alias": { "target": reference(&dist, "domain_name"), "hosted_zone": "cloudfront" },
                    }),
                    vec![dist.clone()],
                );
            }
        }
        artifacts.push(Artifact::Site {
            name: name.clone(),
            dir: capsule.dir.join(&site.dir),
            spa: site.spa,
            headers: site.headers.clone(),
            bucket,
            distribution: dist,
        });
    }

    // Service domains point at the load balancer: an A alias only, since the load balancer
    // is IPv4 (the default VPC's subnets have no IPv6 ranges).
    if let Some((lb, _, _, _)) = &alb {
        for (name, s) in c.services.iter().filter(|(_, s)| s.public) {
            let Some(domain) = &s.domain else { continue };
            b.add(
                Kind::Route53Record,
                &format!("{name}-a"),
                domain.clone(),
                json!({
                    "zone": zone, "type": "A", "name": domain,
                    "alias": { "target": reference(lb, "dns_name"), "hosted_zone": reference(lb, "zone_id") },
                }),
                vec![lb.clone()],
            );
        }
    }

    Desired { capsule: capsule.name.clone(), env: env.name.clone(), region, resources: b.resources, artifacts }
}

/// An IAM role: who assumes it and its one inline policy (none when there is nothing to
/// allow).
fn role_attributes(path: &str, description: &str, service: &str, statements: Vec<Value>) -> Value {
    json!({
        "path": path,
        "description": description,
        "assumed_by": service,
        "managed_policies": [],
        "policy": if statements.is_empty() { Value::Null } else { json!({ "Version": "2012-10-17", "Statement": statements }) },
    })
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
