//! `[sites.*]`: a private bucket, its origin access control, a CloudFront distribution
//! (with a us-east-1 certificate and alias records when the site has a domain), the bucket
//! policy that lets only that distribution read, and the site artifact that syncs files.

use indexmap::IndexMap;
use serde_json::json;

use super::Artifact;
use super::builder::Builder;
use crate::config::types::Site;
use crate::model::{Address, Kind, aws_name, reference};

pub(super) fn expand(b: &mut Builder<'_>, sites: &IndexMap<String, Site>, zone: Option<&str>) {
    for (name, site) in sites {
        let bucket_name = aws_name(&[b.capsule, b.env, name, b.account], 63);
        let bucket = b.add(
            Kind::S3Bucket,
            name,
            bucket_name.clone(),
            json!({
                "encryption": "AES256",
                "object_ownership": "BucketOwnerEnforced",
                "block_public_access": true,
                "versioning": false,
            }),
            vec![],
        );
        let oac = b.add(
            Kind::CloudfrontOac,
            name,
            b.name(name, 64),
            json!({
                "origin_type": "s3",
                "signing_behavior": "always",
                "signing_protocol": "sigv4",
            }),
            vec![],
        );
        let cert = site.domain.as_ref().map(|domain| certificate(b, name, domain, zone));
        let dist = distribution(b, name, site, &bucket, &oac, cert.as_ref());
        b.add(
            Kind::S3BucketPolicy,
            name,
            bucket_name,
            json!({ "allow_read_from_distribution": reference(&dist, "arn") }),
            vec![bucket.clone(), dist.clone()],
        );
        if let Some(domain) = &site.domain {
            for rtype in ["A", "AAAA"] {
                b.add(
                    Kind::Route53Record,
                    &format!("{name}-{}", rtype.to_ascii_lowercase()),
                    domain.clone(),
                    json!({
                        "zone": zone, "type": rtype, "name": domain,
                        "alias": { "target": reference(&dist, "domain_name"), "hosted_zone": "cloudfront" },
                    }),
                    vec![dist.clone()],
                );
            }
        }
        b.artifacts.push(Artifact::Site {
            name: name.clone(),
            dir: b.path(&site.dir),
            spa: site.spa,
            headers: site.headers.clone(),
            bucket,
            distribution: dist,
        });
    }
}

/// The site's certificate: in us-east-1, where CloudFront reads certificates.
fn certificate(b: &mut Builder<'_>, name: &str, domain: &str, zone: Option<&str>) -> Address {
    b.add_in(
        Kind::AcmCertificate,
        &format!("site-{name}"),
        domain.to_string(),
        "us-east-1".into(),
        json!({
            "domain": domain,
            "alternative_names": [],
            "validation": "dns",
            "zone": zone,
        }),
        vec![],
    )
}

fn distribution(
    b: &mut Builder<'_>,
    name: &str,
    site: &Site,
    bucket: &Address,
    oac: &Address,
    cert: Option<&Address>,
) -> Address {
    let mut deps = vec![bucket.clone(), oac.clone()];
    deps.extend(cert.cloned());
    b.add_in(
        Kind::CloudfrontDistribution,
        name,
        b.name(name, 128),
        "us-east-1".into(),
        json!({
            "origin_bucket": reference(bucket, "regional_domain_name"),
            "origin_access_control": reference(oac, "id"),
            "aliases": site.domain.iter().collect::<Vec<_>>(),
            "certificate": cert.map(|c| reference(c, "arn")),
            "default_root_object": "index.html",
            "viewer_protocol_policy": "redirect-to-https",
            "compress": true,
            "http_version": "http2and3",
            "price_class": "PriceClass_100",
            // Unknown paths answer /index.html (custom error responses, docs/sites.md).
            "spa": site.spa,
            "enabled": true,
        }),
        deps,
    )
}
