//! ElastiCache subnet groups: where a capsule's caches live.
//!
//! Attributes: `description`, `subnets` (sorted ids: the isolated subnets of the capsule's
//! VPC). Both change in place
//! (ModifyCacheSubnetGroup). Outputs: `name`, `arn`. Ownership tags are ElastiCache tags
//! on the group's ARN. ElastiCache refuses to delete a group a cache still uses; deletes
//! run after the caches' (reverse kind order).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticache::types::CacheSubnetGroup;
use serde_json::{Value, json};

use super::elasticache::{add_tags, tags};
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct CacheSubnetGroupAdapter;

fn ec_tags(tags: BTreeMap<String, String>) -> Vec<aws_sdk_elasticache::types::Tag> {
    tags.into_iter().map(|(k, v)| aws_sdk_elasticache::types::Tag::builder().key(k).value(v).build()).collect()
}

impl CacheSubnetGroupAdapter {
    async fn describe(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<CacheSubnetGroup>, AwsError> {
        let out = cx
            .aws
            .elasticache(region)
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
            .aws("elasticache:DescribeCacheSubnetGroups")
            .found()?;
        Ok(out.and_then(|o| o.cache_subnet_groups().first().cloned()))
    }

    async fn live_of(&self, cx: &Cx, g: &CacheSubnetGroup, region: &str) -> Result<Live, AwsError> {
        let arn = g.arn().unwrap_or_default().to_string();
        let subnets = g.subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_string)).collect();
        let name = g.cache_subnet_group_name().unwrap_or_default();
        Ok(Live {
            aws_name: name.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("description".into(), json!(g.cache_subnet_group_description().unwrap_or_default())),
                ("subnets".into(), json!(super::ec2::sorted_owned(subnets))),
            ]),
            outputs: BTreeMap::from([("name".into(), json!(name)), ("arn".into(), json!(arn))]),
            tags: tags(cx, region, &arn).await?,
        })
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        match self.describe(cx, &r.aws_name, &r.region).await? {
            Some(g) => self.live_of(cx, &g, &r.region).await.map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Adapter for CacheSubnetGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::CacheSubnetGroup
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        let subnets = super::lb::sorted_strings(attrs.get("subnets"));
        attrs.insert("subnets".into(), json!(subnets));
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let created = cx
            .aws
            .elasticache(&r.region)
            .create_cache_subnet_group()
            .cache_subnet_group_name(&r.aws_name)
            .cache_subnet_group_description(attr_str(attrs, "description"))
            .set_subnet_ids(Some(super::lb::sorted_strings(attrs.get("subnets"))))
            .set_tags(Some(ec_tags(cx.tags_of(r))))
            .send()
            .await
            .aws("elasticache:CreateCacheSubnetGroup");
        match created {
            Ok(_) => self.find(cx, r).await?.visible("elasticache:DescribeCacheSubnetGroups"),
            Err(e) if e.kind == ErrorKind::Conflict => {
                self.adopt(cx, r, attrs, e, "elasticache:CreateCacheSubnetGroup").await
            }
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        cx.aws
            .elasticache(&r.region)
            .modify_cache_subnet_group()
            .cache_subnet_group_name(&r.aws_name)
            .cache_subnet_group_description(attr_str(attrs, "description"))
            .set_subnet_ids(Some(super::lb::sorted_strings(attrs.get("subnets"))))
            .send()
            .await
            .aws("elasticache:ModifyCacheSubnetGroup")?;
        if let Some(arn) = live.outputs.get("arn").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            add_tags(cx, &r.region, arn, ec_tags(cx.tags_of(r))).await?;
        }
        self.find(cx, r).await?.visible("elasticache:DescribeCacheSubnetGroups")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .elasticache(&live.region)
            .delete_cache_subnet_group()
            .cache_subnet_group_name(&live.aws_name)
            .send()
            .await
            .aws("elasticache:DeleteCacheSubnetGroup")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.elasticache(&cx.region);
        let mut groups = Vec::new();
        let mut pages = client.describe_cache_subnet_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            groups.extend(page.aws("elasticache:DescribeCacheSubnetGroups")?.cache_subnet_groups().iter().cloned());
        }
        let mut out = Vec::new();
        let prefix = format!("{}-{}", cx.capsule, cx.env);
        for g in groups.iter().filter(|g| g.cache_subnet_group_name().unwrap_or_default().starts_with(&prefix)) {
            let live = self.live_of(cx, g, &cx.region).await?;
            if live.is_owned_by(&cx.capsule, &cx.env) {
                out.push(live);
            }
        }
        Ok(out)
    }
}
