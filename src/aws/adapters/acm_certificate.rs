//! ACM certificates with DNS validation, in the resource's region (us-east-1 for
//! CloudFront, the capsule's region for the load balancer; the model decides).
//!
//! `create` requests the certificate (SANs, ownership tags plus `capsule:zone`, an
//! idempotency token derived from the capsule, environment, component and names, so a
//! retried apply within the hour gets the same certificate), writes the validation CNAMEs
//! into the zone (with capsule's ownership markers, `capsule:kind=acm_certificate`, see
//! route53_record.rs; a validation record that already exists with the right value is
//! left as it is) and waits for `ISSUED`: polls every `CAPSULE_CERT_POLL` (default 10s;
//! the first polls come sooner) until `CAPSULE_CERT_TIMEOUT` (default 45m).
//!
//! A certificate has no name: capsule's is the one tagged with the capsule, environment and
//! component (found with ListCertificates + ListTagsForCertificate), so a change of names
//! is seen as a change (and a replacement), not as a new certificate next to a leaked one.
//! A region's certificates and their tags are read once per run for every capsule
//! environment (`AccountListings`), again after capsule requested, tagged or deleted one.
//!
//! Attributes: `domain`, `alternative_names` (sorted, lower case, without the domain
//! itself, which ACM lists among them), `validation` (`dns`), `zone` (from the
//! `capsule:zone` tag) and `status`: desired is always `ISSUED`, so a certificate still
//! pending validation (an apply that timed out waiting) plans an update, which writes the
//! validation records again and waits. `domain` and `alternative_names` force a
//! replacement. Outputs: `arn`.
//!
//! A replacement (new names) creates the new certificate first; the executor deletes the
//! old one only after the listener or distribution moved to the new one
//! (`create_before_delete`). `delete` deletes the certificate (ACM refuses while a listener
//! or distribution uses it) and then the validation records carrying its marker, except
//! those another certificate of the same component still validates with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, Tag, ValidationMethod};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::owned::owned;
use super::route53_record::{RecordSpec, Zone, fqdn, in_zone, marker_tags, owned_marker, records_at, remove, write};
use super::tag_map;
use crate::aws::account::ListedCertificate;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, TAG_COMPONENT};

pub struct AcmCertificateAdapter;

/// The tag that remembers which hosted zone holds the validation records.
const TAG_ZONE: &str = "capsule:zone";
/// How many certificates' tags a listing reads at once.
const TAG_READS: usize = 4;

fn duration_env(key: &str, default: Duration) -> Duration {
    std::env::var(key).ok().and_then(|v| humantime::parse_duration(v.trim()).ok()).unwrap_or(default)
}

fn names_of(attrs: &BTreeMap<String, Value>) -> (String, Vec<String>) {
    let domain = fqdn(attr_str(attrs, "domain"));
    let sans: BTreeSet<String> = attrs
        .get("alternative_names")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).map(fqdn).collect())
        .unwrap_or_default();
    (domain.clone(), sans.into_iter().filter(|n| *n != domain).collect())
}

/// An idempotency token (`\w{1,32}`) for these names of this component.
fn token(cx: &Cx, r: &Resource, domain: &str, sans: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(format!("{}/{}/{}/{domain}/{}", cx.capsule, cx.env, r.address.name, sans.join(",")).as_bytes());
    hex::encode(h.finalize())[..32].to_string()
}

/// The validation CNAMEs ACM asks for (deduplicated: a name and its wildcard share one).
fn validation_records(c: &CertificateDetail) -> Vec<RecordSpec> {
    let mut out: Vec<RecordSpec> = Vec::new();
    for o in c.domain_validation_options() {
        let Some(rr) = o.resource_record() else { continue };
        let spec = RecordSpec {
            name: fqdn(rr.name()),
            rtype: rr.r#type().as_str().to_string(),
            ttl: Some(300),
            values: vec![rr.value().to_string()],
            alias: None,
        };
        if !out.contains(&spec) {
            out.push(spec);
        }
    }
    out
}

impl AcmCertificateAdapter {
    fn live_of(&self, c: &CertificateDetail, tags: BTreeMap<String, String>, region: &str) -> Live {
        let arn = c.certificate_arn().unwrap_or_default().to_string();
        let domain = fqdn(c.domain_name().unwrap_or_default());
        let sans: BTreeSet<String> =
            c.subject_alternative_names().iter().map(|n| fqdn(n)).filter(|n| *n != domain).collect();
        let validation = c
            .domain_validation_options()
            .first()
            .and_then(|o| o.validation_method())
            .map(|m| m.as_str().to_ascii_lowercase())
            .unwrap_or_else(|| "dns".into());
        Live {
            aws_name: arn.clone(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("domain".into(), json!(domain)),
                ("alternative_names".into(), json!(sans)),
                ("validation".into(), json!(validation)),
                ("zone".into(), json!(tags.get(TAG_ZONE))),
                ("status".into(), json!(c.status().map(|s| s.as_str()))),
            ]),
            outputs: BTreeMap::from([("arn".into(), json!(arn))]),
            tags,
        }
    }

    async fn tags(&self, cx: &Cx, region: &str, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let out = cx
            .aws
            .acm(region)
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .aws("acm:ListTagsForCertificate")
            .found()?;
        Ok(out.map(|o| tag_map(o.tags(), |t| (Some(t.key()), t.value()))))
    }

    async fn describe(&self, cx: &Cx, region: &str, arn: &str) -> Result<Option<CertificateDetail>, AwsError> {
        Ok(cx
            .aws
            .acm(region)
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .aws("acm:DescribeCertificate")
            .found()?
            .and_then(|o| o.certificate))
    }

    async fn read(&self, cx: &Cx, region: &str, arn: &str) -> Result<Option<Live>, AwsError> {
        let Some(c) = self.describe(cx, region, arn).await? else { return Ok(None) };
        let tags = self.tags(cx, region, arn).await?.unwrap_or_default();
        Ok(Some(self.live_of(&c, tags, region)))
    }

    /// Every certificate of `region` with its tags, listed once per run for every capsule
    /// environment (ACM filters no listing by tag: a tag read per certificate), and again
    /// after capsule requested, tagged or deleted one there.
    async fn listed(&self, cx: &Cx, region: &str) -> Result<Arc<Vec<ListedCertificate>>, AwsError> {
        cx.listings
            .certificates
            .get_or_list(region, || async {
                let mut arns = Vec::new();
                let mut pages = cx.aws.acm(region).list_certificates().into_paginator().send();
                while let Some(page) = pages.next().await {
                    for s in page.aws("acm:ListCertificates")?.certificate_summary_list() {
                        arns.extend(s.certificate_arn().map(str::to_string));
                    }
                }
                // Gone since it was listed: left out.
                let tagged: Vec<Option<ListedCertificate>> = futures::stream::iter(arns)
                    .map(|arn| async move { Ok::<_, AwsError>(self.tags(cx, region, &arn).await?.map(|t| (arn, t))) })
                    .buffered(TAG_READS)
                    .try_collect()
                    .await?;
                Ok(tagged.into_iter().flatten().collect())
            })
            .await
    }

    /// A certificate's details as this run observes them (read once per run).
    async fn described(&self, cx: &Cx, region: &str, arn: &str) -> Result<Arc<Option<CertificateDetail>>, AwsError> {
        cx.listings.certificate_details.get_or_list(arn, || self.describe(cx, region, arn)).await
    }

    /// Drops what this run has listed of the certificate `arn` in `region` after a write.
    fn forget(&self, cx: &Cx, region: &str, arn: &str) {
        cx.listings.certificates.forget(region);
        cx.listings.certificate_details.forget(arn);
    }

    /// This capsule environment's certificates in `region` (of one component, if given).
    async fn owned(&self, cx: &Cx, region: &str, component: Option<&str>) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for (arn, tags) in self.listed(cx, region).await?.iter().filter(|(_, tags)| owned(cx, tags)) {
            if component.is_some_and(|c| tags.get(TAG_COMPONENT).map(String::as_str) != Some(c)) {
                continue;
            }
            if let Some(c) = self.described(cx, region, arn).await?.as_ref() {
                out.push(self.live_of(c, tags.clone(), region));
            }
        }
        Ok(out)
    }

    /// Capsule's certificate for `r`: the one with the desired names if there are several.
    async fn find(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Option<Live>, AwsError> {
        let mut all = self.owned(cx, &r.region, Some(&r.address.name)).await?;
        let (domain, sans) = names_of(attrs);
        let same = |l: &Live| {
            l.attributes.get("domain") == Some(&json!(domain))
                && l.attributes.get("alternative_names") == Some(&json!(sans))
        };
        let i = all.iter().position(same).unwrap_or(0);
        Ok(if all.is_empty() { None } else { Some(all.swap_remove(i)) })
    }

    /// Writes the validation records of `arn` into `zone` (waiting for ACM to name them)
    /// and waits until the certificate is issued.
    async fn validate(&self, cx: &Cx, r: &Resource, zone: &Zone, arn: &str) -> Result<Live, AwsError> {
        const OP: &str = "acm:DescribeCertificate";
        let poll = duration_env("CAPSULE_CERT_POLL", Duration::from_secs(10));
        let timeout = duration_env("CAPSULE_CERT_TIMEOUT", Duration::from_secs(45 * 60));
        let started = Instant::now();
        let mut written = false;
        let mut wait = Duration::from_millis(500);
        loop {
            let c = self.describe(cx, &r.region, arn).await?.ok_or_else(|| match written {
                // "DescribeCertificate may not succeed for several seconds after
                // RequestCertificate" (API reference): temporary; the create is retried
                // and its idempotency token gives back this certificate.
                false => AwsError::new(ErrorKind::Transient, OP, format!("certificate {arn} is not visible yet")),
                true => AwsError::new(
                    ErrorKind::Other,
                    OP,
                    format!("certificate {arn} vanished while it was being validated"),
                ),
            })?;
            let records = validation_records(&c);
            let options = c.domain_validation_options();
            let named = !options.is_empty() && options.iter().all(|o| o.resource_record().is_some());
            if !written && named {
                self.write_validation(cx, r, zone, &records).await?;
                written = true;
            }
            match c.status() {
                Some(CertificateStatus::Issued) => {
                    let tags = self.tags(cx, &r.region, arn).await?.unwrap_or_default();
                    return Ok(self.live_of(&c, tags, &r.region));
                }
                Some(CertificateStatus::PendingValidation) | None => {}
                Some(other) => {
                    return Err(AwsError::new(
                        ErrorKind::Other,
                        OP,
                        format!(
                            "certificate {arn} for {} is {}{}: delete it (aws acm delete-certificate --region {} \
                             --certificate-arn {arn}) and apply again",
                            c.domain_name().unwrap_or_default(),
                            other.as_str(),
                            c.failure_reason().map(|f| format!(" ({})", f.as_str())).unwrap_or_default(),
                            r.region
                        ),
                    ));
                }
            }
            if started.elapsed() > timeout {
                return Err(AwsError::new(
                    ErrorKind::Other,
                    OP,
                    format!(
                        "certificate {arn} for {} was not issued within {} (still {}); its validation records are in \
                         zone {}, is the zone delegated to Route 53? ACM goes on trying: apply again to wait more, or \
                         raise CAPSULE_CERT_TIMEOUT",
                        c.domain_name().unwrap_or_default(),
                        humantime::format_duration(timeout),
                        c.status().map(|s| s.as_str()).unwrap_or("pending"),
                        zone.name
                    ),
                ));
            }
            tokio::time::sleep(wait.min(poll)).await;
            wait *= 2;
        }
    }

    /// Writes each validation CNAME with capsule's marker; one that is already there with
    /// the same value (capsule's or not) is left alone, one with another value is a conflict.
    async fn write_validation(
        &self,
        cx: &Cx,
        r: &Resource,
        zone: &Zone,
        records: &[RecordSpec],
    ) -> Result<(), AwsError> {
        for spec in records {
            in_zone(zone, &spec.name)?;
            let here = records_at(cx, zone, &spec.name).await?;
            if let Some(set) = here.iter().find(|s| s.r#type().as_str() == spec.rtype) {
                let same =
                    set.resource_records().iter().map(|v| fqdn(v.value())).eq(spec.values.iter().map(|v| fqdn(v)));
                if same {
                    continue;
                }
                let marker = records_at(cx, zone, &super::route53_record::marker_name(&spec.name, &spec.rtype)).await?;
                let mine = marker.iter().any(|m| {
                    let t = marker_tags(m);
                    owned_marker(cx, &t, Kind::AcmCertificate) && t.get(TAG_COMPONENT) == Some(&r.address.name)
                });
                if !mine {
                    return Err(AwsError::new(
                        ErrorKind::Conflict,
                        "route53:ChangeResourceRecordSets",
                        format!(
                            "the validation record {} in zone {} exists with another value and capsule did not write \
                             it: capsule never overwrites it; remove it",
                            spec.name, zone.name
                        ),
                    ));
                }
            }
            let create = !here.iter().any(|s| s.r#type().as_str() == spec.rtype);
            write(cx, zone, spec, &r.tags, Kind::AcmCertificate, create).await?;
        }
        Ok(())
    }

    async fn tag_zone(&self, cx: &Cx, region: &str, arn: &str, zone: &Zone) -> Result<(), AwsError> {
        self.forget(cx, region, arn);
        cx.aws
            .acm(region)
            .add_tags_to_certificate()
            .certificate_arn(arn)
            .tags(
                Tag::builder()
                    .key(TAG_ZONE)
                    .value(&zone.name)
                    .build()
                    .map_err(|e| AwsError::new(ErrorKind::Invalid, "acm:AddTagsToCertificate", e.to_string()))?,
            )
            .send()
            .await
            .aws("acm:AddTagsToCertificate")
            .map(|_| ())
    }
}

#[async_trait]
impl Adapter for AcmCertificateAdapter {
    fn kind(&self) -> Kind {
        Kind::AcmCertificate
    }

    /// A certificate's names never change: a new one replaces it.
    fn forces_replacement(&self) -> &'static [&'static str] {
        &["domain", "alternative_names"]
    }

    /// The listener or distribution moves to the new certificate before the old one goes.
    fn create_before_delete(&self) -> bool {
        true
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        let (domain, sans) = names_of(attrs);
        attrs.insert("domain".into(), json!(domain));
        attrs.insert("alternative_names".into(), json!(sans));
        let validation = attrs.get("validation").and_then(Value::as_str).unwrap_or("dns").to_ascii_lowercase();
        attrs.insert("validation".into(), json!(validation));
        if let Some(Value::String(z)) = attrs.get_mut("zone") {
            *z = fqdn(z);
        }
        attrs.insert("status".into(), json!("ISSUED"));
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r, &r.attributes).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "acm:RequestCertificate";
        if attr_str(attrs, "validation") != "dns" {
            return Err(AwsError::new(ErrorKind::Invalid, OP, "capsule validates certificates by DNS only"));
        }
        let zone = cx.zone(attr_str(attrs, "zone")).await?;
        let (domain, sans) = names_of(attrs);
        // Adopt this component's certificate for these names (an earlier apply that stopped
        // while it waited).
        if let Some(live) = self.find(cx, r, attrs).await?
            && live.attributes.get("domain") == Some(&json!(domain))
            && live.attributes.get("alternative_names") == Some(&json!(sans))
        {
            return self.update(cx, r, attrs, &live).await;
        }
        let mut tags: Vec<Tag> = Vec::new();
        for (k, v) in cx.tags_of(r).into_iter().chain([(TAG_ZONE.to_string(), zone.name.clone())]) {
            tags.push(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| AwsError::new(ErrorKind::Invalid, OP, e.to_string()))?,
            );
        }
        let out = cx
            .aws
            .acm(&r.region)
            .request_certificate()
            .domain_name(&domain)
            .set_subject_alternative_names(if sans.is_empty() {
                None
            } else {
                Some(std::iter::once(domain.clone()).chain(sans.iter().cloned()).collect())
            })
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token(cx, r, &domain, &sans))
            .set_tags(Some(tags))
            .send()
            .await
            .aws(OP)?;
        let arn = out.certificate_arn().unwrap_or_default().to_string();
        self.forget(cx, &r.region, &arn);
        let validated = self.validate(cx, r, &zone, &arn).await;
        self.forget(cx, &r.region, &arn);
        validated?;
        self.read(cx, &r.region, &arn).await?.visible("acm:DescribeCertificate")
    }

    /// Writes the validation records (into the desired zone) and waits for issuance.
    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let zone = cx.zone(attr_str(attrs, "zone")).await?;
        if live.attributes.get("zone") != Some(&json!(zone.name)) {
            self.tag_zone(cx, &live.region, &live.aws_name, &zone).await?;
        }
        let validated = self.validate(cx, r, &zone, &live.aws_name).await;
        self.forget(cx, &live.region, &live.aws_name);
        validated?;
        self.read(cx, &live.region, &live.aws_name).await?.visible("acm:DescribeCertificate")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let Some(c) = self.describe(cx, &live.region, &live.aws_name).await? else { return Ok(()) };
        self.forget(cx, &live.region, &live.aws_name);
        cx.aws
            .acm(&live.region)
            .delete_certificate()
            .certificate_arn(&live.aws_name)
            .send()
            .await
            .aws("acm:DeleteCertificate")
            .found()
            .map_err(|e| match e.code.as_deref() {
                Some("ResourceInUseException") => AwsError {
                    kind: ErrorKind::Conflict,
                    message: format!(
                        "{} (a load balancer or distribution still uses it: capsule deletes a certificate only \
                         after moving them to its replacement; apply again once they have moved)",
                        e.message
                    ),
                    ..e
                },
                _ => e,
            })?;
        let zone = match cx.zone(attr_str(&live.attributes, "zone")).await {
            Ok(z) => z,
            Err(e) if e.is_not_found() || e.kind == ErrorKind::Invalid => return Ok(()),
            Err(e) => return Err(e),
        };
        let component = live.component().map(str::to_string);
        // A replacement for some of the same names validates with the same records; they stay.
        let mut needed = Vec::new();
        for other in self.owned(cx, &live.region, component.as_deref()).await? {
            if other.aws_name != live.aws_name
                && let Some(c) = self.describe(cx, &other.region, &other.aws_name).await?
            {
                needed.extend(validation_records(&c));
            }
        }
        for spec in validation_records(&c).into_iter().filter(|s| !needed.contains(s)) {
            let owns = |t: &BTreeMap<String, String>| {
                owned_marker(cx, t, Kind::AcmCertificate) && t.get(TAG_COMPONENT) == component.as_ref()
            };
            remove(cx, &zone, &spec.name, &spec.rtype, owns).await?;
        }
        Ok(())
    }

    /// The capsule's certificates in its region and in us-east-1 (CloudFront's).
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut out = self.owned(cx, &cx.region, None).await?;
        if cx.region != "us-east-1" {
            out.extend(self.owned(cx, "us-east-1", None).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        let mut attrs: BTreeMap<String, Value> = serde_json::from_value(json!({
            "domain": "Api.Example.com.", "alternative_names": ["www.example.com", "api.example.com", "b.example.com"],
            "validation": "dns", "zone": "example.com.",
        }))
        .unwrap();
        AcmCertificateAdapter.normalize(&mut attrs);
        assert_eq!(attrs["domain"], json!("api.example.com"));
        assert_eq!(attrs["alternative_names"], json!(["b.example.com", "www.example.com"]));
        assert_eq!(attrs["zone"], json!("example.com"));
        assert_eq!(attrs["status"], json!("ISSUED"));
    }
}
