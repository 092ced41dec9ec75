//! The contract every resource type implements (DESIGN section 3): `observe` (absent is
//! `Ok(None)`), `create` (adopts a tagged resource that already exists), `update`,
//! `delete` (already gone is `Ok`), and `list_owned` to find what a capsule no longer
//! declares. Attributes cross this boundary in the normalised shape the planner compares.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::account::AccountListings;
use super::{Aws, AwsError, AwsResultExt, ErrorKind};
use crate::model::{Kind, Resource, TAG_COMPONENT, TAG_ENV, TAG_MANAGED_BY, TAG_NAME};

/// A resource as it is live in AWS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// The AWS name or identifier the adapter deletes by.
    pub aws_name: String,
    pub region: String,
    /// Normalised attributes, comparable with the desired ones.
    pub attributes: BTreeMap<String, Value>,
    /// What other resources may reference (`arn`, `id`, `name`, ...).
    pub outputs: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
}

impl Live {
    /// Carries capsule's ownership tags for this capsule and environment.
    pub fn is_owned_by(&self, capsule: &str, env: &str) -> bool {
        self.tags.get(TAG_MANAGED_BY).map(String::as_str) == Some("capsule")
            && self.tags.get(TAG_NAME).map(String::as_str) == Some(capsule)
            && self.tags.get(TAG_ENV).map(String::as_str) == Some(env)
    }
    /// The `capsule:component` tag: the name part of the resource's address.
    pub fn component(&self) -> Option<&str> {
        self.tags.get(TAG_COMPONENT).map(String::as_str)
    }
}

/// Regions where Fargate runs in some availability zones only, by zone id
/// (docs.aws.amazon.com/AmazonECS/latest/developerguide/AWS_Fargate-Regions.html).
const FARGATE_ZONES: &[(&str, &[&str])] = &[
    ("us-west-1", &["usw1-az1", "usw1-az3"]),
    ("ap-northeast-1", &["apne1-az1", "apne1-az2", "apne1-az4"]),
    ("cn-north-1", &["cnn1-az1", "cnn1-az2"]),
];

/// Whether Fargate runs in the zone with this id.
pub fn fargate_zone(region: &str, zone_id: &str) -> bool {
    FARGATE_ZONES.iter().find(|(r, _)| *r == region).is_none_or(|(_, ids)| ids.contains(&zone_id))
}

/// A public hosted zone found by name, looked up once per run (`Cx::zone`, in
/// route53_record.rs next to the lookup).
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Lower case, no trailing dot.
    pub name: String,
}

/// This capsule environment's load balancers in one region, each with its tags.
pub(crate) type OwnedLoadBalancers =
    Vec<(aws_sdk_elasticloadbalancingv2::types::LoadBalancer, BTreeMap<String, String>)>;

/// Listings kept for one run, by key (a region, a hosted zone id): each is read at most
/// once until `forget` drops it after a write that changes it; a read still running then
/// fills its old slot, which nobody asks again.
pub(crate) struct Listings<T>(Mutex<BTreeMap<String, Arc<OnceCell<Arc<T>>>>>);

impl<T> Default for Listings<T> {
    fn default() -> Self {
        Listings(Mutex::default())
    }
}

impl<T> Listings<T> {
    /// The listing under `key`, read by `list` unless it is kept already (an error is not).
    pub(crate) async fn get_or_list<F, Fut>(&self, key: &str, list: F) -> Result<Arc<T>, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let slot = self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(key.to_string()).or_default().clone();
        slot.get_or_try_init(|| async { list().await.map(Arc::new) }).await.cloned()
    }

    pub(crate) fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

/// What adapters share during one run for one capsule environment.
pub struct Cx {
    pub aws: Aws,
    pub account: String,
    pub capsule: String,
    pub env: String,
    pub region: String,
    /// Deleting or replacing stateful resources is allowed (`--allow-destroy`).
    pub allow_destroy: bool,
    zones_of_region: OnceCell<Arc<Vec<String>>>,
    /// The capsule's load balancers by region (`lb::owned_load_balancers`), which every
    /// listener and rule read needs: listed once, and again after a load balancer is written.
    pub(crate) load_balancers: Listings<OwnedLoadBalancers>,
    /// Release commands this run ran, by image and command: services sharing one run it
    /// once, and a retried rollout does not run it again (`ecs_service::release`).
    pub(crate) releases: Listings<Result<(), AwsError>>,
    /// The run's listings of what no one capsule environment owns (zones, certificates,
    /// distributions, SES identities), shared with the other capsule environments of the run.
    pub(crate) listings: Arc<AccountListings>,
    /// What the observation of the desired resources just read, by kind, region and AWS
    /// name, for the listings of owned resources that follow it (`Cx::observed`).
    observed: Mutex<BTreeMap<(Kind, String, String), Live>>,
    /// The ids of what this run created, by address: EC2 network resources have no name AWS
    /// keeps unique and are found by tags, which a just-created one may not match yet, so
    /// a retried create reads its first attempt's resource by id instead of making another.
    created: Mutex<BTreeMap<String, String>>,
    /// A random id of this run, for idempotency tokens (`ec2::client_token`).
    run: String,
}

impl Cx {
    pub fn new(aws: Aws, account: String, capsule: String, env: String, region: String, allow_destroy: bool) -> Cx {
        Cx {
            aws,
            account,
            capsule,
            env,
            region,
            allow_destroy,
            zones_of_region: OnceCell::new(),
            load_balancers: Listings::default(),
            releases: Listings::default(),
            listings: Arc::default(),
            observed: Mutex::default(),
            created: Mutex::default(),
            run: hex::encode(rand::random::<[u8; 16]>()),
        }
    }

    /// Keeps `lives`, which an observation just read, for the listings of owned resources
    /// that follow it, so those need not read the same resources again; until
    /// `forget_observed` (nothing may be written in between).
    pub(crate) fn remember_observed(&self, lives: impl IntoIterator<Item = (Kind, Live)>) {
        let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        observed.extend(lives.into_iter().map(|(k, l)| ((k, l.region.clone(), l.aws_name.clone()), l)));
    }

    /// Ends what `remember_observed` began: from here on, listings read for themselves.
    pub(crate) fn forget_observed(&self) {
        self.observed.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The resource of `kind` named `aws_name` in `region` as the observation that runs
    /// now read it, if it did.
    pub(crate) fn observed(&self, kind: Kind, region: &str, aws_name: &str) -> Option<Live> {
        let observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        observed.get(&(kind, region.to_string(), aws_name.to_string())).cloned()
    }

    /// This `Cx` reading through the run's shared `listings` (`Session::listings`) instead
    /// of listings of its own.
    pub fn sharing(self, listings: Arc<AccountListings>) -> Cx {
        Cx { listings, ..self }
    }

    /// The availability zones of the capsule's region where Fargate runs, by name, looked
    /// up once per run: capsule's subnets go in the first `azs` of them.
    pub async fn zones(&self) -> Result<Arc<Vec<String>>, AwsError> {
        self.zones_of_region
            .get_or_try_init(|| async {
                let out = self
                    .aws
                    .ec2(&self.region)
                    .describe_availability_zones()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder().name("zone-type").values("availability-zone").build(),
                    )
                    .filters(aws_sdk_ec2::types::Filter::builder().name("state").values("available").build())
                    .send()
                    .await
                    .aws("ec2:DescribeAvailabilityZones")?;
                let mut zones: Vec<String> = out
                    .availability_zones()
                    .iter()
                    .filter(|z| fargate_zone(&self.region, z.zone_id().unwrap_or_default()))
                    .filter_map(|z| z.zone_name().map(str::to_string))
                    .collect();
                zones.sort();
                Ok(Arc::new(zones))
            })
            .await
            .cloned()
    }

    /// The per-run slot of the hosted zone named `name` (normalised), which `Cx::zone` fills.
    pub(crate) fn zone_slot(&self, name: &str) -> Arc<OnceCell<Zone>> {
        self.listings.zone_slot(name)
    }

    /// The id this run created `address` with, if it did.
    pub(crate) fn created(&self, address: &str) -> Option<String> {
        self.created.lock().unwrap_or_else(PoisonError::into_inner).get(address).cloned()
    }

    /// The random id of this run.
    pub(crate) fn run_id(&self) -> &str {
        &self.run
    }

    /// Remembers that this run created `address` as `id`.
    pub(crate) fn remember_created(&self, address: &str, id: &str) {
        self.created.lock().unwrap_or_else(PoisonError::into_inner).insert(address.to_string(), id.to_string());
    }

    /// The ARN partition of the capsule's region (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub fn partition(&self) -> &'static str {
        partition_of(&self.region)
    }

    /// The ownership tags of a resource, plus extra ones.
    pub fn tags_of(&self, r: &Resource) -> BTreeMap<String, String> {
        r.tags.clone()
    }
}

/// The ARN partition a region belongs to, by its name
/// (docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html#arns-syntax).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else {
        "aws"
    }
}

/// What `Adapter::assess` sees besides the change: the desired attributes (references
/// resolved; none for a resource no longer declared) and the live resource.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen<'a> {
    pub desired: Option<&'a BTreeMap<String, Value>>,
    pub live: Option<&'a Live>,
}

/// One AWS resource type.
#[async_trait]
pub trait Adapter: Send + Sync {
    fn kind(&self) -> Kind;

    /// Attribute paths (or prefixes) AWS cannot change in place.
    fn forces_replacement(&self) -> &'static [&'static str] {
        &[]
    }

    /// Object attributes whose members must match exactly: a live member the desired
    /// object lacks is planned as removed (an environment variable taken out of the file).
    /// Other objects may hold members capsule does not manage.
    fn exact_maps(&self) -> &'static [&'static str] {
        &[]
    }

    /// Both of the above, as the planner takes them.
    fn plan_rules(&self) -> crate::plan::Rules {
        crate::plan::Rules { forces_replacement: self.forces_replacement(), exact_maps: self.exact_maps() }
    }

    /// Says what a planned change does to the running resource: sets each attribute
    /// change's `impact` (and may turn an update into a replacement, or give it a reason
    /// such as when it takes effect). Returns why the change must be refused (e.g. a storage
    /// decrease AWS cannot do), which becomes a plan error.
    fn assess(&self, _change: &mut crate::plan::Change, _seen: &Seen<'_>) -> Option<String> {
        None
    }

    /// Adds to a planned change's reason what applying it does besides the change itself
    /// (every action, creates included), e.g. a command run first.
    fn annotate(&self, _change: &mut crate::plan::Change, _seen: &Seen<'_>) {}

    /// What the plan should tell about a live resource even when nothing changes (e.g.
    /// modifications AWS holds for a maintenance window), as plan notes.
    fn notes(&self, _address: &str, _live: &Live) -> Vec<String> {
        Vec::new()
    }

    /// Whether a replacement creates the new resource first and deletes the old one only
    /// after its dependents moved over (a certificate in use by a listener cannot be
    /// deleted, and deleting it first would break HTTPS). The old one is found as a
    /// *superseded* resource (same component, another AWS name) until it is gone.
    fn create_before_delete(&self) -> bool {
        false
    }

    /// Outputs an update gives new values (e.g. a task definition's revision ARN), so
    /// dependents plan them as unknown until the update is applied.
    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &[]
    }

    /// Brings desired attributes (references resolved) into the canonical form `observe`
    /// reports, e.g. sorted rule lists, so equal states compare equal.
    fn normalize(&self, _attrs: &mut BTreeMap<String, Value>) {}

    /// The live resource named like `r`, or `None`. No side effects.
    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError>;

    /// Creates `r` with `attrs` (its attributes with every reference resolved). A tagged
    /// resource of this capsule that already exists is adopted and brought to `attrs`.
    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError>;

    /// Brings `live` to `attrs`.
    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError>;

    /// Deletes `live`; already gone is success.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError>;

    /// Every live resource of this type tagged for `cx.capsule` / `cx.env`.
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError>;

    /// Whether an observation may read this kind through one `list_owned` (a call or a
    /// few for every resource of the kind, as `observe` would read them) instead of one
    /// `observe` per resource: EC2 network objects, found by tags anyway.
    fn observes_by_listing(&self) -> bool {
        false
    }

    /// `r` among `listed` (this kind's `list_owned`), as `observe` would show it; `None`
    /// when it is not there, and the observation then asks `observe`.
    async fn observe_listed(&self, _cx: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.component() == Some(r.address.name.as_str())).cloned())
    }

    /// After a create AWS refused with `conflict` (the resource was left by an interrupted
    /// apply, or made meanwhile by another run): adopts it and brings it to `attrs` when it
    /// is this capsule's; the conflict stands otherwise.
    async fn adopt(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        conflict: AwsError,
        operation: &'static str,
    ) -> Result<Live, AwsError> {
        // AWS says it exists but a read does not find it yet: eventual consistency, which
        // a retry of the whole create resolves (the retry adopts it once it is visible).
        let Some(live) = self.observe(cx, r).await? else {
            return Err(AwsError {
                kind: ErrorKind::Transient,
                message: format!("{} (it exists but is not visible to reads yet)", conflict.message),
                ..conflict
            });
        };
        let live = live.ensure_owned(cx, operation)?;
        self.update(cx, r, attrs, &live).await
    }
}

/// A read right after a write must find the resource.
pub trait Visible {
    fn visible(self, operation: &'static str) -> Result<Live, AwsError>;
}

impl Visible for Option<Live> {
    fn visible(self, operation: &'static str) -> Result<Live, AwsError> {
        self.ok_or_else(|| AwsError::new(ErrorKind::Transient, operation, "not found right after it was written"))
    }
}

impl Live {
    /// `self` if it carries this capsule's ownership tags; a conflict otherwise (capsule
    /// never adopts a look-alike).
    pub fn ensure_owned(self, cx: &Cx, operation: &'static str) -> Result<Live, AwsError> {
        if self.is_owned_by(&cx.capsule, &cx.env) {
            Ok(self)
        } else {
            Err(AwsError::new(ErrorKind::Conflict, operation, format!("{} exists and is not capsule's", self.aws_name)))
        }
    }
}

/// Reads a string attribute.
pub fn attr_str<'a>(attrs: &'a BTreeMap<String, Value>, key: &str) -> &'a str {
    attrs.get(key).and_then(Value::as_str).unwrap_or_default()
}

pub fn attr_bool(attrs: &BTreeMap<String, Value>, key: &str) -> bool {
    attrs.get(key).and_then(Value::as_bool).unwrap_or_default()
}

pub fn attr_i64(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i64> {
    attrs.get(key).and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ] {
            assert_eq!(partition_of(region), partition, "{region}");
        }
    }
}
