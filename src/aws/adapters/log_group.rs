//! CloudWatch Logs log groups, with retention.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::aws::adapter::Visible;
use crate::aws::adapter::attr_i64;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct LogGroupAdapter;

impl LogGroupAdapter {
    async fn find(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let client = cx.aws.logs(region);
        // A prefix, not a name: the group may be on any page of the groups it starts.
        let mut pages = client.describe_log_groups().log_group_name_prefix(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws("logs:DescribeLogGroups")?;
            if let Some(g) = page.log_groups().iter().find(|g| g.log_group_name() == Some(name)) {
                return self.live_of(cx, g, region).await.map(Some);
            }
        }
        Ok(None)
    }

    async fn live_of(
        &self,
        cx: &Cx,
        g: &aws_sdk_cloudwatchlogs::types::LogGroup,
        region: &str,
    ) -> Result<Live, AwsError> {
        let arn = g.arn().unwrap_or_default().to_string();
        let tag_arn = arn.trim_end_matches(":*").to_string();
        let tags = cx
            .aws
            .logs(region)
            .list_tags_for_resource()
            .resource_arn(&tag_arn)
            .send()
            .await
            .aws("logs:ListTagsForResource")
            .found()?
            .and_then(|t| t.tags)
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(Live {
            aws_name: g.log_group_name().unwrap_or_default().to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([("retention_days".into(), json!(g.retention_in_days()))]),
            outputs: BTreeMap::from([("arn".into(), json!(arn)), ("name".into(), json!(g.log_group_name()))]),
            tags,
        })
    }

    async fn put_retention(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<(), AwsError> {
        let client = cx.aws.logs(&r.region);
        match attr_i64(attrs, "retention_days") {
            Some(days) => client
                .put_retention_policy()
                .log_group_name(&r.aws_name)
                .retention_in_days(days as i32)
                .send()
                .await
                .map(|_| ())
                .aws("logs:PutRetentionPolicy"),
            None => client
                .delete_retention_policy()
                .log_group_name(&r.aws_name)
                .send()
                .await
                .map(|_| ())
                .aws("logs:DeleteRetentionPolicy"),
        }
    }
}

#[async_trait]
impl Adapter for LogGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::LogGroup
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed one of `r`'s name.
    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.aws_name == r.aws_name).cloned())
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let created = cx
            .aws
            .logs(&r.region)
            .create_log_group()
            .log_group_name(&r.aws_name)
            .set_tags(Some(cx.tags_of(r).into_iter().collect()))
            .send()
            .await
            .aws("logs:CreateLogGroup");
        if let Err(e) = created {
            let live = match e.kind {
                ErrorKind::Conflict => self.observe(cx, r).await?,
                _ => None,
            };
            if !live.is_some_and(|l| l.is_owned_by(&cx.capsule, &cx.env)) {
                return Err(e);
            }
        }
        self.put_retention(cx, r, attrs).await?;
        self.observe(cx, r).await?.visible("logs:DescribeLogGroups")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        _live: &Live,
    ) -> Result<Live, AwsError> {
        self.put_retention(cx, r, attrs).await?;
        self.observe(cx, r).await?.visible("logs:DescribeLogGroups")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .logs(&live.region)
            .delete_log_group()
            .log_group_name(&live.aws_name)
            .send()
            .await
            .aws("logs:DeleteLogGroup")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = format!("/capsule/{}/{}/", cx.capsule, cx.env);
        let client = cx.aws.logs(&cx.region);
        let mut pages = client.describe_log_groups().log_group_name_prefix(&prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for g in page.aws("logs:DescribeLogGroups")?.log_groups() {
                let live = match cx.observed(Kind::LogGroup, &cx.region, g.log_group_name().unwrap_or_default()) {
                    Some(live) => live,
                    None => self.live_of(cx, g, &cx.region).await?,
                };
                if live.is_owned_by(&cx.capsule, &cx.env) {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}
