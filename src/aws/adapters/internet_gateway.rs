//! The internet gateway of capsule's VPC, found by its ownership tags. Attribute: `vpc`
//! (the VPC it is attached to). Outputs: `id`. Deleting detaches it first, which AWS
//! refuses while public addresses (NAT gateways, load balancers) remain in the VPC.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway, ResourceType};
use serde_json::{Value, json};

use super::ec2::{Lookup, created, not_again, owned_filters, tag_spec, tags, until_released};
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct InternetGatewayAdapter;

fn live_of(region: &str, g: &InternetGateway) -> Live {
    let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
    Live {
        aws_name: g.internet_gateway_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([("vpc".into(), json!(vpc))]),
        outputs: BTreeMap::from([("id".into(), json!(g.internet_gateway_id()))]),
        tags: tags(g.tags()),
    }
}

impl InternetGatewayAdapter {
    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let (ids, filters) = Lookup::of(cx, r).split();
        let mut pages = cx
            .aws
            .ec2(&r.region)
            .describe_internet_gateways()
            .set_internet_gateway_ids(ids)
            .set_filters(filters)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let Some(page) = page.aws("ec2:DescribeInternetGateways").found()? else { return Ok(None) };
            if let Some(g) = page.internet_gateways().first() {
                return Ok(Some(live_of(&r.region, g)));
            }
        }
        Ok(None)
    }

    async fn detach(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let Some(vpc) = live.attributes.get("vpc").and_then(Value::as_str) else { return Ok(()) };
        let ec2 = cx.aws.ec2(&live.region);
        until_released(&[], || async {
            ec2.detach_internet_gateway()
                .internet_gateway_id(&live.aws_name)
                .vpc_id(vpc)
                .send()
                .await
                .aws("ec2:DetachInternetGateway")
                .map(|_| ())
        })
        .await
    }
}

#[async_trait]
impl Adapter for InternetGatewayAdapter {
    fn kind(&self) -> Kind {
        Kind::InternetGateway
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let live = match self.find(cx, r).await? {
            Some(live) => live,
            None => {
                not_again(cx, r, "ec2:CreateInternetGateway")?;
                let out = cx
                    .aws
                    .ec2(&r.region)
                    .create_internet_gateway()
                    .tag_specifications(tag_spec(cx, r, ResourceType::InternetGateway))
                    .send()
                    .await
                    .aws("ec2:CreateInternetGateway")?;
                created(cx, r, out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default());
                self.find(cx, r).await?.visible("ec2:DescribeInternetGateways")?
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
        let want = attr_str(attrs, "vpc");
        if live.attributes.get("vpc").and_then(Value::as_str) == Some(want) {
            return Ok(live.clone());
        }
        self.detach(cx, live).await?;
        cx.aws
            .ec2(&r.region)
            .attach_internet_gateway()
            .internet_gateway_id(&live.aws_name)
            .vpc_id(want)
            .send()
            .await
            .aws("ec2:AttachInternetGateway")?;
        self.find(cx, r).await?.visible("ec2:DescribeInternetGateways")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        self.detach(cx, live).await?;
        let ec2 = cx.aws.ec2(&live.region);
        until_released(&[], || async {
            ec2.delete_internet_gateway()
                .internet_gateway_id(&live.aws_name)
                .send()
                .await
                .aws("ec2:DeleteInternetGateway")
                .map(|_| ())
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut pages = cx
            .aws
            .ec2(&cx.region)
            .describe_internet_gateways()
            .set_filters(Some(owned_filters(cx)))
            .into_paginator()
            .send();
        let mut lives = Vec::new();
        while let Some(page) = pages.next().await {
            lives.extend(
                page.aws("ec2:DescribeInternetGateways")?.internet_gateways().iter().map(|g| live_of(&cx.region, g)),
            );
        }
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
