//! ECS clusters: one per capsule environment, Container Insights on, Fargate capacity
//! providers.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName, Tag};
use serde_json::{Value, json};

use crate::aws::adapter::{Visible, attr_bool};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct EcsClusterAdapter;

pub(super) fn ecs_tags(cx: &Cx, r: &Resource) -> Vec<Tag> {
    cx.tags_of(r).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub(super) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect()
}

fn live_of(c: &aws_sdk_ecs::types::Cluster, region: &str) -> Live {
    let insights = c
        .settings()
        .iter()
        .any(|s| s.name() == Some(&ClusterSettingName::ContainerInsights) && s.value() == Some("enabled"));
    let mut providers: Vec<&str> = c.capacity_providers().iter().map(String::as_str).collect();
    providers.sort();
    Live {
        aws_name: c.cluster_name().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("container_insights".into(), json!(insights)),
            ("capacity_providers".into(), json!(providers)),
        ]),
        outputs: BTreeMap::from([("arn".into(), json!(c.cluster_arn())), ("name".into(), json!(c.cluster_name()))]),
        tags: tag_map(c.tags()),
    }
}

impl EcsClusterAdapter {
    async fn read(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let out = cx
            .aws
            .ecs(region)
            .describe_clusters()
            .clusters(name)
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .aws("ecs:DescribeClusters")
            .found()?;
        Ok(out.and_then(|o| {
            o.clusters()
                .iter()
                .find(|c| c.status() == Some("ACTIVE") && c.cluster_name() == Some(name))
                .map(|c| live_of(c, region))
        }))
    }

    async fn converge(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let ecs = cx.aws.ecs(&r.region);
        let setting = ClusterSetting::builder()
            .name(ClusterSettingName::ContainerInsights)
            .value(if attr_bool(attrs, "container_insights") { "enabled" } else { "disabled" })
            .build();
        ecs.update_cluster().cluster(&r.aws_name).settings(setting).send().await.aws("ecs:UpdateCluster")?;
        let providers: Vec<String> = attrs
            .get("capacity_providers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        ecs.put_cluster_capacity_providers()
            .cluster(&r.aws_name)
            .set_capacity_providers(Some(providers))
            .set_default_capacity_provider_strategy(Some(vec![]))
            .send()
            .await
            .aws("ecs:PutClusterCapacityProviders")?;
        self.read(cx, &r.aws_name, &r.region).await?.visible("ecs:DescribeClusters")
    }
}

#[async_trait]
impl Adapter for EcsClusterAdapter {
    fn kind(&self) -> Kind {
        Kind::EcsCluster
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(Value::Array(p)) = attrs.get_mut("capacity_providers") {
            p.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.read(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        // CreateCluster on an existing name returns that cluster: refuse a look-alike.
        if let Some(existing) = self.read(cx, &r.aws_name, &r.region).await? {
            existing.ensure_owned(cx, "ecs:CreateCluster")?;
        } else {
            ensure_service_linked_role(cx).await?;
            cx.aws
                .ecs(&r.region)
                .create_cluster()
                .cluster_name(&r.aws_name)
                .set_tags(Some(ecs_tags(cx, r)))
                .send()
                .await
                .aws("ecs:CreateCluster")?;
        }
        self.converge(cx, r, attrs).await
    }

    async fn update(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>, _: &Live) -> Result<Live, AwsError> {
        self.converge(cx, r, attrs).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .ecs(&live.region)
            .delete_cluster()
            .cluster(&live.aws_name)
            .send()
            .await
            .aws("ecs:DeleteCluster")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let ecs = cx.aws.ecs(&cx.region);
        let mut arns: Vec<String> = Vec::new();
        let mut pages = ecs.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            arns.extend(page.aws("ecs:ListClusters")?.cluster_arns().iter().cloned());
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            let described = ecs
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(ClusterField::Tags)
                .include(ClusterField::Settings)
                .send()
                .await
                .aws("ecs:DescribeClusters")?;
            out.extend(
                described
                    .clusters()
                    .iter()
                    .filter(|c| c.status() == Some("ACTIVE"))
                    .map(|c| live_of(c, &cx.region))
                    .filter(|l| l.is_owned_by(&cx.capsule, &cx.env)),
            );
        }
        Ok(out)
    }
}

/// ECS's service-linked role `AWSServiceRoleForECS`, which a fresh account does not have:
/// capacity-provider calls fail ("Unable to assume the service linked role") until it
/// exists. Created before the first cluster; an existing one is fine. The deploy role needs
/// `iam:CreateServiceLinkedRole` for `ecs.amazonaws.com`
/// (docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html).
async fn ensure_service_linked_role(cx: &Cx) -> Result<(), AwsError> {
    const OP: &str = "iam:CreateServiceLinkedRole";
    let created =
        cx.aws.iam(&cx.region).create_service_linked_role().aws_service_name("ecs.amazonaws.com").send().await;
    match created.aws(OP) {
        Ok(_) => Ok(()),
        // AWS: InvalidInput "Service role name AWSServiceRoleForECS has been taken in this
        // account"; an emulator may say EntityAlreadyExists.
        Err(e) if e.kind == ErrorKind::Conflict || e.message.contains("has been taken") => Ok(()),
        Err(e) => Err(e),
    }
}
