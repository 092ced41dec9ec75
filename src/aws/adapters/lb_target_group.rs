//! ELBv2 target groups, named `r.aws_name` (at most 32 characters, the port in it) and tagged.
//!
//! Attributes: `port`, `protocol`, `target_type`, `vpc` (all four force a replacement),
//! `health_path`, `health_matcher` (HTTP codes, e.g. `"200-399"`),
//! `deregistration_delay_seconds`, and the health check's `health_interval_seconds`,
//! `health_timeout_seconds`, `healthy_threshold`, `unhealthy_threshold`. Outputs: `arn`, `name`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum};
use serde_json::{Value, json};

use super::lb::{elb_tags, int_of, tags_of_arn, with_tags};
use super::owned::owned;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct LbTargetGroupAdapter;

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// The health check's timing attributes, set on create and modified in place.
const HEALTH_TIMING: [&str; 4] =
    ["health_interval_seconds", "health_timeout_seconds", "healthy_threshold", "unhealthy_threshold"];

fn seconds(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i32> {
    int_of(attrs.get(key)).map(|n| n as i32)
}

impl LbTargetGroupAdapter {
    async fn find(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let out = cx
            .aws
            .elb(region)
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .aws("elbv2:DescribeTargetGroups")
            .found()?;
        let Some(tg) =
            out.and_then(|o| o.target_groups().iter().find(|t| t.target_group_name() == Some(name)).cloned())
        else {
            return Ok(None);
        };
        let tags = tags_of_arn(cx, region, tg.target_group_arn().unwrap_or_default()).await?;
        self.live_of(cx, &tg, tags, region).await.map(Some)
    }

    async fn live_of(
        &self,
        cx: &Cx,
        tg: &TargetGroup,
        tags: BTreeMap<String, String>,
        region: &str,
    ) -> Result<Live, AwsError> {
        let arn = tg.target_group_arn().unwrap_or_default().to_string();
        let attrs = cx
            .aws
            .elb(region)
            .describe_target_group_attributes()
            .target_group_arn(&arn)
            .send()
            .await
            .aws("elbv2:DescribeTargetGroupAttributes")?;
        let delay = attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|a| a.value())
            .and_then(|v| v.parse::<i64>().ok());
        let vpc = tg.vpc_id().unwrap_or_default();
        Ok(Live {
            aws_name: tg.target_group_name().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("port".into(), json!(tg.port())),
                ("protocol".into(), json!(tg.protocol().map(|p| p.as_str()))),
                ("target_type".into(), json!(tg.target_type().map(|t| t.as_str()))),
                ("vpc".into(), json!(vpc)),
                ("health_path".into(), json!(tg.health_check_path())),
                ("health_matcher".into(), json!(tg.matcher().and_then(|m| m.http_code()))),
                ("deregistration_delay_seconds".into(), json!(delay)),
                ("health_interval_seconds".into(), json!(tg.health_check_interval_seconds())),
                ("health_timeout_seconds".into(), json!(tg.health_check_timeout_seconds())),
                ("healthy_threshold".into(), json!(tg.healthy_threshold_count())),
                ("unhealthy_threshold".into(), json!(tg.unhealthy_threshold_count())),
            ]),
            outputs: BTreeMap::from([("arn".into(), json!(arn)), ("name".into(), json!(tg.target_group_name()))]),
            tags,
        })
    }

    async fn set_delay(
        &self,
        cx: &Cx,
        region: &str,
        arn: &str,
        attrs: &BTreeMap<String, Value>,
        live: Option<&Live>,
    ) -> Result<(), AwsError> {
        let Some(delay) = int_of(attrs.get("deregistration_delay_seconds")) else {
            return Ok(());
        };
        if live.is_some_and(|l| l.attributes.get("deregistration_delay_seconds") == Some(&json!(delay))) {
            return Ok(());
        }
        cx.aws
            .elb(region)
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(TargetGroupAttribute::builder().key(DEREGISTRATION_DELAY).value(delay.to_string()).build())
            .send()
            .await
            .aws("elbv2:ModifyTargetGroupAttributes")
            .map(|_| ())
    }
}

#[async_trait]
impl Adapter for LbTargetGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::LbTargetGroup
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["port", "protocol", "target_type", "vpc"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        for key in ["port", "deregistration_delay_seconds"].into_iter().chain(HEALTH_TIMING) {
            if let Some(n) = int_of(attrs.get(key)) {
                attrs.insert(key.into(), json!(n));
            }
        }
    }

    /// By name; else the group this component had under another name (its port is part
    /// of the name), which a change of port then replaces.
    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed one of `r`'s name (an owned one of another name is not `r`).
    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.aws_name == r.aws_name).cloned())
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        if let Some(live) = self.find(cx, &r.aws_name, &r.region).await? {
            return Ok(Some(live));
        }
        Ok(self.list_owned(cx).await?.into_iter().find(|l| l.component() == Some(r.address.name.as_str())))
    }

    /// A listener rule and an ECS service use the group, and ELB refuses to delete a group
    /// in use (`ResourceInUse`): the new group (another name, since the port is in it) is
    /// made first, its users move to it, then the old one goes.
    fn create_before_delete(&self) -> bool {
        true
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, &r.aws_name, &r.region).await? {
            let live = live.ensure_owned(cx, "elbv2:CreateTargetGroup")?;
            return self.update(cx, r, attrs, &live).await;
        }
        let mut create = cx
            .aws
            .elb(&r.region)
            .create_target_group()
            .name(&r.aws_name)
            .protocol(ProtocolEnum::from(attr_str(attrs, "protocol")))
            .set_port(int_of(attrs.get("port")).map(|p| p as i32))
            .vpc_id(attr_str(attrs, "vpc"))
            .target_type(TargetTypeEnum::from(attr_str(attrs, "target_type")))
            .set_tags(Some(elb_tags(cx, r)));
        if let Some(path) = attrs.get("health_path").and_then(Value::as_str) {
            create = create.health_check_path(path);
        }
        if let Some(codes) = attrs.get("health_matcher").and_then(Value::as_str) {
            create = create.matcher(Matcher::builder().http_code(codes).build());
        }
        let out = create
            .set_health_check_interval_seconds(seconds(attrs, "health_interval_seconds"))
            .set_health_check_timeout_seconds(seconds(attrs, "health_timeout_seconds"))
            .set_healthy_threshold_count(seconds(attrs, "healthy_threshold"))
            .set_unhealthy_threshold_count(seconds(attrs, "unhealthy_threshold"))
            .send()
            .await
            .aws("elbv2:CreateTargetGroup")?;
        let arn = out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_string();
        self.set_delay(cx, &r.region, &arn, attrs, None).await?;
        self.find(cx, &r.aws_name, &r.region).await?.visible("elbv2:DescribeTargetGroups")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let arn = live.outputs.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
        let differs = |k: &str| attrs.get(k).is_some_and(|v| live.attributes.get(k) != Some(v));
        if differs("health_path") || differs("health_matcher") || HEALTH_TIMING.iter().any(|k| differs(k)) {
            let mut modify = cx
                .aws
                .elb(&r.region)
                .modify_target_group()
                .target_group_arn(&arn)
                .set_health_check_interval_seconds(seconds(attrs, "health_interval_seconds"))
                .set_health_check_timeout_seconds(seconds(attrs, "health_timeout_seconds"))
                .set_healthy_threshold_count(seconds(attrs, "healthy_threshold"))
                .set_unhealthy_threshold_count(seconds(attrs, "unhealthy_threshold"));
            if let Some(path) = attrs.get("health_path").and_then(Value::as_str) {
                modify = modify.health_check_path(path);
            }
            if let Some(codes) = attrs.get("health_matcher").and_then(Value::as_str) {
                modify = modify.matcher(Matcher::builder().http_code(codes).build());
            }
            modify.send().await.aws("elbv2:ModifyTargetGroup")?;
        }
        self.set_delay(cx, &r.region, &arn, attrs, Some(live)).await?;
        self.find(cx, &r.aws_name, &r.region).await?.visible("elbv2:DescribeTargetGroups")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let Some(arn) = live.outputs.get("arn").and_then(Value::as_str) else {
            return Ok(());
        };
        cx.aws
            .elb(&live.region)
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .aws("elbv2:DeleteTargetGroup")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut all = Vec::new();
        let mut pages = cx.aws.elb(&cx.region).describe_target_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            all.extend(page.aws("elbv2:DescribeTargetGroups")?.target_groups().iter().cloned());
        }
        let mut out = Vec::new();
        for (tg, tags) in with_tags(cx, &cx.region, all, TargetGroup::target_group_arn).await? {
            if owned(cx, &tags) {
                out.push(self.live_of(cx, &tg, tags, &cx.region).await?);
            }
        }
        Ok(out)
    }
}
