//! Elastic IP addresses (a NAT gateway's public IPv4), found by their ownership tags. No
//! attributes to change. Outputs: `id` (the allocation id), `public_ip`. Releasing waits
//! while the address is still associated with a NAT gateway on its way out.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};
use serde_json::{Value, json};

use super::ec2::{Lookup, created, not_again, owned_filters, tag_spec, tags, until_released};
use crate::aws::adapter::Visible;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct ElasticIpAdapter;

fn live_of(region: &str, a: &Address) -> Live {
    Live {
        aws_name: a.allocation_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::new(),
        outputs: BTreeMap::from([("id".into(), json!(a.allocation_id())), ("public_ip".into(), json!(a.public_ip()))]),
        tags: tags(a.tags()),
    }
}

impl ElasticIpAdapter {
    /// DescribeAddresses answers every match at once (it has no pages).
    async fn described(&self, cx: &Cx, region: &str, lookup: Lookup) -> Result<Vec<Live>, AwsError> {
        let (ids, filters) = lookup.split();
        let out = cx
            .aws
            .ec2(region)
            .describe_addresses()
            .set_allocation_ids(ids)
            .set_filters(filters)
            .send()
            .await
            .aws("ec2:DescribeAddresses")
            .found()?;
        let Some(out) = out else { return Ok(vec![]) };
        Ok(out.addresses().iter().map(|a| live_of(region, a)).collect())
    }
}

#[async_trait]
impl Adapter for ElasticIpAdapter {
    fn kind(&self) -> Kind {
        Kind::ElasticIp
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        Ok(self.described(cx, &r.region, Lookup::of(cx, r)).await?.into_iter().next())
    }

    async fn create(&self, cx: &Cx, r: &Resource, _attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.observe(cx, r).await? {
            return Ok(live);
        }
        not_again(cx, r, "ec2:AllocateAddress")?;
        let out = cx
            .aws
            .ec2(&r.region)
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(cx, r, ResourceType::ElasticIp))
            .send()
            .await
            .aws("ec2:AllocateAddress")?;
        created(cx, r, out.allocation_id().unwrap_or_default());
        self.observe(cx, r).await?.visible("ec2:DescribeAddresses")
    }

    async fn update(
        &self,
        _cx: &Cx,
        _r: &Resource,
        _attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        Ok(live.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(&live.region);
        until_released(&["InvalidIPAddress.InUse", "AuthFailure"], || async {
            ec2.release_address().allocation_id(&live.aws_name).send().await.aws("ec2:ReleaseAddress").map(|_| ())
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let lives = self.described(cx, &cx.region, Lookup::Tags(owned_filters(cx))).await?;
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
