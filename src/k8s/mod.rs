//! The Kubernetes runtime's edge (docs/kubernetes.md): the cluster client, observing a
//! capsule environment's live objects by capsule's labels, planning them against
//! `model::k8s`'s desired objects (server-side apply dry runs give the server's defaults),
//! applying with server-side apply (field manager `capsule`) and watching rollouts.
//! Decides nothing about what is desired; never touches an object without capsule's labels.

mod images;
pub mod lock;
pub mod ops;
mod rollout;
pub mod run;

use std::collections::BTreeMap;
use std::path::Path;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config};
use serde_json::{Value, json};

use crate::artifacts::image;
use crate::config::Project;
use crate::config::types::Runtime;
use crate::model::k8s::{self, Desired, KINDS, LABEL_COMPONENT, LABEL_ENV, LABEL_MANAGED_BY, LABEL_NAME};
use crate::model::{Address, Kind};
use crate::output::{self, PlanFormat};
use crate::plan::{Action, ArtifactPlan, AttributeChange, CapsulePlan, Change, Outcome, Plan, PlanError};
use crate::render;

pub use rollout::{RolloutError, roll_back_to, watch_rollout};

/// The field manager of everything capsule applies.
pub const FIELD_MANAGER: &str = "capsule";
/// The field manager of Secret values (`capsule secrets set`), apart from capsule's own.
pub const SECRETS_FIELD_MANAGER: &str = "capsule-secrets";

/// Whether a selected capsule environment runs on Kubernetes.
pub fn is_kubernetes(project: &Project, target: &(usize, String)) -> bool {
    project.capsules[target.0].environment(&target.1).is_some_and(|e| e.config.capsule.runtime == Runtime::Kubernetes)
}

/// A client for `context` (`None`: the kubeconfig's current context).
pub async fn connect(context: Option<&str>) -> anyhow::Result<Client> {
    let opts = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let config = Config::from_kubeconfig(&opts).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot use the kubeconfig{}: {e}\nSet KUBECONFIG, or `context` in [kubernetes]",
            context.map(|c| format!(" context `{c}`")).unwrap_or_default()
        )
    })?;
    Ok(Client::try_from(config)?)
}

/// The dynamic API of a capsule kind in `namespace`.
pub fn api(client: &Client, namespace: &str, kind: Kind) -> Api<DynamicObject> {
    let (api_version, k, plural) = k8s::api_of(kind);
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, k), plural);
    if kind == Kind::K8sNamespace {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), namespace, &ar)
    }
}

fn to_json(o: &DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

/// Whether a live object carries this capsule environment's labels.
pub fn is_owned(live: &Value, capsule: &str, env: &str) -> bool {
    let l = &live["metadata"]["labels"];
    l[LABEL_MANAGED_BY] == "capsule" && l[LABEL_NAME] == capsule && l[LABEL_ENV] == env
}

/// The live objects of one capsule environment.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// By (kind, object name): every object with a desired object's name, labelled or not.
    pub named: BTreeMap<(Kind, String), Value>,
    /// Objects with capsule's labels that no desired object names.
    pub undeclared: Vec<(Kind, Value)>,
}

/// Reads the live state: capsule-labelled objects of every kind (the namespace is never
/// listed: capsule does not delete namespaces) and whatever holds a desired object's name.
pub async fn observe(client: &Client, d: &Desired) -> anyhow::Result<Observation> {
    let mut obs = Observation::default();
    let selector = k8s::owned_selector(&d.capsule, &d.env);
    for &kind in KINDS {
        let api = api(client, &d.namespace, kind);
        if kind != Kind::K8sNamespace {
            let list = api
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| anyhow::anyhow!("listing {}s in {}: {e}", k8s::api_of(kind).1, d.namespace))?;
            for o in &list.items {
                let name = o.metadata.name.clone().unwrap_or_default();
                if d.objects.iter().any(|x| x.address.kind == kind && x.name == name) {
                    obs.named.insert((kind, name), to_json(o));
                } else {
                    obs.undeclared.push((kind, to_json(o)));
                }
            }
        }
        for o in d.objects.iter().filter(|o| o.address.kind == kind) {
            if obs.named.contains_key(&(kind, o.name.clone())) {
                continue;
            }
            if let Some(live) = api.get_opt(&o.name).await.map_err(|e| anyhow::anyhow!("reading {}: {e}", o.address))? {
                obs.named.insert((kind, o.name.clone()), to_json(&live));
            }
        }
    }
    Ok(obs)
}

/// What the server keeps about an object that is not its configuration.
fn normalised(kind: Kind, v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        // List items carry no type; the kind is known from the address.
        o.remove("apiVersion");
        o.remove("kind");
        o.remove("status");
        if kind == Kind::K8sSecret {
            // Values are never compared, shown or changed by the plan.
            o.remove("data");
            o.remove("stringData");
        }
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "uid", "generation", "managedFields", "creationTimestamp"] {
            m.remove(k);
        }
    }
    v
}

/// Leaf paths of a value; list items with a `name` are addressed by it (`containers[api]`).
pub fn leaves(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&p, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let key = item.get("name").and_then(Value::as_str).map_or(i.to_string(), str::to_string);
                leaves(&format!("{prefix}[{key}]"), item, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

fn attribute_changes(before: &Value, after: &Value) -> Vec<AttributeChange> {
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    leaves("", before, &mut b);
    leaves("", after, &mut a);
    let mut paths: Vec<&String> = b.keys().chain(a.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| b.get(*p) != a.get(*p))
        .map(|p| AttributeChange {
            path: p.clone(),
            before: b.get(p).cloned().unwrap_or(Value::Null),
            after: a.get(p).cloned().unwrap_or(Value::Null),
            forces_replacement: false,
            impact: None,
        })
        .collect()
}

fn creation_attributes(manifest: &Value) -> Vec<AttributeChange> {
    let mut body = manifest.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("apiVersion");
        o.remove("kind");
    }
    attribute_changes(&Value::Null, &body)
}

/// What a planned change acts on.
#[derive(Debug, Clone)]
pub enum Target {
    /// Index into `Desired::objects`.
    Desired(usize),
    /// A capsule-labelled object no longer declared.
    Undeclared(Kind, String),
}

/// One capsule environment's plan, and what each change acts on (same order).
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: CapsulePlan,
    pub targets: Vec<Target>,
}

pub(crate) fn server_side(dry_run: bool, force: bool) -> PatchParams {
    let mut p = PatchParams::apply(FIELD_MANAGER);
    if force {
        p = p.force();
    }
    if dry_run {
        p = p.dry_run();
    }
    p
}

/// The plan of one capsule environment against the cluster.
pub async fn plan_env(client: &Client, d: &Desired, obs: &Observation, artifacts: Vec<ArtifactPlan>) -> Planned {
    let mut changes = Vec::new();
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for (i, o) in d.objects.iter().enumerate() {
        let kind = o.address.kind;
        let address = o.address.to_string();
        let stateful = kind.is_stateful();
        let change = |action, attributes, reason: Option<&str>| Change {
            address: address.clone(),
            kind: kind.to_string(),
            action,
            reason: reason.map(str::to_string),
            attributes,
            stateful,
            outcome: None,
            error: None,
        };
        match obs.named.get(&(kind, o.name.clone())) {
            None => {
                changes.push(change(Action::Create, creation_attributes(&o.manifest), None));
                targets.push(Target::Desired(i));
            }
            Some(live) if !is_owned(live, &d.capsule, &d.env) => errors.push(PlanError {
                address: address.clone(),
                message: format!(
                    "{} `{}` exists in namespace {} without capsule's labels: capsule never adopts or changes it",
                    k8s::api_of(kind).1,
                    o.name,
                    d.namespace
                ),
                hint: Some(format!(
                    "rename or remove it, or hand it over by labelling it {LABEL_MANAGED_BY}=capsule, {LABEL_NAME}={}, {LABEL_ENV}={}, {LABEL_COMPONENT}={}",
                    d.capsule, d.env, o.address.name
                )),
            }),
            Some(live) => {
                let api = api(client, &d.namespace, kind);
                match api.patch(&o.name, &server_side(true, true), &Patch::Apply(&o.manifest)).await {
                    Ok(after) => {
                        let attrs = attribute_changes(&normalised(kind, live), &normalised(kind, &to_json(&after)));
                        let action = if attrs.is_empty() { Action::NoOp } else { Action::Update };
                        changes.push(change(action, attrs, None));
                        targets.push(Target::Desired(i));
                    }
                    Err(e) => errors.push(PlanError {
                        address: address.clone(),
                        message: format!("the API server refuses the change: {e}"),
                        hint: Some("a field Kubernetes cannot change in place (a selector) needs the object deleted first".into()),
                    }),
                }
            }
        }
    }
    let mut undeclared = obs.undeclared.clone();
    undeclared.sort_by_key(|(k, _)| std::cmp::Reverse(KINDS.iter().position(|x| x == k)));
    for (kind, live) in undeclared {
        let name = live["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let component = live["metadata"]["labels"][LABEL_COMPONENT].as_str().unwrap_or(&name).to_string();
        let address = Address { capsule: d.capsule.clone(), env: d.env.clone(), kind, name: component };
        changes.push(Change {
            address: address.to_string(),
            kind: kind.to_string(),
            action: Action::Delete,
            reason: Some("no longer declared".into()),
            attributes: attribute_changes(&normalised(kind, &live), &Value::Null),
            stateful: kind.is_stateful(),
            outcome: None,
            error: None,
        });
        targets.push(Target::Undeclared(kind, name));
    }
    Planned {
        plan: CapsulePlan {
            capsule: d.capsule.clone(),
            environment: d.env.clone(),
            region: format!("kubernetes {}/{}", d.context.as_deref().unwrap_or("current-context"), d.namespace),
            changes,
            artifacts,
            errors,
            notes: vec![],
        },
        targets,
    }
}

/// `capsule plan --offline` of a Kubernetes capsule environment: every desired object as a
/// create, prebuilt images as written, built ones by their context hash. No cluster, no
/// registry.
pub fn offline_plan(capsule: &crate::config::Capsule, env: &crate::config::Environment) -> CapsulePlan {
    let imgs = images::offline(capsule, env);
    let d = k8s::desired(env, &imgs.pinned);
    let changes = d
        .objects
        .iter()
        .map(|o| Change {
            address: o.address.to_string(),
            kind: o.address.kind.to_string(),
            action: Action::Create,
            reason: None,
            attributes: creation_attributes(&o.manifest),
            stateful: o.address.kind.is_stateful(),
            outcome: None,
            error: None,
        })
        .collect();
    CapsulePlan {
        capsule: d.capsule,
        environment: d.env,
        region: format!("kubernetes {}/{}", d.context.as_deref().unwrap_or("current-context"), d.namespace),
        changes,
        artifacts: imgs.artifacts,
        errors: vec![],
        notes: vec![],
    }
}

/// Pins each prebuilt image by digest where its registry says it (as on ECS); the
/// artifacts' plan says what was done.
pub async fn pin_images(env: &crate::config::Environment) -> (BTreeMap<String, String>, Vec<ArtifactPlan>) {
    let mut pinned = BTreeMap::new();
    let mut artifacts = Vec::new();
    for (sname, s) in &env.config.services {
        let Some(written) = &s.image else { continue };
        let (digest, reason) = match image::resolve_prebuilt(written).await {
            Ok(Some(d)) => (Some(d), None),
            Ok(None) => (None, Some("already pinned by digest".to_string())),
            Err(e) => (None, Some(format!("used as written: its digest could not be read ({e})"))),
        };
        if let Some(d) = &digest {
            pinned.insert(written.clone(), format!("{written}@{d}"));
        }
        artifacts.push(ArtifactPlan::Image {
            name: sname.clone(),
            action: "prebuilt".into(),
            tag: Some(written.clone()),
            reason: Some(reason.unwrap_or_else(|| format!("pinned to {}", digest.clone().unwrap_or_default()))),
            pushed: None,
            digest,
        });
    }
    (pinned, artifacts)
}

/// Everything known about one capsule environment after observing it.
pub struct Reconcile {
    pub client: Client,
    pub desired: Desired,
    pub planned: Planned,
}

/// Pins, observes and plans one Kubernetes capsule environment; with `ship` (an apply), the
/// images it builds are built and pushed first, so that the plan pins their digests.
pub async fn reconcile(project: &Project, capsule: usize, env: &str, ship: bool) -> anyhow::Result<Reconcile> {
    let c = &project.capsules[capsule];
    let e = c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule {} has no environment {env}", c.name))?;
    let imgs = images::images(c, e, ship).await;
    let desired = k8s::desired(e, &imgs.pinned);
    let client = connect(desired.context.as_deref()).await?;
    let obs = observe(&client, &desired).await?;
    let mut planned = plan_env(&client, &desired, &obs, imgs.artifacts).await;
    planned.plan.errors.extend(imgs.errors);
    Ok(Reconcile { client, desired, planned })
}

/// The index of a declared Kubernetes capsule environment named on the command line, or
/// `None` when it is not on Kubernetes (or not declared: the AWS path says so).
pub fn kubernetes_target(project: &Project, capsule: &str, env: &str) -> Option<usize> {
    let i = project.capsules.iter().position(|c| c.name == capsule)?;
    is_kubernetes(project, &(i, env.to_string())).then_some(i)
}

/// `capsule unlock` of a Kubernetes capsule environment.
pub async fn run_unlock(project: &Project, capsule: usize, env: &str) -> anyhow::Result<()> {
    let d = desired_as_written(project, capsule, env)?;
    lock::run_unlock(&connect(d.context.as_deref()).await?, &d).await
}

/// `capsule plan` of the Kubernetes capsule environments among `targets`.
pub async fn plan(project: &Project, targets: &[(usize, String)]) -> anyhow::Result<Vec<CapsulePlan>> {
    let mut out = Vec::new();
    for (i, env) in targets {
        out.push(reconcile(project, *i, env, false).await?.planned.plan);
    }
    Ok(out)
}

/// The desired objects of a declared environment, images as written (enough to find its
/// namespace and cluster).
pub fn desired_as_written(project: &Project, capsule: usize, env: &str) -> anyhow::Result<Desired> {
    let c = &project.capsules[capsule];
    let e = c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule {} has no environment {env}", c.name))?;
    Ok(k8s::desired(e, &BTreeMap::new()))
}

/// `capsule apply` of Kubernetes capsule environments (see [`apply_all`]); prints the
/// outcome, or the JSON document. `Ok(false)` when an apply failed or was refused.
pub async fn run_apply(
    project: &Project,
    targets: &[(usize, String)],
    allow_destroy: bool,
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<bool> {
    let human = format != PlanFormat::Json;
    let run = apply_all(project, targets, allow_destroy, human).await;
    if let Some(e) = &run.error {
        anyhow::bail!("{e}");
    }
    if human {
        let s = run.doc.summary;
        let line = format!("{} created, {} updated, {} replaced, {} deleted.", s.create, s.update, s.replace, s.delete);
        if run.ok {
            println!("Apply complete: {line}");
        } else {
            println!("Apply FAILED or refused (see above). The next apply continues from live state.");
        }
    } else {
        output::emit(&run.doc, PlanFormat::Json, out)?;
    }
    Ok(run.ok)
}

/// Applies Kubernetes capsule environments in order, each under its apply lock (`lock`);
/// stops at the first failure, refusal (plan errors, destroying a Secret without
/// `allow_destroy`, a held lock) or error.
pub async fn apply_all(
    project: &Project,
    targets: &[(usize, String)],
    allow_destroy: bool,
    human: bool,
) -> crate::deploy::Applied {
    let (mut done, mut refused, mut error, mut attempted) = (Vec::new(), None, None, 0);
    for (i, env) in targets {
        attempted += 1;
        let step = async {
            let d = desired_as_written(project, *i, env)?;
            let client = connect(d.context.as_deref()).await?;
            lock::with_lock(&client, &d, apply_env(project, *i, env, allow_destroy, human)).await
        };
        match step.await {
            Ok((plan, None)) => {
                let failed = plan.changes.iter().any(|c| c.outcome == Some(Outcome::Failed));
                done.push(plan);
                if failed {
                    break;
                }
            }
            Ok((plan, Some(refusal))) => {
                done.push(plan);
                refused = Some(refusal);
                break;
            }
            Err(e) if e.downcast_ref::<crate::lock::LockError>().is_some() => {
                eprintln!("{e}");
                refused = Some(e.to_string());
                break;
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let failed = done.iter().any(|p| p.changes.iter().any(|c| c.outcome == Some(Outcome::Failed)));
    let ok = refused.is_none() && error.is_none() && !failed;
    let mut doc = Plan::new(done, false);
    doc.ok = Some(ok);
    crate::deploy::Applied { doc, ok, refused, attempted, error }
}

/// Plans and applies one environment (the caller holds its lock): its plan with outcomes,
/// and why it was refused, if it was.
async fn apply_env(
    project: &Project,
    capsule: usize,
    env: &str,
    allow_destroy: bool,
    human: bool,
) -> anyhow::Result<(CapsulePlan, Option<String>)> {
    let mut r = reconcile(project, capsule, env, true).await?;
    if human {
        print!("{}", render::text(&Plan::new(vec![r.planned.plan.clone()], false), output::color_for(None)));
    }
    let name = format!("{}/{env}", r.desired.capsule);
    let refusal = if !r.planned.plan.errors.is_empty() {
        Some(format!("Refusing to apply {name}: the plan has errors (above). Nothing was changed."))
    } else {
        let destructive: Vec<String> = r
            .planned
            .plan
            .changes
            .iter()
            .filter(|c| c.stateful && c.is_destructive())
            .map(|c| format!("  {} (delete)", c.address))
            .collect();
        (!allow_destroy && !destructive.is_empty()).then(|| {
            format!(
                "Refusing to apply {name}: it would destroy data in\n{}\nRe-run with --allow-destroy if that is intended. Nothing was changed.",
                destructive.join("\n")
            )
        })
    };
    if let Some(msg) = refusal {
        eprintln!("{msg}");
        return Ok((r.planned.plan, Some(msg)));
    }
    apply(&r.client, &r.desired, &mut r.planned).await;
    Ok((r.planned.plan, None))
}

/// Applies a planned capsule environment in order; after the first failure the rest is
/// skipped. Each change's outcome (and error) is recorded in the plan. `true` when all applied.
pub async fn apply(client: &Client, d: &Desired, planned: &mut Planned) -> bool {
    let mut failed = false;
    for (change, target) in planned.plan.changes.iter_mut().zip(&planned.targets) {
        if change.action == Action::NoOp {
            continue;
        }
        if failed {
            change.outcome = Some(Outcome::Skipped);
            continue;
        }
        let started = std::time::Instant::now();
        let result = match target {
            Target::Desired(i) => apply_object(client, d, &d.objects[*i], change).await,
            Target::Undeclared(kind, name) => delete(client, &d.namespace, *kind, name).await,
        };
        match result {
            Ok(()) => change.outcome = Some(Outcome::Applied),
            Err(e) => {
                change.outcome = Some(Outcome::Failed);
                change.error = Some(e.to_string());
                failed = true;
            }
        }
        let outcome = if failed { "FAILED" } else { "done" };
        let error = change.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
        eprintln!(
            "{:>3} {} {outcome} ({:.1}s){error}",
            change.action.symbol(),
            change.address,
            started.elapsed().as_secs_f64()
        );
    }
    !failed
}

async fn apply_object(client: &Client, d: &Desired, o: &k8s::Object, change: &Change) -> anyhow::Result<()> {
    let kind = o.address.kind;
    let api = api(client, &d.namespace, kind);
    // Created objects are not forced: one that appeared since the plan is nobody's to take.
    if change.action == Action::Create
        && let Some(live) = api.get_opt(&o.name).await?
        && !is_owned(&to_json(&live), &d.capsule, &d.env)
    {
        anyhow::bail!("{} appeared without capsule's labels since the plan; it was left as it is", o.name);
    }
    let template_changes =
        change.action == Action::Create || change.attributes.iter().any(|a| a.path.starts_with("spec.template"));
    let mut previous_revision = None;
    if kind == Kind::K8sDeployment {
        if template_changes && let Some(job) = d.releases.get(&o.address.name) {
            rollout::run_release(client, &d.namespace, &o.address.name, job).await?;
        }
        previous_revision = api.get_opt(&o.name).await?.and_then(|live| rollout::revision(&to_json(&live)));
    }
    api.patch(&o.name, &server_side(false, change.action != Action::Create), &Patch::Apply(&o.manifest)).await?;
    if kind == Kind::K8sDeployment && template_changes {
        watch_rollout(client, &d.namespace, &o.name, previous_revision, &o.manifest).await?;
    }
    Ok(())
}

async fn delete(client: &Client, namespace: &str, kind: Kind, name: &str) -> anyhow::Result<()> {
    match api(client, namespace, kind).delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `capsule secrets set` on Kubernetes: writes the value into `secret-<name>` (created with
/// capsule's labels when missing; never into an unlabelled one) under its own field manager.
pub async fn set_secret(project: &Project, capsule: usize, env: &str, name: &str, value: String) -> anyhow::Result<()> {
    let e = project.capsules[capsule].environment(env).ok_or_else(|| anyhow::anyhow!("no environment {env}"))?;
    let d = k8s::desired(e, &BTreeMap::new());
    let o = d.object(Kind::K8sSecret, name).ok_or_else(|| anyhow::anyhow!("secret `{name}` is not declared"))?;
    let client = connect(d.context.as_deref()).await?;
    lock::ensure_namespace(&client, &d).await?;
    let api = api(&client, &d.namespace, Kind::K8sSecret);
    match api.get_opt(&o.name).await? {
        Some(live) if !is_owned(&to_json(&live), &d.capsule, &d.env) => {
            anyhow::bail!("Secret {} exists without capsule's labels; capsule will not write to it", o.name)
        }
        Some(_) => {}
        None => {
            api.patch(&o.name, &server_side(false, false), &Patch::Apply(&o.manifest)).await?;
        }
    }
    use base64::Engine;
    let mut data = serde_json::Map::new();
    data.insert(k8s::SECRET_KEY.to_string(), json!(base64::engine::general_purpose::STANDARD.encode(value)));
    let body = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": { "name": o.name, "namespace": d.namespace },
        "data": data,
    });
    let mut p = PatchParams::apply(SECRETS_FIELD_MANAGER);
    p = p.force();
    api.patch(&o.name, &p, &Patch::Apply(&body)).await?;
    Ok(())
}
