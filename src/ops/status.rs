//! `capsule status`: what runs now in one capsule environment, read from live AWS: per
//! service its tasks, revision, image, rollout and last events; the load balancer and
//! domains; databases, caches and sites with their state. Reads only: the observation the
//! plan makes, and ECS for what it does not keep (task counts, deployments, events).

use serde_json::{Value, json};

use crate::aws::{AwsResultExt, Cx, Live};
use crate::config::Project;
use crate::engine::{Session, observe, region_of};
use crate::model::{self, ExpandContext, Kind, Resource};

/// The version of the JSON document; a change of its shape that drops or renames a member
/// is a new version.
pub const FORMAT_VERSION: &str = "1";

fn output<'a>(live: Option<&'a Live>, key: &str) -> &'a Value {
    live.and_then(|l| l.outputs.get(key)).unwrap_or(&Value::Null)
}

fn attribute<'a>(live: Option<&'a Live>, key: &str) -> &'a Value {
    live.and_then(|l| l.attributes.get(key)).unwrap_or(&Value::Null)
}

/// One service as ECS runs it now.
async fn service(cx: &Cx, r: &Resource, domain: Option<&str>) -> anyhow::Result<Value> {
    let ecs = cx.aws.ecs(&r.region);
    let cluster = model::aws_name(&[&cx.capsule, &cx.env], 255);
    let out =
        ecs.describe_services().cluster(&cluster).services(&r.aws_name).send().await.aws("ecs:DescribeServices")?;
    let Some(s) = out.services().iter().find(|s| s.status() == Some("ACTIVE")) else {
        return Ok(json!({ "name": r.address.name, "deployed": false }));
    };
    let td = s.task_definition().unwrap_or_default();
    let image = match ecs.describe_task_definition().task_definition(td).send().await.aws("ecs:DescribeTaskDefinition")
    {
        Ok(d) => json!(d.task_definition().and_then(|t| t.container_definitions().first()).and_then(|c| c.image())),
        Err(_) => Value::Null,
    };
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    Ok(json!({
        "name": r.address.name,
        "deployed": true,
        "desired": s.desired_count(),
        "running": s.running_count(),
        "pending": s.pending_count(),
        "task_definition": td,
        "revision": td.rsplit(':').next().and_then(|n| n.parse::<i64>().ok()),
        "image": image,
        "rollout": primary.and_then(|d| d.rollout_state()).map(|r| r.as_str()),
        "deployments": s.deployments().len(),
        "events": s.events().iter().take(3).filter_map(|e| e.message()).collect::<Vec<_>>(),
        "domain": domain,
    }))
}

/// When the site's files were last synced: the time of its manifest, which every sync
/// writes last (`artifacts::site::MANIFEST_KEY`); none before the first.
async fn last_deploy(cx: &Cx, bucket: &str, region: &str) -> Option<String> {
    let head = cx.aws.s3(region).head_object().bucket(bucket).key(crate::artifacts::site::MANIFEST_KEY).send().await;
    let modified = head.ok()?.last_modified?;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(modified.secs()).ok()?);
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

/// The status document of one capsule environment.
pub async fn status(session: &Session, project: &Project, capsule: &str, env: &str) -> anyhow::Result<Value> {
    let c = project.capsule(capsule).ok_or_else(|| anyhow::anyhow!("no capsule named `{capsule}`"))?;
    let e = c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule `{capsule}` has no environment `{env}`"))?;
    let ctx = ExpandContext { account: session.account.clone(), default_region: session.default_region.clone() };
    let desired = model::expand(c, e, &ctx);
    let region = region_of(session, c, env);
    let cx = Cx::new(session.aws.clone(), session.account.clone(), capsule.into(), env.into(), region.clone(), false)
        .sharing(session.listings.clone());
    let obs = observe(&cx, &desired).await;
    let live = |r: &Resource| obs.live.get(&r.address.to_string());
    let of = |kind: Kind| desired.resources.iter().filter(move |r| r.address.kind == kind);

    let mut services = Vec::new();
    for r in of(Kind::EcsService) {
        let domain = e.config.services.get(&r.address.name).and_then(|s| s.domain.as_deref());
        services.push(service(&cx, r, domain).await?);
    }
    let load_balancer = of(Kind::Lb).next().map(|r| {
        let dns = output(live(r), "dns_name");
        json!({ "name": r.aws_name, "dns_name": dns, "exists": live(r).is_some() })
    });
    let databases: Vec<Value> = of(Kind::RdsInstance)
        .map(|r| {
            let l = live(r);
            json!({
                "name": r.address.name,
                "identifier": r.aws_name,
                "exists": l.is_some(),
                "engine": attribute(l, "engine"),
                "version": attribute(l, "engine_version"),
                "class": attribute(l, "instance_class"),
                "status": output(l, "status"),
                "endpoint": output(l, "endpoint"),
                "pending_maintenance": output(l, "pending"),
            })
        })
        .collect();
    let caches: Vec<Value> = of(Kind::ElasticacheReplicationGroup)
        .chain(of(Kind::ElasticacheCluster))
        .map(|r| {
            let l = live(r);
            json!({
                "name": r.address.name,
                "id": r.aws_name,
                "exists": l.is_some(),
                "engine": attribute(l, "engine"),
                "version": attribute(l, "engine_version"),
                "node": attribute(l, "node_type"),
                "status": output(l, "status"),
                "endpoint": output(l, "endpoint"),
            })
        })
        .collect();
    let mut sites = Vec::new();
    for r in of(Kind::CloudfrontDistribution) {
        let l = live(r);
        let bucket = of(Kind::S3Bucket).find(|b| b.address.name == r.address.name);
        let last_deploy = match bucket {
            Some(b) => last_deploy(&cx, &b.aws_name, &b.region).await,
            None => None,
        };
        sites.push(json!({
            "name": r.address.name,
            "exists": l.is_some(),
            "distribution": output(l, "id"),
            "domain_name": output(l, "domain_name"),
            "aliases": attribute(l, "aliases"),
            "status": output(l, "status"),
            "last_deploy": last_deploy,
        }));
    }
    Ok(json!({
        "format_version": FORMAT_VERSION,
        "capsule": capsule,
        "environment": env,
        "region": region,
        "services": services,
        "load_balancer": load_balancer,
        "databases": databases,
        "caches": caches,
        "sites": sites,
        "errors": obs.errors.iter().map(|e| format!("{}: {}", e.address, e.message)).collect::<Vec<_>>(),
    }))
}

/// The document for people.
pub fn text(doc: &Value) -> String {
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = format!("{}/{} in {}\n", s(&doc["capsule"]), s(&doc["environment"]), s(&doc["region"]));
    for svc in doc["services"].as_array().into_iter().flatten() {
        if svc["deployed"] != json!(true) {
            out += &format!("service {}: not deployed\n", s(&svc["name"]));
            continue;
        }
        out += &format!(
            "service {}: {} running, {} pending of {}; revision {}; rollout {}; image {}\n",
            s(&svc["name"]),
            s(&svc["running"]),
            s(&svc["pending"]),
            s(&svc["desired"]),
            s(&svc["revision"]),
            s(&svc["rollout"]),
            s(&svc["image"])
        );
        if let Some(d) = svc["domain"].as_str() {
            out += &format!("  https://{d}\n");
        }
        for e in svc["events"].as_array().into_iter().flatten() {
            out += &format!("  {}\n", s(e));
        }
    }
    if let Some(lb) = doc["load_balancer"].as_object() {
        out += &format!("load balancer {}: {}\n", s(&lb["name"]), s(&lb["dns_name"]));
    }
    for db in doc["databases"].as_array().into_iter().flatten() {
        out += &format!(
            "database {}: {} {} on {}, {}; pending {}\n",
            s(&db["name"]),
            s(&db["engine"]),
            s(&db["version"]),
            s(&db["class"]),
            s(&db["status"]),
            s(&db["pending_maintenance"])
        );
    }
    for c in doc["caches"].as_array().into_iter().flatten() {
        out += &format!(
            "cache {}: {} {} on {}, {}\n",
            s(&c["name"]),
            s(&c["engine"]),
            s(&c["version"]),
            s(&c["node"]),
            s(&c["status"])
        );
    }
    for site in doc["sites"].as_array().into_iter().flatten() {
        out += &format!(
            "site {}: {} ({}), {}; last deploy {}\n",
            s(&site["name"]),
            s(&site["domain_name"]),
            s(&site["aliases"]),
            s(&site["status"]),
            s(&site["last_deploy"])
        );
    }
    for e in doc["errors"].as_array().into_iter().flatten() {
        out += &format!("error: {}\n", s(e));
    }
    out
}
