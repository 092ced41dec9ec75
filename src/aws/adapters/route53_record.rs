//! Route 53 records in the hosted zone a capsule's `[dns].zone` names (looked up by name
//! with ListHostedZonesByName: capsule never creates zones; a missing zone, or more than one
//! public zone of that name, is an error that says so).
//!
//! Ownership: records cannot carry tags, so every record capsule writes has a TXT *marker*
//! next to it, written in the same (transactional) change batch:
//!
//! ```text
//! www.example.com.                      A    ALIAS d111.cloudfront.net.
//! _capsule-owner-a.www.example.com.     TXT  "managed-by=capsule capsule:name=shop capsule:env=production capsule:component=web-a capsule:kind=route53_record"
//! ```
//!
//! The marker's name is `_capsule-owner-<type>.<record name>` (one marker per name *and*
//! type, so the A and AAAA records of one domain, written in parallel, never read-modify-
//! write a shared TXT set), its one value the ownership tags (`key=value`, space separated)
//! plus `capsule:kind`: `route53_record` for records this adapter manages, `acm_certificate`
//! for the validation records a certificate writes (see acm_certificate.rs). `Live::tags`
//! are the marker's tags, so `is_owned_by` works as for tagged resources: a record of the
//! desired name and type without capsule's marker is observed as foreign, the plan refuses
//! it, and `create` refuses it with a conflict; `delete` only ever removes a record whose
//! marker is this capsule environment's (and the marker with it).
//!
//! Attributes: `zone` (the zone's name), `type`, `name` (lower case, no trailing dot), and
//! either `ttl` and `values` (sorted; CNAME targets without a trailing dot; TXT values
//! quoted as Route 53 stores them, e.g. `"\"v=spf1 ...\""`) or `alias`: `{"target": DNS
//! name, "hosted_zone": zone id}` (`"cloudfront"` stands for CloudFront's zone
//! `Z2FDTNDATAQYW2`). `zone`, `type` and `name` force a replacement; values, TTL and alias
//! target change in place (UPSERT). Outputs: `name`, `zone_id`.
//!
//! `only_if_absent` (the DMARC record): if a record of that name and type exists that
//! capsule did not write, the desired record is satisfied by it. `observe` then reports the
//! desired attributes and ownership tags (so the plan shows nothing to do) with the output
//! `existing_record: true`; `create` / `update` leave it alone; `delete` leaves it alone
//! too, since it has no capsule marker. If capsule wrote the record, it is managed as usual.
//!
//! Finding a record: first at its desired name (the record and its marker); when that finds
//! no record of this component (a new record, a renamed one, or a name that is still a
//! reference, like the DKIM records' names), the zone is searched for this component's
//! marker, so a renamed record is replaced, not leaked. `list_owned` scans every hosted zone
//! of the account for this capsule environment's markers (the zone is not known without the
//! configuration). So observations read from that scan too: each zone is scanned once per
//! run for every capsule environment (`AccountListings`, dropped when capsule changes the
//! zone), however many records are observed; writes read the names they change afresh.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HostedZone, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::{Value, json};

use crate::aws::adapter::{Visible, attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, TAG_COMPONENT, TAG_ENV, TAG_MANAGED_BY, TAG_NAME};

pub struct Route53RecordAdapter;

/// Route 53 is global; its API lives in us-east-1.
const ROUTE53_REGION: &str = "us-east-1";
/// CloudFront distributions' hosted zone id (the same for every distribution).
pub(super) const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";
/// The marker tag telling which adapter wrote a record.
pub(super) const TAG_KIND: &str = "capsule:kind";
const MARKER_PREFIX: &str = "_capsule-owner-";

pub(super) use crate::aws::adapter::Zone;

/// `Www.Example.com.` -> `www.example.com`; Route 53 lists `*` as `\052`.
pub(super) fn fqdn(name: &str) -> String {
    name.trim().trim_end_matches('.').replace("\\052", "*").to_ascii_lowercase()
}

fn invalid(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(ErrorKind::Invalid, op, e.to_string())
}

impl Cx {
    /// The one public hosted zone named `name`, looked up once per run (as `Cx::network`
    /// is); an error naming the zone and the fix otherwise (not kept: asked again).
    pub(super) async fn zone(&self, name: &str) -> Result<Zone, AwsError> {
        self.zone_slot(&fqdn(name)).get_or_try_init(|| zone_by_name(self, name)).await.cloned()
    }
}

/// The one public hosted zone named `name`; an error naming the zone and the fix otherwise.
async fn zone_by_name(cx: &Cx, name: &str) -> Result<Zone, AwsError> {
    const OP: &str = "route53:ListHostedZonesByName";
    let wanted = fqdn(name);
    if wanted.is_empty() {
        return Err(AwsError::new(
            ErrorKind::Invalid,
            OP,
            "DNS records need a hosted zone: set `[dns] zone = \"example.com\"` in capsule.toml",
        ));
    }
    // Zones are listed by name from `wanted` on; those of that name come first, and may
    // take more than one page (a name can have several zones, private and public).
    let client = cx.aws.route53(ROUTE53_REGION);
    let mut listed = Vec::new();
    let mut next: (String, Option<String>) = (wanted.clone(), None);
    loop {
        let page = client
            .list_hosted_zones_by_name()
            .dns_name(&next.0)
            .set_hosted_zone_id(next.1.take())
            .max_items(100)
            .send()
            .await
            .aws(OP)?;
        listed.extend(page.hosted_zones().iter().filter(|z| fqdn(z.name()) == wanted).cloned());
        let past = page.hosted_zones().iter().any(|z| fqdn(z.name()) != wanted);
        match (page.is_truncated(), page.next_dns_name(), page.next_hosted_zone_id()) {
            (true, Some(name), Some(id)) if !past && fqdn(name) == wanted => {
                next = (name.to_string(), Some(id.to_string()))
            }
            _ => break,
        }
    }
    let same: Vec<_> = listed.iter().collect();
    let public: Vec<_> = same.iter().filter(|z| !z.config().is_some_and(|c| c.private_zone())).collect();
    let id = |z: &aws_sdk_route53::types::HostedZone| z.id().trim_start_matches("/hostedzone/").to_string();
    match public.as_slice() {
        [z] => Ok(Zone { id: id(z), name: wanted }),
        [] if same.is_empty() => Err(AwsError::new(
            ErrorKind::NotFound,
            OP,
            format!(
                "no Route 53 hosted zone named `{wanted}` in this account: create it (aws route53 create-hosted-zone \
                 --name {wanted} --caller-reference <unique>) and delegate the domain to it, or fix `[dns] zone`"
            ),
        )),
        [] => Err(AwsError::new(
            ErrorKind::NotFound,
            OP,
            format!(
                "the hosted zone `{wanted}` is private ({}): capsule writes public records, create a public zone of \
                 that name",
                same.iter().map(|z| id(z)).collect::<Vec<_>>().join(", ")
            ),
        )),
        many => Err(AwsError::new(
            ErrorKind::Conflict,
            OP,
            format!(
                "{} public hosted zones are named `{wanted}` ({}): capsule cannot tell which one is delegated; delete \
                 the unused ones",
                many.len(),
                many.iter().map(|z| id(z)).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// An error unless `name` is `zone` or inside it.
pub(super) fn in_zone(zone: &Zone, name: &str) -> Result<(), AwsError> {
    let name = fqdn(name);
    if name == zone.name || name.ends_with(&format!(".{}", zone.name)) {
        Ok(())
    } else {
        Err(AwsError::new(
            ErrorKind::Invalid,
            "route53:ChangeResourceRecordSets",
            format!("{name} is not in the hosted zone {}: domains must be inside `[dns] zone`", zone.name),
        ))
    }
}

/// The marker record's name for the record `name` of type `rtype`.
pub(super) fn marker_name(name: &str, rtype: &str) -> String {
    format!("{MARKER_PREFIX}{}.{}", rtype.to_ascii_lowercase(), fqdn(name))
}

/// The record a marker stands for: (name, type).
fn marked_by(marker: &str) -> Option<(String, String)> {
    let marker = fqdn(marker);
    let rest = marker.strip_prefix(MARKER_PREFIX)?;
    let (rtype, name) = rest.split_once('.')?;
    Some((name.to_string(), rtype.to_ascii_uppercase()))
}

/// The marker's TXT value: the ownership tags and the kind.
pub(super) fn marker_value(tags: &BTreeMap<String, String>, kind: Kind) -> String {
    let mut parts: Vec<String> = tags
        .iter()
        .filter(|(k, _)| [TAG_MANAGED_BY, TAG_NAME, TAG_ENV, TAG_COMPONENT].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.push(format!("{TAG_KIND}={kind}"));
    format!("\"{}\"", parts.join(" "))
}

/// The tags in a marker record set (empty for anything that is not a capsule marker).
pub(super) fn marker_tags(set: &ResourceRecordSet) -> BTreeMap<String, String> {
    if set.r#type() != &RrType::Txt {
        return BTreeMap::new();
    }
    let Some(value) = set.resource_records().first().map(|r| r.value()) else {
        return BTreeMap::new();
    };
    let tags: BTreeMap<String, String> = value
        .trim_matches('"')
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if tags.get(TAG_MANAGED_BY).map(String::as_str) == Some("capsule") { tags } else { BTreeMap::new() }
}

/// The marker belongs to this capsule environment and was written for `kind`.
pub(super) fn owned_marker(cx: &Cx, tags: &BTreeMap<String, String>, kind: Kind) -> bool {
    tags.get(TAG_MANAGED_BY).map(String::as_str) == Some("capsule")
        && tags.get(TAG_NAME) == Some(&cx.capsule)
        && tags.get(TAG_ENV) == Some(&cx.env)
        && tags.get(TAG_KIND).map(String::as_str) == Some(kind.as_str())
}

/// Every record set named exactly `name` (all types).
pub(super) async fn records_at(cx: &Cx, zone: &Zone, name: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    const OP: &str = "route53:ListResourceRecordSets";
    let wanted = fqdn(name);
    let client = cx.aws.route53(ROUTE53_REGION);
    let mut out = Vec::new();
    let mut start: (String, Option<RrType>, Option<String>) = (wanted.clone(), None, None);
    loop {
        let page = client
            .list_resource_record_sets()
            .hosted_zone_id(&zone.id)
            .start_record_name(&start.0)
            .set_start_record_type(start.1.clone())
            .set_start_record_identifier(start.2.clone())
            .max_items(20)
            .send()
            .await
            .aws(OP)?;
        let mut past = false;
        for set in page.resource_record_sets() {
            if fqdn(set.name()) == wanted {
                out.push(set.clone());
            } else {
                past = true;
            }
        }
        match (past || !page.is_truncated(), page.next_record_name()) {
            (false, Some(next)) if fqdn(next) == wanted => {
                start = (
                    next.to_string(),
                    page.next_record_type().cloned(),
                    page.next_record_identifier().map(str::to_string),
                );
            }
            _ => return Ok(out),
        }
    }
}

/// Every record set named exactly `name` (all types), from the run's listing of the zone
/// (`all_records`): what observations read, since listing owned records scans every zone
/// anyway. Writes read with `records_at`.
pub(super) async fn listed_records_at(cx: &Cx, zone: &Zone, name: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let wanted = fqdn(name);
    Ok(all_records(cx, &zone.id).await?.iter().filter(|s| fqdn(s.name()) == wanted).cloned().collect())
}

/// Every hosted zone of the account, listed once per run (capsule never makes one).
pub(super) async fn hosted_zones(cx: &Cx) -> Result<Arc<Vec<HostedZone>>, AwsError> {
    cx.listings
        .hosted_zones
        .get_or_list("", || async {
            let mut zones = Vec::new();
            let mut pages = cx.aws.route53(ROUTE53_REGION).list_hosted_zones().into_paginator().send();
            while let Some(page) = pages.next().await {
                zones.extend(page.aws("route53:ListHostedZones")?.hosted_zones().iter().cloned());
            }
            Ok(zones)
        })
        .await
}

/// Every record set of the zone, listed once per run and again after capsule changed the
/// zone (every change goes through `change`): each record found by its marker and each
/// listing of owned records would scan the zone otherwise (Route 53 allows 5 requests a
/// second per account).
pub(super) async fn all_records(cx: &Cx, zone_id: &str) -> Result<Arc<Vec<ResourceRecordSet>>, AwsError> {
    cx.listings.record_sets.get_or_list(zone_id, || list_records(cx, zone_id)).await
}

async fn list_records(cx: &Cx, zone_id: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let client = cx.aws.route53(ROUTE53_REGION);
    let mut out = Vec::new();
    let mut start: Option<(String, Option<RrType>, Option<String>)> = None;
    loop {
        let mut req = client.list_resource_record_sets().hosted_zone_id(zone_id).max_items(300);
        if let Some((name, rtype, id)) = &start {
            req = req
                .start_record_name(name)
                .set_start_record_type(rtype.clone())
                .set_start_record_identifier(id.clone());
        }
        let page = req.send().await.aws("route53:ListResourceRecordSets")?;
        out.extend(page.resource_record_sets().iter().cloned());
        match (page.is_truncated(), page.next_record_name()) {
            (true, Some(next)) => {
                start = Some((
                    next.to_string(),
                    page.next_record_type().cloned(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => return Ok(out),
        }
    }
}

/// A record as capsule describes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RecordSpec {
    pub name: String,
    pub rtype: String,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    /// (target DNS name, hosted zone id)
    pub alias: Option<(String, String)>,
}

impl RecordSpec {
    /// From (resolved, normalised) attributes.
    fn of(attrs: &BTreeMap<String, Value>) -> Result<RecordSpec, AwsError> {
        let name = attrs.get("name").and_then(Value::as_str).map(fqdn).unwrap_or_default();
        let rtype = attr_str(attrs, "type").to_ascii_uppercase();
        if name.is_empty() || rtype.is_empty() {
            return Err(invalid("route53:ChangeResourceRecordSets", "a record needs a `name` and a `type`"));
        }
        let alias = attrs
            .get("alias")
            .and_then(|a| Some((a.get("target")?.as_str()?.to_string(), a.get("hosted_zone")?.as_str()?.to_string())));
        let values = attrs
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Ok(RecordSpec { name, rtype, ttl: attrs.get("ttl").and_then(Value::as_i64), values, alias })
    }

    fn record_set(&self) -> Result<ResourceRecordSet, AwsError> {
        const OP: &str = "route53:ChangeResourceRecordSets";
        let mut b = ResourceRecordSet::builder().name(&self.name).r#type(RrType::from(self.rtype.as_str()));
        if let Some((target, zone)) = &self.alias {
            b = b.alias_target(
                AliasTarget::builder()
                    .dns_name(target)
                    .hosted_zone_id(zone)
                    .evaluate_target_health(false)
                    .build()
                    .map_err(|e| invalid(OP, e))?,
            );
        } else {
            b = b.ttl(self.ttl.unwrap_or(300));
            for v in &self.values {
                b = b.resource_records(ResourceRecord::builder().value(v).build().map_err(|e| invalid(OP, e))?);
            }
        }
        b.build().map_err(|e| invalid(OP, e))
    }

    fn marker_set(&self, tags: &BTreeMap<String, String>, kind: Kind) -> Result<ResourceRecordSet, AwsError> {
        RecordSpec {
            name: marker_name(&self.name, &self.rtype),
            rtype: "TXT".into(),
            ttl: Some(300),
            values: vec![marker_value(tags, kind)],
            alias: None,
        }
        .record_set()
    }
}

/// A record set's attributes in capsule's shape (without `zone`).
fn attributes_of(set: &ResourceRecordSet) -> BTreeMap<String, Value> {
    let rtype = set.r#type().as_str().to_string();
    let mut a = BTreeMap::from([("name".into(), json!(fqdn(set.name()))), ("type".into(), json!(rtype))]);
    if let Some(alias) = set.alias_target() {
        a.insert("alias".into(), json!({ "target": fqdn(alias.dns_name()), "hosted_zone": alias.hosted_zone_id() }));
    } else {
        let mut values: Vec<String> = set.resource_records().iter().map(|r| value_of(&rtype, r.value())).collect();
        values.sort();
        a.insert("ttl".into(), json!(set.ttl()));
        a.insert("values".into(), json!(values));
    }
    a
}

/// A record value as compared: host names (CNAME, and MX's exchange) without the
/// trailing dot, in lower case; anything else as written.
fn value_of(rtype: &str, v: &str) -> String {
    match rtype {
        "CNAME" | "NS" | "PTR" => fqdn(v),
        "MX" => match v.split_once(' ') {
            Some((prio, host)) => format!("{} {}", prio.trim(), fqdn(host)),
            None => v.to_string(),
        },
        _ => v.to_string(),
    }
}

/// Writes `spec` and its marker in one change batch. `create` uses CREATE for the record
/// (AWS then refuses, atomically, one that appeared since it was checked); otherwise UPSERT.
pub(super) async fn write(
    cx: &Cx,
    zone: &Zone,
    spec: &RecordSpec,
    tags: &BTreeMap<String, String>,
    kind: Kind,
    create: bool,
) -> Result<(), AwsError> {
    const OP: &str = "route53:ChangeResourceRecordSets";
    let action = if create { ChangeAction::Create } else { ChangeAction::Upsert };
    let changes = vec![
        Change::builder().action(action).resource_record_set(spec.record_set()?).build().map_err(|e| invalid(OP, e))?,
        Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(spec.marker_set(tags, kind)?)
            .build()
            .map_err(|e| invalid(OP, e))?,
    ];
    change(cx, zone, changes, &format!("capsule {}/{}: {} {}", cx.capsule, cx.env, spec.rtype, spec.name)).await
}

/// Values of a record set shared with others (SES's `_amazonses` TXT holds one token per
/// region and account), changed without losing theirs: `edit` turns the current values into
/// the wanted ones, and the set is swapped in one batch that deletes exactly what was read
/// (Route 53 refuses the batch if the set changed meanwhile: read again, up to 3 times).
/// The marker is written with `tags`, or deleted with the set when `tags` is `None`.
pub(super) async fn edit_shared_values(
    cx: &Cx,
    zone: &Zone,
    name: &str,
    rtype: &str,
    ttl: i64,
    tags: Option<(&BTreeMap<String, String>, Kind)>,
    edit: impl Fn(&mut Vec<String>),
) -> Result<(), AwsError> {
    const OP: &str = "route53:ChangeResourceRecordSets";
    let action = |a: ChangeAction, set: ResourceRecordSet| {
        Change::builder().action(a).resource_record_set(set).build().map_err(|e| invalid(OP, e))
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = records_at(cx, zone, name).await?.into_iter().find(|s| s.r#type().as_str() == rtype);
        let mut values: Vec<String> =
            current.iter().flat_map(|s| s.resource_records().iter().map(|r| r.value().to_string())).collect();
        let before = values.clone();
        edit(&mut values);
        let mut changes = Vec::new();
        if values != before {
            changes.extend(current.clone().map(|set| action(ChangeAction::Delete, set)).transpose()?);
            if !values.is_empty() {
                let ttl = current.as_ref().and_then(|s| s.ttl()).unwrap_or(ttl);
                let spec = RecordSpec { name: fqdn(name), rtype: rtype.into(), ttl: Some(ttl), values, alias: None };
                changes.push(action(ChangeAction::Create, spec.record_set()?)?);
            }
        }
        let spec = RecordSpec { name: fqdn(name), rtype: rtype.into(), ttl: None, values: Vec::new(), alias: None };
        match tags {
            Some((tags, kind)) => changes.push(action(ChangeAction::Upsert, spec.marker_set(tags, kind)?)?),
            None => {
                let marker = records_at(cx, zone, &marker_name(name, rtype)).await?;
                changes.extend(
                    marker.into_iter().map(|m| action(ChangeAction::Delete, m)).collect::<Result<Vec<_>, _>>()?,
                );
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let comment = format!("capsule {}/{}: {rtype} {name}", cx.capsule, cx.env);
        match change(cx, zone, changes, &comment).await {
            Err(e) if attempt < 3 && e.code.as_deref() == Some("InvalidChangeBatch") => continue,
            other => return other,
        }
    }
}

async fn change(cx: &Cx, zone: &Zone, changes: Vec<Change>, comment: &str) -> Result<(), AwsError> {
    const OP: &str = "route53:ChangeResourceRecordSets";
    let batch =
        ChangeBatch::builder().set_changes(Some(changes)).comment(comment).build().map_err(|e| invalid(OP, e))?;
    let changed = cx
        .aws
        .route53(ROUTE53_REGION)
        .change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(batch)
        .send()
        .await;
    // Whatever the answer (a timeout may hide a change made), the zone's listing is old.
    cx.listings.record_sets.forget(&zone.id);
    changed.aws(OP).map_err(|e| match e.code.as_deref() {
        Some("InvalidChangeBatch") if e.message.contains("already exists") => {
            AwsError { kind: ErrorKind::Conflict, ..e }
        }
        _ => e,
    })?;
    Ok(())
}

/// Deletes the record `name`/`rtype` and its marker if the marker is `owns`'s; a record
/// without capsule's marker is left alone. Gone already is fine.
pub(super) async fn remove(
    cx: &Cx,
    zone: &Zone,
    name: &str,
    rtype: &str,
    owns: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<(), AwsError> {
    const OP: &str = "route53:ChangeResourceRecordSets";
    let marker = records_at(cx, zone, &marker_name(name, rtype)).await?;
    let Some(marker) = marker.into_iter().find(|s| owns(&marker_tags(s))) else {
        return Ok(());
    };
    let record = records_at(cx, zone, name).await?.into_iter().find(|s| s.r#type().as_str() == rtype);
    let mut changes = Vec::new();
    for set in record.into_iter().chain([marker]) {
        changes.push(
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(set)
                .build()
                .map_err(|e| invalid(OP, e))?,
        );
    }
    match change(cx, zone, changes, &format!("capsule {}/{}: delete {rtype} {name}", cx.capsule, cx.env)).await {
        // Deleted by someone else meanwhile.
        Err(e) if e.message.contains("not found") => Ok(()),
        other => other,
    }
}

/// Which record an observation found.
enum Found {
    /// A record with this component's marker.
    Mine(Live),
    /// A record of the desired name and type that is not this component's.
    Other(Live),
    None,
}

impl Route53RecordAdapter {
    fn live_of(&self, cx: &Cx, zone: &Zone, set: &ResourceRecordSet, tags: BTreeMap<String, String>) -> Live {
        let mut attributes = attributes_of(set);
        attributes.insert("zone".into(), json!(zone.name));
        let name = fqdn(set.name());
        Live {
            aws_name: name.clone(),
            region: cx.region.clone(),
            attributes,
            outputs: BTreeMap::from([("name".into(), json!(name)), ("zone_id".into(), json!(zone.id))]),
            tags,
        }
    }

    /// The record of `name`/`rtype` and the tags of its marker, if any, read now.
    async fn at(
        &self,
        cx: &Cx,
        zone: &Zone,
        name: &str,
        rtype: &str,
    ) -> Result<Option<(ResourceRecordSet, BTreeMap<String, String>)>, AwsError> {
        let Some(set) = records_at(cx, zone, name).await?.into_iter().find(|s| s.r#type().as_str() == rtype) else {
            return Ok(None);
        };
        let markers = records_at(cx, zone, &marker_name(name, rtype)).await?;
        Ok(Some((set, Self::tags_in(&markers))))
    }

    /// Like `at`, from the run's listing of the zone (observations).
    async fn listed_at(
        &self,
        cx: &Cx,
        zone: &Zone,
        name: &str,
        rtype: &str,
    ) -> Result<Option<(ResourceRecordSet, BTreeMap<String, String>)>, AwsError> {
        let sets = listed_records_at(cx, zone, name).await?;
        let Some(set) = sets.into_iter().find(|s| s.r#type().as_str() == rtype) else { return Ok(None) };
        let markers = listed_records_at(cx, zone, &marker_name(name, rtype)).await?;
        Ok(Some((set, Self::tags_in(&markers))))
    }

    /// The tags of the capsule marker among `markers`, if any.
    fn tags_in(markers: &[ResourceRecordSet]) -> BTreeMap<String, String> {
        markers.iter().map(marker_tags).find(|t| !t.is_empty()).unwrap_or_default()
    }

    fn is_mine(cx: &Cx, r: &Resource, tags: &BTreeMap<String, String>) -> bool {
        owned_marker(cx, tags, Kind::Route53Record) && tags.get(TAG_COMPONENT) == Some(&r.address.name)
    }

    /// This component's record: at its desired name if that is known, else wherever its
    /// marker is in the zone.
    async fn find(
        &self,
        cx: &Cx,
        r: &Resource,
        zone: &Zone,
        attrs: &BTreeMap<String, Value>,
    ) -> Result<Found, AwsError> {
        let rtype = attr_str(attrs, "type").to_ascii_uppercase();
        let name = attrs.get("name").and_then(Value::as_str).map(fqdn);
        let mut other = None;
        if let Some(name) = &name {
            in_zone(zone, name)?;
        }
        if let Some(name) = &name
            && let Some((set, tags)) = self.listed_at(cx, zone, name, &rtype).await?
        {
            if Self::is_mine(cx, r, &tags) {
                return Ok(Found::Mine(self.live_of(cx, zone, &set, tags)));
            }
            other = Some(self.live_of(cx, zone, &set, tags));
        }
        // Renamed, or named by a reference: look for this component's marker.
        for set in all_records(cx, &zone.id).await?.iter() {
            let tags = marker_tags(set);
            if !Self::is_mine(cx, r, &tags) {
                continue;
            }
            let Some((mname, mtype)) = marked_by(set.name()) else { continue };
            if let Some((record, _)) = self.listed_at(cx, zone, &mname, &mtype).await? {
                return Ok(Found::Mine(self.live_of(cx, zone, &record, tags)));
            }
        }
        Ok(other.map(Found::Other).unwrap_or(Found::None))
    }

    /// The desired record, reported as satisfied by a record capsule did not write.
    fn satisfied(&self, r: &Resource, attrs: &BTreeMap<String, Value>, other: &Live) -> Live {
        let mut attrs = attrs.clone();
        self.normalize(&mut attrs);
        let mut outputs = other.outputs.clone();
        outputs.insert("existing_record".into(), json!(true));
        Live { attributes: attrs, outputs, tags: r.tags.clone(), ..other.clone() }
    }

    async fn read(&self, cx: &Cx, zone: &Zone, spec: &RecordSpec) -> Result<Option<Live>, AwsError> {
        Ok(self.at(cx, zone, &spec.name, &spec.rtype).await?.map(|(set, tags)| self.live_of(cx, zone, &set, tags)))
    }

    /// Writes the record for create and update: a record of this name and type capsule did
    /// not write is refused (or, with `only_if_absent`, left as the satisfying record).
    async fn put(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "route53:ChangeResourceRecordSets";
        let zone = cx.zone(attr_str(attrs, "zone")).await?;
        let spec = RecordSpec::of(attrs)?;
        in_zone(&zone, &spec.name)?;
        let here = records_at(cx, &zone, &spec.name).await?;
        let same = here.iter().find(|s| s.r#type().as_str() == spec.rtype);
        let tags = match same {
            Some(_) => self.at(cx, &zone, &spec.name, &spec.rtype).await?.map(|(_, t)| t).unwrap_or_default(),
            None => BTreeMap::new(),
        };
        if let Some(set) = same
            && !Self::is_mine(cx, r, &tags)
        {
            let live = self.live_of(cx, &zone, set, tags.clone());
            if attr_bool(attrs, "only_if_absent") && !owned_marker(cx, &tags, Kind::Route53Record) {
                return Ok(self.satisfied(r, attrs, &live));
            }
            let whose = match tags.get(TAG_COMPONENT) {
                Some(c) => format!(
                    "capsule {}/{} ({c})",
                    tags.get(TAG_NAME).map(String::as_str).unwrap_or("?"),
                    tags.get(TAG_ENV).map(String::as_str).unwrap_or("?")
                ),
                None => format!("someone else (it has no {} marker)", marker_name(&spec.name, &spec.rtype)),
            };
            return Err(AwsError::new(
                ErrorKind::Conflict,
                OP,
                format!(
                    "the {} record {} in zone {} was written by {whose}: capsule never overwrites it; delete it or \
                     choose another name",
                    spec.rtype, spec.name, zone.name
                ),
            ));
        }
        // A CNAME cannot share its name with any other record.
        let clash = here
            .iter()
            .find(|s| s.r#type().as_str() != spec.rtype && (spec.rtype == "CNAME" || s.r#type() == &RrType::Cname));
        if let Some(clash) = clash {
            return Err(AwsError::new(
                ErrorKind::Conflict,
                OP,
                format!(
                    "{} in zone {} already has a {} record, which a {} record cannot sit next to; remove it or choose \
                     another name",
                    spec.name,
                    zone.name,
                    clash.r#type().as_str(),
                    spec.rtype
                ),
            ));
        }
        write(cx, &zone, &spec, &r.tags, Kind::Route53Record, same.is_none()).await?;
        self.read(cx, &zone, &spec).await?.visible("route53:ListResourceRecordSets")
    }
}

#[async_trait]
impl Adapter for Route53RecordAdapter {
    fn kind(&self) -> Kind {
        Kind::Route53Record
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["zone", "type", "name"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(Value::String(z)) = attrs.get_mut("zone") {
            *z = fqdn(z);
        }
        if let Some(Value::String(n)) = attrs.get_mut("name") {
            *n = fqdn(n);
        }
        let rtype = attr_str(attrs, "type").to_ascii_uppercase();
        attrs.insert("type".into(), json!(rtype));
        if let Some(Value::Array(values)) = attrs.get_mut("values") {
            for v in values.iter_mut() {
                if let Value::String(s) = v {
                    *s = value_of(&rtype, s);
                }
            }
            values.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
        if let Some(alias) = attrs.get_mut("alias").and_then(Value::as_object_mut) {
            if let Some(Value::String(t)) = alias.get_mut("target") {
                *t = fqdn(t);
            }
            if alias.get("hosted_zone").and_then(Value::as_str) == Some("cloudfront") {
                alias.insert("hosted_zone".into(), json!(CLOUDFRONT_ZONE));
            }
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let zone = cx.zone(attr_str(&r.attributes, "zone")).await?;
        Ok(match self.find(cx, r, &zone, &r.attributes).await? {
            Found::Mine(live) => {
                let mut live = live;
                if let Some(v) = r.attributes.get("only_if_absent") {
                    live.attributes.insert("only_if_absent".into(), v.clone());
                }
                Some(live)
            }
            Found::Other(live)
                if attr_bool(&r.attributes, "only_if_absent") && !owned_marker(cx, &live.tags, Kind::Route53Record) =>
            {
                Some(self.satisfied(r, &r.attributes, &live))
            }
            Found::Other(live) => Some(live),
            Found::None => None,
        })
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let mut live = self.put(cx, r, attrs).await?;
        if let Some(v) = attrs.get("only_if_absent") {
            live.attributes.insert("only_if_absent".into(), v.clone());
        }
        Ok(live)
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        _live: &Live,
    ) -> Result<Live, AwsError> {
        self.create(cx, r, attrs).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let zone = match cx.zone(attr_str(&live.attributes, "zone")).await {
            Ok(z) => z,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let component = live.component().map(str::to_string);
        let owns = |tags: &BTreeMap<String, String>| {
            owned_marker(cx, tags, Kind::Route53Record)
                && (component.is_none() || tags.get(TAG_COMPONENT) == component.as_ref())
        };
        remove(cx, &zone, &live.aws_name, attr_str(&live.attributes, "type"), owns).await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let zones: Vec<Zone> = hosted_zones(cx)
            .await?
            .iter()
            .map(|z| Zone { id: z.id().trim_start_matches("/hostedzone/").to_string(), name: fqdn(z.name()) })
            .collect();
        let mut out = Vec::new();
        for zone in zones {
            // A zone deleted since it was listed holds nothing of ours.
            let Some(sets) = all_records(cx, &zone.id).await.found()? else { continue };
            for marker in sets.iter() {
                let tags = marker_tags(marker);
                if !owned_marker(cx, &tags, Kind::Route53Record) {
                    continue;
                }
                let Some((name, rtype)) = marked_by(marker.name()) else { continue };
                let record = sets.iter().find(|s| fqdn(s.name()) == name && s.r#type().as_str() == rtype);
                out.push(match record {
                    Some(set) => self.live_of(cx, &zone, set, tags),
                    // A marker whose record is gone: listed so that delete removes it.
                    None => Live {
                        aws_name: name.clone(),
                        region: cx.region.clone(),
                        attributes: BTreeMap::from([
                            ("zone".into(), json!(zone.name)),
                            ("type".into(), json!(rtype)),
                            ("name".into(), json!(name)),
                        ]),
                        outputs: BTreeMap::from([("name".into(), json!(name)), ("zone_id".into(), json!(zone.id))]),
                        tags,
                    },
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_name_and_parse() {
        assert_eq!(marker_name("WWW.Example.com.", "AAAA"), "_capsule-owner-aaaa.www.example.com");
        assert_eq!(
            marked_by("_capsule-owner-cname._abc.www.example.com."),
            Some(("_abc.www.example.com".into(), "CNAME".into()))
        );
        assert_eq!(marked_by("www.example.com."), None);
        let tags = crate::model::ownership_tags("shop", "production", "web-a");
        let value = marker_value(&tags, Kind::Route53Record);
        let set = ResourceRecordSet::builder()
            .name("_capsule-owner-a.www.example.com.")
            .r#type(RrType::Txt)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap();
        let parsed = marker_tags(&set);
        assert_eq!(parsed.get(TAG_COMPONENT).map(String::as_str), Some("web-a"));
        assert_eq!(parsed.get(TAG_KIND).map(String::as_str), Some("route53_record"));
        assert!(Live { tags: parsed, ..Live::default() }.is_owned_by("shop", "production"));
    }

    #[test]
    fn values_compare_normalised() {
        assert_eq!(value_of("CNAME", "_X.acm-validations.aws."), "_x.acm-validations.aws");
        assert_eq!(
            value_of("MX", "10 Feedback-SMTP.eu-west-1.amazonses.com."),
            "10 feedback-smtp.eu-west-1.amazonses.com"
        );
        assert_eq!(value_of("TXT", "\"v=DMARC1; p=none;\""), "\"v=DMARC1; p=none;\"");
        let mut attrs: BTreeMap<String, Value> = serde_json::from_value(json!({
            "zone": "Example.com.", "type": "a", "name": "WWW.example.com",
            "alias": { "target": "D1.cloudfront.net.", "hosted_zone": "cloudfront" },
        }))
        .unwrap();
        Route53RecordAdapter.normalize(&mut attrs);
        assert_eq!(
            Value::Object(attrs.into_iter().collect()),
            json!({ "zone": "example.com", "type": "A", "name": "www.example.com",
                    "alias": { "target": "d1.cloudfront.net", "hosted_zone": CLOUDFRONT_ZONE } })
        );
    }
}
