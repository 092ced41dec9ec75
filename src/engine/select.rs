//! Which capsule environments a command covers: `--capsule` and `--env` over the project,
//! in file and declaration order. Validates the names; reads nothing else.

use std::path::PathBuf;

use crate::config::Project;

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
