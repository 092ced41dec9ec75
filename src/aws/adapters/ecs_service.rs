//! ECS services on Fargate, with the deployment circuit breaker and rollback on. After a
//! create or an update that starts a deployment, the adapter watches *that* deployment until
//! it completes (printing the service's new events), and fails with the stopped tasks'
//! reasons, mapped to a likely fix, when ECS fails it or rolls it back. An autoscaled
//! service's desired count is the autoscaler's: capsule never sets it after creation.
//! `release` (a command, not an AWS setting: read back as declared) runs before a create or
//! a move to another task definition, as one task of the new task definition in the
//! service's network; the service moves only if it exits 0 (`release` below).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus, LaunchType,
    LoadBalancer, NetworkConfiguration, PropagateTags, Service, ServiceField,
};
use serde_json::{Value, json};

use super::ecs_cluster::{ecs_tags, tag_map};
use crate::aws::adapter::{Seen, Visible, attr_bool, attr_i64, attr_str};
use crate::aws::task;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, aws_name};

pub struct EcsServiceAdapter;

/// The desired count an autoscaled service declares (the autoscaler owns the number).
const AUTOSCALED: &str = "(autoscaled)";

fn cluster_name(cx: &Cx) -> String {
    aws_name(&[&cx.capsule, &cx.env], 255)
}

fn invalid(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(ErrorKind::Invalid, op, e.to_string())
}

fn duration_env(key: &str, default: Duration) -> Duration {
    std::env::var(key).ok().and_then(|v| humantime::parse_duration(v.trim()).ok()).unwrap_or(default)
}

impl EcsServiceAdapter {
    async fn read(&self, cx: &Cx, r: &Resource) -> Result<Option<(Live, Service)>, AwsError> {
        let out = cx
            .aws
            .ecs(&r.region)
            .describe_services()
            .cluster(cluster_name(cx))
            .services(&r.aws_name)
            .include(ServiceField::Tags)
            .send()
            .await
            .aws("ecs:DescribeServices")
            .found()?;
        let Some(s) = out.and_then(|o| o.services().iter().find(|s| s.status() == Some("ACTIVE")).cloned()) else {
            return Ok(None);
        };
        let autoscaled = r.attributes.get("desired_count").and_then(Value::as_str) == Some(AUTOSCALED);
        let mut live = self.live_of(cx, &r.region, autoscaled, &s).await?;
        live.attributes.insert("release".into(), r.attributes.get("release").cloned().unwrap_or(Value::Null));
        Ok(Some((live, s)))
    }

    /// `autoscaled`: the desired count is the autoscaler's, reported as such.
    async fn live_of(&self, cx: &Cx, region: &str, autoscaled: bool, s: &Service) -> Result<Live, AwsError> {
        let net = s.network_configuration().and_then(|n| n.awsvpc_configuration());
        let subnets = json!(super::ec2::sorted_owned(net.map(|n| n.subnets().to_vec()).unwrap_or_default()));
        let mut groups: Vec<&str> =
            net.map(|n| n.security_groups().iter().map(String::as_str).collect()).unwrap_or_default();
        groups.sort();
        let breaker = s.deployment_configuration().and_then(|d| d.deployment_circuit_breaker());
        let lb = s.load_balancers().first().map(|l| {
            json!({ "target_group": l.target_group_arn(), "container": l.container_name(), "port": l.container_port() })
        });
        Ok(Live {
            aws_name: s.service_name().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("cluster".into(), json!(s.cluster_arn())),
                ("task_definition".into(), json!(s.task_definition())),
                ("launch_type".into(), json!(s.launch_type().map(|l| l.as_str()))),
                ("desired_count".into(), if autoscaled { json!(AUTOSCALED) } else { json!(s.desired_count()) }),
                (
                    "deployment_circuit_breaker".into(),
                    json!({ "enable": breaker.is_some_and(|b| b.enable()), "rollback": breaker.is_some_and(|b| b.rollback()) }),
                ),
                (
                    "health_check_grace_seconds".into(),
                    if lb.is_some() { json!(s.health_check_grace_period_seconds().unwrap_or(0)) } else { Value::Null },
                ),
                ("load_balancer".into(), lb.unwrap_or(Value::Null)),
                ("subnets".into(), subnets),
                ("security_groups".into(), json!(groups)),
                (
                    "assign_public_ip".into(),
                    json!(net.and_then(|n| n.assign_public_ip()) == Some(&AssignPublicIp::Enabled)),
                ),
            ]),
            outputs: BTreeMap::from([
                ("arn".into(), json!(s.service_arn())),
                ("name".into(), json!(s.service_name())),
                ("cluster_name".into(), json!(cluster_name(cx))),
            ]),
            tags: tag_map(s.tags()),
        })
    }

    fn network(attrs: &BTreeMap<String, Value>) -> Result<NetworkConfiguration, AwsError> {
        const OP: &str = "ecs:CreateService";
        let subnets = super::lb::sorted_strings(attrs.get("subnets"));
        let groups: Vec<String> = attrs
            .get("security_groups")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(subnets))
            .set_security_groups(Some(groups))
            .assign_public_ip(if attr_bool(attrs, "assign_public_ip") {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| invalid(OP, e))?;
        Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
    }

    fn deployment_configuration(attrs: &BTreeMap<String, Value>) -> DeploymentConfiguration {
        let b = attrs.get("deployment_circuit_breaker");
        let flag = |k: &str| b.and_then(|b| b.get(k)).and_then(Value::as_bool).unwrap_or(true);
        let breaker = DeploymentCircuitBreaker::builder().enable(flag("enable")).rollback(flag("rollback")).build();
        DeploymentConfiguration::builder()
            .deployment_circuit_breaker(breaker)
            .maximum_percent(200)
            .minimum_healthy_percent(100)
            .build()
    }

    fn load_balancers(attrs: &BTreeMap<String, Value>) -> Vec<LoadBalancer> {
        match attrs.get("load_balancer") {
            Some(lb @ Value::Object(_)) => vec![
                LoadBalancer::builder()
                    .target_group_arn(lb.get("target_group").and_then(Value::as_str).unwrap_or_default())
                    .container_name(lb.get("container").and_then(Value::as_str).unwrap_or_default())
                    .container_port(lb.get("port").and_then(Value::as_i64).unwrap_or_default() as i32)
                    .build(),
            ],
            _ => vec![],
        }
    }

    /// Watches the deployment `id` of the service until it completes; prints new events;
    /// fails with the stopped tasks' reasons when it fails or is rolled back.
    async fn watch(&self, cx: &Cx, r: &Resource, id: &str, mut seen: BTreeSet<String>) -> Result<(), AwsError> {
        let poll = duration_env("CAPSULE_ROLLOUT_POLL", Duration::from_secs(5));
        let timeout = duration_env("CAPSULE_ROLLOUT_TIMEOUT", Duration::from_secs(30 * 60));
        let started = Instant::now();
        let name = &r.aws_name;
        loop {
            let Some((_, s)) = self.read(cx, r).await? else {
                return Err(AwsError::new(
                    ErrorKind::Other,
                    "ecs:DescribeServices",
                    format!("service {name} vanished during its rollout"),
                ));
            };
            let mut fresh: Vec<_> = s.events().iter().filter(|e| e.id().is_some_and(|i| !seen.contains(i))).collect();
            fresh.reverse(); // ECS lists newest first
            for e in fresh {
                seen.insert(e.id().unwrap_or_default().to_string());
                eprintln!("      service {name}: {}", e.message().unwrap_or_default());
            }
            let mine = s.deployments().iter().find(|d| d.id() == Some(id));
            let state = mine.and_then(|d| d.rollout_state()).map(|s| s.as_str().to_string());
            match state.as_deref() {
                Some("COMPLETED") => {
                    eprintln!(
                        "      service {name}: deployment {id} completed in {:.0}s",
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(());
                }
                Some("FAILED") => {
                    let reason = mine.and_then(|d| d.rollout_state_reason()).unwrap_or("failed").to_string();
                    return Err(self.failure(cx, r, id, &reason).await);
                }
                None if mine.is_none() => {
                    // Replaced before completing: rolled back (or superseded by another apply).
                    return Err(self.failure(cx, r, id, "the deployment was rolled back").await);
                }
                _ => {}
            }
            if started.elapsed() > timeout {
                return Err(AwsError::new(
                    ErrorKind::Other,
                    "ecs:DescribeServices",
                    format!(
                        "service {name}: deployment {id} did not complete within {} (still {}); ECS goes on with it. \
                         Raise CAPSULE_ROLLOUT_TIMEOUT, or look at the service's events",
                        humantime::format_duration(timeout),
                        state.unwrap_or_else(|| "pending".into())
                    ),
                ));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// The error for a failed deployment: ECS's reason, then per stopped task (up to three)
    /// why it stopped and what probably fixes it.
    async fn failure(&self, cx: &Cx, r: &Resource, id: &str, reason: &str) -> AwsError {
        let ecs = cx.aws.ecs(&r.region);
        let cluster = cluster_name(cx);
        let mut lines = vec![format!("service {}: deployment {id} failed: {reason}", r.aws_name)];
        // Best effort: the deployment's failure is reported whatever these reads answer.
        let mut arns = Vec::new();
        let mut pages = ecs
            .list_tasks()
            .cluster(&cluster)
            .service_name(&r.aws_name)
            .desired_status(DesiredStatus::Stopped)
            .into_paginator()
            .send();
        while let Some(Ok(page)) = pages.next().await {
            arns.extend(page.task_arns().iter().cloned());
        }
        let mut stopped = Vec::new();
        // DescribeTasks takes at most 100 tasks a call.
        for chunk in arns.chunks(100) {
            if let Ok(out) = ecs.describe_tasks().cluster(&cluster).set_tasks(Some(chunk.to_vec())).send().await {
                stopped.extend(out.tasks().iter().filter(|t| t.started_by() == Some(id)).cloned());
            }
            if stopped.len() >= 3 {
                break;
            }
        }
        if !stopped.is_empty() {
            let mut hints = BTreeSet::new();
            for t in stopped.iter().take(3) {
                let task = t.task_arn().and_then(|a| a.rsplit('/').next()).unwrap_or("?");
                let why = t.stopped_reason().unwrap_or("no reason given");
                lines.push(format!(
                    "  task {task} stopped{}: {why}",
                    t.stop_code().map(|c| format!(" ({})", c.as_str())).unwrap_or_default()
                ));
                for c in t.containers() {
                    let mut parts = Vec::new();
                    if let Some(code) = c.exit_code() {
                        parts.push(format!("exit code {code}"));
                    }
                    if let Some(h) = c.health_status().filter(|h| h.as_str() == "UNHEALTHY") {
                        parts.push(format!("health {}", h.as_str()));
                    }
                    if let Some(reason) = c.reason() {
                        parts.push(reason.to_string());
                    }
                    if !parts.is_empty() {
                        lines.push(format!("    container {}: {}", c.name().unwrap_or("?"), parts.join(", ")));
                    }
                }
                hints.insert(hint(
                    why,
                    t.containers().iter().any(|c| c.exit_code().is_some_and(|e| e != 0 && e != 137)),
                ));
            }
            for h in hints.into_iter().flatten() {
                lines.push(format!("  likely fix: {h}"));
            }
        }
        lines.push(
            "  ECS rolled the service back to its previous task definition where it could; the next apply retries."
                .into(),
        );
        AwsError::new(ErrorKind::Other, "ecs rollout", lines.join("\n"))
    }
}

/// A likely fix for a stopped task's reason.
/// Moves the service to `task_definition` (an ARN) and nothing else, and watches that
/// deployment as an apply does (`capsule rollback`). No release runs.
pub(crate) async fn roll_to(cx: &Cx, r: &Resource, task_definition: &str) -> Result<(), AwsError> {
    let a = EcsServiceAdapter;
    let Some((_, before)) = a.read(cx, r).await? else {
        return Err(AwsError::new(
            ErrorKind::NotFound,
            "ecs:DescribeServices",
            format!("service {} is not deployed", r.aws_name),
        ));
    };
    let seen: BTreeSet<String> = before.events().iter().filter_map(|e| e.id().map(str::to_string)).collect();
    let old =
        before.deployments().iter().find(|d| d.status() == Some("PRIMARY")).and_then(|d| d.id()).map(str::to_string);
    let out = cx
        .aws
        .ecs(&r.region)
        .update_service()
        .cluster(cluster_name(cx))
        .service(&r.aws_name)
        .task_definition(task_definition)
        .send()
        .await
        .aws("ecs:UpdateService")?;
    let primary = out.service().and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")));
    if let Some(id) = primary.and_then(|d| d.id()).filter(|id| Some(*id) != old.as_deref()) {
        a.watch(cx, r, id, seen).await?;
    }
    Ok(())
}

/// The release command of `attrs`, if any.
fn release_command(attrs: &BTreeMap<String, Value>) -> Option<Vec<String>> {
    let cmd: Vec<String> =
        attrs.get("release")?.as_array()?.iter().filter_map(|a| a.as_str().map(str::to_string)).collect();
    (!cmd.is_empty()).then_some(cmd)
}

/// Runs the service's release command, if it has one, as one task of the new task
/// definition in the service's network, and waits for it: an exit code other than 0, or a
/// task that never ran, fails the change (not retried: the next apply runs it again).
/// Services of one run with the same image and command share one run of it.
async fn release(cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<(), AwsError> {
    let Some(command) = release_command(attrs) else { return Ok(()) };
    let network = EcsServiceAdapter::network(attrs)?;
    let spec =
        task::spec(&cx.aws, &r.region, attr_str(attrs, "cluster"), attr_str(attrs, "task_definition"), Some(network))
            .await?;
    let key = format!("{}\n{}", spec.image, command.join("\u{0}"));
    let ran = cx.releases.get_or_list(&key, || async { Ok(run_release(cx, r, &spec, &command).await) }).await?;
    (*ran).clone()
}

async fn run_release(cx: &Cx, r: &Resource, spec: &task::TaskSpec, command: &[String]) -> Result<(), AwsError> {
    const OP: &str = "ecs:RunTask";
    let shown = command.join(" ");
    let arn = task::start(&cx.aws, spec, command, "capsule-release").await?;
    let id = task::task_id(&arn).to_string();
    eprintln!("      release {}: `{shown}` as task {id}", r.aws_name);
    let name = r.aws_name.clone();
    let done = task::wait(&cx.aws, spec, &arn, &mut |line| eprintln!("      release {name}: {line}")).await?;
    let last = if done.last_lines.is_empty() {
        String::new()
    } else {
        let tail = &done.last_lines[done.last_lines.len().saturating_sub(5)..];
        format!("; its last log lines:\n        {}", tail.join("\n        "))
    };
    let stopped = done.stopped_reason.map(|s| format!(" ({s})")).unwrap_or_default();
    match done.ended {
        task::Ended::Exited(0) => Ok(()),
        task::Ended::Exited(code) => Err(AwsError::new(
            ErrorKind::Other,
            OP,
            format!(
                "release `{shown}` (task {id}) exited with code {code}{stopped}: the service stays on its current task definition{last}"
            ),
        )),
        task::Ended::NotStarted(why) => Err(AwsError::new(
            ErrorKind::Other,
            OP,
            format!(
                "release `{shown}` (task {id}) did not run: {why}: the service stays on its current task definition{last}"
            ),
        )),
    }
}

fn hint(reason: &str, exited: bool) -> Option<&'static str> {
    if reason.contains("CannotPullContainerError") {
        Some(
            "the image cannot be pulled: check that it exists in the registry, that the execution role may read the repository, and that tasks reach the registry (public IP in a public subnet, or NAT / VPC endpoints)",
        )
    } else if reason.contains("ResourceInitializationError") || reason.contains("secretsmanager") {
        Some(
            "a secret cannot be read: check that every secret the service uses has a value (`capsule secrets set`) and that the execution role may read it",
        )
    } else if reason.contains("health check") {
        Some(
            "the container does not pass its health check: check [services.NAME.health] path and the port the app listens on, and give it time to start with health.grace",
        )
    } else if reason.contains("Essential container") || exited {
        Some("the container exits: read its log group (/capsule/<capsule>/<env>/<service>) for the error")
    } else {
        None
    }
}

#[async_trait]
impl Adapter for EcsServiceAdapter {
    fn kind(&self) -> Kind {
        Kind::EcsService
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        // ECS cannot move a service to another cluster, launch type or load balancer
        // container in place.
        &["cluster", "launch_type"]
    }

    /// A create or a move to another task definition runs the release command first: the
    /// plan says so (`release: <command>`).
    fn annotate(&self, change: &mut crate::plan::Change, seen: &Seen<'_>) {
        use crate::plan::Action;
        let Some(command) = seen.desired.and_then(release_command) else { return };
        let moves = change.attributes.iter().any(|a| a.path == "task_definition");
        if matches!(change.action, Action::Create | Action::Replace) || (change.action == Action::Update && moves) {
            let release = format!("release: {} (runs first; the service moves only if it exits 0)", command.join(" "));
            change.reason = Some(match change.reason.take() {
                Some(r) => format!("{r}; {release}"),
                None => release,
            });
        }
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(Value::Array(g)) = attrs.get_mut("security_groups") {
            g.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
        if let Some(Value::Array(_)) = attrs.get("subnets") {
            let subnets = super::lb::sorted_strings(attrs.get("subnets"));
            attrs.insert("subnets".into(), json!(subnets));
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        Ok(self.read(cx, r).await?.map(|(l, _)| l))
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "ecs:CreateService";
        if let Some((existing, _)) = self.read(cx, r).await? {
            let existing = existing.ensure_owned(cx, OP)?;
            return self.update(cx, r, attrs, &existing).await;
        }
        release(cx, r, attrs).await?;
        // An autoscaled service starts at one task; the scalable target's minimum takes over.
        let count = attr_i64(attrs, "desired_count").unwrap_or(1) as i32;
        let mut req = cx
            .aws
            .ecs(&r.region)
            .create_service()
            .cluster(attr_str(attrs, "cluster"))
            .service_name(&r.aws_name)
            .task_definition(attr_str(attrs, "task_definition"))
            .launch_type(LaunchType::from(attr_str(attrs, "launch_type")))
            .desired_count(count)
            .network_configuration(Self::network(attrs)?)
            .deployment_configuration(Self::deployment_configuration(attrs))
            .set_load_balancers(Some(Self::load_balancers(attrs)))
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .set_tags(Some(ecs_tags(cx, r)));
        if let Some(grace) = attr_i64(attrs, "health_check_grace_seconds") {
            req = req.health_check_grace_period_seconds(grace as i32);
        }
        let out = req.send().await.aws(OP)?;
        let id = out
            .service()
            .and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
            .and_then(|d| d.id())
            .map(str::to_string);
        if let Some(id) = id {
            self.watch(cx, r, &id, BTreeSet::new()).await?;
        }
        self.observe(cx, r).await?.visible("ecs:DescribeServices")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        const OP: &str = "ecs:UpdateService";
        if live.attributes.get("task_definition") != attrs.get("task_definition") {
            release(cx, r, attrs).await?;
        }
        let before = self.read(cx, r).await?;
        let seen: BTreeSet<String> = before
            .as_ref()
            .map(|(_, s)| s.events().iter().filter_map(|e| e.id().map(str::to_string)).collect())
            .unwrap_or_default();
        let old_primary = before
            .as_ref()
            .and_then(|(_, s)| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")).and_then(|d| d.id()))
            .map(str::to_string);
        let mut req = cx
            .aws
            .ecs(&r.region)
            .update_service()
            .cluster(attr_str(attrs, "cluster"))
            .service(&r.aws_name)
            .task_definition(attr_str(attrs, "task_definition"))
            .network_configuration(Self::network(attrs)?)
            .deployment_configuration(Self::deployment_configuration(attrs))
            .set_load_balancers(Some(Self::load_balancers(attrs)));
        // Never fight the autoscaler over the count.
        if let Some(count) = attr_i64(attrs, "desired_count") {
            req = req.desired_count(count as i32);
        }
        if let Some(grace) = attr_i64(attrs, "health_check_grace_seconds") {
            req = req.health_check_grace_period_seconds(grace as i32);
        }
        let out = req.send().await.aws(OP)?;
        let primary = out
            .service()
            .and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
            .and_then(|d| d.id())
            .map(str::to_string);
        // Only a new deployment is watched; a count change alone starts none.
        if let Some(id) = primary.filter(|p| Some(p) != old_primary.as_ref()) {
            self.watch(cx, r, &id, seen).await?;
        }
        self.observe(cx, r).await?.visible("ecs:DescribeServices")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .ecs(&live.region)
            .delete_service()
            .cluster(cluster_name(cx))
            .service(&live.aws_name)
            .force(true)
            .send()
            .await
            .aws("ecs:DeleteService")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let ecs = cx.aws.ecs(&cx.region);
        let cluster = cluster_name(cx);
        // ListServices answers 10 services a page unless asked for more.
        let mut arns = Vec::new();
        let mut pages = ecs.list_services().cluster(&cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page.aws("ecs:ListServices").found()? {
                Some(page) => arns.extend(page.service_arns().iter().cloned()),
                None => return Ok(vec![]),
            }
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(10) {
            let described = ecs
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .aws("ecs:DescribeServices")?;
            for s in described.services().iter().filter(|s| s.status() == Some("ACTIVE")) {
                let live = self.live_of(cx, &cx.region, false, s).await?;
                if live.is_owned_by(&cx.capsule, &cx.env) {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::hint;

    #[test]
    fn stopped_task_reasons_map_to_fixes() {
        assert!(
            hint("CannotPullContainerError: pull image manifest has been retried", false)
                .unwrap()
                .contains("image cannot be pulled")
        );
        assert!(
            hint("ResourceInitializationError: unable to pull secrets or registry auth", false)
                .unwrap()
                .contains("secret")
        );
        assert!(hint("Task failed ELB health checks in (target-group arn)", false).unwrap().contains("health"));
        assert!(hint("Task failed container health checks", false).unwrap().contains("health"));
        assert!(hint("Essential container in task exited", true).unwrap().contains("log group"));
        assert_eq!(hint("Scaling activity initiated by deployment", false), None);
    }
}
