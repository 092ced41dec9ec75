//! SES domain identities (SES API v1: the test bed's emulator has DKIM tokens there), with
//! Easy DKIM and a custom MAIL FROM domain. The DKIM, MAIL FROM and DMARC records are
//! `route53_record` resources of their own; this adapter writes only its own token into
//! the domain's verification record `_amazonses.<domain>` (a set shared with the domain's
//! identities in other regions and accounts, whose tokens are kept), with capsule's
//! ownership marker. SES cannot
//! tag v1 identities, so that marker is how capsule knows an identity is its own: an
//! identity without it is someone else's and is never changed or deleted.
//! Observations read a region's identities once per run for every capsule environment
//! (ListIdentities, then each attribute read for up to 100 identities a call; dropped after
//! capsule changes one), and the markers from the run's scan of the zone.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ses::types::{BehaviorOnMxFailure, IdentityType, IdentityVerificationAttributes};
use serde_json::{Value, json};

use super::route53_record::{
    Zone, edit_shared_values, fqdn, hosted_zones, listed_records_at, marker_name, marker_tags, records_at,
};
use crate::aws::account::SesIdentityAttributes;
use crate::aws::adapter::{Visible, attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, Live};
use crate::model::{Kind, Resource};

pub struct SesIdentityAdapter;

fn verification_name(domain: &str) -> String {
    format!("_amazonses.{}", fqdn(domain))
}

/// How many identities one SES attribute read takes (the API's limit).
const IDENTITIES_PER_READ: usize = 100;

impl Cx {
    /// The SES sending quota of `region` (messages a day), read once per run; `None` when
    /// SES does not answer.
    pub(crate) async fn ses_send_quota(&self, region: &str) -> Option<f64> {
        let read = || async {
            let quota = self.aws.ses(region).get_send_quota().send().await.aws("ses:GetSendQuota")?;
            Ok(quota.max24_hour_send())
        };
        self.listings.ses_quota.get_or_list(region, read).await.ok().map(|q| *q)
    }
}

/// What SES says of each of `domains` that is an identity, up to 100 identities a call.
async fn attributes(
    cx: &Cx,
    region: &str,
    domains: &[String],
) -> Result<BTreeMap<String, SesIdentityAttributes>, AwsError> {
    let ses = cx.aws.ses(region);
    let mut out = BTreeMap::new();
    for chunk in domains.chunks(IDENTITIES_PER_READ) {
        let verification = ses
            .get_identity_verification_attributes()
            .set_identities(Some(chunk.to_vec()))
            .send()
            .await
            .aws("ses:GetIdentityVerificationAttributes")?;
        let found: Vec<(String, IdentityVerificationAttributes)> = chunk
            .iter()
            .filter_map(|d| Some((d.clone(), verification.verification_attributes().get(d)?.clone())))
            .collect();
        if found.is_empty() {
            continue;
        }
        let known: Vec<String> = found.iter().map(|(d, _)| d.clone()).collect();
        let dkim = ses
            .get_identity_dkim_attributes()
            .set_identities(Some(known.clone()))
            .send()
            .await
            .aws("ses:GetIdentityDkimAttributes")?;
        let mail_from = ses
            .get_identity_mail_from_domain_attributes()
            .set_identities(Some(known.clone()))
            .send()
            .await
            .aws("ses:GetIdentityMailFromDomainAttributes")?;
        for (domain, verification) in found {
            let attrs = SesIdentityAttributes {
                verification,
                dkim: dkim.dkim_attributes().get(&domain).cloned(),
                mail_from: mail_from.mail_from_domain_attributes().get(&domain).cloned(),
            };
            out.insert(domain, attrs);
        }
    }
    Ok(out)
}

/// Every domain identity of `region` with its attributes, read once per run for every
/// capsule environment (and again after capsule changed one there).
async fn listed(cx: &Cx, region: &str) -> Result<Arc<BTreeMap<String, SesIdentityAttributes>>, AwsError> {
    cx.listings
        .ses_identities
        .get_or_list(region, || async {
            let mut identities = Vec::new();
            let mut pages =
                cx.aws.ses(region).list_identities().identity_type(IdentityType::Domain).into_paginator().send();
            while let Some(page) = pages.next().await {
                identities.extend(page.aws("ses:ListIdentities")?.identities().iter().cloned());
            }
            attributes(cx, region, &identities).await
        })
        .await
}

impl SesIdentityAdapter {
    /// The identity `domain` read now (after a write), with the ownership read from its
    /// verification record's marker in `zone` (when a zone is known).
    async fn read(&self, cx: &Cx, region: &str, domain: &str, zone: Option<&Zone>) -> Result<Option<Live>, AwsError> {
        let Some(attrs) = attributes(cx, region, &[domain.to_string()]).await?.remove(domain) else {
            return Ok(None);
        };
        let tags = match zone {
            Some(z) => records_at(cx, z, &marker_name(&verification_name(domain), "TXT"))
                .await?
                .first()
                .map(marker_tags)
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
        Ok(Some(self.live_of(cx, region, domain, &attrs, zone, tags)))
    }

    /// The identity `domain` as this run has listed it (identities and zone records).
    async fn observed(
        &self,
        cx: &Cx,
        region: &str,
        domain: &str,
        zone: Option<&Zone>,
    ) -> Result<Option<Live>, AwsError> {
        let listed = listed(cx, region).await?;
        let Some(attrs) = listed.get(domain) else { return Ok(None) };
        let tags = match zone {
            Some(z) => listed_records_at(cx, z, &marker_name(&verification_name(domain), "TXT"))
                .await?
                .first()
                .map(marker_tags)
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
        Ok(Some(self.live_of(cx, region, domain, attrs, zone, tags)))
    }

    fn live_of(
        &self,
        cx: &Cx,
        region: &str,
        domain: &str,
        attrs: &SesIdentityAttributes,
        zone: Option<&Zone>,
        tags: BTreeMap<String, String>,
    ) -> Live {
        let dkim = attrs.dkim.as_ref();
        let mail_from = attrs.mail_from.as_ref().map(|m| m.mail_from_domain().to_string());
        let mut outputs = BTreeMap::from([
            ("arn".into(), json!(format!("arn:{}:ses:{region}:{}:identity/{domain}", cx.partition(), cx.account))),
            ("verification_status".into(), json!(attrs.verification.verification_status().as_str())),
            ("verification_token".into(), json!(attrs.verification.verification_token())),
        ]);
        for (i, token) in dkim.map(|d| d.dkim_tokens()).unwrap_or_default().iter().enumerate().take(3) {
            outputs.insert(format!("dkim_name_{}", i + 1), json!(format!("{token}._domainkey.{domain}")));
            outputs.insert(format!("dkim_value_{}", i + 1), json!(format!("{token}.dkim.amazonses.com")));
        }
        Live {
            aws_name: domain.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("domain".into(), json!(domain)),
                ("dkim".into(), json!(dkim.is_some_and(|d| d.dkim_enabled()))),
                ("mail_from_domain".into(), json!(mail_from)),
                ("zone".into(), json!(zone.map(|z| z.name.clone()))),
            ]),
            outputs,
            tags,
        }
    }

    /// DKIM and MAIL FROM as `attrs` say.
    async fn converge(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<(), AwsError> {
        let ses = cx.aws.ses(&r.region);
        let domain = attr_str(attrs, "domain");
        cx.listings.ses_identities.forget(&r.region);
        if attr_bool(attrs, "dkim") {
            ses.verify_domain_dkim().domain(domain).send().await.aws("ses:VerifyDomainDkim")?;
        }
        // VerifyDomainDkim turns Easy DKIM on; only a difference left needs the switch.
        let now =
            ses.get_identity_dkim_attributes().identities(domain).send().await.aws("ses:GetIdentityDkimAttributes")?;
        let enabled = now.dkim_attributes().get(domain).is_some_and(|d| d.dkim_enabled());
        if enabled != attr_bool(attrs, "dkim") {
            ses.set_identity_dkim_enabled()
                .identity(domain)
                .dkim_enabled(attr_bool(attrs, "dkim"))
                .send()
                .await
                .aws("ses:SetIdentityDkimEnabled")?;
        }
        let mut mail_from = ses.set_identity_mail_from_domain().identity(domain);
        if !attr_str(attrs, "mail_from_domain").is_empty() {
            mail_from = mail_from
                .mail_from_domain(attr_str(attrs, "mail_from_domain"))
                .behavior_on_mx_failure(BehaviorOnMxFailure::UseDefaultValue);
        }
        mail_from.send().await.aws("ses:SetIdentityMailFromDomain")?;
        Ok(())
    }
}

#[async_trait]
impl Adapter for SesIdentityAdapter {
    fn kind(&self) -> Kind {
        Kind::SesIdentity
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["domain"]
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let zone = match r.attributes.get("zone").and_then(Value::as_str) {
            Some(z) => Some(cx.zone(z).await?),
            None => None,
        };
        self.observed(cx, &r.region, &r.aws_name, zone.as_ref()).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "ses:VerifyDomainIdentity";
        let zone = cx.zone(attr_str(attrs, "zone")).await?;
        let domain = attr_str(attrs, "domain").to_string();
        if let Some(existing) = self.read(cx, &r.region, &domain, Some(&zone)).await? {
            existing.ensure_owned(cx, OP)?;
        }
        cx.listings.ses_identities.forget(&r.region);
        let token = cx
            .aws
            .ses(&r.region)
            .verify_domain_identity()
            .domain(&domain)
            .send()
            .await
            .aws(OP)?
            .verification_token()
            .to_string();
        let value = format!("\"{token}\"");
        let add = |values: &mut Vec<String>| {
            if !values.contains(&value) {
                values.push(value.clone());
            }
        };
        let tags = cx.tags_of(r);
        edit_shared_values(cx, &zone, &verification_name(&domain), "TXT", 1800, Some((&tags, Kind::SesIdentity)), add)
            .await?;
        self.converge(cx, r, attrs).await?;
        self.read(cx, &r.region, &domain, Some(&zone)).await?.visible("ses:GetIdentityVerificationAttributes")
    }

    async fn update(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>, _: &Live) -> Result<Live, AwsError> {
        let zone = cx.zone(attr_str(attrs, "zone")).await?;
        self.converge(cx, r, attrs).await?;
        self.read(cx, &r.region, attr_str(attrs, "domain"), Some(&zone))
            .await?
            .visible("ses:GetIdentityVerificationAttributes")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        if !live.is_owned_by(&cx.capsule, &cx.env) {
            return Err(AwsError::new(
                ErrorKind::Conflict,
                "ses:DeleteIdentity",
                format!("the SES identity {} is not capsule's: left alone", live.aws_name),
            ));
        }
        cx.listings.ses_identities.forget(&live.region);
        cx.aws.ses(&live.region).delete_identity().identity(&live.aws_name).send().await.aws("ses:DeleteIdentity")?;
        if let Some(zone) = live.attributes.get("zone").and_then(Value::as_str) {
            let zone = cx.zone(zone).await?;
            // Only this identity's token goes; other regions' and accounts' tokens stay.
            let token = live.outputs.get("verification_token").and_then(Value::as_str).unwrap_or_default();
            let value = format!("\"{token}\"");
            let drop = |values: &mut Vec<String>| values.retain(|v| *v != value);
            edit_shared_values(cx, &zone, &verification_name(&live.aws_name), "TXT", 1800, None, drop).await?;
        }
        Ok(())
    }

    /// Domain identities whose verification record in one of the account's zones carries
    /// this capsule environment's marker.
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let identities = listed(cx, &cx.region).await?;
        if identities.is_empty() {
            return Ok(vec![]);
        }
        let zones: Vec<Zone> = hosted_zones(cx)
            .await?
            .iter()
            .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
            .map(|z| Zone { id: z.id().trim_start_matches("/hostedzone/").to_string(), name: fqdn(z.name()) })
            .collect();
        let mut out = Vec::new();
        for domain in identities.keys() {
            // The deepest zone that holds the domain.
            let zone = zones
                .iter()
                .filter(|z| fqdn(domain) == z.name || fqdn(domain).ends_with(&format!(".{}", z.name)))
                .max_by_key(|z| z.name.len());
            let Some(zone) = zone else { continue };
            if let Some(live) = self.observed(cx, &cx.region, domain, Some(zone)).await?
                && live.is_owned_by(&cx.capsule, &cx.env)
            {
                out.push(live);
            }
        }
        Ok(out)
    }
}
