//! The policy of a site bucket: read access for exactly one CloudFront distribution
//! (through its origin access control), nothing else. Ownership is the bucket's tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::adapter::Visible;
use crate::aws::adapter::attr_str;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct S3BucketPolicyAdapter;

const SID: &str = "capsule-cloudfront-read";

pub fn policy_document(bucket: &str, distribution_arn: &str) -> Value {
    // The bucket is in the distribution's partition (`arn:<partition>:cloudfront::…`).
    let partition = distribution_arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": SID,
            "Effect": "Allow",
            "Principal": { "Service": "cloudfront.amazonaws.com" },
            "Action": "s3:GetObject",
            "Resource": format!("arn:{partition}:s3:::{bucket}/*"),
            "Condition": { "StringEquals": { "AWS:SourceArn": distribution_arn } }
        }]
    })
}

/// The distribution the policy lets read, if it is capsule's policy.
fn reader_of(policy: &Value) -> Option<String> {
    policy
        .get("Statement")?
        .as_array()?
        .iter()
        .find(|s| s.get("Sid") == Some(&json!(SID)))?
        .pointer("/Condition/StringEquals/AWS:SourceArn")?
        .as_str()
        .map(str::to_string)
}

impl S3BucketPolicyAdapter {
    async fn read(&self, cx: &Cx, bucket: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let s3 = cx.aws.s3(region);
        let Some(policy) = s3.get_bucket_policy().bucket(bucket).send().await.aws("s3:GetBucketPolicy").found()? else {
            return Ok(None);
        };
        let policy: Value = serde_json::from_str(policy.policy().unwrap_or("{}")).unwrap_or(Value::Null);
        let tags = s3.get_bucket_tagging().bucket(bucket).send().await.aws("s3:GetBucketTagging").found()?;
        let tags = tags.map(|t| tag_map(t.tag_set(), |t| (Some(t.key()), Some(t.value())))).unwrap_or_default();
        Ok(Some(Live {
            aws_name: bucket.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([("allow_read_from_distribution".into(), json!(reader_of(&policy)))]),
            outputs: BTreeMap::new(),
            tags,
        }))
    }

    async fn put(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let doc = policy_document(&r.aws_name, attr_str(attrs, "allow_read_from_distribution"));
        cx.aws
            .s3(&r.region)
            .put_bucket_policy()
            .bucket(&r.aws_name)
            .policy(doc.to_string())
            .send()
            .await
            .aws("s3:PutBucketPolicy")?;
        self.read(cx, &r.aws_name, &r.region).await?.visible("s3:GetBucketPolicy")
    }
}

#[async_trait]
impl Adapter for S3BucketPolicyAdapter {
    fn kind(&self) -> Kind {
        Kind::S3BucketPolicy
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.read(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        self.put(cx, r, attrs).await
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        _live: &Live,
    ) -> Result<Live, AwsError> {
        self.put(cx, r, attrs).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .s3(&live.region)
            .delete_bucket_policy()
            .bucket(&live.aws_name)
            .send()
            .await
            .aws("s3:DeleteBucketPolicy")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        // The policies of the capsule's own buckets that carry capsule's statement.
        let mut owned = Vec::new();
        for bucket in super::s3_bucket::S3BucketAdapter.list_owned(cx).await? {
            let s3 = cx.aws.s3(&bucket.region);
            let Some(policy) =
                s3.get_bucket_policy().bucket(&bucket.aws_name).send().await.aws("s3:GetBucketPolicy").found()?
            else {
                continue;
            };
            let policy: Value = serde_json::from_str(policy.policy().unwrap_or("{}")).unwrap_or(Value::Null);
            if let Some(reader) = reader_of(&policy) {
                owned.push(Live {
                    attributes: BTreeMap::from([("allow_read_from_distribution".into(), json!(reader))]),
                    ..bucket
                });
            }
        }
        Ok(owned)
    }
}
