//! CloudFront distributions in front of a site bucket: one S3 origin reached through an
//! origin access control, HTTPS redirect, compression, HTTP/2 and 3, `index.html` as root
//! object, the managed CachingOptimized cache policy, optional aliases + ACM certificate.
//! Distributions have no name: capsule finds its own by the `Comment`, which holds the
//! deterministic name, and checks ownership by tags. The account's distributions are
//! listed once per run for every capsule environment (`AccountListings`), again after a
//! create or delete.
//!
//! `spa = true` is done with custom error responses (403 and 404 answer `/index.html` with
//! 200) rather than a CloudFront Function: no extra resource to publish and keep in step,
//! no per-request function cost, and client-side routers get every deep link. The price is
//! that a missing asset also answers `index.html` (see docs/sites.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, CustomErrorResponse, CustomErrorResponses, DefaultCacheBehavior,
    DistributionConfig, DistributionConfigWithTags, HttpVersion, Method, MinimumProtocolVersion, Origin, Origins,
    PriceClass, S3OriginConfig, SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::account::ListedDistribution;
use crate::aws::adapter::Visible;
use crate::aws::adapter::{attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct CloudfrontDistributionAdapter;

/// AWS's managed cache policy "CachingOptimized" (same id in every account).
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const ORIGIN_ID: &str = "site-bucket";

fn inv(op: &'static str) -> impl Fn(aws_sdk_cloudfront::error::BuildError) -> AwsError {
    move |e| AwsError::new(ErrorKind::Invalid, op, e.to_string())
}

fn build_config(
    r: &Resource,
    attrs: &BTreeMap<String, Value>,
    caller_reference: &str,
) -> Result<DistributionConfig, AwsError> {
    let op = "cloudfront:DistributionConfig";
    let origin = Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(attr_str(attrs, "origin_bucket"))
        .origin_access_control_id(attr_str(attrs, "origin_access_control"))
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .map_err(inv(op))?;
    let (n, methods) = (2, vec![Method::Get, Method::Head]);
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(ORIGIN_ID)
        .viewer_protocol_policy(ViewerProtocolPolicy::from(attr_str(attrs, "viewer_protocol_policy")))
        .compress(attr_bool(attrs, "compress"))
        .cache_policy_id(CACHING_OPTIMIZED)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(n)
                .set_items(Some(methods.clone()))
                .cached_methods(CachedMethods::builder().quantity(n).set_items(Some(methods)).build().map_err(inv(op))?)
                .build()
                .map_err(inv(op))?,
        )
        .build()
        .map_err(inv(op))?;
    let aliases: Vec<String> = attrs
        .get("aliases")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let certificate = match attrs.get("certificate").and_then(Value::as_str) {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder().cloud_front_default_certificate(true).build(),
    };
    let mut errors = CustomErrorResponses::builder().quantity(0);
    if attr_bool(attrs, "spa") {
        errors = CustomErrorResponses::builder().quantity(2);
        for code in [403, 404] {
            errors = errors.items(
                CustomErrorResponse::builder()
                    .error_code(code)
                    .response_page_path("/index.html")
                    .response_code("200")
                    .error_caching_min_ttl(0)
                    .build()
                    .map_err(inv(op))?,
            );
        }
    }
    DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment(&r.aws_name)
        .aliases(
            Aliases::builder()
                .quantity(aliases.len() as i32)
                .set_items((!aliases.is_empty()).then_some(aliases))
                .build()
                .map_err(inv(op))?,
        )
        .default_root_object(attr_str(attrs, "default_root_object"))
        .origins(Origins::builder().quantity(1).items(origin).build().map_err(inv(op))?)
        .default_cache_behavior(behavior)
        .custom_error_responses(errors.build().map_err(inv(op))?)
        .price_class(PriceClass::from(attr_str(attrs, "price_class")))
        .enabled(attr_bool(attrs, "enabled"))
        .viewer_certificate(certificate)
        .http_version(HttpVersion::from(attr_str(attrs, "http_version")))
        .is_ipv6_enabled(true)
        .build()
        .map_err(inv(op))
}

/// The attributes a live config stands for, in the desired shape.
fn attributes_of(c: &DistributionConfig) -> BTreeMap<String, Value> {
    let origin = c.origins().and_then(|o| o.items().first());
    let mut aliases: Vec<String> = c.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
    aliases.sort();
    let behavior = c.default_cache_behavior();
    let spa = c.custom_error_responses().is_some_and(|e| {
        e.items().iter().any(|r| {
            r.error_code() == 404 && r.response_page_path() == Some("/index.html") && r.response_code() == Some("200")
        })
    });
    BTreeMap::from([
        ("origin_bucket".into(), json!(origin.map(|o| o.domain_name()))),
        (
            "origin_access_control".into(),
            json!(origin.and_then(|o| o.origin_access_control_id()).filter(|s| !s.is_empty())),
        ),
        ("aliases".into(), json!(aliases)),
        (
            "certificate".into(),
            json!(c.viewer_certificate().and_then(|v| v.acm_certificate_arn()).filter(|a| !a.is_empty())),
        ),
        ("default_root_object".into(), json!(c.default_root_object().unwrap_or_default())),
        ("viewer_protocol_policy".into(), json!(behavior.map(|b| b.viewer_protocol_policy().as_str()))),
        ("compress".into(), json!(behavior.and_then(|b| b.compress()).unwrap_or(false))),
        ("http_version".into(), json!(c.http_version().map(|h| h.as_str().to_ascii_lowercase()))),
        ("price_class".into(), json!(c.price_class().map(|p| p.as_str()))),
        ("spa".into(), json!(spa)),
        ("enabled".into(), json!(c.enabled())),
    ])
}

impl CloudfrontDistributionAdapter {
    /// (id, arn, comment) of every distribution whose comment `matches`.
    async fn find(&self, cx: &Cx, matches: impl Fn(&str) -> bool) -> Result<Vec<ListedDistribution>, AwsError> {
        Ok(self.listed(cx).await?.iter().filter(|(_, _, comment)| matches(comment)).cloned().collect())
    }

    /// Every distribution of the account, listed once per run for every capsule environment
    /// (and again after capsule created or deleted one).
    async fn listed(&self, cx: &Cx) -> Result<Arc<Vec<ListedDistribution>>, AwsError> {
        cx.listings
            .distributions
            .get_or_list("", || async {
                let cf = cx.aws.cloudfront("us-east-1");
                let mut out = Vec::new();
                let mut pages = cf.list_distributions().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.aws("cloudfront:ListDistributions")?;
                    for d in page.distribution_list().map(|l| l.items()).unwrap_or_default() {
                        out.push((d.id().to_string(), d.arn().to_string(), d.comment().to_string()));
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn read(&self, cx: &Cx, id: &str, arn: &str) -> Result<Option<Live>, AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let Some(d) = cf.get_distribution().id(id).send().await.aws("cloudfront:GetDistribution").found()? else {
            return Ok(None);
        };
        let Some(dist) = d.distribution() else { return Ok(None) };
        let Some(config) = dist.distribution_config() else { return Ok(None) };
        let tags = cf.list_tags_for_resource().resource(arn).send().await.aws("cloudfront:ListTagsForResource")?;
        let tags = tags.tags().map(|t| tag_map(t.items(), |t| (Some(t.key()), t.value()))).unwrap_or_default();
        Ok(Some(Live {
            aws_name: config.comment().to_string(),
            region: "us-east-1".into(),
            attributes: attributes_of(config),
            outputs: BTreeMap::from([
                ("id".into(), json!(id)),
                ("arn".into(), json!(arn)),
                ("domain_name".into(), json!(dist.domain_name())),
                ("status".into(), json!(dist.status())),
            ]),
            tags,
        }))
    }

    fn id(live: &Live) -> String {
        live.outputs.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
    }

    /// Waits until the distribution's changes are deployed everywhere.
    async fn wait_deployed(&self, cx: &Cx, id: &str, deadline: Duration) -> Result<(), AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let d = cf.get_distribution().id(id).send().await.aws("cloudfront:GetDistribution")?;
            let status = d.distribution().map(|d| d.status().to_string()).unwrap_or_default();
            if status == "Deployed" {
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                return Err(AwsError::new(
                    ErrorKind::Transient,
                    "cloudfront:GetDistribution",
                    format!("distribution {id} still {status} after {}s", deadline.as_secs()),
                ));
            }
            tracing::info!(id, status, "waiting for the distribution to deploy");
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    }
}

#[async_trait]
impl Adapter for CloudfrontDistributionAdapter {
    fn kind(&self) -> Kind {
        Kind::CloudfrontDistribution
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(Value::Array(a)) = attrs.get_mut("aliases") {
            a.sort_by_key(|v| v.to_string());
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        match self.find(cx, |c| c == r.aws_name).await?.into_iter().next() {
            Some((id, arn, _)) => self.read(cx, &id, &arn).await,
            None => Ok(None),
        }
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.observe(cx, r).await? {
            let live = live.ensure_owned(cx, "cloudfront:CreateDistribution")?;
            return self.update(cx, r, attrs, &live).await;
        }
        let tags = Tags::builder()
            .set_items(Some(
                cx.tags_of(r).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect(),
            ))
            .build();
        let config = build_config(r, attrs, &r.aws_name)?;
        let with_tags = DistributionConfigWithTags::builder().distribution_config(config).tags(tags).build();
        cx.listings.distributions.forget("");
        let out = cx
            .aws
            .cloudfront("us-east-1")
            .create_distribution_with_tags()
            .distribution_config_with_tags(with_tags)
            .send()
            .await
            .aws("cloudfront:CreateDistributionWithTags")?;
        let d = out.distribution().ok_or_else(|| {
            AwsError::new(ErrorKind::Other, "cloudfront:CreateDistributionWithTags", "no distribution in the answer")
        })?;
        self.read(cx, d.id(), d.arn()).await?.visible("cloudfront:GetDistribution")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let id = Self::id(live);
        let current = cf.get_distribution_config().id(&id).send().await.aws("cloudfront:GetDistributionConfig")?;
        let caller_reference = current
            .distribution_config()
            .map(|c| c.caller_reference().to_string())
            .unwrap_or_else(|| r.aws_name.clone());
        let config = build_config(r, attrs, &caller_reference)?;
        cf.update_distribution()
            .id(&id)
            .set_if_match(current.e_tag().map(str::to_string))
            .distribution_config(config)
            .send()
            .await
            .aws("cloudfront:UpdateDistribution")?;
        let arn = live.outputs.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
        self.read(cx, &id, &arn).await?.visible("cloudfront:GetDistribution")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let id = Self::id(live);
        let Some(current) =
            cf.get_distribution_config().id(&id).send().await.aws("cloudfront:GetDistributionConfig").found()?
        else {
            return Ok(());
        };
        let mut etag = current.e_tag().map(str::to_string);
        if let Some(config) = current.distribution_config()
            && config.enabled()
        {
            // AWS deletes only disabled, deployed distributions.
            let mut disabled = config.clone();
            disabled.enabled = false;
            let out = cf
                .update_distribution()
                .id(&id)
                .set_if_match(etag)
                .distribution_config(disabled)
                .send()
                .await
                .aws("cloudfront:UpdateDistribution")?;
            etag = out.e_tag().map(str::to_string);
            self.wait_deployed(cx, &id, Duration::from_secs(30 * 60)).await?;
        }
        cx.listings.distributions.forget("");
        cf.delete_distribution()
            .id(&id)
            .set_if_match(etag)
            .send()
            .await
            .aws("cloudfront:DeleteDistribution")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let prefix = format!("{}-{}-", cx.capsule, cx.env);
        let mut out = Vec::new();
        let cf = cx.aws.cloudfront("us-east-1");
        for (id, arn, comment) in self.find(cx, |c| c.starts_with(&prefix)).await? {
            if let Some(live) = cx.observed(Kind::CloudfrontDistribution, "us-east-1", &comment) {
                out.extend(live.is_owned_by(&cx.capsule, &cx.env).then_some(live));
                continue;
            }
            // Ownership needs the tags only; a delete needs the id.
            let tags = cf.list_tags_for_resource().resource(&arn).send().await.aws("cloudfront:ListTagsForResource")?;
            let live = Live {
                aws_name: comment,
                region: "us-east-1".into(),
                outputs: BTreeMap::from([("id".into(), json!(id)), ("arn".into(), json!(arn))]),
                tags: tags.tags().map(|t| tag_map(t.items(), |t| (Some(t.key()), t.value()))).unwrap_or_default(),
                ..Default::default()
            };
            if live.is_owned_by(&cx.capsule, &cx.env) {
                out.push(live);
            }
        }
        Ok(out)
    }
}
