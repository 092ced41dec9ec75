//! Which capsules changed between two revisions (git2). A capsule changed when anything
//! below its directory changed, or anything below a path it references outside it (build
//! contexts, site folders). Reads the repository only; runs nothing from it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{DiffOptions, ErrorCode, Repository};

use crate::config::Project;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not inside a git repository")]
    NotARepository { path: PathBuf },
    #[error(
        "git refuses to open {path}: it is owned by another user. Mark it safe with `git config --global --add safe.directory {path}`"
    )]
    Owner { path: PathBuf },
    #[error(
        "revision `{rev}` is not in this clone. A shallow checkout (actions/checkout's default `fetch-depth: 1`) has no history: use `fetch-depth: 0`, or fetch the base commit first (`git fetch origin {rev}`)"
    )]
    MissingRevision { rev: String },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// A changed capsule, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChangedCapsule {
    pub capsule: String,
    /// The capsule's directory, relative to the repository root.
    pub dir: String,
    pub environments: Vec<String>,
    /// The first changed path that made it count as changed.
    pub because: String,
}

/// Paths (relative to the repository root, `/`-separated) that differ between `base` and
/// `head` (renames count on both sides).
pub fn changed_paths(repo: &Repository, base: &str, head: &str) -> Result<BTreeSet<String>, GitError> {
    let tree = |rev: &str| -> Result<git2::Tree<'_>, GitError> {
        let object = repo.revparse_single(rev).map_err(|e| match e.code() {
            ErrorCode::NotFound | ErrorCode::Ambiguous => GitError::MissingRevision { rev: rev.to_string() },
            _ => GitError::Git(e),
        })?;
        Ok(object.peel_to_tree()?)
    };
    let (old, new) = (tree(base)?, tree(head)?);
    let mut opts = DiffOptions::new();
    let mut diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))?;
    diff.find_similar(None)?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(p) = file.path() {
                paths.insert(p.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(paths)
}

pub fn open(root: &Path) -> Result<Repository, GitError> {
    Repository::discover(root).map_err(|e| match e.code() {
        ErrorCode::Owner => GitError::Owner { path: root.to_path_buf() },
        ErrorCode::NotFound => GitError::NotARepository { path: root.to_path_buf() },
        _ => GitError::Git(e),
    })
}

/// The capsules of `project` that changed between `base` and `head`, in project order.
pub fn changed_capsules(project: &Project, base: &str, head: &str) -> Result<Vec<ChangedCapsule>, GitError> {
    let repo = open(&project.root)?;
    let workdir = repo.workdir().ok_or_else(|| GitError::NotARepository { path: project.root.clone() })?;
    let workdir = workdir.canonicalize().unwrap_or_else(|_| workdir.to_path_buf());
    let paths = changed_paths(&repo, base, head)?;
    let relative = |p: &Path| -> Option<String> {
        let abs = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let rel = abs.strip_prefix(&workdir).ok()?;
        Some(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
    };
    let mut out = Vec::new();
    for capsule in &project.capsules {
        let Some(dir) = relative(&capsule.dir) else { continue };
        let mut watched: BTreeSet<String> = BTreeSet::from([dir.clone()]);
        for env in &capsule.environments {
            for s in env.config.services.values() {
                if let Some(build) = &s.build
                    && let Some(p) = relative(&capsule.dir.join(build))
                {
                    watched.insert(p);
                }
            }
            for site in env.config.sites.values() {
                if let Some(p) = relative(&capsule.dir.join(&site.dir)) {
                    watched.insert(p);
                }
            }
        }
        let hit =
            paths.iter().find(|p| watched.iter().any(|w| w.is_empty() || *p == w || p.starts_with(&format!("{w}/"))));
        if let Some(because) = hit {
            out.push(ChangedCapsule {
                capsule: capsule.name.clone(),
                dir: if dir.is_empty() { ".".into() } else { dir },
                // A preview template is deployed only as pr-<N>, never by a matrix job.
                environments: capsule
                    .environments
                    .iter()
                    .filter(|e| !e.is_template())
                    .map(|e| e.name.clone())
                    .collect(),
                because: because.clone(),
            });
        }
    }
    Ok(out)
}

/// A GitHub Actions matrix: one job per changed capsule and environment.
pub fn matrix(changed: &[ChangedCapsule]) -> serde_json::Value {
    let include: Vec<serde_json::Value> = changed
        .iter()
        .flat_map(|c| {
            c.environments
                .iter()
                .map(move |e| serde_json::json!({ "capsule": c.capsule, "environment": e, "dir": c.dir }))
        })
        .collect();
    serde_json::json!({ "include": include })
}
