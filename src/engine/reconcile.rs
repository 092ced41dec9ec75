//! Reconciling one capsule environment: expand it, observe it, plan its resources, images
//! and sites, and hand all of that to apply as one `Reconcile`; planning many, a few at a
//! time. Sequences the steps; each decision lives in the step's own module, and nothing
//! here changes AWS.

use futures::{StreamExt, TryStreamExt};

use crate::artifacts::image::Shipper;
use crate::artifacts::image_plan::plan_images;
use crate::artifacts::site_plan::{SitePlan, plan_sites};
use crate::aws::Cx;
use crate::config::Project;
use crate::model::{self, Desired, ExpandContext, Graph, Kind};
use crate::plan::Plan;

use super::{Observation, Planned, Session, observe, plan_live};

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
    // The AWS engine must never plan a Kubernetes capsule (it would plan ECS services for it).
    if environment.config.capsule.runtime == crate::config::types::Runtime::Kubernetes {
        anyhow::bail!(
            "capsule {} runs on Kubernetes, which this command does not handle yet: use `capsule plan` / `capsule apply` (docs/kubernetes.md)",
            capsule.name
        );
    }
    let ctx = ExpandContext { account: session.account.clone(), default_region: session.default_region.clone() };
    let mut desired = model::expand(capsule, environment, &ctx);
    if goal == Goal::Nothing {
        // Everything the capsule environment owns becomes undeclared, hence deleted.
        desired.resources.clear();
        desired.artifacts.clear();
        desired.existing_network = None;
        desired.notes.clear();
    }
    let graph = Graph::build(&desired.resources)?;
    let cx = Cx::new(
        session.aws.clone(),
        session.account.clone(),
        capsule.name.clone(),
        env.to_string(),
        desired.region.clone(),
        allow_destroy,
    )
    .sharing(session.listings.clone());
    let mut observation = observe(&cx, &desired).await;
    let (images, image_artifacts, image_errors) = plan_images(&cx, &mut desired, &mut observation.live).await;
    let mut planned =
        plan_live(&desired, &graph, &observation, &session.account, environment.config.capsule.account.as_deref());
    for (i, a) in image_artifacts {
        planned.plan.artifacts[i] = a;
    }
    planned.plan.errors.extend(image_errors);
    planned.plan.notes.splice(0..0, desired.notes.iter().cloned());
    if let Some(network) = &desired.existing_network {
        let address = format!("{}.{}", desired.capsule, desired.env);
        planned.plan.errors.extend(crate::aws::network::check(&cx, &address, network).await);
    }
    let sites = plan_sites(&cx, &desired, &observation.live, &mut planned.plan).await;
    if let Some(note) = ses_sandbox_note(&cx, &desired).await {
        planned.plan.notes.push(note);
    }
    Ok(Reconcile { desired, graph, observation, planned, cx, sites, images })
}

/// A note when the capsule sends email from an account still in the SES sandbox of its
/// region (a sending quota of 200 messages a day is the sandbox's).
async fn ses_sandbox_note(cx: &Cx, desired: &Desired) -> Option<String> {
    let identity = desired.resources.iter().find(|r| r.address.kind == Kind::SesIdentity)?;
    let quota = cx.ses_send_quota(&identity.region).await?;
    (quota <= 200.0).then(|| {
        format!(
            "SES in {} is still in the sandbox for this account: email goes only to verified addresses, at most {} a day. \
             Request production access in the SES console (Account dashboard) before relying on [email].",
            identity.region, quota
        )
    })
}

/// How many capsule environments a plan reads at once. Each one's reads run concurrently
/// too, and the listings they share are read once (`Session::listings`); more at once would
/// mostly queue behind AWS's per-account rate limits.
const PLAN_CONCURRENCY: usize = 4;

/// The plans of `targets` against live AWS, in order (planned a few at a time).
pub async fn plan_targets(session: &Session, project: &Project, targets: &[(usize, String)]) -> anyhow::Result<Plan> {
    let capsules = futures::stream::iter(targets)
        .map(|(i, env)| async move {
            Ok::<_, anyhow::Error>(reconcile(session, project, *i, env, false).await?.planned.plan)
        })
        .buffered(PLAN_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(Plan::new(capsules, false))
}

/// The plan of `targets` against live AWS, connecting first (`plan`, `drift`).
pub async fn online_plan(project: &Project, targets: &[(usize, String)]) -> anyhow::Result<Plan> {
    let session = Session::connect().await?;
    plan_targets(&session, project, targets).await
}
