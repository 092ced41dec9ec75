//! ECR repositories for built images: immutable tags (tags are content hashes), scan on
//! push, and the lifecycle policy the model gives (it only ever expires untagged images).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::adapter::Visible;
use crate::aws::adapter::{attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct EcrRepositoryAdapter;

impl EcrRepositoryAdapter {
    async fn read(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let ecr = cx.aws.ecr(region);
        let Some(out) =
            ecr.describe_repositories().repository_names(name).send().await.aws("ecr:DescribeRepositories").found()?
        else {
            return Ok(None);
        };
        let Some(repo) = out.repositories().first() else {
            return Ok(None);
        };
        self.live_of(cx, repo, region).await.map(Some)
    }

    async fn live_of(&self, cx: &Cx, repo: &aws_sdk_ecr::types::Repository, region: &str) -> Result<Live, AwsError> {
        let ecr = cx.aws.ecr(region);
        let name = repo.repository_name().unwrap_or_default();
        let arn = repo.repository_arn().unwrap_or_default();
        let tags = ecr.list_tags_for_resource().resource_arn(arn).send().await.aws("ecr:ListTagsForResource")?;
        let lifecycle = ecr
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
            .aws("ecr:GetLifecyclePolicy")
            .found()?
            .and_then(|p| p.lifecycle_policy_text)
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .unwrap_or(Value::Null);
        Ok(Live {
            aws_name: name.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                (
                    "image_tag_mutability".into(),
                    json!(repo.image_tag_mutability().map(|m| m.as_str()).unwrap_or("MUTABLE")),
                ),
                (
                    "scan_on_push".into(),
                    json!(repo.image_scanning_configuration().map(|c| c.scan_on_push()).unwrap_or(false)),
                ),
                (
                    "encryption".into(),
                    json!(repo.encryption_configuration().map(|e| e.encryption_type().as_str()).unwrap_or("AES256")),
                ),
                ("lifecycle_policy".into(), lifecycle),
            ]),
            outputs: BTreeMap::from([
                ("arn".into(), json!(arn)),
                ("uri".into(), json!(repo.repository_uri())),
                ("name".into(), json!(name)),
            ]),
            tags: tag_map(tags.tags(), |t| (Some(t.key()), Some(t.value()))),
        })
    }
}

#[async_trait]
impl Adapter for EcrRepositoryAdapter {
    fn kind(&self) -> Kind {
        Kind::EcrRepository
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["encryption"]
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.read(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let created = cx
            .aws
            .ecr(&r.region)
            .create_repository()
            .repository_name(&r.aws_name)
            .image_tag_mutability(ImageTagMutability::from(attr_str(attrs, "image_tag_mutability")))
            .image_scanning_configuration(
                ImageScanningConfiguration::builder().scan_on_push(attr_bool(attrs, "scan_on_push")).build(),
            )
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .encryption_type(EncryptionType::from(attr_str(attrs, "encryption")))
                    .build()
                    .map_err(|e| AwsError::new(ErrorKind::Invalid, "ecr:CreateRepository", e.to_string()))?,
            )
            .set_tags(Some(
                cx.tags_of(r).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect(),
            ))
            .send()
            .await
            .aws("ecr:CreateRepository");
        if let Err(e) = created
            && e.kind != ErrorKind::Conflict
        {
            return Err(e);
        }
        let live = self.read(cx, &r.aws_name, &r.region).await?.visible("ecr:DescribeRepositories")?;
        let live = live.ensure_owned(cx, "ecr:CreateRepository")?;
        self.update(cx, r, attrs, &live).await
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let ecr = cx.aws.ecr(&r.region);
        let name = &r.aws_name;
        if live.attributes.get("image_tag_mutability") != attrs.get("image_tag_mutability") {
            ecr.put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(attr_str(attrs, "image_tag_mutability")))
                .send()
                .await
                .aws("ecr:PutImageTagMutability")?;
        }
        if live.attributes.get("scan_on_push") != attrs.get("scan_on_push") {
            ecr.put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder().scan_on_push(attr_bool(attrs, "scan_on_push")).build(),
                )
                .send()
                .await
                .aws("ecr:PutImageScanningConfiguration")?;
        }
        if let Some(policy) = attrs.get("lifecycle_policy")
            && live.attributes.get("lifecycle_policy") != Some(policy)
        {
            ecr.put_lifecycle_policy()
                .repository_name(name)
                .lifecycle_policy_text(policy.to_string())
                .send()
                .await
                .aws("ecr:PutLifecyclePolicy")?;
        }
        self.read(cx, name, &r.region).await?.visible("ecr:DescribeRepositories")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        // Only reached with --allow-destroy (repositories are stateful): images go too.
        cx.aws
            .ecr(&live.region)
            .delete_repository()
            .repository_name(&live.aws_name)
            .force(true)
            .send()
            .await
            .aws("ecr:DeleteRepository")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = format!("{}-{}-", cx.capsule, cx.env);
        let ecr = cx.aws.ecr(&cx.region);
        let mut pages = ecr.describe_repositories().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for repo in page.aws("ecr:DescribeRepositories")?.repositories() {
                if !repo.repository_name().unwrap_or_default().starts_with(&prefix) {
                    continue;
                }
                let live =
                    match cx.observed(Kind::EcrRepository, &cx.region, repo.repository_name().unwrap_or_default()) {
                        Some(live) => live,
                        None => self.live_of(cx, repo, &cx.region).await?,
                    };
                if live.is_owned_by(&cx.capsule, &cx.env) {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}
