//! What the EC2 network adapters share. VPCs, subnets, gateways, route tables, addresses,
//! endpoints and flow logs have no names AWS keeps unique, so capsule finds them by its
//! ownership tags (component included); here are those filters, the tags to create with,
//! the `az:N` zone placeholder and the wait for deletes AWS refuses while dependents go.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::{Value, json};

use crate::aws::{AwsError, Cx, ErrorKind};
use crate::model::{Resource, TAG_COMPONENT, TAG_ENV, TAG_NAME};

pub(super) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Everything of this capsule environment.
pub(super) fn owned_filters(cx: &Cx) -> Vec<Filter> {
    vec![filter(&format!("tag:{TAG_NAME}"), &cx.capsule), filter(&format!("tag:{TAG_ENV}"), &cx.env)]
}

/// The one resource of this capsule environment that is `r`.
pub(super) fn component_filters(cx: &Cx, r: &Resource) -> Vec<Filter> {
    let mut filters = owned_filters(cx);
    filters.push(filter(&format!("tag:{TAG_COMPONENT}"), &r.address.name));
    filters
}

/// How to find `r`: by the id this run created it with (tag filters may not show a
/// just-created resource yet), else by its ownership tags.
pub(super) enum Lookup {
    Id(String),
    Tags(Vec<Filter>),
}

impl Lookup {
    pub(super) fn of(cx: &Cx, r: &Resource) -> Lookup {
        match cx.created(&r.address.to_string()) {
            Some(id) => Lookup::Id(id),
            None => Lookup::Tags(component_filters(cx, r)),
        }
    }

    /// (ids, filters) for a Describe call.
    pub(super) fn split(self) -> (Option<Vec<String>>, Option<Vec<Filter>>) {
        match self {
            Lookup::Id(id) => (Some(vec![id]), None),
            Lookup::Tags(filters) => (None, Some(filters)),
        }
    }
}

/// Filters that find `r`: by the id this run created it with (`id_filter` names the id,
/// e.g. `route-table-id`), else by its ownership tags.
pub(super) fn filters_for(cx: &Cx, r: &Resource, id_filter: &str) -> Vec<Filter> {
    match Lookup::of(cx, r) {
        Lookup::Id(id) => vec![filter(id_filter, &id)],
        Lookup::Tags(filters) => filters,
    }
}

/// Refuses to create `r` again when this run did already and only a read has not found it
/// yet: a temporary failure, so the retry reads again (by id) instead of making another.
pub(super) fn not_again(cx: &Cx, r: &Resource, operation: &'static str) -> Result<(), AwsError> {
    match cx.created(&r.address.to_string()) {
        Some(id) => {
            Err(AwsError::new(ErrorKind::Transient, operation, format!("{id} was created and is not visible yet")))
        }
        None => Ok(()),
    }
}

/// The idempotency token of creating `r` in this run (for the calls that take one): a create
/// AWS performed but whose answer was lost, sent again, makes nothing new; a later run's
/// create is a new request.
pub(super) fn client_token(cx: &Cx, r: &Resource) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("{}/{}", cx.run_id(), r.address).as_bytes()))[..32].to_string()
}

/// Records that `r` was created as `id`: a retry of the whole create then finds it by that
/// id rather than creating another.
pub(super) fn created(cx: &Cx, r: &Resource, id: &str) {
    cx.remember_created(&r.address.to_string(), id);
}

/// Tags to create `r` with: capsule's ownership tags and `Name` (what the console shows).
pub(super) fn tag_spec(cx: &Cx, r: &Resource, kind: ResourceType) -> TagSpecification {
    let mut tags = cx.tags_of(r);
    tags.insert("Name".into(), r.aws_name.clone());
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build()
}

pub(super) fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    super::tag_map(tags, |t| (t.key(), t.value()))
}

/// The zone an `az:N` placeholder stands for: the Nth zone of the region where Fargate
/// runs; any other value is a zone name already.
pub(super) async fn zone_of(cx: &Cx, zone: &str) -> Result<String, AwsError> {
    let Some(n) = zone.strip_prefix("az:").and_then(|n| n.parse::<usize>().ok()) else {
        return Ok(zone.to_string());
    };
    let zones = cx.zones().await?;
    zones.get(n.wrapping_sub(1)).cloned().ok_or_else(|| {
        AwsError::new(
            ErrorKind::Invalid,
            "ec2:DescribeAvailabilityZones",
            format!(
                "{} has {} availability zones where Fargate runs; [network] azs asks for {n}",
                cx.region,
                zones.len()
            ),
        )
    })
}

/// A live zone in the shape of the desired attribute: the placeholder when it is the zone
/// the placeholder stands for, the zone name otherwise.
pub(super) async fn zone_seen(cx: &Cx, desired: Option<&Value>, live: &str) -> Result<Value, AwsError> {
    if let Some(placeholder) = desired.and_then(Value::as_str).filter(|z| z.starts_with("az:"))
        && zone_of(cx, placeholder).await? == live
    {
        return Ok(json!(placeholder));
    }
    Ok(json!(live))
}

/// Runs `call` until AWS stops refusing it with `DependencyViolation` (or another of
/// `codes`) while what depended on the resource lets go (network interfaces of deleted
/// tasks, endpoints and load balancers, NAT gateways on their way out); at most five
/// minutes. Already gone is success.
pub(super) async fn until_released<F, Fut>(codes: &[&str], mut call: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e)
                if e.code.as_deref().is_some_and(|c| c == "DependencyViolation" || codes.contains(&c))
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(poll_interval()).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How often capsule looks again while waiting for EC2 (`CAPSULE_EC2_POLL`, default 5s).
pub(super) fn poll_interval() -> Duration {
    std::env::var("CAPSULE_EC2_POLL")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(Duration::from_secs(5))
}

/// Ids as one sorted list without repeats.
pub(super) fn sorted_owned(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}
