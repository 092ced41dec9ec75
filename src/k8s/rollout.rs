//! Waiting on what an apply started: a Deployment's rollout (its new ReplicaSet available,
//! or the pod's reason why not, then `kubectl rollout undo` semantics) and a service's
//! release Job. Each wait has a deadline and reports progress; nothing sleeps blind.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::FIELD_MANAGER;

const REVISION: &str = "deployment.kubernetes.io/revision";

fn duration_env(key: &str, default: Duration) -> Duration {
    std::env::var(key).ok().and_then(|v| humantime::parse_duration(v.trim()).ok()).unwrap_or(default)
}

fn poll() -> Duration {
    duration_env("CAPSULE_ROLLOUT_POLL", Duration::from_secs(2))
}

fn deadline() -> Instant {
    Instant::now() + duration_env("CAPSULE_ROLLOUT_TIMEOUT", Duration::from_secs(10 * 60))
}

/// Why a rollout did not finish, and what was done about it.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("rollout of {name} failed: {reason}; likely fix: {fix}. {undo}")]
    Failed { name: String, reason: String, fix: String, undo: String },
    #[error("release of {service} failed: {reason}. The rollout stopped: the Deployment was not changed")]
    Release { service: String, reason: String },
    #[error("{0}")]
    Nothing(String),
    #[error("{0}")]
    Api(#[from] kube::Error),
}

/// The `deployment.kubernetes.io/revision` of a live Deployment or ReplicaSet (JSON).
pub fn revision(live: &Value) -> Option<u64> {
    live["metadata"]["annotations"][REVISION].as_str()?.parse().ok()
}

fn revision_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<u64> {
    meta.annotations.as_ref()?.get(REVISION)?.parse().ok()
}

/// What a waiting container's reason most likely needs.
fn likely_fix(reason: &str) -> &'static str {
    match reason {
        "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => {
            "check that the image exists in its registry and the cluster may pull it (imagePullSecrets)"
        }
        "CrashLoopBackOff" => {
            "the container exits right after it starts: run the image locally, check its command and env"
        }
        "CreateContainerConfigError" => "a Secret or key the pod refers to is missing: `capsule secrets set`",
        "Unschedulable" => "no node has room for the pod's cpu and memory requests: lower `cpu`/`memory` or add nodes",
        "ProgressDeadlineExceeded" => "the new pods never became ready: check the health path and the pods' events",
        _ => "look at the pods' events (`kubectl describe pod`)",
    }
}

/// The first waiting reason of a pod of the Deployment's newest ReplicaSet, if any.
async fn failing_pod(client: &Client, ns: &str, rs: &ReplicaSet) -> Result<Option<(String, String)>, kube::Error> {
    let Some(hash) = rs.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")) else { return Ok(None) };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for p in pods.list(&ListParams::default().labels(&format!("pod-template-hash={hash}"))).await?.items {
        let pod = p.metadata.name.clone().unwrap_or_default();
        let conditions = p.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        if let Some(c) = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False")
            && c.reason.as_deref() == Some("Unschedulable")
        {
            return Ok(Some((
                "Unschedulable".into(),
                format!("pod {pod}: Unschedulable: {}", c.message.clone().unwrap_or_default()),
            )));
        }
        let statuses = p.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
        for c in statuses {
            if let Some(w) = c.state.and_then(|s| s.waiting)
                && let Some(reason) = w.reason
                && reason != "ContainerCreating"
            {
                return Ok(Some((reason.clone(), format!("pod {pod}: {reason}: {}", w.message.unwrap_or_default()))));
            }
        }
    }
    Ok(None)
}

/// Why the pods of a ReplicaSet are not ready (their `Ready` condition), as `; pod P: …`.
async fn unready_pods(client: &Client, ns: &str, rs: &ReplicaSet) -> Result<String, kube::Error> {
    let Some(hash) = rs.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")) else {
        return Ok(String::new());
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut out = String::new();
    for p in pods.list(&ListParams::default().labels(&format!("pod-template-hash={hash}"))).await?.items {
        let conditions = p.status.and_then(|s| s.conditions).unwrap_or_default();
        if let Some(c) = conditions.iter().find(|c| c.type_ == "Ready" && c.status != "True") {
            let why = c.message.clone().or_else(|| c.reason.clone()).unwrap_or_else(|| "not ready".into());
            out.push_str(&format!("; pod {}: not ready: {why}", p.metadata.name.unwrap_or_default()));
        }
    }
    Ok(out)
}

/// The ReplicaSets of a Deployment, newest revision last.
async fn replica_sets(client: &Client, ns: &str, d: &Deployment) -> Result<Vec<ReplicaSet>, kube::Error> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let selector = d
        .spec
        .selector
        .match_labels
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut sets: Vec<ReplicaSet> = api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter(|rs| rs.metadata.owner_references.as_ref().is_some_and(|o| o.iter().any(|r| r.uid == uid)))
        .collect();
    sets.sort_by_key(|rs| revision_of(&rs.metadata).unwrap_or(0));
    Ok(sets)
}

/// Waits until the Deployment's new ReplicaSet is available (`kubectl rollout status`):
/// the controller saw the new generation, every replica is updated and available. On a
/// pod that cannot start, or the progress deadline, rolls back to the ReplicaSet of
/// `previous` (the revision before the apply) and fails with the reason.
pub async fn watch_rollout(
    client: &Client,
    ns: &str,
    name: &str,
    previous: Option<u64>,
    manifest: &Value,
) -> Result<(), RolloutError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let until = deadline();
    let mut last = String::new();
    let failure = loop {
        let d = api.get(name).await?;
        let want = d.spec.replicas.unwrap_or(1);
        let st = d.status.clone().unwrap_or_default();
        let seen = st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
        let progress = format!(
            "{name}: {}/{want} updated, {}/{want} available",
            st.updated_replicas.unwrap_or(0),
            st.available_replicas.unwrap_or(0)
        );
        if progress != last {
            eprintln!("    {progress}");
            last = progress;
        }
        let conditions = st.conditions.clone().unwrap_or_default();
        if seen
            && let Some(c) = conditions
                .iter()
                .find(|c| c.type_.as_deref() == Some("Progressing") && c.status.as_deref() == Some("False"))
        {
            let reason = c.reason.clone().unwrap_or_default();
            break (reason.clone(), format!("{reason}: {}", c.message.clone().unwrap_or_default()));
        }
        if seen
            && st.updated_replicas.unwrap_or(0) == want
            && st.replicas.unwrap_or(0) == want
            && st.available_replicas.unwrap_or(0) == want
        {
            return Ok(());
        }
        if seen
            && let Some(newest) = replica_sets(client, ns, &d).await?.pop()
            && revision_of(&newest.metadata) == revision_of(&d.metadata)
            && let Some(f) = failing_pod(client, ns, &newest).await?
        {
            break f;
        }
        if Instant::now() > until {
            let limit = duration_env("CAPSULE_ROLLOUT_TIMEOUT", Duration::from_secs(10 * 60));
            break (
                "ProgressDeadlineExceeded".into(),
                format!(
                    "ProgressDeadlineExceeded: the rollout did not finish within CAPSULE_ROLLOUT_TIMEOUT ({})",
                    humantime::format_duration(limit)
                ),
            );
        }
        tokio::time::sleep(poll()).await;
    };
    let (reason, mut detail) = failure;
    if reason == "ProgressDeadlineExceeded"
        && let Some(newest) = replica_sets(client, ns, &api.get(name).await?).await?.pop()
    {
        detail.push_str(&unready_pods(client, ns, &newest).await?);
    }
    print_events(client, ns, name).await?;
    let undo = rollback(client, ns, name, previous, manifest).await?;
    Err(RolloutError::Failed { name: name.to_string(), reason: detail, fix: likely_fix(&reason).to_string(), undo })
}

/// The latest events of the Deployment, its ReplicaSets and pods (names starting with its
/// name), to stderr: what the controllers and the scheduler said.
async fn print_events(client: &Client, ns: &str, name: &str) -> Result<(), kube::Error> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut events: Vec<Event> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref().is_some_and(|n| n.starts_with(name)))
        .collect();
    events.sort_by(|a, b| a.last_timestamp.as_ref().map(|t| t.0).cmp(&b.last_timestamp.as_ref().map(|t| t.0)));
    for e in events.iter().rev().take(8).rev() {
        eprintln!(
            "    event {} {}: {} {}",
            e.type_.as_deref().unwrap_or_default(),
            e.involved_object.name.as_deref().unwrap_or_default(),
            e.reason.as_deref().unwrap_or_default(),
            e.message.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

/// `kubectl rollout undo`: the Deployment's template becomes that of the ReplicaSet of
/// revision `previous` (without its `pod-template-hash`), applied as capsule.
async fn rollback(
    client: &Client,
    ns: &str,
    name: &str,
    previous: Option<u64>,
    manifest: &Value,
) -> Result<String, kube::Error> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d = api.get(name).await?;
    let Some(previous) = previous else {
        return Ok("This was its first rollout: there is nothing to roll back to; its pods stay as they are.".into());
    };
    let sets = replica_sets(client, ns, &d).await?;
    let Some(rs) = sets.iter().find(|rs| revision_of(&rs.metadata) == Some(previous)) else {
        return Ok(format!("Its previous ReplicaSet (revision {previous}) is gone: nothing was rolled back."));
    };
    let mut template = serde_json::to_value(rs.spec.template.clone()).unwrap_or(Value::Null);
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove("pod-template-hash");
    }
    let mut body = manifest.clone();
    body["spec"]["template"] = template;
    api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await?;
    let image = rs
        .spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    Ok(format!("Rolled back to the template of revision {previous} (image {image})."))
}

/// `capsule rollback`: the Deployment goes back to the template of revision `to` (default:
/// the newest revision before the current one), applied as capsule's, and the rollout is
/// watched like an apply's (a failure rolls forward again to the current template).
pub async fn roll_back_to(
    client: &Client,
    ns: &str,
    name: &str,
    to: Option<u64>,
    manifest: &Value,
) -> Result<String, RolloutError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d = api.get(name).await?;
    let current = revision_of(&d.metadata);
    let sets = replica_sets(client, ns, &d).await?;
    let kept: Vec<u64> = sets.iter().filter_map(|rs| revision_of(&rs.metadata)).collect();
    let target = match to {
        Some(r) => r,
        None => kept.iter().copied().filter(|r| Some(*r) < current).max().ok_or_else(|| {
            RolloutError::Nothing(format!("{name} has no revision before {} to go back to", current.unwrap_or(0)))
        })?,
    };
    if Some(target) == current {
        return Err(RolloutError::Nothing(format!("{name} already runs revision {target}")));
    }
    if !kept.contains(&target) {
        let list = kept.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        return Err(RolloutError::Nothing(format!("{name} has no ReplicaSet of revision {target} (kept: {list})")));
    }
    let said = rollback(client, ns, name, Some(target), manifest).await?;
    eprintln!("    {said}");
    watch_rollout(client, ns, name, current, manifest).await?;
    Ok(said)
}

/// Runs a service's release Job (the new image, its env and secrets, the `release` command)
/// to its end; a failure stops the rollout before the Deployment moves.
pub async fn run_release(client: &Client, ns: &str, service: &str, template: &Value) -> Result<(), RolloutError> {
    let api: Api<Job> = Api::namespaced(client.clone(), ns);
    let mut body = template.clone();
    body["metadata"]["generateName"] = json!(format!("{service}-release-"));
    let job: Job = serde_json::from_value(body)
        .map_err(|e| RolloutError::Release { service: service.to_string(), reason: e.to_string() })?;
    let created = api.create(&PostParams::default(), &job).await?;
    let name = created.metadata.name.clone().unwrap_or_default();
    eprintln!("    release {name} started");
    let until = deadline();
    loop {
        let j = api.get(&name).await?;
        let st = j.status.unwrap_or_default();
        let conditions = st.conditions.unwrap_or_default();
        let has = |t: &str| conditions.iter().any(|c| c.type_ == t && c.status == "True");
        if has("Complete") || st.succeeded.unwrap_or(0) > 0 {
            eprintln!("    release {name} succeeded");
            return Ok(());
        }
        if has("Failed") || st.failed.unwrap_or(0) > 0 {
            return Err(RolloutError::Release {
                service: service.to_string(),
                reason: exit_of(client, ns, &name).await?,
            });
        }
        if Instant::now() > until {
            return Err(RolloutError::Release {
                service: service.to_string(),
                reason: format!("Job {name} did not finish before CAPSULE_ROLLOUT_TIMEOUT"),
            });
        }
        tokio::time::sleep(poll()).await;
    }
}

async fn exit_of(client: &Client, ns: &str, job: &str) -> Result<String, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for p in pods.list(&ListParams::default().labels(&format!("job-name={job}"))).await?.items {
        for c in p.status.and_then(|s| s.container_statuses).unwrap_or_default() {
            if let Some(t) = c.state.and_then(|s| s.terminated)
                && t.exit_code != 0
            {
                return Ok(format!("Job {job} exited with {} ({})", t.exit_code, t.reason.unwrap_or_default()));
            }
        }
    }
    Ok(format!("Job {job} failed"))
}
