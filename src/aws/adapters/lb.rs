//! Application load balancers (ELBv2), and what the listener, rule and target group
//! adapters share: tag reads in batches, finding the capsule's own load balancers by tag.
//!
//! Attributes: `type`, `scheme` (both force a replacement), `ip_address_type`, `subnets`
//! (sorted ids: the public subnets, one per zone), `security_groups` (sorted ids),
//! `idle_timeout_seconds`, `drop_invalid_header_fields`. Outputs: `arn`, `dns_name`,
//! `zone_id` (canonical hosted zone, for alias records), `name`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Tag,
};
use serde_json::{Value, json};

use super::owned::owned;
use super::tag_map;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, as_reference};

pub struct LbAdapter;

const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";

// ---- shared by the ELBv2 adapters -------------------------------------------------------

/// The ownership tags of `r` as ELBv2 takes them.
pub(super) fn elb_tags(cx: &Cx, r: &Resource) -> Vec<Tag> {
    cx.tags_of(r).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags of ELBv2 resources (load balancers, target groups, listeners, rules), by ARN.
/// DescribeTags takes at most 20 ARNs a call, and fails as a whole when one of them is
/// gone (deleted since it was listed): that batch is then read one ARN at a time, and what
/// is gone is left out.
pub(super) async fn describe_tags(
    cx: &Cx,
    region: &str,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    let elb = cx.aws.elb(region);
    let mut out = BTreeMap::new();
    for batch in arns.chunks(20) {
        let read = |arns: Vec<String>| elb.describe_tags().set_resource_arns(Some(arns)).send();
        let descriptions = match read(batch.to_vec()).await.aws("elbv2:DescribeTags").found()? {
            Some(tags) => tags.tag_descriptions().to_vec(),
            None => {
                let mut one_by_one = Vec::new();
                for arn in batch {
                    if let Some(tags) = read(vec![arn.clone()]).await.aws("elbv2:DescribeTags").found()? {
                        one_by_one.extend(tags.tag_descriptions().iter().cloned());
                    }
                }
                one_by_one
            }
        };
        for d in descriptions {
            if let Some(arn) = d.resource_arn() {
                out.insert(arn.to_string(), tag_map(d.tags(), |t| (t.key(), t.value())));
            }
        }
    }
    Ok(out)
}

/// The tags of one ELBv2 resource.
pub(super) async fn tags_of_arn(cx: &Cx, region: &str, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    Ok(describe_tags(cx, region, &[arn.to_string()]).await?.remove(arn).unwrap_or_default())
}

/// ELBv2 resources each with its tags (read in batches by the ARN `arn_of` gives).
pub(super) async fn with_tags<T>(
    cx: &Cx,
    region: &str,
    items: Vec<T>,
    arn_of: impl Fn(&T) -> Option<&str>,
) -> Result<Vec<(T, BTreeMap<String, String>)>, AwsError> {
    let arns: Vec<String> = items.iter().filter_map(|i| arn_of(i).map(str::to_string)).collect();
    let mut tags = describe_tags(cx, region, &arns).await?;
    Ok(items
        .into_iter()
        .map(|i| {
            let t = tags.remove(arn_of(&i).unwrap_or_default()).unwrap_or_default();
            (i, t)
        })
        .collect())
}

/// Every load balancer of the region tagged for `cx.capsule` / `cx.env`, with its tags.
/// Listed (every load balancer of the region, and the tags of all of them) once per run and
/// kept in `cx` until `LbAdapter` writes a load balancer: each listener and rule read asks.
pub(super) async fn owned_load_balancers(
    cx: &Cx,
    region: &str,
) -> Result<Vec<(LoadBalancer, BTreeMap<String, String>)>, AwsError> {
    let listed = cx
        .load_balancers
        .get_or_list(region, || async {
            let mut all = Vec::new();
            let mut pages = cx.aws.elb(region).describe_load_balancers().into_paginator().send();
            while let Some(page) = pages.next().await {
                all.extend(page.aws("elbv2:DescribeLoadBalancers")?.load_balancers().iter().cloned());
            }
            let tagged = with_tags(cx, region, all, LoadBalancer::load_balancer_arn).await?;
            Ok(tagged.into_iter().filter(|(_, t)| owned(cx, t)).collect())
        })
        .await?;
    Ok(listed.as_ref().clone())
}

/// Tags that mark a resource as this capsule environment's resource of `component`.
pub(super) fn owned_component(cx: &Cx, tags: &BTreeMap<String, String>, component: &str) -> bool {
    owned(cx, tags) && tags.get(crate::model::TAG_COMPONENT).map(String::as_str) == Some(component)
}

/// The `capsule:component` of the resource a reference points at (the name part of
/// `<capsule>.<env>.<type>.<name>`).
pub(super) fn referenced_component(v: &Value) -> Option<&str> {
    as_reference(v).and_then(|(address, _)| address.splitn(4, '.').nth(3))
}

/// The load balancer an attribute names: its ARN once references are resolved; before
/// (observe reads the unresolved model) the capsule's own load balancer the reference
/// points at, found by its component tag. `None` when it does not exist (yet).
pub(super) async fn load_balancer_arn(cx: &Cx, region: &str, v: Option<&Value>) -> Result<Option<String>, AwsError> {
    match v {
        Some(Value::String(arn)) => Ok(Some(arn.clone())),
        Some(v) => match referenced_component(v) {
            Some(component) => Ok(owned_load_balancers(cx, region)
                .await?
                .into_iter()
                .find(|(_, t)| owned_component(cx, t, component))
                .and_then(|(lb, _)| lb.load_balancer_arn().map(str::to_string))),
            None => Ok(None),
        },
        None => Ok(None),
    }
}

/// A list attribute as sorted strings.
pub(super) fn sorted_strings(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// A text attribute, if given.
pub(super) fn text<'a>(attrs: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// A whole-number attribute (numbers given as strings too).
pub(super) fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An SDK builder that refused its input.
pub(super) fn invalid(operation: &'static str) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError {
    move |e| AwsError::new(ErrorKind::Invalid, operation, e.to_string())
}

// ---- load balancers ----------------------------------------------------------------------

impl LbAdapter {
    async fn find(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let out = cx
            .aws
            .elb(region)
            .describe_load_balancers()
            .names(name)
            .send()
            .await
            .aws("elbv2:DescribeLoadBalancers")
            .found()?;
        let Some(lb) =
            out.and_then(|o| o.load_balancers().iter().find(|lb| lb.load_balancer_name() == Some(name)).cloned())
        else {
            return Ok(None);
        };
        let tags = tags_of_arn(cx, region, lb.load_balancer_arn().unwrap_or_default()).await?;
        self.live_of(cx, &lb, tags, region).await.map(Some)
    }

    async fn live_of(
        &self,
        cx: &Cx,
        lb: &LoadBalancer,
        tags: BTreeMap<String, String>,
        region: &str,
    ) -> Result<Live, AwsError> {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let attrs = cx
            .aws
            .elb(region)
            .describe_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .send()
            .await
            .aws("elbv2:DescribeLoadBalancerAttributes")?;
        let attr = |key: &str| attrs.attributes().iter().find(|a| a.key() == Some(key)).and_then(|a| a.value());
        let mut subnets: Vec<String> =
            lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_string)).collect();
        subnets.sort();
        let mut security_groups: Vec<String> = lb.security_groups().to_vec();
        security_groups.sort();
        Ok(Live {
            aws_name: lb.load_balancer_name().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("type".into(), json!(lb.r#type().map(|t| t.as_str()))),
                ("scheme".into(), json!(lb.scheme().map(|s| s.as_str()))),
                ("ip_address_type".into(), json!(lb.ip_address_type().map(|t| t.as_str()))),
                ("subnets".into(), json!(subnets)),
                ("security_groups".into(), json!(security_groups)),
                ("idle_timeout_seconds".into(), json!(attr(IDLE_TIMEOUT).and_then(|v| v.parse::<i64>().ok()))),
                ("drop_invalid_header_fields".into(), json!(attr(DROP_INVALID_HEADERS).map(|v| v == "true"))),
            ]),
            outputs: BTreeMap::from([
                ("arn".into(), json!(arn)),
                ("dns_name".into(), json!(lb.dns_name())),
                ("zone_id".into(), json!(lb.canonical_hosted_zone_id())),
                ("name".into(), json!(lb.load_balancer_name())),
            ]),
            tags,
        })
    }

    /// Sets the load balancer attributes that differ from `live` (all of them when
    /// `live` is `None`, right after creation).
    async fn set_attributes(
        &self,
        cx: &Cx,
        region: &str,
        arn: &str,
        attrs: &BTreeMap<String, Value>,
        live: Option<&Live>,
    ) -> Result<(), AwsError> {
        let differs = |k: &str| live.is_none_or(|l| l.attributes.get(k) != attrs.get(k));
        let mut changes = Vec::new();
        if let Some(idle) = int_of(attrs.get("idle_timeout_seconds"))
            && differs("idle_timeout_seconds")
        {
            changes.push(LoadBalancerAttribute::builder().key(IDLE_TIMEOUT).value(idle.to_string()).build());
        }
        if let Some(drop) = attrs.get("drop_invalid_header_fields").and_then(Value::as_bool)
            && differs("drop_invalid_header_fields")
        {
            changes.push(LoadBalancerAttribute::builder().key(DROP_INVALID_HEADERS).value(drop.to_string()).build());
        }
        if changes.is_empty() {
            return Ok(());
        }
        cx.aws
            .elb(region)
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(changes))
            .send()
            .await
            .aws("elbv2:ModifyLoadBalancerAttributes")
            .map(|_| ())
    }
}

#[async_trait]
impl Adapter for LbAdapter {
    fn kind(&self) -> Kind {
        Kind::Lb
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["type", "scheme"]
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
        if let Some(idle) = int_of(attrs.get("idle_timeout_seconds")) {
            attrs.insert("idle_timeout_seconds".into(), json!(idle));
        }
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed one of `r`'s name (an owned one of another name is not `r`).
    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.aws_name == r.aws_name).cloned())
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        // Whatever the outcome (a create may succeed and its read fail), the listing is old.
        let created = self.create_lb(cx, r, attrs).await;
        cx.load_balancers.forget(&r.region);
        created
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let updated = self.update_lb(cx, r, attrs, live).await;
        cx.load_balancers.forget(&r.region);
        updated
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let deleted = self.delete_lb(cx, live).await;
        cx.load_balancers.forget(&live.region);
        deleted
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for (lb, tags) in owned_load_balancers(cx, &cx.region).await? {
            out.push(self.live_of(cx, &lb, tags, &cx.region).await?);
        }
        Ok(out)
    }
}

impl LbAdapter {
    async fn create_lb(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.observe(cx, r).await? {
            let live = live.ensure_owned(cx, "elbv2:CreateLoadBalancer")?;
            return self.update_lb(cx, r, attrs, &live).await;
        }
        let out = cx
            .aws
            .elb(&r.region)
            .create_load_balancer()
            .name(&r.aws_name)
            .set_type(text(attrs, "type").map(LoadBalancerTypeEnum::from))
            .set_scheme(text(attrs, "scheme").map(LoadBalancerSchemeEnum::from))
            .set_ip_address_type(text(attrs, "ip_address_type").map(IpAddressType::from))
            .set_subnets(Some(sorted_strings(attrs.get("subnets"))))
            .set_security_groups(Some(sorted_strings(attrs.get("security_groups"))))
            .set_tags(Some(elb_tags(cx, r)))
            .send()
            .await
            .aws("elbv2:CreateLoadBalancer")?;
        let arn = out.load_balancers().first().and_then(|lb| lb.load_balancer_arn()).unwrap_or_default().to_string();
        self.set_attributes(cx, &r.region, &arn, attrs, None).await?;
        self.find(cx, &r.aws_name, &r.region).await?.visible("elbv2:DescribeLoadBalancers")
    }

    async fn update_lb(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let elb = cx.aws.elb(&r.region);
        let arn = live.outputs.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
        let differs = |k: &str| attrs.get(k).is_some_and(|v| live.attributes.get(k) != Some(v));
        if differs("ip_address_type") {
            elb.set_ip_address_type()
                .load_balancer_arn(&arn)
                .ip_address_type(IpAddressType::from(attr_str(attrs, "ip_address_type")))
                .send()
                .await
                .aws("elbv2:SetIpAddressType")?;
        }
        if differs("subnets") {
            elb.set_subnets()
                .load_balancer_arn(&arn)
                .set_subnets(Some(sorted_strings(attrs.get("subnets"))))
                .send()
                .await
                .aws("elbv2:SetSubnets")?;
        }
        if differs("security_groups") {
            elb.set_security_groups()
                .load_balancer_arn(&arn)
                .set_security_groups(Some(sorted_strings(attrs.get("security_groups"))))
                .send()
                .await
                .aws("elbv2:SetSecurityGroups")?;
        }
        self.set_attributes(cx, &r.region, &arn, attrs, Some(live)).await?;
        self.find(cx, &r.aws_name, &r.region).await?.visible("elbv2:DescribeLoadBalancers")
    }

    async fn delete_lb(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        // Deleting a load balancer deletes its listeners and their rules with it.
        let Some(arn) = live.outputs.get("arn").and_then(Value::as_str) else {
            return Ok(());
        };
        cx.aws
            .elb(&live.region)
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .aws("elbv2:DeleteLoadBalancer")
            .found()
            .map(|_| ())
    }
}
