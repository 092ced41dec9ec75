//! `[services.*]` on ECS Fargate: the cluster, and per service its log group, roles,
//! security group, image (repository or prebuilt), task definition, routing on the load
//! balancer, ECS service and autoscaling. Secrets reach a task only as references.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::builder::Builder;
use super::load_balancer::LoadBalancer;
use super::{Artifact, References, parse_reference};
use crate::config::types::{EnvValue, Service};
use crate::model::{Address, Kind, reference};

/// Tasks of a service without `count` or `[autoscale]`: two, so that losing a zone or a
/// task is not an outage.
pub const DEFAULT_COUNT: i64 = 2;

/// The ECS cluster every service and job runs in, when there is any service.
pub(super) fn cluster(b: &mut Builder<'_>, services: &IndexMap<String, Service>) {
    if services.is_empty() {
        return;
    }
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

/// Every service; returns their security groups (data stores admit them).
pub(super) fn expand(
    b: &mut Builder<'_>,
    services: &IndexMap<String, Service>,
    refs: &References,
    lb: Option<&LoadBalancer>,
) -> Vec<Address> {
    services.iter().enumerate().map(|(priority, (name, s))| service(b, name, s, priority, refs, lb)).collect()
}

/// One service; returns its security group.
fn service(
    b: &mut Builder<'_>,
    name: &str,
    s: &Service,
    priority: usize,
    refs: &References,
    lb: Option<&LoadBalancer>,
) -> Address {
    let log = b.add(
        Kind::LogGroup,
        name,
        format!("/capsule/{}/{}/{name}", b.capsule, b.env),
        json!({ "retention_days": 30 }),
        vec![],
    );
    let (environment, secret_refs) = split_env(s, refs);
    let mut secret_addrs: Vec<Address> = secret_refs.iter().map(|(_, a, _)| a.clone()).collect();
    secret_addrs.dedup();
    let execution = execution_role(b, name, s, &log, &secret_addrs);
    let task_role = task_role(b, name, refs.email.as_ref());
    let public_lb = lb.filter(|_| s.public);
    let sg = security_group(b, name, s, public_lb);

    let repo = s.build.as_ref().map(|context| repository(b, name, s, context));
    let image = match (&repo, &s.image) {
        (Some(repo), _) => reference(repo, "image"),
        (None, Some(image)) => {
            b.artifacts.push(Artifact::Prebuilt { name: name.to_string(), image: image.clone() });
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
    let task_def = task_definition(b, name, s, &execution, &task_role, container, td_deps);

    let cluster = b.addr(Kind::EcsCluster, "main");
    let mut svc_deps = vec![cluster.clone(), task_def.clone(), sg.clone()];
    svc_deps.extend(b.net.private_deps.iter().cloned());
    let mut load_balancer = Value::Null;
    if let (Some(lb), Some(port)) = (public_lb, s.port) {
        let (tg, rule) = routing(b, name, s, port, priority, lb);
        load_balancer = json!({ "target_group": reference(&tg, "arn"), "container": name, "port": port });
        // ECS refuses a target group that no listener or rule uses yet ("does not have an
        // associated load balancer"): the service waits for its rule and listener.
        svc_deps.extend([tg, rule, lb.listener.clone()]);
    }
    let grace = humantime::parse_duration(&s.health.grace).map(|d| d.as_secs()).unwrap_or(30);
    let service = b.add(Kind::EcsService, name, name.to_string(), json!({
        "cluster": reference(&cluster, "arn"),
        "task_definition": reference(&task_def, "arn"),
        "launch_type": "FARGATE",
        "desired_count": if s.autoscale.is_some() { Value::String("(autoscaled)".into()) } else { json!(s.count.unwrap_or(DEFAULT_COUNT)) },
        "deployment_circuit_breaker": { "enable": true, "rollback": true },
        "health_check_grace_seconds": if load_balancer.is_null() { Value::Null } else { json!(grace) },
        "load_balancer": load_balancer,
        // Private subnets, spread across the zones: tasks reach ECR, Secrets Manager and
        // CloudWatch Logs through NAT or VPC endpoints, never with a public IP.
        "subnets": b.net.private,
        "security_groups": [reference(&sg, "id")],
        "assign_public_ip": false,
        // Not an AWS setting: the adapter runs it before a rollout (and reads it back as
        // declared, so a change of it alone changes nothing).
        "release": s.release,
    }), svc_deps);
    autoscaling(b, name, s, service);
    sg
}

/// (variable, secret, the secret's output that names the value).
type SecretRef = (String, Address, &'static str);

/// The service's environment: plain variables, and (variable, secret, output naming the
/// value) for secrets. Connection settings are JSON, so a url reference names the secret's
/// `url` key (`<arn>:url::`, ECS's JSON-key syntax).
fn split_env(s: &Service, refs: &References) -> (BTreeMap<String, String>, Vec<SecretRef>) {
    let mut secret_refs: Vec<SecretRef> = Vec::new();
    let mut environment: BTreeMap<String, String> = BTreeMap::new();
    for (var, value) in &s.env {
        match value {
            EnvValue::Secret { secret } => {
                if let Some(a) = refs.secrets.get(secret) {
                    secret_refs.push((var.clone(), a.clone(), "arn"));
                }
            }
            EnvValue::Text(text) => match parse_reference(text) {
                Some(("databases", db)) if refs.data.databases.contains_key(db) => {
                    secret_refs.push((var.clone(), refs.data.databases[db].clone(), "url_value_from"))
                }
                Some(("caches", cache)) if refs.data.caches.contains_key(cache) => {
                    secret_refs.push((var.clone(), refs.data.caches[cache].clone(), "url_value_from"))
                }
                _ => {
                    environment.insert(var.clone(), text.clone());
                }
            },
        }
    }
    secret_refs.sort();
    (environment, secret_refs)
}

/// The role ECS uses to start the service's tasks: pull its image, write its logs, read
/// its secrets, nothing else.
fn execution_role(b: &mut Builder<'_>, name: &str, s: &Service, log: &Address, secrets: &[Address]) -> Address {
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [reference(log, "arn")],
    })];
    let mut deps: Vec<Address> = secrets.iter().cloned().chain([log.clone()]).collect();
    if s.build.is_some() {
        let repo = b.addr(Kind::EcrRepository, name);
        statements.push(json!({ "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"] }));
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": [reference(&repo, "arn")],
        }));
        deps.push(repo);
    }
    if !secrets.is_empty() {
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secrets.iter().map(|a| reference(a, "arn")).collect::<Vec<_>>(),
        }));
    }
    let description = format!(
        "capsule {} {}: start service {name} (pull its image, write its logs, read its secrets)",
        b.capsule, b.env
    );
    b.role(&format!("{name}-execution"), &description, "ecs-tasks.amazonaws.com", statements, deps)
}

/// The role the service's code runs as: sending email from the capsule's identity.
fn task_role(b: &mut Builder<'_>, name: &str, email: Option<&Address>) -> Address {
    let statements: Vec<Value> = email
        .iter()
        .map(|a| json!({ "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": [reference(a, "arn")] }))
        .collect();
    let description = format!("capsule {} {}: the permissions of service {name}", b.capsule, b.env);
    b.role(
        &format!("{name}-task"),
        &description,
        "ecs-tasks.amazonaws.com",
        statements,
        email.into_iter().cloned().collect(),
    )
}

/// The service's security group: it admits the load balancer on the service's port, when
/// the service is public, and nothing else.
fn security_group(b: &mut Builder<'_>, name: &str, s: &Service, lb: Option<&LoadBalancer>) -> Address {
    let mut ingress = Vec::new();
    if let (Some(port), Some(lb)) = (s.port, lb) {
        ingress.push(json!({ "port": port, "from": reference(&lb.security_group, "id") }));
    }
    let deps = lb.map(|lb| vec![lb.security_group.clone()]).unwrap_or_default();
    b.security_group(name, format!("service {name}"), ingress, deps)
}

/// The ECR repository a built image is pushed to, and the image artifact.
fn repository(b: &mut Builder<'_>, name: &str, s: &Service, context: &str) -> Address {
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
    b.artifacts.push(Artifact::Image {
        name: name.to_string(),
        context: b.path(context),
        dockerfile: s.dockerfile.clone(),
        repository: repo.clone(),
    });
    repo
}

/// A Fargate task definition (services and jobs share the shape).
pub(super) fn task_definition(
    b: &mut Builder<'_>,
    name: &str,
    s: &Service,
    execution: &Address,
    task_role: &Address,
    container: Value,
    deps: Vec<Address>,
) -> Address {
    b.add(
        Kind::EcsTaskDefinition,
        name,
        b.name(name, 255),
        json!({
            "cpu": s.cpu,
            "memory": s.memory,
            "network_mode": "awsvpc",
            "requires": "FARGATE",
            "execution_role": reference(execution, "arn"),
            "task_role": reference(task_role, "arn"),
            "container": container,
        }),
        deps,
    )
}

/// The target group of a public service and the listener rule that forwards its domain
/// (or, without one, every path) to it. Returns both.
fn routing(
    b: &mut Builder<'_>,
    name: &str,
    s: &Service,
    port: i64,
    priority: usize,
    lb: &LoadBalancer,
) -> (Address, Address) {
    // The port is in the name: a new port is a new group, made before the old one goes.
    let tg = b.add(
        Kind::LbTargetGroup,
        name,
        b.name(&format!("{name}-{port}"), 32),
        json!({
            "port": port,
            "protocol": "HTTP",
            "target_type": "ip",
            "vpc": b.net.vpc,
            "health_path": s.health.path,
            "health_matcher": "200-399",
            // A new task takes traffic after 2 checks 10 s apart (AWS's defaults, 30 s and
            // 5 healthy checks, make that 150 s); 3 failed checks take it out.
            "health_interval_seconds": 10,
            "health_timeout_seconds": 5,
            "healthy_threshold": 2,
            "unhealthy_threshold": 3,
            "deregistration_delay_seconds": 30,
        }),
        [lb.lb.clone()].into_iter().chain(b.net.vpc_deps.iter().cloned()).collect(),
    );
    let condition = match &s.domain {
        Some(d) => json!({ "host_header": [d] }),
        None => json!({ "path_pattern": ["/*"] }),
    };
    let rule = b.add(
        Kind::LbListenerRule,
        name,
        b.name(name, 255),
        json!({
            "listener": reference(&lb.listener, "arn"),
            "priority": 100 + priority as i64 * 10 + if s.domain.is_none() { 5000 } else { 0 },
            "condition": condition,
            "forward_to": reference(&tg, "arn"),
        }),
        vec![lb.listener.clone(), tg.clone()],
    );
    (tg, rule)
}

/// `[services.NAME.autoscale]`: the scalable target and its CPU target-tracking policy.
fn autoscaling(b: &mut Builder<'_>, name: &str, s: &Service, service: Address) {
    let Some(a) = &s.autoscale else { return };
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
        vec![service],
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
