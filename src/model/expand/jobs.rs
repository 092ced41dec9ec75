//! `[jobs.*]`: scheduled ECS tasks. A job reuses its service's container (image, env,
//! secrets, size, roles) with its own command, started by an EventBridge rule through one
//! events role that may run exactly the jobs' task definitions.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::builder::Builder;
use crate::config::types::{Job, Service};
use crate::model::{Address, Kind, reference};

pub(super) fn expand(b: &mut Builder<'_>, jobs: &IndexMap<String, Job>, services: &IndexMap<String, Service>) {
    if jobs.is_empty() {
        return;
    }
    let events_role = events_role(b, jobs);
    let cluster = b.addr(Kind::EcsCluster, "main");
    for (name, j) in jobs {
        let Some(s) = services.get(&j.service) else {
            continue;
        };
        let service_td = b.addr(Kind::EcsTaskDefinition, &j.service);
        let mut container =
            b.get(&service_td).and_then(|r| r.attributes.get("container").cloned()).unwrap_or(Value::Null);
        if let Some(obj) = container.as_object_mut() {
            obj.insert("name".into(), json!(name));
            obj.insert("port".into(), Value::Null);
            if j.command.is_some() {
                obj.insert("command".into(), json!(j.command));
            }
        }
        let deps = b.get(&service_td).map(|r| r.depends_on.clone()).unwrap_or_default();
        let exec = b.addr(Kind::IamRole, &format!("{}-execution", j.service));
        let task_role = b.addr(Kind::IamRole, &format!("{}-task", j.service));
        let td = super::services::task_definition(b, &format!("job-{name}"), s, &exec, &task_role, container, deps);
        let sg = b.addr(Kind::SecurityGroup, &j.service);
        b.add(
            Kind::EventRule,
            name,
            b.name(&format!("job-{name}"), 64),
            json!({
                "schedule": j.schedule,
                "cluster": reference(&cluster, "arn"),
                "task_definition": reference(&td, "arn"),
                "role": reference(&events_role, "arn"),
                "subnets": b.net.private,
                "security_groups": [reference(&sg, "id")],
            }),
            [td, events_role.clone(), sg, cluster.clone()]
                .into_iter()
                .chain(b.net.private_deps.iter().cloned())
                .collect(),
        );
    }
}

/// The role EventBridge assumes to start the jobs: RunTask on their task definitions and
/// PassRole on the roles they run with, nothing else.
fn events_role(b: &mut Builder<'_>, jobs: &IndexMap<String, Job>) -> Address {
    let job_tds: Vec<Address> = jobs.keys().map(|j| b.addr(Kind::EcsTaskDefinition, &format!("job-{j}"))).collect();
    let passed_roles: Vec<Address> = jobs
        .values()
        .flat_map(|j| [format!("{}-execution", j.service), format!("{}-task", j.service)])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|role| b.addr(Kind::IamRole, &role))
        .collect();
    let statements = vec![
        json!({ "Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": job_tds.iter().map(|a| reference(a, "family_arn")).collect::<Vec<_>>() }),
        json!({ "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": passed_roles.iter().map(|a| reference(a, "arn")).collect::<Vec<_>>() }),
    ];
    // The policy names the job task definitions and the roles it passes: they exist first.
    let deps: Vec<Address> = job_tds.into_iter().chain(passed_roles).collect();
    let description = format!("capsule {} {}: start the scheduled jobs", b.capsule, b.env);
    b.role("events", &description, "events.amazonaws.com", statements, deps)
}
