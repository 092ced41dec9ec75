//! `capsule run` on Kubernetes: one Job from a service's live pod template (its image, env and
//! secrets) with the given command, waited on to its end, its log printed, its exit code
//! returned. Takes no lock (as on ECS); never changes the service's own objects.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, PostParams};
use serde_json::{Value, json};

use super::{connect, desired_as_written, is_owned};
use crate::config::Project;
use crate::model::Kind;
use crate::model::k8s::labels;

/// On a `capsule run` Job and its pod: the service it runs for.
pub const LABEL_RUN: &str = "capsule/run";

/// The Job of a run: the live template, probes dropped (a one-off command serves nothing),
/// `args` = `command`, no retries. Its pods are the component `<service>-run`, so that the
/// service's selector (and Service) never takes them.
fn job_of(live: &Deployment, capsule: &str, env: &str, service: &str, command: &[String]) -> anyhow::Result<Value> {
    let mut pod = serde_json::to_value(&live.spec.template)?;
    let mut l = labels(capsule, env, &format!("{service}-run"));
    l.insert(LABEL_RUN.to_string(), service.to_string());
    pod["metadata"] = json!({ "labels": l });
    pod["spec"]["restartPolicy"] = json!("Never");
    let containers = pod["spec"]["containers"].as_array_mut().filter(|c| !c.is_empty());
    let c = &mut containers.ok_or_else(|| anyhow::anyhow!("the Deployment {service} has no container"))?[0];
    if let Some(c) = c.as_object_mut() {
        c.remove("readinessProbe");
        c.remove("livenessProbe");
        c.remove("ports");
    }
    c["args"] = json!(command);
    Ok(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "generateName": format!("{service}-run-"), "labels": l },
        "spec": { "backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "template": pod },
    }))
}

/// Runs `command` in a Job of `service`'s live template; the exit code (1 when it could not
/// run). With `detach`, prints the Job's name and returns at once.
pub async fn run(
    project: &Project,
    capsule: usize,
    env: &str,
    service: &str,
    command: &[String],
    detach: bool,
) -> anyhow::Result<i32> {
    let d = desired_as_written(project, capsule, env)?;
    anyhow::ensure!(d.object(Kind::K8sDeployment, service).is_some(), "{}/{env} has no service `{service}`", d.capsule);
    let client = connect(d.context.as_deref()).await?;
    let live = Api::<Deployment>::namespaced(client.clone(), &d.namespace).get_opt(service).await?;
    let live = live.ok_or_else(|| anyhow::anyhow!("{service} is not deployed yet: `capsule apply` first"))?;
    anyhow::ensure!(
        is_owned(&serde_json::to_value(&live)?, &d.capsule, &d.env),
        "Deployment {service} has no capsule labels: capsule does not run its template"
    );
    let jobs: Api<Job> = Api::namespaced(client.clone(), &d.namespace);
    let body: Job = serde_json::from_value(job_of(&live, &d.capsule, &d.env, service, command)?)?;
    let name = jobs.create(&PostParams::default(), &body).await?.metadata.name.unwrap_or_default();
    println!("job {name} (namespace {})", d.namespace);
    if detach {
        return Ok(0);
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &d.namespace);
    let ended = wait(&jobs, &pods, &name).await?;
    let pod = ended.pod.clone().unwrap_or_default();
    match pods.logs(&pod, &LogParams::default()).await {
        Ok(text) => print!("{text}"),
        Err(e) if !pod.is_empty() => {
            eprintln!("pod {pod}: no logs: the API server could not read them from its node ({e})")
        }
        Err(_) => {}
    }
    match ended.code {
        Some(code) => eprintln!("job {name} exited with code {code}"),
        None => eprintln!("job {name} did not run: {}", ended.why),
    }
    Ok(ended.code.unwrap_or(1))
}

struct Ended {
    pod: Option<String>,
    code: Option<i32>,
    why: String,
}

/// Waits until the Job completes or fails (at most `CAPSULE_RUN_TIMEOUT`, default an hour).
async fn wait(jobs: &Api<Job>, pods: &Api<Pod>, name: &str) -> anyhow::Result<Ended> {
    let limit = std::env::var("CAPSULE_RUN_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(Duration::from_secs(3600));
    let until = std::time::Instant::now() + limit;
    loop {
        let st = jobs.get(name).await?.status.unwrap_or_default();
        let done = st.succeeded.unwrap_or(0) > 0 || st.failed.unwrap_or(0) > 0;
        let listed = pods.list(&ListParams::default().labels(&format!("job-name={name}"))).await?.items;
        let pod = listed.first();
        let terminated = pod
            .and_then(|p| p.status.as_ref()?.container_statuses.as_ref()?.first()?.state.as_ref()?.terminated.clone());
        let pod_name = pod.and_then(|p| p.metadata.name.clone());
        if let Some(t) = terminated.filter(|_| done) {
            return Ok(Ended { pod: pod_name, code: Some(t.exit_code), why: String::new() });
        }
        if done {
            return Ok(Ended { pod: pod_name, code: None, why: "the Job failed before its container ran".into() });
        }
        if std::time::Instant::now() > until {
            let why = format!(
                "it did not end within CAPSULE_RUN_TIMEOUT ({}); it keeps running",
                humantime::format_duration(limit)
            );
            return Ok(Ended { pod: pod_name, code: None, why });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
