//! ELBv2 listener rules. Rules have no name in AWS: capsule's rule is the one on its
//! listener tagged with its component (the service name), so a priority change is an
//! in-place SetRulePriorities. A rule at the desired priority that does not carry the
//! capsule's tags is reported as the live resource, so it is refused, never adopted.
//!
//! Attributes: `listener` (ARN; a different one forces a replacement), `priority`,
//! `condition` (`{"host_header": [...]}` and/or `{"path_pattern": [...]}`, values sorted),
//! `forward_to` (target group ARN). Outputs: `arn`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, PathPatternConditionConfig, Rule, RuleCondition,
    RulePriorityPair,
};
use serde_json::{Map, Value, json};

use super::lb::{elb_tags, int_of, owned_component, owned_load_balancers, sorted_strings, tags_of_arn, with_tags};
use super::lb_listener::{forward_target, listener_arn, listeners};
use super::owned::owned;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct LbListenerRuleAdapter;

/// Conditions in capsule's shape: `{"host_header": [...], "path_pattern": [...]}`.
fn condition_value(conditions: &[RuleCondition]) -> Value {
    let mut out = Map::new();
    for c in conditions {
        let field = c.field().unwrap_or_default();
        let values: Vec<String> = match field {
            "host-header" => c.host_header_config().map(|h| h.values().to_vec()),
            "path-pattern" => c.path_pattern_config().map(|p| p.values().to_vec()),
            _ => None,
        }
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| c.values().to_vec());
        let key = field.replace('-', "_");
        let mut all = sorted_strings(out.get(&key));
        all.extend(values);
        all.sort();
        all.dedup();
        out.insert(key, json!(all));
    }
    Value::Object(out)
}

/// Conditions from capsule's shape.
fn conditions_of(v: Option<&Value>) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    let Some(m) = v.and_then(Value::as_object) else { return out };
    if m.contains_key("host_header") {
        let values = sorted_strings(m.get("host_header"));
        out.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(HostHeaderConditionConfig::builder().set_values(Some(values)).build())
                .build(),
        );
    }
    if m.contains_key("path_pattern") {
        let values = sorted_strings(m.get("path_pattern"));
        out.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(PathPatternConditionConfig::builder().set_values(Some(values)).build())
                .build(),
        );
    }
    out
}

fn forward(attrs: &BTreeMap<String, Value>) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(attr_str(attrs, "forward_to")).build()
}

impl LbListenerRuleAdapter {
    fn live_of(&self, rule: &Rule, listener: &str, tags: BTreeMap<String, String>, region: &str) -> Live {
        let arn = rule.rule_arn().unwrap_or_default().to_string();
        let forward_to =
            rule.actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward)).and_then(forward_target);
        Live {
            aws_name: arn.clone(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("listener".into(), json!(listener)),
                ("priority".into(), json!(rule.priority().and_then(|p| p.parse::<i64>().ok()))),
                ("condition".into(), condition_value(rule.conditions())),
                ("forward_to".into(), json!(forward_to)),
            ]),
            outputs: BTreeMap::from([("arn".into(), json!(arn))]),
            tags,
        }
    }

    /// The non-default rules of a listener with their tags; none when it is gone.
    async fn rules_of(
        &self,
        cx: &Cx,
        region: &str,
        listener: &str,
    ) -> Result<Vec<(Rule, BTreeMap<String, String>)>, AwsError> {
        let mut all = Vec::new();
        let mut pages = cx.aws.elb(region).describe_rules().listener_arn(listener).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page.aws("elbv2:DescribeRules").found()? {
                Some(page) => all.extend(page.rules().iter().filter(|r| r.is_default() != Some(true)).cloned()),
                None => return Ok(vec![]),
            }
        }
        with_tags(cx, region, all, Rule::rule_arn).await
    }

    /// Capsule's rule for `r` on the listener `listener` names; else a foreign rule at
    /// `priority` (which the caller refuses).
    async fn find(
        &self,
        cx: &Cx,
        r: &Resource,
        listener: Option<&Value>,
        priority: Option<i64>,
    ) -> Result<Option<Live>, AwsError> {
        let Some(listener) = listener_arn(cx, &r.region, listener).await? else {
            return Ok(None);
        };
        let rules = self.rules_of(cx, &r.region, &listener).await?;
        let component = r.address.name.as_str();
        let mine = rules.iter().find(|(_, t)| owned_component(cx, t, component));
        let foreign = || {
            rules
                .iter()
                .find(|(rule, t)| !owned(cx, t) && rule.priority().and_then(|p| p.parse::<i64>().ok()) == priority)
        };
        Ok(mine.or_else(foreign).map(|(rule, t)| self.live_of(rule, &listener, t.clone(), &r.region)))
    }

    async fn read(&self, cx: &Cx, region: &str, listener: &str, arn: &str) -> Result<Option<Live>, AwsError> {
        let out = cx.aws.elb(region).describe_rules().rule_arns(arn).send().await.aws("elbv2:DescribeRules").found()?;
        let Some(rule) = out.and_then(|o| o.rules().iter().find(|r| r.rule_arn() == Some(arn)).cloned()) else {
            return Ok(None);
        };
        let tags = tags_of_arn(cx, region, arn).await?;
        Ok(Some(self.live_of(&rule, listener, tags, region)))
    }
}

#[async_trait]
impl Adapter for LbListenerRuleAdapter {
    fn kind(&self) -> Kind {
        Kind::LbListenerRule
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["listener"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(priority) = int_of(attrs.get("priority")) {
            attrs.insert("priority".into(), json!(priority));
        }
        if let Some(Value::Object(m)) = attrs.get_mut("condition") {
            for v in m.values_mut() {
                *v = json!(sorted_strings(Some(v)));
            }
        }
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r, r.attributes.get("listener"), int_of(r.attributes.get("priority"))).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, r, attrs.get("listener"), int_of(attrs.get("priority"))).await? {
            let live = live.ensure_owned(cx, "elbv2:CreateRule")?;
            return self.update(cx, r, attrs, &live).await;
        }
        let listener = attr_str(attrs, "listener");
        let out = cx
            .aws
            .elb(&r.region)
            .create_rule()
            .listener_arn(listener)
            .set_priority(int_of(attrs.get("priority")).map(|p| p as i32))
            .set_conditions(Some(conditions_of(attrs.get("condition"))))
            .actions(forward(attrs))
            .set_tags(Some(elb_tags(cx, r)))
            .send()
            .await
            .aws("elbv2:CreateRule")?;
        let arn = out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default().to_string();
        self.read(cx, &r.region, listener, &arn).await?.visible("elbv2:DescribeRules")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let elb = cx.aws.elb(&r.region);
        let differs = |k: &str| attrs.get(k).is_some_and(|v| live.attributes.get(k) != Some(v));
        if differs("condition") || differs("forward_to") {
            elb.modify_rule()
                .rule_arn(&live.aws_name)
                .set_conditions(Some(conditions_of(attrs.get("condition"))))
                .actions(forward(attrs))
                .send()
                .await
                .aws("elbv2:ModifyRule")?;
        }
        if differs("priority")
            && let Some(priority) = int_of(attrs.get("priority"))
        {
            elb.set_rule_priorities()
                .rule_priorities(RulePriorityPair::builder().rule_arn(&live.aws_name).priority(priority as i32).build())
                .send()
                .await
                .aws("elbv2:SetRulePriorities")?;
        }
        let listener = live.attributes.get("listener").and_then(Value::as_str).unwrap_or_default();
        self.read(cx, &r.region, listener, &live.aws_name).await?.visible("elbv2:DescribeRules")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .elb(&live.region)
            .delete_rule()
            .rule_arn(&live.aws_name)
            .send()
            .await
            .aws("elbv2:DeleteRule")
            .found()
            .map(|_| ())
    }

    /// The tagged rules on the listeners of the capsule's own load balancers.
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for (lb, _) in owned_load_balancers(cx, &cx.region).await? {
            let listeners = listeners(cx, &cx.region, lb.load_balancer_arn().unwrap_or_default()).await?;
            for listener in listeners.iter().filter_map(|l| l.listener_arn().map(str::to_string)) {
                for (rule, tags) in self.rules_of(cx, &cx.region, &listener).await? {
                    if owned(cx, &tags) {
                        out.push(self.live_of(&rule, &listener, tags, &cx.region));
                    }
                }
            }
        }
        Ok(out)
    }
}
