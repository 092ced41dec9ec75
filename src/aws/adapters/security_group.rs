//! EC2 security groups in the capsule's VPC. Attributes: `description` and `vpc` (both
//! force a replacement), `ingress` (the capsule's rules, a sorted list of `{port, cidr}` /
//! `{port, from: <group id>}`; port -1 is all traffic), and `egress` in the same shape when
//! the model gives it (data stores: none at all); without it egress stays AWS's default (all
//! outbound). A group is found
//! by its name in its VPC, or, before the VPC's id is known, by name and ownership tags.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification, UserIdGroupPair};
use serde_json::{Value, json};

use super::ec2::filter;
use super::tag_map;
use crate::aws::adapter::Visible;
use crate::aws::adapter::attr_str;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, Live};
use crate::model::{Kind, Resource};

pub struct SecurityGroupAdapter;

/// The rules of a group, normalised and sorted.
fn rules_of(perms: &[IpPermission]) -> Vec<Value> {
    let mut rules = Vec::new();
    for p in perms {
        let port = p.from_port().unwrap_or(-1);
        for r in p.ip_ranges() {
            rules.push(json!({ "port": port, "cidr": r.cidr_ip() }));
        }
        for r in p.ipv6_ranges() {
            rules.push(json!({ "port": port, "cidr": r.cidr_ipv6() }));
        }
        for g in p.user_id_group_pairs() {
            rules.push(json!({ "port": port, "from": g.group_id() }));
        }
    }
    sort_rules(&mut rules);
    rules
}

fn sort_rules(rules: &mut [Value]) {
    rules.sort_by_key(|r| r.to_string());
}

fn permission(rule: &Value) -> IpPermission {
    let port = rule.get("port").and_then(Value::as_i64).unwrap_or(0) as i32;
    let mut b = if port == -1 {
        IpPermission::builder().ip_protocol("-1")
    } else {
        IpPermission::builder().ip_protocol("tcp").from_port(port).to_port(port)
    };
    if let Some(cidr) = rule.get("cidr").and_then(Value::as_str) {
        b = if cidr.contains(':') {
            b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
        } else {
            b.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        };
    }
    if let Some(group) = rule.get("from").and_then(Value::as_str) {
        b = b.user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build());
    }
    b.build()
}

/// The desired rules of `direction` (`ingress` or `egress`), sorted.
fn desired_rules(attrs: &BTreeMap<String, Value>, direction: &str) -> Vec<Value> {
    let mut rules = attrs.get(direction).and_then(Value::as_array).cloned().unwrap_or_default();
    sort_rules(&mut rules);
    rules
}

impl SecurityGroupAdapter {
    fn live_of(&self, g: &aws_sdk_ec2::types::SecurityGroup, region: &str) -> Live {
        Live {
            aws_name: g.group_id().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("description".into(), json!(g.description())),
                ("vpc".into(), json!(g.vpc_id())),
                ("ingress".into(), Value::Array(rules_of(g.ip_permissions()))),
                ("egress".into(), Value::Array(rules_of(g.ip_permissions_egress()))),
            ]),
            outputs: BTreeMap::from([("id".into(), json!(g.group_id())), ("name".into(), json!(g.group_name()))]),
            tags: tag_map(g.tags(), |t| (t.key(), t.value())),
        }
    }

    /// The group named `name` in `vpc` (an id), or with this capsule environment's tags
    /// when the VPC is capsule's and not known yet (a reference).
    async fn find(&self, cx: &Cx, name: &str, region: &str, vpc: Option<&Value>) -> Result<Option<Live>, AwsError> {
        let mut call = cx.aws.ec2(region).describe_security_groups().filters(filter("group-name", name));
        call = match vpc.and_then(Value::as_str) {
            Some(id) => call.filters(filter("vpc-id", id)),
            None => call.filters(filter("tag:capsule:name", &cx.capsule)).filters(filter("tag:capsule:env", &cx.env)),
        };
        let mut pages = call.into_paginator().send();
        // A filtered describe may answer empty pages before the match.
        while let Some(page) = pages.next().await {
            if let Some(g) = page.aws("ec2:DescribeSecurityGroups")?.security_groups().first() {
                return Ok(Some(self.live_of(g, region)));
            }
        }
        Ok(None)
    }

    /// Revokes and authorizes egress rules until `have` is `want`.
    async fn set_egress(
        &self,
        cx: &Cx,
        region: &str,
        id: &str,
        have: &[Value],
        want: &[Value],
    ) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region);
        let revoke: Vec<IpPermission> = have.iter().filter(|r| !want.contains(r)).map(permission).collect();
        let add: Vec<IpPermission> = want.iter().filter(|r| !have.contains(r)).map(permission).collect();
        if !revoke.is_empty() {
            ec2.revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(revoke))
                .send()
                .await
                .aws("ec2:RevokeSecurityGroupEgress")?;
        }
        if !add.is_empty() {
            ec2.authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .aws("ec2:AuthorizeSecurityGroupEgress")?;
        }
        Ok(())
    }

    async fn set_rules(&self, cx: &Cx, region: &str, id: &str, have: &[Value], want: &[Value]) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region);
        let revoke: Vec<IpPermission> = have.iter().filter(|r| !want.contains(r)).map(permission).collect();
        let add: Vec<IpPermission> = want.iter().filter(|r| !have.contains(r)).map(permission).collect();
        if !revoke.is_empty() {
            ec2.revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(revoke))
                .send()
                .await
                .aws("ec2:RevokeSecurityGroupIngress")?;
        }
        if !add.is_empty() {
            let done = ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .aws("ec2:AuthorizeSecurityGroupIngress");
            if let Err(e) = done
                && e.kind != ErrorKind::Conflict
            {
                return Err(e);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for SecurityGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::SecurityGroup
    }

    /// A group's description cannot change.
    fn forces_replacement(&self) -> &'static [&'static str] {
        &["description", "vpc"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        let rules = desired_rules(attrs, "ingress");
        attrs.insert("ingress".into(), Value::Array(rules));
        if attrs.contains_key("egress") {
            let rules = desired_rules(attrs, "egress");
            attrs.insert("egress".into(), Value::Array(rules));
        }
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed group of `r`'s name (and VPC, when known), as `find` would pick it.
    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        let vpc = r.attributes.get("vpc").and_then(Value::as_str);
        Ok(listed
            .iter()
            .find(|l| {
                l.outputs.get("name").and_then(Value::as_str) == Some(r.aws_name.as_str())
                    && vpc.is_none_or(|v| l.attributes.get("vpc").and_then(Value::as_str) == Some(v))
            })
            .cloned())
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, &r.aws_name, &r.region, r.attributes.get("vpc")).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let live = match self.find(cx, &r.aws_name, &r.region, attrs.get("vpc")).await? {
            Some(live) if live.is_owned_by(&cx.capsule, &cx.env) => live,
            Some(_) => {
                return Err(AwsError::new(
                    ErrorKind::Conflict,
                    "ec2:CreateSecurityGroup",
                    format!("security group {} exists and is not capsule's", r.aws_name),
                ));
            }
            None => {
                let tags = TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(
                        cx.tags_of(r).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect(),
                    ))
                    .build();
                let created = cx
                    .aws
                    .ec2(&r.region)
                    .create_security_group()
                    .group_name(&r.aws_name)
                    .description(attr_str(attrs, "description"))
                    // Without one, AWS places the group in the region's default VPC.
                    .set_vpc_id(Some(attr_str(attrs, "vpc")).filter(|v| !v.is_empty()).map(str::to_string))
                    .tag_specifications(tags)
                    .send()
                    .await
                    .aws("ec2:CreateSecurityGroup");
                match created {
                    Ok(_) => {}
                    // Made by an earlier attempt, not visible to DescribeSecurityGroups yet.
                    Err(e) if e.kind == ErrorKind::Conflict => {
                        return self.adopt(cx, r, attrs, e, "ec2:CreateSecurityGroup").await;
                    }
                    Err(e) => return Err(e),
                }
                self.find(cx, &r.aws_name, &r.region, attrs.get("vpc")).await?.visible("ec2:DescribeSecurityGroups")?
            }
        };
        self.update(cx, r, attrs, &live).await
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let have = live.attributes.get("ingress").and_then(Value::as_array).cloned().unwrap_or_default();
        self.set_rules(cx, &r.region, &live.aws_name, &have, &desired_rules(attrs, "ingress")).await?;
        if attrs.contains_key("egress") {
            let have = live.attributes.get("egress").and_then(Value::as_array).cloned().unwrap_or_default();
            self.set_egress(cx, &r.region, &live.aws_name, &have, &desired_rules(attrs, "egress")).await?;
        }
        self.find(cx, &r.aws_name, &r.region, attrs.get("vpc")).await?.visible("ec2:DescribeSecurityGroups")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        // Network interfaces of deleted tasks and load balancers let go of a group a little
        // after they are gone: retry DependencyViolation for up to two minutes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let done = cx
                .aws
                .ec2(&live.region)
                .delete_security_group()
                .group_id(&live.aws_name)
                .send()
                .await
                .aws("ec2:DeleteSecurityGroup");
            match done {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e)
                    if e.code.as_deref() == Some("DependencyViolation") && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut pages = cx
            .aws
            .ec2(&cx.region)
            .describe_security_groups()
            .filters(filter("tag:capsule:name", &cx.capsule))
            .filters(filter("tag:capsule:env", &cx.env))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(
                page.aws("ec2:DescribeSecurityGroups")?
                    .security_groups()
                    .iter()
                    .map(|g| self.live_of(g, &cx.region))
                    .filter(|l| l.is_owned_by(&cx.capsule, &cx.env)),
            );
        }
        Ok(out)
    }
}
