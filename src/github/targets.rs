//! Which capsule environments a pull request or a push covers: the changed ones, in
//! declaration order, narrowed to `--capsule` / `--env`. Decides coverage only; what
//! changed is `git`'s, and names are validated by `engine::select`.

use crate::config::Project;
use crate::engine::{self, Selection};
use crate::git::ChangedCapsule;

/// The changed capsules' environments, capsules and environments in declaration order.
pub fn changed_targets(project: &Project, changed: &[ChangedCapsule]) -> Vec<(usize, String)> {
    let mut t = Vec::new();
    for (i, c) in project.capsules.iter().enumerate() {
        if let Some(ch) = changed.iter().find(|ch| ch.capsule == c.name) {
            t.extend(c.environments.iter().filter(|e| ch.environments.contains(&e.name)).map(|e| (i, e.name.clone())));
        }
    }
    t
}

/// Narrows targets to `--capsule` / `--env` (a fan-out job's share); a name that is no
/// capsule or environment at all is an error, not an empty run.
pub fn only_selected(
    project: &Project,
    select: &Selection,
    targets: Vec<(usize, String)>,
) -> anyhow::Result<Vec<(usize, String)>> {
    // engine::select validates the names against the project.
    let allowed = engine::select(project, select)?;
    Ok(targets.into_iter().filter(|t| allowed.contains(t)).collect())
}
