//! S3 buckets: private (public access blocked, bucket owner enforced), encrypted, tagged at
//! creation. Deleting one empties it first and is only reached with `--allow-destroy`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::adapter::Visible;
use crate::aws::adapter::{attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct S3BucketAdapter;

fn invalid(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(ErrorKind::Invalid, op, e.to_string())
}

fn tags(cx: &Cx, r: &Resource) -> Vec<Tag> {
    cx.tags_of(r).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

impl S3BucketAdapter {
    async fn read(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let s3 = cx.aws.s3(region);
        match s3.head_bucket().bucket(name).send().await.aws("s3:HeadBucket") {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) if e.kind == ErrorKind::AccessDenied => {
                return Err(AwsError::new(
                    ErrorKind::Conflict,
                    "s3:HeadBucket",
                    format!("bucket name {name} belongs to another AWS account"),
                ));
            }
            Err(e) => return Err(e),
        }
        let tags = s3.get_bucket_tagging().bucket(name).send().await.aws("s3:GetBucketTagging").found()?;
        let tags = tags.map(|t| tag_map(t.tag_set(), |t| (Some(t.key()), Some(t.value())))).unwrap_or_default();
        let encryption =
            s3.get_bucket_encryption().bucket(name).send().await.aws("s3:GetBucketEncryption").found()?.and_then(|e| {
                e.server_side_encryption_configuration()
                    .and_then(|c| c.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| d.sse_algorithm().as_str().to_string())
            });
        let ownership = s3
            .get_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await
            .aws("s3:GetBucketOwnershipControls")
            .found()?
            .and_then(|o| {
                o.ownership_controls()
                    .and_then(|c| c.rules().first())
                    .map(|r| r.object_ownership().as_str().to_string())
            });
        let block =
            s3.get_public_access_block().bucket(name).send().await.aws("s3:GetPublicAccessBlock").found()?.and_then(
                |b| {
                    b.public_access_block_configuration().map(|c| {
                        c.block_public_acls().unwrap_or(false)
                            && c.ignore_public_acls().unwrap_or(false)
                            && c.block_public_policy().unwrap_or(false)
                            && c.restrict_public_buckets().unwrap_or(false)
                    })
                },
            );
        let versioning = s3.get_bucket_versioning().bucket(name).send().await.aws("s3:GetBucketVersioning")?;
        Ok(Some(Live {
            aws_name: name.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("encryption".into(), json!(encryption)),
                ("object_ownership".into(), json!(ownership)),
                ("block_public_access".into(), json!(block.unwrap_or(false))),
                ("versioning".into(), json!(versioning.status() == Some(&BucketVersioningStatus::Enabled))),
            ]),
            outputs: BTreeMap::from([
                ("name".into(), json!(name)),
                ("arn".into(), json!(format!("arn:{}:s3:::{name}", cx.partition()))),
                ("regional_domain_name".into(), json!(format!("{name}.s3.{region}.amazonaws.com"))),
            ]),
            tags,
        }))
    }

    async fn converge(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: Option<&Live>,
    ) -> Result<Live, AwsError> {
        let s3 = cx.aws.s3(&r.region);
        let name = &r.aws_name;
        let differs = |key: &str| live.is_none_or(|l| l.attributes.get(key) != attrs.get(key));
        if live.is_none_or(|l| l.tags != cx.tags_of(r)) {
            let tagging = Tagging::builder()
                .set_tag_set(Some(tags(cx, r)))
                .build()
                .map_err(|e| invalid("s3:PutBucketTagging", e))?;
            s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await.aws("s3:PutBucketTagging")?;
        }
        if differs("block_public_access") {
            let on = attr_bool(attrs, "block_public_access");
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(on)
                        .ignore_public_acls(on)
                        .block_public_policy(on)
                        .restrict_public_buckets(on)
                        .build(),
                )
                .send()
                .await
                .aws("s3:PutPublicAccessBlock")?;
        }
        if differs("object_ownership") {
            let rule = OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::from(attr_str(attrs, "object_ownership")))
                .build()
                .map_err(|e| invalid("s3:PutBucketOwnershipControls", e))?;
            let controls = OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(|e| invalid("s3:PutBucketOwnershipControls", e))?;
            s3.put_bucket_ownership_controls()
                .bucket(name)
                .ownership_controls(controls)
                .send()
                .await
                .aws("s3:PutBucketOwnershipControls")?;
        }
        if differs("encryption") {
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::from(attr_str(attrs, "encryption")))
                .build()
                .map_err(|e| invalid("s3:PutBucketEncryption", e))?;
            let config = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .bucket_key_enabled(true)
                        .build(),
                )
                .build()
                .map_err(|e| invalid("s3:PutBucketEncryption", e))?;
            s3.put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(config)
                .send()
                .await
                .aws("s3:PutBucketEncryption")?;
        }
        // A bucket that never had versioning needs no call to keep it off.
        let versioning_on = attr_bool(attrs, "versioning");
        if differs("versioning") && (versioning_on || live.is_some()) {
            let status =
                if versioning_on { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .aws("s3:PutBucketVersioning")?;
        }
        self.read(cx, name, &r.region).await?.visible("s3:HeadBucket")
    }

    /// Deletes every object (and version) of a bucket, 1,000 keys per request.
    async fn empty(&self, cx: &Cx, name: &str, region: &str) -> Result<(), AwsError> {
        let s3 = cx.aws.s3(region);
        let mut batch: Vec<ObjectIdentifier> = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = s3
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .aws("s3:ListObjectVersions")?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                batch.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.filter(|v| *v != "null").map(str::to_string))
                        .build()
                        .map_err(|e| invalid("s3:DeleteObjects", e))?,
                );
                if batch.len() == 1000 {
                    self.delete_batch(cx, name, region, std::mem::take(&mut batch)).await?;
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        if !batch.is_empty() {
            self.delete_batch(cx, name, region, batch).await?;
        }
        Ok(())
    }

    async fn delete_batch(
        &self,
        cx: &Cx,
        name: &str,
        region: &str,
        objects: Vec<ObjectIdentifier>,
    ) -> Result<(), AwsError> {
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| invalid("s3:DeleteObjects", e))?;
        let out =
            cx.aws.s3(region).delete_objects().bucket(name).delete(delete).send().await.aws("s3:DeleteObjects")?;
        if let Some(err) = out.errors().first() {
            return Err(AwsError::new(
                ErrorKind::Other,
                "s3:DeleteObjects",
                format!("{}: {}", err.key().unwrap_or_default(), err.message().unwrap_or_default()),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for S3BucketAdapter {
    fn kind(&self) -> Kind {
        Kind::S3Bucket
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.read(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let s3 = cx.aws.s3(&r.region);
        // Tags ride on CreateBucket itself, so no untagged bucket is ever left behind by an
        // interrupted apply (it would look like someone else's and be refused).
        let mut config = CreateBucketConfiguration::builder().set_tags(Some(tags(cx, r)));
        if r.region != "us-east-1" {
            config = config.location_constraint(BucketLocationConstraint::from(r.region.as_str()));
        }
        let created = s3
            .create_bucket()
            .bucket(&r.aws_name)
            .create_bucket_configuration(config.build())
            .object_ownership(ObjectOwnership::from(attr_str(attrs, "object_ownership")))
            .send()
            .await
            .aws("s3:CreateBucket");
        let live = match created {
            Ok(_) => None,
            Err(e) if e.kind == ErrorKind::Conflict => {
                let live = self.read(cx, &r.aws_name, &r.region).await?.ok_or(e.clone())?;
                let live = live.ensure_owned(cx, "s3:CreateBucket")?;
                Some(live)
            }
            Err(e) => return Err(e),
        };
        self.converge(cx, r, attrs, live.as_ref()).await
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        self.converge(cx, r, attrs, Some(live)).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        if !cx.allow_destroy {
            return Err(AwsError::new(
                ErrorKind::Invalid,
                "s3:DeleteBucket",
                format!("bucket {} holds data: deleting it needs --allow-destroy", live.aws_name),
            ));
        }
        self.empty(cx, &live.aws_name, &live.region).await?;
        cx.aws
            .s3(&live.region)
            .delete_bucket()
            .bucket(&live.aws_name)
            .send()
            .await
            .aws("s3:DeleteBucket")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = format!("{}-{}-", cx.capsule, cx.env);
        let mut buckets = Vec::new();
        let mut pages = cx.aws.s3(&cx.region).list_buckets().prefix(&prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            buckets.extend(page.aws("s3:ListBuckets")?.buckets().iter().cloned());
        }
        let mut owned = Vec::new();
        for b in &buckets {
            let Some(name) = b.name() else { continue };
            if !name.starts_with(&prefix) {
                continue;
            }
            // Ownership needs the tags only; a delete needs the name and region.
            let region = b.bucket_region().unwrap_or(&cx.region).to_string();
            if let Some(live) = cx.observed(Kind::S3Bucket, &region, name) {
                owned.extend(live.is_owned_by(&cx.capsule, &cx.env).then_some(live));
                continue;
            }
            let tags =
                cx.aws.s3(&region).get_bucket_tagging().bucket(name).send().await.aws("s3:GetBucketTagging").found()?;
            let live = Live {
                aws_name: name.to_string(),
                region,
                tags: tags.map(|t| tag_map(t.tag_set(), |t| (Some(t.key()), Some(t.value())))).unwrap_or_default(),
                ..Default::default()
            };
            if live.is_owned_by(&cx.capsule, &cx.env) {
                owned.push(live);
            }
        }
        Ok(owned)
    }
}
