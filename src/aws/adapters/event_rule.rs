//! EventBridge schedule rules that run a job as an ECS task: one rule on the default bus,
//! `r.aws_name` (`<capsule>-<env>-job-<name>`), with one target (id `capsule`) doing
//! ECS RunTask on Fargate in awsvpc mode.
//!
//! Attributes: `schedule` (already an EventBridge `cron(...)` / `rate(...)` expression:
//! `config::validate` checks it), `cluster`, `task_definition`, `role` (ARNs), `subnets`
//! (sorted ids: the private subnets), `security_groups` (sorted ids), `assign_public_ip`
//! (default false: tasks reach AWS through NAT or VPC endpoints), `enabled` (default
//! true). Outputs: `arn`, `name`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{
    AssignPublicIp, AwsVpcConfiguration, EcsParameters, LaunchType, NetworkConfiguration, Rule, RuleState, Tag, Target,
};
use serde_json::{Value, json};

use super::lb::{invalid, sorted_strings, text};
use super::tag_map;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, aws_name};

pub struct EventRuleAdapter;

/// The id of capsule's target on its rules.
const TARGET_ID: &str = "capsule";

impl EventRuleAdapter {
    async fn find(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let out = cx.aws.events(region).describe_rule().name(name).send().await.aws("events:DescribeRule").found()?;
        let Some(rule) = out else { return Ok(None) };
        let rule = Rule::builder()
            .set_name(rule.name().map(str::to_string))
            .set_arn(rule.arn().map(str::to_string))
            .set_schedule_expression(rule.schedule_expression().map(str::to_string))
            .set_state(rule.state().cloned())
            .build();
        self.live_of(cx, &rule, region).await.map(Some)
    }

    async fn targets_of(&self, cx: &Cx, region: &str, name: &str) -> Result<Vec<Target>, AwsError> {
        let events = cx.aws.events(region);
        let mut targets = Vec::new();
        let mut token = None;
        loop {
            let Some(page) = events
                .list_targets_by_rule()
                .rule(name)
                .set_next_token(token)
                .send()
                .await
                .aws("events:ListTargetsByRule")
                .found()?
            else {
                return Ok(targets);
            };
            targets.extend(page.targets().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(targets);
            }
        }
    }

    async fn live_of(&self, cx: &Cx, rule: &Rule, region: &str) -> Result<Live, AwsError> {
        let name = rule.name().unwrap_or_default().to_string();
        let arn = rule.arn().unwrap_or_default().to_string();
        let tags = cx
            .aws
            .events(region)
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .aws("events:ListTagsForResource")
            .found()?
            .map(|t| tag_map(t.tags(), |t| (Some(t.key()), Some(t.value()))))
            .unwrap_or_default();
        let targets = self.targets_of(cx, region, &name).await?;
        let target = targets.iter().find(|t| t.id() == TARGET_ID).or_else(|| targets.first());
        let ecs = target.and_then(|t| t.ecs_parameters());
        let vpc = ecs.and_then(|e| e.network_configuration()).and_then(|n| n.awsvpc_configuration());
        let subnets = vpc.map(|v| v.subnets().to_vec()).unwrap_or_default();
        let mut security_groups = vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default();
        security_groups.sort();
        Ok(Live {
            aws_name: name.clone(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("schedule".into(), json!(rule.schedule_expression())),
                ("enabled".into(), json!(rule.state() == Some(&RuleState::Enabled))),
                ("cluster".into(), json!(target.map(|t| t.arn()))),
                ("task_definition".into(), json!(ecs.map(|e| e.task_definition_arn()))),
                ("role".into(), json!(target.and_then(|t| t.role_arn()))),
                ("subnets".into(), json!(super::ec2::sorted_owned(subnets))),
                ("security_groups".into(), json!(security_groups)),
                (
                    "assign_public_ip".into(),
                    json!(vpc.and_then(|v| v.assign_public_ip()).map(|a| *a == AssignPublicIp::Enabled)),
                ),
            ]),
            outputs: BTreeMap::from([("arn".into(), json!(arn)), ("name".into(), json!(name))]),
            tags,
        })
    }

    async fn put_rule(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        tags: bool,
    ) -> Result<(), AwsError> {
        let enabled = attrs.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        let tags = if tags {
            let mut out = Vec::new();
            for (k, v) in cx.tags_of(r) {
                out.push(Tag::builder().key(k).value(v).build().map_err(invalid("events:PutRule"))?);
            }
            Some(out)
        } else {
            None
        };
        cx.aws
            .events(&r.region)
            .put_rule()
            .name(&r.aws_name)
            .schedule_expression(attr_str(attrs, "schedule"))
            .state(if enabled { RuleState::Enabled } else { RuleState::Disabled })
            .description(format!("capsule {} {}: job {}", r.address.capsule, r.address.env, r.address.name))
            .set_tags(tags)
            .send()
            .await
            .aws("events:PutRule")
            .map(|_| ())
    }

    async fn put_target(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<(), AwsError> {
        const OP: &str = "events:PutTargets";
        let public = attrs.get("assign_public_ip").and_then(Value::as_bool).unwrap_or(false);
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(super::lb::sorted_strings(attrs.get("subnets"))))
            .set_security_groups(Some(sorted_strings(attrs.get("security_groups"))))
            .assign_public_ip(if public { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
            .build()
            .map_err(invalid(OP))?;
        let ecs = EcsParameters::builder()
            .task_definition_arn(attr_str(attrs, "task_definition"))
            .task_count(1)
            .launch_type(LaunchType::Fargate)
            .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
            .build()
            .map_err(invalid(OP))?;
        let target = Target::builder()
            .id(TARGET_ID)
            .arn(attr_str(attrs, "cluster"))
            .set_role_arn(text(attrs, "role").map(str::to_string))
            .ecs_parameters(ecs)
            .build()
            .map_err(invalid(OP))?;
        let out = cx.aws.events(&r.region).put_targets().rule(&r.aws_name).targets(target).send().await.aws(OP)?;
        if out.failed_entry_count() > 0 {
            let why: Vec<String> = out
                .failed_entries()
                .iter()
                .map(|e| format!("{}: {}", e.error_code().unwrap_or("failed"), e.error_message().unwrap_or_default()))
                .collect();
            return Err(AwsError::new(ErrorKind::Invalid, OP, why.join("; ")));
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for EventRuleAdapter {
    fn kind(&self) -> Kind {
        Kind::EventRule
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if attrs.contains_key("security_groups") {
            let groups = sorted_strings(attrs.get("security_groups"));
            attrs.insert("security_groups".into(), json!(groups));
        }
        if let Some(Value::Array(_)) = attrs.get("subnets") {
            let subnets = sorted_strings(attrs.get("subnets"));
            attrs.insert("subnets".into(), json!(subnets));
        }
        attrs.entry("assign_public_ip".into()).or_insert(json!(false));
        attrs.entry("enabled".into()).or_insert(json!(true));
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        // PutRule on an existing name overwrites it: look first, refuse a look-alike.
        if let Some(live) = self.observe(cx, r).await? {
            let live = live.ensure_owned(cx, "events:PutRule")?;
            return self.update(cx, r, attrs, &live).await;
        }
        self.put_rule(cx, r, attrs, true).await?;
        self.put_target(cx, r, attrs).await?;
        self.find(cx, &r.aws_name, &r.region).await?.visible("events:DescribeRule")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let differs = |k: &str| attrs.get(k).is_some_and(|v| live.attributes.get(k) != Some(v));
        if differs("schedule") || differs("enabled") {
            self.put_rule(cx, r, attrs, false).await?;
        }
        let target_keys = ["cluster", "task_definition", "role", "subnets", "security_groups", "assign_public_ip"];
        if target_keys.iter().any(|k| differs(k)) {
            self.put_target(cx, r, attrs).await?;
        }
        self.find(cx, &r.aws_name, &r.region).await?.visible("events:DescribeRule")
    }

    /// A rule with targets cannot be deleted: its targets go first.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let events = cx.aws.events(&live.region);
        let ids: Vec<String> =
            self.targets_of(cx, &live.region, &live.aws_name).await?.iter().map(|t| t.id().to_string()).collect();
        if !ids.is_empty() {
            let removed = events
                .remove_targets()
                .rule(&live.aws_name)
                .set_ids(Some(ids))
                .send()
                .await
                .aws("events:RemoveTargets")
                .found()?;
            if removed.is_none() {
                return Ok(());
            }
        }
        events.delete_rule().name(&live.aws_name).send().await.aws("events:DeleteRule").found().map(|_| ())
    }

    /// Rules named `<capsule>-<env>-*` tagged for the capsule environment.
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = format!("{}-", aws_name(&[&cx.capsule, &cx.env], 64));
        let events = cx.aws.events(&cx.region);
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page =
                events.list_rules().name_prefix(&prefix).set_next_token(token).send().await.aws("events:ListRules")?;
            for rule in page.rules() {
                let live = self.live_of(cx, rule, &cx.region).await?;
                if live.is_owned_by(&cx.capsule, &cx.env) {
                    out.push(live);
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}
