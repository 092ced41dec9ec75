//! Orchestration of the commands over a project: which capsules and environments a run
//! covers, and the plans made for them. Ties config, model and plan together; the AWS
//! side arrives with the reconcile engine.

use std::path::{Path, PathBuf};

use crate::config::{self, Project};
use crate::model::{self, Artifact, ExpandContext, Graph};
use crate::plan::{ArtifactPlan, CapsulePlan, Plan, plan_offline};

/// What a command runs on: `--root`, `--capsule` (repeatable) and `--env`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub root: PathBuf,
    pub capsules: Vec<String>,
    pub env: Option<String>,
}

/// (capsule index, environment name) pairs selected by `--capsule` and `--env`, in file
/// and declaration order.
pub fn select(project: &Project, select: &Selection) -> anyhow::Result<Vec<(usize, String)>> {
    for name in &select.capsules {
        if project.capsule(name).is_none() {
            let known: Vec<&str> = project.capsules.iter().map(|c| c.name.as_str()).collect();
            anyhow::bail!(
                "no capsule named `{name}` under {} (found: {})",
                select.root.display(),
                if known.is_empty() { "none".into() } else { known.join(", ") }
            );
        }
    }
    let mut out = Vec::new();
    for (i, c) in project.capsules.iter().enumerate() {
        if !select.capsules.is_empty() && !select.capsules.contains(&c.name) {
            continue;
        }
        for e in &c.environments {
            if select.env.as_ref().is_none_or(|want| *want == e.name) {
                out.push((i, e.name.clone()));
            }
        }
    }
    if let Some(env) = &select.env
        && out.is_empty()
    {
        anyhow::bail!("no selected capsule has an environment `{env}`");
    }
    Ok(out)
}

/// The region of the AWS configuration capsule runs with, for capsules that set none.
pub fn default_region() -> String {
    std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).unwrap_or_else(|_| "us-east-1".into())
}

/// The plan without reading AWS: every resource is created; site folders are counted.
pub fn offline_plan(project: &Project, targets: &[(usize, String)], default_region: &str) -> anyhow::Result<Plan> {
    let mut capsules = Vec::new();
    for (i, env_name) in targets {
        let capsule = &project.capsules[*i];
        let Some(env) = capsule.environment(env_name) else {
            continue;
        };
        let ctx = ExpandContext {
            account: env.config.capsule.account.clone().unwrap_or_else(|| "ACCOUNT".into()),
            default_region: default_region.to_string(),
        };
        let desired = model::expand(capsule, env, &ctx);
        let graph = Graph::build(&desired.resources)?;
        let changes = graph.order.iter().map(|&i| plan_offline(&desired.resources[i])).collect();
        let artifacts = desired.artifacts.iter().map(offline_artifact).collect();
        capsules.push(CapsulePlan {
            capsule: desired.capsule,
            environment: desired.env,
            region: desired.region,
            changes,
            artifacts,
            errors: vec![],
            notes: vec![],
        });
    }
    Ok(Plan::new(capsules, true))
}

fn offline_artifact(a: &Artifact) -> ArtifactPlan {
    match a {
        Artifact::Image { name, .. } => ArtifactPlan::Image {
            name: name.clone(),
            action: "build".into(),
            tag: None,
            reason: Some("offline: the registry was not read".into()),
            pushed: None,
            digest: None,
        },
        Artifact::Prebuilt { name, image } => ArtifactPlan::Image {
            name: name.clone(),
            action: "prebuilt".into(),
            tag: Some(image.clone()),
            reason: Some("offline: not resolved to a digest".into()),
            pushed: None,
            digest: None,
        },
        Artifact::Site { name, dir, .. } => {
            let files = count_files(dir);
            ArtifactPlan::Site {
                name: name.clone(),
                upload: files,
                delete: Some(0),
                unchanged: Some(0),
                invalidate: vec![],
                upload_paths: vec![],
                note: files.is_none().then(|| format!("{} does not exist yet", config::display_path(dir).display())),
                result: None,
            }
        }
    }
}

fn count_files(dir: &Path) -> Option<u64> {
    if !dir.is_dir() {
        return None;
    }
    Some(
        ignore::WalkBuilder::new(dir)
            .standard_filters(false)
            .build()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .count() as u64,
    )
}

// ---------------------------------------------------------------------------------------
// Against live AWS: observe, plan.

use std::collections::{BTreeMap, HashSet};

use futures::StreamExt;
use serde_json::Value;

use crate::artifacts::image::{self, ImagePlan, Registry, Shipper};
use crate::artifacts::site;
use crate::aws::adapters::{adapter, managed_kinds};
use crate::aws::{Cx, Live, Seen};
use crate::model::{Address, Desired, Kind};
use crate::plan::{
    Action, AttributeChange, Change, Observed, PlanError, SiteResult, has_reference, plan_resource, resolve_attributes,
};

/// How many AWS reads run at once for one capsule environment.
const OBSERVE_CONCURRENCY: usize = 8;

/// What is live for one capsule environment.
#[derive(Debug, Default)]
pub struct Observation {
    /// Desired resources that exist, by address.
    pub live: BTreeMap<String, Live>,
    /// Resources tagged for this capsule environment that it no longer declares.
    pub undeclared: Vec<(Kind, Live)>,
    /// Reads that failed, and resources capsule cannot manage.
    pub errors: Vec<PlanError>,
}

/// Reads the live state of every desired resource, and lists what the capsule owns but
/// no longer declares. Independent reads run concurrently.
pub async fn observe(cx: &Cx, desired: &Desired) -> Observation {
    let mut obs = Observation::default();
    let reads = futures::stream::iter(desired.resources.iter().filter_map(|r| adapter(r.address.kind).map(|a| (r, a))))
        .map(|(r, a)| async move { (r, a.observe(cx, r).await) })
        .buffer_unordered(OBSERVE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (r, result) in reads {
        match result {
            Ok(Some(live)) => {
                obs.live.insert(r.address.to_string(), live);
            }
            Ok(None) => {}
            Err(e) => obs.errors.push(PlanError {
                address: r.address.to_string(),
                message: format!("cannot read: {e}"),
                hint: None,
            }),
        }
    }
    for r in &desired.resources {
        if adapter(r.address.kind).is_none() {
            obs.errors.push(PlanError {
                address: r.address.to_string(),
                message: format!("resource type `{}` is not managed by this version of capsule yet", r.address.kind),
                hint: Some(
                    "plan with --offline to see the whole model; apply refuses until every type is supported".into(),
                ),
            });
        }
    }
    let declared: HashSet<(Kind, &str)> =
        desired.resources.iter().map(|r| (r.address.kind, r.address.name.as_str())).collect();
    let lists = futures::stream::iter(managed_kinds())
        .map(|kind| async move { (kind, adapter(kind).map(|a| a.list_owned(cx))) })
        .buffer_unordered(OBSERVE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (kind, listing) in lists {
        let Some(listing) = listing else { continue };
        match listing.await {
            Ok(owned) => {
                let replaces_late = adapter(kind).is_some_and(|a| a.create_before_delete());
                for live in owned {
                    let component = live.component().unwrap_or_default().to_string();
                    if !declared.contains(&(kind, component.as_str())) {
                        obs.undeclared.push((kind, live));
                    } else if replaces_late && superseded(&obs.live, &cx.capsule, &cx.env, kind, &component, &live) {
                        // The old one of a replacement whose delete did not happen yet.
                        obs.undeclared.push((kind, live));
                    }
                }
            }
            Err(e) => obs.errors.push(PlanError {
                address: format!("{}.{}.{kind}.*", cx.capsule, cx.env),
                message: format!("cannot list owned resources: {e}"),
                hint: None,
            }),
        }
    }
    obs.undeclared.sort_by(|a, b| (a.0, &a.1.aws_name).cmp(&(b.0, &b.1.aws_name)));
    obs
}

/// Whether `live` is an older copy of a declared resource whose current one is observed
/// under another AWS name (left over by a create-before-delete replacement).
fn superseded(
    observed: &BTreeMap<String, Live>,
    capsule: &str,
    env: &str,
    kind: Kind,
    component: &str,
    live: &Live,
) -> bool {
    let address = Address { capsule: capsule.into(), env: env.into(), kind, name: component.into() }.to_string();
    observed.get(&address).is_some_and(|current| current.aws_name != live.aws_name)
}

/// What a planned change acts on.
#[derive(Debug, Clone)]
pub enum Target {
    /// Index into `Desired::resources`.
    Desired(usize),
    /// A resource the capsule owns but no longer declares.
    Undeclared(Kind, Live),
}

/// A capsule environment's plan, and what each change acts on (same order).
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: CapsulePlan,
    pub targets: Vec<Target>,
}

/// Outputs known before apply: those of live resources.
pub fn live_outputs(obs: &Observation) -> BTreeMap<String, BTreeMap<String, Value>> {
    obs.live.iter().map(|(a, l)| (a.clone(), l.outputs.clone())).collect()
}

/// Desired attributes of `r` with references resolved from `outputs`, normalised by its
/// adapter.
pub fn desired_attributes(
    r: &crate::model::Resource,
    outputs: &BTreeMap<String, BTreeMap<String, Value>>,
) -> BTreeMap<String, Value> {
    let mut attrs =
        resolve_attributes(&r.attributes, &|address, attr| outputs.get(address).and_then(|o| o.get(attr)).cloned());
    if let Some(a) = adapter(r.address.kind)
        && !attrs.values().any(has_reference)
    {
        a.normalize(&mut attrs);
    }
    attrs
}

/// The plan of one capsule environment against what was observed. `guard` is the
/// configured account and `account` the one the credentials belong to.
pub fn plan_live(desired: &Desired, graph: &Graph, obs: &Observation, account: &str, guard: Option<&str>) -> Planned {
    let mut outputs = live_outputs(obs);
    let mut errors = obs.errors.clone();
    if let Some(guard) = guard
        && guard != account
    {
        errors.push(PlanError {
            address: format!("{}.{}", desired.capsule, desired.env),
            message: format!("the AWS credentials are for account {account}, but the capsule pins account {guard}"),
            hint: Some("use credentials of the pinned account, or change `account` in [capsule]".into()),
        });
    }
    let mut changes = Vec::new();
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    for &i in &graph.order {
        let r = &desired.resources[i];
        let Some(a) = adapter(r.address.kind) else {
            continue;
        };
        let address = r.address.to_string();
        let live = obs.live.get(&address);
        if let Some(live) = live
            && !live.is_owned_by(&desired.capsule, &desired.env)
        {
            errors.push(PlanError {
                address: address.clone(),
                message: format!("`{}` exists in AWS but is not tagged as this capsule's: capsule never adopts or changes it", r.aws_name),
                hint: Some(format!(
                    "rename or remove it, or hand it over by tagging it capsule:name={}, capsule:env={}, capsule:component={}, managed-by=capsule",
                    desired.capsule, desired.env, r.address.name
                )),
            });
            continue;
        }
        let attrs = desired_attributes(r, &outputs);
        if let Some(live) = live {
            notes.extend(a.notes(&address, live));
        }
        let observed = live.map(|l| Observed { attributes: l.attributes.clone(), outputs: l.outputs.clone() });
        let mut change = plan_resource(r, &attrs, observed.as_ref(), a.forces_replacement());
        if change.action != Action::Create
            && let Some(why) = a.assess(&mut change, &Seen { desired: Some(&attrs), live })
        {
            errors.push(PlanError { address: address.clone(), message: why, hint: None });
        }
        // What a change gives anew is unknown until it is applied: dependents plan against
        // "(known after apply)", not against the value about to be replaced.
        match change.action {
            Action::Replace => {
                outputs.remove(&address);
            }
            Action::Update => {
                if let Some(o) = outputs.get_mut(&address) {
                    for k in a.outputs_changed_by_update() {
                        o.remove(*k);
                    }
                }
            }
            _ => {}
        }
        changes.push(change);
        targets.push(Target::Desired(i));
    }
    let declared: HashSet<(Kind, &str)> =
        desired.resources.iter().map(|r| (r.address.kind, r.address.name.as_str())).collect();
    for (kind, live) in &obs.undeclared {
        let name = live.component().unwrap_or_default();
        let mut change = Change {
            address: Address {
                capsule: desired.capsule.clone(),
                env: desired.env.clone(),
                kind: *kind,
                name: name.to_string(),
            }
            .to_string(),
            kind: kind.to_string(),
            action: Action::Delete,
            reason: Some(if declared.contains(&(*kind, name)) {
                format!("superseded by a replacement: {}", live.aws_name)
            } else {
                "no longer declared".into()
            }),
            attributes: live
                .attributes
                .iter()
                .map(|(k, v)| AttributeChange {
                    path: k.clone(),
                    before: v.clone(),
                    after: Value::Null,
                    forces_replacement: false,
                    impact: None,
                })
                .collect(),
            stateful: kind.is_stateful(),
            outcome: None,
            error: None,
        };
        // A delete the adapter refuses (a protected database) stops the whole plan, so
        // nothing it depends on is deleted around it either.
        if let Some(why) = adapter(*kind).and_then(|a| a.assess(&mut change, &Seen { desired: None, live: Some(live) }))
        {
            errors.push(PlanError { address: change.address.clone(), message: why, hint: None });
        }
        changes.push(change);
        targets.push(Target::Undeclared(*kind, live.clone()));
    }
    Planned {
        plan: CapsulePlan {
            capsule: desired.capsule.clone(),
            environment: desired.env.clone(),
            region: desired.region.clone(),
            changes,
            artifacts: desired.artifacts.iter().map(offline_artifact).collect(),
            errors,
            notes,
        },
        targets,
    }
}

// ---------------------------------------------------------------------------------------
// Sessions: one AWS configuration and account per run.

use crate::aws::Aws;

/// One run's connection to AWS: the shared client factory and the account it acts in.
pub struct Session {
    pub aws: Aws,
    pub account: String,
    pub default_region: String,
}

impl Session {
    pub async fn connect() -> anyhow::Result<Session> {
        let aws = Aws::from_env().await;
        let default_region = aws.region().unwrap_or_else(default_region);
        let account = aws
            .account_id(&default_region)
            .await
            .map_err(|e| anyhow::anyhow!("cannot identify the AWS account ({e}); are AWS credentials configured?"))?;
        Ok(Session { aws, account, default_region })
    }
}

/// Everything known about one capsule environment after observing it.
pub struct Reconcile {
    pub desired: Desired,
    pub graph: Graph,
    pub observation: Observation,
    pub planned: Planned,
    pub cx: Cx,
    /// Per site artifact (same order as the plan's site artifacts): what its sync will do.
    pub sites: Vec<SitePlan>,
    /// The images to build and push (or already in the registry).
    pub images: Shipper,
}

/// A site's sync, planned against its bucket.
pub struct SitePlan {
    pub name: String,
    pub bucket: String,
    pub region: String,
    pub distribution: Address,
    pub sync: site::SyncPlan,
    pub previous: Option<site::Manifest>,
}

/// How many paths a plan lists per site.
const FIRST_PATHS: usize = 5;

/// Plans every site sync: the local folder against the bucket's listing and manifest.
async fn plan_sites(cx: &Cx, desired: &Desired, obs: &Observation, plan: &mut CapsulePlan) -> Vec<SitePlan> {
    let mut out = Vec::new();
    for (i, a) in desired.artifacts.iter().enumerate() {
        let Artifact::Site { name, dir, headers, bucket, distribution, .. } = a else { continue };
        let Some(bucket_resource) = desired.get(bucket) else { continue };
        let planned = async {
            let rules = site::Rules::new(headers)?;
            let local = site::scan(dir, &rules).await?;
            let s3 = cx.aws.s3(&bucket_resource.region);
            let exists = obs.live.contains_key(&bucket.to_string());
            let (remote, previous) = if exists {
                let remote = site::list_remote(&s3, &bucket_resource.aws_name).await?;
                let previous = site::read_manifest(&s3, &bucket_resource.aws_name).await?;
                let previous = site::recover_headers(&s3, &bucket_resource.aws_name, &local, &remote, previous).await?;
                (remote, previous)
            } else {
                (BTreeMap::new(), None)
            };
            anyhow::Ok((site::diff(&local, &remote, previous.as_ref()), previous))
        }
        .await;
        match planned {
            Ok((sync, previous)) => {
                let invalidate = if obs.live.contains_key(&distribution.to_string()) {
                    site::invalidation_paths(&sync, previous.as_ref())
                } else {
                    vec![]
                };
                plan.artifacts[i] = ArtifactPlan::Site {
                    name: name.clone(),
                    upload: Some(sync.upload.len() as u64),
                    delete: Some(sync.delete.len() as u64),
                    unchanged: Some(sync.unchanged),
                    invalidate,
                    upload_paths: sync.upload.iter().take(FIRST_PATHS).map(|(f, _)| f.key.clone()).collect(),
                    note: None,
                    result: None,
                };
                out.push(SitePlan {
                    name: name.clone(),
                    bucket: bucket_resource.aws_name.clone(),
                    region: bucket_resource.region.clone(),
                    distribution: distribution.clone(),
                    sync,
                    previous,
                });
            }
            Err(e) => plan.errors.push(PlanError {
                address: format!("{}.{}.site.{name}", desired.capsule, desired.env),
                message: e.to_string(),
                hint: None,
            }),
        }
    }
    out
}

/// The region a capsule environment deploys to (the file's, else the session's default).
pub fn region_of(session: &Session, capsule: &crate::config::Capsule, env: &str) -> String {
    capsule
        .environment(env)
        .and_then(|e| e.config.capsule.region.clone())
        .unwrap_or_else(|| session.default_region.clone())
}

/// Tags every image's context by content and asks the registry (one request per image)
/// whether it has the tag. An image already there is pinned into its repository's
/// outputs, so task definitions plan against the digest they would get.
async fn plan_images(
    cx: &Cx,
    desired: &mut Desired,
    obs: &mut Observation,
) -> (Shipper, Vec<(usize, ArtifactPlan)>, Vec<PlanError>) {
    let mut plans = Vec::new();
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    let has_images = desired.artifacts.iter().any(|a| matches!(a, Artifact::Image { .. }));
    let registry = if has_images {
        match Registry::connect(&cx.aws, &cx.region).await {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(PlanError {
                    address: format!("{}.{}.images", desired.capsule, desired.env),
                    message: e.to_string(),
                    hint: Some("for a local registry, set CAPSULE_REGISTRY=host:port".into()),
                });
                None
            }
        }
    } else {
        None
    };
    let declared = desired.artifacts.clone();
    for (i, a) in declared.iter().enumerate() {
        if let Artifact::Prebuilt { name, image } = a {
            let (digest, reason) = match image::resolve_prebuilt(image).await {
                Ok(Some(d)) => (Some(d.clone()), format!("pinned to {d}")),
                Ok(None) => (None, "already pinned by digest".to_string()),
                Err(e) => (None, format!("used as written: its digest could not be read ({e})")),
            };
            if let Some(d) = &digest {
                pin_prebuilt(desired, image, &format!("{image}@{d}"));
            }
            artifacts.push((
                i,
                ArtifactPlan::Image {
                    name: name.clone(),
                    action: "prebuilt".into(),
                    tag: Some(image.clone()),
                    reason: Some(reason),
                    pushed: None,
                    digest,
                },
            ));
            continue;
        }
        let Artifact::Image { name, context, dockerfile, repository } = a else { continue };
        let Some(repo) = desired.get(repository) else { continue };
        let address = format!("{}.{}.image.{name}", desired.capsule, desired.env);
        let tag = match image::context_tag(context, dockerfile) {
            Ok(t) => t,
            Err(e) => {
                errors.push(PlanError { address, message: e.to_string(), hint: None });
                continue;
            }
        };
        let exists = obs.live.contains_key(&repository.to_string());
        let mut plan = ImagePlan {
            name: name.clone(),
            context: context.clone(),
            dockerfile: dockerfile.clone(),
            repository: repository.to_string(),
            repository_name: repo.aws_name.clone(),
            tag,
            digest: None,
        };
        if let (true, Some(registry)) = (exists, &registry) {
            match registry.digest(&plan.repository_name, &plan.tag.tag).await {
                Ok(d) => plan.digest = d,
                Err(e) => errors.push(PlanError { address, message: e.to_string(), hint: None }),
            }
        }
        if let (Some(d), Some(registry), Some(live)) = (&plan.digest, &registry, obs.live.get_mut(&plan.repository)) {
            let pinned = image::pinned(&registry.repository_ref(&plan.repository_name), d);
            live.outputs.insert("image".into(), Value::String(pinned));
        }
        artifacts.push((
            i,
            ArtifactPlan::Image {
                name: name.clone(),
                action: if plan.digest.is_some() { "up-to-date" } else { "build" }.into(),
                tag: Some(plan.tag.tag.clone()),
                reason: plan.reason(exists),
                pushed: None,
                digest: None,
            },
        ));
        plans.push(plan);
    }
    (Shipper::new(registry, plans), artifacts, errors)
}

/// Replaces `image` by `pinned` in every task definition's container.
fn pin_prebuilt(desired: &mut Desired, image: &str, pinned: &str) {
    for r in desired.resources.iter_mut().filter(|r| r.address.kind == Kind::EcsTaskDefinition) {
        if let Some(Value::Object(c)) = r.attributes.get_mut("container")
            && c.get("image").and_then(Value::as_str) == Some(image)
        {
            c.insert("image".into(), Value::String(pinned.to_string()));
        }
    }
}

/// Copies what shipping did into the plan's image artifacts (apply documents).
pub fn record_images(r: &mut Reconcile) {
    for a in r.planned.plan.artifacts.iter_mut() {
        let ArtifactPlan::Image { name, pushed, digest, .. } = a else { continue };
        // Shipped in this run, or already in the registry at plan time.
        let done = r.images.shipped(name).or_else(|| {
            let p = r.images.plans().iter().find(|p| p.name == *name)?;
            Some(image::Shipped { pushed: false, digest: p.digest.clone()? })
        });
        if let Some(s) = done {
            *pushed = Some(s.pushed);
            *digest = Some(s.digest);
        }
    }
}

/// What a reconcile aims at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// The capsule environment as its file declares it.
    Declared,
    /// Nothing: every resource the capsule environment owns is deleted (`capsule destroy`).
    Nothing,
}

/// Expands, observes and plans one capsule environment.
pub async fn reconcile(
    session: &Session,
    project: &Project,
    capsule: usize,
    env: &str,
    allow_destroy: bool,
) -> anyhow::Result<Reconcile> {
    reconcile_to(session, project, capsule, env, allow_destroy, Goal::Declared).await
}

/// Like [`reconcile`], towards `goal`.
pub async fn reconcile_to(
    session: &Session,
    project: &Project,
    capsule: usize,
    env: &str,
    allow_destroy: bool,
    goal: Goal,
) -> anyhow::Result<Reconcile> {
    let capsule = &project.capsules[capsule];
    let environment =
        capsule.environment(env).ok_or_else(|| anyhow::anyhow!("capsule {} has no environment {env}", capsule.name))?;
    let ctx = ExpandContext { account: session.account.clone(), default_region: session.default_region.clone() };
    let mut desired = model::expand(capsule, environment, &ctx);
    if goal == Goal::Nothing {
        // Everything the capsule environment owns becomes undeclared, hence deleted.
        desired.resources.clear();
        desired.artifacts.clear();
    }
    let graph = Graph::build(&desired.resources)?;
    let cx = Cx::new(
        session.aws.clone(),
        session.account.clone(),
        capsule.name.clone(),
        env.to_string(),
        desired.region.clone(),
        allow_destroy,
    );
    let mut observation = observe(&cx, &desired).await;
    let (images, image_artifacts, image_errors) = plan_images(&cx, &mut desired, &mut observation).await;
    let mut planned =
        plan_live(&desired, &graph, &observation, &session.account, environment.config.capsule.account.as_deref());
    for (i, a) in image_artifacts {
        planned.plan.artifacts[i] = a;
    }
    planned.plan.errors.extend(image_errors);
    let sites = plan_sites(&cx, &desired, &observation, &mut planned.plan).await;
    if let Some(note) = ses_sandbox_note(&cx, &desired).await {
        planned.plan.notes.push(note);
    }
    Ok(Reconcile { desired, graph, observation, planned, cx, sites, images })
}

/// A note when the capsule sends email from an account still in the SES sandbox of its
/// region (a sending quota of 200 messages a day is the sandbox's).
async fn ses_sandbox_note(cx: &Cx, desired: &Desired) -> Option<String> {
    let identity = desired.resources.iter().find(|r| r.address.kind == Kind::SesIdentity)?;
    let quota = cx.aws.ses(&identity.region).get_send_quota().send().await.ok()?;
    (quota.max24_hour_send() <= 200.0).then(|| {
        format!(
            "SES in {} is still in the sandbox for this account: email goes only to verified addresses, at most {} a day. \
             Request production access in the SES console (Account dashboard) before relying on [email].",
            identity.region,
            quota.max24_hour_send()
        )
    })
}

/// Syncs every planned site and invalidates what changed; results go into the plan's
/// site artifacts. Runs after the resources applied.
pub async fn ship_sites(r: &mut Reconcile) -> anyhow::Result<()> {
    for sp in &r.sites {
        let s3 = r.cx.aws.s3(&sp.region);
        let paths = site::invalidation_paths(&sp.sync, sp.previous.as_ref());
        let report = site::sync(&s3, &sp.bucket, &sp.sync, sp.previous.as_ref(), &paths, &format!("site {}", sp.name))
            .await
            .map_err(|e| anyhow::anyhow!("site {}: {e}", sp.name))?;
        let mut invalidation_id = None;
        if !paths.is_empty() {
            let dist = r
                .desired
                .get(&sp.distribution)
                .ok_or_else(|| anyhow::anyhow!("site {} has no distribution", sp.name))?;
            let adapter =
                adapter(Kind::CloudfrontDistribution).ok_or_else(|| anyhow::anyhow!("no distribution adapter"))?;
            let live = adapter
                .observe(&r.cx, dist)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("distribution of site {} not found", sp.name))?;
            let id = live.outputs.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let reference = site::caller_reference(&id, &sp.sync, &paths);
            invalidation_id = site::invalidate(&r.cx.aws.cloudfront("us-east-1"), &id, &paths, &reference)
                .await
                .map_err(|e| anyhow::anyhow!("site {}: {e}", sp.name))?;
            // Invalidated: nothing is pending any more.
            site::write_manifest(&s3, &sp.bucket, &sp.sync.manifest)
                .await
                .map_err(|e| anyhow::anyhow!("site {}: {e}", sp.name))?;
        }
        for a in r.planned.plan.artifacts.iter_mut() {
            if let ArtifactPlan::Site { name, result, .. } = a
                && *name == sp.name
            {
                *result = Some(SiteResult {
                    uploaded: report.uploaded,
                    deleted: report.deleted,
                    bytes_uploaded: report.bytes_uploaded,
                    invalidation_id: invalidation_id.clone(),
                    invalidated_paths: paths.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Stateful resources a plan would delete or replace.
pub fn destructive_stateful(plan: &CapsulePlan) -> Vec<&Change> {
    plan.changes.iter().filter(|c| c.stateful && c.is_destructive()).collect()
}

/// Stores a user secret's value, creating the (declared) secret first when needed.
/// Returns the new version id. The value is never logged.
pub async fn put_secret_value(r: &Reconcile, name: &str, value: String) -> anyhow::Result<String> {
    let address = Address {
        capsule: r.desired.capsule.clone(),
        env: r.desired.env.clone(),
        kind: Kind::Secret,
        name: name.to_string(),
    };
    let resource = r.desired.get(&address).ok_or_else(|| anyhow::anyhow!("{address} is not part of the capsule"))?;
    let secrets = adapter(Kind::Secret).ok_or_else(|| anyhow::anyhow!("secrets are not supported"))?;
    match r.observation.live.get(&address.to_string()) {
        Some(live) if !live.is_owned_by(&r.desired.capsule, &r.desired.env) => {
            anyhow::bail!(
                "secret {} exists but is not tagged as this capsule's; capsule will not write to it",
                resource.aws_name
            )
        }
        Some(_) => {}
        None => {
            secrets.create(&r.cx, resource, &resource.attributes).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    r.cx.aws
        .secrets(&resource.region)
        .put_secret_value()
        .secret_id(&resource.aws_name)
        .secret_string(value)
        .send()
        .await
        .map(|o| o.version_id().unwrap_or_default().to_string())
        .map_err(|e| anyhow::anyhow!("{}", crate::aws::error::classify("secretsmanager:PutSecretValue", e)))
}
