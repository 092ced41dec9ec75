//! What one run reads of the account that is no one capsule environment's: hosted zones and
//! their record sets, ACM certificates with their tags, CloudFront distributions, SES
//! identities. One `AccountListings` per run, shared by every capsule environment's `Cx`, so
//! that planning 20 capsules scans each of these once, not 20 times. Storage only: each
//! listing is read (and dropped after a write) by the adapter that owns the resource type.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use super::adapter::{Listings, Zone};

/// A certificate of a region as listed: its ARN and tags.
pub(crate) type ListedCertificate = (String, BTreeMap<String, String>);

/// A CloudFront distribution as listed: id, ARN, comment (capsule's name for it).
pub(crate) type ListedDistribution = (String, String, String);

/// What SES says of one domain identity (SES v1 reads take up to 100 identities a call).
#[derive(Debug, Clone)]
pub(crate) struct SesIdentityAttributes {
    pub verification: aws_sdk_ses::types::IdentityVerificationAttributes,
    pub dkim: Option<aws_sdk_ses::types::IdentityDkimAttributes>,
    pub mail_from: Option<aws_sdk_ses::types::IdentityMailFromDomainAttributes>,
}

/// Listings of one run that every capsule environment shares (see the module comment).
#[derive(Default)]
pub struct AccountListings {
    /// Hosted zones by normalised name, each looked up at most once (`Cx::zone`).
    pub(crate) zones: Mutex<BTreeMap<String, Arc<OnceCell<Zone>>>>,
    /// Every hosted zone of the account (capsule never creates or deletes one).
    pub(crate) hosted_zones: Listings<Vec<aws_sdk_route53::types::HostedZone>>,
    /// Every record set of a zone by zone id (`route53_record::all_records`), listed again
    /// after capsule changes the zone's records.
    pub(crate) record_sets: Listings<Vec<aws_sdk_route53::types::ResourceRecordSet>>,
    /// Every certificate of a region with its tags, by region (`acm_certificate`).
    pub(crate) certificates: Listings<Vec<ListedCertificate>>,
    /// A certificate's details by ARN, as the observations of a run read them.
    pub(crate) certificate_details: Listings<Option<aws_sdk_acm::types::CertificateDetail>>,
    /// Every CloudFront distribution of the account (one key: CloudFront is global).
    pub(crate) distributions: Listings<Vec<ListedDistribution>>,
    /// Every SES domain identity of a region with its attributes, by region.
    pub(crate) ses_identities: Listings<BTreeMap<String, SesIdentityAttributes>>,
    /// The SES sending quota of a region (messages a day), by region.
    pub(crate) ses_quota: Listings<f64>,
}

impl AccountListings {
    /// The per-run slot of the hosted zone named `name` (normalised), which `Cx::zone` fills.
    pub(crate) fn zone_slot(&self, name: &str) -> Arc<OnceCell<Zone>> {
        let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
        zones.entry(name.to_string()).or_default().clone()
    }
}
