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
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
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
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into())
}

/// The plan without reading AWS: every resource is created; site folders are counted.
pub fn offline_plan(
    project: &Project,
    targets: &[(usize, String)],
    default_region: &str,
) -> anyhow::Result<Plan> {
    let mut capsules = Vec::new();
    for (i, env_name) in targets {
        let capsule = &project.capsules[*i];
        let Some(env) = capsule.environment(env_name) else {
            continue;
        };
        let ctx = ExpandContext {
            account: env
                .config
                .capsule
                .account
                .clone()
                .unwrap_or_else(|| "ACCOUNT".into()),
            default_region: default_region.to_string(),
        };
        let desired = model::expand(capsule, env, &ctx);
        let graph = Graph::build(&desired.resources)?;
        let changes = graph
            .order
            .iter()
            .map(|&i| plan_offline(&desired.resources[i]))
            .collect();
        let artifacts = desired.artifacts.iter().map(offline_artifact).collect();
        capsules.push(CapsulePlan {
            capsule: desired.capsule,
            environment: desired.env,
            region: desired.region,
            changes,
            artifacts,
            errors: vec![],
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
                note: files
                    .is_none()
                    .then(|| format!("{} does not exist yet", config::display_path(dir).display())),
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
