//! RDS DB subnet groups: where a capsule's databases live.
//!
//! Attributes: `description`, `subnets` (sorted ids: the isolated subnets of the capsule's
//! VPC, which have no route out). Both change in place (ModifyDBSubnetGroup). Outputs: `name`, `arn`.
//! Ownership tags are RDS tags (ListTagsForResource / AddTagsToResource).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbSubnetGroup, Tag};
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct DbSubnetGroupAdapter;

fn rds_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn live_subnets(g: &DbSubnetGroup) -> Vec<String> {
    g.subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_string)).collect()
}

impl DbSubnetGroupAdapter {
    async fn describe(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<DbSubnetGroup>, AwsError> {
        let out = cx
            .aws
            .rds(region)
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .aws("rds:DescribeDBSubnetGroups")
            .found()?;
        Ok(out.and_then(|o| o.db_subnet_groups().first().cloned()))
    }

    async fn tags(&self, cx: &Cx, arn: &str, region: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = cx
            .aws
            .rds(region)
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .aws("rds:ListTagsForResource")
            .found()?;
        Ok(out.map(|o| tag_map(o.tag_list(), |t| (t.key(), t.value()))).unwrap_or_default())
    }

    async fn live_of(&self, cx: &Cx, g: &DbSubnetGroup, region: &str) -> Result<Live, AwsError> {
        let arn = g.db_subnet_group_arn().unwrap_or_default().to_string();
        let tags = self.tags(cx, &arn, region).await?;
        Ok(Live {
            aws_name: g.db_subnet_group_name().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("description".into(), json!(g.db_subnet_group_description().unwrap_or_default())),
                ("subnets".into(), json!(super::ec2::sorted_owned(live_subnets(g)))),
            ]),
            outputs: BTreeMap::from([
                ("name".into(), json!(g.db_subnet_group_name().unwrap_or_default())),
                ("arn".into(), json!(arn)),
            ]),
            tags,
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
impl Adapter for DbSubnetGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::DbSubnetGroup
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        let subnets = super::lb::sorted_strings(attrs.get("subnets"));
        attrs.insert("subnets".into(), json!(subnets));
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed one of `r`'s name.
    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.aws_name == r.aws_name).cloned())
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let created = cx
            .aws
            .rds(&r.region)
            .create_db_subnet_group()
            .db_subnet_group_name(&r.aws_name)
            .db_subnet_group_description(attr_str(attrs, "description"))
            .set_subnet_ids(Some(super::lb::sorted_strings(attrs.get("subnets"))))
            .set_tags(Some(rds_tags(cx.tags_of(r))))
            .send()
            .await
            .aws("rds:CreateDBSubnetGroup");
        match created {
            Ok(_) => self.find(cx, r).await?.visible("rds:DescribeDBSubnetGroups"),
            Err(e) if e.kind == ErrorKind::Conflict => self.adopt(cx, r, attrs, e, "rds:CreateDBSubnetGroup").await,
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
        let client = cx.aws.rds(&r.region);
        client
            .modify_db_subnet_group()
            .db_subnet_group_name(&r.aws_name)
            .db_subnet_group_description(attr_str(attrs, "description"))
            .set_subnet_ids(Some(super::lb::sorted_strings(attrs.get("subnets"))))
            .send()
            .await
            .aws("rds:ModifyDBSubnetGroup")?;
        if let Some(arn) = live.outputs.get("arn").and_then(Value::as_str) {
            client
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(rds_tags(cx.tags_of(r))))
                .send()
                .await
                .aws("rds:AddTagsToResource")?;
        }
        self.find(cx, r).await?.visible("rds:DescribeDBSubnetGroups")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .rds(&live.region)
            .delete_db_subnet_group()
            .db_subnet_group_name(&live.aws_name)
            .send()
            .await
            .aws("rds:DeleteDBSubnetGroup")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.rds(&cx.region);
        let mut groups = Vec::new();
        let mut pages = client.describe_db_subnet_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            groups.extend(page.aws("rds:DescribeDBSubnetGroups")?.db_subnet_groups().iter().cloned());
        }
        let mut out = Vec::new();
        for g in &groups {
            // Names start with `<capsule>-<env>-`: skip other groups without reading tags.
            let name = g.db_subnet_group_name().unwrap_or_default();
            if !name.starts_with(&format!("{}-{}", cx.capsule, cx.env)) {
                continue;
            }
            let live = self.live_of(cx, g, &cx.region).await?;
            if live.is_owned_by(&cx.capsule, &cx.env) {
                out.push(live);
            }
        }
        Ok(out)
    }
}
