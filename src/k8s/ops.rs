//! The day-two commands on a Kubernetes capsule environment: `status` (what runs, read from
//! the API), `logs` (pods' logs through the API server), `rollback` (a Deployment back to an
//! earlier ReplicaSet's template, under the apply lock) and `destroy` (every labelled object,
//! under the lock). Reads and deletes only objects with capsule's labels; prints no secret value.

use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, LogParams};
use serde_json::{Value, json};

use super::{Desired, connect, desired_as_written, is_owned, lock, rollout};
use crate::config::Project;
use crate::model::Kind;
use crate::model::k8s::{self, LABEL_COMPONENT, LABEL_ENV, LABEL_NAME, LABEL_RELEASE};
use crate::output::{self, PlanFormat};
use crate::plan::Plan;
use crate::render;

async fn env_client(project: &Project, capsule: usize, env: &str) -> anyhow::Result<(Desired, Client)> {
    let d = desired_as_written(project, capsule, env)?;
    let client = connect(d.context.as_deref()).await?;
    Ok((d, client))
}

fn list_owned(d: &Desired) -> ListParams {
    ListParams::default().labels(&k8s::owned_selector(&d.capsule, &d.env))
}

/// A pod's one-line state: phase, readiness, and the first waiting reason.
fn pod_status(p: &Pod) -> Value {
    let st = p.status.clone().unwrap_or_default();
    let containers = st.container_statuses.clone().unwrap_or_default();
    let waiting = containers.iter().find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    let unschedulable = st
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find_map(|c| (c.type_ == "PodScheduled" && c.status == "False").then(|| c.reason.unwrap_or_default()));
    json!({
        "name": p.metadata.name,
        "phase": st.phase,
        "ready": !containers.is_empty() && containers.iter().all(|c| c.ready),
        "restarts": containers.iter().map(|c| c.restart_count).sum::<i32>(),
        "node": p.spec.as_ref().and_then(|s| s.node_name.clone()),
        "reason": waiting.or(unschedulable),
    })
}

fn deployment_status(dep: &Deployment, pods: &[Pod]) -> Value {
    let name = dep.metadata.name.clone().unwrap_or_default();
    let st = dep.status.clone().unwrap_or_default();
    let conditions = st.conditions.unwrap_or_default();
    let progressing = conditions.iter().find(|c| c.type_.as_deref() == Some("Progressing"));
    let image = dep.spec.template.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone());
    let mine: Vec<Value> = pods
        .iter()
        .filter(|p| {
            let l = p.metadata.labels.clone().unwrap_or_default();
            l.get(LABEL_COMPONENT) == Some(&name) && !l.contains_key(LABEL_RELEASE)
        })
        .map(pod_status)
        .collect();
    json!({
        "name": name,
        "revision": rollout::revision(&serde_json::to_value(dep).unwrap_or(Value::Null)),
        "image": image,
        "replicas": { "desired": dep.spec.replicas, "updated": st.updated_replicas.unwrap_or(0),
                      "ready": st.ready_replicas.unwrap_or(0), "available": st.available_replicas.unwrap_or(0) },
        "rollout": progressing.map(|c| json!({ "status": c.status, "reason": c.reason, "message": c.message })),
        "pods": mine,
    })
}

/// `capsule status` of a Kubernetes capsule environment, as a document (`--format json`).
pub async fn status(project: &Project, capsule: usize, env: &str) -> anyhow::Result<Value> {
    let (d, client) = env_client(project, capsule, env).await?;
    let ns = d.namespace.as_str();
    let lp = list_owned(&d);
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns).list(&lp).await?.items;
    let pods = Api::<Pod>::namespaced(client.clone(), ns).list(&lp).await?.items;
    let services: Vec<Value> = deployments.iter().map(|dep| deployment_status(dep, &pods)).collect();
    let jobs: Vec<Value> = Api::<CronJob>::namespaced(client.clone(), ns)
        .list(&lp)
        .await?
        .items
        .iter()
        .map(|c| {
            let st = c.status.clone().unwrap_or_default();
            json!({
                "name": c.metadata.name, "schedule": c.spec.schedule,
                "suspended": c.spec.suspend.unwrap_or(false),
                "last_schedule": st.last_schedule_time.map(|t| t.0.to_string()),
                "last_success": st.last_successful_time.map(|t| t.0.to_string()),
                "running": st.active.map_or(0, |a| a.len()),
            })
        })
        .collect();
    let ingresses: Vec<Value> = Api::<Ingress>::namespaced(client.clone(), ns)
        .list(&lp)
        .await?
        .items
        .iter()
        .map(|i| {
            let rules = i.spec.as_ref().and_then(|s| s.rules.clone()).unwrap_or_default();
            json!({ "name": i.metadata.name, "hosts": rules.into_iter().filter_map(|r| r.host).collect::<Vec<_>>() })
        })
        .collect();
    // Whether each Secret has a value; never the value.
    let secrets: Vec<Value> = Api::<Secret>::namespaced(client.clone(), ns)
        .list(&lp)
        .await?
        .items
        .iter()
        .map(|s| json!({ "name": s.metadata.name, "set": s.data.as_ref().is_some_and(|d| d.contains_key(k8s::SECRET_KEY)) }))
        .collect();
    let lease = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), ns);
    let locked = lease.get_opt(lock::LEASE).await?.and_then(|l| l.spec?.holder_identity);
    Ok(json!({
        "capsule": d.capsule, "environment": d.env, "runtime": "kubernetes",
        "context": d.context, "namespace": d.namespace, "locked_by": locked,
        "services": services, "jobs": jobs, "ingresses": ingresses, "secrets": secrets,
    }))
}

/// The text of a status document.
pub fn status_text(doc: &Value) -> String {
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let mut out = format!(
        "{}/{} on Kubernetes ({}, namespace {})\n",
        s(&doc["capsule"]),
        s(&doc["environment"]),
        doc["context"].as_str().unwrap_or("current context"),
        s(&doc["namespace"])
    );
    if let Some(holder) = doc["locked_by"].as_str() {
        out.push_str(&format!("  locked by {holder} (an apply runs, or `capsule unlock`)\n"));
    }
    for svc in doc["services"].as_array().into_iter().flatten() {
        let r = &svc["replicas"];
        out.push_str(&format!(
            "  service {}: {}/{} available ({} updated), revision {}, image {}\n",
            s(&svc["name"]),
            r["available"],
            s(&r["desired"]),
            r["updated"],
            s(&svc["revision"]),
            s(&svc["image"])
        ));
        if let Some(ro) = svc["rollout"].as_object() {
            out.push_str(&format!(
                "    rollout: {} {}\n",
                s(&ro["reason"]),
                ro["message"].as_str().unwrap_or_default()
            ));
        }
        for p in svc["pods"].as_array().into_iter().flatten() {
            let reason = p["reason"].as_str().map(|r| format!(", {r}")).unwrap_or_default();
            let ready = if p["ready"] == true { "ready" } else { "not ready" };
            out.push_str(&format!(
                "    pod {}: {} {ready}{reason}, {} restarts, node {}\n",
                s(&p["name"]),
                s(&p["phase"]),
                p["restarts"],
                s(&p["node"])
            ));
        }
    }
    for j in doc["jobs"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  job {}: schedule {} (UTC), last run {}, {} running{}\n",
            s(&j["name"]),
            s(&j["schedule"]),
            j["last_schedule"].as_str().unwrap_or("never"),
            j["running"],
            if j["suspended"] == true { ", suspended" } else { "" }
        ));
    }
    for i in doc["ingresses"].as_array().into_iter().flatten() {
        out.push_str(&format!("  ingress {}: {}\n", s(&i["name"]), i["hosts"]));
    }
    for sec in doc["secrets"].as_array().into_iter().flatten() {
        let set = if sec["set"] == true { "set" } else { "NOT SET: capsule secrets set" };
        out.push_str(&format!("  secret {}: {set}\n", s(&sec["name"])));
    }
    out
}

/// What `capsule logs` reads.
pub struct LogQuery {
    pub since: Duration,
    pub follow: bool,
    /// One pod only (its name).
    pub pod: Option<String>,
}

/// `capsule logs` of a service (or `jobs.NAME`): each pod's log lines through the API
/// server, with timestamps; a pod whose node serves no logs (kwok's simulated nodes) is
/// said so on stderr. With `follow`, streams until interrupted.
pub async fn logs(project: &Project, capsule: usize, env: &str, target: &str, q: &LogQuery) -> anyhow::Result<()> {
    let (d, client) = env_client(project, capsule, env).await?;
    let component = target.strip_prefix("jobs.").unwrap_or(target);
    let declared = if target.starts_with("jobs.") {
        d.object(Kind::K8sCronjob, component).is_some()
    } else {
        d.object(Kind::K8sDeployment, component).is_some()
    };
    anyhow::ensure!(declared, "{}/{env} has no {target}: name a service, or a job as jobs.NAME", d.capsule);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &d.namespace);
    let selector = format!("{LABEL_NAME}={},{LABEL_ENV}={env},{LABEL_COMPONENT}={component}", d.capsule);
    let mut names: Vec<String> = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    if let Some(one) = &q.pod {
        names.retain(|n| n == one);
    }
    if names.is_empty() {
        eprintln!(
            "{target} of {}/{env} has no pods{}.",
            d.capsule,
            q.pod.as_ref().map(|p| format!(" named {p}")).unwrap_or_default()
        );
        return Ok(());
    }
    let lp = LogParams {
        since_seconds: Some(i64::try_from(q.since.as_secs()).unwrap_or(i64::MAX).max(1)),
        timestamps: true,
        follow: q.follow,
        ..Default::default()
    };
    if q.follow {
        return follow(&pods, &names, &lp).await;
    }
    for name in &names {
        match pods.logs(name, &lp).await {
            Ok(text) => {
                for line in text.lines() {
                    println!("{} {line}", short(name));
                }
            }
            Err(e) => eprintln!("{}", no_logs(name, &e)),
        }
    }
    Ok(())
}

/// A pod name's last part (its hash), as log lines prefix it.
fn short(pod: &str) -> &str {
    pod.rsplit('-').next().unwrap_or(pod)
}

fn no_logs(pod: &str, e: &kube::Error) -> String {
    format!(
        "pod {pod}: no logs: the API server could not read them from the pod's node ({e}). \
         Simulated nodes (kwok) run no containers and have none."
    )
}

/// Streams every pod's log until Ctrl-C (or until every stream ends).
async fn follow(pods: &Api<Pod>, names: &[String], lp: &LogParams) -> anyhow::Result<()> {
    let mut streams = Vec::new();
    for name in names {
        match pods.log_stream(name, lp).await {
            Ok(s) => {
                let prefix = short(name).to_string();
                streams.push(s.lines().map(move |l| (prefix.clone(), l)).boxed());
            }
            Err(e) => eprintln!("{}", no_logs(name, &e)),
        }
    }
    let mut all = futures::stream::select_all(streams);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            next = all.next() => match next {
                Some((prefix, Ok(line))) => println!("{prefix} {line}"),
                Some((prefix, Err(e))) => eprintln!("{prefix}: the log stream broke: {e}"),
                None => return Ok(()),
            },
        }
    }
}

/// `capsule rollback` of a service on Kubernetes, under the apply lock.
pub async fn rollback(
    project: &Project,
    capsule: usize,
    env: &str,
    service: &str,
    to: Option<i32>,
) -> anyhow::Result<()> {
    let (d, client) = env_client(project, capsule, env).await?;
    let o = d
        .object(Kind::K8sDeployment, service)
        .ok_or_else(|| anyhow::anyhow!("{}/{env} has no service `{service}`", d.capsule))?
        .clone();
    let to = to
        .map(|r| u64::try_from(r).map_err(|_| anyhow::anyhow!("--to takes a revision number (1, 2, …)")))
        .transpose()?;
    lock::with_lock(&client, &d, async {
        let live = Api::<Deployment>::namespaced(client.clone(), &d.namespace).get_opt(&o.name).await?;
        let live = live.ok_or_else(|| anyhow::anyhow!("{service} is not deployed yet: `capsule apply` first"))?;
        anyhow::ensure!(
            is_owned(&serde_json::to_value(&live)?, &d.capsule, &d.env),
            "Deployment {service} has no capsule labels: capsule leaves it alone"
        );
        let said = rollout::roll_back_to(&client, &d.namespace, &o.name, to, &o.manifest).await?;
        println!("{service}: {said} The next `capsule apply` rolls it forward to what the file says.");
        Ok(())
    })
    .await
}

/// `capsule destroy` of a Kubernetes capsule environment (the caller checked `--confirm`):
/// every object with its labels is deleted, Secrets and release and run Jobs included, under the apply
/// lock. The namespace stays: it may hold what is not capsule's. `Ok(false)` when a delete failed.
pub async fn destroy(
    project: &Project,
    capsule: usize,
    env: &str,
    format: PlanFormat,
    out: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    let (d, client) = env_client(project, capsule, env).await?;
    let human = format != PlanFormat::Json;
    if super::api(&client, &d.namespace, Kind::K8sNamespace).get_opt(&d.namespace).await?.is_none() {
        println!("{}/{env} has no namespace {} on the cluster: there is nothing to destroy.", d.capsule, d.namespace);
        return Ok(true);
    }
    let nothing = Desired { objects: vec![], releases: Default::default(), ..d.clone() };
    let (plan, ok) = lock::with_lock(&client, &d, async {
        let obs = super::observe(&client, &nothing).await?;
        let mut planned = super::plan_env(&client, &nothing, &obs, vec![]).await;
        if human {
            print!("{}", render::text(&Plan::new(vec![planned.plan.clone()], false), output::color_for(None)));
        }
        let ok = super::apply(&client, &nothing, &mut planned).await;
        let jobs: Api<Job> = Api::namespaced(client.clone(), &d.namespace);
        // Release and run Jobs (a CronJob's own go with it).
        jobs.delete_collection(&DeleteParams::background(), &list_owned(&d)).await?;
        Ok((planned.plan, ok))
    })
    .await?;
    let mut doc = Plan::new(vec![plan], false);
    doc.ok = Some(ok);
    if human {
        if ok {
            println!(
                "Destroy complete: {} deleted. The namespace {} stays (it may hold what is not capsule's).",
                doc.summary.delete, d.namespace
            );
        } else {
            println!("Destroy FAILED (see above). Run it again: it continues with what is left.");
        }
    } else {
        output::emit(&doc, PlanFormat::Json, out)?;
    }
    Ok(ok)
}
