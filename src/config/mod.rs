//! `capsule.toml`: discovery below a root, loading with spans, environment overrides,
//! validation. Owns every message a user sees about their configuration. Makes no AWS call.

pub mod cidr;
pub mod diag;
pub mod load;
pub mod preview;
pub mod schedule;
pub mod schema;
pub mod spans;
pub mod types;
pub mod validate;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Diagnostics};
pub use load::{Capsule, Environment, load_str};

/// Every capsule found below a root.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub root: PathBuf,
    pub capsules: Vec<Capsule>,
}

impl Project {
    pub fn capsule(&self, name: &str) -> Option<&Capsule> {
        self.capsules.iter().find(|c| c.name == name)
    }
}

/// Finds every `capsule.toml` below `root`, honouring `.gitignore` (inside or outside a
/// git repository) and skipping `.git`, `target` and `node_modules`. Sorted by path.
pub fn discover(root: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    if !root.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a directory", root.display()),
        ));
    }
    let mut found = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !(e.file_type().is_some_and(|t| t.is_dir()) && matches!(name.as_ref(), ".git" | "target" | "node_modules"))
        })
        .build();
    for entry in walker {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_some_and(|t| t.is_file()) && entry.file_name() == "capsule.toml" {
            found.push(entry.into_path());
        }
    }
    found.sort();
    Ok(found)
}

/// Loads and validates every capsule below `root`. All problems of all files are
/// returned together.
pub fn load_project(root: &Path) -> Result<Project, Diagnostics> {
    let (project, diags) = load_partial(root)?;
    if diags.is_empty() { Ok(project) } else { Err(diags) }
}

/// Like [`load_project`], but keeps going: the capsules whose files are valid, and the
/// problems of the others (`github reconcile` plans the valid ones and reports the rest).
/// `Err` only when the root cannot be searched.
pub fn load_partial(root: &Path) -> Result<(Project, Diagnostics), Diagnostics> {
    let files = discover(root).map_err(|e| io_diag(root, &e.to_string()))?;
    let mut diags = Diagnostics::default();
    let mut capsules: Vec<Capsule> = Vec::new();
    for file in files {
        let shown = display_path(&file);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.extend(io_diag(&shown, &format!("cannot read: {e}")));
                continue;
            }
        };
        match load_str(&shown, &text) {
            Ok(mut capsule) => {
                capsule.dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
                let mut own = check_paths(&capsule);
                if let Some(other) = capsules.iter().find(|c| c.name == capsule.name) {
                    let env = &capsule.environments[0];
                    own.push(
                        capsule
                            .diag_at(
                                env,
                                "capsule.name",
                                format!(
                                    "capsule `{}` is already declared in {}",
                                    capsule.name,
                                    other.source.path.display()
                                ),
                            )
                            .with_hint("capsule names are unique in a repository: rename one of them"),
                    );
                }
                if own.is_empty() {
                    capsules.push(capsule);
                }
                diags.extend(own);
            }
            Err(d) => diags.extend(d),
        }
    }
    Ok((Project { root: root.to_path_buf(), capsules }, diags))
}

/// Paths in a capsule that must exist in the repository: build contexts and their
/// Dockerfiles. Site folders are build output and may appear only in CI, so they are
/// checked when a plan needs their files.
fn check_paths(capsule: &Capsule) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for env in &capsule.environments {
        for (name, s) in &env.config.services {
            let Some(build) = &s.build else { continue };
            let context = capsule.dir.join(build);
            if !context.is_dir() {
                diags.push(
                    capsule
                        .diag_at(
                            env,
                            &format!("services.{name}.build"),
                            format!("build context `{build}` does not exist"),
                        )
                        .with_hint(format!("the path is relative to {}", capsule.source.path.display())),
                );
            } else if !context.join(&s.dockerfile).is_file() {
                diags.push(
                    capsule
                        .diag_at(
                            env,
                            &format!("services.{name}.build"),
                            format!("no `{}` in build context `{build}`", s.dockerfile),
                        )
                        .with_hint("add a Dockerfile to the context or set `dockerfile = \"path/inside/context\"`"),
                );
            }
        }
    }
    diags
}

fn io_diag(path: &Path, message: &str) -> Diagnostics {
    Diagnostics(vec![Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        message: message.to_string(),
        hint: None,
        source_line: String::new(),
        width: 1,
    }])
}

/// A path as the user should see it: relative to the current directory when below it.
pub fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
