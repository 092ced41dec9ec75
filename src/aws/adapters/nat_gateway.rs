//! NAT gateways of capsule's VPC, found by their ownership tags (pending or available ones;
//! deleted ones linger in listings for an hour). Attributes: `subnet`, `allocation` (its
//! Elastic IP), both forcing a replacement. Outputs: `id`. Create waits until the gateway is
//! available (routes to a pending one drop traffic) and delete until it is gone (its address
//! and subnet cannot go before).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{NatGateway, NatGatewayState, ResourceType};
use serde_json::{Value, json};

use super::ec2::{client_token, created, filter, filters_for, not_again, owned_filters, poll_interval, tag_spec, tags};
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, Live};
use crate::model::{Kind, Resource};

pub struct NatGatewayAdapter;

/// How long a NAT gateway may take to become available or to go (AWS: a few minutes).
const WAIT: Duration = Duration::from_secs(900);

fn live_of(region: &str, g: &NatGateway) -> Live {
    let allocation = g.nat_gateway_addresses().iter().find_map(|a| a.allocation_id());
    Live {
        aws_name: g.nat_gateway_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([("subnet".into(), json!(g.subnet_id())), ("allocation".into(), json!(allocation))]),
        outputs: BTreeMap::from([
            ("id".into(), json!(g.nat_gateway_id())),
            ("state".into(), json!(g.state().map(|s| s.as_str()))),
        ]),
        tags: tags(g.tags()),
    }
}

impl NatGatewayAdapter {
    /// Gateways matching `filters` that are not on their way out.
    async fn described(
        &self,
        cx: &Cx,
        region: &str,
        mut filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Live>, AwsError> {
        filters.push(aws_sdk_ec2::types::Filter::builder().name("state").values("pending").values("available").build());
        let mut pages = cx.aws.ec2(region).describe_nat_gateways().set_filter(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.aws("ec2:DescribeNatGateways")?.nat_gateways().iter().map(|g| live_of(region, g)));
        }
        Ok(out)
    }

    /// The state of gateway `id` until `done` says it is reached; a failed gateway is an
    /// error with AWS's reason.
    async fn wait(
        &self,
        cx: &Cx,
        region: &str,
        id: &str,
        done: impl Fn(&NatGatewayState) -> bool,
    ) -> Result<(), AwsError> {
        const OP: &str = "ec2:DescribeNatGateways";
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let out =
                cx.aws.ec2(region).describe_nat_gateways().filter(filter("nat-gateway-id", id)).send().await.aws(OP)?;
            let Some(g) = out.nat_gateways().first() else { return Ok(()) };
            match g.state() {
                Some(s) if done(s) => return Ok(()),
                Some(NatGatewayState::Failed) => {
                    let why = g.failure_message().unwrap_or("no reason given");
                    return Err(AwsError::new(ErrorKind::Other, OP, format!("NAT gateway {id} failed: {why}")));
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(AwsError::new(
                        ErrorKind::Transient,
                        OP,
                        format!("NAT gateway {id} is still {:?}", g.state()),
                    ));
                }
                _ => tokio::time::sleep(poll_interval()).await,
            }
        }
    }
}

#[async_trait]
impl Adapter for NatGatewayAdapter {
    fn kind(&self) -> Kind {
        Kind::NatGateway
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["subnet", "allocation"]
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        Ok(self.described(cx, &r.region, filters_for(cx, r, "nat-gateway-id")).await?.into_iter().next())
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let id = match self.observe(cx, r).await? {
            Some(live) => live.aws_name,
            None => {
                not_again(cx, r, "ec2:CreateNatGateway")?;
                cx.aws
                    .ec2(&r.region)
                    .create_nat_gateway()
                    .client_token(client_token(cx, r))
                    .subnet_id(attr_str(attrs, "subnet"))
                    .allocation_id(attr_str(attrs, "allocation"))
                    .tag_specifications(tag_spec(cx, r, ResourceType::Natgateway))
                    .send()
                    .await
                    .aws("ec2:CreateNatGateway")?
                    .nat_gateway()
                    .and_then(|g| g.nat_gateway_id())
                    .unwrap_or_default()
                    .to_string()
            }
        };
        created(cx, r, &id);
        self.wait(cx, &r.region, &id, |s| *s == NatGatewayState::Available).await?;
        self.observe(cx, r).await?.visible("ec2:DescribeNatGateways")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        _attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        self.wait(cx, &r.region, &live.aws_name, |s| *s == NatGatewayState::Available).await?;
        self.observe(cx, r).await?.visible("ec2:DescribeNatGateways")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let done = cx.aws.ec2(&live.region).delete_nat_gateway().nat_gateway_id(&live.aws_name).send().await;
        match done.aws("ec2:DeleteNatGateway") {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait(cx, &live.region, &live.aws_name, |s| *s == NatGatewayState::Deleted).await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let lives = self.described(cx, &cx.region, owned_filters(cx)).await?;
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
