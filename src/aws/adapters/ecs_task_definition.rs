//! ECS task definitions (Fargate, awsvpc): one family per service or job. A change
//! registers a new revision (revisions are immutable); the older ones stay registered so a
//! circuit-breaker rollback can return to them. Secrets go in as `valueFrom` references only.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode, PortMapping, Secret,
    TaskDefinitionFamilyStatus, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use serde_json::{Map, Value, json};

use super::ecs_cluster::{ecs_tags, tag_map};
use crate::aws::adapter::{Visible, attr_i64, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct EcsTaskDefinitionAdapter;

fn invalid(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(ErrorKind::Invalid, op, e.to_string())
}

/// `arn:…:task-definition/family:3` -> `arn:…:task-definition/family:*` (every revision,
/// for IAM policies that run the family's tasks).
fn family_arn(arn: &str) -> String {
    match arn.rsplit_once(':') {
        Some((base, rev)) if rev.chars().all(|c| c.is_ascii_digit()) => format!("{base}:*"),
        _ => format!("{arn}:*"),
    }
}

fn container_of(c: &ContainerDefinition) -> Value {
    let environment: Map<String, Value> = c
        .environment()
        .iter()
        .filter_map(|kv| Some((kv.name()?.to_string(), json!(kv.value().unwrap_or_default()))))
        .collect();
    let secrets: Map<String, Value> =
        c.secrets().iter().map(|s| (s.name().to_string(), json!(s.value_from()))).collect();
    let command = if c.command().is_empty() { Value::Null } else { json!(c.command()) };
    json!({
        "name": c.name(),
        "image": c.image(),
        "command": command,
        "port": c.port_mappings().first().and_then(|p| p.container_port()),
        "environment": environment,
        "secrets": secrets,
        "log_group": c.log_configuration().and_then(|l| l.options().and_then(|o| o.get("awslogs-group").cloned())),
    })
}

fn live_of(td: &aws_sdk_ecs::types::TaskDefinition, tags: &[aws_sdk_ecs::types::Tag], region: &str) -> Live {
    let arn = td.task_definition_arn().unwrap_or_default();
    let num = |s: Option<&str>| s.and_then(|v| v.parse::<i64>().ok());
    Live {
        aws_name: td.family().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("cpu".into(), json!(num(td.cpu()))),
            ("memory".into(), json!(num(td.memory()))),
            ("network_mode".into(), json!(td.network_mode().map(|m| m.as_str()))),
            ("requires".into(), json!(td.requires_compatibilities().first().map(|c| c.as_str()))),
            ("execution_role".into(), json!(td.execution_role_arn())),
            ("task_role".into(), json!(td.task_role_arn())),
            ("container".into(), td.container_definitions().first().map(container_of).unwrap_or(Value::Null)),
        ]),
        outputs: BTreeMap::from([
            ("arn".into(), json!(arn)),
            ("family_arn".into(), json!(family_arn(arn))),
            ("family".into(), json!(td.family())),
            ("revision".into(), json!(td.revision())),
        ]),
        tags: tag_map(tags),
    }
}

impl EcsTaskDefinitionAdapter {
    async fn read(&self, cx: &Cx, family: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let out = cx
            .aws
            .ecs(region)
            .describe_task_definition()
            .task_definition(family)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .aws("ecs:DescribeTaskDefinition");
        // ECS answers an unknown family with a ClientException ("Unable to describe task
        // definition"), not a NotFound code.
        let out = match out {
            Err(e) if e.kind == ErrorKind::Invalid && e.message.contains("Unable to describe") => return Ok(None),
            other => other.found()?,
        };
        Ok(out.and_then(|o| {
            let td = o.task_definition()?;
            (td.status() == Some(&TaskDefinitionStatus::Active)).then(|| live_of(td, o.tags(), region))
        }))
    }

    async fn register(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "ecs:RegisterTaskDefinition";
        let c = attrs.get("container").cloned().unwrap_or(Value::Null);
        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let mut container = ContainerDefinition::builder().name(s("name")).image(s("image")).essential(true);
        if let Some(cmd) = c.get("command").and_then(Value::as_array) {
            container =
                container.set_command(Some(cmd.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()));
        }
        if let Some(port) = c.get("port").and_then(Value::as_i64) {
            container = container.port_mappings(
                PortMapping::builder().container_port(port as i32).protocol(TransportProtocol::Tcp).build(),
            );
        }
        for (k, v) in c.get("environment").and_then(Value::as_object).into_iter().flatten() {
            container =
                container.environment(KeyValuePair::builder().name(k).value(v.as_str().unwrap_or_default()).build());
        }
        for (k, v) in c.get("secrets").and_then(Value::as_object).into_iter().flatten() {
            let secret = Secret::builder()
                .name(k)
                .value_from(v.as_str().unwrap_or_default())
                .build()
                .map_err(|e| invalid(OP, e))?;
            container = container.secrets(secret);
        }
        let log = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", s("log_group"))
            .options("awslogs-region", r.region.clone())
            .options("awslogs-stream-prefix", s("name"))
            .build()
            .map_err(|e| invalid(OP, e))?;
        container = container.log_configuration(log);
        let mut req = cx
            .aws
            .ecs(&r.region)
            .register_task_definition()
            .family(&r.aws_name)
            .network_mode(NetworkMode::from(attr_str(attrs, "network_mode")))
            .requires_compatibilities(Compatibility::from(attr_str(attrs, "requires")))
            .container_definitions(container.build())
            .set_tags(Some(ecs_tags(cx, r)));
        if let Some(cpu) = attr_i64(attrs, "cpu") {
            req = req.cpu(cpu.to_string());
        }
        if let Some(mem) = attr_i64(attrs, "memory") {
            req = req.memory(mem.to_string());
        }
        if !attr_str(attrs, "execution_role").is_empty() {
            req = req.execution_role_arn(attr_str(attrs, "execution_role"));
        }
        if !attr_str(attrs, "task_role").is_empty() {
            req = req.task_role_arn(attr_str(attrs, "task_role"));
        }
        req.send().await.aws(OP)?;
        self.read(cx, &r.aws_name, &r.region).await?.visible("ecs:DescribeTaskDefinition")
    }
}

#[async_trait]
impl Adapter for EcsTaskDefinitionAdapter {
    fn kind(&self) -> Kind {
        Kind::EcsTaskDefinition
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["arn", "revision"]
    }

    /// A new revision carries exactly the declared variables and secrets: one that is in
    /// the running revision but no longer in the file must be planned as removed.
    fn exact_maps(&self) -> &'static [&'static str] {
        &["container.environment", "container.secrets"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        // An empty command is no command, as ECS reports it.
        if let Some(Value::Object(c)) = attrs.get_mut("container")
            && c.get("command").and_then(Value::as_array).is_some_and(|a| a.is_empty())
        {
            c.insert("command".into(), Value::Null);
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.read(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(existing) = self.read(cx, &r.aws_name, &r.region).await? {
            existing.ensure_owned(cx, "ecs:RegisterTaskDefinition")?;
        }
        self.register(cx, r, attrs).await
    }

    async fn update(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>, _: &Live) -> Result<Live, AwsError> {
        self.register(cx, r, attrs).await
    }

    /// Deregisters every active revision of the family.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let ecs = cx.aws.ecs(&live.region);
        let mut pages = ecs
            .list_task_definitions()
            .family_prefix(&live.aws_name)
            .status(TaskDefinitionStatus::Active)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            arns.extend(page.aws("ecs:ListTaskDefinitions")?.task_definition_arns().iter().cloned());
        }
        let family = format!("task-definition/{}:", live.aws_name);
        for arn in arns.iter().filter(|a| a.contains(&family)) {
            ecs.deregister_task_definition()
                .task_definition(arn)
                .send()
                .await
                .aws("ecs:DeregisterTaskDefinition")
                .found()?;
        }
        Ok(())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let ecs = cx.aws.ecs(&cx.region);
        let prefix = format!("{}-{}-", cx.capsule, cx.env);
        let mut pages = ecs
            .list_task_definition_families()
            .family_prefix(&prefix)
            .status(TaskDefinitionFamilyStatus::Active)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for family in page.aws("ecs:ListTaskDefinitionFamilies")?.families() {
                let live = match cx.observed(Kind::EcsTaskDefinition, &cx.region, family) {
                    Some(live) => Some(live),
                    None => self.read(cx, family, &cx.region).await?,
                };
                if let Some(live) = live
                    && live.is_owned_by(&cx.capsule, &cx.env)
                {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::family_arn;

    #[test]
    fn family_arns_cover_every_revision() {
        assert_eq!(
            family_arn("arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-production-api:7"),
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-production-api:*"
        );
    }
}
