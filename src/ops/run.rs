//! `capsule run`: one task of a service's live task definition (its image, env, secrets,
//! roles, subnets and security groups, as the service runs them now) with a command
//! override; streams the task's log lines and exits with its exit code. Changes nothing else.

use super::Workload;
use crate::aws::task::{self, Ended, TaskSpec};
use crate::aws::{AwsResultExt, ErrorKind};
use crate::engine::Session;

/// What the service runs now: its task definition in its network.
async fn live_spec(session: &Session, w: &Workload) -> anyhow::Result<TaskSpec> {
    let Some(service) = &w.service else {
        anyhow::bail!(
            "`{}` is a job: `capsule run` runs a command with a service's task definition (its service's)",
            w.label
        );
    };
    let ecs = session.aws.ecs(&w.region);
    let out = ecs.describe_services().cluster(&w.cluster).services(service).send().await.aws("ecs:DescribeServices");
    let out = match out {
        Err(e) if e.kind == ErrorKind::NotFound => None,
        other => Some(other?),
    };
    let Some(s) = out.as_ref().and_then(|o| o.services().iter().find(|s| s.status() == Some("ACTIVE"))) else {
        anyhow::bail!("service `{}` is not deployed in cluster {} (apply first)", w.label, w.cluster);
    };
    let td = s.task_definition().unwrap_or_default();
    Ok(task::spec(&session.aws, &w.region, &w.cluster, td, s.network_configuration().cloned()).await?)
}

/// `capsule run`: starts the task and, unless `detach`, streams it to its end. Returns the
/// exit code to end with: the task's, or 1 when it could not start.
pub async fn run(session: &Session, w: &Workload, command: &[String], detach: bool) -> anyhow::Result<i32> {
    let spec = live_spec(session, w).await?;
    let arn = match task::start(&session.aws, &spec, command, "capsule-run").await {
        Ok(arn) => arn,
        Err(e) => {
            eprintln!("capsule run: {e}");
            return Ok(1);
        }
    };
    let id = task::task_id(&arn).to_string();
    println!("task {id} ({arn})");
    if detach {
        return Ok(0);
    }
    let ended = task::wait(&session.aws, &spec, &arn, &mut |line| println!("{line}")).await?.ended;
    match &ended {
        Ended::Exited(code) => eprintln!("task {id} exited with code {code}"),
        Ended::NotStarted(reason) => eprintln!("task {id} did not run: {reason}"),
    }
    Ok(ended.code())
}
