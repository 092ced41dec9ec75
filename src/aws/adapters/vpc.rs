//! capsule's own VPC of a capsule environment, found by its ownership tags. Attributes:
//! `cidr` (cannot change: a new range would move every subnet, database and cache, so the
//! plan refuses it), `dns_support`, `dns_hostnames` (interface endpoints need both).
//! Outputs: `id`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use serde_json::{Value, json};

use super::ec2::{Lookup, created, not_again, owned_filters, tag_spec, tags, until_released};
use crate::aws::adapter::{Seen, Visible, attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};
use crate::plan::{Action, Change};

pub struct VpcAdapter;

impl VpcAdapter {
    async fn live_of(&self, cx: &Cx, region: &str, v: &aws_sdk_ec2::types::Vpc) -> Result<Live, AwsError> {
        let id = v.vpc_id().unwrap_or_default();
        let ec2 = cx.aws.ec2(region);
        let mut flags = BTreeMap::new();
        for (key, name) in [
            ("dns_support", VpcAttributeName::EnableDnsSupport),
            ("dns_hostnames", VpcAttributeName::EnableDnsHostnames),
        ] {
            let out =
                ec2.describe_vpc_attribute().vpc_id(id).attribute(name).send().await.aws("ec2:DescribeVpcAttribute")?;
            let value = out.enable_dns_support().or(out.enable_dns_hostnames()).and_then(|b| b.value());
            flags.insert(key.to_string(), json!(value.unwrap_or(false)));
        }
        let mut attributes = BTreeMap::from([("cidr".to_string(), json!(v.cidr_block()))]);
        attributes.extend(flags);
        Ok(Live {
            aws_name: id.to_string(),
            region: region.to_string(),
            attributes,
            outputs: BTreeMap::from([("id".into(), json!(id))]),
            tags: tags(v.tags()),
        })
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let (ids, filters) = Lookup::of(cx, r).split();
        let mut pages =
            cx.aws.ec2(&r.region).describe_vpcs().set_vpc_ids(ids).set_filters(filters).into_paginator().send();
        // A filtered describe may answer empty pages before the match.
        while let Some(page) = pages.next().await {
            let Some(page) = page.aws("ec2:DescribeVpcs").found()? else { return Ok(None) };
            if let Some(v) = page.vpcs().first() {
                return Ok(Some(self.live_of(cx, &r.region, v).await?));
            }
        }
        Ok(None)
    }

    async fn set_flags(
        &self,
        cx: &Cx,
        region: &str,
        id: &str,
        attrs: &BTreeMap<String, Value>,
        live: Option<&Live>,
    ) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region);
        // One attribute per call (ModifyVpcAttribute); DNS support first, hostnames need it.
        for key in ["dns_support", "dns_hostnames"] {
            let want = attr_bool(attrs, key);
            if live.is_some_and(|l| l.attributes.get(key) == Some(&json!(want))) {
                continue;
            }
            let value = AttributeBooleanValue::builder().value(want).build();
            let call = ec2.modify_vpc_attribute().vpc_id(id);
            let call =
                if key == "dns_support" { call.enable_dns_support(value) } else { call.enable_dns_hostnames(value) };
            call.send().await.aws("ec2:ModifyVpcAttribute")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for VpcAdapter {
    fn kind(&self) -> Kind {
        Kind::Vpc
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["cidr"]
    }

    fn assess(&self, change: &mut Change, seen: &Seen<'_>) -> Option<String> {
        (change.action == Action::Replace && seen.live.is_some()).then(|| {
            "the VPC's cidr cannot change: its subnets, load balancer, tasks, databases and caches would all have to move; keep the old `cidr`, or destroy the environment and apply it anew".to_string()
        })
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, r).await? {
            return self.update(cx, r, attrs, &live).await;
        }
        not_again(cx, r, "ec2:CreateVpc")?;
        let out = cx
            .aws
            .ec2(&r.region)
            .create_vpc()
            .cidr_block(attr_str(attrs, "cidr"))
            .tag_specifications(tag_spec(cx, r, ResourceType::Vpc))
            .send()
            .await
            .aws("ec2:CreateVpc")?;
        let id = out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string();
        created(cx, r, &id);
        self.set_flags(cx, &r.region, &id, attrs, None).await?;
        self.find(cx, r).await?.visible("ec2:DescribeVpcs")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        self.set_flags(cx, &r.region, &live.aws_name, attrs, Some(live)).await?;
        self.find(cx, r).await?.visible("ec2:DescribeVpcs")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(&live.region);
        until_released(&[], || async {
            ec2.delete_vpc().vpc_id(&live.aws_name).send().await.aws("ec2:DeleteVpc").map(|_| ())
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut pages =
            cx.aws.ec2(&cx.region).describe_vpcs().set_filters(Some(owned_filters(cx))).into_paginator().send();
        let mut lives = Vec::new();
        while let Some(page) = pages.next().await {
            for v in page.aws("ec2:DescribeVpcs")?.vpcs() {
                lives.push(self.live_of(cx, &cx.region, v).await?);
            }
        }
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
