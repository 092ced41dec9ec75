//! Application Auto Scaling for ECS services: the scalable target (`service/<cluster>/<service>`
//! with min/max) and its target-tracking policy on average CPU.
//!
//! Scalable targets carry capsule's ownership tags (RegisterScalableTarget `Tags`,
//! ListTagsForResource). Scaling policies cannot be tagged in AWS: a policy belongs to the
//! capsule when the scalable target it is attached to does, so its `Live::tags` are its
//! target's.
//!
//! Finding what a capsule owns: AWS cannot filter scalable targets or policies by tag, so
//! `list_owned` narrows by resource id first — everything capsule scales is a service of
//! the capsule environment's cluster, `service/<capsule>-<env>/` (the cluster name
//! `model::expand` gives, `<capsule>-<env>`) — and policies also by their name prefix
//! `<capsule>-<env>-`; the tags then decide.
//!
//! Target attributes: `service_namespace`, `scalable_dimension` (both force a
//! replacement), `min`, `max`; outputs `resource_id`, `arn`. Policy attributes: `type`,
//! `metric`, `target_percent`, `scale_in_cooldown_seconds`, `scale_out_cooldown_seconds`;
//! outputs `arn`, `resource_id`.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget, ScalingPolicy,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use serde_json::{Value, json};

use super::lb::{int_of, invalid};
use super::owned::keep_owned;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, aws_name};

pub struct AutoscalingTargetAdapter;
pub struct AutoscalingPolicyAdapter;

const ECS: &str = "ecs";
const DESIRED_COUNT: &str = "ecs:service:DesiredCount";

/// The ECS cluster of a capsule environment, named as `model::expand` names it.
fn cluster_name(capsule: &str, env: &str) -> String {
    aws_name(&[capsule, env, ""], 255)
}

/// Resource ids of the services of the capsule environment's cluster start with this.
fn resource_prefix(cx: &Cx) -> String {
    format!("service/{}/", cluster_name(&cx.capsule, &cx.env))
}

fn namespace_of(attrs: &BTreeMap<String, Value>) -> &str {
    attrs.get("service_namespace").and_then(Value::as_str).unwrap_or(ECS)
}

fn dimension_of(attrs: &BTreeMap<String, Value>) -> &str {
    attrs.get("scalable_dimension").and_then(Value::as_str).unwrap_or(DESIRED_COUNT)
}

/// A number as JSON: whole numbers as integers, so `60.0` from AWS equals `60` in the model.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 { json!(n as i64) } else { json!(n) }
}

/// The scalable target of `resource_id`, if registered.
async fn describe_target(
    cx: &Cx,
    region: &str,
    namespace: &str,
    resource_id: &str,
    dimension: &str,
) -> Result<Option<ScalableTarget>, AwsError> {
    let mut pages = cx
        .aws
        .autoscaling(region)
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::from(namespace))
        .resource_ids(resource_id)
        .scalable_dimension(ScalableDimension::from(dimension))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = page.aws("application-autoscaling:DescribeScalableTargets").found()? else { return Ok(None) };
        if let Some(t) = page
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == resource_id && t.scalable_dimension().as_str() == dimension)
        {
            return Ok(Some(t.clone()));
        }
    }
    Ok(None)
}

/// The tags of a scalable target (none when it has no ARN or is gone).
async fn target_tags(cx: &Cx, region: &str, t: &ScalableTarget) -> Result<BTreeMap<String, String>, AwsError> {
    let Some(arn) = t.scalable_target_arn() else { return Ok(BTreeMap::new()) };
    Ok(cx
        .aws
        .autoscaling(region)
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .aws("application-autoscaling:ListTagsForResource")
        .found()?
        .and_then(|o| o.tags)
        .unwrap_or_default()
        .into_iter()
        .collect())
}

// ---- scalable targets -------------------------------------------------------------------

impl AutoscalingTargetAdapter {
    fn live_of(&self, t: &ScalableTarget, tags: BTreeMap<String, String>, region: &str) -> Live {
        Live {
            aws_name: t.resource_id().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("service_namespace".into(), json!(t.service_namespace().as_str())),
                ("scalable_dimension".into(), json!(t.scalable_dimension().as_str())),
                ("min".into(), json!(t.min_capacity())),
                ("max".into(), json!(t.max_capacity())),
            ]),
            outputs: BTreeMap::from([
                ("resource_id".into(), json!(t.resource_id())),
                ("arn".into(), json!(t.scalable_target_arn())),
            ]),
            tags,
        }
    }

    async fn find(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Option<Live>, AwsError> {
        let Some(t) = describe_target(cx, &r.region, namespace_of(attrs), &r.aws_name, dimension_of(attrs)).await?
        else {
            return Ok(None);
        };
        let tags = target_tags(cx, &r.region, &t).await?;
        Ok(Some(self.live_of(&t, tags, &r.region)))
    }

    async fn register(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        tags: bool,
    ) -> Result<(), AwsError> {
        cx.aws
            .autoscaling(&r.region)
            .register_scalable_target()
            .service_namespace(ServiceNamespace::from(namespace_of(attrs)))
            .resource_id(&r.aws_name)
            .scalable_dimension(ScalableDimension::from(dimension_of(attrs)))
            .set_min_capacity(int_of(attrs.get("min")).map(|n| n as i32))
            .set_max_capacity(int_of(attrs.get("max")).map(|n| n as i32))
            .set_tags(tags.then(|| cx.tags_of(r).into_iter().collect()))
            .send()
            .await
            .aws("application-autoscaling:RegisterScalableTarget")
            .map(|_| ())
    }
}

#[async_trait]
impl Adapter for AutoscalingTargetAdapter {
    fn kind(&self) -> Kind {
        Kind::AutoscalingTarget
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["service_namespace", "scalable_dimension"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        for key in ["min", "max"] {
            if let Some(n) = int_of(attrs.get(key)) {
                attrs.insert(key.into(), json!(n));
            }
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r, &r.attributes).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        // RegisterScalableTarget on an existing target updates it: look first, so a target
        // someone else registered is refused rather than taken over.
        if let Some(live) = self.find(cx, r, attrs).await? {
            let live = live.ensure_owned(cx, "application-autoscaling:RegisterScalableTarget")?;
            return self.update(cx, r, attrs, &live).await;
        }
        self.register(cx, r, attrs, true).await?;
        self.find(cx, r, attrs).await?.visible("application-autoscaling:DescribeScalableTargets")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        if ["min", "max"].iter().any(|k| attrs.get(*k).is_some_and(|v| live.attributes.get(*k) != Some(v))) {
            self.register(cx, r, attrs, false).await?;
        }
        self.find(cx, r, attrs).await?.visible("application-autoscaling:DescribeScalableTargets")
    }

    /// Deregistering a target also deletes its scaling policies (AWS).
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .autoscaling(&live.region)
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::from(namespace_of(&live.attributes)))
            .resource_id(&live.aws_name)
            .scalable_dimension(ScalableDimension::from(dimension_of(&live.attributes)))
            .send()
            .await
            .aws("application-autoscaling:DeregisterScalableTarget")
            .found()
            .map(|_| ())
    }

    /// The tagged scalable targets of the services of the capsule environment's cluster
    /// (see the module comment: AWS cannot list by tag).
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = resource_prefix(cx);
        let mut pages = cx
            .aws
            .autoscaling(&cx.region)
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::from(ECS))
            .into_paginator()
            .send();
        let mut targets = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("application-autoscaling:DescribeScalableTargets")?;
            targets.extend(page.scalable_targets().iter().filter(|t| t.resource_id().starts_with(&prefix)).cloned());
        }
        // Those the observation read are taken as read.
        let observed = |t: &ScalableTarget| cx.observed(Kind::AutoscalingTarget, &cx.region, t.resource_id());
        let (seen, unseen): (Vec<_>, Vec<_>) = targets.into_iter().partition(|t| observed(t).is_some());
        let owned = keep_owned(cx, unseen, |t| {
            let t = t.clone();
            async move { target_tags(cx, &cx.region, &t).await.map(Some) }
        })
        .await?;
        let seen = seen.iter().filter_map(observed).filter(|l| l.is_owned_by(&cx.capsule, &cx.env));
        Ok(seen.chain(owned.into_iter().map(|(t, tags)| self.live_of(&t, tags, &cx.region))).collect())
    }
}

// ---- scaling policies -------------------------------------------------------------------

/// The resource id of the scalable target a policy belongs to: `resource_id` when the model
/// gives it as text, else derived like `model::expand` names the target the policy depends
/// on, `service/<capsule>-<env>/<service>`.
fn policy_resource_id(r: &Resource, attrs: &BTreeMap<String, Value>) -> String {
    if let Some(id) = attrs.get("resource_id").and_then(Value::as_str) {
        return id.to_string();
    }
    let service = r
        .depends_on
        .iter()
        .find(|a| a.kind == Kind::AutoscalingTarget)
        .map(|a| a.name.as_str())
        .unwrap_or(r.address.name.as_str());
    format!("service/{}/{service}", cluster_name(&r.address.capsule, &r.address.env))
}

impl AutoscalingPolicyAdapter {
    fn live_of(&self, p: &ScalingPolicy, tags: BTreeMap<String, String>, region: &str) -> Live {
        let tt = p.target_tracking_scaling_policy_configuration();
        Live {
            aws_name: p.policy_name().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("type".into(), json!(p.policy_type().as_str())),
                (
                    "metric".into(),
                    json!(
                        tt.and_then(|c| c.predefined_metric_specification())
                            .map(|m| m.predefined_metric_type().as_str())
                    ),
                ),
                ("target_percent".into(), tt.map(|c| number(c.target_value())).unwrap_or(Value::Null)),
                ("scale_in_cooldown_seconds".into(), json!(tt.and_then(|c| c.scale_in_cooldown()))),
                ("scale_out_cooldown_seconds".into(), json!(tt.and_then(|c| c.scale_out_cooldown()))),
            ]),
            outputs: BTreeMap::from([
                ("arn".into(), json!(p.policy_arn())),
                ("resource_id".into(), json!(p.resource_id())),
                ("service_namespace".into(), json!(p.service_namespace().as_str())),
                ("scalable_dimension".into(), json!(p.scalable_dimension().as_str())),
            ]),
            tags,
        }
    }

    async fn find(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Option<Live>, AwsError> {
        let resource_id = policy_resource_id(r, attrs);
        let (namespace, dimension) = (namespace_of(attrs), dimension_of(attrs));
        let mut pages = cx
            .aws
            .autoscaling(&r.region)
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::from(namespace))
            .resource_id(&resource_id)
            .scalable_dimension(ScalableDimension::from(dimension))
            .policy_names(&r.aws_name)
            .into_paginator()
            .send();
        let mut found = None;
        while found.is_none()
            && let Some(page) = pages.next().await
        {
            let Some(page) = page.aws("application-autoscaling:DescribeScalingPolicies").found()? else { break };
            found = page
                .scaling_policies()
                .iter()
                .find(|p| p.policy_name() == r.aws_name && p.resource_id() == resource_id)
                .cloned();
        }
        let Some(p) = found else {
            return Ok(None);
        };
        let tags = match describe_target(cx, &r.region, namespace, &resource_id, dimension).await? {
            Some(t) => target_tags(cx, &r.region, &t).await?,
            None => BTreeMap::new(),
        };
        Ok(Some(self.live_of(&p, tags, &r.region)))
    }

    async fn put(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<(), AwsError> {
        const OP: &str = "application-autoscaling:PutScalingPolicy";
        if attr_str(attrs, "type") != "TargetTrackingScaling" {
            return Err(AwsError::new(
                ErrorKind::Invalid,
                OP,
                format!("policy type `{}` is not supported (TargetTrackingScaling is)", attr_str(attrs, "type")),
            ));
        }
        let target = attrs.get("target_percent").and_then(Value::as_f64).unwrap_or(50.0);
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(target)
            .predefined_metric_specification(
                PredefinedMetricSpecification::builder()
                    .predefined_metric_type(MetricType::from(attr_str(attrs, "metric")))
                    .build()
                    .map_err(invalid(OP))?,
            )
            .set_scale_in_cooldown(int_of(attrs.get("scale_in_cooldown_seconds")).map(|n| n as i32))
            .set_scale_out_cooldown(int_of(attrs.get("scale_out_cooldown_seconds")).map(|n| n as i32))
            .build()
            .map_err(invalid(OP))?;
        cx.aws
            .autoscaling(&r.region)
            .put_scaling_policy()
            .policy_name(&r.aws_name)
            .service_namespace(ServiceNamespace::from(namespace_of(attrs)))
            .resource_id(policy_resource_id(r, attrs))
            .scalable_dimension(ScalableDimension::from(dimension_of(attrs)))
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .send()
            .await
            .aws(OP)
            .map(|_| ())
    }
}

#[async_trait]
impl Adapter for AutoscalingPolicyAdapter {
    fn kind(&self) -> Kind {
        Kind::AutoscalingPolicy
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(n) = attrs.get("target_percent").and_then(Value::as_f64) {
            attrs.insert("target_percent".into(), number(n));
        }
        for key in ["scale_in_cooldown_seconds", "scale_out_cooldown_seconds"] {
            if let Some(n) = int_of(attrs.get(key)) {
                attrs.insert(key.into(), json!(n));
            }
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r, &r.attributes).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        // PutScalingPolicy overwrites a policy of the same name: refuse one on a target
        // that is not the capsule's.
        if let Some(live) = self.find(cx, r, attrs).await? {
            let live = live.ensure_owned(cx, "application-autoscaling:PutScalingPolicy")?;
            return self.update(cx, r, attrs, &live).await;
        }
        self.put(cx, r, attrs).await?;
        self.find(cx, r, attrs).await?.visible("application-autoscaling:DescribeScalingPolicies")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        if attrs.iter().any(|(k, v)| live.attributes.get(k).is_some_and(|l| l != v)) {
            self.put(cx, r, attrs).await?;
        }
        self.find(cx, r, attrs).await?.visible("application-autoscaling:DescribeScalingPolicies")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let out = |k: &str| live.outputs.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        cx.aws
            .autoscaling(&live.region)
            .delete_scaling_policy()
            .policy_name(&live.aws_name)
            .service_namespace(ServiceNamespace::from(out("service_namespace").as_str()))
            .resource_id(out("resource_id"))
            .scalable_dimension(ScalableDimension::from(out("scalable_dimension").as_str()))
            .send()
            .await
            .aws("application-autoscaling:DeleteScalingPolicy")
            .found()
            .map(|_| ())
    }

    /// Policies named `<capsule>-<env>-*` on services of the capsule environment's cluster
    /// whose scalable target is tagged for it (see the module comment).
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = resource_prefix(cx);
        let name_prefix = format!("{}-", aws_name(&[&cx.capsule, &cx.env], 255));
        let mut pages = cx
            .aws
            .autoscaling(&cx.region)
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::from(ECS))
            .into_paginator()
            .send();
        let mut policies = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("application-autoscaling:DescribeScalingPolicies")?;
            policies.extend(
                page.scaling_policies()
                    .iter()
                    .filter(|p| p.resource_id().starts_with(&prefix) && p.policy_name().starts_with(&name_prefix))
                    .cloned(),
            );
        }
        // A policy carries the tags of its scalable target: read once per target.
        let target_of = |p: &ScalingPolicy| (p.resource_id().to_string(), p.scalable_dimension().as_str().to_string());
        let targets: BTreeSet<(String, String)> = policies.iter().map(target_of).collect();
        let owned: BTreeMap<_, _> = keep_owned(cx, targets, |(id, dimension)| {
            let (id, dimension) = (id.clone(), dimension.clone());
            async move {
                if let Some(target) = cx.observed(Kind::AutoscalingTarget, &cx.region, &id) {
                    return Ok(Some(target.tags));
                }
                Ok(Some(match describe_target(cx, &cx.region, ECS, &id, &dimension).await? {
                    Some(t) => target_tags(cx, &cx.region, &t).await?,
                    None => BTreeMap::new(),
                }))
            }
        })
        .await?
        .into_iter()
        .collect();
        Ok(policies
            .iter()
            .filter_map(|p| owned.get(&target_of(p)).map(|tags| self.live_of(p, tags.clone(), &cx.region)))
            .collect())
    }
}
