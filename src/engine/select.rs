//! Which capsule environments a command covers: `--capsule` and `--env` over the project,
//! in file and declaration order, without preview templates. Validates the names; reads
//! nothing else.

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
    let mut templates = Vec::new();
    for (i, c) in project.capsules.iter().enumerate() {
        if !select.capsules.is_empty() && !select.capsules.contains(&c.name) {
            continue;
        }
        for e in &c.environments {
            if select.env.as_ref().is_some_and(|want| *want != e.name) {
                continue;
            }
            if e.is_template() {
                if select.env.is_some() {
                    anyhow::bail!(
                        "`{}` of capsule `{}` is a preview template: it is never planned or applied as itself, only as pr-<N> by `capsule github preview`",
                        e.name,
                        c.name
                    );
                }
                templates.push(format!("{}/{}", c.name, e.name));
                continue;
            }
            out.push((i, e.name.clone()));
        }
    }
    if !templates.is_empty() {
        eprintln!(
            "Skipping preview template{} {}: deployed only as pr-<N> by `capsule github preview`.",
            if templates.len() == 1 { "" } else { "s" },
            templates.join(", ")
        );
    }
    if let Some(env) = &select.env
        && out.is_empty()
    {
        anyhow::bail!("no selected capsule has an environment `{env}`");
    }
    Ok(out)
}
