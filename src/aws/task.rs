//! One-off ECS tasks: start one task of a task definition with a command override, follow
//! its awslogs stream, and tell how it ended (exit code, or why it never ran). Used by
//! `capsule run` and by a service's `release` command before its rollout. Starts and reads
//! tasks only; never changes a service.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, LaunchType, NetworkConfiguration, Task, TaskOverride,
};

use super::{Aws, AwsError, AwsResultExt, ErrorKind, FoundExt};

/// What to run: a task definition's essential container, in a cluster and network, with the
/// log stream awslogs gives it.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub region: String,
    pub cluster: String,
    pub task_definition: String,
    /// The container the command override is for.
    pub container: String,
    /// Its image (what a release is keyed by).
    pub image: String,
    pub network: Option<NetworkConfiguration>,
    /// awslogs group and stream prefix: streams are `<prefix>/<container>/<task id>`.
    pub log_group: Option<String>,
    pub stream_prefix: Option<String>,
}

/// How a one-off task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The task stopped without an exit code (it never started: capacity, image pull,
    /// secrets, logs), with ECS's reason.
    NotStarted(String),
}

impl Ended {
    /// The process exit code `capsule run` ends with.
    pub fn code(&self) -> i32 {
        match self {
            Ended::Exited(code) => *code,
            Ended::NotStarted(_) => 1,
        }
    }
}

/// The task id of a task ARN (its last part), which awslogs puts in stream names.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// How often a task is asked after: `CAPSULE_TASK_POLL` (default 2s).
pub fn poll_interval() -> std::time::Duration {
    std::env::var("CAPSULE_TASK_POLL")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(std::time::Duration::from_secs(2))
}

/// The spec of `task_definition`'s essential container (the first one), read from ECS.
pub async fn spec(
    aws: &Aws,
    region: &str,
    cluster: &str,
    task_definition: &str,
    network: Option<NetworkConfiguration>,
) -> Result<TaskSpec, AwsError> {
    const OP: &str = "ecs:DescribeTaskDefinition";
    let out = aws.ecs(region).describe_task_definition().task_definition(task_definition).send().await.aws(OP)?;
    let containers = out.task_definition().map(|t| t.container_definitions()).unwrap_or_default();
    let Some(c) = containers.iter().find(|c| c.essential() != Some(false)).or(containers.first()) else {
        return Err(AwsError::new(ErrorKind::NotFound, OP, format!("{task_definition} has no container")));
    };
    let option = |key: &str| {
        c.log_configuration()
            .filter(|l| l.log_driver().as_str() == "awslogs")
            .and_then(|l| l.options()?.get(key).cloned())
    };
    Ok(TaskSpec {
        region: region.to_string(),
        cluster: cluster.to_string(),
        task_definition: out
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or(task_definition)
            .to_string(),
        container: c.name().unwrap_or_default().to_string(),
        image: c.image().unwrap_or_default().to_string(),
        network: private(network),
        log_group: option("awslogs-group"),
        stream_prefix: option("awslogs-stream-prefix"),
    })
}

/// The network of a one-off task: the given subnets and security groups, a public IP only
/// when the service has one.
fn private(network: Option<NetworkConfiguration>) -> Option<NetworkConfiguration> {
    let vpc = network?.awsvpc_configuration?;
    let config = AwsVpcConfiguration::builder()
        .set_subnets(Some(vpc.subnets))
        .set_security_groups(vpc.security_groups)
        .assign_public_ip(vpc.assign_public_ip.unwrap_or(AssignPublicIp::Disabled))
        .build()
        .ok()?;
    Some(NetworkConfiguration::builder().awsvpc_configuration(config).build())
}

/// Starts one task of `spec` running `command`; returns its ARN. ECS's refusal to place it
/// (capacity, a bad network) is an error with ECS's reasons.
pub async fn start(aws: &Aws, spec: &TaskSpec, command: &[String], started_by: &str) -> Result<String, AwsError> {
    const OP: &str = "ecs:RunTask";
    let container = ContainerOverride::builder().name(&spec.container).set_command(Some(command.to_vec())).build();
    let out = aws
        .ecs(&spec.region)
        .run_task()
        .cluster(&spec.cluster)
        .task_definition(&spec.task_definition)
        .launch_type(LaunchType::Fargate)
        .set_network_configuration(spec.network.clone())
        .overrides(TaskOverride::builder().container_overrides(container).build())
        .started_by(started_by)
        .count(1)
        .send()
        .await
        .aws(OP)?;
    if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
        return Ok(arn.to_string());
    }
    let why: Vec<String> = out
        .failures()
        .iter()
        .map(|f| format!("{} {}", f.reason().unwrap_or("no reason"), f.detail().unwrap_or_default()).trim().to_string())
        .collect();
    let why = if why.is_empty() { "no reason given".to_string() } else { why.join("; ") };
    Err(AwsError::new(ErrorKind::Other, OP, format!("ECS did not start the task: {why}")))
}

/// How a stopped task ended: its container's exit code, or why it never ran.
pub fn ended(task: &Task, container: &str) -> Ended {
    let c = task.containers().iter().find(|c| c.name() == Some(container)).or(task.containers().first());
    match c.and_then(|c| c.exit_code()) {
        Some(code) => Ended::Exited(code),
        None => {
            let reasons: Vec<&str> =
                [task.stopped_reason(), c.and_then(|c| c.reason())].into_iter().flatten().collect();
            Ended::NotStarted(if reasons.is_empty() {
                "the task stopped without an exit code".into()
            } else {
                reasons.join(": ")
            })
        }
    }
}

/// The lines of one task's log stream, read on as they come (GetLogEvents from the head).
struct Stream {
    region: String,
    group: String,
    name: String,
    token: Option<String>,
}

impl Stream {
    /// The messages written since the last read (none while the stream does not exist).
    async fn read(&mut self, aws: &Aws) -> Result<Vec<String>, AwsError> {
        let logs = aws.logs(&self.region);
        let mut out = Vec::new();
        loop {
            let page = logs
                .get_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.name)
                .start_from_head(true)
                .set_next_token(self.token.clone())
                .send()
                .await
                .aws("logs:GetLogEvents")
                .found()?;
            let Some(page) = page else { return Ok(out) };
            out.extend(page.events().iter().filter_map(|e| e.message()).map(|m| m.trim_end().to_string()));
            let next = page.next_forward_token().map(str::to_string);
            // The same token again: nothing more for now.
            if next.is_none() || next == self.token {
                return Ok(out);
            }
            self.token = next;
        }
    }
}

/// A stopped task: how it ended, ECS's stop reason and its last log lines.
#[derive(Debug, Clone)]
pub struct Finished {
    pub ended: Ended,
    pub stopped_reason: Option<String>,
    /// The last 20 lines of its log stream.
    pub last_lines: Vec<String>,
}

/// Waits for the task to stop, handing its log lines to `print` as they arrive.
pub async fn wait(
    aws: &Aws,
    spec: &TaskSpec,
    arn: &str,
    print: &mut (dyn FnMut(&str) + Send),
) -> Result<Finished, AwsError> {
    let mut stream = match (&spec.log_group, &spec.stream_prefix) {
        (Some(group), Some(prefix)) => Some(Stream {
            region: spec.region.clone(),
            group: group.clone(),
            name: format!("{prefix}/{}/{}", spec.container, task_id(arn)),
            token: None,
        }),
        _ => None,
    };
    let mut last: Vec<String> = Vec::new();
    loop {
        let out = aws
            .ecs(&spec.region)
            .describe_tasks()
            .cluster(&spec.cluster)
            .tasks(arn)
            .send()
            .await
            .aws("ecs:DescribeTasks")?;
        let task = out.tasks().first().cloned();
        // Read after the status: a stopped task's last lines are in by then.
        if let Some(s) = stream.as_mut() {
            for line in s.read(aws).await? {
                print(&line);
                last.push(line);
            }
            let excess = last.len().saturating_sub(20);
            last.drain(..excess);
        }
        match task {
            Some(t) if t.last_status() == Some("STOPPED") => {
                return Ok(Finished {
                    ended: ended(&t, &spec.container),
                    stopped_reason: t.stopped_reason().map(str::to_string),
                    last_lines: last,
                });
            }
            Some(_) => tokio::time::sleep(poll_interval()).await,
            None => {
                return Err(AwsError::new(ErrorKind::NotFound, "ecs:DescribeTasks", format!("task {arn} is gone")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::Container;

    #[test]
    fn the_task_id_is_the_arns_last_part() {
        assert_eq!(task_id("arn:aws:ecs:us-east-1:123456789012:task/shop-production/0123abcd"), "0123abcd");
        assert_eq!(task_id("0123abcd"), "0123abcd");
    }

    #[test]
    fn a_task_ends_with_its_containers_exit_code_or_why_it_never_ran() {
        let exited = Task::builder().containers(Container::builder().name("api").exit_code(3).build()).build();
        assert_eq!(ended(&exited, "api"), Ended::Exited(3));
        let failed = Task::builder()
            .stopped_reason("ResourceInitializationError: unable to pull secrets")
            .containers(Container::builder().name("api").build())
            .build();
        assert_eq!(
            ended(&failed, "api"),
            Ended::NotStarted("ResourceInitializationError: unable to pull secrets".into())
        );
        assert_eq!(ended(&failed, "api").code(), 1);
    }
}
