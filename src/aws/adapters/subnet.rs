//! Subnets of capsule's VPC, found by their ownership tags. Attributes: `vpc`, `cidr` and
//! `zone` (`az:N`: the Nth zone where Fargate runs, reported as that placeholder while it
//! is that zone), all of which force a replacement. No subnet gives public IPs on launch.
//! Outputs: `id`, `zone`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, Subnet};
use serde_json::{Value, json};

use super::ec2::{Lookup, created, not_again, owned_filters, tag_spec, tags, until_released, zone_of, zone_seen};
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct SubnetAdapter;

impl SubnetAdapter {
    async fn live_of(&self, cx: &Cx, region: &str, desired: Option<&Value>, s: &Subnet) -> Result<Live, AwsError> {
        let zone = s.availability_zone().unwrap_or_default();
        Ok(Live {
            aws_name: s.subnet_id().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("vpc".into(), json!(s.vpc_id())),
                ("cidr".into(), json!(s.cidr_block())),
                ("zone".into(), zone_seen(cx, desired, zone).await?),
            ]),
            outputs: BTreeMap::from([("id".into(), json!(s.subnet_id())), ("zone".into(), json!(zone))]),
            tags: tags(s.tags()),
        })
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let (ids, filters) = Lookup::of(cx, r).split();
        let mut pages =
            cx.aws.ec2(&r.region).describe_subnets().set_subnet_ids(ids).set_filters(filters).into_paginator().send();
        while let Some(page) = pages.next().await {
            let Some(page) = page.aws("ec2:DescribeSubnets").found()? else { return Ok(None) };
            if let Some(s) = page.subnets().first() {
                return Ok(Some(self.live_of(cx, &r.region, r.attributes.get("zone"), s).await?));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Adapter for SubnetAdapter {
    fn kind(&self) -> Kind {
        Kind::Subnet
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["vpc", "cidr", "zone"]
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed subnet with its zone in the shape of the desired attribute (`az:N`).
    async fn observe_listed(&self, cx: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        let Some(mut live) = listed.iter().find(|l| l.component() == Some(r.address.name.as_str())).cloned() else {
            return Ok(None);
        };
        let zone = live.outputs.get("zone").and_then(Value::as_str).unwrap_or_default().to_string();
        live.attributes.insert("zone".into(), zone_seen(cx, r.attributes.get("zone"), &zone).await?);
        Ok(Some(live))
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, r).await? {
            return Ok(live);
        }
        let zone = zone_of(cx, attr_str(attrs, "zone")).await?;
        not_again(cx, r, "ec2:CreateSubnet")?;
        let out = cx
            .aws
            .ec2(&r.region)
            .create_subnet()
            .vpc_id(attr_str(attrs, "vpc"))
            .cidr_block(attr_str(attrs, "cidr"))
            .availability_zone(zone)
            .tag_specifications(tag_spec(cx, r, ResourceType::Subnet))
            .send()
            .await
            .aws("ec2:CreateSubnet")?;
        created(cx, r, out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default());
        self.find(cx, r).await?.visible("ec2:DescribeSubnets")
    }

    /// Every attribute forces a replacement: nothing to change in place.
    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        _attrs: &BTreeMap<String, Value>,
        _live: &Live,
    ) -> Result<Live, AwsError> {
        self.find(cx, r).await?.visible("ec2:DescribeSubnets")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(&live.region);
        until_released(&[], || async {
            ec2.delete_subnet().subnet_id(&live.aws_name).send().await.aws("ec2:DeleteSubnet").map(|_| ())
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut pages =
            cx.aws.ec2(&cx.region).describe_subnets().set_filters(Some(owned_filters(cx))).into_paginator().send();
        let mut lives = Vec::new();
        while let Some(page) = pages.next().await {
            for s in page.aws("ec2:DescribeSubnets")?.subnets() {
                lives.push(self.live_of(cx, &cx.region, None, s).await?);
            }
        }
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
