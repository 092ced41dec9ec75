//! Day-two commands on what runs: `capsule run` (a one-off task of a service's live task
//! definition), `capsule logs` (a service's or job's CloudWatch Logs) and `capsule rollback`
//! (a service back to an earlier task definition revision, under the apply lock) and
//! `capsule status` (what runs now). They read the model
//! only to name things (cluster, service, log group, container) and act on live AWS; only `rollback`
//! changes anything (the service's task definition), and only it takes the apply lock.

pub mod logs;
pub mod rollback;
pub mod run;
pub mod status;

use crate::config::Project;
use crate::engine::Session;
use crate::model::{self, ExpandContext, Kind, Resource};

/// A service or job of a capsule environment, named as the model names it.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `api`, or `jobs.nightly`.
    pub label: String,
    pub region: String,
    /// The ECS cluster's name.
    pub cluster: String,
    /// The ECS service's name (none for a job).
    pub service: Option<String>,
    /// The container's name in the task definition (the service's or the job's name).
    pub container: String,
    /// The CloudWatch Logs group of its tasks.
    pub log_group: String,
    /// The awslogs stream prefix: streams are `<prefix>/<container>/<task id>`.
    pub stream_prefix: String,
    /// The ECS service as the model declares it (none for a job).
    pub resource: Option<Resource>,
}

/// Finds SERVICE (or `jobs.NAME`) of a capsule environment; an unknown name is an error that
/// lists the known ones.
pub fn find(project: &Project, session: &Session, capsule: &str, env: &str, name: &str) -> anyhow::Result<Workload> {
    let listed = |v: Vec<String>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let c = project.capsule(capsule).ok_or_else(|| {
        anyhow::anyhow!(
            "no capsule named `{capsule}` (capsules: {})",
            listed(project.capsules.iter().map(|c| c.name.clone()).collect())
        )
    })?;
    let e = c.environment(env).ok_or_else(|| {
        anyhow::anyhow!(
            "capsule `{capsule}` has no environment `{env}` (environments: {})",
            listed(c.environments.iter().map(|e| e.name.clone()).collect())
        )
    })?;
    let services: Vec<String> = e.config.services.keys().cloned().collect();
    let jobs: Vec<String> = e.config.jobs.keys().map(|j| format!("jobs.{j}")).collect();
    let known = || listed(services.iter().chain(&jobs).cloned().collect());
    let (service, job) = match name.strip_prefix("jobs.") {
        Some(job) if e.config.jobs.contains_key(job) => (e.config.jobs[job].service.clone(), Some(job.to_string())),
        None if e.config.services.contains_key(name) => (name.to_string(), None),
        _ => anyhow::bail!("{capsule}/{env} has no service or job `{name}` (known: {})", known()),
    };
    let ctx = ExpandContext { account: session.account.clone(), default_region: session.default_region.clone() };
    let desired = model::expand(c, e, &ctx);
    let of = |kind: Kind, n: &str| desired.resources.iter().find(|r| r.address.kind == kind && r.address.name == n);
    let (Some(cluster), Some(log)) = (of(Kind::EcsCluster, "main"), of(Kind::LogGroup, &service)) else {
        anyhow::bail!("{capsule}/{env}: `{name}` has no ECS cluster or log group in the model");
    };
    let container = job.clone().unwrap_or_else(|| service.clone());
    Ok(Workload {
        label: name.to_string(),
        region: cluster.region.clone(),
        cluster: cluster.aws_name.clone(),
        service: job.is_none().then(|| of(Kind::EcsService, &service).map(|r| r.aws_name.clone())).flatten(),
        resource: job.is_none().then(|| of(Kind::EcsService, &service).cloned()).flatten(),
        stream_prefix: container.clone(),
        container,
        log_group: log.aws_name.clone(),
    })
}
