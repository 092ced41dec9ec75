//! The plan without reading AWS (`plan --offline`, forks' pull requests): every resource
//! is created, every artifact shown as it would be before anything is read. No AWS call.

use crate::artifacts;
use crate::config::Project;
use crate::model::{self, ExpandContext, Graph};
use crate::plan::{CapsulePlan, Plan, plan_offline};

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
        let artifacts = desired.artifacts.iter().map(artifacts::offline_plan).collect();
        capsules.push(CapsulePlan {
            capsule: desired.capsule,
            environment: desired.env,
            region: desired.region,
            changes,
            artifacts,
            errors: vec![],
            notes: desired.notes,
        });
    }
    Ok(Plan::new(capsules, true))
}
