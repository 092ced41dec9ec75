//! The GitHub side of capsule (DESIGN sections 1 and 6): the `github plan`, `github apply`,
//! `github reconcile` and `github preview` flows, the pull request's one plan comment, the drift issues,
//! the step summary and the step outputs.
//! Speaks the REST API at `GITHUB_API_URL`, so GitHub Enterprise and the tests' local
//! server work the same. Never executes anything from the repository.

mod actions;
mod apply_flow;
mod client;
mod comment;
mod drift;
mod event;
mod issues;
mod merged;
mod plan_flow;
mod preview_flow;
mod reconcile_flow;
mod sticky;
mod targets;

pub use actions::Env;
pub use apply_flow::run_apply;
pub use client::{GitHub, Reply, next_link};
pub use comment::{
    COMMENT_LIMIT, LABELS, MARKER, Meta, SUMMARY_LIMIT, Sticky, annotation, apply_marker, comment_markdown, labels_for,
    link_apply, mark_stale, outputs, parse_meta, selection_key, step_summary,
};
pub use event::{PullRequest, Push, pull_request, push, scheduled};
pub use merged::merged_pull_request;
pub use plan_flow::run_plan;
pub use preview_flow::{PREVIEW_MARKER, pull_request_closed, run_preview};
pub use reconcile_flow::run_reconcile;
pub use sticky::{Author, Comment, CommentOutcome};
pub use targets::{changed_targets, only_selected};

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{0} is not set: capsule github runs inside GitHub Actions")]
    Missing(&'static str),
    #[error("GitHub API {method} {path}: HTTP {status}: {message}")]
    Api { method: String, path: String, status: u16, message: String },
    #[error("GitHub API {method} {path}: {message}")]
    Transport { method: String, path: String, message: String },
    #[error("{0}")]
    GaveUp(String),
    #[error("setting up the GitHub client: {0}")]
    Setup(String),
    #[error("reading the event: {0}")]
    Event(String),
}
